import { RealPciHypervisor, type PciHandle } from './real-pci-hypervisor';

function recorder() {
  const calls: unknown[][] = [];
  const rec =
    (name: string, ret?: unknown) =>
    (...args: unknown[]) => {
      calls.push([name, ...args]);
      return ret;
    };
  const xc: PciHandle = {
    testAssignDevice: rec('testAssignDevice'),
    assignDevice: rec('assignDevice'),
    deassignDevice: rec('deassignDevice'),
    ioportPermission: rec('ioportPermission'),
    iomemPermission: rec('iomemPermission'),
    irqPermission: rec('irqPermission'),
    mapPirq: rec('mapPirq', 55) as PciHandle['mapPirq'],
    unmapPirq: rec('unmapPirq'),
  };
  return { xc, calls };
}

describe('RealPciHypervisor', () => {
  it('forwards each call to libxenctrl with the argument shapes the bindings take', async () => {
    const { xc, calls } = recorder();
    const h = new RealPciHypervisor(xc);
    await h.assignDevice(0x7ff1, 0x301, 1);
    await h.assignDevice(3, 0x301, 0);
    await h.iomemPermission(3, 0xfebf0n, 2n, true);
    expect(await h.mapPirq(3, 16)).toBe(55);
    expect(calls).toEqual([
      ['assignDevice', 0x7ff1, 0x301, { rdmRelaxed: true }],
      ['assignDevice', 3, 0x301, { rdmRelaxed: false }],
      ['iomemPermission', 3, { firstMfn: 0xfebf0n, nrMfns: 2n }, true],
      ['mapPirq', 3, 16],
    ]);
  });

  it('refuses assign flags Xen 4.17 refuses, with EINVAL', async () => {
    const { xc, calls } = recorder();
    await expect(new RealPciHypervisor(xc).assignDevice(3, 0x301, 2)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xc_assign_device' });
    expect(calls).toEqual([]);
  });
});
