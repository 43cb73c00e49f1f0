import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { lockDir, readStateFile, writeStateFile } from './state-dir';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'simstate-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('sim state directory', () => {
  it('round-trips state and leaves no temporary file behind', async () => {
    expect(await readStateFile(dir)).toBeUndefined();
    await writeStateFile(dir, { a: [1, 2], b: 'x' });
    expect(await readStateFile(dir)).toEqual({ a: [1, 2], b: 'x' });
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('reports a corrupt state file as one coded error', async () => {
    writeFileSync(join(dir, 'state.json'), '{"a": ');
    await expect(readStateFile(dir)).rejects.toMatchObject({ code: 'ERR_SIM_STATE', message: expect.stringContaining('sim-init') });
  });

  it('serialises holders: the second waits, is told who holds the lock, then gets it', async () => {
    const first = await lockDir(dir, { timeoutMs: 1000 });
    const waitedFor: number[] = [];
    const second = lockDir(dir, { timeoutMs: 2000, onWait: (pid) => waitedFor.push(pid) });
    await new Promise((r) => setTimeout(r, 100));
    await first.release();
    const got = await second;
    expect(waitedFor).toEqual([process.pid]);
    await got.release();
  });

  it('times out with a clear line when the holder never lets go', async () => {
    const held = await lockDir(dir, { timeoutMs: 1000 });
    await expect(lockDir(dir, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'ERR_LOCK_TIMEOUT', message: expect.stringContaining(`process ${process.pid}`) });
    await held.release();
  });

  it('takes over a lock left by a process that died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dir, 'lock'), dead);
    const l = await lockDir(dir, { timeoutMs: 200 });
    await l.release();
  });
});
