/**
 * Builds realistic simulated PCI topologies: config-space bytes with capability lists, BARs
 * with kernel resource flags, the reset methods the kernel would derive, parent bridges.
 */
import { buildConfigSpace } from './config-space';
import type { CapSpec, ExtCapSpec } from './config-space';
import { canonicalBdf } from './bdf';
import { PcibackError, PcibackErrorCodes } from './errors';
import { SimSysfs } from './sim-sysfs';
import type { SimDevice } from './sim-sysfs';
import type { Dom0Usage } from './dom0-usage-types';

export interface BarSpec {
  kind: 'io' | 'mem';
  size: number;
  is64?: boolean;
  prefetchable?: boolean;
}

export interface DeviceSpec {
  vendorId: number;
  deviceId: number;
  subVendorId?: number;
  subDeviceId?: number;
  classCode: number;
  revision?: number;
  /** Upstream bridge; omitted for a device on the root bus. */
  parent?: string;
  bars?: BarSpec[];
  romSize?: number;
  caps?: CapSpec[];
  extCaps?: ExtCapSpec[];
  /** Driver currently bound (null/absent: unbound). */
  driver?: string | null;
  /** Driver whose id table matches (defaults to `driver` unless that is pciback). */
  nativeDriver?: string | null;
  irq?: number;
  numaNode?: number;
  iommuGroup?: number | null;
  bootVga?: boolean;
  /** Bridges: the bus number behind them. */
  secondaryBus?: number;
  /** Overrides the reset methods the kernel would derive from the capabilities. */
  resetMethods?: string[];
}

// Kernel IORESOURCE_* flags (include/linux/ioport.h) as they appear in sysfs `resource`,
// which also carries the raw low bits of the BAR register.
const IORESOURCE_IO = 0x100n;
const IORESOURCE_MEM = 0x200n;
const IORESOURCE_PREFETCH = 0x2000n;
const IORESOURCE_READONLY = 0x4000n;
const IORESOURCE_SIZEALIGN = 0x40000n;
const IORESOURCE_MEM_64 = 0x100000n;

export class TopologyBuilder {
  private readonly specs: Array<{ bdf: string; spec: DeviceSpec }> = [];
  // 32-bit MMIO window below the 4 GiB hole's APIC/firmware ranges (0xfec00000 up); found by
  // decoding the built config space with `lspci -F`: a 256 MiB BAR allocated from 0xf0000000
  // ran past 4 GiB and its register silently truncated.
  private mem32 = 0xc0000000n;
  private mem64 = 0x4000000000n;
  private io = 0x2000n;
  private nextIrq = 16;
  private readonly usage: Dom0Usage[] = [];
  private readonly slots: string[] = [];
  private pcibackLoaded = true;

