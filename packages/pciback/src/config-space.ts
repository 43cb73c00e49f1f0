/**
 * PCI configuration space: a parser for the bytes of sysfs `config`, and a builder that lays
 * out realistic bytes for the simulated sysfs. Offsets and bits are those of
 * include/uapi/linux/pci_regs.h; capabilities are read from the list the device publishes,
 * never guessed from class codes.
 */

export const CAP_ID = { PM: 0x01, MSI: 0x05, VNDR: 0x09, PCIE: 0x10, MSIX: 0x11, AF: 0x13 } as const;
export const EXT_CAP_ID = { AER: 0x0001, ACS: 0x000d, ARI: 0x000e, SRIOV: 0x0010 } as const;

/** PCI_EXP_FLAGS_TYPE values (bits 7:4 of the PCIe capabilities register). */
export const PCIE_PORT_TYPE_NAMES: Record<number, string> = {
  0x0: 'endpoint',
  0x1: 'legacy-endpoint',
  0x4: 'root-port',
  0x5: 'upstream-port',
  0x6: 'downstream-port',
  0x7: 'pcie-to-pci-bridge',
  0x8: 'pci-to-pcie-bridge',
  0x9: 'rc-integrated-endpoint',
  0xa: 'rc-event-collector',
};

/** PCI_ACS_* capability bits; xend required SV|RR|CR|UF (0x1d) on every downstream port. */
export const ACS = { SV: 0x01, TB: 0x02, RR: 0x04, CR: 0x08, UF: 0x10, EC: 0x20, DT: 0x40 } as const;
export const ACS_REQUIRED = ACS.SV | ACS.RR | ACS.CR | ACS.UF;

export interface ParsedConfig {
  vendorId: number;
  deviceId: number;
  command: number;
  status: number;
  revision: number;
  classCode: number;
  /** Low 7 bits of the header type: 0 normal, 1 PCI-PCI bridge, 2 CardBus. */
  headerType: number;
  multiFunction: boolean;
  /** Bridges only. */
  secondaryBus?: number;
  subordinateBus?: number;
  /** Standard capabilities in list order, `[id, offset]`. */
  capabilities: Array<{ id: number; offset: number }>;
  extendedCapabilities: Array<{ id: number; offset: number; version: number }>;
  pm?: { offset: number; noSoftReset: boolean };
  msi?: { offset: number; enabled: boolean; is64: boolean; maxVectors: number };
  msix?: { offset: number; enabled: boolean; tableSize: number; tableBar: number; pbaBar: number };
  pcie?: { offset: number; version: number; portType: number; portTypeName: string; flr: boolean; slotImplemented: boolean };
  af?: { offset: number; flr: boolean; transactionsPending: boolean };
  acs?: { offset: number; capability: number; control: number };
  /** False when only the first 64 bytes were readable (unprivileged reader). */
  complete: boolean;
}

const u8 = (b: Uint8Array, o: number) => (o < b.length ? b[o]! : 0);
const u16 = (b: Uint8Array, o: number) => u8(b, o) | (u8(b, o + 1) << 8);
const u32 = (b: Uint8Array, o: number) => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;

export function parseConfigSpace(bytes: Uint8Array): ParsedConfig {
  const status = u16(bytes, 0x06);
  const rawHeader = u8(bytes, 0x0e);
  const headerType = rawHeader & 0x7f;
  const out: ParsedConfig = {
    vendorId: u16(bytes, 0x00),
    deviceId: u16(bytes, 0x02),
    command: u16(bytes, 0x04),
    status,
    revision: u8(bytes, 0x08),
    classCode: (u8(bytes, 0x0b) << 16) | (u8(bytes, 0x0a) << 8) | u8(bytes, 0x09),
    headerType,
    multiFunction: (rawHeader & 0x80) !== 0,
    capabilities: [],
    extendedCapabilities: [],
    complete: bytes.length >= 256,
  };
  if (headerType === 1) {
    out.secondaryBus = u8(bytes, 0x19);
    out.subordinateBus = u8(bytes, 0x1a);
  }
  // PCI_STATUS_CAP_LIST (bit 4) says whether the pointer at 0x34 (0x14 for CardBus) is valid.
  if (status & 0x10 && bytes.length > 0x40) {
    let ptr = u8(bytes, headerType === 2 ? 0x14 : 0x34) & 0xfc;
    const seen = new Set<number>();
    // 48 = the kernel's PCI_FIND_CAP_TTL: a corrupt list must not loop forever.
    for (let ttl = 48; ptr >= 0x40 && ttl > 0 && !seen.has(ptr); ttl--) {
      seen.add(ptr);
      const id = u8(bytes, ptr);
      if (id === 0xff) break;
      out.capabilities.push({ id, offset: ptr });
      decodeCap(bytes, id, ptr, out);
      ptr = u8(bytes, ptr + 1) & 0xfc;
    }
  }
  // Extended capabilities exist only when the kernel exposes the 4096-byte file.
  if (bytes.length > 0x100) {
    let ptr = 0x100;
    const seen = new Set<number>();
    for (let ttl = (4096 - 256) / 8; ptr >= 0x100 && ttl > 0 && !seen.has(ptr); ttl--) {
      seen.add(ptr);
      const hdr = u32(bytes, ptr);
      if (hdr === 0 || hdr === 0xffffffff) break;
      const id = hdr & 0xffff;
      out.extendedCapabilities.push({ id, offset: ptr, version: (hdr >>> 16) & 0xf });
      if (id === EXT_CAP_ID.ACS) out.acs = { offset: ptr, capability: u16(bytes, ptr + 4), control: u16(bytes, ptr + 6) };
      ptr = (hdr >>> 20) & 0xffc;
    }
  }
  return out;
}

