import { XentoolError } from '../errors';
import { parseHideLine } from './parse-hide-line';

describe('parseHideLine (xen-pciback hide=)', () => {
  it('reads both parameter names out of a whole kernel command line', () => {
    const r = parseHideLine('BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro xen-pciback.hide=(01:00.0)(0000:03:00.1) quiet pciback.hide=(04:00.*)');
    expect(r.params).toEqual(['xen-pciback.hide', 'pciback.hide']);
    expect(r.entries.map((e) => e.bdf)).toEqual(['0000:01:00.0', '0000:03:00.1', '0000:04:00.*']);
    expect(r.entries[2]).toMatchObject({ bus: 4, dev: 0, func: null });
  });

  it('takes a bare value, wildcards and white space as the kernel does', () => {
    const r = parseHideLine(' (0001:02:*.*) ( 03:1f.7)');
    expect(r.entries).toEqual([
      { domain: 1, bus: 2, dev: null, func: null, bdf: '0001:02:*.*' },
      { domain: 0, bus: 3, dev: 0x1f, func: 7, bdf: '0000:03:1f.7' },
    ]);
  });

  it('refuses malformed values with the kernel\'s message, exit 2', () => {
    for (const bad of ['pciback.hide=(01:00.0', 'pciback.hide=01:00.0', 'pciback.hide=(01:20.0)', 'pciback.hide=(01:00.8)', 'root=/dev/sda']) {
      let err: unknown;
      try {
        parseHideLine(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(XentoolError);
      expect((err as XentoolError).exitCode).toBe(2);
    }
    // The kernel's format is " (%x:%x.%x) %n": no space is allowed before ')'.
    expect(() => parseHideLine('pciback.hide="(01:00.0 )"')).toThrow(/expected '\)'/);
    expect(() => parseHideLine('xen-pciback.hide=(01:00.0)x')).toThrow('Error parsing pci_devs_to_hide at "x": expected \'(\'');
  });
});
