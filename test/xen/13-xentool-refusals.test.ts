/**
 * Issue 7, scenario 6, with xentool on real Xen: refusals leave the host untouched. Each refusal
 * runs between two snapshots (xenstore-ls of the PCI backends, /libxl/pci and both guests' device
 * directories, pciback's slots, `xl pci-assignable-list`, `xl pci-list` of both guests, every PCI
 * function's dom0 driver) that must be identical; each refusal exits non-zero with one line.
 *
 *  - a guest created without passthrough (Xen 4.17 would fail the hot-plug with EOPNOTSUPP);
 *  - a device that is not assignable (01:02.0, bound to no driver, not pciback's);
 *  - a taken virtual slot (00:06.0 attached by xl at slot 5, then 00:05.0 asked for slot 5);
 *  - a device dom0 is using (the e1000 at 00:04.0 carrying dom0's default route).
 */
import { pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { hostSnapshotSteps, pciCommands, runSteps, step, type Section } from './1x-pci-helpers';
import { suiteVm } from './suite';
import type { XenVm } from './xen-vm';

const PT = 'xtpt13';
const NOPT = 'xtnopt13';

let vm: XenVm;
let r: Record<string, Section>;

function snapshot(prefix: string): string[] {
  return [
    ...hostSnapshotSteps(prefix),
    step(`${prefix}-guests`, `for g in ${PT} ${NOPT}; do xenstore-ls -f /local/domain/$(xl domid $g)/device 2>&1 | grep -v '/console'; xl pci-list $g; done`),
    step(`${prefix}-domains`, "xl list | awk '{print $1, $2, $3, $4}'"),
  ];
}

beforeAll(async () => {
  vm = suiteVm();
  const { xt } = pciCommands(vm);
  const cfgs = [writeGuestConfig(vm, PT, pvGuestConfig(PT)), writeGuestConfig(vm, NOPT, pvGuestConfig(NOPT, { passthrough: false }))];
  await vm.execOk(`rm -f /var/log/xen/console/guest-${PT}.log /var/log/xen/console/guest-${NOPT}.log; xl create ${cfgs[0]} && xl create ${cfgs[1]}`, { timeoutS: 300 });
  await waitForGuestPci(vm, PT, () => true, 0, 300_000);
  await waitForGuestPci(vm, NOPT, () => true, 0, 300_000);
  // The setting the refusals run against: 00:05.0 and 00:06.0 assignable, 00:06.0 in PT's slot 5,
  // the e1000 at 00:04.0 dom0's network interface with the default route.
  await vm.execOk(
    [
      'xl pci-assignable-add 0000:00:05.0 2>/dev/null',
      'xl pci-assignable-add 0000:00:06.0 2>/dev/null',
      `xl pci-attach ${PT} 0000:00:06.0@5 2>/dev/null`,
      'modprobe e1000 && sleep 2',
      'IF=$(ls /sys/bus/pci/devices/0000:00:04.0/net)',
      'ip link set $IF up && ip addr add 10.99.0.1/24 dev $IF && ip route add default via 10.99.0.2 dev $IF',
    ].join(' && '),
    { timeoutS: 300 },
  );
  r = await runSteps(vm, '13-xentool-refusals', [
    ...snapshot('before'),
    step('no-passthrough', `${xt} pci-attach ${NOPT} 0000:00:05.0`),
    step('not-assignable', `${xt} pci-attach ${PT} 0000:01:02.0`),
    step('taken-slot', `${xt} pci-attach ${PT} 0000:00:05.0@5`),
    step('dom0-use', `${xt} pci-assignable-add 0000:00:04.0`),
    ...snapshot('after'),
  ]);
}, 1_500_000);

afterAll(async () => {
  if (!vm) return;
  await vm.exec(
    `xl destroy ${PT}; xl destroy ${NOPT}; ip route del default 2>/dev/null; xl pci-assignable-remove 0000:00:05.0; xl pci-assignable-remove 0000:00:06.0; xl pci-assignable-remove 0000:00:04.0 2>/dev/null; rmmod e1000; true`,
    { timeoutS: 300 },
  );
});

/** A refusal: non-zero exit, one line of explanation. */
function refused(s: Section | undefined): string {
  expect(s).toBeDefined();
  expect(s!.rc).not.toBe(0);
  const ls = s!.out.trimEnd().split('\n');
  expect(ls).toHaveLength(1);
  return ls[0]!;
}

describe('scenario 6: xentool refusals leave the host untouched', () => {
  test('the setting: 00:06.0 in slot 5 of the passthrough guest, 00:04.0 carrying dom0 default route', () => {
    expect(r['before-guests']!.out).toContain('05.0 0000:00:06.0');
    expect(r['before-drivers']!.out).toContain('0000:00:04.0 e1000\n');
    expect(r['before-assignable']!.out).toBe('0000:00:05.0 \n');
  });

  test('a guest created without passthrough is refused', () => {
    expect(refused(r['no-passthrough'])).toMatch(/passthrough/i);
  });

  test('a device not bound to pciback is refused', () => {
    expect(refused(r['not-assignable'])).toMatch(/0000:01:02\.0/);
  });

  test('a taken virtual slot is refused', () => {
    expect(refused(r['taken-slot'])).toMatch(/slot/i);
  });

  test('a device dom0 is using is not made assignable', () => {
    expect(refused(r['dom0-use'])).toMatch(/default route/);
  });

  test('xenstore, pciback, dom0 drivers, xl listings: identical before and after', () => {
    for (const k of ['backend', 'libxl', 'slots', 'assignable', 'drivers', 'guests', 'domains']) {
      expect([k, r[`after-${k}`]]).toEqual([k, r[`before-${k}`]]);
    }
  });
});
