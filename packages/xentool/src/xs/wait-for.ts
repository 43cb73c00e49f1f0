/**
 * Waiting on xenstore with a deadline: re-evaluates a predicate on every watch event under a
 * path (and once at the start), so waits react at once instead of polling the way libxl does
 * (100 × 100 ms, synchronously). `onTick` is called about every 250 ms while waiting, for a
 * progress line on a TTY. With `pollMs` the predicate is also re-evaluated that often, for a
 * condition no watch under the path reports (the domain having shut down meanwhile).
 */
import { XentoolError } from '../errors';
import type { Xs } from './xs';

export async function waitFor<T>(
  xs: Xs,
  watchPath: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; what: string; onTick?: (elapsedMs: number) => void; pollMs?: number },
): Promise<T> {
  const started = Date.now();
  const watch = xs.watch(watchPath, `xentool-wait-${process.pid}-${started}-${Math.random().toString(36).slice(2, 8)}`);
  const it = watch[Symbol.asyncIterator]();
  let ticker: NodeJS.Timeout | undefined;
  let next: Promise<IteratorResult<unknown>> | undefined;
  if (opts.onTick) ticker = setInterval(() => opts.onTick!(Date.now() - started), 250);
  try {
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      const left = opts.timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      const wait = opts.pollMs !== undefined ? Math.min(left, opts.pollMs) : left;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), wait)));
      // One pending next() at a time: a poll that fires first leaves it pending for the next round.
      next ??= it.next();
      const r = await Promise.race([next, timeout]);
      clearTimeout(timer);
      // A poll or the deadline: the check at the top of the loop decides (one last look at the
      // deadline, as before pollMs existed).
      if (r === 'timeout') continue;
      next = undefined;
      if (r.done) break;
    }
    throw new XentoolError('ERR_TIMEOUT', `timed out after ${(opts.timeoutMs / 1000).toFixed(opts.timeoutMs % 1000 ? 1 : 0)} s waiting for ${opts.what}`);
  } finally {
    if (ticker) clearInterval(ticker);
    await watch.close();
  }
}
