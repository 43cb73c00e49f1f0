import * as fc from 'fast-check';
import { encodeMessage, FrameReader, FrameTooLargeError, nulStrings, splitStrings, XsType } from './wire';

describe('wire format', () => {
  test('the header is four little-endian u32s, as xenstore-write sends it (xen-interfaces §3.9)', () => {
    const path = '/local/domain/0/backend/pci/5/0/num_devs';
    const frame = encodeMessage(XsType.WRITE, 0, 0, Buffer.concat([nulStrings(path), Buffer.from('1')]));
    expect(frame.subarray(0, 16).toString('hex')).toBe('0b000000' + '00000000' + '00000000' + '2a000000');
    expect(frame.length).toBe(16 + 42);
  });

  test('splitStrings ignores bytes after the last NUL and counts NULs', () => {
    expect(splitStrings(Buffer.from('a\0b\0tail'))).toEqual({ strings: ['a', 'b'], count: 2 });
    expect(splitStrings(Buffer.alloc(0))).toEqual({ strings: [], count: 0 });
    expect(splitStrings(Buffer.from('\0\0'))).toEqual({ strings: ['', ''], count: 2 });
  });

  test('FrameReader reassembles frames split at any byte boundary', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(22), fc.nat(), fc.nat(), fc.uint8Array({ maxLength: 300 })), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(400), { maxLength: 10 }),
        (msgs, cuts) => {
          const frames = msgs.map(([t, r, x, p]) => encodeMessage(t, r, x, Buffer.from(p)));
          const all = Buffer.concat(frames);
          const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
          const reader = new FrameReader();
          const got: { type: number; reqId: number; txId: number; payload: number[] }[] = [];
          let prev = 0;
          for (const p of [...points, all.length]) {
            for (const m of reader.push(all.subarray(prev, p))) got.push({ type: m.type, reqId: m.reqId, txId: m.txId, payload: [...m.payload] });
            prev = p;
          }
          expect(got).toEqual(msgs.map(([t, r, x, p]) => ({ type: t, reqId: r >>> 0, txId: x >>> 0, payload: [...p] })));
          expect(reader.pending).toBe(0);
        },
      ),
    );
  });

  test('a header announcing more than 4096 bytes is refused before any payload arrives', () => {
    const reader = new FrameReader();
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(4097, 12);
    expect(() => reader.push(hdr)).toThrow(FrameTooLargeError);
    const ok = new FrameReader();
    hdr.writeUInt32LE(4096, 12);
    expect(ok.push(hdr)).toEqual([]);
    expect(ok.pending).toBe(16);
  });
});
