/**
 * flock(2), which Node does not offer, through koffi on glibc. libxl guards each domain's stored
 * config with flock (libxl_internal.c libxl__lock_file), and a lock that excludes xl has to be
 * the same kind of lock: an fcntl lock or a lock file of our own would not conflict with it.
 *
 * koffi is required on the first call only: nothing that does not change a domain's stored
 * config (pci-list, the simulated host's start-up) loads the native module. No koffi type leaves
 * this file. Linux constants (glibc's <sys/file.h>).
 */
import type * as KoffiModule from 'koffi';
import { constants } from 'node:os';
import { XentoolError } from '../errors';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

interface Libc {
  koffi: typeof KoffiModule;
  flock: (fd: number, operation: number) => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  let k: typeof KoffiModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    k = require('koffi') as typeof KoffiModule;
  } catch (e) {
    throw new XentoolError('ERR_LIBC', `flock(2) needs the koffi package: ${(e as Error).message}`);
  }
  // int flock(int fd, int operation);
  const f = k.load('libc.so.6').func('int flock(int fd, int operation)');
  libc = { koffi: k, flock: (fd, op) => f(fd, op) as number };
  return libc;
}

function errnoName(n: number): string {
  // EWOULDBLOCK and EAGAIN are the same number on Linux; name it as flock(2) documents it.
  if (n === constants.errno.EWOULDBLOCK) return 'EWOULDBLOCK';
  for (const [name, v] of Object.entries(constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/**
 * flock(fd, operation). Returns undefined when it succeeded, or the errno name read at once
 * after the call (EWOULDBLOCK for a LOCK_NB request on a lock someone else holds, EINTR, ...).
 */
export function flock(fd: number, operation: number): string | undefined {
  const l = load();
  l.koffi.errno(0);
  const r = l.flock(fd, operation);
  const e = l.koffi.errno();
  return r === 0 ? undefined : errnoName(e);
}