function decodeCap(b: Uint8Array, id: number, o: number, out: ParsedConfig): void {
  switch (id) {
    case CAP_ID.PM:
      // PCI_PM_CTRL_NO_SOFT_RESET: D3hot->D0 does not reset the function, so a PM reset is useless.
      out.pm = { offset: o, noSoftReset: (u16(b, o + 4) & 0x08) !== 0 };
      break;
    case CAP_ID.MSI: {
      const ctl = u16(b, o + 2);
      out.msi = { offset: o, enabled: (ctl & 1) !== 0, is64: (ctl & 0x80) !== 0, maxVectors: 1 << ((ctl >> 1) & 7) };
      break;
    }
    case CAP_ID.MSIX: {
      const ctl = u16(b, o + 2);
      out.msix = {
        offset: o,
        enabled: (ctl & 0x8000) !== 0,
        tableSize: (ctl & 0x7ff) + 1,
        tableBar: u32(b, o + 4) & 7,
        pbaBar: u32(b, o + 8) & 7,
      };
      break;
    }
    case CAP_ID.PCIE: {
      const flags = u16(b, o + 2);
      const portType = (flags >> 4) & 0xf;
      out.pcie = {
        offset: o,
        version: flags & 0xf,
        portType,
        portTypeName: PCIE_PORT_TYPE_NAMES[portType] ?? `type-${portType}`,
        // PCI_EXP_DEVCAP_FLR, bit 28 of Device Capabilities.
        flr: (u32(b, o + 4) & 0x10000000) !== 0,
        slotImplemented: (flags & 0x100) !== 0,
      };
      break;
    }
    case CAP_ID.AF: {
      const cap = u8(b, o + 3);
      out.af = { offset: o, transactionsPending: (cap & 1) !== 0, flr: (cap & 2) !== 0 };
      break;
    }
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Builder

export type CapSpec =
  | { id: 'pm'; noSoftReset?: boolean }
  | { id: 'msi'; is64?: boolean; enabled?: boolean; maxVectors?: 1 | 2 | 4 | 8 | 16 | 32 }
  | { id: 'msix'; tableSize: number; enabled?: boolean; tableBar?: number; pbaBar?: number }
  | { id: 'pcie'; portType: number; flr?: boolean; slotImplemented?: boolean }
  | { id: 'af'; flr?: boolean };

export type ExtCapSpec = { id: 'acs'; capability: number; control: number } | { id: 'aer' } | { id: 'ari' };

export interface BarRegister {
  index: number;
  kind: 'io' | 'mem';
  start: bigint;
  is64?: boolean;
  prefetchable?: boolean;
}

export interface ConfigSpec {
  vendorId: number;
  deviceId: number;
  subVendorId?: number;
  subDeviceId?: number;
  classCode: number;
  revision?: number;
  headerType?: 0 | 1;
  multiFunction?: boolean;
  bars?: BarRegister[];
  secondaryBus?: number;
  subordinateBus?: number;
  primaryBus?: number;
  interruptPin?: number;
  interruptLine?: number;
  caps?: CapSpec[];
  extCaps?: ExtCapSpec[];
  /** 4096 for PCIe devices (extended config space), 256 for conventional PCI. */
  size?: 256 | 4096;
}

const CAP_LEN: Record<CapSpec['id'], number> = { pm: 8, msi: 24, msix: 12, pcie: 0x3c, af: 8 };

/** Lays the capability list out from 0x40 and the extended list from 0x100, as firmware does. */
export function buildConfigSpace(spec: ConfigSpec): Uint8Array {
  const hasPcie = (spec.caps ?? []).some((c) => c.id === 'pcie');
  const size = spec.size ?? (hasPcie ? 4096 : 256);
  const b = new Uint8Array(size);
  const w8 = (o: number, v: number) => (b[o] = v & 0xff);
  const w16 = (o: number, v: number) => (w8(o, v), w8(o + 1, v >> 8));
  const w32 = (o: number, v: number) => (w16(o, v & 0xffff), w16(o + 2, (v >>> 16) & 0xffff));
  const headerType = spec.headerType ?? 0;

  w16(0x00, spec.vendorId);
  w16(0x02, spec.deviceId);
  // Memory space + bus master + INTx disable (what a bound driver leaves), I/O space when the
  // device has an I/O BAR.
  w16(0x04, 0x0406 | ((spec.bars ?? []).some((b) => b.kind === 'io') ? 1 : 0));
  w8(0x08, spec.revision ?? 0);
  w8(0x09, spec.classCode & 0xff);
  w8(0x0a, (spec.classCode >> 8) & 0xff);
  w8(0x0b, (spec.classCode >> 16) & 0xff);
  w8(0x0e, headerType | (spec.multiFunction ? 0x80 : 0));
  for (const bar of spec.bars ?? []) {
    const o = 0x10 + bar.index * 4;
    if (bar.kind === 'io') {
      w32(o, (Number(bar.start) & 0xfffffffc) | 1);
    } else {
      const low = (Number(bar.start & 0xffffffffn) & 0xfffffff0) | (bar.is64 ? 0x4 : 0) | (bar.prefetchable ? 0x8 : 0);
      w32(o, low >>> 0);
      if (bar.is64) w32(o + 4, Number(bar.start >> 32n));
    }
  }
  if (headerType === 0) {
    w16(0x2c, spec.subVendorId ?? spec.vendorId);
    w16(0x2e, spec.subDeviceId ?? spec.deviceId);
  } else {
    w8(0x18, spec.primaryBus ?? 0);
    w8(0x19, spec.secondaryBus ?? 0);
    w8(0x1a, spec.subordinateBus ?? spec.secondaryBus ?? 0);
  }
  w8(0x3c, spec.interruptLine ?? 0);
  w8(0x3d, spec.interruptPin ?? 1);

  const caps = spec.caps ?? [];
  if (caps.length > 0) {
    w16(0x06, 0x0010); // PCI_STATUS_CAP_LIST
    let off = 0x40;
    w8(0x34, off);
    caps.forEach((cap, i) => {
      const len = CAP_LEN[cap.id];
      const next = i + 1 < caps.length ? off + len : 0;
      w8(off + 1, next);
      writeCap(cap, off, w8, w16, w32);
      off += len;
    });
    if (off > 0x100) throw new Error('capability list does not fit in 256 bytes');
  }
  const ext = spec.extCaps ?? [];
  if (ext.length > 0) {
    if (size < 4096) throw new Error('extended capabilities need a 4096-byte config space');
    let off = 0x100;
    ext.forEach((cap, i) => {
      const len = cap.id === 'aer' ? 0x48 : 8;
      const next = i + 1 < ext.length ? off + len : 0;
      const id = cap.id === 'acs' ? EXT_CAP_ID.ACS : cap.id === 'aer' ? EXT_CAP_ID.AER : EXT_CAP_ID.ARI;
      w32(off, (id | (1 << 16) | (next << 20)) >>> 0);
      if (cap.id === 'acs') {
        w16(off + 4, cap.capability);
        w16(off + 6, cap.control);
      }
      off += len;
    });
  }
  return b;
}

function writeCap(
  cap: CapSpec,
  o: number,
  w8: (o: number, v: number) => void,
  w16: (o: number, v: number) => void,
  w32: (o: number, v: number) => void,
): void {
  switch (cap.id) {
    case 'pm':
      w8(o, CAP_ID.PM);
      w16(o + 2, 0x0003); // PM spec 1.2
      w16(o + 4, cap.noSoftReset ? 0x0008 : 0);
      break;
    case 'msi': {
      w8(o, CAP_ID.MSI);
      const mmc = Math.log2(cap.maxVectors ?? 1);
      w16(o + 2, (cap.enabled ? 1 : 0) | (mmc << 1) | (cap.is64 === false ? 0 : 0x80));
      break;
    }
    case 'msix':
      w8(o, CAP_ID.MSIX);
      w16(o + 2, ((cap.tableSize - 1) & 0x7ff) | (cap.enabled ? 0x8000 : 0));
      w32(o + 4, cap.tableBar ?? 0);
      w32(o + 8, ((cap.pbaBar ?? cap.tableBar ?? 0) | 0x800) >>> 0);
      break;
    case 'pcie':
      w8(o, CAP_ID.PCIE);
      w16(o + 2, 0x2 | ((cap.portType & 0xf) << 4) | (cap.slotImplemented ? 0x100 : 0));
      w32(o + 4, (0x00008000 | (cap.flr ? 0x10000000 : 0)) >>> 0); // role-based error reporting + FLR
      break;
    case 'af':
      w8(o, CAP_ID.AF);
      w8(o + 2, 6);
      w8(o + 3, 0x01 | (cap.flr ? 0x02 : 0));
      break;
  }
}
