/**
 * The host-wide lock: one holder at a time, a waiter says whom it waits for and gives up after
 * its timeout with one line, and a holder killed with SIGKILL releases it (the kernel does).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireHostLock } from '../../packages/xentool/src/intent/host-lock';
import { buildCli } from './crash-helpers';

// The SIGKILL case runs the compiled module in a child.
beforeAll(() => buildCli());

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xentool-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('excludes a second holder, names the holder, times out with one line, and hands over on release', async () => {
  const file = join(dir, 'lock');
  const a = await acquireHostLock({ file, timeoutMs: 1000, what: 'pci-attach pv 0000:01:00.0' });
  expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\npci-attach pv 0000:01:00.0\n`);
  const waits: { pid: number; what: string }[] = [];
  const t0 = Date.now();
  await expect(acquireHostLock({ file, timeoutMs: 300, what: 'b', onWait: (h) => waits.push(h) })).rejects.toMatchObject({
    code: 'ERR_LOCK_TIMEOUT',
    message: `gave up after 0 s waiting for the host lock ${file}, held by process ${process.pid} (pci-attach pv 0000:01:00.0)`,
  });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  expect(waits).toEqual([{ pid: process.pid, what: 'pci-attach pv 0000:01:00.0' }]);
  // A waiter gets it as soon as the holder lets go.
  const pending = acquireHostLock({ file, timeoutMs: 5000, what: 'c' });
  await new Promise((r) => setTimeout(r, 100));
  await a.release();
  const c = await pending;
  expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\nc\n`);
  await c.release();
  await c.release();
});

it('a holder killed with SIGKILL leaves nothing that blocks the next one', async () => {
  const file = join(dir, 'lock');
  const src = join(__dirname, '..', '..', 'packages', 'xentool', 'dist', 'intent', 'host-lock.js');
  const child = spawn(
    process.execPath,
    ['-e', `require(${JSON.stringify(src)}).acquireHostLock({file:${JSON.stringify(file)},timeoutMs:5000,what:'doomed'}).then(()=>{console.log('held');setInterval(()=>{},1000)})`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((r) => child.stdout.once('data', () => r()));
  const waits: number[] = [];
  await expect(acquireHostLock({ file, timeoutMs: 200, what: 'x', onWait: (h) => waits.push(h.pid) })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT' });
  expect(waits).toEqual([child.pid]);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  // The dead holder's file is still there (it never ran its release); it does not matter.
  expect(readFileSync(file, 'utf8')).toBe(`${child.pid}\ndoomed\n`);
  const l = await acquireHostLock({ file, timeoutMs: 2000, what: 'next' });
  await l.release();
});
