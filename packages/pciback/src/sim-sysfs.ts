/**
 * A simulated kernel PCI sysfs: an in-memory model that answers reads and reacts to writes the
 * way drivers/base/bus.c, drivers/pci/pci-sysfs.c, pci-driver.c and xen-pciback's pci_stub.c
 * do. Plain files cannot do this (writing `bind` must move the `driver` link; `new_slot` must
 * register an id that `bind` then honours), and the simulator must refuse what the kernel
 * refuses, with the kernel's errno:
 *   - bind of an already bound device: EBUSY (__driver_probe_device). Kernels before 5.13
 *     checked `dev->driver == NULL` in bind_store itself and answered ENODEV for this too; the
 *     driver core then began passing probe errors and EBUSY through to sysfs ("driver core:
 *     Flow the return code from ->probe() through to sysfs bind"). We model the current
 *     behaviour, which Debian 12's 6.1 dom0 kernel has;
 *   - bind that the driver does not match, or that pciback's probe rejects: ENODEV;
 *   - unbind from a driver the device is not bound to: ENODEV (unbind_store);
 *   - new_slot/remove_slot/permissive/quirks text that str_to_slot cannot parse: EINVAL;
 *   - remove_slot with no matching entry: ENOENT; permissive for a device pciback does not
 *     hold: ENODEV; reading a write-only attribute or writing a read-only one: EACCES.
 *
 * The state is plain data (`toJSON`/`fromJSON`) so that the simulated host can keep it in its
 * state directory between CLI invocations.
 */
import type { Dom0Usage } from './dom0-usage-types';
import { sysfsError, PcibackError, PcibackErrorCodes } from './errors';
import type { SysfsFs } from './sysfs';

export interface SimDevice {
  bdf: string;
  /** Upstream bridge, or null for a device on a root bus (`/devices/pciDDDD:BB`). */
  parent: string | null;
  vendorId: number;
  deviceId: number;
  subVendorId: number;
  subDeviceId: number;
  classCode: number;
  revision: number;
  config: Uint8Array;
  /** `resource` lines as [start, end, flags]. */
  resources: Array<[bigint, bigint, bigint]>;
  irq: number;
  numaNode: number;
  /** null: no `iommu_group` link (the normal case under a Xen PV dom0). */
  iommuGroup: number | null;
  driver: string | null;
  driverOverride: string | null;
  /** The driver whose id table matches the device (what a probe would bind when nothing overrides). */
  nativeDriver: string | null;
  /** What the kernel found at enumeration (pci_init_reset_methods); fixes whether `reset` exists. */
  supportedResetMethods: string[];
  /** Current `reset_method` order (user-writable). */
  resetMethods: string[];
  resetCount: number;
  bootVga: boolean;
}

export interface SimPcibackState {
  loaded: boolean;
  slots: string[];
  permissive: string[];
  quirks: Array<{ bdf: string; reg: number; size: number; mask: number }>;
  /** Current pci_stub.c drops duplicate new_slot entries; older kernels keep them (libxl checks `slots` first). */
  dedupeSlots: boolean;
}

/** JSON shape of the whole model; `format` is checked on load. */
export interface SimSysfsState {
  format: 'xentool-sim-sysfs/1';
  drivers: string[];
  dynamicIds: Record<string, string[]>;
  pciback: SimPcibackState;
  devices: Array<
    Omit<SimDevice, 'config' | 'resources'> & { config: string; resources: Array<[string, string, string]> }
  >;
  dom0Usage: Dom0Usage[];
}

type Node =
  | { kind: 'dir'; entries: () => string[] }
  | { kind: 'file'; read?: () => Buffer | string; write?: (data: string) => void }
  | { kind: 'link'; target: string };

/** One entry of the write log, in order: tests assert sequences against it. */
export interface SimWrite {
  path: string;
  data: string;
  /** errno name when the write was refused. */
  error?: string;
}

const hex = (n: number, w: number) => '0x' + n.toString(16).padStart(w, '0');
const hex64 = (n: bigint) => '0x' + n.toString(16).padStart(16, '0');

class Errno extends Error {
  constructor(readonly errno: string) {
    super(errno);
  }
}
const fail = (errno: string): never => {
  throw new Errno(errno);
};

/**
 * sysfs_streq: the kernel compares device names ignoring one trailing newline, so
 * `echo 0000:01:00.0 > bind` and libxl's newline-less write both work.
 */
