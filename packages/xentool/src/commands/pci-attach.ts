import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'pci-attach <domain> <spec> [ignored..]',
  describe: 'Insert a new pass-through pci device',
  builder: (y) =>
    y
      .positional('domain', { type: 'string', describe: 'domain name or id' })
      .positional('spec', { type: 'string', describe: 'PCI_SPEC_STRING, e.g. 03:00.0@7,permissive=1' })
      .option('timeout', { type: 'number', default: 10, describe: 'seconds to wait for the guest' })
      .option('force', { type: 'boolean', describe: 'attach even if dom0 uses the device' }),
  run: async (args, ctx) => {
    const [{ runPciAttach }, { openHost }] = await Promise.all([import('../pci/pci-cli'), import('../host/open-host')]);
    return runPciAttach(openHost, args, ctx);
  },
};
