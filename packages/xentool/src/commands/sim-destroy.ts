import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'sim-destroy <domain>',
  describe: 'Destroy a simulated domain (its PCI devices are force-removed first, as libxl does)',
  builder: (y) => y.positional('domain', { type: 'string' }),
  run: async (args, ctx) => {
    const { runSimDestroy } = await import('../host/sim/sim-cli');
    return runSimDestroy(args, ctx);
  },
};
