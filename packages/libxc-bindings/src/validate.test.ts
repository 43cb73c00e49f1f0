import { DOMID_INVALID, DOMID_IO } from './constants';
import { domid, framesForRange, frameRange } from './validate';

describe('framesForRange', () => {
  it('covers a page-aligned BAR exactly', () => {
    expect(framesForRange(0xf0000000n, 0xf0ffffffn)).toEqual({ firstMfn: 0xf0000n, nrMfns: 0x1000n });
  });

  it('counts both pages of a sub-page BAR that straddles a page boundary', () => {
    // 0x100 bytes at 0x...ff80: libxl's (size + 4095) >> 12 gives 1 frame; it touches 2.
    expect(framesForRange(0xfebfff80n, 0xfec0007fn)).toEqual({ firstMfn: 0xfebffn, nrMfns: 2n });
  });

  it('stays exact above 2^53 (64-bit BARs high in the address space)', () => {
    const start = 0x3ffff_ffff_f000_000n;
    expect(framesForRange(start, start + 0x1fffn)).toEqual({ firstMfn: start >> 12n, nrMfns: 2n });
  });

  it('refuses inverted ranges and unsafe doubles', () => {
    expect(() => framesForRange(0x2000n, 0x1000n)).toThrow(/below start/);
    expect(() => frameRange(2 ** 60, 1)).toThrow(/safe integer/);
    expect(() => frameRange((1n << 64n) - 1n, 2n)).toThrow(/wraps/);
    expect(() => frameRange(0n, 0n)).toThrow(/at least 1/);
    expect(frameRange(5, 1)).toEqual({ firstMfn: 5n, nrMfns: 1n });
  });
});

describe('domid', () => {
  it('accepts real domains and only the special ids a call allows', () => {
    expect(domid(0)).toBe(0);
    expect(domid(0x7fef)).toBe(0x7fef);
    expect(() => domid(0x7ff0)).toThrow(/0\.\.32751/);
    expect(() => domid(DOMID_IO)).toThrow();
    expect(domid(DOMID_IO, { allowIo: true })).toBe(DOMID_IO);
    expect(domid(DOMID_INVALID, { allowInvalid: true })).toBe(DOMID_INVALID);
    expect(() => domid(1.5)).toThrow();
    expect(() => domid(-1)).toThrow();
    expect(() => domid(0x10007)).toThrow();
  });
});
