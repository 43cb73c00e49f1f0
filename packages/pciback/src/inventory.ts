/**
 * The PCI inventory: everything the toolstack needs to know about each device, read from sysfs
 * (real or simulated, through SysfsFs). Capabilities come from the `config` bytes; topology
 * (parent bridges) from the device directory's real path, which nests devices under their
 * upstream bridges (`/devices/pci0000:00/0000:00:1c.3/0000:04:00.0/0000:05:01.0`).
 */
import { isCanonicalBdf, parseBdf, sameSlot } from './bdf';
import { parseConfigSpace, ACS_REQUIRED } from './config-space';
import type { ParsedConfig } from './config-space';
import { PcibackError, PcibackErrorCodes } from './errors';
import type { PciIds } from './pci-ids';
import type { SysfsFs } from './sysfs';
import { PCI_DEVICES, devicePath, readAttr, readHexAttr, readIntAttr } from './sysfs';

export interface PciBar {
  /** 0-5 for BARs, 6 for the expansion ROM. */
  index: number;
  kind: 'io' | 'mem' | 'rom';
  start: bigint;
  /** Inclusive, as sysfs prints it. */
  end: bigint;
  size: bigint;
  is64: boolean;
  prefetchable: boolean;
  /** The kernel's IORESOURCE_* word. */
  flags: bigint;
}

export type PciDeviceKind =
  | 'host-bridge'
  | 'pcie-port'
  | 'pcie-to-pci-bridge'
  | 'pci-bridge'
  | 'other-bridge'
  | 'pcie-endpoint'
  | 'pci-device';

export interface PciDevice {
  bdf: string;
  domain: number;
  bus: number;
  dev: number;
  fn: number;
  vendorId: number;
  deviceId: number;
  subVendorId: number;
  subDeviceId: number;
  classCode: number;
  revision: number;
  vendorName?: string;
  deviceName?: string;
  subsystemName?: string;
  className?: string;
  /** Name of the bound driver, null when unbound. */
  driver: string | null;
  /** The driver directory inside sysfs (`/bus/pci/drivers/e1000e`), what libxl records for rebinding. */
  driverPath: string | null;
  driverOverride: string | null;
  iommuGroup: number | null;
  numaNode: number | null;
  irq: number | null;
  bars: PciBar[];
  headerType: number;
  multiFunction: boolean;
  kind: PciDeviceKind;
  isBridge: boolean;
  secondaryBus?: number;
  pcie: { portType: number; portTypeName: string; version: number; flr: boolean } | null;
  msi: { enabled: boolean; is64: boolean; maxVectors: number } | null;
  msix: { enabled: boolean; tableSize: number } | null;
  pm: { noSoftReset: boolean } | null;
  af: { flr: boolean } | null;
  /** Function-level reset: PCIe DevCap FLR or PCI Advanced Features FLR. */
  flr: boolean;
  /** `reset_method` (Linux >= 5.15); null when the kernel does not publish it. */
  resetMethods: string[] | null;
  /** The `reset` attribute exists (the kernel found at least one reset method). */
  resetAvailable: boolean;
  acs: { capability: number; control: number; required: boolean } | null;
  /** Other functions of the same slot present in sysfs. */
  siblings: string[];
  /** Upstream bridges, outermost first. */
  parents: string[];
  /** False when only part of config space was readable (not root): capabilities may be missing. */
  configComplete: boolean;
}

/** All PCI devices in `/bus/pci/devices`, in BDF order. */
export function readInventory(fs: SysfsFs, opts: { pciIds?: PciIds } = {}): PciDevice[] {
  if (!fs.exists(PCI_DEVICES)) return [];
  const names = fs.readdir(PCI_DEVICES).filter(isCanonicalBdf).sort();
  return names.map((bdf) => readDeviceUnchecked(fs, bdf, names, opts.pciIds));
}

/** One device; ERR_PCI_NO_DEVICE when it does not exist. */
export function readDevice(fs: SysfsFs, bdf: string, opts: { pciIds?: PciIds } = {}): PciDevice {
  if (!fs.exists(devicePath(bdf)))
    throw new PcibackError(PcibackErrorCodes.ERR_PCI_NO_DEVICE, `no PCI device ${bdf} (${fs.root}${devicePath(bdf)} does not exist)`, {
      path: fs.root + devicePath(bdf),
      errno: 'ENOENT',
    });
  const names = fs.readdir(PCI_DEVICES).filter(isCanonicalBdf);
  return readDeviceUnchecked(fs, bdf, names, opts.pciIds);
}

/** The bound driver's sysfs directory, or null. */
export function currentDriverPath(fs: SysfsFs, bdf: string): string | null {
  const link = devicePath(bdf, 'driver');
  return fs.exists(link) ? fs.realpath(link) : null;
}

export function parseResource(text: string): PciBar[] {
  const bars: PciBar[] = [];
  text
    .split('\n')
    .slice(0, 7)
    .forEach((line, index) => {
      const parts = line.trim().split(/\s+/);
      if (parts.length < 3) return;
      const [start, end, flags] = parts.map((p) => BigInt(p)) as [bigint, bigint, bigint];
      if (start === 0n && end === 0n) return;
      // IORESOURCE_IO 0x100 / IORESOURCE_MEM 0x200, not bit 0: on the ROM line bit 0 is
      // IORESOURCE_ROM_ENABLE, which libxl's `flags & 1` test mistakes for an I/O range.
      const kind: PciBar['kind'] = index === 6 ? 'rom' : flags & 0x100n ? 'io' : 'mem';
      if (index !== 6 && !(flags & 0x300n)) return;
      bars.push({
        index,
        kind,
        start,
        end,
        size: end - start + 1n,
        is64: (flags & 0x100000n) !== 0n,
        prefetchable: (flags & 0x2000n) !== 0n,
        flags,
      });
    });
  return bars;
}

