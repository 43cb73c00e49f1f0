/**
 * One HVM guest on real Xen 4.17, made and ended by xentool without libxl, carrying three issues'
 * HVM proofs (an HVM boot costs minutes under TCG, so the guest is shared):
 *
 * - Issue 9 (lifecycle): `xentool create` builds the domain (hvmloader + SeaBIOS through
 *   libxenguest), spawns qemu-xen with the command line xl uses for the same config, and gives it
 *   the edu (00:05.0, `pci=`) through QMP while the domain is paused: the guest's first PCI scan
 *   already has it. `xentool console` reaches its serial port. `xentool shutdown -w` powers it off
 *   and the monitor applies on_poweroff=restart (a new domain and a new QEMU, the device given
 *   again; nothing of the old domain left); `xentool destroy` ends the new one, leaving no QEMU,
 *   socket, node or monitor, and Xen's free memory back where it was before the create.
 *   (`xentool reboot` on this guest, with the second boot seen, passed on 2026-11-23/24; it costs a
 *   second HVM boot, 4-7 minutes under TCG, so the restart is proven through on_poweroff and the
 *   reboot command on the PV guest, 20-create-pv.)
 * - Issue 7 scenario 4 and issue 6's HVM sequences: `xentool pci-attach DOM BDF@06` hot-plugs the
 *   pci-testdev (00:06.0) at guest slot 6 through QMP `device_add`; the guest's kernel finds it at
 *   0000:00:06.0; xm pci-list shows the seed's Xen 3.3 layout and xentool/xl pci-list agree;
 *   `pci-detach` sends `device_del`, which reaches the guest as an ACPI hot-removal. `xm
 *   pci-attach DOM BDF 7` honours slot 7. xl attaches the same device at slot 6 (its time goes into
 *   the HVM timing table) and the restart releases it.
 *
 * No `xl pci-detach` here: in this VM an HVM guest reset itself right after each of two xl
 * detaches seen on 2026-11-24; xl's detach time is measured on the PV guest (11-xentool-pv-attach).
 *
 * The guest reports its PCI devices on the PV console (hvc0, which xenconsoled logs in dom0 as
 * guest-NAME.log and appends to when the domain is made again); its serial port carries the
 * kernel's messages and is what `xentool console` reads.
 *
 * The emulator under this Xen: an HVM guest here (Xen's HAP on QEMU 7.2's TCG-emulated SVM and
 * nested paging) sometimes dies of a triple fault that no toolstack causes: on 2026-11-24 it
 * happened to guests xl made and to guests xentool made, with and without PCI hot-plug, during
 * boot and after minutes of running, with tsc_mode="native", with Xen's `asid=0` and with
 * `hap_2mb=0`. In seven of the eight register dumps of a kernel-mode fault the guest had interrupts
 * off and stood right after an instruction Xen had just emulated for it (RDTSC, an OUT to 0xcf8,
 * an IOAPIC write). So a wait on the guest that sees Xen log "dNvM Triple fault" for the guest
 * says so (PlatformFailure), and the boot and the hot-plug sequence are tried again (three
 * attempts in all) on the domain the monitor makes again (xl's on_reboot default "restart"; Xen
 * turns a triple fault into a reboot): the toolstack's part is checked in full on the attempt
 * that the emulator lets finish, and the failure is printed and kept in the transcripts
 * (hvm/platform-failures.txt). The guest runs with tsc_mode="native" (Xen does not intercept its
 * RDTSC, the commonest instruction in those dumps), which the create test checks in Xen's own
 * TSC report.
 */
import * as fs from 'fs';
import * as path from 'path';
import { HVM_CMDLINE, consoleProbe, guestPciReports, hvmGuestConfig, type GuestPciReport } from './guests';
import { section } from './20-pv-cases';
import { ms, pciCommands, runSteps, step, timed, timingTable, withoutTiming } from './1x-pci-helpers';
import { FIXTURES_DIR, saveTranscript, suiteVm } from './suite';
import type { XenVm } from './xen-vm';

const GUEST = 'xthvm';
/** Given at creation (`pci=`): the edu (INTx pin, MSI; no driver in the guest). */
const BOOTDEV = '0000:00:05.0';
const BOOTDEV_ID = '1234:11e8';
/**
 * Hot-plugged: the pci-testdev (one BAR, no interrupt pin, no driver in the guest). In guests xl
 * made on 2026-11-24, ten attach/detach cycles (xentool) of it and ten of the e1000 passed; after
 * the edu's hot-removal the guest twice stopped reporting (in the middle of a line on its serial
 * port, its vCPU on the kernel's IRQ stack) and once then died, so the edu is given at creation.
 */
