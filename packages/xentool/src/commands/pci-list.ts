import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-list <domain>',
  describe: 'List pass-through pci devices for a domain',
  builder: (y) =>
    y.positional('domain', { type: 'string', describe: 'domain name or id' }).option('json', { type: 'boolean', describe: 'JSON output' }),
  run: async (args, ctx) => {
    const [{ runPciList }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runPciList(openHost, args, ctx);
  },
};
