/**
 * libxl's userdata lock against another implementation of flock(2): util-linux's flock(1) in a
 * second process stands for xl. It holds the lock until its stdin closes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDomainUserdata } from './userdata-lock';

const U = '0cb34f61-416c-4ec9-b988-e80c90e36421';
let dir: string;
const lockFile = () => join(dir, `userdata-l.7.${U}.domain-userdata-lock`);
let holder: ChildProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xentool-udlock-'));
});
afterEach(async () => {
  if (holder && holder.exitCode === null) {
    holder.stdin?.end();
    await new Promise((r) => holder!.once('exit', r));
  }
  holder = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** flock(1) takes the lock in another process; resolves once it holds it. */
function holdElsewhere(file: string): Promise<ChildProcess> {
  const p = spawn('flock', ['-x', file, '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  holder = p;
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', () => resolve(p));
    p.once('error', reject);
    p.once('exit', (code) => reject(new Error(`flock exited ${code}`)));
  });
}

/** Whether another process could take the lock right now (flock -n exits 1 when it cannot). */
const freeForOthers = (file: string) => spawnSync('flock', ['-n', '-x', file, 'true']).status === 0;

describe('lockDomainUserdata', () => {
  it('creates the lock file, excludes other processes, and unlinks the file on release', async () => {
    const lock = await lockDomainUserdata(dir, 7, U, { timeoutMs: 1000 });
    expect(lock.file).toBe(lockFile());
    expect(statSync(lockFile()).isFile()).toBe(true);
    expect(freeForOthers(lockFile())).toBe(false);
    lock.release();
    lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('while another process holds it: says once that it waits, then gives up with one clear error', async () => {
    await holdElsewhere(lockFile());
    const waits: string[] = [];
    await expect(lockDomainUserdata(dir, 7, U, { timeoutMs: 300, pollMs: 20, onWait: (t) => waits.push(t) })).rejects.toMatchObject({
      code: 'ERR_LIBXL_LOCK_TIMEOUT',
      message: `timed out after 0.3 s waiting for libxl's lock on domain 7's stored config (${lockFile()}), held by another toolstack process (xl?)`,
    });
    expect(waits).toEqual([`waiting for libxl's lock on domain 7's stored config (${lockFile()}), held by another toolstack process (xl?)`]);
    // Giving up leaves the other holder's file alone.
    expect(existsSync(lockFile())).toBe(true);
  });

  it('takes the lock once the other process lets go', async () => {
    const p = await holdElsewhere(lockFile());
    const waits: string[] = [];
    const pending = lockDomainUserdata(dir, 7, U, { timeoutMs: 60_000, pollMs: 10, onWait: (t) => waits.push(t) });
    // Let it find the lock taken before the holder goes.
    while (waits.length === 0) await new Promise((r) => setTimeout(r, 10));
    p.stdin!.end();
    const lock = await pending;
    expect(freeForOthers(lockFile())).toBe(false);
    lock.release();
    expect(freeForOthers(lockFile())).toBe(true);
  });

  it('a waiter whose holder unlinked the file on release locks the new file at the path, not the old one', async () => {
    const first = await lockDomainUserdata(dir, 7, U, { timeoutMs: 1000 });
    const waits: string[] = [];
    const second = lockDomainUserdata(dir, 7, U, { timeoutMs: 60_000, pollMs: 10, onWait: (t) => waits.push(t) });
    while (waits.length === 0) await new Promise((r) => setTimeout(r, 10));
    // libxl__unlock_file: unlink, then close. The waiter's flock then succeeds on an unlinked file.
    first.release();
    const lock = await second;
    // Without the fstat/stat check the waiter would hold a lock on the unlinked file: the path
    // would be missing, and free for anyone.
    expect(statSync(lockFile()).isFile()).toBe(true);
    expect(freeForOthers(lockFile())).toBe(false);
    lock.release();
  });

  it('fails, releasing the lock, when the domain is gone once the lock is held (as libxl checks)', async () => {
    await expect(lockDomainUserdata(dir, 7, U, { timeoutMs: 1000, domainExists: async () => false })).rejects.toMatchObject({ code: 'ERR_DOMAIN_NOT_FOUND' });
    expect(existsSync(lockFile())).toBe(false);
  });

  it('a directory that does not exist is one clear error', async () => {
    await expect(lockDomainUserdata(join(dir, 'absent'), 7, U, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ERR_LIBXL_LOCK', message: expect.stringContaining('ENOENT') });
  });
});
