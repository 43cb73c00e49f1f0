import type { CommandSpec } from '../command';

export const command: CommandSpec = {
  command: 'sim-guest <domain>',
  describe: "Show or change a simulated guest: the PCI devices it sees; --ignore-unplug / --hung",
  builder: (y) =>
    y
      .positional('domain', { type: 'string' })
      .option('ignore-unplug', { type: 'boolean', describe: 'HVM: the guest never acknowledges hot-unplug' })
      .option('hung', { type: 'boolean', describe: 'PV: pcifront answers nothing' })
      .option('json', { type: 'boolean' }),
  run: async (args, ctx) => {
    const { runSimGuest } = await import('../host/sim/sim-cli');
    return runSimGuest(args, ctx);
  },
};
