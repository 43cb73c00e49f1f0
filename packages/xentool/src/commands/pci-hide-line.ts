import type { CommandSpec } from '../command';
import type { OpenPciSource } from '../pci-inventory/source';
import { sourceOptions } from '../pci-inventory/source';

const loadSource: OpenPciSource = async (ctx, args) => (await import('../pci-inventory/source')).openPciSource(ctx, args);

/** `xentool pci-hide-line BDF...`: the `xen-pciback.hide=(BDF)...` boot parameter, after checking the devices. */
export function makePciHideLineCommand(open: OpenPciSource = loadSource): CommandSpec {
  return {
    command: 'pci-hide-line <bdf..>',
    describe: 'Print the xen-pciback.hide=(BDF)(BDF) boot parameter for devices, and where it goes',
    builder: (y) =>
      sourceOptions(
        y
          .positional('bdf', { type: 'string', array: true, describe: 'PCI address, [DDDD:]BB:DD.F' })
          .option('quiet', { alias: 'q', type: 'boolean', describe: 'Print only the parameter' })
          .option('force', { type: 'boolean', describe: 'Hide devices dom0 uses (root disk, default route, console) anyway' }),
      ),
    run: async (args, ctx) => {
      const { runPciHideLine } = await import('../pci-inventory/run');
      return runPciHideLine(await open(ctx, args), args, ctx);
    },
  };
}

export const command: CommandSpec = makePciHideLineCommand();
