/**
 * The host-wide lock. xl serialises domain creation with an fcntl lock on XL_LOCK_FILE =
 * XEN_LOCK_DIR "/xl" (tools/xl/xl.h; /var/lock/xl on Debian): the kernel drops such a lock when
 * its holder dies, so a killed xl never wedges the host. Node has no fcntl or flock without a
 * native addon, and a lockfile with "take over when the pid is dead" is racy: a waiter that read
 * a dead holder's pid can remove the file a third process has just created (the concurrency test
 * in test/recovery caught exactly that with the simulated host's old directory lock: two
 * invocations in the host at once, one's intent record lost). So the mutex itself is a Linux
 * abstract-namespace Unix socket named after the lock file: bind() succeeds for exactly one
 * process, fails with EADDRINUSE for everyone else, and the kernel releases it when the holder
 * exits or is SIGKILLed; there is nothing stale to clean up. The lock file beside it only says who
 * holds the lock and what it is doing, for the waiting message (written after acquiring, by
 * rename, so it is never half-written).
 *
 * The file operations are synchronous on purpose: they are a few small files, and a short command
 * that never touches fs.promises neither loads it nor starts libuv's thread pool (together about
 * a tenth of `xentool --sim pci-list`'s start-up on the test machine, bench/cli-startup).
 *
 * Abstract sockets are per network namespace: processes in different network namespaces sharing
 * one host would not exclude each other (dom0 toolstacks run in the initial namespace).
 */
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
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
  /** Told once, with the holder's pid and what it does (when known), when we have to wait. */
  onWait?: (holder: { pid: number; what: string }) => void;
  /** What the timeout message calls the lock (default: `the host lock <file>`). */
  name?: string;
  pollMs?: number;
}

function bindAbstract(name: string): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    s.listen({ path: `\0${name}`, exclusive: true }, () => {
      // Holding the lock must not keep the process alive by itself.
      s.unref();
      resolve(s);
    });
  });
}

export async function acquireHostLock(o: LockOptions): Promise<HostLock> {
  const file = path.resolve(o.file);
  mkdirSync(path.dirname(file), { recursive: true });
  const deadline = Date.now() + o.timeoutMs;
  let told = false;
  for (;;) {
    const server = await bindAbstract(`xentool-lock:${file}`);
    if (server) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${process.pid}\n${o.what}\n`);
      renameSync(tmp, file);
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          // The file goes first: once the socket is closed someone else may write theirs.
          removeIfThere(file);
          await new Promise<void>((r) => server.close(() => r()));
        },
      };
    }
    const holder = readHolder(file);
    // The holder writes its file just after binding: wait a little for it before saying "unknown".
    if (!told && (holder || Date.now() - (deadline - o.timeoutMs) > 500)) {
      told = true;
      o.onWait?.(holder ?? { pid: 0, what: 'unknown operation' });
    }
    if (Date.now() >= deadline) {
      throw new XentoolError(
        'ERR_LOCK_TIMEOUT',
        `gave up after ${Math.round(o.timeoutMs / 1000)} s waiting for ${o.name ?? `the host lock ${file}`}${holder ? `, held by process ${holder.pid} (${holder.what})` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 20));
  }
}

function removeIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function readHolder(file: string): { pid: number; what: string } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, what] = text.split('\n');
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, what: what || 'unknown operation' };
}
