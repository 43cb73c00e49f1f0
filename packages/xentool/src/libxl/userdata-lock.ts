/**
 * libxl's per-domain userdata lock, taken exactly as libxl 4.17 takes it, so that xentool and
 * xl never both rewrite a domain's stored config (libxl_internal.c libxl__lock_file,
 * libxl__unlock_file, libxl__lock_domain_userdata):
 *
 * - The lock file is XEN_LIB_DIR/userdata-l.<domid>.<uuid>.domain-userdata-lock. It is opened
 *   O_RDWR|O_CREAT, mode 0666, close-on-exec, and locked with flock(fd, LOCK_EX).
 * - Unlocking unlinks the file, then closes the fd. Unlinking first matters: a waiter blocked in
 *   flock on the old file would otherwise wake up holding a lock on a file nobody else can see.
 *   So after flock succeeds the locker compares fstat(fd) with stat(path) (device and inode) and,
 *   when the path is gone or is another file, closes and starts again with a fresh open.
 * - With the lock held, libxl checks that the domain still exists (libxl_domain_info) and gives
 *   the lock up, failing, when it does not (the destroy that removed it also removed the files).
 *
 * libxl waits in flock for as long as it takes. xentool polls with LOCK_NB instead, so that it
 * can say once that it is waiting and give up after a timeout with one clear line; flock(2) has
 * no queue, so polling takes nothing from anyone.
 */
import { closeSync, constants, fstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { XentoolError } from '../errors';
import { userdataPath } from '../domain/libxl-userdata';
import { LOCK_EX, LOCK_NB, flock } from '../libc/flock';

/** libxl__lock_domain_userdata's userid. */
export const USERDATA_LOCK = 'domain-userdata-lock';

export interface UserdataLock {
  readonly file: string;
  /** Unlinks the lock file, then closes it (libxl__unlock_file). Idempotent. */
  release(): void;
}

export interface UserdataLockOptions {
  /** How long to wait for another holder (xl, another xentool) to let go. */
  timeoutMs: number;
  pollMs?: number;
  /** Told once, when the lock is held by someone else and we wait. */
  onWait?(text: string): void;
  /** libxl's check once the lock is held: false makes the lock fail with ERR_DOMAIN_NOT_FOUND. */
  domainExists?(): Promise<boolean>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function lockDomainUserdata(dir: string, domid: number, uuid: string, o: UserdataLockOptions): Promise<UserdataLock> {
  const file = userdataPath(dir, 'l', domid, uuid, USERDATA_LOCK);
  const deadline = Date.now() + o.timeoutMs;
  let told = false;
  for (;;) {
    let fd: number;
    try {
      // Node opens with O_CLOEXEC; libxl's carefd does the same.
      fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o666);
    } catch (e) {
      throw new XentoolError('ERR_LIBXL_LOCK', `cannot open libxl's lock file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let same: boolean;
    try {
      for (;;) {
        const err = flock(fd, LOCK_EX | LOCK_NB);
        if (err === undefined) break;
        if (err === 'EINTR') continue;
        if (err !== 'EWOULDBLOCK') throw new XentoolError('ERR_LIBXL_LOCK', `cannot lock ${file}: flock: ${err}`);
        if (Date.now() >= deadline) {
          throw new XentoolError(
            'ERR_LIBXL_LOCK_TIMEOUT',
            `timed out after ${o.timeoutMs / 1000} s waiting for libxl's lock on domain ${domid}'s stored config (${file}), held by another toolstack process (xl?)`,
          );
        }
        if (!told) {
          told = true;
          o.onWait?.(`waiting for libxl's lock on domain ${domid}'s stored config (${file}), held by another toolstack process (xl?)`);
        }
        await sleep(Math.min(o.pollMs ?? 50, Math.max(1, deadline - Date.now())));
      }
      same = sameFile(file, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (same) {
      const lock = heldLock(file, fd);
      let exists = true;
      try {
        if (o.domainExists) exists = await o.domainExists();
      } catch (e) {
        lock.release();
        throw e;
      }
      if (!exists) {
        lock.release();
        throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `domain ${domid} is gone (its stored config with it)`);
      }
      return lock;
    }
    // The holder we waited for unlinked the file on its way out: ours is a lock on nothing.
    closeSync(fd);
  }
}

/** fstat(fd) against stat(path): is the locked file still the one the path names? */
function sameFile(file: string, fd: number): boolean {
  const held = fstatSync(fd);
  try {
    const now = statSync(file);
    return now.dev === held.dev && now.ino === held.ino;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function heldLock(file: string, fd: number): UserdataLock {
  let open = true;
  return {
    file,
    release() {
      if (!open) return;
      open = false;
      try {
        unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          closeSync(fd);
          throw e;
        }
      }
      closeSync(fd);
    },
  };
}

/** Runs `fn` holding the domain's userdata lock, as libxl wraps each read-modify-write of its files. */
export async function withDomainUserdataLock<T>(dir: string, domid: number, uuid: string, o: UserdataLockOptions, fn: () => T | Promise<T>): Promise<T> {
  const lock = await lockDomainUserdata(dir, domid, uuid, o);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
