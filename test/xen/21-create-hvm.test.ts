/**
 * Issue 9, HVM lifecycle on real Xen 4.17 without libxl: `xentool create` of an HVM guest
 * (hvmloader + SeaBIOS built through libxenguest, qemu-xen spawned by xentool with the command
 * line xl uses, direct kernel boot of the busybox guest) with pci-testdev (00:06.0) given at
 * creation through QMP while the domain is paused. The guest's first PCI report already has the
 * device; xl, xentool and xm list it; destroy ends QEMU and leaves no node, socket or monitor,
 * and the device is assignable again.
 *
 * The guest's console is its emulated serial port (QEMU's pty in dom0, which xenconsoled does
 * not log), so dom0 copies that pty into the share. Under TCG the guest needs minutes to reach
 * its /init. The served VM must have qemu-xen (XENVM_WITH_QEMU=1).
 */
import * as fs from 'fs';
import * as path from 'path';
import { guestPciReports, hvmGuestConfig, serialConsole, type GuestPciReport } from './guests';
import { section } from './20-pv-cases';
import { pciCommands } from './1x-pci-helpers';
import { FIXTURES_DIR, saveTranscript, suiteVm, xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

const GUEST = 'xtdhvm';
const TESTDEV = '0000:00:06.0';
const T = 1_500_000;

let vm: XenVm;
let xentool: string;
let cfg: string;

function hvmConfig(): string {
  return hvmGuestConfig(GUEST, { pci: [TESTDEV] });
}

function serialLog(): string {
  return serialConsole(vm, GUEST);
}

async function firstReport(timeoutMs: number): Promise<GuestPciReport> {
  const started = Date.now();
  for (;;) {
    const r = guestPciReports(serialLog())[0];
    if (r) return r;
    if (Date.now() - started > timeoutMs) throw new Error(`guest ${GUEST}: no PCI report after ${timeoutMs / 1000} s; serial tail:\n${serialLog().slice(-1500)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const CLEANUP = `xl destroy ${GUEST} 2>/dev/null; for p in $(ps | grep -v grep | grep -e 'create --monitor.*/guests/${GUEST}' -e 'serial-${GUEST}' | awk '{print $1}'); do kill $p; done; true`;

beforeAll(async () => {
  vm = suiteVm();
  xentool = xentoolCommand(vm);
  const dir = path.join(vm.share, 'guests');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${GUEST}.cfg`), hvmConfig());
  cfg = `/mnt/host/guests/${GUEST}.cfg`;
  fs.mkdirSync(path.join(vm.share, 'consoles'), { recursive: true });
  fs.rmSync(path.join(vm.share, 'consoles', `serial-${GUEST}.log`), { force: true });
  await vm.exec(CLEANUP);
});

afterAll(async () => {
  if (!vm) return;
  saveTranscript('xentool/create-hvm/serial.txt', serialLog());
  await vm.exec(`${CLEANUP}; xl pci-assignable-list | grep -q '^${TESTDEV} ' || xl pci-assignable-add ${TESTDEV}; true`, { timeoutS: 300 });
});

