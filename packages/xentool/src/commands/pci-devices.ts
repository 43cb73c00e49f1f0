import type { CommandSpec } from '../command';
import type { OpenPciSource } from '../pci-inventory/source';
import { sourceOptions } from '../pci-inventory/source';

const loadSource: OpenPciSource = async (ctx, args) => (await import('../pci-inventory/source')).openPciSource(ctx, args);

/** `xentool pci-devices [--json] [--all]`: the PCI inventory with assignability. Reads sysfs only. */
export function makePciDevicesCommand(open: OpenPciSource = loadSource): CommandSpec {
  return {
    command: 'pci-devices',
    describe: 'List PCI devices: driver, whether each can be assigned to a guest (or why not), co-assignment groups',
    builder: (y) =>
      sourceOptions(
        y
          .option('json', { type: 'boolean', describe: 'Machine-readable output' })
          .option('all', { type: 'boolean', describe: 'Include host bridges and bridges' }),
      ),
    run: async (args, ctx) => {
      const { runPciDevices } = await import('../pci-inventory/run');
      return runPciDevices(await open(ctx, args), args, ctx);
    },
  };
}

export const command: CommandSpec = makePciDevicesCommand();
