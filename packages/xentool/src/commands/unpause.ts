import type { CommandSpec } from '../command';

/** `xentool unpause DOMAIN`: xl unpause. */
export const command: CommandSpec = {
  command: 'unpause <domain>',
  describe: 'Unpause a paused domain',
  builder: (y) => y.positional('domain', { type: 'string', describe: 'domain name or id' }),
  run: async (args, ctx) => {
    const { runPause, defaultOpen } = await import('../domain/domain-cli');
    return runPause(defaultOpen, args, ctx, false);
  },
};
