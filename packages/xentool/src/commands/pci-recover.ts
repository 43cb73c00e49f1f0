import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-recover [domain] [bdf]',
  describe: 'Finish or roll back PCI operations that were interrupted (from the intent log)',
  builder: (y) =>
    y
      .positional('domain', { type: 'string', describe: 'with --forget: the domain whose records list the device' })
      .positional('bdf', { type: 'string', describe: 'with --forget: the device' })
      .option('forget', { type: 'boolean', describe: 'drop the records of a device Xen no longer gives to DOMAIN (pci-audit BACKEND_NOT_ASSIGNED)' })
      .option('json', { type: 'boolean', describe: 'print what was done as JSON' }),
  run: async (args, ctx) => {
    const [{ runPciRecover }, { openHost }] = await Promise.all([import('../intent/intent-cli'), import('../host/open-host')]);
    return runPciRecover(openHost, args, ctx);
  },
};
