/**
 * The xen-pciback `hide=` parameter, as written on the kernel command line
 * (`xen-pciback.hide=(01:00.0)(0000:03:00.*)` when built in, `pciback.hide=` for the old
 * module name) and parsed by linux drivers/xen/xen-pciback/pci_stub.c `pcistub_init`:
 * each entry is `(DDDD:BB:SS.F)` or `(BB:SS.F)`, with `*` for the function or for slot and
 * function, white space allowed around the parentheses and before each number.
 *
 * `parseHideLine` takes a whole command line (e.g. /proc/cmdline), one `NAME.hide=VALUE`
 * word, or a bare VALUE.
 */
import { ErrorCodes, XentoolError } from '../errors';
import { q } from './quote';
import { formatBdf } from './pci-spec';

export interface HideEntry {
  domain: number;
  bus: number;
  /** null: every slot of the bus (`*.*`). */
  dev: number | null;
  /** null: every function (`*`). */
  func: number | null;
  /** `DDDD:BB:SS.F` with `*` for wildcards. */
  bdf: string;
}

export interface ParsedHideLine {
  /** Which parameter each value came from, in order. */
  params: string[];
  entries: HideEntry[];
}

const PARAM_RE = /(?:^|\s)((?:xen-)?pciback\.hide)=("[^"]*"|\S*)/g;

function hideError(at: string, reason: string): XentoolError {
  return new XentoolError(ErrorCodes.ERR_BDF, `Error parsing pci_devs_to_hide at ${q(at)}: ${reason}`, 2);
}

/** The kernel's `%x`: white space, an optional 0x, hex digits (no sign for an unsigned). */
function kHex(s: string, i: number): { v: number; end: number } | undefined {
  while (s[i] === ' ' || s[i] === '\t' || s[i] === '\n') i++;
  let j = i;
  if (s[j] === '0' && (s[j + 1] === 'x' || s[j + 1] === 'X') && /[0-9a-fA-F]/.test(s[j + 2] ?? '')) j += 2;
  const start = j;
  while (j < s.length && /[0-9a-fA-F]/.test(s[j])) j++;
  if (j === start) return undefined;
  return { v: parseInt(s.slice(start, j), 16), end: j };
}

export function parseHideValue(value: string): HideEntry[] {
  const entries: HideEntry[] = [];
  let pos = 0;
  const skipWs = (i: number) => {
    while (value[i] === ' ' || value[i] === '\t' || value[i] === '\n') i++;
    return i;
  };
  if (value === '') return entries;
  do {
    const at = value.slice(pos);
    let i = skipWs(pos);
    if (value[i] !== '(') throw hideError(at, "expected '('");
    i++;
    const nums: number[] = [];
    let wildSlot = false;
    let wildFunc = false;
    // Up to three ':'-separated numbers, then '.', then the function; '*' ends the numbers.
    for (;;) {
      const save = skipWs(i);
      if (value[save] === '*') {
        if (value[save + 1] !== '.' || value[save + 2] !== '*') throw hideError(at, "'*' slot needs '*' function");
        wildSlot = wildFunc = true;
        i = save + 3;
        break;
      }
      const n = kHex(value, i);
      if (!n) throw hideError(at, 'expected a hex number');
      nums.push(n.v);
      i = n.end;
      if (value[i] === ':' && nums.length < 3) {
        i++;
        continue;
      }
      if (value[i] !== '.') throw hideError(at, "expected '.'");
      i++;
      const save2 = skipWs(i);
      if (value[save2] === '*') {
        wildFunc = true;
        i = save2 + 1;
      } else {
        const f = kHex(value, i);
        if (!f) throw hideError(at, 'expected a function');
        nums.push(f.v);
        i = f.end;
      }
      break;
    }
    if (value[i] !== ')') throw hideError(at, "expected ')'");
    i = skipWs(i + 1);
    // nums: [dom,] bus [, slot [, func]] depending on the wildcards.
    const want = (wildSlot ? 1 : wildFunc ? 2 : 3) as number;
    let domain = 0;
    if (nums.length === want + 1) domain = nums.shift()!;
    else if (nums.length !== want) throw hideError(at, 'expected [DDDD:]BB:SS.F');
    const [bus, dev = null, func = null] = nums as [number, number?, number?];
    if (domain > 0xffff || bus > 0xff || (dev !== null && dev > 0x1f) || (func !== null && func > 7)) {
      throw hideError(at, 'BDF out of range');
    }
    const fmt = formatBdf({ domain, bus, dev: dev ?? 0, func: func ?? '*' });
    entries.push({ domain, bus, dev, func, bdf: dev === null ? fmt.replace(/:00\.\*$/, ':*.*') : fmt });
    pos = i;
  } while (pos < value.length);
  return entries;
}

export function parseHideLine(line: string): ParsedHideLine {
  const params: string[] = [];
  const entries: HideEntry[] = [];
  const trimmed = line.trim();
  if (trimmed.startsWith('(')) return { params: ['hide'], entries: parseHideValue(trimmed) };
  for (const m of trimmed.matchAll(PARAM_RE)) {
    const v = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
    params.push(m[1]);
    entries.push(...parseHideValue(v));
  }
  if (params.length === 0) {
    throw new XentoolError(ErrorCodes.ERR_BDF, 'no pciback.hide= or xen-pciback.hide= parameter found', 2);
  }
  return { params, entries };
}
