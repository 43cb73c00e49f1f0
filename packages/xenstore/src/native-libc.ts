/**
 * The few libc calls the blocking transport needs and Node does not offer: a *blocking*
 * AF_UNIX stream socket (net.Socket's fds are always non-blocking), its receive/send timeouts,
 * and poll() for a timeout on the xenbus device. Reads and writes on the fd then go through
 * fs.readSync/fs.writeSync, which are plain read(2)/write(2) on the calling thread.
 *
 * koffi is required lazily, on the first blocking open: the asynchronous client, the in-memory
 * server and the simulated host never load the native module. No koffi type leaves this file.
 * Linux x86-64/arm64 constants and layouts (glibc headers), which is where Xen's dom0 runs.
 */
import type * as KoffiModule from 'koffi';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { XenstoreError } from './errors';

type Fn = ReturnType<KoffiModule.LibraryHandle['func']>;

const AF_UNIX = 1;
const SOCK_STREAM = 1;
/** Not inherited by the tools a toolstack spawns (xl's hotplug scripts, xenstore-*). */
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const POLLIN = 0x001;
/** sizeof(((struct sockaddr_un *)0)->sun_path) */
const SUN_PATH_MAX = 108;

interface Libc {
  koffi: typeof KoffiModule;
  socket: Fn;
  connect: Fn;
  setsockopt: Fn;
  poll: Fn;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  let k: typeof KoffiModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    k = require('koffi') as typeof KoffiModule;
  } catch (e) {
    throw new XenstoreError('ENOTSUP', `the blocking xenstore transport needs the koffi package: ${(e as Error).message}`);
  }
  const lib = k.load('libc.so.6');
  libc = {
    koffi: k,
    // int socket(int domain, int type, int protocol);
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    // int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen);
    connect: lib.func('int connect(int sockfd, const void *addr, uint32_t addrlen)'),
    // int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen);
    setsockopt: lib.func('int setsockopt(int sockfd, int level, int optname, const void *optval, uint32_t optlen)'),
    // int poll(struct pollfd *fds, nfds_t nfds, int timeout);   nfds_t is unsigned long
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  };
  return libc;
}

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(os.constants.errno)) if (v === n) return name;
  return `errno ${n}`;
}

/** Calls f with errno cleared and returns [result, errno name] read at once after the call. */
function call(l: Libc, f: () => number): [number, string] {
  l.koffi.errno(0);
  const r = f();
  const e = l.koffi.errno();
  return [r, r < 0 ? errnoName(e) : ''];
}

/**
 * A connected, blocking AF_UNIX stream socket, as xs_open() makes one (socket + connect).
 * Errors: the errno name of socket()/connect() (ENOENT, ECONNREFUSED, EACCES, ...), or
 * ENAMETOOLONG for a path that does not fit sun_path.
 */
export function connectUnixBlocking(path: string): number {
  const l = load();
  const p = Buffer.from(path, 'utf8');
  if (p.length >= SUN_PATH_MAX) throw new XenstoreError('ENAMETOOLONG', `cannot connect to xenstored at ${path}: path longer than ${SUN_PATH_MAX - 1} bytes`);
  // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }: a u16 then the path, NUL-terminated.
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  p.copy(addr, 2);
  const [fd, e1] = call(l, () => l.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) as number);
  if (fd < 0) throw new XenstoreError(e1, `cannot create a unix socket: ${e1}`);
  const [r, e2] = call(l, () => l.connect(fd, addr, 2 + p.length + 1) as number);
  if (r < 0) {
    closeQuietly(fd);
    throw new XenstoreError(e2, `cannot connect to xenstored at ${path}: ${e2}`);
  }
  return fd;
}

/**
 * SO_RCVTIMEO and SO_SNDTIMEO: a read(2) or write(2) that waits longer fails with EAGAIN.
 * struct timeval { time_t tv_sec; suseconds_t tv_usec; }: two 64-bit longs.
 */
export function setSocketTimeouts(fd: number, ms: number): void {
  const l = load();
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  tv.writeBigInt64LE(BigInt((ms % 1000) * 1000), 8);
  for (const opt of [SO_RCVTIMEO, SO_SNDTIMEO]) {
    const [r, e] = call(l, () => l.setsockopt(fd, SOL_SOCKET, opt, tv, 16) as number);
    if (r < 0) throw new XenstoreError(e, `setsockopt(SO_${opt === SO_RCVTIMEO ? 'RCV' : 'SND'}TIMEO): ${e}`);
  }
}

/** Waits up to `ms` for fd to be readable (struct pollfd { int fd; short events; short revents; }). */
export function waitReadable(fd: number, ms: number): boolean {
  const l = load();
  const pfd = Buffer.alloc(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);
  for (;;) {
    const [r, e] = call(l, () => l.poll(pfd, 1, ms) as number);
    if (r >= 0) return r > 0;
    if (e !== 'EINTR') throw new XenstoreError(e, `poll: ${e}`);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Nothing to do: the fd was never handed out.
  }
}