  /** Any device; the helpers below fill in the capabilities a kind of device has. */
  device(bdf: string, spec: DeviceSpec): this {
    const canon = canonicalBdf(bdf);
    if (this.specs.some((s) => s.bdf === canon)) throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `duplicate device ${canon}`);
    this.specs.push({ bdf: canon, spec: { ...spec, parent: spec.parent === undefined ? undefined : canonicalBdf(spec.parent) } });
    return this;
  }

  hostBridge(bdf: string, spec: Omit<DeviceSpec, 'classCode'> & { classCode?: number }): this {
    return this.device(bdf, { classCode: 0x060000, ...spec });
  }

  /** A PCIe root port (type 4) or switch downstream port (type 6). */
  pciePort(bdf: string, spec: Omit<DeviceSpec, 'classCode'> & { secondaryBus: number; portType?: 4 | 5 | 6; acs?: number | null }): this {
    const { acs, portType, ...rest } = spec;
    const extCaps: ExtCapSpec[] = [...(rest.extCaps ?? [])];
    if (acs !== undefined && acs !== null) extCaps.push({ id: 'acs', capability: acs, control: acs });
    return this.device(bdf, {
      classCode: 0x060400,
      driver: 'pcieport',
      caps: [{ id: 'pcie', portType: portType ?? 4, slotImplemented: true }, { id: 'msi' }, { id: 'pm' }],
      ...rest,
      extCaps,
    });
  }

  /** A PCIe-to-PCI/PCI-X bridge (PCIe port type 7): conventional devices live behind it. */
  pcieToPciBridge(bdf: string, spec: Omit<DeviceSpec, 'classCode'> & { secondaryBus: number }): this {
    return this.device(bdf, { classCode: 0x060400, caps: [{ id: 'pm' }, { id: 'msi' }, { id: 'pcie', portType: 7 }], ...spec });
  }

  /** A PCIe endpoint with PM, MSI, optionally MSI-X, and FLR in DevCap when `flr`. */
  pcieEndpoint(bdf: string, spec: DeviceSpec & { flr?: boolean; msix?: number; pmNoSoftReset?: boolean }): this {
    const { flr, msix, pmNoSoftReset, ...rest } = spec;
    const caps: CapSpec[] = [{ id: 'pm', noSoftReset: pmNoSoftReset ?? false }, { id: 'msi' }, { id: 'pcie', portType: 0, flr: flr ?? false }];
    if (msix) caps.push({ id: 'msix', tableSize: msix, tableBar: 0 });
    return this.device(bdf, { caps, extCaps: [{ id: 'aer' }], ...rest });
  }

  /** A conventional PCI device: no PCIe capability, 256-byte config space. */
  pciDevice(bdf: string, spec: DeviceSpec & { pmNoSoftReset?: boolean; afFlr?: boolean }): this {
    const { pmNoSoftReset, afFlr, ...rest } = spec;
    const caps: CapSpec[] = [{ id: 'pm', noSoftReset: pmNoSoftReset ?? false }];
    if (afFlr !== undefined) caps.push({ id: 'af', flr: afFlr });
    return this.device(bdf, { caps, ...rest });
  }

  /** Facts the simulated host injects: the device backs the root disk, the default route, the console. */
  inUse(bdf: string, kind: Dom0Usage['kind'], detail: string): this {
    this.usage.push({ bdf: canonicalBdf(bdf), kind, detail });
    return this;
  }

  /** As `xen-pciback.hide=(BDF)` at boot: in the slot list and bound to pciback. */
  hide(...bdfs: string[]): this {
    this.slots.push(...bdfs.map(canonicalBdf));
    return this;
  }

  withoutPciback(): this {
    this.pcibackLoaded = false;
    return this;
  }

  build(): SimSysfs {
    const sim = new SimSysfs();
    sim.pciback.loaded = this.pcibackLoaded;
    sim.pciback.slots = [...this.slots];
    // Parents first, so that addDevice can check the chain.
    const pending = [...this.specs];
    const placed = new Set<string>();
    while (pending.length > 0) {
      const idx = pending.findIndex((p) => p.spec.parent === undefined || placed.has(p.spec.parent));
      if (idx < 0) throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `parent ${pending[0]!.spec.parent} of ${pending[0]!.bdf} does not exist`);
      const { bdf, spec } = pending.splice(idx, 1)[0]!;
      sim.addDevice(this.realise(bdf, spec));
      placed.add(bdf);
    }
    for (const bdf of this.slots) {
      const d = sim.device(bdf);
      if (!d) throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `hidden device ${bdf} does not exist`);
      // Boot-time seizure: pciback registers before the native drivers, so it wins the probe.
      d.driver = 'pciback';
    }
    sim.dom0Usage = [...this.usage];
    return sim;
  }

  private realise(bdf: string, spec: DeviceSpec): SimDevice {
    const parentSpec = spec.parent ? this.specs.find((s) => s.bdf === spec.parent)?.spec : undefined;
    const bus = parseInt(bdf.slice(5, 7), 16);
    if (parentSpec && parentSpec.secondaryBus !== undefined && parentSpec.secondaryBus !== bus)
      throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, `${bdf} is not on bus ${parentSpec.secondaryBus.toString(16)} behind ${spec.parent}`);
    const isBridge = spec.secondaryBus !== undefined;
    const bars = (spec.bars ?? []).slice(0, isBridge ? 2 : 6);
    const resources: Array<[bigint, bigint, bigint]> = [];
    const regs: Array<{ index: number; kind: 'io' | 'mem'; start: bigint; is64?: boolean; prefetchable?: boolean }> = [];
    let idx = 0;
    for (const bar of bars) {
      const size = BigInt(bar.size);
      let start: bigint;
      let flags: bigint;
      if (bar.kind === 'io') {
        start = align(this.io, size);
        this.io = start + size;
        flags = IORESOURCE_IO | IORESOURCE_SIZEALIGN | 0x1n;
      } else if (bar.is64) {
        start = align(this.mem64, size);
        this.mem64 = start + size;
        flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN | IORESOURCE_MEM_64 | 0x4n | (bar.prefetchable ? IORESOURCE_PREFETCH | 0x8n : 0n);
      } else {
        start = this.alloc32(size);
        flags = IORESOURCE_MEM | IORESOURCE_SIZEALIGN | (bar.prefetchable ? IORESOURCE_PREFETCH | 0x8n : 0n);
      }
      while (resources.length < idx) resources.push([0n, 0n, 0n]);
      resources.push([start, start + size - 1n, flags]);
      regs.push({ index: idx, kind: bar.kind, start, is64: bar.is64, prefetchable: bar.prefetchable });
      // A 64-bit BAR takes two registers; the kernel prints an all-zero line for the upper half.
      if (bar.is64 && bar.kind === 'mem') {
        resources.push([0n, 0n, 0n]);
        idx += 2;
      } else idx += 1;
    }
    while (resources.length < 6) resources.push([0n, 0n, 0n]);
    if (spec.romSize) {
      const size = BigInt(spec.romSize);
      const start = this.alloc32(size);
      resources.push([start, start + size - 1n, IORESOURCE_MEM | IORESOURCE_PREFETCH | IORESOURCE_READONLY | IORESOURCE_SIZEALIGN]);
    } else resources.push([0n, 0n, 0n]);
    // Lines 7-12: SR-IOV VF BARs (CONFIG_PCI_IOV); bridges add their 4 window lines.
    const lines = isBridge ? 17 : 13;
    while (resources.length < lines) resources.push([0n, 0n, 0n]);

    const siblings = this.specs.filter((s) => s.bdf.slice(0, 10) === bdf.slice(0, 10));
    const multiFunction = siblings.length > 1;
    const config = buildConfigSpace({
      vendorId: spec.vendorId,
      deviceId: spec.deviceId,
      subVendorId: spec.subVendorId,
      subDeviceId: spec.subDeviceId,
      classCode: spec.classCode,
      revision: spec.revision,
      headerType: isBridge ? 1 : 0,
      multiFunction,
      bars: regs,
      primaryBus: bus,
      secondaryBus: spec.secondaryBus,
      caps: spec.caps,
      extCaps: spec.extCaps,
      interruptLine: spec.irq ?? 0,
    });
    const nativeDriver = spec.nativeDriver !== undefined ? spec.nativeDriver : spec.driver && spec.driver !== 'pciback' ? spec.driver : null;
    const methods = spec.resetMethods ?? this.kernelResetMethods(bdf, spec);
    return {
      bdf,
      parent: spec.parent ?? null,
      vendorId: spec.vendorId,
      deviceId: spec.deviceId,
      subVendorId: spec.subVendorId ?? (isBridge ? 0 : spec.vendorId),
      subDeviceId: spec.subDeviceId ?? (isBridge ? 0 : spec.deviceId),
      classCode: spec.classCode,
      revision: spec.revision ?? 0,
      config,
      resources,
      irq: spec.irq ?? (spec.classCode >> 16 === 0x06 ? 0 : this.nextIrq++),
      numaNode: spec.numaNode ?? -1,
      iommuGroup: spec.iommuGroup ?? null,
      driver: spec.driver ?? null,
      driverOverride: null,
      nativeDriver,
      supportedResetMethods: methods,
      resetMethods: [...methods],
      resetCount: 0,
      bootVga: spec.bootVga ?? false,
    };
  }

  private alloc32(size: bigint): bigint {
    const start = align(this.mem32, size);
    if (start + size > 0xfec00000n) throw new PcibackError(PcibackErrorCodes.ERR_TOPOLOGY, 'the 32-bit MMIO window is full');
    this.mem32 = start + size;
    return start;
  }

  /**
   * pci_init_reset_methods order: flr (PCIe DevCap), af_flr, pm (PM cap without
   * NoSoftReset), bus (secondary bus reset of the parent bridge, only when the device is alone
   * on its bus and is not itself a bridge: pci_parent_bus_reset refuses otherwise).
   */
  private kernelResetMethods(bdf: string, spec: DeviceSpec): string[] {
    const caps = spec.caps ?? [];
    const out: string[] = [];
    if (caps.some((c) => c.id === 'pcie' && c.flr)) out.push('flr');
    if (caps.some((c) => c.id === 'af' && c.flr)) out.push('af_flr');
    if (caps.some((c) => c.id === 'pm' && !c.noSoftReset)) out.push('pm');
    const onBus = this.specs.filter((s) => s.bdf.slice(0, 7) === bdf.slice(0, 7) && s.spec.parent === spec.parent);
    if (spec.parent !== undefined && spec.secondaryBus === undefined && onBus.length === 1) out.push('bus');
    return out;
  }
}

