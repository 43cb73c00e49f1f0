/**
 * PV test guests: their xl configs, and what their init (init-guest.sh) reports on the console.
 */
import * as fs from 'fs';
import * as path from 'path';
import { XenVm, XenVmError } from './xen-vm';

export interface PvGuestOptions {
  memoryMiB?: number;
  /** passthrough="enabled": without it (or pci=[...]) Xen 4.17 refuses a later hot-plug with EOPNOTSUPP. */
  passthrough?: boolean;
  /** Create-time devices, xl syntax. */
  pci?: string[];
}

/** An xl config for the busybox guest that /guest in dom0 holds. */
export function pvGuestConfig(name: string, o: PvGuestOptions = {}): string {
  const lines = [
    `name = "${name}"`,
    'type = "pv"',
    'kernel = "/guest/vmlinuz"',
    'ramdisk = "/guest/domU.cpio.gz"',
    // loglevel 7: pcifront's and e1000's probe messages are KERN_INFO.
    'extra = "console=hvc0 loglevel=7"',
    `memory = ${o.memoryMiB ?? 128}`,
    'vcpus = 1',
    'on_crash = "preserve"',
  ];
  if (o.passthrough ?? true) lines.push('passthrough = "enabled"');
  if (o.pci) lines.push(`pci = [ ${o.pci.map((p) => `"${p}"`).join(', ')} ]`);
  return lines.join('\n') + '\n';
}

/** Writes the config into the share and returns its path inside dom0. */
export function writeGuestConfig(vm: XenVm, name: string, text: string): string {
  const dir = path.join(vm.share, 'guests');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.cfg`), text);
  return `/mnt/host/guests/${name}.cfg`;
}

export interface GuestPciDevice {
  bdf: string;
  id: string;
  classCode: string;
  driver: string;
}

export interface GuestPciReport {
  n: number;
  devices: GuestPciDevice[];
}

/** Every complete PCI report on a guest console, oldest first. */
export function guestPciReports(console: string): GuestPciReport[] {
  const reports: GuestPciReport[] = [];
  let current: GuestPciReport | undefined;
  for (const raw of console.split('\n')) {
    const line = raw.replace(/\r$/, '');
    let m = /^xenvm-guest: pci-begin (\d+)$/.exec(line);
    if (m) {
      current = { n: Number(m[1]), devices: [] };
      continue;
    }
    m = /^xenvm-guest: pci (\S+) (\S+) class=(\S+) driver=(\S+)$/.exec(line);
    if (m && current) {
      current.devices.push({ bdf: m[1], id: m[2], classCode: m[3], driver: m[4] });
      continue;
    }
    m = /^xenvm-guest: pci-end (\d+) count=(\d+)$/.exec(line);
    if (m && current && Number(m[1]) === current.n && Number(m[2]) === current.devices.length) {
      reports.push(current);
      current = undefined;
    }
  }
  return reports;
}

/**
 * Waits for a PCI report newer than `after` (a report number) that satisfies `want`; returns it.
 * The guest reports every change, so a transient state (device present, driver not yet bound)
 * shows up as its own report before the settled one.
 */
export async function waitForGuestPci(
  vm: XenVm,
  name: string,
  want: (r: GuestPciReport) => boolean,
  after = 0,
  timeoutMs = 60_000,
): Promise<GuestPciReport> {
  const started = Date.now();
  for (;;) {
    const found = guestPciReports(vm.guestConsole(name)).find((r) => r.n > after && want(r));
    if (found) return found;
    if (Date.now() - started > timeoutMs) {
      const last = guestPciReports(vm.guestConsole(name)).pop();
      throw new XenVmError('ERR_XENVM_CONSOLE_TIMEOUT', `guest ${name}: no matching PCI report after ${timeoutMs / 1000} s; last report: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The number of the newest complete report (0 when there is none). */
export function lastReportNumber(vm: XenVm, name: string): number {
  const reports = guestPciReports(vm.guestConsole(name));
  return reports.length ? reports[reports.length - 1].n : 0;
}

export interface HvmGuestOptions {
  /** Create-time devices, xl syntax. */
  pci?: string[];
  /** Extra config lines. */
  extra?: string[];
}

/**
 * An xl config for an HVM guest that boots the same busybox kernel and initramfs directly (qemu-xen
 * as device model; fixtures/hvm-xl/hvm1.cfg is what xl ran). The kernel writes to the emulated
 * serial port and to the PV console (`console=ttyS0 console=hvc0`); the last one named is
 * /dev/console, so the guest's /init reports on hvc0, which xenconsoled logs in dom0 as
 * guest-NAME.log (HVM_CMDLINE). Every byte on the emulated UART is a VM exit and a round trip to
 * QEMU under TCG (and after the edu's hot-removal the guest once stopped in the middle of a line
 * there for minutes); the PV console is a shared ring. The kernel is kept quiet (warnings only).
 */
export const HVM_CMDLINE = 'console=ttyS0 console=hvc0 quiet loglevel=4';

export function hvmGuestConfig(name: string, o: HvmGuestOptions = {}): string {
  const lines = [
    `name = "${name}"`,
    'type = "hvm"',
    'kernel = "/guest/vmlinuz"',
    'ramdisk = "/guest/domU.cpio.gz"',
    `extra = "${HVM_CMDLINE}"`,
    'memory = 256',
    'vcpus = 1',
    'serial = "pty"',
    'vnc = 0',
    'sdl = 0',
    'passthrough = "enabled"',
    'on_crash = "preserve"',
  ];
  if (o.pci) lines.push(`pci = [ ${o.pci.map((p) => `"${p}"`).join(', ')} ]`);
  lines.push(...(o.extra ?? []));
  return lines.join('\n') + '\n';
}

/**
 * A dom0 script that proves `CONSOLE GUEST` reaches the guest's console: it runs the console
 * command in the background (no keyboard: stdin is /dev/null) and makes the guest write to its
 * console with `xl sysrq GUEST h` (the kernel prints its sysrq help whatever the log level) every
 * 3 s until the help shows in what the command printed, at most `limitS` seconds; then it stops
 * the command. Prints sections `console` (what the command printed, NULs removed) and `err` (its
 * stderr). Stopping as soon as the help is seen keeps the wait to what node's start-up in dom0
 * and the guest need, not a fixed timeout.
 */
export function consoleProbe(consoleCommand: string, guest: string, limitS = 240): string {
  return [
    `${consoleCommand} </dev/null > /tmp/console.out 2>/tmp/console.err & CPID=$!`,
    `end=$(($(date +%s) + ${limitS})); while [ $(date +%s) -lt $end ] && ! grep -qi 'sysrq: HELP' /tmp/console.out; do xl sysrq ${guest} h; sleep 3; done`,
    'kill $CPID 2>/dev/null; wait $CPID 2>/dev/null',
    `echo "=== console ==="; head -c 65536 /tmp/console.out | tr -d '\\000'; echo "=== err ==="; cat /tmp/console.err`,
  ].join('\n');
}
