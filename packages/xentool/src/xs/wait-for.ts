/**
 * Waiting on xenstore with a deadline: re-evaluates a predicate on every watch event under a
 * path (and once at the start), so waits react at once instead of polling the way libxl does
 * (100 × 100 ms, synchronously). `onTick` is called about every 250 ms while waiting, for a
 * progress line on a TTY.
 */
import { XentoolError } from '../errors';
import type { Xs } from './xs';

export async function waitFor<T>(
  xs: Xs,
  watchPath: string,
  check: () => Promise<T | undefined>,
  opts: { timeoutMs: number; what: string; onTick?: (elapsedMs: number) => void },
): Promise<T> {
  const started = Date.now();
  const watch = xs.watch(watchPath, `xentool-wait-${process.pid}-${started}-${Math.random().toString(36).slice(2, 8)}`);
  const it = watch[Symbol.asyncIterator]();
  let ticker: NodeJS.Timeout | undefined;
  if (opts.onTick) ticker = setInterval(() => opts.onTick!(Date.now() - started), 250);
  try {
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      const left = opts.timeoutMs - (Date.now() - started);
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left)));
      const r = await Promise.race([it.next(), timeout]);
      clearTimeout(timer);
      if (r === 'timeout') {
        const v2 = await check();
        if (v2 !== undefined) return v2;
        break;
      }
      if (r.done) break;
    }
    throw new XentoolError('ERR_TIMEOUT', `timed out after ${(opts.timeoutMs / 1000).toFixed(opts.timeoutMs % 1000 ? 1 : 0)} s waiting for ${opts.what}`);
  } finally {
    if (ticker) clearInterval(ticker);
    await watch.close();
  }
}
