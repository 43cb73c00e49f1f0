import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-audit',
  describe: 'Compare what Xen, xenstore, pciback and the intent log say about every passthrough device',
  builder: (y) => y.option('json', { type: 'boolean', describe: 'print the report as JSON' }),
  run: async (args, ctx) => {
    const [{ runPciAudit }, { openHost }] = await Promise.all([import('../intent/intent-cli'), import('../host/open-host')]);
    return runPciAudit(openHost, args, ctx);
  },
};
