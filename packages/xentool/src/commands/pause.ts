import type { CommandSpec } from '../command';

/** `xentool pause DOMAIN`: xl pause. */
export const command: CommandSpec = {
  command: 'pause <domain>',
  describe: 'Pause execution of a domain',
  builder: (y) => y.positional('domain', { type: 'string', describe: 'domain name or id' }),
  run: async (args, ctx) => {
    const { runPause, defaultOpen } = await import('../domain/domain-cli');
    return runPause(defaultOpen, args, ctx, true);
  },
};
