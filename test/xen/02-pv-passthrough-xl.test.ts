/**
 * PV passthrough done by xl itself, end to end: assignable-add, a guest created with
 * passthrough="enabled", hot attach (the guest's own console shows the device and its driver),
 * detach, destroy, assignable-remove. Proves the harness can drive everything the xentool
 * scenarios need, and records what xl leaves in xenstore and sysfs at each stage (transcripts in
 * work/transcripts; fixtures/ when XENVM_RECORD_FIXTURES=1). The lead's PCI commands must
 * reproduce those byte for byte.
 */
import { pvGuestConfig, waitForGuestPci, lastReportNumber, writeGuestConfig } from './guests';
import { pciState, saveTranscript, suiteVm } from './suite';
import type { ExecResult, XenVm } from './xen-vm';

const GUEST = 'pvxl';
const BDF = '0000:00:04.0';
const E1000 = '8086:100e';

let vm: XenVm;
beforeAll(() => {
  vm = suiteVm();
});

afterAll(async () => {
  // Leave the host as the next file expects it, whatever failed above.
  if (!vm) return;
  await vm.exec(`xl destroy ${GUEST} 2>/dev/null; xl pci-assignable-remove -r ${BDF} 2>/dev/null; true`);
});

/** Saves a command's stdout and stderr (xl prints its diagnostics on stderr) as transcripts. */
function record(name: string, r: ExecResult): void {
  saveTranscript(`${name}.stdout.txt`, r.stdout);
  saveTranscript(`${name}.stderr.txt`, r.stderr);
}

