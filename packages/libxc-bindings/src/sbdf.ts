import { XcArgumentError } from './errors';

/** A PCI function address as Xen sees it. */
export interface PciAddress {
  /** PCI segment (domain), 0..0xffff. */
  segment: number;
  bus: number;
  device: number;
  function: number;
}

function field(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new XcArgumentError(name, `${name} must be an integer 0..0x${max.toString(16)}, got ${String(v)}`);
  }
  return v;
}

/**
 * machine_sbdf as xc_assign_device and friends take it (libxl `pci_encode_bdf`):
 * `seg << 16 | bus << 8 | dev << 3 | fn`. Out-of-range parts are refused instead of masked, so a
 * typo can never address a different device.
 */
export function encodeSbdf(a: PciAddress): number {
  const seg = field('segment', a.segment, 0xffff);
  const bus = field('bus', a.bus, 0xff);
  const dev = field('device', a.device, 0x1f);
  const fn = field('function', a.function, 7);
  return ((seg << 16) | (bus << 8) | (dev << 3) | fn) >>> 0;
}

export function decodeSbdf(sbdf: number): PciAddress {
  if (!Number.isInteger(sbdf) || sbdf < 0 || sbdf > 0xffffffff) {
    throw new XcArgumentError('sbdf', `sbdf must be a 32-bit unsigned integer, got ${String(sbdf)}`);
  }
  return { segment: sbdf >>> 16, bus: (sbdf >>> 8) & 0xff, device: (sbdf >>> 3) & 0x1f, function: sbdf & 7 };
}

const BDF_RE = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/** `DDDD:BB:DD.F` or `BB:DD.F` (segment 0), hex, as xl and sysfs write them. */
export function parseBdf(text: string): PciAddress {
  const m = BDF_RE.exec(text.trim());
  if (!m) throw new XcArgumentError('bdf', `not a PCI address (DDDD:BB:DD.F): ${JSON.stringify(text)}`);
  const a = { segment: parseInt(m[1] ?? '0', 16), bus: parseInt(m[2]!, 16), device: parseInt(m[3]!, 16), function: parseInt(m[4]!, 10) };
  encodeSbdf(a);
  return a;
}

export function formatBdf(a: PciAddress): string {
  const h = (v: number, w: number) => v.toString(16).padStart(w, '0');
  return `${h(a.segment, 4)}:${h(a.bus, 2)}:${h(a.device, 2)}.${a.function}`;
}
