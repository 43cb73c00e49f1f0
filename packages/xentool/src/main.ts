/** Process entry points for the `xentool` and `xm` bins. */
import { makeProcessContext, readProcessInputs } from './config';

export async function main(prog: 'xentool' | 'xm' | 'xl'): Promise<void> {
  const inputs = readProcessInputs();
  const ctx = makeProcessContext(inputs, prog);
  if (prog === 'xm') {
    const [{ runXm }, { openHost }] = await Promise.all([import('./xm/xm-cli'), import('./host/open-host')]);
    process.exitCode = await runXm(inputs.argv, ctx, (g) =>
      openHost(ctx, { _: [], sim: g.sim, ...(g.simDir !== undefined ? { simDir: g.simDir } : {}) }),
    );
  } else {
    const { runCli } = await import('./cli');
    process.exitCode = await runCli(inputs.argv, ctx);
  }
  exitIfIdle();
}

/**
 * Ends the process now when the command is done and nothing is left for the event loop: no
 * handle and no request (no server, socket, watcher, timer, child or pending write). The process
 * would end anyway, but only after one more turn of the loop, in which V8 runs the
 * young-generation collection it scheduled while the command ran: about 1 ms of a short
 * command's start-up here (bench/cli-startup), spent on memory that is about to be freed whole.
 * Output is not cut short: the context writes to fds 1 and 2 synchronously (lazy-stdio.ts), and
 * a write Node's stream still holds is a request, which keeps the process to its normal end.
 * 'exit' listeners run as usual; process.exitCode is the status.
 */
export function exitIfIdle(): void {
  // Node 17.3+ (experimental there, unchanged since); without it, the normal end.
  const active = typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : undefined;
  if (active !== undefined && active.length === 0) process.exit();
}
