import { formatXlAssignableList, formatXlPciList, formatXmAssignableList, formatXmPciList } from './format-pci-list';
import type { AttachedPci } from './types';

function dev(index: number, bus: number, dev: number, func: number, vdevfn: number | undefined, recorded = vdevfn ?? 0): AttachedPci {
  return { index, domain: 0, bus, dev, func, vdevfn, recordedVdevfn: recorded, opts: {} };
}

describe('xl pci-list', () => {
  it('prints the reference row for an HVM device in slot 5', () => {
    expect(formatXlPciList([dev(0, 3, 0, 0, 0x28)])).toBe('Vdev Device\n05.0 0000:03:00.0\n');
  });
  it('shows 00.0 for a PV device whose slot pciback chose (no vdevfn-N recorded)', () => {
    expect(formatXlPciList([dev(0, 1, 0, 0, 0, 0)])).toBe('Vdev Device\n00.0 0000:01:00.0\n');
  });
  it('prints nothing, not even the header, for no devices', () => {
    expect(formatXlPciList([])).toBe('');
  });
  it('keeps backend index order', () => {
    const out = formatXlPciList([dev(1, 1, 0, 0, 0x38), dev(0, 3, 0, 0, 0x30)]);
    expect(out).toBe('Vdev Device\n06.0 0000:03:00.0\n07.0 0000:01:00.0\n');
  });
});

describe('xl pci-assignable-list', () => {
  it('ends every line with a space, names only with -n', () => {
    const devs = [
      { domain: 0, bus: 3, dev: 0, func: 0, name: 'gpu0' },
      { domain: 0, bus: 4, dev: 0, func: 1 },
    ];
    expect(formatXlAssignableList(devs, false)).toBe('0000:03:00.0 \n0000:04:00.1 \n');
    expect(formatXlAssignableList(devs, true)).toBe('0000:03:00.0 gpu0\n0000:04:00.1 \n');
  });
  it('xm 3.3 prints a co-assignment group per line; 4.x one BDF per line', () => {
    const groups = [[{ domain: 0, bus: 2, dev: 0, func: 0 }], [{ domain: 0, bus: 5, dev: 1, func: 0 }, { domain: 0, bus: 5, dev: 2, func: 0 }]];
    expect(formatXmAssignableList(groups, '3.3')).toBe('0000:02:00.0\n0000:05:01.0 0000:05:02.0\n');
    expect(formatXmAssignableList(groups, '4.1')).toBe('0000:02:00.0\n0000:05:01.0\n0000:05:02.0\n');
  });
});

describe('xm pci-list', () => {
  it('reproduces the seed document byte for byte (Xen 3.3 layout, trailing spaces)', () => {
    // Seed: device 0:2:0.0 inserted in the HVM domain's virtual slot 6.
    expect(formatXmPciList([dev(0, 2, 0, 0, 6 << 3)], '3.3')).toBe('VSlt domain   bus   slot   func\n0x6    0x0  0x02   0x00    0x0    \n');
  });
  it('drops the VSlt column in 3.3 when the first device has no known slot', () => {
    expect(formatXmPciList([dev(0, 2, 0, 0, undefined)], '3.3')).toBe('domain   bus   slot   func\n0x0  0x02   0x00    0x0    \n');
  });
  it('4.0 layout with known and unknown slots, sorted by slot then BDF', () => {
    const out = formatXmPciList([dev(0, 3, 0, 0, undefined), dev(1, 2, 0, 0, 0x30)], '4.0');
    expect(out).toBe('VSlt VFn domain bus  slot func\n0x06 0x0 0x0000 0x02 0x00 0x0\n-    -   0x0000 0x03 0x00 0x0\n');
  });
  it('4.0 drops the slot columns when no slot is known', () => {
    expect(formatXmPciList([dev(0, 3, 0, 0, undefined)], '4.0')).toBe('domain bus  slot func\n0x0000 0x03 0x00 0x0\n');
  });
  it('4.1 layout: Vdev Device, - for unknown', () => {
    const out = formatXmPciList([dev(0, 3, 0, 0, undefined), dev(1, 2, 0, 0, 0x30)], '4.1');
    expect(out).toBe('Vdev Device\n06.0 0000:02:00.0\n-    0000:03:00.0\n');
    expect(formatXmPciList([dev(0, 3, 0, 0, undefined)], '4.1')).toBe('Device\n0000:03:00.0\n');
  });
  it('prints nothing for a domain without devices in every layout', () => {
    for (const f of ['3.3', '4.0', '4.1'] as const) expect(formatXmPciList([], f)).toBe('');
  });
});
