import type { CommandSpec } from '../command';

/** `shutdown` and `reboot` take the same arguments; only the request to the guest differs. */
export function guestControlCommand(name: 'shutdown' | 'reboot', describe: string, reason: 'poweroff' | 'reboot'): CommandSpec {
  return {
    command: `${name} <domain>`,
    describe,
    builder: (y) =>
      y
        .positional('domain', { type: 'string', describe: 'domain name or id' })
        .option('wait', { alias: 'w', type: 'boolean', describe: 'Wait for the domain to be destroyed (by its monitor) before returning' })
        .option('timeout', { type: 'number', describe: 'With -w: give up after this many seconds (exit 1)' }),
    run: async (args, ctx) => {
      const { runShutdown, defaultOpen } = await import('../domain/domain-cli');
      return runShutdown(defaultOpen, args, ctx, reason);
    },
  };
}

/** `xentool shutdown [-w] DOMAIN`: xl shutdown (PV guests: through control/shutdown). */
export const command: CommandSpec = guestControlCommand('shutdown', 'Issue a shutdown signal to a domain', 'poweroff');
