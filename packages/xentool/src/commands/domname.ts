import type { CommandSpec } from '../command';

/** `xentool domname DOMID`: xl domname. */
export const command: CommandSpec = {
  command: 'domname <domid>',
  describe: 'Convert a domain id to domain name',
  builder: (y) => y.positional('domid', { type: 'string' }),
  run: async (args, ctx) => {
    const { runDomname, defaultOpen } = await import('../domain/domain-cli');
    return runDomname(defaultOpen, args, ctx);
  },
};
