/**
 * Which PCI devices dom0 itself depends on: the controller behind a mounted block device (or
 * active swap), the NIC carrying a default route, the device driving the active console. On a
 * real host these are read from /proc and /sys; the simulated host injects them instead
 * (`SimSysfs.dom0Usage`).
 *
 * Every class device (`/sys/class/block/vda`, `/sys/class/net/eth0`) resolves to a path under
 * its PCI function, possibly through intermediate devices
 * (`/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0` on a virtio guest), so the PCI function
 * is the last BDF component of the real path, not necessarily the `device` link's target.
 */
import { isCanonicalBdf } from './bdf';
import type { Dom0Usage } from './dom0-usage-types';
import type { SysfsFs } from './sysfs';
import { readAttr } from './sysfs';

export type { Dom0Usage } from './dom0-usage-types';

/** The PCI function a sysfs path sits under, if any. */
export function pciFunctionOf(fs: SysfsFs, sysPath: string): string | undefined {
  let real: string;
  try {
    real = fs.realpath(sysPath);
  } catch {
    return undefined;
  }
  const bdfs = real.split('/').filter(isCanonicalBdf);
  return bdfs[bdfs.length - 1];
}

function blockDevicesBehind(sys: SysfsFs, name: string, seen = new Set<string>()): string[] {
  // Stacked devices (dm-crypt, LVM, md) list their components in `slaves/`.
  if (seen.has(name)) return [];
  seen.add(name);
  const slaves = `/class/block/${name}/slaves`;
  if (sys.isDirectory(slaves)) {
    const parts = sys.readdir(slaves);
    if (parts.length > 0) return parts.flatMap((p) => blockDevicesBehind(sys, p, seen));
  }
  return [name];
}

function blockName(sys: SysfsFs, source: string): string | undefined {
  if (!source.startsWith('/dev/')) return undefined;
  const rest = source.slice(5);
  if (rest.startsWith('mapper/')) {
    // /dev/mapper/<name>: find the dm-N whose dm/name matches (no access to /dev needed).
    const want = rest.slice(7);
    if (!sys.isDirectory('/class/block')) return undefined;
    for (const n of sys.readdir('/class/block')) {
      if (n.startsWith('dm-') && readAttr(sys, `/class/block/${n}/dm/name`) === want) return n;
    }
    return undefined;
  }
  const n = rest.replace(/^disk\/by-[^/]+\//, '');
  return sys.exists(`/class/block/${n}`) ? n : undefined;
}

function netDevicesBehind(sys: SysfsFs, iface: string, seen = new Set<string>()): string[] {
  // Bonds, bridges and VLANs carry traffic for their lower devices (`lower_<name>` links).
  if (seen.has(iface)) return [];
  seen.add(iface);
  const dir = `/class/net/${iface}`;
  if (!sys.exists(dir)) return [];
  const lowers = sys.readdir(dir).filter((e) => e.startsWith('lower_'));
  if (lowers.length > 0) return lowers.flatMap((l) => netDevicesBehind(sys, l.slice(6), seen));
  const brif = `${dir}/brif`;
  if (sys.isDirectory(brif)) return sys.readdir(brif).flatMap((l) => netDevicesBehind(sys, l, seen));
  return [iface];
}

/**
 * Reads the real host. `sys` is rooted at /sys, `proc` at /proc. Unreadable sources are
 * skipped: the answer is "what we could prove", never an exception.
 */
export function detectDom0Usage(sys: SysfsFs, proc: SysfsFs): Dom0Usage[] {
  const out: Dom0Usage[] = [];
  const add = (bdf: string | undefined, kind: Dom0Usage['kind'], detail: string) => {
    if (bdf && !out.some((u) => u.bdf === bdf && u.kind === kind && u.detail === detail)) out.push({ bdf, kind, detail });
  };
  const text = (p: string) => {
    try {
      return proc.readFile(p).toString('utf8');
    } catch {
      return '';
    }
  };

  for (const line of text('/mounts').split('\n')) {
    const [source, target] = line.split(' ');
    if (!source || !target) continue;
    const name = blockName(sys, source);
    if (!name) continue;
    for (const leaf of blockDevicesBehind(sys, name))
      add(pciFunctionOf(sys, `/class/block/${leaf}`), 'block', `${source} mounted on ${target.replace(/\\040/g, ' ')}`);
  }
  for (const line of text('/swaps').split('\n').slice(1)) {
    const source = line.split(/\s+/)[0];
    if (!source) continue;
    const name = blockName(sys, source);
    if (!name) continue;
    for (const leaf of blockDevicesBehind(sys, name)) add(pciFunctionOf(sys, `/class/block/${leaf}`), 'block', `${source} is active swap`);
  }

  // /proc/net/route: Iface Destination Gateway Flags ... Mask; a default route has
  // destination and mask 00000000. /proc/net/ipv6_route: dest "0"*32 with prefix length 00.
  const defaults = new Set<string>();
  for (const line of text('/net/route').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000') defaults.add(f[0]!);
  }
  for (const line of text('/net/ipv6_route').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0]!) && f[1] === '00' && f[9] !== 'lo') defaults.add(f[9]!);
  }
  for (const iface of [...defaults].sort())
    for (const lower of netDevicesBehind(sys, iface))
      add(pciFunctionOf(sys, `/class/net/${lower}`), 'network', lower === iface ? `${iface} carries the default route` : `${lower} (under ${iface}) carries the default route`);

  // Console: serial consoles resolve through their tty's device; a VT console (tty0..) is
  // drawn by the framebuffer's device and, before a framebuffer driver loads, the boot VGA.
  const active = readAttr(sys, '/class/tty/console/active') ?? '';
  for (const tty of active.split(/\s+/).filter(Boolean)) {
    if (/^tty\d+$/.test(tty)) {
      let found = false;
      if (sys.isDirectory('/class/graphics')) {
        for (const fb of sys.readdir('/class/graphics').filter((n) => /^fb\d+$/.test(n))) {
          const bdf = pciFunctionOf(sys, `/class/graphics/${fb}`);
          if (bdf) {
            add(bdf, 'console', `${tty} drawn on ${fb}`);
            found = true;
          }
        }
      }
      if (!found && sys.exists('/bus/pci/devices')) {
        for (const bdf of sys.readdir('/bus/pci/devices'))
          if (readAttr(sys, `/bus/pci/devices/${bdf}/boot_vga`) === '1') add(bdf, 'console', `${tty} on the boot VGA device`);
      }
    } else {
      add(pciFunctionOf(sys, `/class/tty/${tty}`), 'console', `console ${tty}`);
    }
  }
  return out;
}
