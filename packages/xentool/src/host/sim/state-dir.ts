/**
 * The simulated host keeps its whole state in one directory between CLI invocations:
 * `state.json` (written atomically: temp file, fsync, rename) and a lock file that serialises
 * invocations, so two `xentool --sim` processes never interleave their read-modify-write.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { XentoolError } from '../../errors';

export const STATE_FILE = 'state.json';
const LOCK_FILE = 'lock';

export async function readStateFile<T>(dir: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new XentoolError('ERR_SIM_STATE', `${path.join(dir, STATE_FILE)}: the simulated host's state is corrupt (${(e as Error).message}); run 'xentool --sim sim-init' to start afresh`);
  }
}

export async function writeStateFile(dir: string, state: unknown): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const final = path.join(dir, STATE_FILE);
  const tmp = `${final}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(state, null, 1));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, final);
}

export interface DirLock {
  release(): Promise<void>;
}

/**
 * Takes the directory's lock, waiting up to `timeoutMs`. A lock whose holder process no longer
 * exists is taken over (a killed invocation must not wedge the simulated host). `onWait` is told
 * once who holds it, so the CLI can say what it waits for.
 */
export async function lockDir(dir: string, opts: { timeoutMs: number; onWait?: (holderPid: number) => void }): Promise<DirLock> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + opts.timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fh = await fs.open(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
      await fh.writeFile(String(process.pid));
      await fh.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await fs.rm(file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number.parseInt(await fs.readFile(file, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      // The holder died without releasing: remove its lock and try again.
      await fs.rm(file, { force: true });
      continue;
    }
    if (!told && opts.onWait && Number.isInteger(holder)) {
      told = true;
      opts.onWait(holder);
    }
    if (Date.now() >= deadline) {
      throw new XentoolError('ERR_LOCK_TIMEOUT', `gave up after ${opts.timeoutMs} ms waiting for the simulated host lock held by process ${Number.isInteger(holder) ? holder : '?'} (${file})`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
