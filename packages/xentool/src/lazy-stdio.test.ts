import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { write } from './context';
import { lazyStdio, type StdioStream } from './lazy-stdio';

/** A stand-in for process.stdout that records what reaches it, and in which order. */
function fakeStream(log: string[]): StdioStream {
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      log.push(`stream:${chunk.toString('utf8')}`);
      cb();
    },
  }) as StdioStream;
  s.isTTY = true;
  return s;
}

/**
 * What a call of fs.writeSync was asked to write: (fd, string, position, encoding) or (fd,
 * bytes, offset, length).
 */
function asked(data: string | Uint8Array, offset?: number | null, lengthOrEncoding?: number | BufferEncoding | null): Buffer {
  if (typeof data === 'string') return Buffer.from(data, (lengthOrEncoding as BufferEncoding | undefined) ?? 'utf8');
  const off = offset ?? 0;
  return Buffer.from(data).subarray(off, off + ((lengthOrEncoding as number | undefined) ?? data.length - off));
}

type FakeWrite = (fd: number, data: string | Uint8Array, offset?: number | null, lengthOrEncoding?: number | BufferEncoding | null) => number;
const asWriteSync = (f: FakeWrite): typeof writeSync => f as unknown as typeof writeSync;

function eagain(): Error {
  return Object.assign(new Error('EAGAIN: resource temporarily unavailable, write'), { code: 'EAGAIN', errno: -11, syscall: 'write' });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-lazy-stdio-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('writes strings and bytes to the descriptor without creating the stream', async () => {
  const file = path.join(dir, 'out');
  const fd = openSync(file, 'w');
  let created = 0;
  const out = lazyStdio(fd, () => {
    created++;
    return fakeStream([]);
  });
  try {
    await write(out, 'Vdev Device\n');
    await write(out, '00.0 0000:01:00.0\n');
    out.write(Buffer.from('caf\u00e9\n', 'utf8'));
    await new Promise<void>((resolve) => out.write('\u00e9\n', 'latin1', () => resolve()));
  } finally {
    closeSync(fd);
  }
  expect(readFileSync(file)).toEqual(Buffer.concat([Buffer.from('Vdev Device\n00.0 0000:01:00.0\ncaf\u00e9\n', 'utf8'), Buffer.from('\u00e9\n', 'latin1')]));
  expect(created).toBe(0);
});

it('calls back after write() has returned, as a stream does', () => {
  const order: string[] = [];
  const out = lazyStdio(1, () => fakeStream([]), asWriteSync((_fd, data, off, len) => asked(data, off, len).length));
  const p = new Promise<void>((resolve) =>
    out.write('abc', () => {
      order.push('callback');
      resolve();
    }),
  );
  order.push('returned');
  return p.then(() => expect(order).toEqual(['returned', 'callback']));
});

it('gives the stream what the descriptor did not take (EAGAIN on a full pipe), and every later write', async () => {
  const log: string[] = [];
  let calls = 0;
  // Takes 4 bytes, then refuses: a non-blocking pipe that filled up part-way.
  const writeFd = asWriteSync((_fd, data, off, len) => {
    calls++;
    if (calls === 1) {
      const bytes = asked(data, off, len).subarray(0, 4);
      log.push(`fd:${bytes.toString()}`);
      return bytes.length;
    }
    throw eagain();
  });
  const out = lazyStdio(1, () => fakeStream(log), writeFd);
  await write(out, 'one two\n');
  await write(out, 'three\n');
  expect(log).toEqual(['fd:one ', 'stream:two\n', 'stream:three\n']);
  expect(calls).toBe(2);
});

it('leaves errors other than EAGAIN (EPIPE...) to the stream, which reports them as before', async () => {
  const failing = new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  failing.on('error', () => undefined);
  const writeFd = asWriteSync(() => {
    throw Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' });
  });
  const out = lazyStdio(1, () => failing, writeFd);
  await expect(write(out, 'x\n')).rejects.toThrow('write EPIPE');
});

it('creates the stream for anything but write and isTTY, and then writes through it in order', async () => {
  const log: string[] = [];
  const fdWrites: string[] = [];
  const writeFd = asWriteSync((_fd, data, off, len) => {
    const bytes = asked(data, off, len);
    fdWrites.push(bytes.toString());
    return bytes.length;
  });
  let created = 0;
  const out = lazyStdio(1, () => {
    created++;
    return fakeStream(log);
  }, writeFd);
  await write(out, 'before\n');
  expect(created).toBe(0);
  const onDrain = (): void => undefined;
  out.on('drain', onDrain);
  expect(created).toBe(1);
  expect(out.listenerCount('drain')).toBe(1);
  expect(out instanceof Writable).toBe(true);
  expect(out.isTTY).toBe(true);
  await write(out, 'after\n');
  expect(fdWrites).toEqual(['before\n']);
  expect(log).toEqual(['stream:after\n']);
  expect(created).toBe(1);
});

it('answers isTTY from the descriptor: a file is not a terminal', () => {
  const fd = openSync(path.join(dir, 'f'), 'w');
  try {
    let created = 0;
    const out = lazyStdio(fd, () => {
      created++;
      return fakeStream([]);
    });
    expect(out.isTTY).toBeUndefined();
    expect(created).toBe(0);
  } finally {
    closeSync(fd);
  }
});

it('sends the rest of a string the descriptor took only part of, from the right byte', async () => {
  const got: Buffer[] = [];
  // At most 4 bytes per call: 'café\n' is 6 bytes, its é split across two calls.
  const writeFd = asWriteSync((_fd, data, off, len) => {
    const bytes = asked(data, off, len).subarray(0, 4);
    got.push(bytes);
    return bytes.length;
  });
  const out = lazyStdio(1, () => fakeStream([]), writeFd);
  await write(out, 'caf\u00e9\n');
  expect(Buffer.concat(got).toString('utf8')).toBe('caf\u00e9\n');
  expect(got.length).toBe(2);
});
