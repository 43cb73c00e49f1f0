/**
 * A xenstore client that speaks the wire protocol itself (no libxenstore) over any byte
 * stream: xenstored's unix socket, the kernel's /dev/xen/xenbus, or an in-process stream.
 *
 * Unlike libxenstore, which sends req_id 0 and relies on strict request/reply order, every
 * request gets its own req_id and replies are matched by it, so many requests can be in
 * flight on one connection. Requests issued in the same tick go out in one write.
 *
 * `mode: 'blocking'` swaps the transport for blocking-connection.ts (one write and a blocking
 * read per request, as libxenstore does): the fastest sequential round trip, no watches.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import { BlockingConnection } from './blocking-connection';
import type { Subscriber, WatchEvent, XenstoreMode, XsConnection } from './connection';
import { XenstoreError } from './errors';
import { connectUnixBlocking, setSocketTimeouts } from './native-libc';
import type { Perm } from './perms';
import { formatPerm, parsePerm } from './perms';
import type { XsMessage } from './wire';
import { encodeMessage, FrameReader, FrameTooLargeError, HEADER_SIZE, nulStrings, PAYLOAD_MAX, splitStrings, XsType } from './wire';

export type { WatchEvent, XenstoreMode } from './connection';

export const DEFAULT_SOCKET_PATH = '/var/run/xenstored/socket';
export const XENBUS_DEVICE_PATH = '/dev/xen/xenbus';
export const XENBUS_PROC_PATH = '/proc/xen/xenbus';

export interface ClientOptions {
  /** Per-request timeout in milliseconds; 0 disables. Default 30 s. */
  timeoutMs?: number;
}

export interface OpenOptions extends ClientOptions {
  /** Socket or device path. Default: env.XENSTORED_PATH, else the socket, else /dev/xen/xenbus. */
  path?: string;
  /**
   * The environment to honour XENSTORED_PATH / XENSTORED_RUNDIR from, as libxenstore does.
   * Passed in rather than read here: only the CLI's config module reads process.env.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * 'async' (default): requests are pipelined over a non-blocking stream; watches work.
   * 'blocking': each request is a write and a blocking read on this thread, as libxenstore
   * does (faster one at a time; the event loop waits meanwhile). watch() is refused with
   * ENOTSUP, and xenstored must not run in this process (it could never answer).
   */
  mode?: XenstoreMode;
}

export interface TransactionOptions {
  /** How many times to re-run the body after EAGAIN before giving up. Default 16. */
  retries?: number;
}

/**
 * The daemon path libxenstore would use (xs_daemon_socket, then xs_domain_dev): XENSTORED_PATH
 * wins outright (no fallback if it does not exist); otherwise $XENSTORED_RUNDIR/socket or
 * /var/run/xenstored/socket if it exists, else /dev/xen/xenbus, else /proc/xen/xenbus.
 */
export function resolveXenstorePath(opts: Pick<OpenOptions, 'path' | 'env'> = {}): string {
  if (opts.path) return opts.path;
  const env = opts.env ?? {};
  if (env.XENSTORED_PATH) return env.XENSTORED_PATH;
  const sock = env.XENSTORED_RUNDIR ? `${env.XENSTORED_RUNDIR}/socket` : DEFAULT_SOCKET_PATH;
  if (fs.existsSync(sock)) return sock;
  // libxenstore 4.17 checks access("/dev/xen/xenbus") and otherwise tries the old procfs
  // node (seen with strace on xenstore-read).
  if (fs.existsSync(XENBUS_DEVICE_PATH)) return XENBUS_DEVICE_PATH;
  return fs.existsSync(XENBUS_PROC_PATH) ? XENBUS_PROC_PATH : XENBUS_DEVICE_PATH;
}

/**
 * Connects like xs_open(): a unix socket is connect()ed; anything else (the xenbus character
 * device) is opened read-write and used as a byte stream.
 */
