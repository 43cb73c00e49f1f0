import { pciInsParameter } from './qemu-trad';

describe('pciInsParameter (what qemu-dm reads for pci-ins)', () => {
  const b = { domain: 0, bus: 3, dev: 0x1f, func: 2 };
  it('carries the devfn as @%02x only when one is asked for, then the options as libxl writes them', () => {
    expect(pciInsParameter(b, 0x30, true, false)).toBe('0000:03:1f.2@30,msitranslate=1,power_mgmt=0');
    expect(pciInsParameter(b, 0x09, false, true)).toBe('0000:03:1f.2@09,msitranslate=0,power_mgmt=1');
    expect(pciInsParameter(b, undefined, false, false)).toBe('0000:03:1f.2,msitranslate=0,power_mgmt=0');
  });
  it('leaves a zero devfn to qemu-dm, as libxl does (it tests pci->vdevfn for nonzero)', () => {
    expect(pciInsParameter(b, 0, true, true)).toBe('0000:03:1f.2,msitranslate=1,power_mgmt=1');
  });
});
