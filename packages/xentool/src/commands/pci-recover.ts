import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-recover',
  describe: 'Finish or roll back PCI operations that were interrupted (from the intent log)',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print what was done as JSON' }),
  run: async (args, ctx) => {
    const [{ runPciRecover }, { openHost }] = await Promise.all([import('../intent/intent-cli'), import('../host/open-host')]);
    return runPciRecover(openHost, args, ctx);
  },
};