const streqName = (data: string) => data.replace(/\n$/, '');

/** pci_stub.c str_to_slot: `[DDDD:]BB:SS.F`, `SS.*`, `*.*`; hex; surrounding whitespace allowed. */
export function parseSlotSpec(text: string): { domain: number; bus: number; slot: number; fn: number } | undefined {
  const t = text.trim();
  const m = /^(?:([0-9a-fA-F]+):)?([0-9a-fA-F]+):([0-9a-fA-F]+|\*)\.([0-9a-fA-F]+|\*)$/.exec(t);
  if (!m) return undefined;
  const slot = m[3] === '*' ? -1 : parseInt(m[3]!, 16);
  const fn = m[4] === '*' ? -1 : parseInt(m[4]!, 16);
  // `BB:*.F` is not a form str_to_slot accepts: a wildcard slot implies a wildcard function.
  if (slot === -1 && fn !== -1) return undefined;
  return { domain: m[1] ? parseInt(m[1], 16) : 0, bus: parseInt(m[2]!, 16), slot, fn };
}

export class SimSysfs implements SysfsFs {
  readonly root = 'sim:/sys';
  readonly devices = new Map<string, SimDevice>();
  drivers: string[] = [];
  dynamicIds = new Map<string, Set<string>>();
  pciback: SimPcibackState = { loaded: true, slots: [], permissive: [], quirks: [], dedupeSlots: false };
  /** Injected facts: what dom0 itself uses (root disk, default route, console). */
  dom0Usage: Dom0Usage[] = [];
  /** Every write, in order (not persisted). */
  readonly writes: SimWrite[] = [];

  // -------------------------------------------------------------------------- model helpers

