import type { CommandSpec } from '../command';

/** `xentool console [-t pv|serial] [-n N] DOMAIN`: xl console; Ctrl-] leaves. */
export const command: CommandSpec = {
  command: 'console <domain>',
  describe: 'Attach to the console of a domain (Ctrl-] to leave)',
  builder: (y) =>
    y
      .positional('domain', { type: 'string', describe: 'domain name or id' })
      .option('type', { alias: 't', type: 'string', describe: 'pv or serial (default: pv for PV guests, serial for HVM)' })
      .option('num', { alias: 'n', type: 'number', describe: 'console number' }),
  run: async (args, ctx) => {
    const { runConsoleCommand, defaultOpen } = await import('../domain/domain-cli');
    // The context has output streams only; the keyboard is the process's stdin.
    return runConsoleCommand(defaultOpen, args, ctx, process.stdin);
  },
};
