import { resolve } from 'node:path';
import type { CommandSpec } from '../command';
import type { CommandContext } from '../context';

/**
 * `xentool xenstored --socket PATH [--persist FILE]`: the in-memory xenstored, standalone.
 * Prints `listening on PATH` to stdout once clients may connect (scripts wait for that line),
 * then serves until the process is killed; with --persist the tree survives restarts.
 *
 * The context may carry an AbortSignal (`signal`), which stops the daemon cleanly; tests use
 * it. Without one the daemon runs until killed; its socket file is then left behind and is
 * recognised as stale (nobody answers) and replaced at the next start.
 */
export const command: CommandSpec = {
  command: 'xenstored',
  describe: 'Run the in-memory xenstored on a unix socket (the real xenstore tools can use it via XENSTORED_PATH)',
  builder: (y) =>
    y
      .option('socket', { type: 'string', demandOption: true, describe: 'unix socket to listen on' })
      .option('persist', { type: 'string', describe: 'JSON file the tree is loaded from and saved to' }),
  run: async (args, ctx) => {
    const { startXenstored, XenstoreError } = await import('@xentool/xenstore');
    const { write } = await import('../context');
    const { XentoolError, ErrorCodes } = await import('../errors');
    // Relative paths are the caller's, not the process's: resolve against ctx.cwd.
    const socket = resolve(ctx.cwd, String(args.socket));
    const persist = args.persist === undefined ? undefined : resolve(ctx.cwd, String(args.persist));
    let daemon;
    try {
      daemon = await startXenstored({ socket, persist });
    } catch (e) {
      if (e instanceof XenstoreError) {
        const code = e.code === 'EPERSIST' ? ErrorCodes.ERR_XENSTORED_PERSIST : ErrorCodes.ERR_XENSTORED_SOCKET;
        throw new XentoolError(code, `${ctx.prog} xenstored: ${e.message}`);
      }
      throw e;
    }
    await write(ctx.stdout, `listening on ${socket}\n`);
    const signal = (ctx as CommandContext & { signal?: AbortSignal }).signal;
    if (signal) {
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await daemon.close();
      return 0;
    }
    // No way to be told to stop: serve until the process ends.
    await new Promise<never>(() => undefined);
    return 0;
  },
};
