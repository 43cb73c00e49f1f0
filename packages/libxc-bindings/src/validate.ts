/**
 * Argument checks done before any hypercall. koffi silently truncates out-of-range integers to
 * the C type, so an unchecked domid 0x10007 would become 7: every value is range-checked here.
 */
import { DOMID_FIRST_RESERVED, DOMID_INVALID, DOMID_IO } from './constants';
import { XcArgumentError } from './errors';

export function uint(name: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw new XcArgumentError(name, `${name} must be an integer 0..${max}, got ${String(v)}`);
  }
  return v;
}

export function int32(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
    throw new XcArgumentError(name, `${name} must be a 32-bit signed integer, got ${String(v)}`);
  }
  return v;
}

export interface DomidRules {
  /** DOMID_IO is the quarantine owner: valid for assign/deassign. */
  allowIo?: boolean;
  /** DOMID_INVALID asks test_assign about the global IOMMU state. */
  allowInvalid?: boolean;
}

/** A real domain id (< DOMID_FIRST_RESERVED), or one of the special ids the call accepts. */
export function domid(v: unknown, rules: DomidRules = {}): number {
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (v >= 0 && v < DOMID_FIRST_RESERVED) return v;
    if (rules.allowIo && v === DOMID_IO) return v;
    if (rules.allowInvalid && v === DOMID_INVALID) return v;
  }
  const special = [rules.allowIo ? 'DOMID_IO' : '', rules.allowInvalid ? 'DOMID_INVALID' : ''].filter(Boolean);
  throw new XcArgumentError(
    'domid',
    `domid must be an integer 0..${DOMID_FIRST_RESERVED - 1}${special.length ? ` or ${special.join('/')}` : ''}, got ${String(v)}`,
  );
}

const U64_MAX = (1n << 64n) - 1n;

/** A 64-bit unsigned value given as bigint or as a safe integer (never a rounded double). */
export function u64(name: string, v: unknown): bigint {
  if (typeof v === 'bigint') {
    if (v >= 0n && v <= U64_MAX) return v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
    return BigInt(v);
  }
  throw new XcArgumentError(name, `${name} must be an unsigned 64-bit integer (bigint, or a safe integer), got ${String(v)}`);
}

export interface FrameRange {
  /** First 4 KiB machine frame (address >> 12). */
  firstMfn: bigint;
  /** Number of frames, >= 1. */
  nrMfns: bigint;
}

/**
 * The 4 KiB frames covering the inclusive byte range [start, end] (a sysfs `resource` line).
 * Computed from both ends: libxl's `(size + 4095) >> 12` under-counts a sub-page BAR that
 * straddles a page boundary.
 */
export function framesForRange(start: bigint, end: bigint): FrameRange {
  const s = u64('start', start);
  const e = u64('end', end);
  if (e < s) throw new XcArgumentError('end', `range end 0x${e.toString(16)} is below start 0x${s.toString(16)}`);
  const firstMfn = s >> 12n;
  return { firstMfn, nrMfns: (e >> 12n) - firstMfn + 1n };
}

/** first + nr must not wrap: Xen refuses it with EINVAL, we refuse it before the call. */
export function frameRange(firstMfn: unknown, nrMfns: unknown): FrameRange {
  const first = u64('firstMfn', firstMfn);
  const nr = u64('nrMfns', nrMfns);
  if (nr === 0n) throw new XcArgumentError('nrMfns', 'nrMfns must be at least 1');
  if (first + nr - 1n > U64_MAX) {
    throw new XcArgumentError('nrMfns', `frame range 0x${first.toString(16)}+0x${nr.toString(16)} wraps past 2^64`);
  }
  return { firstMfn: first, nrMfns: nr };
}