export async function openXenstore(opts: OpenOptions = {}): Promise<XenstoreClient> {
  const path = resolveXenstorePath(opts);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'ENOENT';
    throw new XenstoreError(code, `cannot open xenstore at ${path}: ${code}`);
  }
  if (opts.mode === 'blocking') return new XenstoreClient(openBlocking(path, st.isSocket(), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), opts);
  if (st.isSocket()) {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = connectSocket(path);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    }).catch((e: NodeJS.ErrnoException) => {
      throw new XenstoreError(e.code ?? 'ECONNREFUSED', `cannot connect to xenstored at ${path}: ${e.code ?? e.message}`);
    });
    sock.setNoDelay(true);
    return new XenstoreClient(sock, opts);
  }
  const fd = await fs.promises.open(path, 'r+').catch((e: NodeJS.ErrnoException) => {
    throw new XenstoreError(e.code ?? 'EIO', `cannot open xenstore at ${path}: ${e.code ?? e.message}`);
  });
  return new XenstoreClient(new DeviceStream(fd), opts);
}

const DEFAULT_TIMEOUT_MS = 30000;

/** Where an onread socket's bytes go: set by the StreamConnection that takes the socket. */
const SINK = Symbol('xenstore.sink');
type SinkSocket = net.Socket & { [SINK]?: (chunk: Buffer) => void };

/**
 * The daemon's socket, read through Node's `onread`: each read lands in one reused buffer and
 * reaches the connection as a copy of just the bytes read, without the Readable machinery
 * ('data' events, buffering, nextTick hops) in between.
 */
function connectSocket(path: string): SinkSocket {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  const s: SinkSocket = net.connect({
    path,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        s[SINK]?.(Buffer.from(buf.subarray(0, n)));
        return true;
      },
    },
  });
  return s;
}

/** A blocking fd on the socket (connected through libc) or the device, for mode 'blocking'. */
function openBlocking(path: string, isSocket: boolean, timeoutMs: number): BlockingConnection {
  let fd: number;
  if (isSocket) {
    fd = connectUnixBlocking(path);
    if (timeoutMs > 0) {
      try {
        setSocketTimeouts(fd, timeoutMs);
      } catch (e) {
        fs.closeSync(fd);
        throw e;
      }
    }
  } else {
    try {
      fd = fs.openSync(path, 'r+');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new XenstoreError(err.code ?? 'EIO', `cannot open xenstore at ${path}: ${err.code ?? err.message}`);
    }
  }
  return new BlockingConnection(fd, timeoutMs, isSocket);
}

/**
 * Any request gets a reply; this one is cheap, allowed to every domain, and carries a req_id
 * the client never uses for its own requests while the device is being closed.
 */
const WAKE_FRAME = encodeMessage(XsType.GET_DOMAIN_PATH, 0xffffffff, 0, nulStrings('0'));

/**
 * The xenbus device (or anything that is not a socket) as a Duplex. Each write must carry
 * whole messages (the kernel buffers a partial one until it is complete, so concatenated whole
 * messages are fine); a read returns whatever replies are queued.
 *
 * A read of the device runs in libuv's thread pool and cannot be cancelled: the kernel
 * completes it only when a message arrives, and until then node cannot exit (even
 * process.exit() waits for it; found on real Xen by test/xen/07). So the device is read only
 * while something is awaited (the connection's `demand`: a reply, or an event for a registered
 * watch), and a close with a read still blocked first sends a request whose reply ends that
 * read, then closes the fd.
 */
class DeviceStream extends Duplex {
  /** Set by the connection: whether a reply or a watch event is awaited. */
  demand: () => boolean = () => false;
  private reading = false;
  private afterRead?: () => void;

  constructor(private readonly fh: fs.promises.FileHandle) {
    super();
  }

  override _read(): void {
    this.pump();
  }

  /** Starts a read if there is demand and none is running. */
  pump(): void {
    if (this.reading || this.destroyed || this.afterRead || !this.demand()) return;
    this.reading = true;
    const buf = Buffer.allocUnsafe(HEADER_SIZE + PAYLOAD_MAX);
    this.fh.read(buf, 0, buf.length, null).then(
      ({ bytesRead }) => {
        if (this.readDone()) return;
        if (!bytesRead) {
          this.push(null);
          return;
        }
        this.push(buf.subarray(0, bytesRead));
        // Decide about the next read once the connection has taken this reply off `pending`.
        setImmediate(() => this.pump());
      },
      (e: Error) => {
        if (!this.readDone()) this.destroy(e);
      },
    );
  }

  /** True if the stream is closing and the read's result is to be dropped. */
  private readDone(): boolean {
    this.reading = false;
    const f = this.afterRead;
    if (!f) return false;
    this.afterRead = undefined;
    f();
    return true;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.fh.write(chunk, 0, chunk.length, null).then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const close = (): void => {
      this.fh.close().then(() => cb(err), () => cb(err));
    };
    if (!this.reading) return close();
    this.afterRead = close;
    this.fh.write(WAKE_FRAME, 0, WAKE_FRAME.length, null).catch(() => undefined);
  }
}

