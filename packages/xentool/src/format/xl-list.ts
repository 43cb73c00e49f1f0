/**
 * `xl list` text and `xl list -l` JSON, from plain DomainRecords. Text is byte-exact with xl
 * 4.17 (tools/xl/xl_info.c list_domains):
 *
 *   printf("%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f", name, domid,
 *          (current_memkb + outstanding_memkb) / 1024, vcpu_online,
 *          r, b, p, s, "-rscwS"[shutdown ? reason : 0], d, (float)cpu_time / 1e9);
 */
import type { DomainRecord } from '../host/host';

export const XL_LIST_HEADER = 'Name                                        ID   Mem VCPUs\tState\tTime(s)\n';

const REASON_CODES: Record<string, number> = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 };
const REASON_LETTERS = '-rscwS';

function reasonCode(d: DomainRecord): number {
  if (!d.shutdown) return 0;
  const r = d.shutdownReason;
  if (r === undefined) return 0;
  return typeof r === 'number' ? r : (REASON_CODES[r] ?? -1);
}

/** The six-letter state column, e.g. `r-----`, `--ps--` (paused, shut down for poweroff). */
export function xlStateString(d: DomainRecord): string {
  const code = reasonCode(d);
  return (
    (d.running ? 'r' : '-') +
    (d.blocked ? 'b' : '-') +
    (d.paused ? 'p' : '-') +
    (d.shutdown ? 's' : '-') +
    (code >= 0 && code < REASON_LETTERS.length ? REASON_LETTERS[code] : '?') +
    (d.dying ? 'd' : '-')
  );
}

/**
 * C's `(float)` conversion of a uint64: round to nearest-even at 24 significant bits, directly
 * from the integer. Going through a double first (Math.fround(Number(v))) rounds twice and can
 * differ above 2^53.
 */
export function u64ToFloat32(v: bigint): number {
  if (v < 1n << 53n) return Math.fround(Number(v));
  const shift = BigInt(v.toString(2).length - 24);
  let m = v >> shift;
  const rem = v & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
  return Math.fround(Number(m) * 2 ** Number(shift));
}

/**
 * glibc's `%.<digits>f` for a finite non-negative double: the exact binary value rounded to
 * nearest, ties to even. (Number.prototype.toFixed breaks ties upwards: 0.25 → "0.3" where
 * printf gives "0.2".)
 */
export function printfFixed(x: number, digits: number): string {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`printfFixed: unsupported value ${x}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  const scale = 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * scale;
  else {
    const num = mant * scale;
    const den = 1n << BigInt(-exp);
    q = num / den;
    const twiceRem = (num % den) * 2n;
    if (twiceRem > den || (twiceRem === den && (q & 1n) === 1n)) q += 1n;
  }
  const s = q.toString().padStart(digits + 1, '0');
  return digits === 0 ? s : `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** One `xl list` row (with its newline). */
export function xlListRow(d: DomainRecord): string {
  // libxl_domid_to_name returns NULL without /local/domain/N/name; glibc prints "(null)".
  const name = (d.name ?? '(null)').padEnd(40);
  const memMiB = Math.trunc((d.memKiB + (d.outstandingMemKiB ?? 0)) / 1024);
  const time = printfFixed(u64ToFloat32(d.cpuTimeNs) / 1e9, 1).padStart(8);
  return `${name} ${String(d.domid).padStart(5)} ${String(memMiB).padStart(5)} ${String(d.vcpus).padStart(5)}     ${xlStateString(d)}  ${time}\n`;
}

export function formatXlList(domains: readonly DomainRecord[]): string {
  return XL_LIST_HEADER + domains.map(xlListRow).join('');
}

/**
 * `xentool list -l` / `--json`. xl prints libxl's stored domain configuration here, which only
 * exists for domains libxl itself built; xentool prints what the hypervisor and xenstore say
 * instead, with libxl_dominfo's field names. This object is a contract: add fields, never
 * rename. cpu_time is in ns and stays an exact integer beyond 2^53.
 */
export function xlListJsonObjects(domains: readonly DomainRecord[]): Record<string, unknown>[] {
  return domains.map((d) => ({
    domid: d.domid,
    name: d.name ?? null,
    uuid: d.uuid,
    domain_type: d.hvm ? 'hvm' : 'pv',
    state: xlStateString(d),
    running: d.running,
    blocked: d.blocked,
    paused: d.paused,
    shutdown: d.shutdown,
    dying: d.dying,
    shutdown_reason: d.shutdown ? (d.shutdownReason ?? null) : null,
    current_memkb: d.memKiB,
    outstanding_memkb: d.outstandingMemKiB ?? 0,
    max_memkb: d.maxMemKiB,
    vcpu_online: d.vcpus,
    vcpu_max: d.maxVcpus,
    cpu_time: d.cpuTimeNs,
  }));
}

/** JSON text with 4-space indentation (as xl's yajl generator), bigints as exact integers. */
export function formatXlListJson(domains: readonly DomainRecord[]): string {
  const marker = '\u0000bigint:';
  const text = JSON.stringify(xlListJsonObjects(domains), (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v), 4);
  return text.replace(/"\\u0000bigint:(\d+)"/g, '$1') + '\n';
}
