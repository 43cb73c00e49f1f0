/**
 * Issue 9, PV lifecycle on real Xen 4.17 without libxl: `xentool create` builds the busybox
 * guest through libxenctrl/libxenguest (koffi) and our own xenstore client, xenconsoled serves
 * its console, and the guest's /init runs. Then: xl and xentool list it alike, the console is
 * reachable, `shutdown -w` ends it through the per-domain monitor, `destroy` leaves no xenstore
 * node, no monitor process and no memory behind, `xl destroy` cleans up what xentool created and
 * the reverse, and a creation that fails part-way (a file that is no kernel; an injected failure
 * after the image is built) leaves nothing behind and names the step.
 *
 * Each xentool run costs about a minute under TCG (node starting from 9p), so each test does
 * several steps per dom0 round trip.
 */
import * as fs from 'node:fs';
import { guestBootMap, hostHolesMissing, xenBootMap } from './20-pv-cases';
import { consoleProbe, pvGuestConfig, waitForGuestPci, writeGuestConfig } from './guests';
import { saveTranscript, suiteVm, xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

// The served VM is shared: this file creates and destroys only domains named xtd* (and only its
// own monitors, whose command line names a config under guests/xtd*).
const GUEST = 'xtdpv';
const T = 900_000;
/** pci-testdev (1b36:0005, one memory BAR and one I/O BAR): the device this file may pass through. */
const TESTDEV = '0000:00:06.0';
const PCI_GUEST = 'xtdpci';

let vm: XenVm;
let xentool: string;
let cfg: string;

/** xenstore as dom0 sees it, minus what moves by itself (dom0's own memory target and tool nodes). */
/**
 * xenstore as dom0 sees it, minus what moves by itself (dom0's memory target, device-model) and
 * the bare toolstack roots /libxl, /vm and /local/domain/0/backend: the first domain ever created
 * makes them and xl never removes /libxl and /vm either (seen in this VM: after xl destroy only
 * the empty backend directory went away).
 */
const XS_DUMP = `xenstore-ls -f | grep -v -E '^/local/domain/0/(memory|device-model)' | grep -v -E '^(/libxl|/vm|/local/domain/0/backend) = ""$' | sort`;
const FREE = `xl info | sed -n 's/^free_memory *: //p'`;
const NO_MONITOR = `no_monitor`;
/**
 * This file's monitors: `create --monitor DOMID /mnt/host/guests/xtd{pv,pci,bad}.cfg` (21's HVM
 * guest, xtdhvm, may be running beside them with its own).
 */
const OUR_MONITORS = `ps | grep -v grep | grep 'create --monitor' | grep -E '/guests/xtd(pv|pci|bad)[.]cfg'`;
/**
 * Shell helpers: a monitor may still be starting (node from 9p takes about a minute) when its
 * domain is destroyed, and Xen hands a dead domain's pages back asynchronously, so both are
 * waited for (up to 2 minutes) before they are compared.
 */
const HELPERS = [
  `no_monitor() { ! ${OUR_MONITORS} >/dev/null; }`,
  // Deadlines in seconds of wall clock, not loop turns: one \`xl info\` alone takes seconds under load.
  `wait_no_monitor() { end=$(($(date +%s) + 120)); while ! ${NO_MONITOR} && [ $(date +%s) -lt $end ]; do sleep 1; done; ${NO_MONITOR} && echo none; }`,
  // With other guests running (a shared VM) free memory moves by itself: not waited for then.
  `wait_free() { alone || { echo shared; return; }; end=$(($(date +%s) + 120)); while [ "$(${FREE})" != "$1" ] && [ $(date +%s) -lt $end ]; do sleep 1; done; ${FREE}; }`,
  // The guest's identity while it exists, then every node that still names it.
  `ident() { id=$(xl domid ${GUEST}); uuid=$(xenstore-read /local/domain/$id/vm | sed 's#^/vm/##'); }`,
  `leftovers() { xenstore-ls -f | grep -E "^(/local/domain/$id|/libxl/$id|/vm/$uuid|/local/domain/0/backend/[a-z]+/$id)( |/)"; true; }`,
  // Other guests (another scenario sharing a served VM) make host-wide comparisons meaningless.
  `alone() { [ "$(xl list | wc -l)" = 2 ]; }`,
].join('\n');

/** How many times the guest's /init announced itself on the console. */
const readyCount = (console: string) => (console.match(/xenvm-guest: ready/g) ?? []).length;

/** The lines after `=== name ===` up to the next marker (an empty section is ''). */
function section(out: string, name: string): string {
  const lines = out.split('\n');
  const start = lines.indexOf(`=== ${name} ===`);
  if (start < 0) return '';
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^=== .+ ===$/.test(l));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

beforeAll(async () => {
  vm = suiteVm();
  xentool = xentoolCommand(vm);
  // on_poweroff/on_reboot defaults (destroy/restart) so the monitor has work to do.
  cfg = writeGuestConfig(vm, GUEST, pvGuestConfig(GUEST, { passthrough: false }).replace('on_crash = "preserve"\n', ''));
  // A console log or monitor log of an earlier run would answer this run's waits.
  await vm.exec(`${CLEANUP}; rm -f /var/log/xen/xentool-${GUEST}.log /var/log/xen/console/guest-${GUEST}.log`);
});

/** Leaves no guest or monitor of this file behind, whatever failed (also run first, after an aborted run). */
const CLEANUP = `xl destroy ${GUEST} 2>/dev/null; xl destroy xtdbad 2>/dev/null; xl destroy ${PCI_GUEST} 2>/dev/null; for p in $(${OUR_MONITORS} | awk '{print $1}'); do kill $p; done; true`;

afterAll(async () => {
  if (!vm) return;
  await vm.exec(CLEANUP);
});

describe('xentool create: a PV guest on real Xen, without libxl', () => {
  test(
    'the guest boots, xl list and xentool list agree, and a monitor watches it',
    async () => {
      const r = await vm.exec(
        [
          `${xentool} create ${cfg}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== xl ==="; xl list`,
          `echo "=== xentool ==="; ${xentool} list`,
          `echo "=== domid ==="; ${xentool} domid ${GUEST}; xl domid ${GUEST}`,
          `echo "=== monitor ==="; ${OUR_MONITORS} | wc -l`,
          `echo "=== nodes ==="; xenstore-ls -f /local/domain/$(xl domid ${GUEST})`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/create.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(r.stderr).toContain(`Parsing config from ${cfg}`);
      const console = await vm.waitForConsole(GUEST, /xenvm-guest: ready/, 300_000);
      expect(console).toMatch(/Linux version/);
      // No pci=, no e820_host (xl's default): the guest's map is the memmap limit's single RAM
      // entry, so none of the host's holes below 4 GiB shows in it (the contrast to the pci= case).
      const guestMap = guestBootMap(console);
      expect(guestMap.length).toBeGreaterThan(0);
      expect(hostHolesMissing(xenBootMap(fs.readFileSync(vm.serialLog, 'utf8')), guestMap)).not.toEqual([]);
      // Other scenarios may share the VM: compare the guest's own row (name, id, memory, vcpus;
      // the state flags and the time move between the two calls).
      const row = (text: string) => new RegExp(`^${GUEST}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s`, 'm').exec(text)?.slice(1);
      expect(row(section(r.stdout, 'xentool'))).toEqual(row(section(r.stdout, 'xl')));
      expect(row(section(r.stdout, 'xl'))).toEqual([expect.stringMatching(/^\d+$/), '128', '1']);
      const [ours, xls] = section(r.stdout, 'domid').trim().split('\n');
      expect(ours).toBe(xls);
      expect(section(r.stdout, 'monitor').trim()).toBe('1');
      const nodes = section(r.stdout, 'nodes');
      expect(nodes).toMatch(/\/console\/tty = "\/dev\/pts\/\d+"/);
      expect(nodes).toMatch(/\/store\/ring-ref = "\d+"/);
    },
    T,
  );

  test(
    'xentool console reaches the guest console through the pty xenconsoled published',
    async () => {
      const r = await vm.exec(
        [
          `id=$(xl domid ${GUEST})`,
          `echo "=== tty ==="; xenstore-read /local/domain/$id/console/tty`,
          consoleProbe(`${xentool} console ${GUEST}`, GUEST),
        ].join('\n'),
        { timeoutS: 400 },
      );
      saveTranscript('xentool/create-pv/console.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'tty').trim()).toMatch(/^\/dev\/pts\/\d+$/);
      expect(section(r.stdout, 'err')).toBe('');
      expect(section(r.stdout, 'console')).toMatch(/sysrq: HELP/i);
    },
    T,
  );

  test(
    'reboot: the guest restarts its kernel, the monitor applies on_reboot=restart and the domain comes back',
    async () => {
      const readyBefore = readyCount(vm.guestConsole(GUEST));
      const r = await vm.exec(
        [
          HELPERS,
          `ident; echo "=== old ==="; echo "$id $uuid"`,
          // The guest's xenbus driver answers control/shutdown = reboot with ctrl_alt_del(); its
          // /init (a shell script) never turned C-A-D off, so the kernel restarts at once
          // (SCHEDOP_shutdown reboot), and the monitor must destroy and create it again.
          `${xentool} reboot ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc`,
          // The new domain: another domid, the same name and uuid (up to 5 minutes: the monitor
          // destroys, waits 2 s as xl does, then builds again).
          `i=0; while [ $i -lt 300 ]; do n=$(xl domid ${GUEST} 2>/dev/null); [ -n "$n" ] && [ "$n" != "$id" ] && break; sleep 1; i=$((i+1)); done`,
          `old=$id; ident; echo "=== new ==="; echo "$id $uuid"`,
          `echo "=== old-left ==="; xenstore-ls -f | grep -E "^(/local/domain/$old|/libxl/$old|/local/domain/0/backend/[a-z]+/$old)( |/)"; true`,
          // The new domain's own monitor starts, and the old one exits once it has acted (it
          // may still be on its way out when the new one appears).
          `i=0; while [ $i -lt 120 ] && [ "$(${OUR_MONITORS} | sed 's/.*create --monitor \\([0-9]*\\) .*/\\1/')" != "$id" ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== monitors ==="; ${OUR_MONITORS} | sed 's/.*create --monitor \\([0-9]*\\) .*/\\1/'`,
          `echo "=== log ==="; cat /var/log/xen/xentool-${GUEST}.log`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/reboot.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(r.stderr).toMatch(/Rebooting domain \d+/);
      const [oldId, oldUuid] = section(r.stdout, 'old').trim().split(' ');
      const [newId, newUuid] = section(r.stdout, 'new').trim().split(' ');
      expect(oldId).toMatch(/^\d+$/);
      expect(newId).toMatch(/^\d+$/);
      expect(newId).not.toBe(oldId);
      expect(newUuid).toBe(oldUuid);
      expect(section(r.stdout, 'old-left').trim()).toBe('');
      // Exactly one monitor, the new domain's: the old one exited after acting.
      expect(section(r.stdout, 'monitors').trim()).toBe(newId);
      expect(section(r.stdout, 'log')).toMatch(new RegExp(`Domain ${oldId} has been shut down, reason code reboot[\\s\\S]*Restarting domain ${GUEST}`));
      // The restarted guest boots again: one more "ready" on its console (xenconsoled appends).
      const deadline = Date.now() + 300_000;
      while (readyCount(vm.guestConsole(GUEST)) <= readyBefore && Date.now() < deadline) await new Promise((res) => setTimeout(res, 1000));
      expect(readyCount(vm.guestConsole(GUEST))).toBe(readyBefore + 1);
    },
    T,
  );

  test(
    'shutdown -w: control/shutdown is written, the guest powers off, the monitor destroys it',
    async () => {
      const r = await vm.exec(
        [
          // The guest acknowledges control/shutdown by writing "" back (Linux xenbus
          // shutdown_handler), so the request is read while the guest is paused. Its /init is a
          // shell script that ignores the orderly poweroff the kernel then starts (seen in this VM:
          // the guest stayed up for 400 s), so sysrq o powers the kernel off directly
          // (SCHEDOP_shutdown poweroff), which the monitor must then act on.
          `id=$(xl domid ${GUEST}); xl pause ${GUEST}`,
          `(timeout 400 env ${xentool} shutdown -w ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc) > /tmp/shutdown.out 2> /tmp/shutdown.err &`,
          `i=0; while [ "$(xenstore-read /local/domain/$id/control/shutdown)" != poweroff ] && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== request ==="; xenstore-read /local/domain/$id/control/shutdown; xl unpause ${GUEST}`,
          `i=0; while [ -n "$(xenstore-read /local/domain/$id/control/shutdown)" ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== acked ==="; echo "[$(xenstore-read /local/domain/$id/control/shutdown)]"; xl sysrq ${GUEST} o`,
          `wait; cat /tmp/shutdown.out; cat /tmp/shutdown.err >&2`,
          `echo "=== xl ==="; xl list`,
          HELPERS,
          `echo "=== monitor ==="; wait_no_monitor`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/shutdown.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'request').trim()).toBe('poweroff');
      expect(section(r.stdout, 'acked').trim()).toBe('[]');
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(r.stderr).toMatch(/Shutting down domain \d+\nWaiting for 1 domains\nDomain \d+ has been destroyed/);
      expect(section(r.stdout, 'xl')).not.toMatch(new RegExp(`^${GUEST}\\s`, 'm'));
      expect(section(r.stdout, 'monitor').trim()).toBe('none');
    },
    T,
  );

  test(
    'destroy leaves no xenstore node, no monitor and no memory behind',
    async () => {
      const r = await vm.exec(
        [
          HELPERS,
          `${XS_DUMP} > /tmp/xs-before; ${FREE} > /tmp/free-before`,
          `${xentool} create ${cfg} || exit 10`,
          `ident`,
          `${xentool} destroy ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== monitor ==="; wait_no_monitor`,
          `echo "=== left ==="; leftovers`,
          `echo "=== free ==="; cat /tmp/free-before; wait_free "$(cat /tmp/free-before)"`,
          `echo "=== xsdiff ==="; alone && { ${XS_DUMP} | diff /tmp/xs-before - ; true; } || echo shared`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/destroy.txt', r.stdout + r.stderr);
      expect(r.code).not.toBe(10);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(section(r.stdout, 'left').trim()).toBe('');
      expect(section(r.stdout, 'monitor').trim()).toBe('none');
      if (section(r.stdout, 'xsdiff').trim() !== 'shared') {
        expect(section(r.stdout, 'xsdiff').trim()).toBe('');
        const [before, after] = section(r.stdout, 'free').trim().split('\n');
        expect(after).toBe(before);
      }
    },
    T,
  );

  test(
    'xl destroy cleans up a domain xentool created, and xentool destroy one xl created',
    async () => {
      const r = await vm.exec(
        [
          HELPERS,
          `${XS_DUMP} > /tmp/xs-before; ${FREE} > /tmp/free-before`,
          `${xentool} create ${cfg} || exit 10`,
          `ident`,
          `xl destroy ${GUEST}; rc=$?; echo "=== xl-rc ==="; echo $rc`,
          `echo "=== monitor1 ==="; wait_no_monitor`,
          `echo "=== left1 ==="; leftovers`,
          `echo "=== free1 ==="; cat /tmp/free-before; wait_free "$(cat /tmp/free-before)"`,
          `echo "=== xsdiff1 ==="; alone && { ${XS_DUMP} | diff /tmp/xs-before - ; true; } || echo shared`,
          `xl create ${cfg} || exit 11`,
          `ident`,
          `${xentool} destroy ${GUEST}; rc=$?; echo "=== xt-rc ==="; echo $rc`,
          `echo "=== left2 ==="; leftovers`,
          `echo "=== free2 ==="; cat /tmp/free-before; wait_free "$(cat /tmp/free-before)"`,
          `sleep 2; echo "=== xsdiff2 ==="; alone && { ${XS_DUMP} | diff /tmp/xs-before - ; true; } || echo shared`,
          `echo "=== xl-monitor ==="; ps | grep -v grep | grep -c 'xl create .*/guests/xtdpv'; true`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/cross-destroy.txt', r.stdout + r.stderr);
      expect(r.code).not.toBe(10);
      expect(r.code).not.toBe(11);
      const free = (name: string) => section(r.stdout, name).trim().split('\n');
      const shared = section(r.stdout, 'xsdiff1').trim() === 'shared' || section(r.stdout, 'xsdiff2').trim() === 'shared';
      expect(section(r.stdout, 'xl-rc').trim()).toBe('0');
      expect(section(r.stdout, 'left1').trim()).toBe('');
      expect(section(r.stdout, 'monitor1').trim()).toBe('none');
      expect(section(r.stdout, 'xt-rc').trim()).toBe('0');
      expect(section(r.stdout, 'left2').trim()).toBe('');
      if (!shared) {
        expect(section(r.stdout, 'xsdiff1').trim()).toBe('');
        expect(free('free1')[1]).toBe(free('free1')[0]);
        expect(section(r.stdout, 'xsdiff2').trim()).toBe('');
        expect(free('free2')[1]).toBe(free('free2')[0]);
      }
      // xl's monitor daemon notices the death and exits.
      expect(section(r.stdout, 'xl-monitor').trim()).toBe('0');
    },
    T,
  );

  test(
    'a creation that fails part-way names the step and leaves nothing behind',
    async () => {
      const bad = writeGuestConfig(vm, 'xtdbad', pvGuestConfig('xtdbad', { passthrough: false }).replace('/guest/vmlinuz', '/etc/passwd'));
      const r = await vm.exec(
        [
          HELPERS,
          `${XS_DUMP} > /tmp/xs-before; ${FREE} > /tmp/free-before`,
          `echo "=== junk ==="; ${xentool} create ${bad}; echo "rc=$?"`,
          `echo "=== injected ==="; XENTOOL_TEST_FAIL_AT_STEP=5 ${xentool} create ${cfg}; echo "rc=$?"`,
          `echo "=== free ==="; cat /tmp/free-before; wait_free "$(cat /tmp/free-before)"`,
          `echo "=== xsdiff ==="; alone && { ${XS_DUMP} | diff /tmp/xs-before - ; true; } || echo shared`,
          `echo "=== xl ==="; xl list`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/failures.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'junk')).toContain('rc=1');
      expect(r.stderr).toMatch(/create xtdbad: step 4\/10 \(build the PV image: kernel \/etc\/passwd.*\) failed: xc_dom_parse_image: .*; the 3 completed steps were undone/);
      expect(section(r.stdout, 'injected')).toContain('rc=1');
      expect(r.stderr).toMatch(/create xtdpv: step 6\/10 \(introduce the domain to xenstored.*\) failed/);
      expect(section(r.stdout, 'xl')).not.toMatch(/^xtd(pv|bad)\s/m);
      if (section(r.stdout, 'xsdiff').trim() !== 'shared') {
        expect(section(r.stdout, 'xsdiff').trim()).toBe('');
        const [before, after] = section(r.stdout, 'free').trim().split('\n');
        expect(after).toBe(before);
      }
    },
    T,
  );
});

describe('xentool create with pci=[...] on real Xen (PV)', () => {
  beforeAll(async () => {
    // xenconsoled appends: an earlier run's reports would answer this run's wait.
    await vm.exec(`xl destroy ${PCI_GUEST} 2>/dev/null; rm -f /var/log/xen/console/guest-${PCI_GUEST}.log; true`);
  });

  afterAll(async () => {
    // The device goes back to the assignable list, where the other scenarios expect it.
    if (vm) await vm.exec(`xl destroy ${PCI_GUEST} 2>/dev/null; xl pci-assignable-list | grep -q '^${TESTDEV} ' || xl pci-assignable-add ${TESTDEV}; true`);
  });

  test(
    'a device that is not assignable: one line, nothing created',
    async () => {
      const cfg = writeGuestConfig(vm, PCI_GUEST, pvGuestConfig(PCI_GUEST, { pci: [TESTDEV] }));
      const r = await vm.exec(
        [
          HELPERS,
          `xl pci-assignable-list | grep -q '^${TESTDEV} ' && xl pci-assignable-remove ${TESTDEV}`,
          `echo "=== assignable ==="; xl pci-assignable-list`,
          `${XS_DUMP} > /tmp/xs-before`,
          `${xentool} create ${cfg} 2>/tmp/create.err; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== err ==="; cat /tmp/create.err`,
          `echo "=== xl ==="; xl list`,
          `echo "=== xsdiff ==="; ${XS_DUMP} | diff /tmp/xs-before - ; true`,
        ].join('\n'),
        { timeoutS: 300 },
      );
      saveTranscript('xentool/create-pv/pci-not-assignable.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'assignable')).not.toContain(TESTDEV);
      expect(section(r.stdout, 'rc').trim()).toBe('1');
      expect(section(r.stdout, 'err').trim().split('\n')).toEqual([
        `Parsing config from ${cfg}`,
        `${cfg}: pci device ${TESTDEV} is not assignable (bind it with pci-assignable-add; see pci-assignable-list)`,
      ]);
      expect(section(r.stdout, 'xl')).not.toMatch(new RegExp(`^${PCI_GUEST}\\s`, 'm'));
      // Nothing of the refused domain: xenstore is as it was (another guest of the lead's may
      // change its own nodes meanwhile, so only lines naming this guest count).
      expect(section(r.stdout, 'xsdiff')).not.toContain(PCI_GUEST);
    },
    T,
  );

  test(
    'the guest sees the device at boot; xl and xentool pci-list show it; destroy gives it back',
    async () => {
      const cfg = `/mnt/host/guests/${PCI_GUEST}.cfg`;
      const r = await vm.exec(
        [
          HELPERS,
          `xl pci-assignable-add ${TESTDEV}`,
          `${xentool} create ${cfg}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== xl-pci ==="; xl pci-list ${PCI_GUEST}`,
          `echo "=== xt-pci ==="; ${xentool} pci-list ${PCI_GUEST}`,
          `echo "=== assignable ==="; xl pci-assignable-list`,
          `echo "=== backend ==="; xenstore-ls -f /local/domain/0/backend/pci/$(xl domid ${PCI_GUEST})`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/pci-create.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      // (section() drops the last newline.)
      expect(section(r.stdout, 'xl-pci')).toBe(`Vdev Device\n00.0 ${TESTDEV}`);
      expect(section(r.stdout, 'xt-pci')).toBe(section(r.stdout, 'xl-pci'));
      expect(section(r.stdout, 'assignable')).not.toContain(TESTDEV);
      // The guest's first PCI report (written by its /init after pcifront and the drivers loaded)
      // already has the device: it was there at boot, not hot-plugged later.
      const report = await waitForGuestPci(vm, PCI_GUEST, () => true, 0, 420_000);
      expect(report.n).toBe(1);
      expect(report.devices.map((d) => d.id)).toEqual(['1b36:0005']);
      // pci= turns e820_host on (as xl does): the guest's memory map is derived from the host's,
      // so every reserved region Xen printed at boot between 1 MiB and 4 GiB is a non-RAM line
      // in the map the guest's kernel printed, and none of its RAM overlaps one.
      const hostMap = xenBootMap(fs.readFileSync(vm.serialLog, 'utf8'));
      const guestMap = guestBootMap(vm.guestConsole(PCI_GUEST));
      const show = (m: typeof hostMap) => m.map((l) => `${l.start.toString(16)}-${l.end.toString(16)} ${l.type}`).join('\n');
      saveTranscript('xentool/create-pv/pci-e820.txt', `host (Xen boot map):\n${show(hostMap)}\n\nguest (its kernel's map):\n${show(guestMap)}\n`);
      expect(guestMap.length).toBeGreaterThan(0);
      expect(hostHolesMissing(hostMap, guestMap)).toEqual([]);
      const d = await vm.exec(
        [
          HELPERS,
          `id=$(xl domid ${PCI_GUEST}); uuid=$(xenstore-read /local/domain/$id/vm | sed 's#^/vm/##')`,
          `${xentool} destroy ${PCI_GUEST}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== left ==="; leftovers; xenstore-ls -f /libxl/pci 2>/dev/null | grep '${TESTDEV.replace(/[:.]/g, '-')}/domid'; true`,
          `echo "=== assignable ==="; xl pci-assignable-list`,
          `echo "=== monitor ==="; wait_no_monitor`,
        ].join('\n'),
        { timeoutS: 300 },
      );
      saveTranscript('xentool/create-pv/pci-destroy.txt', d.stdout + d.stderr);
      expect(section(d.stdout, 'rc').trim()).toBe('0');
      expect(section(d.stdout, 'left').trim()).toBe('');
      expect(section(d.stdout, 'assignable')).toContain(`${TESTDEV} `);
      expect(section(d.stdout, 'monitor').trim()).toBe('none');
    },
    T,
  );
});
