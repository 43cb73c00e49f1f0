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
  const out = lazyStdio(1, () => fakeStream([]), (() => 3) as unknown as typeof writeSync);
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
  const writeFd = ((_fd: number, buf: Uint8Array, off: number, len: number) => {
    calls++;
    if (calls === 1) {
      log.push(`fd:${Buffer.from(buf).subarray(off, off + 4).toString()}`);
      return Math.min(4, len);
    }
    throw eagain();
  }) as unknown as typeof writeSync;
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
  const writeFd = (() => {
    throw Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' });
  }) as unknown as typeof writeSync;
  const out = lazyStdio(1, () => failing, writeFd);
  await expect(write(out, 'x\n')).rejects.toThrow('write EPIPE');
});

it('creates the stream for anything but write and isTTY, and then writes through it in order', async () => {
  const log: string[] = [];
  const fdWrites: string[] = [];
  const writeFd = ((_fd: number, buf: Uint8Array, off: number, len: number) => {
    fdWrites.push(Buffer.from(buf).subarray(off, off + len).toString());
    return len;
  }) as unknown as typeof writeSync;
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
