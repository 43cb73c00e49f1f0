/**
 * Two connected in-memory Duplex streams: bytes written to one are read from the other.
 * Node 20 has no `stream.duplexPair` (it arrived in 22.6), and the in-process xenstored must
 * hand simulated guests a byte stream so that they speak the real wire protocol.
 */
import { Duplex } from 'node:stream';

class End extends Duplex {
  peer!: End;
  override _read(): void {
    // Data is pushed by the peer's _write; nothing to pull.
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) return cb();
    this.peer.push(chunk);
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.peer.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // A destroyed end looks to the other side like a peer that hung up.
    if (!this.peer.destroyed) {
      this.peer.push(null);
      this.peer.destroy();
    }
    cb(err);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
