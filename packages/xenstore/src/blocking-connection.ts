/**
 * The blocking transport: one request is one write(2) and blocking read(2)s on the calling
 * thread until its reply is complete, exactly as libxenstore's xs_talkv() does without a
 * reader thread. Node's event loop stands still meanwhile, which is the point: a sequential
 * round trip then costs two syscalls and no trip through epoll, libuv and the stream machinery.
 *
 * The methods still return promises (already settled when they are returned), so code written
 * for the asynchronous client runs unchanged. What it cannot do: watches (nothing would read the
 * events while the caller waits elsewhere; refused with ENOTSUP), requests in flight at once
 * (each completes before the next is sent), and serving anything else in the same process
 * while a request waits (a client of an in-process XenstoredServer would deadlock).
 */
import * as fs from 'node:fs';
import type { Subscriber, XsConnection } from './connection';
import { XenstoreError } from './errors';
import { waitReadable } from './native-libc';
import type { XsMessage } from './wire';
import { HEADER_SIZE, PAYLOAD_MAX, splitStrings, XsType } from './wire';

export class BlockingConnection implements XsConnection {
  readonly mode = 'blocking' as const;
  readonly subscribers = new Map<string, Subscriber>();
  readonly inFlight = 0;
  private closedError?: XenstoreError;
  private nextReqId = 1;
  /** Room for one whole frame beyond a partial one. */
  private readonly rbuf = Buffer.allocUnsafe(2 * (HEADER_SIZE + PAYLOAD_MAX));
  /** Every request is encoded here: nothing is allocated per request for it. */
  private readonly wbuf = Buffer.allocUnsafe(HEADER_SIZE + PAYLOAD_MAX);
  private have = 0;

  /**
   * @param fd a blocking fd: a connected unix socket (whose SO_RCVTIMEO/SO_SNDTIMEO carry the
   *   timeout) or the xenbus device (where poll() does, before each read).
   */
  constructor(
    private readonly fd: number,
    private readonly timeoutMs: number,
    private readonly isSocket: boolean,
  ) {}

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  request(type: number, txId: number, payload: Buffer | string, op: string): Promise<XsMessage> {
    if (this.closedError) return Promise.reject(new XenstoreError(this.closedError.code, `${op}: ${this.closedError.message}`, op));
    try {
      return Promise.resolve(this.roundTrip(type, txId, payload, op));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private roundTrip(type: number, txId: number, payload: Buffer | string, op: string): XsMessage {
    const id = this.nextReqId;
    const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
    if (len > PAYLOAD_MAX) throw new XenstoreError('E2BIG', `${op}: request of ${len} bytes exceeds ${PAYLOAD_MAX}`, op);
    // req_id 0 is what libxenstore sends; ours never is, so nothing else can be taken for ours.
    this.nextReqId = id >= 0xffffffff ? 1 : id + 1;
    const w = this.wbuf;
    w.writeUInt32LE(type >>> 0, 0);
    w.writeUInt32LE(id, 4);
    w.writeUInt32LE(txId >>> 0, 8);
    w.writeUInt32LE(len, 12);
    if (typeof payload === 'string') w.write(payload, HEADER_SIZE, 'utf8');
    else payload.copy(w, HEADER_SIZE);
    this.writeAll(w, HEADER_SIZE + len, op);
    for (;;) {
      const m = this.readFrame(op);
      // A late reply to a request that timed out (its id is older), or an event for a watch
      // some other code registered through rawRequest: neither is ours.
      if (m.type === XsType.WATCH_EVENT || m.reqId !== id) continue;
      if (m.type === XsType.ERROR) {
        const name = splitStrings(m.payload).strings[0] ?? 'EINVAL';
        throw new XenstoreError(name, `${op}: ${name}`, op);
      }
      return m;
    }
  }

  private writeAll(frame: Buffer, length: number, op: string): void {
    let off = 0;
    while (off < length) {
      try {
        off += fs.writeSync(this.fd, frame, off, length - off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EINTR') continue;
        throw this.ioError(e as NodeJS.ErrnoException, op);
      }
    }
  }

  private readFrame(op: string): XsMessage {
    const buf = this.rbuf;
    for (;;) {
      if (this.have >= HEADER_SIZE) {
        const len = buf.readUInt32LE(12);
        if (len > PAYLOAD_MAX) {
          // The stream cannot be resynchronised after a bad length: drop the connection.
          throw this.fail(new XenstoreError('EPROTO', `xenstored sent a ${len}-byte frame`), op);
        }
        const end = HEADER_SIZE + len;
        if (this.have >= end) {
          // The payload is copied out: the caller may keep it, and rbuf is reused.
          const payload = Buffer.allocUnsafe(len);
          buf.copy(payload, 0, HEADER_SIZE, end);
          const m: XsMessage = { type: buf.readUInt32LE(0), reqId: buf.readUInt32LE(4), txId: buf.readUInt32LE(8), payload };
          if (this.have > end) buf.copy(buf, 0, end, this.have);
          this.have -= end;
          return m;
        }
      }
      // On the device the timeout is a poll() before each read; a socket has SO_RCVTIMEO, so
      // its read() fails with EAGAIN instead (one syscall fewer per reply).
      if (!this.isSocket && this.timeoutMs > 0 && !waitReadable(this.fd, this.timeoutMs)) {
        throw new XenstoreError('ETIMEDOUT', `${op}: no reply from xenstored within ${this.timeoutMs} ms`, op);
      }
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, this.have, buf.length - this.have, null);
      } catch (e) {
        // A signal handled meanwhile (node's own: SIGCHLD, the profiler's SIGPROF, ...). A
        // socket with SO_RCVTIMEO is never restarted by the kernel, whatever SA_RESTART says
        // (signal(7)), so the read is simply issued again; the timeout then starts over.
        if ((e as NodeJS.ErrnoException).code === 'EINTR') continue;
        throw this.ioError(e as NodeJS.ErrnoException, op);
      }
      if (n === 0) throw this.fail(new XenstoreError('ECONNRESET', 'xenstore connection closed by the daemon'), op);
      this.have += n;
    }
  }

  /** EAGAIN is the socket timeout and leaves the connection usable; anything else ends it. */
  private ioError(e: NodeJS.ErrnoException, op: string): XenstoreError {
    if (e.code === 'EAGAIN' || e.code === 'EWOULDBLOCK') {
      return new XenstoreError('ETIMEDOUT', `${op}: no reply from xenstored within ${this.timeoutMs} ms`, op);
    }
    return this.fail(new XenstoreError('ECONNRESET', `xenstore connection failed: ${e.code ?? e.message}`), op);
  }

  /** Marks the connection dead and returns the error for `op`. */
  private fail(err: XenstoreError, op: string): XenstoreError {
    if (!this.closedError) {
      this.closedError = err;
      this.closeFd();
    }
    return new XenstoreError(err.code, `${op}: ${err.message}`, op);
  }

  private fdClosed = false;
  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Already gone: nothing to release.
    }
  }

  close(): void {
    if (!this.closedError) this.closedError = new XenstoreError('ECONNRESET', 'xenstore client closed');
    this.closeFd();
  }
}