  addDevice(d: SimDevice): void {
    if (this.devices.has(d.bdf)) throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `duplicate device ${d.bdf}`);
    if (d.parent !== null && !this.devices.has(d.parent))
      throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `parent ${d.parent} of ${d.bdf} does not exist`);
    this.devices.set(d.bdf, d);
    if (d.nativeDriver && !this.drivers.includes(d.nativeDriver)) this.drivers.push(d.nativeDriver);
    if (d.driver && !this.drivers.includes(d.driver) && d.driver !== 'pciback') this.drivers.push(d.driver);
  }

  device(bdf: string): SimDevice | undefined {
    return this.devices.get(bdf);
  }

  private registered(): string[] {
    const list = this.drivers.filter((d) => d !== 'pciback');
    // pciback is an fs_initcall when built in: it registers first and so is offered devices first.
    return this.pciback.loaded ? ['pciback', ...list] : list;
  }

  private devDirSegments(bdf: string): string[] {
    const chain: string[] = [];
    let cur: SimDevice | undefined = this.devices.get(bdf);
    while (cur) {
      chain.unshift(cur.bdf);
      cur = cur.parent ? this.devices.get(cur.parent) : undefined;
    }
    const top = chain[0]!;
    return ['devices', `pci${top.slice(0, 7)}`, ...chain];
  }

  private rootBuses(): string[] {
    const set = new Set<string>();
    for (const d of this.devices.values()) if (d.parent === null) set.add(`pci${d.bdf.slice(0, 7)}`);
    return [...set].sort();
  }

  private up(depth: number): string {
    return Array(depth).fill('..').join('/');
  }

  private inSlots(bdf: string): boolean {
    return this.pciback.slots.includes(bdf);
  }

  private headerType(d: SimDevice): number {
    return (d.config[0x0e] ?? 0) & 0x7f;
  }

  private matches(drv: string, d: SimDevice): boolean {
    // pci_match_device: a driver_override restricts matching to exactly that driver.
    if (d.driverOverride !== null) return d.driverOverride === drv;
    if (drv === 'pciback') return true; // pcistub_ids is PCI_ANY_ID; the probe decides
    const id = `${d.vendorId.toString(16).padStart(4, '0')}:${d.deviceId.toString(16).padStart(4, '0')}`;
    return d.nativeDriver === drv || (this.dynamicIds.get(drv)?.has(id) ?? false);
  }

  private probe(drv: string, d: SimDevice): void {
    if (drv === 'pciback') {
      // pcistub_probe: only devices in the seize list or with driver_override "pciback", and
      // only normal (0) or bridge (1) headers.
      const override = d.driverOverride === 'pciback';
      if (!this.inSlots(d.bdf) && !override) fail('ENODEV');
      const ht = this.headerType(d);
      if (ht !== 0 && ht !== 1) fail('ENODEV');
      if (override && !this.inSlots(d.bdf)) this.pciback.slots.push(d.bdf);
      // pcistub_init_device saves state and resets the function when it seizes it.
      if (d.resetMethods.length > 0) d.resetCount++;
    }
    d.driver = drv;
  }

  private release(d: SimDevice): void {
    if (d.driver === 'pciback') {
      // pcistub_remove: per-device permissive and quirks die with the binding, and
      // pcistub_put_pci_dev resets the function on the way out.
      this.pciback.permissive = this.pciback.permissive.filter((b) => b !== d.bdf);
      this.pciback.quirks = this.pciback.quirks.filter((q) => q.bdf !== d.bdf);
      if (d.resetMethods.length > 0) d.resetCount++;
    }
    d.driver = null;
  }

  /** device_attach: try the registered drivers in order, first successful probe wins. */
  private attach(d: SimDevice): void {
    if (d.driver !== null) return;
    for (const drv of this.registered()) {
      if (!this.matches(drv, d)) continue;
      try {
        this.probe(drv, d);
        return;
      } catch (e) {
        if (!(e instanceof Errno)) throw e;
        // A probe returning -ENODEV/-ENXIO just means "not mine": the next driver is tried.
      }
    }
  }

  // -------------------------------------------------------------------------- path model

  private deviceAttrs(d: SimDevice, depth: number): Record<string, Node> {
    const a: Record<string, Node> = {
      vendor: { kind: 'file', read: () => hex(d.vendorId, 4) + '\n' },
      device: { kind: 'file', read: () => hex(d.deviceId, 4) + '\n' },
      subsystem_vendor: { kind: 'file', read: () => hex(d.subVendorId, 4) + '\n' },
      subsystem_device: { kind: 'file', read: () => hex(d.subDeviceId, 4) + '\n' },
      class: { kind: 'file', read: () => hex(d.classCode, 6) + '\n' },
      revision: { kind: 'file', read: () => hex(d.revision, 2) + '\n' },
      irq: { kind: 'file', read: () => `${d.irq}\n` },
      numa_node: { kind: 'file', read: () => `${d.numaNode}\n` },
      msi_bus: { kind: 'file', read: () => '1\n' },
      enable: { kind: 'file', read: () => (d.driver ? '1\n' : '0\n') },
      modalias: {
        kind: 'file',
        read: () => {
          const H = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
          const c = d.classCode;
          return `pci:v${H(d.vendorId, 8)}d${H(d.deviceId, 8)}sv${H(d.subVendorId, 8)}sd${H(d.subDeviceId, 8)}bc${H(c >> 16, 2)}sc${H((c >> 8) & 0xff, 2)}i${H(c & 0xff, 2)}\n`;
        },
      },
      resource: {
        kind: 'file',
        read: () => d.resources.map(([s, e, f]) => `${hex64(s)} ${hex64(e)} ${hex64(f)}\n`).join(''),
      },
      config: { kind: 'file', read: () => Buffer.from(d.config) },
      driver_override: {
        kind: 'file',
        read: () => `${d.driverOverride ?? '(null)'}\n`,
        write: (data) => {
          if (data.length >= 4096) fail('EINVAL');
          const v = data.replace(/\n$/, '');
          d.driverOverride = v === '' ? null : v;
        },
      },
      subsystem: { kind: 'link', target: `${this.up(depth)}/bus/pci` },
    };
    if (d.supportedResetMethods.length > 0) {
      a.reset = {
        kind: 'file',
        write: (data) => {
          if (!/^\s*(0x)?0*1\s*$/.test(data)) fail('EINVAL');
          // pci_reset_function with every method disabled through reset_method: -ENOTTY.
          if (d.resetMethods.length === 0) fail('ENOTTY');
          d.resetCount++;
        },
      };
      a.reset_method = {
        kind: 'file',
        read: () => (d.resetMethods.length ? d.resetMethods.join(' ') + '\n' : '\n'),
        write: (data) => {
          const t = data.trim();
          if (t === 'default') return void (d.resetMethods = [...d.supportedResetMethods]);
          if (t === '') return void (d.resetMethods = []);
          const names = t.split(/\s+/);
          if (names.some((n) => !d.supportedResetMethods.includes(n))) fail('EINVAL');
          d.resetMethods = names;
        },
      };
    }
    if ((d.classCode >> 8) === 0x0300) a.boot_vga = { kind: 'file', read: () => (d.bootVga ? '1\n' : '0\n') };
    if (d.driver !== null) a.driver = { kind: 'link', target: `${this.up(depth)}/bus/pci/drivers/${d.driver}` };
    if (d.iommuGroup !== null) a.iommu_group = { kind: 'link', target: `${this.up(depth)}/kernel/iommu_groups/${d.iommuGroup}` };
    return a;
  }

  private driverDir(drv: string): Record<string, Node> {
    const a: Record<string, Node> = {
      bind: { kind: 'file', write: (data) => this.doBind(drv, data) },
      unbind: { kind: 'file', write: (data) => this.doUnbind(drv, data) },
      new_id: { kind: 'file', write: (data) => this.doNewId(drv, data) },
      remove_id: { kind: 'file', write: (data) => this.doRemoveId(drv, data) },
      uevent: { kind: 'file', write: () => undefined },
    };
    if (drv === 'pciback') Object.assign(a, this.pcibackAttrs());
    for (const d of this.devices.values()) {
      if (d.driver === drv) a[d.bdf] = { kind: 'link', target: `../../../../${this.devDirSegments(d.bdf).join('/')}` };
    }
    return a;
  }

  private pcibackAttrs(): Record<string, Node> {
    const pb = this.pciback;
    const parseOrInval = (data: string) => parseSlotSpec(data) ?? fail('EINVAL');
    const expand = (s: { domain: number; bus: number; slot: number; fn: number }): string[] => {
      if (s.domain > 0xffff || s.bus > 0xff || s.slot > 0x1f || s.fn > 7) fail('EINVAL');
      const out: string[] = [];
      for (let slot = s.slot < 0 ? 0 : s.slot; slot <= (s.slot < 0 ? 31 : s.slot); slot++)
        for (let fn = s.fn < 0 ? 0 : s.fn; fn <= (s.fn < 0 ? 7 : s.fn); fn++)
          out.push(
            `${s.domain.toString(16).padStart(4, '0')}:${s.bus.toString(16).padStart(2, '0')}:${slot.toString(16).padStart(2, '0')}.${fn}`,
          );
      return out;
    };
    const held = (bdf: string) => this.devices.get(bdf)?.driver === 'pciback';
    return {
      new_slot: {
        kind: 'file',
        write: (data) => {
          for (const bdf of expand(parseOrInval(data))) if (!(pb.dedupeSlots && pb.slots.includes(bdf))) pb.slots.push(bdf);
        },
      },
      remove_slot: {
        kind: 'file',
        write: (data) => {
          const s = parseOrInval(data);
          const drop = new Set(expand(s));
          const before = pb.slots.length;
          pb.slots = pb.slots.filter((b) => !drop.has(b));
          if (pb.slots.length === before) fail('ENOENT');
        },
      },
      slots: { kind: 'file', read: () => pb.slots.map((s) => s + '\n').join('') },
      permissive: {
        kind: 'file',
        read: () => pb.permissive.map((s) => s + '\n').join(''),
        write: (data) => {
          const s = parseOrInval(data);
          if (s.slot < 0 || s.fn < 0) fail('ENODEV');
          const bdf = expand(s)[0]!;
          if (!held(bdf)) fail('ENODEV');
          if (!pb.permissive.includes(bdf)) pb.permissive.push(bdf);
        },
      },
      quirks: {
        kind: 'file',
        read: () =>
          pb.quirks
            .map((q) => {
              const d = this.devices.get(q.bdf)!;
              const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
              return `${q.bdf.slice(5)}\n\t${h(d.vendorId, 4)}:${h(d.deviceId, 4)}:${h(d.subVendorId, 4)}:${h(d.subDeviceId, 4)}\n\t\t${h(q.reg, 8)}:${q.size}:${h(q.mask, 8)}\n`;
            })
            .join(''),
        write: (data) => {
          const m = /^\s*(?:([0-9a-fA-F]+):)?([0-9a-fA-F]+):([0-9a-fA-F]+)\.([0-9a-fA-F]+)-([0-9a-fA-F]+):([0-9a-fA-F]+):([0-9a-fA-F]+)\s*$/.exec(data);
          if (!m) fail('EINVAL');
          const [dom, bus, slot, fn, reg, size, mask] = [m![1] ?? '0', m![2]!, m![3]!, m![4]!, m![5]!, m![6]!, m![7]!].map((x) => parseInt(x, 16)) as number[];
          if (reg! > 0xfff || (size! < 4 && mask! >> (size! * 8) !== 0)) fail('EINVAL');
          const bdf = expand({ domain: dom!, bus: bus!, slot: slot!, fn: fn! })[0]!;
          if (!held(bdf)) fail('ENODEV');
          pb.quirks.push({ bdf, reg: reg!, size: size!, mask: mask! });
        },
      },
      irq_handlers: {
        kind: 'file',
        read: () =>
          [...this.devices.values()]
            .filter((d) => d.driver === 'pciback')
            .map((d) => `${d.bdf}:off:acking:0\n`)
            .join(''),
      },
    };
  }

  private doBind(drv: string, data: string): void {
    const d = this.devices.get(streqName(data));
    if (!d || !this.matches(drv, d)) fail('ENODEV');
    if (d!.driver !== null) fail('EBUSY');
    this.probe(drv, d!);
  }

  private doUnbind(drv: string, data: string): void {
    const d = this.devices.get(streqName(data));
    if (!d || d.driver !== drv) fail('ENODEV');
    this.release(d!);
  }

  private doNewId(drv: string, data: string): void {
    const m = /^\s*([0-9a-fA-F]{1,4})\s+([0-9a-fA-F]{1,4})/.exec(data);
    if (!m) fail('EINVAL');
    const id = `${m![1]!.toLowerCase().padStart(4, '0')}:${m![2]!.toLowerCase().padStart(4, '0')}`;
    // new_id_store refuses an id the driver's static table already matches: always for
    // pciback (PCI_ANY_ID), and for a device id this driver claims natively.
    const native = [...this.devices.values()].some(
      (d) => d.nativeDriver === drv && `${d.vendorId.toString(16).padStart(4, '0')}:${d.deviceId.toString(16).padStart(4, '0')}` === id,
    );
    if (drv === 'pciback' || native || this.dynamicIds.get(drv)?.has(id)) fail('EEXIST');
    if (!this.dynamicIds.has(drv)) this.dynamicIds.set(drv, new Set());
    this.dynamicIds.get(drv)!.add(id);
    // new_id_store calls driver_attach: every unbound matching device is probed now.
    for (const d of this.devices.values()) {
      if (d.driver !== null || !this.matches(drv, d)) continue;
      try {
        this.probe(drv, d);
      } catch (e) {
        if (!(e instanceof Errno)) throw e;
      }
    }
  }

  private doRemoveId(drv: string, data: string): void {
    const m = /^\s*([0-9a-fA-F]{1,4})\s+([0-9a-fA-F]{1,4})/.exec(data);
    if (!m) fail('EINVAL');
    const id = `${m![1]!.toLowerCase().padStart(4, '0')}:${m![2]!.toLowerCase().padStart(4, '0')}`;
    if (!this.dynamicIds.get(drv)?.delete(id)) fail('ENODEV');
  }

  private lookup(segs: string[]): Node | undefined {
    const dir = (entries: string[]): Node => ({ kind: 'dir', entries: () => entries });
    const fromRecord = (rec: Record<string, Node>, rest: string[]): Node | undefined => {
      if (rest.length === 0) return dir(Object.keys(rec).sort());
      if (rest.length === 1) return rec[rest[0]!];
      return undefined;
    };
    const [a, b, c, d, e] = segs;
    if (segs.length === 0) return dir(['bus', 'devices', 'kernel']);
    if (a === 'bus') {
      if (segs.length === 1) return dir(['pci']);
      if (b !== 'pci') return undefined;
      if (segs.length === 2) return dir(['devices', 'drivers', 'drivers_autoprobe', 'drivers_probe']);
      if (c === 'drivers_probe' && segs.length === 3)
        return {
          kind: 'file',
          write: (data) => {
            const dev = this.devices.get(streqName(data));
            if (!dev) fail('ENODEV');
            this.attach(dev!);
          },
        };
      if (c === 'drivers_autoprobe' && segs.length === 3) return { kind: 'file', read: () => '1\n', write: () => undefined };
      if (c === 'devices') {
        if (segs.length === 3) return dir([...this.devices.keys()].sort());
        if (segs.length === 4 && this.devices.has(d!)) return { kind: 'link', target: `../../../${this.devDirSegments(d!).join('/')}` };
        return undefined;
      }
      if (c === 'drivers') {
        const regs = this.registered();
        if (segs.length === 3) return dir([...regs].sort());
        if (!regs.includes(d!)) return undefined;
        return fromRecord(this.driverDir(d!), segs.slice(4));
      }
      return undefined;
    }
    if (a === 'kernel') {
      if (segs.length === 1) return dir(['iommu_groups']);
      if (b !== 'iommu_groups') return undefined;
      const groups = new Set<number>();
      for (const dev of this.devices.values()) if (dev.iommuGroup !== null) groups.add(dev.iommuGroup);
      if (segs.length === 2) return dir([...groups].sort((x, y) => x - y).map(String));
      if (!groups.has(Number(c)) || String(Number(c)) !== c) return undefined;
      if (segs.length === 3) return dir(['devices']);
      if (d !== 'devices') return undefined;
      const members = [...this.devices.values()].filter((x) => x.iommuGroup === Number(c)).map((x) => x.bdf).sort();
      if (segs.length === 4) return dir(members);
      if (segs.length === 5 && members.includes(e!))
        return { kind: 'link', target: `../../../../${this.devDirSegments(e!).join('/')}` };
      return undefined;
    }
    if (a === 'devices') {
      if (segs.length === 1) return dir(this.rootBuses());
      if (!this.rootBuses().includes(b!)) return undefined;
      // Walk the chain of device directories below the root bus.
      let parent: string | null = null;
      let i = 2;
      for (; i < segs.length; i++) {
        const dev = this.devices.get(segs[i]!);
        if (!dev || dev.parent !== parent || (parent === null && `pci${dev.bdf.slice(0, 7)}` !== b)) break;
        parent = dev.bdf;
      }
      const children = (p: string | null) =>
        [...this.devices.values()]
          .filter((x) => x.parent === p && (p !== null || `pci${x.bdf.slice(0, 7)}` === b))
          .map((x) => x.bdf)
          .sort();
      if (i === segs.length) {
        if (parent === null) return dir(children(null));
        const attrs = this.deviceAttrs(this.devices.get(parent)!, i);
        return dir([...Object.keys(attrs), ...children(parent)].sort());
      }
      if (parent === null || i !== segs.length - 1) return undefined;
      return this.deviceAttrs(this.devices.get(parent)!, i)[segs[i]!];
    }
    return undefined;
  }

  // -------------------------------------------------------------------------- SysfsFs

  private split(p: string): string[] {
    return p.split('/').filter((s) => s !== '' && s !== '.');
  }

  /** Resolves every link, including the last component; throws ENOENT on a dangling path. */
  private resolve(p: string, syscall: string, followLast = true): { segs: string[]; node: Node } {
    let segs: string[] = [];
    const pending = this.split(p);
    let hops = 0;
    while (pending.length > 0) {
      const s = pending.shift()!;
      if (s === '..') {
        segs.pop();
        continue;
      }
      const cand = [...segs, s];
      const node = this.lookup(cand);
      if (!node) throw sysfsError(syscall, this.root + p, 'ENOENT');
      if (node.kind === 'link' && (followLast || pending.length > 0)) {
        if (++hops > 40) throw sysfsError(syscall, this.root + p, 'ELOOP');
        pending.unshift(...this.split(node.target));
        continue;
      }
      if (node.kind === 'file' && pending.length > 0) throw sysfsError(syscall, this.root + p, 'ENOTDIR');
      segs = cand;
    }
    const node = this.lookup(segs);
    if (!node) throw sysfsError(syscall, this.root + p, 'ENOENT');
    return { segs, node };
  }

  readFile(p: string): Buffer {
    const { node } = this.resolve(p, 'read');
    if (node.kind === 'dir') throw sysfsError('read', this.root + p, 'EISDIR');
    if (node.kind !== 'file' || !node.read) throw sysfsError('open', this.root + p, 'EACCES');
    const v = node.read();
    return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
  }

  writeFile(p: string, data: string): void {
    let node: Node;
    try {
      node = this.resolve(p, 'open').node;
    } catch (e) {
      this.writes.push({ path: p, data, error: (e as PcibackError).errno });
      throw e;
    }
    const refuse = (syscall: string, errno: string) => {
      this.writes.push({ path: p, data, error: errno });
      return sysfsError(syscall, this.root + p, errno);
    };
    if (node.kind === 'dir') throw refuse('open', 'EISDIR');
    if (node.kind !== 'file' || !node.write) throw refuse('open', 'EACCES');
    try {
      node.write(data);
    } catch (e) {
      if (e instanceof Errno) throw refuse('write', e.errno);
      throw e;
    }
    this.writes.push({ path: p, data });
  }

  readdir(p: string): string[] {
    const { node } = this.resolve(p, 'readdir');
    if (node.kind !== 'dir') throw sysfsError('readdir', this.root + p, 'ENOTDIR');
    return node.entries();
  }

  readlink(p: string): string {
    const parent = this.split(p);
    const last = parent.pop();
    if (last === undefined) throw sysfsError('readlink', this.root + p, 'EINVAL');
    const { segs } = this.resolve('/' + parent.join('/'), 'readlink');
    const node = this.lookup([...segs, last]);
    if (!node) throw sysfsError('readlink', this.root + p, 'ENOENT');
    if (node.kind !== 'link') throw sysfsError('readlink', this.root + p, 'EINVAL');
    return node.target;
  }

  realpath(p: string): string {
    return '/' + this.resolve(p, 'realpath').segs.join('/');
  }

  exists(p: string): boolean {
    try {
      const parent = this.split(p);
      const last = parent.pop();
      if (last === undefined) return true;
      const { segs } = this.resolve('/' + parent.join('/'), 'lstat');
      if (last === '..') return true;
      return this.lookup([...segs, last]) !== undefined;
    } catch {
      return false;
    }
  }

  isDirectory(p: string): boolean {
    try {
      return this.resolve(p, 'stat').node.kind === 'dir';
    } catch {
      return false;
    }
  }

  // -------------------------------------------------------------------------- persistence

  toJSON(): SimSysfsState {
    return {
      format: 'xentool-sim-sysfs/1',
      drivers: [...this.drivers],
      dynamicIds: Object.fromEntries([...this.dynamicIds].map(([k, v]) => [k, [...v].sort()])),
      pciback: JSON.parse(JSON.stringify(this.pciback)) as SimPcibackState,
      devices: [...this.devices.values()].map((d) => ({
        ...d,
        config: Buffer.from(d.config).toString('base64'),
        resources: d.resources.map(([s, e, f]) => [hex64(s), hex64(e), hex64(f)] as [string, string, string]),
        supportedResetMethods: [...d.supportedResetMethods],
        resetMethods: [...d.resetMethods],
      })),
      dom0Usage: this.dom0Usage.map((u) => ({ ...u })),
    };
  }

  serialize(): string {
    return JSON.stringify(this.toJSON(), null, 1) + '\n';
  }

  static fromJSON(state: unknown): SimSysfs {
    const s = state as Partial<SimSysfsState> | null;
    if (!s || s.format !== 'xentool-sim-sysfs/1' || !Array.isArray(s.devices) || !s.pciback)
      throw new PcibackError(PcibackErrorCodes.ERR_SIM_STATE, 'not a simulated-sysfs state (format xentool-sim-sysfs/1)');
    const sim = new SimSysfs();
    sim.drivers = [...(s.drivers ?? [])];
    sim.pciback = JSON.parse(JSON.stringify(s.pciback)) as SimPcibackState;
    for (const [k, v] of Object.entries(s.dynamicIds ?? {})) sim.dynamicIds.set(k, new Set(v));
    // Parents come before children in the saved order (insertion order), so addDevice's checks hold.
    for (const d of s.devices) {
      sim.addDevice({
        ...d,
        config: new Uint8Array(Buffer.from(d.config, 'base64')),
        resources: d.resources.map(([a, b, c]) => [BigInt(a), BigInt(b), BigInt(c)] as [bigint, bigint, bigint]),
      });
    }
    sim.dom0Usage = (s.dom0Usage ?? []).map((u) => ({ ...u }));
    return sim;
  }

  static deserialize(text: string): SimSysfs {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new PcibackError(PcibackErrorCodes.ERR_SIM_STATE, `simulated-sysfs state is not JSON: ${(e as Error).message}`);
    }
    return SimSysfs.fromJSON(parsed);
  }
}
