/**
 * The PCI contract (test/contract/pci-contract.ts) on real Xen 4.17, in the suite's VM. The same
 * cases run on the simulated host in test/pci/contract.sim.test.ts.
 *
 * Devices: the edu (00:05.0) and the pci-testdev (00:06.0) as the two candidates, the e1000 and
 * the edu behind QEMU's pci-bridge (01:01.0, 01:02.0) as the bridge pair; dom0 loads no driver
 * for any of them. The device dom0 uses: the e1000 at 00:04.0, which this file gives to dom0's
 * e1000 driver with an address and the default route (and takes back at the end); the devices
 * that carry the 9p shares are not safe to try, since the harness itself runs over them.
 *
 * Guests: xtc15a (PV, passthrough="enabled", running: pcifront must answer), xtc15b
 * (passthrough, created paused: it only meets the bridge refusal) and xtc15c (no passthrough,
 * paused: it only meets its refusal). Paused guests cost no CPU under TCG.
 *
 * Each group of the contract is one `vm.exec` round trip (test/contract/xen-vm-driver.ts); the
 * share's transcripts/15-contract-N.txt keeps every command's output.
 */
import { pciContract, type ContractFacts } from '../contract/pci-contract';
import { XenVmDriver } from '../contract/xen-vm-driver';
import { pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { pciCommands } from './1x-pci-helpers';
import { suiteVm } from './suite';
import type { XenVm } from './xen-vm';

const facts: ContractFacts = {
  devices: ['0000:00:05.0', '0000:00:06.0'],
  bridgePair: ['0000:01:01.0', '0000:01:02.0'],
  pvGuest: 'xtc15a',
  otherGuest: 'xtc15b',
  noPassthroughGuest: 'xtc15c',
  dom0InUse: '0000:00:04.0',
  // pciback and pcifront reconfiguring took longer than xl's 10 s under TCG (see 11-...).
  waitSeconds: 120,
};
const GUESTS = [facts.pvGuest, facts.otherGuest, facts.noPassthroughGuest];
const DEVICES = [...facts.devices, ...facts.bridgePair];
/** One group may start xentool 30 times, at 5-170 s each under TCG on a loaded machine. */
const GROUP_TIMEOUT_S = 5400;

let vm: XenVm;
let driver: XenVmDriver;

beforeAll(async () => {
  vm = suiteVm();
  const { xt, xm } = pciCommands(vm);
  const cfgs = GUESTS.map((g) => writeGuestConfig(vm, g, pvGuestConfig(g, { passthrough: g !== facts.noPassthroughGuest })));
  await vm.execOk(
    [
      // The contract starts with its devices neither assignable nor attached.
      `for d in ${DEVICES.join(' ')}; do xl pci-assignable-remove $d >/dev/null 2>&1; done`,
      // xenconsoled appends to an earlier guest's log of the same name (report numbers restart).
      `rm -f ${GUESTS.map((g) => `/var/log/xen/console/guest-${g}.log`).join(' ')}`,
      `xl create ${cfgs[0]} && xl create -p ${cfgs[1]} && xl create -p ${cfgs[2]}`,
      // The device dom0 uses: its network interface, with the default route.
      'modprobe e1000 && sleep 2 && IF=$(ls /sys/bus/pci/devices/0000:00:04.0/net) && ip link set $IF up && ip addr add 10.99.0.1/24 dev $IF && ip route add default via 10.99.0.2 dev $IF',
    ].join('\n'),
    { timeoutS: 300 },
  );
  await waitForGuestPci(vm, facts.pvGuest, () => true, 0, 300_000);
  driver = new XenVmDriver(vm, { xentool: xt, xm, guests: GUESTS, timeoutS: GROUP_TIMEOUT_S });
}, 700_000);

afterAll(async () => {
  if (!vm) return;
  await vm.exec(
    [...GUESTS.map((g) => `xl destroy ${g}`), ...DEVICES.map((d) => `xl pci-assignable-remove ${d}`), 'ip route del default', 'rmmod e1000', 'true']
      .map((c) => `${c} >/dev/null 2>&1`)
      .join('\n'),
    { timeoutS: 300 },
  );
});

describe('PCI contract on real Xen 4.17', () => {
  pciContract({ facts, hasXl: true, timeoutMs: (GROUP_TIMEOUT_S + 600) * 1000 }, () => driver);
});
