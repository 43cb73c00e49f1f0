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
import { pvGuestConfig, writeGuestConfig } from './guests';
import { saveTranscript, suiteVm, xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

const GUEST = 'xtpv';
const T = 900_000;

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
 * Shell helpers: a monitor may still be starting (node from 9p takes about a minute) when its
 * domain is destroyed, and Xen hands a dead domain's pages back asynchronously, so both are
 * waited for (up to 2 minutes) before they are compared.
 */
const HELPERS = [
  `no_monitor() { ! ps | grep -v grep | grep -q 'create --monitor'; }`,
  `wait_no_monitor() { i=0; while ! ${NO_MONITOR} && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done; ${NO_MONITOR} && echo none; }`,
  `wait_free() { i=0; while [ "$(${FREE})" != "$1" ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done; ${FREE}; }`,
  // The guest's identity while it exists, then every node that still names it.
  `ident() { id=$(xl domid ${GUEST}); uuid=$(xenstore-read /local/domain/$id/vm | sed 's#^/vm/##'); }`,
  `leftovers() { xenstore-ls -f | grep -E "^(/local/domain/$id|/libxl/$id|/vm/$uuid|/local/domain/0/backend/[a-z]+/$id)( |/)"; true; }`,
  // Other guests (another scenario sharing a served VM) make host-wide comparisons meaningless.
  `alone() { [ "$(xl list | wc -l)" = 2 ]; }`,
].join('\n');

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
  await vm.exec(CLEANUP);
});

/** Leaves no guest or monitor of this file behind, whatever failed (also run first, after an aborted run). */
const CLEANUP = `xl destroy ${GUEST} 2>/dev/null; xl destroy xtbad 2>/dev/null; for p in $(ps | grep 'create --monitor' | grep -v grep | awk '{print $1}'); do kill $p; done; true`;

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
          `echo "=== monitor ==="; ps | grep -v grep | grep 'create --monitor' | wc -l`,
          `echo "=== nodes ==="; xenstore-ls -f /local/domain/$(xl domid ${GUEST})`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/create.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(r.stderr).toContain(`Parsing config from ${cfg}`);
      const console = await vm.waitForConsole(GUEST, /xenvm-guest: ready/, 300_000);
      expect(console).toMatch(/Linux version/);
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
          // No keyboard here: the guest is made to write while we listen (sysrq h prints the
          // sysrq help on its console, every 15 s, since node's start-up time varies).
          `(i=0; while [ $i -lt 16 ]; do sleep 15; xl sysrq ${GUEST} h; i=$((i+1)); done) &`,
          `timeout -s TERM 240 env ${xentool} console ${GUEST} </dev/null > /tmp/console.out 2>/tmp/console.err; echo "=== console ==="; head -c 65536 /tmp/console.out | tr -d '\\000'; echo "=== err ==="; cat /tmp/console.err`,
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
    'shutdown -w: control/shutdown is written, the guest powers off, the monitor destroys it',
    async () => {
      const r = await vm.exec(
        [
          // The test guest's /init is a shell script: the kernel's orderly poweroff (what the
          // xenbus driver runs on control/shutdown = poweroff) signals PID 1, which ignores it
          // (seen in this VM: the guest stayed up for 400 s). sysrq o powers the kernel off
          // directly (SCHEDOP_shutdown poweroff), which is what the monitor must then act on.
          `id=$(xl domid ${GUEST}); (sleep 150; echo "=== request ==="; xenstore-read /local/domain/$id/control/shutdown; xl sysrq ${GUEST} o) > /tmp/sysrq.out &`,
          `timeout 400 env ${xentool} shutdown -w ${GUEST}; rc=$?; echo "=== rc ==="; echo $rc`,
          `cat /tmp/sysrq.out`,
          `echo "=== xl ==="; xl list`,
          HELPERS,
          `echo "=== monitor ==="; wait_no_monitor`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript('xentool/create-pv/shutdown.txt', r.stdout + r.stderr);
      expect(section(r.stdout, 'request').trim()).toBe('poweroff');
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
          `echo "=== xl-monitor ==="; ps | grep -v grep | grep -c 'xl create'; true`,
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
      const bad = writeGuestConfig(vm, 'xtbad', pvGuestConfig('xtbad', { passthrough: false }).replace('/guest/vmlinuz', '/etc/passwd'));
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
      expect(r.stderr).toMatch(/create xtbad: step 4\/9 \(build the PV image: kernel \/etc\/passwd.*\) failed: xc_dom_parse_image: .*; the 3 completed steps were undone/);
      expect(section(r.stdout, 'injected')).toContain('rc=1');
      expect(r.stderr).toMatch(/create xtpv: step 6\/9 \(introduce the domain to xenstored.*\) failed/);
      expect(section(r.stdout, 'xl')).not.toMatch(/^xt(pv|bad)\s/m);
      if (section(r.stdout, 'xsdiff').trim() !== 'shared') {
        expect(section(r.stdout, 'xsdiff').trim()).toBe('');
        const [before, after] = section(r.stdout, 'free').trim().split('\n');
        expect(after).toBe(before);
      }
    },
    T,
  );
});
