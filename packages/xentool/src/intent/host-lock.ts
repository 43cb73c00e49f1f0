/**
 * The host-wide lock for changing operations on a real host. xl serialises domain creation with
 * an fcntl lock on XL_LOCK_FILE = XEN_LOCK_DIR "/xl" (tools/xl/xl.h; /var/lock/xl on Debian).
 * Node has no fcntl/flock without a native addon, so this is the lockfile form: create with
 * O_EXCL, write our pid, and take over a file whose pid is no longer alive (a SIGKILLed xentool
 * must not wedge the host). The takeover is itself raced safely: the stale file is renamed to a
 * name unique to us before removal, so two waiters cannot both remove it and both win.
 *
 * The lock is held from before the host is observed for planning until the intent record is
 * closed, so plans are always made from a state no other xentool process is changing; that
 * gives every device and domain a total order of operations (per-device ordering included).
 * The simulated host does not need this: its directory lock is held for the whole invocation.
 */
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';
import { XentoolError } from '../errors';

export const REAL_LOCK_FILE = '/var/lock/xentool';

export interface HostLock {
  release(): Promise<void>;
}

export interface LockOptions {
  file: string;
  timeoutMs: number;
  /** What we are about to do, written into the lock file for whoever waits on us. */
  what: string;
  /** Told once, with the holder's pid and what it does, when we have to wait. */
  onWait?: (holder: { pid: number; what: string }) => void;
  /** Whether a pid is alive; injectable for tests. */
  alive?: (pid: number) => boolean;
  pollMs?: number;
}

export async function acquireHostLock(o: LockOptions): Promise<HostLock> {
  await fs.mkdir(path.dirname(o.file), { recursive: true });
  const alive = o.alive ?? pidAlive;
  const deadline = Date.now() + o.timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fh = await fs.open(o.file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o644);
      try {
        await fh.writeFile(`${process.pid}\n${o.what}\n`);
      } finally {
        await fh.close();
      }
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          const holder = await readHolder(o.file);
          // Never remove a lock someone else took over (it would mean we were presumed dead).
          if (holder?.pid === process.pid) await fs.rm(o.file, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = await readHolder(o.file);
    if (holder && !alive(holder.pid)) {
      const grave = `${o.file}.stale.${process.pid}`;
      try {
        await fs.rename(o.file, grave);
        const moved = await readHolder(grave);
        if (moved && moved.pid !== holder.pid) {
          // Someone took the lock between our read and the rename: give it back. link(), not
          // rename(), so that a third process that created a lock meanwhile is not overwritten.
          await fs.link(grave, o.file).catch(() => undefined);
          await fs.rm(grave, { force: true });
        } else {
          await fs.rm(grave, { force: true });
        }
      } catch {
        // Another waiter moved it first; just try again.
      }
      continue;
    }
    if (holder && !told) {
      told = true;
      o.onWait?.(holder);
    }
    if (Date.now() >= deadline) {
      throw new XentoolError(
        'ERR_LOCK_TIMEOUT',
        `gave up after ${(o.timeoutMs / 1000).toFixed(0)} s waiting for the host lock ${o.file}${holder ? `, held by process ${holder.pid} (${holder.what})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 50));
  }
}

async function readHolder(file: string): Promise<{ pid: number; what: string } | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const [pidText, what] = text.split('\n');
  const pid = Number.parseInt(pidText ?? '', 10);
  // A file caught between O_EXCL create and the pid write reads empty: treat as alive (pid 0
  // is never "dead"), the creator finishes its write within microseconds.
  return { pid: Number.isInteger(pid) && pid > 0 ? pid : 0, what: what || 'unknown operation' };
}

function pidAlive(pid: number): boolean {
  if (pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