interface Pending {
  resolve: (m: XsMessage) => void;
  reject: (e: Error) => void;
  op: string;
  /** Date.now() after which the request times out; 0 = never. */
  deadline: number;
}

/** Operations that can run inside a transaction or outside one (tx_id 0). */
export class XenstoreOps {
  protected constructor(
    protected readonly conn: XsConnection,
    readonly txId: number,
  ) {}

  protected req(type: number, payload: Buffer | string, op: string): Promise<XsMessage> {
    return this.conn.request(type, this.txId, payload, op);
  }

  /** The value as raw bytes. */
  readBuffer(path: string): Promise<Buffer> {
    // Plain promise chains rather than async/await on the hottest calls: each await is a
    // microtask hop on every sequential round trip.
    return this.req(XsType.READ, `${path}\0`, `READ ${path}`).then((m) => m.payload);
  }

  read(path: string): Promise<string> {
    return this.req(XsType.READ, `${path}\0`, `READ ${path}`).then((m) => m.payload.toString('utf8'));
  }

  /** The value, or undefined if the node does not exist (other errors still throw). */
  async tryRead(path: string): Promise<string | undefined> {
    try {
      return await this.read(path);
    } catch (e) {
      if (e instanceof XenstoreError && e.code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async exists(path: string): Promise<boolean> {
    return (await this.tryRead(path)) !== undefined;
  }

  /** Values are sent without a trailing NUL, exactly as xs_write does. */
  async write(path: string, value: string | Buffer): Promise<void> {
    const payload = typeof value === 'string' ? `${path}\0${value}` : Buffer.concat([nulStrings(path), value]);
    await this.req(XsType.WRITE, payload, `WRITE ${path}`);
  }

  async mkdir(path: string): Promise<void> {
    await this.req(XsType.MKDIR, nulStrings(path), `MKDIR ${path}`);
  }

  /** Recursive; succeeds if the node is already absent but its parent exists. */
  async rm(path: string): Promise<void> {
    await this.req(XsType.RM, nulStrings(path), `RM ${path}`);
  }

  /**
   * Child names. A directory too large for one reply (E2BIG) is fetched in DIRECTORY_PART
   * chunks, starting over if the node's generation changes in between (as libxenstore does).
   */
  async directory(path: string): Promise<string[]> {
    try {
      const m = await this.req(XsType.DIRECTORY, nulStrings(path), `DIRECTORY ${path}`);
      return splitStrings(m.payload).strings;
    } catch (e) {
      if (!(e instanceof XenstoreError) || e.code !== 'E2BIG') throw e;
    }
    return this.directoryByParts(path);
  }

  async directoryByParts(path: string): Promise<string[]> {
    for (let attempt = 0; attempt < 16; attempt++) {
      const names: string[] = [];
      let gen: string | undefined;
      let offset = 0;
      let restart = false;
      for (;;) {
        const m = await this.req(XsType.DIRECTORY_PART, nulStrings(path, String(offset)), `DIRECTORY_PART ${path}`);
        const { strings } = splitStrings(m.payload);
        const g = strings.shift();
        if (g === undefined) throw new XenstoreError('EPROTO', `DIRECTORY_PART ${path}: empty reply`);
        if (gen !== undefined && g !== gen) {
          restart = true;
          break;
        }
        gen = g;
        // The last chunk ends with an extra empty string.
        const last = strings.length > 0 && strings[strings.length - 1] === '';
        if (last) strings.pop();
        for (const s of strings) {
          names.push(s);
          offset += Buffer.byteLength(s) + 1;
        }
        if (last) return names;
        if (!strings.length) throw new XenstoreError('EPROTO', `DIRECTORY_PART ${path}: no progress`);
      }
      if (!restart) break;
    }
    throw new XenstoreError('EAGAIN', `DIRECTORY_PART ${path}: directory kept changing`);
  }

  async getPerms(path: string): Promise<Perm[]> {
    const m = await this.req(XsType.GET_PERMS, nulStrings(path), `GET_PERMS ${path}`);
    return splitStrings(m.payload).strings.map((s) => {
      const p = parsePerm(s);
      if (!p) throw new XenstoreError('EPROTO', `GET_PERMS ${path}: bad perm ${JSON.stringify(s)}`);
      return p;
    });
  }

  /** `perms[0]` is the owner and the default for unlisted domains. */
  async setPerms(path: string, perms: readonly Perm[]): Promise<void> {
    if (!perms.length) throw new XenstoreError('EINVAL', `SET_PERMS ${path}: no perms`);
    await this.req(XsType.SET_PERMS, nulStrings(path, ...perms.map(formatPerm)), `SET_PERMS ${path}`);
  }
}

export class XenstoreTransaction extends XenstoreOps {
  constructor(conn: XsConnection, txId: number) {
    super(conn, txId);
  }
}

/**
 * The asynchronous transport and the req_id/watch bookkeeping, shared by a client and its
 * transactions.
 */
export class StreamConnection implements XsConnection {
  readonly mode = 'async' as const;
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  readonly subscribers = new Map<string, Subscriber>();
  private nextReqId = 1;
  private outQueue: Buffer[] = [];
  private flushQueued = false;
  private closedError?: XenstoreError;
  private sweep?: NodeJS.Timeout;

  constructor(
    private readonly stream: Duplex,
    private readonly timeoutMs: number,
  ) {
    if (stream instanceof DeviceStream) stream.demand = () => !this.closedError && (this.pending.size > 0 || this.subscribers.size > 0);
    // A socket from connectSocket delivers through the sink, any other stream through 'data'.
    if (stream instanceof net.Socket) (stream as SinkSocket)[SINK] = (chunk) => this.onData(chunk);
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (e: NodeJS.ErrnoException) => this.fail(new XenstoreError('ECONNRESET', `xenstore connection failed: ${e.code ?? e.message}`)));
    stream.on('close', () => this.fail(new XenstoreError('ECONNRESET', 'xenstore connection closed')));
    stream.on('end', () => this.fail(new XenstoreError('ECONNRESET', 'xenstore connection closed by the daemon')));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  request(type: number, txId: number, payload: Buffer | string, op: string): Promise<XsMessage> {
    if (this.closedError) return Promise.reject(new XenstoreError(this.closedError.code, `${op}: ${this.closedError.message}`, op));
    // Encoded first (req_id filled in below), so that a string payload is measured in bytes once.
    const frame = encodeMessage(type, 0, txId, payload);
    if (frame.length - HEADER_SIZE > PAYLOAD_MAX) {
      return Promise.reject(new XenstoreError('E2BIG', `${op}: request of ${frame.length - HEADER_SIZE} bytes exceeds ${PAYLOAD_MAX}`, op));
    }
    let id = this.nextReqId;
    while (id === 0 || this.pending.has(id)) id = (id + 1) >>> 0;
    this.nextReqId = (id + 1) >>> 0;
    return new Promise<XsMessage>((resolve, reject) => {
      const deadline = this.timeoutMs > 0 ? Date.now() + this.timeoutMs : 0;
      this.pending.set(id, { resolve, reject, op, deadline });
      if (deadline) this.armSweep();
      frame.writeUInt32LE(id, 4);
      this.enqueue(frame);
      if (this.stream instanceof DeviceStream) this.stream.pump();
    });
  }

  /**
   * Timeouts are enforced by one sweep timer rather than a timer per request, so a request
   * arms nothing of its own. A request therefore fails between 1 and 1.25 x timeoutMs late.
   */
  private armSweep(): void {
    if (this.sweep) return;
    const every = Math.max(1, Math.ceil(this.timeoutMs / 4));
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [id, p] of this.pending) {
        if (!p.deadline || p.deadline > now) continue;
        // The id stays reserved: a late reply must not be taken for another request's.
        this.pending.set(id, { resolve: () => this.pending.delete(id), reject: () => undefined, op: p.op, deadline: 0 });
        p.reject(new XenstoreError('ETIMEDOUT', `${p.op}: no reply from xenstored within ${this.timeoutMs} ms`, p.op));
      }
      if (![...this.pending.values()].some((p) => p.deadline)) this.stopSweep();
    }, every);
    // An idle client must not keep the process alive.
    this.sweep.unref();
  }