describe('xentool create: an HVM guest with qemu-xen on real Xen, without libxl', () => {
  test(
    'the domain is built, qemu-xen runs with xl’s command line, the device is in place before the guest runs',
    async () => {
      const r = await vm.exec(
        [
          `test -x /usr/libexec/xen-qemu-system-i386 || { echo "no qemu-xen in dom0 (boot with XENVM_WITH_QEMU=1)"; exit 3; }`,
          `xl pci-assignable-list | grep -q '^${TESTDEV} ' || xl pci-assignable-add ${TESTDEV}`,
          `${xentool} create ${cfg}; rc=$?; echo "=== rc ==="; echo $rc`,
          `D=$(xl domid ${GUEST}); echo "=== domid ==="; echo $D`,
          `TTY=$(xenstore-read /local/domain/$D/serial/0/tty)`,
          // setsid: the copy outlives this script (the agent only kills a script's group on timeout).
          `setsid sh -c "cat $TTY > /mnt/host/consoles/serial-${GUEST}.log" </dev/null >/dev/null 2>&1 &`,
          `echo "=== tty ==="; echo $TTY`,
          `PID=$(xenstore-read /local/domain/$D/image/device-model-pid)`,
          `echo "=== cmdline ==="; tr '\\000' ' ' < /proc/$PID/cmdline; echo`,
          `echo "=== dm-state ==="; xenstore-read /local/domain/0/device-model/$D/state`,
          `echo "=== xl ==="; xl list`,
          `echo "=== xentool ==="; ${xentool} list`,
          `echo "=== xl-pci ==="; xl pci-list ${GUEST}`,
          `echo "=== xt-pci ==="; ${xentool} pci-list ${GUEST}`,
          `echo "=== platform ==="; xenstore-ls -f /local/domain/$D/platform; xenstore-ls -f /local/domain/$D/hvmloader`,
        ].join('\n'),
        { timeoutS: 900 },
      );
      saveTranscript('xentool/create-hvm/create.txt', r.stdout + r.stderr);
      if (r.code === 3) throw new Error(r.stdout);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      const domid = section(r.stdout, 'domid').trim();
      expect(domid).toMatch(/^\d+$/);
      expect(section(r.stdout, 'tty').trim()).toMatch(/^\/dev\/pts\/\d+$/);
      expect(section(r.stdout, 'dm-state').trim()).toBe('running');
      // The command line xl 4.17 ran for the same config in this VM, with our domid and name.
      const xl = fs
        .readFileSync(path.join(FIXTURES_DIR, 'hvm-xl', '0-created', 'qemu-xen-cmdline.txt'), 'utf8')
        .trim()
        .replace(/-xen-domid 1 /, `-xen-domid ${domid} `)
        .replace(/-(libxl|libxenstat)-1,/g, `-$1-${domid},`)
        .replace(/-name hvm1 /, `-name ${GUEST} `)
        .replace(/-append console=ttyS0 loglevel=7 /, '-append console=ttyS0 quiet loglevel=4 ');
      expect(section(r.stdout, 'cmdline').trim()).toBe(xl);
      const row = (text: string) => new RegExp(`^${GUEST}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s`, 'm').exec(text)?.slice(1);
      expect(row(section(r.stdout, 'xentool'))).toEqual(row(section(r.stdout, 'xl')));
      // 248 MiB for the guest plus the 8 MiB QEMU populates for cirrus' video memory, until the
      // guest's balloon driver reads memory/target (248 MiB).
      expect(row(section(r.stdout, 'xl'))).toEqual([domid, expect.stringMatching(/^(248|256)$/), '1']);
      // (section() drops the last newline.)
      expect(section(r.stdout, 'xl-pci')).toMatch(new RegExp(`^Vdev Device\\n[0-9a-f]{2}\\.0 ${TESTDEV}$`));
      expect(section(r.stdout, 'xt-pci')).toBe(section(r.stdout, 'xl-pci'));
      expect(section(r.stdout, 'platform')).toMatch(/platform\/device-model = "qemu_xen"/);
      expect(section(r.stdout, 'platform')).toMatch(/hvmloader\/bios = "seabios"/);
    },
    T,
  );

  test(
    'the guest boots and its first PCI scan already has the device; xm pci-list shows it',
    async () => {
      const report = await firstReport(1_200_000);
      const dev = report.devices.find((d) => d.id === '1b36:0005');
      expect(dev).toBeDefined();
      const { xm } = pciCommands(vm);
      const r = await vm.exec(
        [`echo "=== xl-pci ==="; xl pci-list ${GUEST}`, `echo "=== xm ==="; ${xm} pci-list ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc`].join('\n'),
        { timeoutS: 300 },
      );
      saveTranscript('xentool/create-hvm/xm-pci-list.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      // xm's 3.3 layout: the guest slot qemu-xen chose (xl pci-list's Vdev), then the host BDF.
      const vslot = Number.parseInt(/^([0-9a-f]{2})\.0 /m.exec(section(r.stdout, 'xl-pci'))?.[1] ?? 'x', 16);
      expect(vslot).toBeGreaterThan(0);
      expect(section(r.stdout, 'xm')).toBe(`VSlt domain   bus   slot   func\n0x${vslot.toString(16)}    0x0  0x00   0x06    0x0    `);
      // The guest saw it at that slot.
      expect(dev!.bdf).toBe(`0000:00:${vslot.toString(16).padStart(2, '0')}.0`);
    },
    T,
  );

  test(
    'destroy ends QEMU and leaves no node, socket or monitor; the device is assignable again',
    async () => {
      const r = await vm.exec(
        [
          `D=$(xl domid ${GUEST}); PID=$(xenstore-read /local/domain/$D/image/device-model-pid); uuid=$(xenstore-read /local/domain/$D/vm | sed 's#^/vm/##')`,
          `${xentool} destroy ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== qemu ==="; [ -d /proc/$PID ] && echo running || echo gone`,
          `echo "=== sockets ==="; ls /var/run/xen/ | grep -E "qmp-(libxl|libxenstat)-$D$"; true`,
          `mon() { ps | grep -v grep | grep -q 'create --monitor.*/guests/${GUEST}'; }`,
          `i=0; while mon && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== monitor ==="; mon && echo running || echo none`,
          `echo "=== left ==="; xenstore-ls -f | grep -E "^(/local/domain/$D|/libxl/$D|/vm/$uuid|/local/domain/0/(backend/[a-z]+|device-model)/$D)( |/)"; true`,
          `echo "=== assignable ==="; xl pci-assignable-list`,
        ].join('\n'),
        { timeoutS: 300 },
      );
      saveTranscript('xentool/create-hvm/destroy.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(section(r.stdout, 'qemu').trim()).toBe('gone');
      expect(section(r.stdout, 'sockets').trim()).toBe('');
      expect(section(r.stdout, 'monitor').trim()).toBe('none');
      expect(section(r.stdout, 'left').trim()).toBe('');
      expect(section(r.stdout, 'assignable')).toContain(`${TESTDEV} `);
    },
    T,
  );
});
