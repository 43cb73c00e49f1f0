import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-detach <domain> <spec> [ignored..]',
  describe: "Remove a domain's pass-through pci device",
  builder: (y) =>
    y
      .positional('domain', { type: 'string', describe: 'domain name or id' })
      .positional('spec', { type: 'string', describe: 'PCI_SPEC_STRING (only the BDF or name= matters)' })
      .option('force', { alias: 'f', type: 'boolean', describe: 'remove even if the guest does not let go in time' })
      .option('timeout', { type: 'number', default: 10, describe: 'seconds to wait for the guest' }),
  run: async (args, ctx) => {
    const [{ runPciDetach }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runPciDetach(openHost, args, ctx);
  },
};