  private stopSweep(): void {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
  }

  private enqueue(frame: Buffer): void {
    this.outQueue.push(frame);
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const q = this.outQueue;
      this.outQueue = [];
      if (!this.closedError && q.length) this.stream.write(q.length === 1 ? q[0]! : Buffer.concat(q));
    });
  }

  private onData(chunk: Buffer): void {
    let msgs: XsMessage[];
    try {
      msgs = this.reader.push(chunk);
    } catch (e) {
      if (e instanceof FrameTooLargeError) {
        this.fail(new XenstoreError('EPROTO', `xenstored sent a ${e.len}-byte frame`));
        this.stream.destroy();
        return;
      }
      throw e;
    }
    for (const m of msgs) {
      if (m.type === XsType.WATCH_EVENT) {
        this.onEvent(m);
        continue;
      }
      const p = this.pending.get(m.reqId);
      if (!p) continue; // a reply to nothing we asked: ignore, as libxenstore would
      this.pending.delete(m.reqId);
      if (m.type === XsType.ERROR) {
        const name = splitStrings(m.payload).strings[0] ?? 'EINVAL';
        p.reject(new XenstoreError(name, `${p.op}: ${name}`, p.op));
      } else p.resolve(m);
    }
  }

  private onEvent(m: XsMessage): void {
    const { strings } = splitStrings(m.payload);
    if (strings.length < 2) return;
    const [path, token] = strings as [string, string];
    const s = this.subscribers.get(token);
    if (!s || s.done) return;
    s.queue.push({ path, token });
    s.wake?.();
  }

  private fail(err: XenstoreError): void {
    if (this.closedError) return;
    this.closedError = err;
    this.stopSweep();
    for (const [, p] of this.pending) {
      p.reject(new XenstoreError(err.code, `${p.op}: ${err.message}`, p.op));
    }
    this.pending.clear();
    for (const s of this.subscribers.values()) {
      s.error = err;
      s.wake?.();
    }
  }

  close(): void {
    this.fail(new XenstoreError('ECONNRESET', 'xenstore client closed'));
    if (!this.stream.destroyed) this.stream.end(() => this.stream.destroy());
  }
}

