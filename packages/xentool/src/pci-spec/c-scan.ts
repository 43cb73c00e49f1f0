/**
 * Just enough of glibc's number scanning to reproduce libxlutil's PCI parsers byte for byte:
 * `sscanf("%x")`, `strtol(…, 10)` via `atoi`. Each returns how many characters it consumed, as
 * `%n` would report. Checked against the real library by test/libxlutil/.
 */

const C_SPACE = ' \t\n\v\f\r';
const U64 = (1n << 64n) - 1n;

export function isCSpace(c: string | undefined): boolean {
  return c !== undefined && c !== '' && C_SPACE.includes(c);
}

export function isXDigit(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

export interface Scanned {
  /** The value stored through an `unsigned int *`. */
  value: number;
  /** Characters consumed from the start position (leading white space included). */
  length: number;
}

/**
 * `sscanf(s + at, "%x%n", &u, &n)`: skips white space, takes a sign and an optional `0x`
 * (glibc consumes the `x` even when no hex digit follows: "0x." reads 0 and stops at '.'),
 * then hex digits. The value goes through strtoul (saturating at ULONG_MAX, negated for '-')
 * and is truncated to 32 bits. Returns undefined when the conversion fails.
 */
export function scanHex(s: string, at: number): Scanned | undefined {
  let i = at;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let digits = '';
  if (s[i] === '0' && (s[i + 1] === 'x' || s[i + 1] === 'X')) {
    digits = '0';
    i += 2;
  }
  while (isXDigit(s[i])) digits += s[i++];
  if (digits === '') return undefined;
  let v = BigInt('0x' + digits);
  if (v > U64) v = U64;
  else if (neg) v = (U64 + 1n - v) & U64;
  return { value: Number(v & 0xffffffffn), length: i - at };
}

/** C `atoi` as glibc implements it: `(int) strtol(s, NULL, 10)`, saturating then truncating. */
export function atoiC(s: string): number {
  let i = 0;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let digits = '';
  while (i < s.length && s[i] >= '0' && s[i] <= '9') digits += s[i++];
  if (digits === '') return 0;
  const LONG_MAX = (1n << 63n) - 1n;
  let v = BigInt(digits);
  if (neg) v = v > LONG_MAX + 1n ? -(LONG_MAX + 1n) : -v;
  else if (v > LONG_MAX) v = LONG_MAX;
  return Number(BigInt.asIntN(32, v));
}