const HOTDEV = '0000:00:06.0';
const HOTDEV_ID = '1b36:0005';
/** xm's 3.3 layout names the device by its dom0 slot. */
const BOOTDEV_SLOT_DOM0 = 5;
const HOTDEV_SLOT_DOM0 = 6;
const T = 2_400_000;

/** XENVM_HVM_HOTPLUG=0 leaves hot-plug into the running guest out (it is in by default). */
const hotplugTest = process.env.XENVM_HVM_HOTPLUG === '0' ? test.skip : test;

let vm: XenVm;
let xt: string;
let xm: string;
let domid: number;
/** The guest slot qemu-xen chose for the edu at creation. */
let bootSlot: number;
const timings: { what: string; seconds: number }[] = [];
/** Each triple fault the emulator dealt the guest, for the transcript. */
const platformFailures: string[] = [];

/** The guest is gone for a reason no toolstack causes (Xen logged a triple fault for it). */
class PlatformFailure extends Error {}

/** Xen's line about a triple fault of the current domain, if it logged one. */
function tripleFault(): string | undefined {
  return new RegExp(`^\\(XEN\\) .*d${domid}v\\d+ Triple fault.*$`, 'm').exec(fs.readFileSync(vm.serialLog, 'utf8'))?.[0];
}

/** The guest's PV console as xenconsoled logged it (every domain of this name, appended). */
function consoleLog(): string {
  return vm.guestConsole(GUEST);
}

/** Where the console log ends now: a wait looks only at what the guest prints after it. */
function mark(): number {
  return consoleLog().length;
}

/**
 * Why the guest is gone, when the emulator (not the toolstack under test) ended it: Xen logged a
 * triple fault for it, or (`full`) the domain was shut down or made again while nobody asked
 * (Xen's HVM shutdown action for a triple fault is a reboot, and once a guest reset with nothing
 * in the log). Undefined while the guest runs.
 */
async function platformFailure(full: boolean): Promise<string | undefined> {
  const fault = tripleFault();
  if (fault) return `guest ${GUEST} (domain ${domid}) triple-faulted (Xen's log: ${fault})`;
  if (!full) return undefined;
  const r = await vm.exec(`echo "=== domid ==="; xl domid ${GUEST} 2>/dev/null; echo "=== state ==="; xl list ${GUEST} 2>/dev/null | awk 'NR==2{print $5}'`);
  const now = Number(section(r.stdout, 'domid').trim());
  if (now > 0 && now !== domid) return `guest ${GUEST} (domain ${domid}) was made again as domain ${now} while nobody asked (no triple fault in Xen's log)`;
  if (now === domid && /[sc]/.test(section(r.stdout, 'state'))) return `guest ${GUEST} (domain ${domid}) shut down while nobody asked (state ${section(r.stdout, 'state').trim()})`;
  return undefined;
}

