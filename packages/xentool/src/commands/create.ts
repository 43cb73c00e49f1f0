import type { CommandSpec } from '../command';

/** `xentool create [-p] [-N] CFG [KEY=VALUE...]`: xl create (PV guests so far). */
export const command: CommandSpec = {
  command: 'create <config> [overrides..]',
  describe: 'Create a domain from an xl config file (-N: print the plan and the config as JSON)',
  builder: (y) =>
    y
      .positional('config', { type: 'string', describe: 'Domain config file' })
      .positional('overrides', { type: 'string', array: true, describe: 'KEY=VALUE lines appended to the config' })
      .option('paused', { alias: 'p', type: 'boolean', describe: 'Leave the domain paused after it is created' })
      // Internal: how create starts itself again as the domain's detached monitor (domain/monitor.ts).
      .option('monitor', { type: 'number', hidden: true }),
  run: async (args, ctx) => {
    const { runCreate, defaultOpen } = await import('../domain/domain-cli');
    return runCreate(defaultOpen, args, ctx);
  },
};
