/**
 * PCI addresses. sysfs names devices `DDDD:BB:DD.F` in lower-case hex with a 4-digit domain;
 * the kernel's `bus_find_device_by_name` compares names exactly, so everything written to
 * `bind`/`unbind`/`drivers_probe` must be in this canonical form.
 */
import { PcibackError, PcibackErrorCodes } from './errors';

export interface Bdf {
  domain: number;
  bus: number;
  dev: number;
  fn: number;
}

const BDF_RE = /^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/** Accepts `DDDD:BB:DD.F` and `BB:DD.F` (domain 0), as xl and pciback's `str_to_slot` do. */
export function parseBdf(text: string): Bdf {
  const m = BDF_RE.exec(text.trim());
  if (!m) throw new PcibackError(PcibackErrorCodes.ERR_BDF, `malformed PCI address '${text}' (expected DDDD:BB:DD.F)`);
  const dev = parseInt(m[3]!, 16);
  if (dev > 0x1f) throw new PcibackError(PcibackErrorCodes.ERR_BDF, `malformed PCI address '${text}': device ${m[3]} > 1f`);
  return { domain: m[1] ? parseInt(m[1], 16) : 0, bus: parseInt(m[2]!, 16), dev, fn: parseInt(m[4]!, 10) };
}

export function formatBdf(b: Bdf): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(b.domain, 4)}:${h(b.bus, 2)}:${h(b.dev, 2)}.${b.fn}`;
}

/** Canonical sysfs name of any accepted spelling. */
export function canonicalBdf(text: string): string {
  return formatBdf(parseBdf(text));
}

/** True for a canonical sysfs device name (used to pick BDF components out of sysfs paths). */
export function isCanonicalBdf(name: string): boolean {
  return /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/.test(name);
}

/** Same bus and slot: the functions of one multi-function device. */
export function sameSlot(a: string, b: string): boolean {
  return a.slice(0, 10) === b.slice(0, 10);
}

/** Xen's sbdf: seg<<16 | bus<<8 | dev<<3 | fn. */
export function sbdf(b: Bdf): number {
  return ((b.domain << 16) | (b.bus << 8) | (b.dev << 3) | b.fn) >>> 0;
}

/** Sort key so that lists come out in lspci order. */
export function compareBdf(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
