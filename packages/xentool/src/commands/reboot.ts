import type { CommandSpec } from '../command';

/** `xentool reboot [-w] DOMAIN`: xl reboot (PV guests: through control/shutdown). */
export const command: CommandSpec = {
  command: 'reboot <domain>',
  describe: 'Issue a reboot signal to a domain',
  builder: (y) =>
    y
      .positional('domain', { type: 'string', describe: 'domain name or id' })
      .option('wait', { alias: 'w', type: 'boolean', describe: 'Wait for the domain to be destroyed (by its monitor) before returning' })
      .option('timeout', { type: 'number', describe: 'With -w: give up after this many seconds (exit 1)' }),
  run: async (args, ctx) => {
    const { runShutdown, defaultOpen } = await import('../domain/domain-cli');
    return runShutdown(defaultOpen, args, ctx, 'reboot');
  },
};
