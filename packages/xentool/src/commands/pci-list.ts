import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-list <domain>',
  describe: 'List pass-through pci devices for a domain',
  builder: (y) =>
    y.positional('domain', { type: 'string', describe: 'domain name or id' }).option('json', { type: 'boolean', describe: 'JSON output' }),
  run: async (args, ctx) => {
    const [{ runPciList }, { openHost }] = await Promise.all([import('../pci/pci-list'), import('../host/open-host')]);
    // It only reads: the simulated host may skip starting its drivers (SimHost.open readOnly).
    return runPciList((c, a) => openHost(c, a, { readOnly: true }), args, ctx);
  },
};