/** Waits for a complete PCI report printed after `from` that satisfies `want`. */
async function waitReport(want: (r: GuestPciReport) => boolean, from: number, timeoutMs: number): Promise<GuestPciReport> {
  const started = Date.now();
  let checked = Date.now();
  for (;;) {
    const found = guestPciReports(consoleLog().slice(from)).find(want);
    if (found) return found;
    // The log is read every time; the domain list every 15 s (a dom0 command under TCG).
    const full = Date.now() - checked > 15_000;
    if (full) checked = Date.now();
    const why = await platformFailure(full);
    if (why) throw new PlatformFailure(why);
    if (Date.now() - started > timeoutMs) {
      throw new Error(`guest ${GUEST} (domain ${domid}): no matching PCI report after ${timeoutMs / 1000} s; console tail:\n${consoleLog().slice(-1500)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * After a PlatformFailure: waits for the domain the monitor makes again (a new domid, its QEMU
 * running) and for the first PCI report of its boot, which must be printed after `from` and after
 * the new boot's "ready" line.
 */
async function awaitRestartedGuest(from: number): Promise<GuestPciReport> {
  const old = domid;
  const r = await vm.exec(
    [
      `i=0; while [ $i -lt 600 ]; do n=$(xl domid ${GUEST} 2>/dev/null); [ -n "$n" ] && [ "$n" != "${old}" ] && break; sleep 1; i=$((i+1)); done`,
      `D=$(xl domid ${GUEST}); echo "=== domid ==="; echo $D`,
      `i=0; while [ $i -lt 300 ] && [ "$(xenstore-read /local/domain/0/device-model/$D/state 2>/dev/null)" != running ]; do sleep 1; i=$((i+1)); done`,
    ].join('\n'),
    { timeoutS: 1000 },
  );
  const next = Number(section(r.stdout, 'domid').trim());
  if (!(next > 0) || next === old) throw new Error(`guest ${GUEST}: no new domain after domain ${old} ended (${r.stdout}${r.stderr})`);
  domid = next;
  const started = Date.now();
  for (;;) {
    const text = consoleLog();
    const ready = text.indexOf('xenvm-guest: ready', from);
    if (ready >= 0) return waitReport(() => true, ready, 1_200_000 - (Date.now() - started));
    const fault = tripleFault();
    if (fault) throw new PlatformFailure(`guest ${GUEST} (domain ${domid}) triple-faulted again while booting (Xen's log: ${fault})`);
    if (Date.now() - started > 1_200_000) throw new Error(`guest ${GUEST} (domain ${domid}): did not boot again within 1200 s`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** Attempts at the boot and at the hot-plug sequence when the emulator kills the guest. */
const ATTEMPTS = 3;

/**
 * Runs `attempt`; when it fails and the emulator has ended the guest under it (platformFailure:
 * a wait that saw it, or any other failure, such as a command that found the domain gone),
 * records that, waits for the guest the monitor makes again and runs `attempt` again, up to
 * ATTEMPTS times in all. Any other failure fails the test at once.
 */
async function withRetryOnPlatformFailure<R>(what: string, attempt: () => Promise<R>): Promise<R> {
  let n = 1;
  const record = (why: string, e: unknown) => {
    const note = `${what}, attempt ${n}: ${why}; it failed with: ${(e as Error).message.split('\n')[0]}; waiting for the domain the monitor makes again`;
    platformFailures.push(note);
    // eslint-disable-next-line no-console
    console.warn(note);
  };
  for (;;) {
    try {
      return await attempt();
    } catch (e) {
      const why = e instanceof PlatformFailure ? e.message : await platformFailure(true);
      if (!why || n >= ATTEMPTS) throw e;
      record(why, e);
    }
    // A guest that dies again while it boots uses up an attempt too.
    for (;;) {
      n++;
      try {
        await awaitRestartedGuest(mark());
        break;
      } catch (e) {
        if (!(e instanceof PlatformFailure) || n >= ATTEMPTS) throw e;
        record(e.message, e);
      }
    }
  }
}

/**
 * XENVM_HVM_RESET_ONCE=1 (a self-test of the retry above): the first hot-plug attempt reboots the
 * guest's kernel (sysrq b, the way a triple fault ends in a reboot) right after its first attach.
 */
let resetOnce = process.env.XENVM_HVM_RESET_ONCE === '1';

/** Output lines that are not xentool's own warnings (the kernel has no reset method for these devices). */
function onlyWarnings(out: string): string[] {
  return out.split('\n').filter((l) => l !== '' && !l.startsWith('warning: '));
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
const hotAt = (slot: number) => (r: GuestPciReport) => r.devices.some((d) => d.bdf === `0000:00:${hex2(slot)}.0` && d.id === HOTDEV_ID);
const hotGone = (r: GuestPciReport) => !r.devices.some((d) => d.id === HOTDEV_ID);
const hasBootdev = (r: GuestPciReport) => r.devices.some((d) => d.id === BOOTDEV_ID);

/** xl pci-list's rows for the edu and, when given, the testdev at `slot` (libxl's order: dev-N). */
function xlRows(hotSlot?: number): string {
  const rows = [`${hex2(bootSlot)}.0 ${BOOTDEV}`];
  if (hotSlot !== undefined) rows.push(`${hex2(hotSlot)}.0 ${HOTDEV}`);
  return `Vdev Device\n${rows.join('\n')}\n`;
}

/** xm pci-list in the seed's Xen 3.3 layout (trailing spaces included). */
function xmRows(hotSlot?: number): string {
  const row = (slot: number, dev: number) => `0x${slot.toString(16)}    0x0  0x00   0x${hex2(dev)}    0x0    `;
  const rows = [row(bootSlot, BOOTDEV_SLOT_DOM0)];
  if (hotSlot !== undefined) rows.push(row(hotSlot, HOTDEV_SLOT_DOM0));
  return `VSlt domain   bus   slot   func\n${rows.join('\n')}\n`;
}

/** dom0's view of the hypervisor's free memory (MiB), as 20-create-pv reads it. */
const FREE = `xl info | sed -n 's/^free_memory *: //p'`;
/** Before the guest was created. */
let freeBefore: number;

const MONITORS = `ps | grep -v grep | grep 'create --monitor.*/guests/${GUEST}'`;
const CLEANUP = `xl destroy ${GUEST} 2>/dev/null; for p in $(ps | grep -v grep | grep -e 'create --monitor.*/guests/${GUEST}' | awk '{print $1}'); do kill $p; done; true`;

beforeAll(async () => {
  vm = suiteVm();
  ({ xt, xm } = pciCommands(vm));
  const dir = path.join(vm.share, 'guests');
  fs.mkdirSync(dir, { recursive: true });
  // on_poweroff = restart: the shutdown gives the monitor work (destroy, create again), proven
  // without waiting for a second boot of the guest (minutes under TCG).
  fs.writeFileSync(path.join(dir, `${GUEST}.cfg`), hvmGuestConfig(GUEST, { pci: [BOOTDEV], extra: ['on_poweroff = "restart"', 'tsc_mode = "native"'] }));
  fs.mkdirSync(path.join(vm.share, 'consoles'), { recursive: true });
  // xenconsoled appends to an earlier guest's log of the same name.
  fs.rmSync(path.join(vm.share, 'consoles', `guest-${GUEST}.log`), { force: true });
  await vm.exec(CLEANUP);
});

afterAll(async () => {
  if (!vm) return;
  saveTranscript('xentool/hvm/console.txt', consoleLog());
  if (platformFailures.length) saveTranscript('xentool/hvm/platform-failures.txt', platformFailures.join('\n') + '\n');
  if (timings.length) {
    const table = timingTable('operation (HVM guest, pci-testdev 00:06.0)', timings);
    saveTranscript('hvm-timing-table', table);
    // The suite prints the timing table (issue 7, scenario 8).
    // eslint-disable-next-line no-console
    console.log(`xentool vs xl on real Xen under TCG (node start-up included):\n${table}`);
  }
  await vm
    // As the file found the host: both devices in dom0, bound to no driver.
    .exec(`${CLEANUP}; for d in ${BOOTDEV} ${HOTDEV}; do xl pci-assignable-remove $d 2>/dev/null; done; true`, { timeoutS: 300 })
    .catch(() => undefined);
}, T);

test('xentool create: the domain is built, qemu-xen runs with xl’s command line, the device is in place before the guest runs', async () => {
  const r = await vm.exec(
    [
      `test -x /usr/libexec/xen-qemu-system-i386 || { echo "no qemu-xen in dom0 (images built with XENVM_WITH_QEMU=0?)"; exit 3; }`,
      `xl pci-assignable-list | grep -q '^${BOOTDEV} ' || xl pci-assignable-add ${BOOTDEV}`,
      `${xt} pci-assignable-add ${HOTDEV} 2>&1 | grep -v '^warning: '; echo "=== assignable-rc ==="; echo $?`,
      `echo "=== free ==="; ${FREE}`,
      `${xt} create /mnt/host/guests/${GUEST}.cfg; rc=$?; echo "=== rc ==="; echo $rc`,
      `D=$(xl domid ${GUEST}); echo "=== domid ==="; echo $D`,
      `echo "=== tty ==="; xenstore-read /local/domain/$D/serial/0/tty`,
      `PID=$(xenstore-read /local/domain/$D/image/device-model-pid)`,
      `echo "=== cmdline ==="; tr '\\000' ' ' < /proc/$PID/cmdline; echo`,
      `echo "=== dm-state ==="; xenstore-read /local/domain/0/device-model/$D/state`,
      `echo "=== xl ==="; xl list`,
      `echo "=== xentool ==="; ${xt} list`,
      `echo "=== xl-pci ==="; xl pci-list ${GUEST}`,
      `echo "=== xt-pci ==="; ${xt} pci-list ${GUEST}`,
      `echo "=== platform ==="; xenstore-ls -f /local/domain/$D/platform; xenstore-ls -f /local/domain/$D/hvmloader`,
      // Xen's TSC report ('s' debug key): the domain's mode as xc_domain_set_tsc_info left it.
      `xl debug-keys s; echo "=== tsc ==="; xl dmesg | grep "dom$D(hvm): mode=" | tail -1`,
    ].join('\n'),
    { timeoutS: 900 },
  );
  saveTranscript('xentool/hvm/create.txt', r.stdout + r.stderr);
  if (r.code === 3) throw new Error(r.stdout);
  expect(section(r.stdout, 'rc').trim()).toBe('0');
  freeBefore = Number(section(r.stdout, 'free').trim());
  expect(freeBefore).toBeGreaterThan(0);
  domid = Number(section(r.stdout, 'domid').trim());
  expect(domid).toBeGreaterThan(0);
  expect(section(r.stdout, 'tty').trim()).toMatch(/^\/dev\/pts\/\d+$/);
  expect(section(r.stdout, 'dm-state').trim()).toBe('running');
  // The command line xl 4.17 ran for the same config in this VM, with our domid and name.
  const xl = fs
    .readFileSync(path.join(FIXTURES_DIR, 'hvm-xl', '0-created', 'qemu-xen-cmdline.txt'), 'utf8')
    .trim()
    .replace(/-xen-domid 1 /, `-xen-domid ${domid} `)
    .replace(/-(libxl|libxenstat)-1,/g, `-$1-${domid},`)
    .replace(/-name hvm1 /, `-name ${GUEST} `)
    .replace(/-append console=ttyS0 loglevel=7 /, `-append ${HVM_CMDLINE} `);
  expect(section(r.stdout, 'cmdline').trim()).toBe(xl);
  const row = (text: string) => new RegExp(`^${GUEST}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s`, 'm').exec(text)?.slice(1);
  expect(row(section(r.stdout, 'xentool'))).toEqual(row(section(r.stdout, 'xl')));
  // 248 MiB for the guest plus the 8 MiB QEMU populates for cirrus' video memory, until the
  // guest's balloon driver reads memory/target (248 MiB).
  expect(row(section(r.stdout, 'xl'))).toEqual([String(domid), expect.stringMatching(/^(248|256)$/), '1']);
  // (section() drops the last newline.)
  const vdev = new RegExp(`^Vdev Device\\n([0-9a-f]{2})\\.0 ${BOOTDEV}$`).exec(section(r.stdout, 'xl-pci'));
  expect(vdev).not.toBeNull();
  bootSlot = Number.parseInt(vdev![1]!, 16);
  expect(bootSlot).toBeGreaterThan(0);
  // The slots the hot-plug tests ask for must be free.
  expect([6, 7]).not.toContain(bootSlot);
  expect(section(r.stdout, 'xt-pci')).toBe(section(r.stdout, 'xl-pci'));
  expect(section(r.stdout, 'platform')).toMatch(/platform\/device-model = "qemu_xen"/);
  expect(section(r.stdout, 'platform')).toMatch(/hvmloader\/bios = "seabios"/);
  expect(section(r.stdout, 'assignable-rc').trim()).toBe('0');
  // tsc_mode="native" is Xen's TSC_MODE_NEVER_EMULATE (2).
  expect(section(r.stdout, 'tsc')).toMatch(new RegExp(`dom${domid}\\(hvm\\): mode=2,`));
}, T);

test('the guest boots and its first PCI scan already has the device, at the slot xl and xm list', async () => {
  const first = await withRetryOnPlatformFailure('first boot', () => waitReport(() => true, 0, 1_200_000));
  const dev = first.devices.find((d) => d.id === BOOTDEV_ID);
  expect(dev?.bdf).toBe(`0000:00:${hex2(bootSlot)}.0`);
  expect(first.devices.some((d) => d.id === HOTDEV_ID)).toBe(false);
  const s = await runSteps(vm, 'hvm-xm-list', [step('xm-list', `${xm} pci-list ${GUEST}`)]);
  expect(s['xm-list']).toEqual({ out: xmRows(), rc: 0 });
}, T);

test('xentool console reaches the guest’s emulated serial port (the pty QEMU published; serial is the default for HVM)', async () => {
  const r = await vm.exec(consoleProbe(`${xt} console ${GUEST}`, GUEST), { timeoutS: 400 });
  saveTranscript('xentool/hvm/serial-console.txt', r.stdout + r.stderr);
  expect(section(r.stdout, 'err')).toBe('');
  // The kernel's sysrq help, which the guest printed on ttyS0 (and hvc0).
  expect(section(r.stdout, 'console')).toMatch(/sysrq: HELP/i);
}, T);

/** xentool pci-attach DOM BDF@06: QMP device_add at slot 6; the guest finds the device there. */
async function xentoolAttach(found: { what: string; seconds: number }[]): Promise<void> {
  const from = mark();
  const s = await runSteps(vm, 'hvm-attach', [
    timed('attach', `${xt} pci-attach ${GUEST} ${HOTDEV}@06`),
    step('xt-list', `${xt} pci-list ${GUEST}`),
    step('xl-list', `xl pci-list ${GUEST}`),
    step('xm-list', `${xm} pci-list ${GUEST}`),
    step('backend', `xenstore-ls -f /local/domain/0/backend/pci/${domid}`),
    step('libxl', `xenstore-ls -f /libxl/pci`),
    step('assignable', `${xt} pci-assignable-list`),
  ]);
  expect(s.attach!.rc).toBe(0);
  found.push({ what: 'xentool pci-attach @06', seconds: ms(s.attach!) / 1000 });
  expect(s['xt-list']!.out).toBe(xlRows(6));
  expect(s['xl-list']!.out).toBe(s['xt-list']!.out);
  // The seed's layout (Xen 3.3 xm), trailing spaces included.
  expect(s['xm-list']!.out).toBe(xmRows(6));
  // libxl's HVM backend keys: the PV ones plus vdevfn-N (hex devfn 0x30 = slot 6); the edu given
  // at creation is dev-0.
  const be = s.backend!.out;
  expect(be).toMatch(new RegExp(`/backend/pci/${domid}/0/dev-1 = "${HOTDEV}"`));
  expect(be).toMatch(new RegExp(`/backend/pci/${domid}/0/vdevfn-1 = "30"`));
  expect(be).toMatch(new RegExp(`/backend/pci/${domid}/0/num_devs = "2"`));
  expect(s.libxl!.out).toMatch(new RegExp(`/libxl/pci/0000-00-06-0/domid = "${domid}"`));
  expect(s.assignable!.out.split('\n')).not.toContain(`${HOTDEV} `);
  const seen = await waitReport(hotAt(6), from, 300_000);
  expect(seen.devices.find((d) => d.id === HOTDEV_ID)!.bdf).toBe('0000:00:06.0');
}

/** xentool pci-detach: QMP device_del, the guest's ACPI hot-removal, the device assignable again. */
async function xentoolDetach(found: { what: string; seconds: number }[]): Promise<void> {
  const from = mark();
  const s = await runSteps(vm, 'hvm-detach', [
    timed('detach', `${xt} pci-detach --timeout 300 ${GUEST} ${HOTDEV}`),
    step('xt-list', `${xt} pci-list ${GUEST}`),
    step('backend', `xenstore-ls -f /local/domain/0/backend/pci/${domid} 2>&1 || true`),
    step('assignable', `${xt} pci-assignable-list`),
  ]);
  expect(s.detach!.rc).toBe(0);
  found.push({ what: 'xentool pci-detach', seconds: ms(s.detach!) / 1000 });
  expect(s['xt-list']!.out).toBe(xlRows());
  expect(s.backend!.out).not.toContain(HOTDEV);
  expect(s.assignable!.out.split('\n')).toContain(`${HOTDEV} `);
  const gone = await waitReport(hotGone, from, 300_000);
  // The device given at creation stays.
  expect(hasBootdev(gone)).toBe(true);
}

/** xm pci-attach DOM BDF 7 honours slot 7; xl lists it; xm pci-detach takes it out of the guest. */
async function xmAttachDetach(): Promise<void> {
  const from = mark();
  const s = await runSteps(vm, 'hvm-xm', [
    timed('xm-attach', `${xm} pci-attach ${GUEST} 0:0:6.0 7`),
    step('xm-list', `${xm} pci-list ${GUEST}`),
    step('xl-list', `xl pci-list ${GUEST}`),
  ]);
  expect(s['xm-attach']!.rc).toBe(0);
  expect(onlyWarnings(withoutTiming(s['xm-attach']!).out)).toEqual([]);
  expect(s['xm-list']!.out).toBe(xmRows(7));
  expect(s['xl-list']!.out).toBe(xlRows(7));
  await waitReport(hotAt(7), from, 300_000);
  const mid = mark();
  // xm's own default is 10 s, which a guest under TCG does not meet: --timeout as for xentool.
  const d = await runSteps(vm, 'hvm-xm-detach', [
    timed('xm-detach', `${xm} --timeout 300 pci-detach ${GUEST} 0:0:6.0`),
    step('xl-list', `xl pci-list ${GUEST}`),
    step('assignable', 'xl pci-assignable-list'),
  ]);
  expect(d['xm-detach']!.rc).toBe(0);
  expect(d['xl-list']!.out).toBe(xlRows());
  expect(d.assignable!.out.split('\n')).toContain(`${HOTDEV} `);
  await waitReport(hotGone, mid, 300_000);
}

/** xl pci-attach of the same device at slot 6, which xentool lists (left attached: the restart releases it). */
async function xlAttach(found: { what: string; seconds: number }[]): Promise<void> {
  const from = mark();
  const s = await runSteps(vm, 'hvm-xl-attach', [timed('xl-attach', `xl pci-attach ${GUEST} ${HOTDEV}@06`), step('xt-list', `${xt} pci-list ${GUEST}`)]);
  expect(s['xl-attach']!.rc).toBe(0);
  found.push({ what: 'xl pci-attach @06', seconds: ms(s['xl-attach']!) / 1000 });
  expect(s['xt-list']!.out).toBe(xlRows(6));
  await waitReport(hotAt(6), from, 300_000);
  // What one xentool start costs in this dom0 (node under TCG), for reading the table: a read
  // command, and node itself.
  const v = await runSteps(vm, 'hvm-xt-start', [timed('xt-start', `${xt} pci-assignable-list >/dev/null`), timed('node', 'node -e 0')]);
  expect(v['xt-start']!.rc).toBe(0);
  found.push({ what: 'xentool pci-assignable-list (start-up and one read)', seconds: ms(v['xt-start']!) / 1000 });
  found.push({ what: '`node -e 0` (node start-up alone)', seconds: ms(v.node!) / 1000 });
}

hotplugTest('hot-plug into the running guest: xentool pci-attach @06 (the guest finds it at slot 6) and pci-detach (the ACPI hot-removal reaches it), xm pci-attach at slot 7 and pci-detach, xl pci-attach @06 (timing)', async () => {
  const found = await withRetryOnPlatformFailure('hot-plug', async () => {
    const mine: { what: string; seconds: number }[] = [];
    await xentoolAttach(mine);
    if (resetOnce) {
      resetOnce = false;
      await vm.exec(`xl sysrq ${GUEST} b`);
    }
    await xentoolDetach(mine);
    await xmAttachDetach();
    await xlAttach(mine);
    return mine;
  });
  timings.push(...found);
}, T);

test('shutdown -w: the guest powers off; the monitor applies on_poweroff=restart (a new domain and QEMU, the config’s device given again, the hot-plugged one released); nothing of the old domain is left', async () => {
  const r = await vm.exec(
    [
      `old=$(xl domid ${GUEST}); PID=$(xenstore-read /local/domain/$old/image/device-model-pid); uuid=$(xenstore-read /local/domain/$old/vm | sed 's#^/vm/##')`,
      `echo "=== old ==="; echo $old`,
      // As for the PV guest (20-create-pv): the request is read while the guest is paused, and
      // its shell /init ignores the orderly poweroff the kernel then starts, so sysrq o powers
      // the kernel off (ACPI S5: QEMU asks Xen for a poweroff shutdown).
      `xl pause ${GUEST}`,
      `(timeout 600 env ${xt} shutdown -w ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc) > /tmp/shutdown.out 2> /tmp/shutdown.err &`,
      `i=0; while [ "$(xenstore-read /local/domain/$old/control/shutdown)" != poweroff ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done`,
      `echo "=== request ==="; xenstore-read /local/domain/$old/control/shutdown; xl unpause ${GUEST}`,
      `i=0; while [ -n "$(xenstore-read /local/domain/$old/control/shutdown)" ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
      `xl sysrq ${GUEST} o`,
      // shutdown -w returns when the old domain is gone; the monitor then builds the new one.
      `wait; cat /tmp/shutdown.out; cat /tmp/shutdown.err >&2`,
      `i=0; while [ $i -lt 300 ]; do n=$(xl domid ${GUEST} 2>/dev/null); [ -n "$n" ] && [ "$n" != "$old" ] && break; sleep 1; i=$((i+1)); done`,
      `D=$(xl domid ${GUEST}); echo "=== new ==="; echo $D`,
      `i=0; while [ $i -lt 300 ] && [ "$(xenstore-read /local/domain/0/device-model/$D/state 2>/dev/null)" != running ]; do sleep 1; i=$((i+1)); done`,
      `echo "=== old-qemu ==="; [ -d /proc/$PID ] && echo running || echo gone`,
      `echo "=== old-sockets ==="; ls /var/run/xen/ | grep -E "qmp-(libxl|libxenstat)-$old$"; true`,
      `NPID=$(xenstore-read /local/domain/$D/image/device-model-pid); echo "=== qemu-domid ==="; tr '\\000' '\\n' < /proc/$NPID/cmdline | grep -A1 '^-xen-domid$' | tail -1`,
      `echo "=== old-left ==="; xenstore-ls -f | grep -E "^(/local/domain/$old|/libxl/$old|/local/domain/0/(backend/[a-z]+|device-model)/$old)( |/)"; true`,
      `echo "=== vm ==="; xenstore-read /local/domain/$D/vm`,
      // The new domain's own monitor starts when the creation, its PCI device included, is
      // complete; the old one exits once it has acted (it may still be on its way out then).
      `i=0; while [ $i -lt 300 ] && [ "$(${MONITORS} | sed 's/.*create --monitor \\([0-9]*\\) .*/\\1/')" != "$D" ]; do sleep 1; i=$((i+1)); done`,
      `echo "=== xl-pci ==="; xl pci-list ${GUEST}`,
      `echo "=== assignable ==="; xl pci-assignable-list`,
      `echo "=== libxl-hot ==="; xenstore-ls -f /libxl/pci/0000-00-06-0 2>/dev/null; true`,
      `echo "=== monitors ==="; ${MONITORS} | sed 's/.*create --monitor \\([0-9]*\\) .*/\\1/'`,
      `echo "=== log ==="; cat /var/log/xen/xentool-${GUEST}.log`,
      `echo "=== uuid ==="; echo $uuid`,
    ].join('\n'),
    { timeoutS: 900 },
  );
  saveTranscript('xentool/hvm/shutdown.txt', r.stdout + r.stderr);
  expect(section(r.stdout, 'request').trim()).toBe('poweroff');
  expect(section(r.stdout, 'rc').trim()).toBe('0');
  expect(r.stderr).toMatch(/Shutting down domain \d+\nWaiting for 1 domains\nDomain \d+ has been destroyed/);
  const oldId = section(r.stdout, 'old').trim();
  const newId = section(r.stdout, 'new').trim();
  expect(newId).toMatch(/^\d+$/);
  expect(newId).not.toBe(oldId);
  expect(section(r.stdout, 'old-qemu').trim()).toBe('gone');
  expect(section(r.stdout, 'old-sockets').trim()).toBe('');
  expect(section(r.stdout, 'qemu-domid').trim()).toBe(newId);
  expect(section(r.stdout, 'old-left').trim()).toBe('');
  // The same guest again: same uuid.
  expect(section(r.stdout, 'vm').trim()).toBe(`/vm/${section(r.stdout, 'uuid').trim()}`);
  // The config's device is given again; the one xl hot-plugged went back with the old domain.
  expect(section(r.stdout, 'xl-pci')).toBe(xlRows().trimEnd());
  expect(section(r.stdout, 'assignable').split('\n')).toContain(`${HOTDEV} `);
  expect(section(r.stdout, 'libxl-hot').trim()).toBe('');
  expect(section(r.stdout, 'monitors').trim()).toBe(newId);
  expect(section(r.stdout, 'log')).toMatch(new RegExp(`Domain ${oldId} has been shut down, reason code poweroff[\\s\\S]*Restarting domain ${GUEST}`));
  domid = Number(newId);
}, T);

test('destroy: the restarted domain goes with its QEMU, sockets, nodes and monitor; Xen’s free memory is back where it was before the create', async () => {
  const r = await vm.exec(
    [
      `D=$(xl domid ${GUEST}); PID=$(xenstore-read /local/domain/$D/image/device-model-pid); uuid=$(xenstore-read /local/domain/$D/vm | sed 's#^/vm/##')`,
      `${xt} destroy ${GUEST}; echo "=== rc ==="; echo $?`,
      `echo "=== qemu ==="; i=0; while [ -d /proc/$PID ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done; [ -d /proc/$PID ] && echo running || echo gone`,
      `echo "=== sockets ==="; ls /var/run/xen/ | grep -E "qmp-(libxl|libxenstat)-$D$"; true`,
      `i=0; while ${MONITORS} >/dev/null && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
      `echo "=== monitor ==="; ${MONITORS} >/dev/null && echo running || echo none`,
      `echo "=== left ==="; xenstore-ls -f | grep -E "^(/local/domain/$D|/libxl/$D|/vm/$uuid|/local/domain/0/(backend/[a-z]+|device-model)/$D)( |/)"; ls /var/lib/xen/ | grep "\\.$D\\."; true`,
      `echo "=== assignable ==="; xl pci-assignable-list`,
      // Xen frees a dead domain's pages as it tears it down: wait up to 2 minutes for the figure.
      `end=$(($(date +%s) + 120)); while [ "$(${FREE})" != "${freeBefore}" ] && [ $(date +%s) -lt $end ]; do sleep 1; done`,
      `echo "=== free ==="; ${FREE}; echo "=== domains ==="; xl list | tail -n +2 | awk '{print $1}'`,
    ].join('\n'),
    { timeoutS: 600 },
  );
  saveTranscript('xentool/hvm/destroy.txt', r.stdout + r.stderr);
  expect(section(r.stdout, 'rc').trim()).toBe('0');
  expect(section(r.stdout, 'qemu').trim()).toBe('gone');
  expect(section(r.stdout, 'sockets').trim()).toBe('');
  expect(section(r.stdout, 'monitor').trim()).toBe('none');
  expect(section(r.stdout, 'left').trim()).toBe('');
  expect(section(r.stdout, 'assignable').split('\n')).toEqual(expect.arrayContaining([`${BOOTDEV} `, `${HOTDEV} `]));
  // No memory leaked across create, two hot-plugs, the restart (destroy + create) and the
  // destroy: with only dom0 left, Xen's free memory is what it was before the create.
  expect(section(r.stdout, 'domains').trim()).toBe('Domain-0');
  expect(Number(section(r.stdout, 'free').trim())).toBe(freeBefore);
}, T);