describe('PV passthrough with xl on real Xen (the harness proof)', () => {
  test('xl pci-assignable-add binds the e1000 to pciback and lists it', async () => {
    const before = await pciState(vm, GUEST, 'pv-xl/0-initial');
    expect(before['pciback-slots.txt']).toBe('');
    expect(before['xl-pci-assignable-list.txt']).toBe('');

    const add = await vm.exec(`xl pci-assignable-add ${BDF}`);
    record('pv-xl/1-assignable-add/xl-pci-assignable-add', add);
    expect(add.code).toBe(0);
    // dom0 never loaded e1000, so xl has no original driver to remember.
    expect(add.stderr).toContain('not bound to a driver, will not be rebound');

    const s = await pciState(vm, GUEST, 'pv-xl/1-assignable-add');
    expect(s['xl-pci-assignable-list.txt']).toBe(`${BDF} \n`);
    expect(s['pciback-slots.txt']).toBe(`${BDF}\n`);
    const drv = await vm.execOk(`readlink /sys/bus/pci/devices/${BDF}/driver`);
    expect(drv.stdout.trim()).toMatch(/\/pciback$/);
  });

  test('xl create: a PV guest with passthrough="enabled" boots and reports no PCI device', async () => {
    const cfg = writeGuestConfig(vm, GUEST, pvGuestConfig(GUEST));
    const create = await vm.exec(`xl create ${cfg}`, { timeoutS: 120 });
    record('pv-xl/2-create/xl-create', create);
    expect(create.code).toBe(0);
    const first = await waitForGuestPci(vm, GUEST, () => true, 0, 120_000);
    expect(first.devices).toEqual([]);
    const list = await vm.execOk('xl list');
    expect(list.stdout).toMatch(new RegExp(`^${GUEST}\\s+\\d+\\s+128\\s+1\\s`, 'm'));
    await pciState(vm, GUEST, 'pv-xl/2-created');
  });

  test('xl pci-attach: the guest sees the e1000 on its virtual bus and e1000 binds it', async () => {
    const seen = lastReportNumber(vm, GUEST);
    const attach = await vm.exec(`xl pci-attach ${GUEST} ${BDF}`);
    record('pv-xl/3-attach/xl-pci-attach', attach);
    expect(attach.code).toBe(0);
    const report = await waitForGuestPci(vm, GUEST, (r) => r.devices.some((d) => d.id === E1000 && d.driver === 'e1000'), seen);
    // pciback's default (virtual PCI bus) mode renumbers the device to slot 0 of bus 0.
    expect(report.devices).toEqual([{ bdf: '0000:00:00.0', id: E1000, classCode: '0x020000', driver: 'e1000' }]);

    const s = await pciState(vm, GUEST, 'pv-xl/3-attached');
    expect(s['xl-pci-list.txt']).toBe(`Vdev Device\n00.0 ${BDF}\n`);
    expect(s['xenstore-backend-pci.txt']).toMatch(/\/dev-0 = "0000:00:04\.0"$/m);
    expect(s['xenstore-backend-pci.txt']).toMatch(/\/num_devs = "1"$/m);
    expect(s['xenstore-backend-pci.txt']).toMatch(/\/state = "4"$/m);
    expect(s['xenstore-frontend-pci.txt']).toMatch(/\/device\/pci\/0\/backend = "\/local\/domain\/0\/backend\/pci\/\d+\/0"$/m);
    expect(s['xenstore-libxl.txt']).toMatch(/^\/libxl\/pci\/0000-00-04-0\/domid = "\d+"$/m);
    // Still pciback's: assignment to a guest does not unbind it in dom0.
    expect(s['pciback-slots.txt']).toBe(`${BDF}\n`);
  });

  test('xl pci-detach: the device leaves the guest and goes back to the assignable list', async () => {
    const seen = lastReportNumber(vm, GUEST);
    const detach = await vm.exec(`xl pci-detach ${GUEST} ${BDF}`);
    record('pv-xl/4-detach/xl-pci-detach', detach);
    expect(detach.code).toBe(0);
    const report = await waitForGuestPci(vm, GUEST, (r) => r.devices.length === 0, seen);
    expect(report.devices).toEqual([]);

    const s = await pciState(vm, GUEST, 'pv-xl/4-detached');
    expect(s['xl-pci-list.txt']).toBe('');
    expect(s['xl-pci-assignable-list.txt']).toBe(`${BDF} \n`);
    // The last device gone, libxl removes the whole backend directory.
    expect(s['xenstore-backend-pci.txt.stderr']).toMatch(/No such file or directory/);
    expect(s['xenstore-libxl.txt']).not.toMatch(/0000-00-04-0\/domid/);
  });

  test('xl can attach the same device again after a detach, then xl destroy releases it', async () => {
    const seen = lastReportNumber(vm, GUEST);
    await vm.execOk(`xl pci-attach ${GUEST} ${BDF}`);
    await waitForGuestPci(vm, GUEST, (r) => r.devices.some((d) => d.driver === 'e1000'), seen);
    const destroy = await vm.exec(`xl destroy ${GUEST}`);
    record('pv-xl/5-destroy/xl-destroy', destroy);
    expect(destroy.code).toBe(0);
    const list = await vm.execOk('xl list');
    expect(list.stdout).not.toContain(GUEST);
    const s = await pciState(vm, GUEST, 'pv-xl/5-destroyed');
    expect(s['xl-pci-assignable-list.txt']).toBe(`${BDF} \n`);
    expect(s['pciback-slots.txt']).toBe(`${BDF}\n`);
  });

  test('xl pci-assignable-remove -r gives the device back to dom0 (no original driver to restore)', async () => {
    const remove = await vm.exec(`xl pci-assignable-remove -r ${BDF}`);
    record('pv-xl/6-assignable-remove/xl-pci-assignable-remove', remove);
    expect(remove.code).toBe(0);
    expect(remove.stderr).toContain("Couldn't find path for original driver; not rebinding");
    const s = await pciState(vm, GUEST, 'pv-xl/6-assignable-removed');
    expect(s['xl-pci-assignable-list.txt']).toBe('');
    expect(s['pciback-slots.txt']).toBe('');
    const drv = await vm.exec(`readlink /sys/bus/pci/devices/${BDF}/driver`);
    expect(drv.code).not.toBe(0);
  });
});
