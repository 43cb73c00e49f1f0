import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'sim-init',
  describe: 'Create the simulated host (replacing any in --sim-dir)',
  builder: (y) =>
    y
      .option('profile', { type: 'string', choices: ['seed'], default: 'seed', describe: "the seed document's host" })
      .option('no-iommu', { type: 'boolean', describe: 'a host without an IOMMU' })
      .option('hidden', { type: 'boolean', default: true, describe: 'boot with xen-pciback.hide=(01:00.0)(03:00.0)' }),
  run: async (args, ctx) => {
    const { runSimInit } = await import('../host/sim/sim-cli');
    return runSimInit(args, ctx);
  },
};
