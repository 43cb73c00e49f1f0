/**
 * xm's PCI device strings (xen/util/pci.py `parse_pci_name_extended`, Xen 4.0 to 4.4):
 *
 *   [DDDD(:|,)]BB(:|,)SS(.|,)FUNC[@VSLOT][,OPT=VAL...]
 *
 * FUNC is `*`, a function `0`-`7`, a mapping `phys=virt`, a range `1-3`, or a comma list of
 * those; one string can therefore name several functions. The expansion follows xm exactly:
 * if no function is mapped to virtual function 0, the lowest automatically mapped one is moved
 * there (and without one the string is refused), and the list is ordered with virtual function
 * 0 last, because xend signals the guest's ACPI hotplug through function 0.
 *
 * Where xm crashed with a Python traceback (`01:00.0.1`, an option without `=`) we refuse with
 * a one-line error instead.
 */
import { ErrorCodes, XentoolError } from '../errors';
import { q } from './quote';
import { emptyPciSpec, PCI_FUNC_ALL } from './pci-spec';
import type { PciSpec } from './pci-spec';

export interface XmPciDevice extends PciSpec {
  /** The virtual function this physical function appears as in the guest. */
  vfunc: number;
  /** The virtual slot from `@VSLOT`, or null: xend/qemu-dm chooses (AUTO_PHP_SLOT). */
  vslot: number | null;
}

export interface ParsedXmPciSpec {
  /** xm's `key`: the text before the first ',' (groups functions of one virtual slot). */
  key: string;
  /** In xm's order: virtual function 0 last. */
  devices: XmPciDevice[];
  /** `OPT=VAL` pairs as written (msitranslate, power_mgmt). */
  opts: [string, string][];
  warnings: string[];
}

export interface XmParseOptions {
  /**
   * The functions present at a slot, for `*` (xm read them from sysfs). Without it, `*` gives
   * one device with vfunc_mask = LIBXL_PCI_FUNC_ALL, as xl represents it.
   */
  functionsPresent?: (domain: number, bus: number, dev: number) => number[];
  /** Defaults before the options apply; xm's own default is msitranslate on. */
  base?: Partial<PciSpec>;
}

// Note `[,-=]`: in Python (and here) that is the character range ',' .. '=', which also admits
// '.', '/', ':' ... xm then crashed in int(); we report "invalid function".
const XM_RE =
  /^(?:([0-9a-fA-F]{1,4})[:,])?([0-9a-fA-F]{1,2})[:,]([0-9a-fA-F]{1,2})[.,](\*|[0-7](?:[,-=][0-7])*)(?:@([01]?[0-9a-fA-F]))?(?:,(.*))?$/;

type FuncMap = { p: number; v: number; auto: boolean };

function xmError(s: string, reason: string): XentoolError {
  return new XentoolError(ErrorCodes.ERR_PCI_SPEC, `Failed to parse pci device: ${q(s)}: ${reason}`, 2);
}

