import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-assignable-list',
  describe: 'List all the assignable pci devices',
  builder: (y) =>
    y
      .option('show-names', { alias: 'n', type: 'boolean', describe: 'Display assignable device names where supplied' })
      .option('json', { type: 'boolean', describe: 'JSON output' }),
  run: async (args, ctx) => {
    const [{ runAssignableList }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runAssignableList(openHost, args, ctx);
  },
};
