import { DOMID_INVALID, DOMID_IO } from '../hypervisor';
import { SimHypervisor, editRanges, emptyHypervisorState } from './sim-hypervisor';

const SBDF = (0 << 16) | (3 << 8) | (0 << 3) | 0;

function host() {
  const hv = new SimHypervisor(emptyHypervisorState());
  hv.addPciDevice(SBDF);
  hv.createDomain(1, { hvm: false, iommu: true });
  hv.createDomain(2, { hvm: true, iommu: true });
  hv.createDomain(3, { hvm: false, iommu: false });
  return hv;
}

describe('SimHypervisor PCI ownership (Xen 4.17 semantics)', () => {
  it('quarantines, assigns, and returns a device to quarantine on deassign', async () => {
    const hv = host();
    await hv.assignDevice(DOMID_IO, SBDF, 1);
    expect(hv.owner(SBDF)).toBe(DOMID_IO);
    await hv.testAssignDevice(1, SBDF);
    await hv.assignDevice(1, SBDF, 0);
    expect(hv.owner(SBDF)).toBe(1);
    await hv.deassignDevice(1, SBDF);
    expect(hv.owner(SBDF)).toBe(DOMID_IO);
    await hv.deassignDevice(DOMID_IO, SBDF);
    expect(hv.owner(SBDF)).toBe(0);
  });

  it('test_assign naming dom0 is self-assignment (EINVAL) whatever the device; DOMID_INVALID asks without a target', async () => {
    const hv = host();
    await hv.assignDevice(DOMID_IO, SBDF, 1);
    await expect(hv.testAssignDevice(0, SBDF)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(hv.testAssignDevice(DOMID_INVALID, SBDF)).resolves.toBeUndefined();
    await hv.assignDevice(1, SBDF, 0);
    await expect(hv.testAssignDevice(DOMID_INVALID, SBDF)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('refuses a second guest with EBUSY, and test_assign with EINVAL', async () => {
    const hv = host();
    await hv.assignDevice(1, SBDF, 0);
    await expect(hv.assignDevice(2, SBDF, 0)).rejects.toMatchObject({ code: 'EBUSY', errno: 16, syscall: 'xc_assign_device' });
    await expect(hv.testAssignDevice(2, SBDF)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(hv.owner(SBDF)).toBe(1);
  });

  it('refuses every IOMMU operation on a domain created without passthrough (EOPNOTSUPP)', async () => {
    const hv = host();
    await expect(hv.testAssignDevice(3, SBDF)).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    await expect(hv.assignDevice(3, SBDF, 0)).rejects.toMatchObject({ code: 'EOPNOTSUPP' });
    expect(hv.owner(SBDF)).toBe(0);
  });

  it('refuses unknown devices, foreign deassigns and unknown domains', async () => {
    const hv = host();
    await expect(hv.assignDevice(1, 0x0500, 0)).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(hv.deassignDevice(1, SBDF)).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(hv.iomemPermission(9, 1n, 1n, true)).rejects.toMatchObject({ code: 'ESRCH' });
    await expect(hv.assignDevice(1, SBDF, 4)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('tracks permissions exactly, including 64-bit frames, and revokes them', async () => {
    const hv = host();
    const hi = 0x38000000000n >> 12n; // a BAR above 4 GiB (well above 2^32 frames' worth of bytes)
    await hv.iomemPermission(1, hi, 4n, true);
    await hv.iomemPermission(1, 0xfebc0n, 8n, true);
    await hv.ioportPermission(1, 0xc000, 0x40, true);
    await hv.mapPirq(1, 11);
    await hv.irqPermission(1, 11, true);
    const d = hv.domain(1)!;
    expect(d.iomem).toEqual([
      ['1043392', '1043399'],
      [hi.toString(), (hi + 3n).toString()],
    ]);
    expect(d.ioports).toEqual([[0xc000, 0xc03f]]);
    expect(d.irqs).toEqual([11]);
    await hv.iomemPermission(1, hi, 4n, false);
    await hv.iomemPermission(1, 0xfebc0n, 8n, false);
    await hv.ioportPermission(1, 0xc000, 0x40, false);
    await hv.irqPermission(1, 11, false);
    await hv.unmapPirq(1, 11);
    expect(d).toMatchObject({ iomem: [], ioports: [], irqs: [], pirqs: {} });
  });

  it('returns a destroyed domain\'s devices to quarantine', async () => {
    const hv = host();
    await hv.assignDevice(2, SBDF, 0);
    hv.destroyDomain(2);
    expect(hv.owner(SBDF)).toBe(DOMID_IO);
    expect(hv.domain(2)).toBeUndefined();
  });
});

describe('editRanges', () => {
  it('merges adjacent ranges and splits on partial removal', () => {
    let r = editRanges([], 10n, 19n, true);
    r = editRanges(r, 20n, 29n, true);
    expect(r).toEqual([[10n, 29n]]);
    r = editRanges(r, 15n, 16n, false);
    expect(r).toEqual([
      [10n, 14n],
      [17n, 29n],
    ]);
    r = editRanges(r, 0n, 100n, false);
    expect(r).toEqual([]);
  });
});