function align(v: bigint, size: bigint): bigint {
  return ((v + size - 1n) / size) * size;
}

/**
 * The host of the seed document (an ICH9 / Q35 desktop of the VT-d era): NICs at 01:00.0 and
 * 03:00.0 (hidden from dom0 with `xen-pciback.hide=(01:00.0)(03:00.0)` unless `hidden: false`),
 * a PCIe-to-PCI bridge at 04:00.0 with two conventional PCI devices behind it (05:00.0,
 * 05:01.0), a two-function JMicron controller without FLR at 02:00.0/.1, and dom0's own
 * disk controller (00:1f.2), network port (00:19.0) and console (00:02.0).
 */
export function seedTopology(opts: { hidden?: boolean } = {}): SimSysfs {
  const t = new TopologyBuilder()
    .hostBridge('00:00.0', { vendorId: 0x8086, deviceId: 0x29b0, revision: 0x02 })
    .device('00:02.0', {
      vendorId: 0x8086,
      deviceId: 0x29b2,
      classCode: 0x030000,
      revision: 0x02,
      bars: [{ kind: 'mem', size: 0x80000 }, { kind: 'io', size: 8 }, { kind: 'mem', size: 0x10000000, prefetchable: true }, { kind: 'mem', size: 0x100000 }],
      romSize: 0x20000,
      caps: [{ id: 'msi' }, { id: 'pm' }],
      driver: 'i915',
      bootVga: true,
    })
    .device('00:19.0', {
      vendorId: 0x8086,
      deviceId: 0x10bd,
      classCode: 0x020000,
      revision: 0x02,
      bars: [{ kind: 'mem', size: 0x20000 }, { kind: 'mem', size: 0x1000 }, { kind: 'io', size: 0x20 }],
      caps: [{ id: 'pm' }, { id: 'msi' }, { id: 'af', flr: true }],
      driver: 'e1000e',
    })
    .pciePort('00:1c.0', { vendorId: 0x8086, deviceId: 0x2940, secondaryBus: 1, revision: 0x02 })
    .pciePort('00:1c.1', { vendorId: 0x8086, deviceId: 0x2942, secondaryBus: 2, revision: 0x02 })
    .pciePort('00:1c.2', { vendorId: 0x8086, deviceId: 0x2944, secondaryBus: 3, revision: 0x02 })
    .pciePort('00:1c.3', { vendorId: 0x8086, deviceId: 0x2946, secondaryBus: 4, revision: 0x02 })
    .device('00:1f.0', { vendorId: 0x8086, deviceId: 0x2918, classCode: 0x060100, revision: 0x02, driver: 'lpc_ich' })
    .device('00:1f.2', {
      vendorId: 0x8086,
      deviceId: 0x2922,
      classCode: 0x010601,
      revision: 0x02,
      bars: [{ kind: 'io', size: 8 }, { kind: 'io', size: 4 }, { kind: 'io', size: 8 }, { kind: 'io', size: 4 }, { kind: 'io', size: 0x20 }, { kind: 'mem', size: 0x800 }],
      caps: [{ id: 'msi' }, { id: 'pm' }, { id: 'af', flr: true }],
      driver: 'ahci',
    })
    .device('00:1f.3', {
      vendorId: 0x8086,
      deviceId: 0x2930,
      classCode: 0x0c0500,
      revision: 0x02,
      bars: [{ kind: 'mem', size: 0x100 }, { kind: 'io', size: 0x20 }],
      driver: 'i801_smbus',
    })
    .pcieEndpoint('01:00.0', {
      parent: '00:1c.0',
      vendorId: 0x8086,
      deviceId: 0x10d3,
      classCode: 0x020000,
      bars: [{ kind: 'mem', size: 0x20000 }, { kind: 'mem', size: 0x80000 }, { kind: 'io', size: 0x20 }, { kind: 'mem', size: 0x4000 }],
      flr: true,
      msix: 5,
      driver: 'e1000e',
    })
    .pcieEndpoint('02:00.0', {
      parent: '00:1c.1',
      vendorId: 0x197b,
      deviceId: 0x2363,
      classCode: 0x010601,
      revision: 0x03,
      bars: [{ kind: 'mem', size: 0x2000 }],
      // NoSoftReset makes the PM reset useless and the slot is shared, so the kernel finds no
      // reset method at all: the preset's example of a device that cannot be reset.
      pmNoSoftReset: true,
      driver: 'ahci',
    })
    .pcieEndpoint('02:00.1', {
      parent: '00:1c.1',
      vendorId: 0x197b,
      deviceId: 0x2363,
      classCode: 0x01018f,
      revision: 0x03,
      bars: [{ kind: 'io', size: 8 }, { kind: 'io', size: 4 }, { kind: 'io', size: 8 }, { kind: 'io', size: 4 }, { kind: 'io', size: 0x10 }],
      pmNoSoftReset: true,
      driver: 'pata_jmicron',
    })
    .pcieEndpoint('03:00.0', {
      parent: '00:1c.2',
      vendorId: 0x10ec,
      deviceId: 0x8168,
      classCode: 0x020000,
      revision: 0x02,
      bars: [{ kind: 'io', size: 0x100 }, { kind: 'mem', size: 0x1000, is64: true }, { kind: 'mem', size: 0x4000, is64: true, prefetchable: true }],
      msix: 4,
      driver: 'r8169',
    })
    .pcieToPciBridge('04:00.0', { parent: '00:1c.3', vendorId: 0x104c, deviceId: 0x8240, secondaryBus: 5 })
    .pciDevice('05:00.0', {
      parent: '04:00.0',
      vendorId: 0x8086,
      deviceId: 0x107c,
      classCode: 0x020000,
      revision: 0x05,
      bars: [{ kind: 'mem', size: 0x20000 }, { kind: 'mem', size: 0x10000 }, { kind: 'io', size: 0x40 }],
      driver: 'e1000',
    })
    .pciDevice('05:01.0', {
      parent: '04:00.0',
      vendorId: 0x1102,
      deviceId: 0x0004,
      classCode: 0x040100,
      revision: 0x04,
      bars: [{ kind: 'io', size: 0x20 }],
      driver: 'snd_emu10k1',
    })
    .inUse('00:1f.2', 'block', '/dev/sda1 mounted on /')
    .inUse('00:19.0', 'network', 'eth0 carries the default route')
    .inUse('00:02.0', 'console', 'tty0 on the boot VGA device');
  if (opts.hidden !== false) t.hide('01:00.0', '03:00.0');
  return t.build();
}
