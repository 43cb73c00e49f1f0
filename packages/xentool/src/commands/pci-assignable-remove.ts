import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-assignable-remove <device>',
  describe: 'Remove a device from being assignable',
  builder: (y) =>
    y
      .positional('device', { type: 'string', describe: 'BDF or name' })
      .option('rebind', { alias: 'r', type: 'boolean', describe: 'Attempt to re-assign the device to the original driver' }),
  run: async (args, ctx) => {
    const [{ runAssignableRemove }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runAssignableRemove(openHost, args, ctx);
  },
};
