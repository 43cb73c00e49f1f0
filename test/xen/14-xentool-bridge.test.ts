/**
 * Issue 7, scenario 5, with xentool on real Xen: the e1000 (01:01.0) and the edu (01:02.0) sit
 * behind QEMU's conventional pci-bridge, so the IOMMU sees both with the bridge's requester ID.
 * Xen 4.17 lets xl give them to two guests (05-bridge-xl.test.ts); xentool gives the first to one
 * guest and refuses the second to another guest, naming the reason, and changes nothing doing so.
 */
import { pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { hostSnapshotSteps, pciCommands, runSteps, step, type Section } from './1x-pci-helpers';
import { suiteVm } from './suite';
import type { XenVm } from './xen-vm';

const G1 = 'xtbr1';
const G2 = 'xtbr2';
const NIC = '0000:01:01.0';
const EDU = '0000:01:02.0';

let vm: XenVm;
let r: Record<string, Section>;

beforeAll(async () => {
  vm = suiteVm();
  const { xt } = pciCommands(vm);
  const cfgs = [writeGuestConfig(vm, G1, pvGuestConfig(G1)), writeGuestConfig(vm, G2, pvGuestConfig(G2))];
  await vm.execOk(`rm -f /var/log/xen/console/guest-${G1}.log /var/log/xen/console/guest-${G2}.log; xl create ${cfgs[0]} && xl create ${cfgs[1]}`, { timeoutS: 300 });
  await waitForGuestPci(vm, G1, () => true, 0, 300_000);
  await waitForGuestPci(vm, G2, () => true, 0, 300_000);
  r = await runSteps(vm, '14-xentool-bridge', [
    step('add-nic', `${xt} pci-assignable-add ${NIC}`),
    step('add-edu', `${xt} pci-assignable-add ${EDU}`),
    step('attach-1', `${xt} pci-attach --timeout 120 ${G1} ${NIC}`),
    ...hostSnapshotSteps('before'),
    step('attach-2', `${xt} pci-attach --timeout 120 ${G2} ${EDU}`),
    ...hostSnapshotSteps('after'),
    step('list-1', `xl pci-list ${G1}`),
    step('list-2', `xl pci-list ${G2}`),
  ]);
}, 1_500_000);

afterAll(async () => {
  if (!vm) return;
  await vm.exec(`xl destroy ${G1}; xl destroy ${G2}; xl pci-assignable-remove ${NIC}; xl pci-assignable-remove ${EDU}; true`, { timeoutS: 300 });
});

describe('scenario 5: the two devices behind the pci-bridge go to one domain only', () => {
  test('both become assignable; the first attaches to the first guest', async () => {
    expect(r['add-nic']!.rc).toBe(0);
    expect(r['add-edu']!.rc).toBe(0);
    expect(r['attach-1']!.rc).toBe(0);
    await waitForGuestPci(vm, G1, (x) => x.devices.some((d) => d.id === '8086:100e'), 0, 120_000);
    expect(r['list-1']!.out).toBe(`Vdev Device\n00.0 ${NIC}\n`);
  });

  test('the second, to another guest, is refused with the reason, and nothing changed', () => {
    expect(r['attach-2']!.rc).not.toBe(0);
    const msg = r['attach-2']!.out.trimEnd().split('\n');
    expect(msg).toHaveLength(1);
    expect(msg[0]).toContain(NIC);
    expect(r['list-2']!.out).toBe('');
    for (const k of ['backend', 'libxl', 'slots', 'assignable', 'drivers']) {
      expect([k, r[`after-${k}`]]).toEqual([k, r[`before-${k}`]]);
    }
  });
});
