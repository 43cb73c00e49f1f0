/**
 * process.stdout / process.stderr for a CommandContext, without creating them at start-up.
 *
 * Why: the first read of `process.stdout` makes Node build the stream, which loads node:net or
 * the fs write stream and the whole stream machinery (duplex, operators, abort controller...):
 * about 4-5 ms of `xentool --sim pci-list`'s own ~30 ms on the test machine (bench/cli-startup,
 * node --cpu-prof), for a command that writes two short lines.
 *
 * What it does: `write` hands the bytes to the file descriptor with fs.writeSync, which is what
 * Node's stdout does anyway on Linux for files, TTYs and pipes (synchronous writes; see the
 * "A note on process I/O" section of Node's process documentation). If the descriptor refuses
 * (EAGAIN: a non-blocking pipe that is full; EPIPE; anything else), the real stream is created
 * and given the bytes not yet written, and from then on every write goes through it: it waits
 * for a full pipe and reports errors exactly as before. `isTTY` asks the descriptor
 * (node:tty's isatty, loaded then). Any other property (`on`, `columns`, `end`...) is read from
 * the real stream, created at that moment; after that, writes go through the stream too, so
 * their order with whatever the caller does on the stream is kept.
 */
import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

export type StdioStream = Writable & { isTTY?: boolean };

type WriteCallback = (err?: Error | null) => void;

/**
 * A stand-in for the process stream on `fd` (1 or 2); `real` returns that stream (process.stdout
 * or process.stderr), and is called only when something needs more than `write` and `isTTY`.
 * `writeFd` is fs.writeSync; tests pass a stand-in to make the descriptor refuse.
 */
export function lazyStdio(fd: number, real: () => StdioStream, writeFd: typeof writeSync = writeSync): StdioStream {
  let stream: StdioStream | undefined;
  const theStream = (): StdioStream => (stream ??= real());

  function write(chunk: string | Uint8Array, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    if (stream) return encoding === undefined ? stream.write(chunk, cb) : stream.write(chunk, encoding, cb);
    let bytes: Uint8Array | undefined = typeof chunk === 'string' ? undefined : chunk;
    let done = 0;
    try {
      if (typeof chunk === 'string') {
        // A string goes to the descriptor as it is (no Buffer made for it); only a short write,
        // which leaves the rest to send from a byte offset, needs its bytes.
        const enc = encoding ?? 'utf8';
        done = writeFd(fd, chunk, null, enc);
        if (done < Buffer.byteLength(chunk, enc)) bytes = Buffer.from(chunk, enc);
      }
      while (bytes && done < bytes.length) done += writeFd(fd, bytes, done, bytes.length - done);
    } catch {
      // The stream takes the rest (it waits on a full non-blocking pipe, and reports EPIPE and
      // other errors as it always did); every later write goes through it, after these bytes.
      bytes ??= Buffer.from(chunk as string, (encoding as BufferEncoding | undefined) ?? 'utf8');
      return theStream().write(bytes.subarray(done), cb);
    }
    // A stream calls back asynchronously, after write() has returned; so does this. A promise
    // job rather than process.nextTick, whose queue machinery a short command otherwise never
    // loads (~0.5 ms of compiling at start-up).
    if (cb) void Promise.resolve(null).then(cb);
    return true;
  }

  return new Proxy({} as StdioStream, {
    get(_target, prop) {
      if (prop === 'write') return write;
      if (prop === 'isTTY') {
        if (stream) return stream.isTTY;
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return (require('node:tty') as typeof import('node:tty')).isatty(fd) || undefined;
      }
      const s = theStream();
      const v: unknown = Reflect.get(s, prop, s);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(s) : v;
    },
    set(_target, prop, value) {
      return Reflect.set(theStream(), prop, value);
    },
    has(_target, prop) {
      return prop === 'write' || prop === 'isTTY' || Reflect.has(theStream(), prop);
    },
    getPrototypeOf() {
      return Reflect.getPrototypeOf(theStream());
    },
  });
}
