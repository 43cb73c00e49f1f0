/**
 * waitFor's pollMs: a condition no watch under the path reports (here a plain flag) is noticed
 * at the next poll; without pollMs only the final look at the deadline sees it.
 */
import { SimBench } from '../pci/sim-helpers';
import { SimHost } from '../../packages/xentool/src/host/sim/sim-host';
import { waitFor } from '../../packages/xentool/src/xs/wait-for';

let b: SimBench;
let host: SimHost;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  host = await SimHost.open({ dir: b.state });
});
afterEach(async () => {
  await host.close();
  b.cleanup();
});

/** Waits on a quiet path for a flag set after 200 ms; returns what waitFor gave and when. */
async function flagWait(opts: { timeoutMs: number; pollMs?: number }): Promise<{ value: string; ms: number }> {
  let flag = false;
  const t = setTimeout(() => (flag = true), 200);
  const started = Date.now();
  try {
    const value = await waitFor(host.xs, '/local/domain/0/quiet', async () => (flag ? 'seen' : undefined), { ...opts, what: 'the flag' });
    return { value, ms: Date.now() - started };
  } finally {
    clearTimeout(t);
  }
}

it('with pollMs, sees the flag at the next poll, long before the deadline', async () => {
  const r = await flagWait({ timeoutMs: 20_000, pollMs: 100 });
  expect(r.value).toBe('seen');
  expect(r.ms).toBeLessThan(10_000);
});

it('without pollMs, sees it only at the deadline', async () => {
  const r = await flagWait({ timeoutMs: 1_500 });
  expect(r.value).toBe('seen');
  expect(r.ms).toBeGreaterThanOrEqual(1_500);
});

it('with pollMs, still times out with ERR_TIMEOUT when the condition never holds', async () => {
  await expect(waitFor(host.xs, '/local/domain/0/quiet', async () => undefined, { timeoutMs: 600, pollMs: 100, what: 'nothing' })).rejects.toMatchObject({
    code: 'ERR_TIMEOUT',
    message: 'timed out after 0.6 s waiting for nothing',
  });
});
