import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-assignable-add <bdf>',
  describe: 'Make a device assignable for pci-passthru',
  builder: (y) =>
    y
      .positional('bdf', { type: 'string' })
      .option('name', { alias: 'n', type: 'string', describe: 'Name the assignable device' })
      .option('force', { type: 'boolean', describe: 'take the device even if dom0 uses it' }),
  run: async (args, ctx) => {
    const [{ runAssignableAdd }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runAssignableAdd(openHost, args, ctx);
  },
};
