import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'sim-create <config> [overrides..]',
  describe: 'Create a domain on the simulated host from an xl config (pci=[...] attached at creation)',
  builder: (y) => y.positional('config', { type: 'string' }).positional('overrides', { type: 'string', array: true }),
  run: async (args, ctx) => {
    const { runSimCreate } = await import('../host/sim/sim-cli');
    return runSimCreate(args, ctx);
  },
};
