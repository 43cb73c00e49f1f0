/**
 * Facts for issue 7's scenario 2, recorded with xl: pci-assignable-add of a device that dom0's own
 * driver (e1000) holds, and pci-assignable-remove -r giving it back to that driver. xentool's
 * assignable commands must leave the same state (transcripts under assignable-driver-xl/).
 */
import { pciState, saveTranscript, suiteVm } from './suite';
import type { XenVm } from './xen-vm';

const BDF = '0000:00:04.0';

/**
 * libxl's /libxl/pci lines for the device. Only those: libxl never removes a device's (then empty)
 * node, so the nodes of every device assigned earlier in the VM's life stay listed.
 */
function libxlNodes(listing: string): string[] {
  return listing.split('\n').filter((l) => l.startsWith('/libxl/pci/0000-00-04-0'));
}

let vm: XenVm;
beforeAll(() => {
  vm = suiteVm();
});

afterAll(async () => {
  // Unloading e1000 unbinds both e1000s: dom0 is back to no driver on the spare devices.
  if (vm) await vm.exec(`xl pci-assignable-remove ${BDF} 2>/dev/null; rmmod e1000; true`);
});

describe('pci-assignable-add/-remove -r with xl, the device first bound to its dom0 driver', () => {
  test('modprobe e1000 binds both e1000s in dom0', async () => {
    await vm.execOk('modprobe e1000');
    const s = await pciState(vm, '', 'assignable-driver-xl/1-e1000-loaded');
    expect(s['dom0-drivers.txt']).toContain(`${BDF} e1000\n`);
    expect(s['dom0-drivers.txt']).toContain('0000:01:01.0 e1000\n');
    expect(s['xl-pci-assignable-list.txt']).toBe('');
  });

  test('xl pci-assignable-add takes it from e1000 and remembers the driver in /libxl/pci', async () => {
    const add = await vm.exec(`xl pci-assignable-add ${BDF}`);
    saveTranscript('assignable-driver-xl/2-assignable-add/xl-pci-assignable-add.stderr.txt', add.stderr);
    expect(add.code).toBe(0);
    expect(add.stderr).toBe('');
    const s = await pciState(vm, '', 'assignable-driver-xl/2-assignable-added');
    expect(s['dom0-drivers.txt']).toContain(`${BDF} pciback\n`);
    expect(s['dom0-drivers.txt']).toContain('0000:01:01.0 e1000\n');
    expect(libxlNodes(s['xenstore-libxl.txt'])).toEqual([
      '/libxl/pci/0000-00-04-0 = ""',
      '/libxl/pci/0000-00-04-0/driver_path = "/sys/bus/pci/drivers/e1000"',
    ]);
    expect(s['xl-pci-assignable-list.txt']).toBe(`${BDF} \n`);
    expect(s['pciback-slots.txt']).toBe(`${BDF}\n`);
  });

  test('xl pci-assignable-remove -r rebinds e1000 and forgets the driver (the empty node stays)', async () => {
    const remove = await vm.exec(`xl pci-assignable-remove -r ${BDF}`);
    saveTranscript('assignable-driver-xl/3-assignable-remove/xl-pci-assignable-remove.stderr.txt', remove.stderr);
    expect(remove.code).toBe(0);
    expect(remove.stderr).toMatch(/^libxl: info: libxl_pci\.c:\d+:libxl__device_pci_assignable_remove: Rebinding to driver at \/sys\/bus\/pci\/drivers\/e1000\n$/);
    const s = await pciState(vm, '', 'assignable-driver-xl/3-assignable-removed');
    expect(s['dom0-drivers.txt']).toContain(`${BDF} e1000\n`);
    expect(libxlNodes(s['xenstore-libxl.txt'])).toEqual(['/libxl/pci/0000-00-04-0 = ""']);
    expect(s['xl-pci-assignable-list.txt']).toBe('');
    expect(s['pciback-slots.txt']).toBe('');
  });
});