export function parseXmPciSpec(s: string, opts: XmParseOptions = {}): ParsedXmPciSpec {
  const m = XM_RE.exec(s);
  if (!m) throw xmError(s, 'expected [DDDD:]BB:SS.F[@VSLOT][,OPT=VAL...]');
  const domain = m[1] ? parseInt(m[1], 16) : 0;
  const bus = parseInt(m[2], 16);
  const dev = parseInt(m[3], 16);
  const funcStr = m[4];
  const vslot = m[5] !== undefined ? parseInt(m[5], 16) : null;
  const warnings: string[] = [];

  const pairs: [string, string][] = [];
  if (m[6] !== undefined) {
    for (const o of m[6].split(',').filter((x) => x !== '')) {
      const kv = o.split('=');
      if (kv.length !== 2) throw xmError(s, `option ${q(o)} is not OPT=VAL`);
      const [k, v] = kv;
      if (!['msitranslate', 'power_mgmt'].includes(k) || !['0', '1', 'yes', 'no'].includes(v.toLowerCase())) {
        throw xmError(s, `Invalid pci option ${q(k + '=' + v)}`);
      }
      pairs.push([k, v]);
    }
  }

  // Each part is read with Python's int(x, 16). Because the regex's separator range also holds
  // the digits, "002" reaches here and means function 2 (checked against xm's own code).
  const parseFunc = (f: string): FuncMap => {
    const parts = f.split('=');
    if (parts.length > 2 || parts.some((x) => !/^[0-9a-fA-F]+$/.test(x) || parseInt(x, 16) > 7)) {
      throw xmError(s, `Invalid function: ${q(f)}`);
    }
    const p = parseInt(parts[0], 16);
    return parts.length === 1 ? { p, v: p, auto: true } : { p, v: parseInt(parts[1], 16), auto: false };
  };
  const range = (a: number, b: number): number[] => {
    const out: number[] = [];
    if (a <= b) for (let i = a; i <= b; i++) out.push(i);
    else for (let i = a; i >= b; i--) out.push(i);
    return out;
  };

  let list: FuncMap[] = [];
  let wildcard = false;
  for (const item of funcStr.split(',')) {
    if (item === '*') {
      if (opts.functionsPresent) {
        list.push(...opts.functionsPresent(domain, bus, dev).map((p) => ({ p, v: p, auto: true })));
      } else {
        wildcard = true;
        list.push({ p: 0, v: 0, auto: true });
      }
      continue;
    }
    const ends = item.split('-').map(parseFunc);
    if (ends.length === 1) list.push(ends[0]);
    else if (ends.length === 2) {
      // pci_pfunc_vfunc_range: both ranges must have the same length; all manual.
      const phys = range(ends[0].p, ends[1].p);
      const virt = range(ends[0].v, ends[1].v);
      if (phys.length !== virt.length) throw xmError(s, `Invalid range in: ${q(item)}`);
      list.push(...phys.map((p, i) => ({ p, v: virt[i], auto: false })));
    } else {
      // xm returns nothing for `a-b-c` (pci_func_list_map_fn's fall-through).
      warnings.push(`${q(s)}: function list ${q(item)} names no function in xm; ignored`);
    }
  }

  const dup = (xs: number[]) => new Set(xs).size !== xs.length;
  if (dup(list.map((x) => x.p)) || dup(list.map((x) => x.v))) throw xmError(s, 'Duplicate functions');
  if (list.length === 0) return { key: s.split(',')[0], devices: [], opts: pairs, warnings };

  if (!list.some((x) => x.v === 0)) {
    const auto = list.filter((x) => x.auto).sort((a, b) => a.v - b.v);
    const manual = list.filter((x) => !x.auto);
    if (auto.length === 0) throw xmError(s, 'Virtual device does not include virtual function 0');
    auto[0] = { ...auto[0], v: 0 };
    list = [...auto, ...manual];
  }
  // Stable sort, virtual function 0 last (as xm's cmp on PCI_FUNC(vdevfn), descending).
  list = list.map((x, i) => ({ x, i })).sort((a, b) => b.x.v - a.x.v || a.i - b.i).map((e) => e.x);

  const base: PciSpec = { ...emptyPciSpec(), msitranslate: true, ...opts.base };
  for (const [k, v] of pairs) {
    const on = v === '1' || v.toLowerCase() === 'yes';
    if (k === 'msitranslate') base.msitranslate = on;
    else base.power_mgmt = on;
  }
  const devices = list.map(
    ({ p, v }): XmPciDevice => ({
      ...base,
      domain,
      bus,
      dev,
      func: p,
      vfunc_mask: wildcard ? PCI_FUNC_ALL : 1,
      vdevfn: vslot === null ? 0 : (vslot << 3) | v,
      vfunc: v,
      vslot,
    }),
  );
  if (wildcard) warnings.push(`${q(s)}: '*' means every function present in sysfs; not expanded here`);
  return { key: s.split(',')[0], devices, opts: pairs, warnings };
}
