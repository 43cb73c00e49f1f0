import type { CommandSpec } from '../command';

/** `xentool domid NAME`: xl domid. */
export const command: CommandSpec = {
  command: 'domid <name>',
  describe: 'Convert a domain name to domain id',
  builder: (y) => y.positional('name', { type: 'string' }),
  run: async (args, ctx) => {
    const { runDomid, defaultOpen } = await import('../domain/domain-cli');
    return runDomid(defaultOpen, args, ctx);
  },
};
