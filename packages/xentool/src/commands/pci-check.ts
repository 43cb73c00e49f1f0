import type { CommandSpec } from '../command';
import type { OpenPciSource } from '../pci-inventory/source';
import { sourceOptions } from '../pci-inventory/source';

const loadSource: OpenPciSource = async (ctx, args) => (await import('../pci-inventory/source')).openPciSource(ctx, args);

/** `xentool pci-check BDF...`: every reason a device can or cannot be assigned, and the fix. Exit 1 if any cannot. */
export function makePciCheckCommand(open: OpenPciSource = loadSource): CommandSpec {
  return {
    command: 'pci-check <bdf..>',
    describe: 'Check whether PCI devices can be assigned to a guest: every reason, and what to do about it',
    builder: (y) =>
      sourceOptions(
        y
          .positional('bdf', { type: 'string', array: true, describe: 'PCI address, [DDDD:]BB:DD.F' })
          .option('json', { type: 'boolean', describe: 'Machine-readable output' })
          .option('force', { type: 'boolean', describe: 'Treat devices dom0 uses as assignable (a warning instead of an error)' }),
      ),
    run: async (args, ctx) => {
      const { runPciCheck } = await import('../pci-inventory/run');
      return runPciCheck(await open(ctx, args), args, ctx);
    },
  };
}

export const command: CommandSpec = makePciCheckCommand();
