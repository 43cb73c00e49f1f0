import { decodeSbdf, encodeSbdf, formatBdf, parseBdf } from './sbdf';

describe('machine_sbdf', () => {
  it('encodes as libxl pci_encode_bdf does', () => {
    expect(encodeSbdf(parseBdf('0000:03:00.1'))).toBe(0x301);
    expect(encodeSbdf(parseBdf('ffff:ff:1f.7'))).toBe(0xffffffff);
    expect(encodeSbdf({ segment: 1, bus: 0x81, device: 0x1c, function: 4 })).toBe(0x000181e4);
  });

  it('accepts the domain-less form as segment 0 and round-trips', () => {
    expect(parseBdf('03:00.1')).toEqual({ segment: 0, bus: 3, device: 0, function: 1 });
    expect(formatBdf(decodeSbdf(0x000181e4))).toBe('0001:81:1c.4');
  });

  it('refuses out-of-range parts instead of masking them into another device', () => {
    expect(() => encodeSbdf({ segment: 0, bus: 0, device: 0x20, function: 0 })).toThrow(/device must be/);
    expect(() => encodeSbdf({ segment: 0, bus: 256, device: 0, function: 0 })).toThrow(/bus must be/);
    expect(() => encodeSbdf({ segment: 0x10000, bus: 0, device: 0, function: 0 })).toThrow(/segment must be/);
    expect(() => parseBdf('0000:03:00.8')).toThrow(/not a PCI address/);
    expect(() => parseBdf('0000:03:20.0')).toThrow(/device must be/);
  });
});
