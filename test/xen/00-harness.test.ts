/**
 * The harness's own pure parts: the QEMU command line and the parser of the guest's PCI reports.
 * (No VM needed; it runs first in the suite so a broken harness shows before any boot-long wait.)
 */
import { guestPciReports, pvGuestConfig } from './guests';
import { qemuArgs, SPARE_DEVICES } from './xen-vm';

describe('qemuArgs', () => {
  const args = qemuArgs({ images: '/img', runDir: '/run', projectDir: '/proj,x', xenstored: 'oxenstored', dom0MemMiB: 1024 }, '/run/share', '/run/serial.log');
  const value = (flag: string) => args[args.indexOf(flag) + 1];
  const all = (flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

  test('the AMD IOMMU machine that PV and HVM passthrough need', () => {
    expect(value('-machine')).toBe('q35');
    expect(value('-cpu')).toBe('qemu64,+svm,+npt');
    expect(all('-device')).toContain('amd-iommu');
  });

  test('every spare device on the slot SPARE_DEVICES promises, two behind the bridge', () => {
    const devices = all('-device');
    expect(devices).toEqual(
      expect.arrayContaining(['e1000,addr=04.0', 'edu,addr=05.0', 'pci-testdev,addr=06.0', 'pci-bridge,id=b1,chassis_nr=1,addr=07.0', 'e1000,bus=b1,addr=01.0', 'edu,bus=b1,addr=02.0']),
    );
    expect(SPARE_DEVICES.filter((d) => d.bdf.startsWith('0000:01:'))).toHaveLength(2);
  });

  test('multiboot modules: commas inside a module line are doubled, dom0 options carried', () => {
    expect(value('-initrd')).toBe('/img/vmlinuz console=hvc0 earlyprintk=xen loglevel=6 xenvm.xenstored=oxenstored,/img/dom0.cpio.gz');
    expect(value('-append')).toContain('dom0_mem=1024M,max:1024M');
    expect(value('-kernel')).toBe('/img/xen');
  });

  test('both 9p shares on fixed slots, the project read-only, a comma in a path doubled', () => {
    expect(all('-fsdev')).toEqual(['local,id=fs0,path=/run/share,security_model=none', 'local,id=fs1,path=/proj,,x,security_model=none,readonly=on']);
    expect(all('-device')).toEqual(expect.arrayContaining(['virtio-9p-pci,fsdev=fs0,mount_tag=host0,addr=03.0', 'virtio-9p-pci,fsdev=fs1,mount_tag=proj,addr=08.0']));
  });
});

describe('guestPciReports', () => {
  test('complete reports only, in order, with their devices', () => {
    const console = [
      '[    1.0] kernel noise',
      'xenvm-guest: ready',
      'xenvm-guest: pci-begin 1',
      'xenvm-guest: pci-end 1 count=0',
      'xenvm-guest: pci-begin 2',
      'xenvm-guest: pci 0000:00:00.0 8086:100e class=0x020000 driver=none\r',
      'xenvm-guest: pci-end 2 count=1',
      'xenvm-guest: pci-begin 3',
      'xenvm-guest: pci 0000:00:00.0 8086:100e class=0x020000 driver=e1000',
    ].join('\n');
    const reports = guestPciReports(console);
    expect(reports.map((r) => r.n)).toEqual([1, 2]);
    expect(reports[1].devices).toEqual([{ bdf: '0000:00:00.0', id: '8086:100e', classCode: '0x020000', driver: 'none' }]);
  });

  test('a report whose count disagrees with its lines (interleaved kernel output) is dropped', () => {
    const console = ['xenvm-guest: pci-begin 1', 'xenvm-guest: pci 0000:00:00.0 8086:100e class=0x020000 driver=e1000', 'xenvm-guest: pci-end 1 count=2'].join('\n');
    expect(guestPciReports(console)).toEqual([]);
  });
});

describe('pvGuestConfig', () => {
  test('passthrough="enabled" by default (Xen refuses hot-plug into a guest created without it)', () => {
    expect(pvGuestConfig('g')).toContain('passthrough = "enabled"\n');
    expect(pvGuestConfig('g', { passthrough: false })).not.toContain('passthrough');
    expect(pvGuestConfig('g', { pci: ['00:04.0', '01:01.0'] })).toContain('pci = [ "00:04.0", "01:01.0" ]\n');
  });
});