function classify(classCode: number, cfg: ParsedConfig): PciDeviceKind {
  const base = classCode >> 16;
  const sub = (classCode >> 8) & 0xff;
  if (base === 0x06 && sub === 0x00) return 'host-bridge';
  const pt = cfg.pcie?.portType;
  if (pt === 0x7) return 'pcie-to-pci-bridge';
  if (pt === 0x4 || pt === 0x5 || pt === 0x6 || pt === 0x8) return 'pcie-port';
  if (cfg.headerType === 1 || (base === 0x06 && (sub === 0x04 || sub === 0x09))) return cfg.pcie ? 'pcie-port' : 'pci-bridge';
  if (base === 0x06) return 'other-bridge';
  return cfg.pcie ? 'pcie-endpoint' : 'pci-device';
}

function readDeviceUnchecked(fs: SysfsFs, bdf: string, all: string[], ids?: PciIds): PciDevice {
  const b = parseBdf(bdf);
  const at = (attr: string) => devicePath(bdf, attr);
  const config = fs.exists(at('config')) ? new Uint8Array(fs.readFile(at('config'))) : new Uint8Array(0);
  const cfg = parseConfigSpace(config);
  const vendorId = readHexAttr(fs, at('vendor')) ?? cfg.vendorId;
  const deviceId = readHexAttr(fs, at('device')) ?? cfg.deviceId;
  const classCode = readHexAttr(fs, at('class')) ?? cfg.classCode;
  const subVendorId = readHexAttr(fs, at('subsystem_vendor')) ?? 0;
  const subDeviceId = readHexAttr(fs, at('subsystem_device')) ?? 0;
  const revision = readHexAttr(fs, at('revision')) ?? cfg.revision;
  const driverPath = currentDriverPath(fs, bdf);
  const override = readAttr(fs, at('driver_override'));
  const groupLink = at('iommu_group');
  const numa = readIntAttr(fs, at('numa_node'));
  const resetMethodText = readAttr(fs, at('reset_method'));
  const real = fs.realpath(devicePath(bdf));
  const chain = real.split('/').filter(isCanonicalBdf);
  const kind = classify(classCode, cfg);
  const resource = readAttr(fs, at('resource'));
  const dev: PciDevice = {
    bdf,
    ...b,
    vendorId,
    deviceId,
    subVendorId,
    subDeviceId,
    classCode,
    revision,
    driver: driverPath ? driverPath.split('/').pop()! : null,
    driverPath,
    driverOverride: override === undefined || override === '(null)' || override === '' ? null : override,
    iommuGroup: fs.exists(groupLink) ? Number(fs.readlink(groupLink).split('/').pop()) : null,
    numaNode: numa === undefined || numa < 0 ? null : numa,
    irq: readIntAttr(fs, at('irq')) ?? null,
    bars: resource === undefined ? [] : parseResource(resource),
    headerType: cfg.headerType,
    multiFunction: cfg.multiFunction,
    kind,
    isBridge: kind !== 'pcie-endpoint' && kind !== 'pci-device',
    pcie: cfg.pcie ? { portType: cfg.pcie.portType, portTypeName: cfg.pcie.portTypeName, version: cfg.pcie.version, flr: cfg.pcie.flr } : null,
    msi: cfg.msi ? { enabled: cfg.msi.enabled, is64: cfg.msi.is64, maxVectors: cfg.msi.maxVectors } : null,
    msix: cfg.msix ? { enabled: cfg.msix.enabled, tableSize: cfg.msix.tableSize } : null,
    pm: cfg.pm ? { noSoftReset: cfg.pm.noSoftReset } : null,
    af: cfg.af ? { flr: cfg.af.flr } : null,
    flr: Boolean(cfg.pcie?.flr || cfg.af?.flr),
    resetMethods: resetMethodText === undefined ? null : resetMethodText.split(/\s+/).filter(Boolean),
    resetAvailable: fs.exists(at('reset')),
    acs: cfg.acs ? { capability: cfg.acs.capability, control: cfg.acs.control, required: (cfg.acs.control & ACS_REQUIRED) === ACS_REQUIRED } : null,
    siblings: all.filter((o) => o !== bdf && sameSlot(o, bdf)).sort(),
    parents: chain.slice(0, -1),
    configComplete: cfg.complete,
  };
  if (cfg.secondaryBus !== undefined) dev.secondaryBus = cfg.secondaryBus;
  if (ids) {
    const set = (k: 'vendorName' | 'deviceName' | 'subsystemName' | 'className', v: string | undefined) => {
      if (v !== undefined) dev[k] = v;
    };
    set('vendorName', ids.vendor(vendorId));
    set('deviceName', ids.device(vendorId, deviceId));
    set('subsystemName', ids.subsystem(vendorId, deviceId, subVendorId, subDeviceId));
    set('className', ids.subclassName(classCode));
  }
  return dev;
}

/** `Vendor Device` as lspci prints it, falling back to ids. */
export function displayName(d: PciDevice): string {
  const v = d.vendorName ?? `Vendor ${d.vendorId.toString(16).padStart(4, '0')}`;
  const n = d.deviceName ?? `Device ${d.deviceId.toString(16).padStart(4, '0')}`;
  return `${v} ${n}`;
}
