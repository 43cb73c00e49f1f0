import type { CommandSpec } from '../command';

/** `xentool destroy DOMAIN`: xl destroy. */
export const command: CommandSpec = {
  command: 'destroy <domain>',
  describe: 'Terminate a domain immediately',
  builder: (y) => y.positional('domain', { type: 'string', describe: 'domain name or id' }),
  run: async (args, ctx) => {
    const { runDestroy, defaultOpen } = await import('../domain/domain-cli');
    return runDestroy(defaultOpen, args, ctx);
  },
};