let tokenSeq = 0;

export class XenstoreClient extends XenstoreOps {
  /** Over a byte stream (async mode), or a blocking connection made by openXenstore. */
  constructor(stream: Duplex | BlockingConnection, opts: ClientOptions = {}) {
    super(stream instanceof BlockingConnection ? stream : new StreamConnection(stream, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), 0);
  }

  get mode(): XenstoreMode {
    return this.conn.mode;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.conn.inFlight;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  /** Idempotent. Outstanding requests fail with ECONNRESET. */
  close(): void {
    this.conn.close();
  }

  async transactionStart(): Promise<XenstoreTransaction> {
    const m = await this.req(XsType.TRANSACTION_START, nulStrings(''), 'TRANSACTION_START');
    const id = Number(splitStrings(m.payload).strings[0]);
    if (!Number.isInteger(id) || id <= 0) throw new XenstoreError('EPROTO', 'TRANSACTION_START: bad transaction id');
    return new XenstoreTransaction(this.conn, id);
  }

  /** Commits (true) or aborts; a conflicting commit rejects with code EAGAIN. */
  async transactionEnd(tx: XenstoreTransaction, commit: boolean): Promise<void> {
    await this.conn.request(XsType.TRANSACTION_END, tx.txId, nulStrings(commit ? 'T' : 'F'), 'TRANSACTION_END');
  }

  /**
   * Runs `body` in a transaction and commits. On EAGAIN the whole body runs again from a new
   * TRANSACTION_START (re-reading everything), up to `retries` times: that is the only
   * correct response to a 4.17 conflict. If the body throws, the transaction is aborted.
   */
  async transaction<T>(body: (tx: XenstoreTransaction) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const retries = opts.retries ?? 16;
    for (let attempt = 0; ; attempt++) {
      const tx = await this.transactionStart();
      let result: T;
      try {
        result = await body(tx);
      } catch (e) {
        await this.transactionEnd(tx, false).catch(() => undefined);
        throw e;
      }
      try {
        await this.transactionEnd(tx, true);
        return result;
      } catch (e) {
        if (!(e instanceof XenstoreError) || e.code !== 'EAGAIN' || attempt >= retries) throw e;
      }
    }
  }

  /**
   * Watches `path` (or a special `@introduceDomain`/`@releaseDomain`). The WATCH request is
   * sent at once; iterate to receive events, starting with the immediate one xenstored fires
   * on registration. Leaving the loop (break/return/throw) sends UNWATCH. A rejected WATCH
   * surfaces as the error of the first `next()`.
   */
  watch(path: string, token?: string): AsyncIterableIterator<WatchEvent> & { ready: Promise<void>; close(): Promise<void> } {
    const tok = token ?? `xentool-${process.pid}-${++tokenSeq}`;
    const subs = this.conn.subscribers;
    const sub: Subscriber = { path, queue: [], done: false };
    let ready: Promise<void>;
    if (this.conn.mode === 'blocking') {
      ready = Promise.reject(
        new XenstoreError('ENOTSUP', `WATCH ${path}: watches need an async-mode client (this one was opened with mode 'blocking')`, `WATCH ${path}`),
      );
    } else if (subs.has(tok)) {
      ready = Promise.reject(new XenstoreError('EEXIST', `watch token ${tok} already in use on this connection`));
    } else {
      subs.set(tok, sub);
      ready = this.req(XsType.WATCH, nulStrings(path, tok), `WATCH ${path}`).then(
        () => undefined,
        (e: Error) => {
          subs.delete(tok);
          throw e;
        },
      );
    }
    ready.catch(() => undefined);
    const finish = async (): Promise<void> => {
      if (sub.done) return;
      sub.done = true;
      sub.wake?.();
      if (subs.get(tok) !== sub) return;
      subs.delete(tok);
      const ok = await ready.then(() => true, () => false);
      if (ok && !this.conn.closed) await this.req(XsType.UNWATCH, nulStrings(path, tok), `UNWATCH ${path}`).catch(() => undefined);
    };
    const it = {
      ready,
      close: finish,
      [Symbol.asyncIterator]() {
        return it;
      },
      async next(): Promise<IteratorResult<WatchEvent>> {
        await ready;
        for (;;) {
          if (sub.queue.length) return { value: sub.queue.shift()!, done: false };
          if (sub.done) return { value: undefined, done: true };
          if (sub.error) throw sub.error;
          // Several next() calls may wait at once; each wake-up releases them all to re-check.
          await new Promise<void>((r) => {
            const prev = sub.wake;
            sub.wake = () => {
              sub.wake = undefined;
              prev?.();
              r();
            };
          });
        }
      },
      async return(): Promise<IteratorResult<WatchEvent>> {
        await finish();
        return { value: undefined, done: true };
      },
    };
    return it;
  }

  async unwatch(path: string, token: string): Promise<void> {
    this.conn.subscribers.delete(token);
    await this.req(XsType.UNWATCH, nulStrings(path, token), `UNWATCH ${path}`);
  }

  async resetWatches(): Promise<void> {
    await this.req(XsType.RESET_WATCHES, nulStrings(''), 'RESET_WATCHES');
    this.conn.subscribers.clear();
  }

  async introduceDomain(domid: number, gfn: number | bigint | string, evtchn: number): Promise<void> {
    await this.req(XsType.INTRODUCE, nulStrings(String(domid), String(gfn), String(evtchn)), `INTRODUCE ${domid}`);
  }

  async releaseDomain(domid: number): Promise<void> {
    await this.req(XsType.RELEASE, nulStrings(String(domid)), `RELEASE ${domid}`);
  }

  async resumeDomain(domid: number): Promise<void> {
    await this.req(XsType.RESUME, nulStrings(String(domid)), `RESUME ${domid}`);
  }

  async isDomainIntroduced(domid: number): Promise<boolean> {
    const m = await this.req(XsType.IS_DOMAIN_INTRODUCED, nulStrings(String(domid)), `IS_DOMAIN_INTRODUCED ${domid}`);
    return splitStrings(m.payload).strings[0] === 'T';
  }

  async getDomainPath(domid: number): Promise<string> {
    const m = await this.req(XsType.GET_DOMAIN_PATH, nulStrings(String(domid)), `GET_DOMAIN_PATH ${domid}`);
    return splitStrings(m.payload).strings[0] ?? '';
  }

  /** Lets `domid` (a device-model stub domain) act with `target`'s rights. */
  async setTarget(domid: number, target: number): Promise<void> {
    await this.req(XsType.SET_TARGET, nulStrings(String(domid), String(target)), `SET_TARGET ${domid} ${target}`);
  }

  /** A raw request, for tools and tests that need a message type this class has no method for. */
  async rawRequest(type: number, payload: Buffer, txId = 0): Promise<Buffer> {
    return (await this.conn.request(type, txId, payload, `type ${type}`)).payload;
  }
}
