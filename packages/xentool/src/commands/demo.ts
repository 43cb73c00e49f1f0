import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'demo',
  describe: "Run the seed document's VT-d walkthrough on a fresh simulated host (--sim-dir to keep it)",
  run: async (args, ctx) => {
    const { runSeedDemo } = await import('../demo/seed-demo');
    return runSeedDemo(ctx, typeof args.simDir === 'string' ? { simDir: args.simDir } : {});
  },
};
