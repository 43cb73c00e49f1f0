/**
 * The PV create/destroy cases of 20-create-pv.test.ts as a function, so that another file can run
 * them in a VM of its own: test/xen/07 boots a second VM with oxenstored, and issue 9 wants the
 * same creation proven against both xenstored implementations. oxenstored maps a guest's store
 * ring by the frame number XS_INTRODUCE gives it (C xenstored uses grant 1), so a wrong MFN shows
 * up there only: the guest's xenbus never answers, and its feature nodes stay empty.
 *
 * Also the memory-map readers 20-create-pv.test.ts uses for e820_host: the host map Xen prints
 * at boot, the map a PV Linux guest prints, and the check that the guest got the host's holes.
 */
import { pvGuestConfig, writeGuestConfig } from './guests';
import { saveTranscript, xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

/** The lines after `=== name ===` up to the next marker (an empty section is ''). */
export function section(out: string, name: string): string {
  const lines = out.split('\n');
  const start = lines.indexOf(`=== ${name} ===`);
  if (start < 0) return '';
  const rest = lines.slice(start + 1);
  const end = rest.findIndex((l) => /^=== .+ ===$/.test(l));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

/**
 * Registers, in the caller's describe block: xentool creates a PV guest that boots and talks to
 * this VM's xenstored through the ring XS_INTRODUCE named; destroy leaves no node, no monitor.
 * `label` names the transcripts (e.g. 'oxenstored').
 */
export function pvCreateDestroyTests(label: string, getVm: () => XenVm): void {
  const name = `xtd${label.replace(/[^a-z0-9]/gi, '').slice(0, 8)}`;
  const T = 900_000;

  test(
    `${label}: xentool create boots a PV guest whose xenbus reaches xenstored`,
    async () => {
      const vm = getVm();
      const xentool = xentoolCommand(vm);
      const cfg = writeGuestConfig(vm, name, pvGuestConfig(name, { passthrough: false }));
      const r = await vm.exec(
        [
          `xl destroy ${name} 2>/dev/null; rm -f /var/log/xen/console/guest-${name}.log`,
          `${xentool} create ${cfg}; rc=$?; echo "=== rc ==="; echo $rc`,
          `echo "=== ring ==="; xenstore-read /local/domain/$(xl domid ${name})/store/ring-ref`,
        ].join('\n'),
        { timeoutS: 600 },
      );
      saveTranscript(`xentool/create-pv-${label}/create.txt`, r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(section(r.stdout, 'ring').trim()).toMatch(/^\d+$/);
      await vm.waitForConsole(name, /xenvm-guest: ready/, 420_000);
      // The guest's xenbus driver writes "1" into the feature nodes the toolstack made empty:
      // only a guest whose store ring xenstored really serves can.
      const f = await vm.exec(
        [
          `id=$(xl domid ${name})`,
          `i=0; while [ "$(xenstore-read /local/domain/$id/control/feature-poweroff)" != 1 ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== feature ==="; xenstore-read /local/domain/$id/control/feature-poweroff`,
        ].join('\n'),
        { timeoutS: 200 },
      );
      saveTranscript(`xentool/create-pv-${label}/feature.txt`, f.stdout + f.stderr);
      expect(section(f.stdout, 'feature').trim()).toBe('1');
    },
    T,
  );

  test(
    `${label}: xentool destroy leaves no xenstore node and no monitor`,
    async () => {
      const vm = getVm();
      const xentool = xentoolCommand(vm);
      const r = await vm.exec(
        [
          `id=$(xl domid ${name}); uuid=$(xenstore-read /local/domain/$id/vm | sed 's#^/vm/##')`,
          `${xentool} destroy ${name}; rc=$?; echo "=== rc ==="; echo $rc`,
          `mon() { ps | grep -v grep | grep 'create --monitor' | grep -q '/guests/${name}'; }`,
          `i=0; while mon && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done`,
          `echo "=== monitor ==="; mon && echo running || echo none`,
          `echo "=== left ==="; xenstore-ls -f | grep -E "^(/local/domain/$id|/libxl/$id|/vm/$uuid|/local/domain/0/backend/[a-z]+/$id)( |/)"; true`,
          `echo "=== xl ==="; xl list`,
        ].join('\n'),
        { timeoutS: 300 },
      );
      saveTranscript(`xentool/create-pv-${label}/destroy.txt`, r.stdout + r.stderr);
      expect(section(r.stdout, 'rc').trim()).toBe('0');
      expect(section(r.stdout, 'monitor').trim()).toBe('none');
      expect(section(r.stdout, 'left').trim()).toBe('');
      expect(section(r.stdout, 'xl')).not.toMatch(new RegExp(`^${name}\\s`, 'm'));
    },
    T,
  );
}

/** One memory map line: [start, end] inclusive, and its type as the printer named it. */
export interface MapLine {
  start: bigint;
  end: bigint;
  type: string;
}

/**
 * The host map Xen printed at boot (serial log, "Xen-e820 RAM map:" then lines
 * `[0000000000100000, 000000007ffdefff] (usable)`); the first such block.
 */
export function xenBootMap(serial: string): MapLine[] {
  const lines = serial.split('\n');
  const at = lines.findIndex((l) => l.includes('Xen-e820 RAM map:'));
  if (at < 0) return [];
  const out: MapLine[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /\[([0-9a-f]{16}), ([0-9a-f]{16})\] \(([^)]+)\)/.exec(l);
    if (!m) break;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), type: m[3]! });
  }
  return out;
}

/**
 * The map a PV Linux guest printed at its last boot ("BIOS-provided physical RAM map:" then
 * `Xen: [mem 0x0000000000000000-0x000000000009ffff] usable`).
 */
export function guestBootMap(console: string): MapLine[] {
  const lines = console.split('\n');
  let at = -1;
  lines.forEach((l, i) => {
    if (l.includes('BIOS-provided physical RAM map:')) at = i;
  });
  if (at < 0) return [];
  const out: MapLine[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /Xen: \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\] (.+?)\s*$/.exec(l);
    if (!m) break;
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), type: m[3]! });
  }
  return out;
}

/**
 * What e820_host must give a PV guest (libxl 4.17, packages/xentool/src/domain/e820-host.ts),
 * checked against what the guest's kernel printed: every host region between 1 MiB and 4 GiB
 * that is not RAM lies inside one guest line that is not usable RAM (Linux merges neighbours of
 * one type, and Xen's own map adds reserved holes the boot map lacks), and no usable guest line
 * overlaps one. Returns the violations, one line each (empty: the guest has the host's holes).
 * A guest given only the memmap limit's single RAM entry prints no reserved line above 1 MiB.
 */
export function hostHolesMissing(host: MapLine[], guest: MapLine[]): string[] {
  const hex = (v: bigint) => `0x${v.toString(16)}`;
  const holes = host.filter((h) => h.type !== 'usable' && h.type !== 'unusable' && h.start >= 0x100000n && h.end < 1n << 32n);
  const bad: string[] = [];
  if (holes.length === 0) bad.push('the host map has no hole between 1 MiB and 4 GiB (was the serial log read?)');
  for (const h of holes) {
    const what = `host ${h.type} ${hex(h.start)}-${hex(h.end)}`;
    if (!guest.some((g) => g.type !== 'usable' && g.start <= h.start && g.end >= h.end)) bad.push(`${what}: no non-RAM guest line covers it`);
    const ram = guest.find((g) => g.type === 'usable' && g.start <= h.end && g.end >= h.start);
    if (ram) bad.push(`${what}: overlaps guest usable ${hex(ram.start)}-${hex(ram.end)}`);
  }
  return bad;
}
