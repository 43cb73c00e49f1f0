/**
 * The typed domain model for the keys xentool acts on, read from a parsed `ConfigFile` with
 * xl 4.17's semantics (tools/xl/xl_parse.c): the last assignment wins, numbers go through
 * `strtol(…, 0)` (so `010` is 8), `+=` on a number is refused, unknown keys are ignored.
 *
 * Where xl only warns and carries on with a default (a malformed number, a list where a value
 * belongs) we stop with an error naming the key and its place: a passthrough toolstack should
 * not guess what a broken line meant. Those choices are listed in docs/compat.md.
 *
 * Public API: `domainConfigFromFile(cfg): DomainConfig`.
 */
import { ErrorCodes, XentoolError } from '../errors';
import { parsePciSpec } from '../pci-spec/parse-pci-spec';
import type { PciSpec, RdmPolicy } from '../pci-spec/pci-spec';
import { valueError } from './config-error';
import type { ConfigAtom, ConfigFile, ConfigSetting, ConfigValue } from './parse-config';

export type DomainType = 'pv' | 'pvh' | 'hvm';
export type ShutdownAction =
  | 'destroy'
  | 'restart'
  | 'rename-restart'
  | 'preserve'
  | 'coredump-destroy'
  | 'coredump-restart'
  | 'soft-reset';
export type Passthrough = 'disabled' | 'enabled' | 'sync_pt' | 'share_pt';
export type DeviceModelVersion = 'qemu-xen' | 'qemu-xen-traditional';
/** libxl_tsc_mode's names; the index is the enum's value (libxl_types.idl). */
export type TscMode = 'default' | 'always_emulate' | 'native' | 'native_paravirt';
export const TSC_MODES: readonly TscMode[] = ['default', 'always_emulate', 'native', 'native_paravirt'];

export interface RdmConfig {
  strategy: 'ignore' | 'host';
  policy: RdmPolicy;
}

/** A `pci=[...]` entry: the parsed spec and where it was written. */
export interface PciConfigEntry extends PciSpec {
  /** The spec text as written in the file. */
  spec: string;
  line: number;
  col: number;
}

export interface DomainConfig {
  source: string;
  name: string;
  /** null: xl generates one at create time. */
  uuid: string | null;
  type: DomainType;
  /** MiB. null when not set (libxl's default applies). */
  memory: number | null;
  /** MiB; xl defaults it to `memory`. */
  maxmem: number | null;
  vcpus: number;
  maxvcpus: number | null;
  kernel: string | null;
  ramdisk: string | null;
  /** `cmdline`, or `root=<root> <extra>` built as xl builds it. */
  cmdline: string | null;
  root: string | null;
  extra: string | null;
  bootloader: string | null;
  /** Raw disk and vif specs (not interpreted here). */
  disk: string[];
  vif: string[];
  pci: PciConfigEntry[];
  /** As written; null when absent (libxl then enables it iff there are PCI devices). */
  passthrough: Passthrough | null;
  pci_permissive: boolean;
  pci_msitranslate: boolean;
  pci_power_mgmt: boolean;
  pci_seize: boolean;
  /** null when absent, or when xl 4.17 would ignore it (see warnings). */
  rdm: RdmConfig | null;
  on_poweroff: ShutdownAction;
  on_reboot: ShutdownAction;
  on_crash: ShutdownAction;
  device_model_version: DeviceModelVersion | null;
  /** xl forces e820_host on for a PV guest with PCI devices. */
  e820_host: boolean;
  /**
   * As xl read it (a name, or the deprecated number turned into its name); null when absent
   * (libxl's default). native_paravirt parses, as in xl; libxl refuses it at create time.
   */
  tsc_mode: TscMode | null;
  /** `nomigrate` (libxl's disable_migrate); null when absent (libxl: false). */
  nomigrate: boolean | null;
  /** Things xl accepts silently or with a warning; the caller prints them. */
  warnings: string[];
}

const ACTIONS: readonly ShutdownAction[] = [
  'destroy',
  'restart',
  'rename-restart',
  'preserve',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
];
const PASSTHROUGH: readonly Passthrough[] = ['disabled', 'enabled', 'sync_pt', 'share_pt'];
const DM_VERSIONS: readonly DeviceModelVersion[] = ['qemu-xen', 'qemu-xen-traditional'];

/**
 * C `strtol(s, &end, 0)` as `xlu_cfg_get_long` uses it: the whole text must be consumed.
 * Returns a string describing the problem when it is not a number.
 */
export function strtolBase0(s: string): number | string {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return 'is not a valid number';
  const body = m[2];
  let v: bigint;
  if (/^0[xX]/.test(body)) v = BigInt(body);
  else if (body.length > 1 && body[0] === '0') v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  if (m[1] === '-') v = -v;
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return 'could not be parsed as a number: Numerical result out of range';
  return Number(v);
}

class Reader {
  readonly warnings: string[] = [];

  constructor(readonly cfg: ConfigFile) {}

  err(set: { line: number; col: number }, key: string, detail: string): XentoolError {
    return valueError(this.cfg.source, set.line, set.col, `${key}: ${detail}`);
  }

  atom(key: string): { text: string; set: ConfigSetting; value: ConfigAtom } | undefined {
    const set = this.cfg.get(key);
    if (!set) return undefined;
    if (set.value.kind !== 'atom') throw this.err(set, key, 'is a list but should be a single value');
    return { text: set.value.text, set, value: set.value };
  }

  string(key: string): string | null {
    return this.atom(key)?.text ?? null;
  }

  long(key: string, min = -Infinity, max = Infinity): number | null {
    const a = this.atom(key);
    if (!a) return null;
    if (a.set.op === '+=') throw this.err(a.set, key, "can't use += with numbers");
    const n = strtolBase0(a.text);
    if (typeof n === 'string') throw this.err(a.set, key, `\`${a.text}' ${n}`);
    if (n < min) throw this.err(a.set, key, `${n} is smaller than the minimum ${min}`);
    if (n > max) throw this.err(a.set, key, `${n} is greater than the maximum ${max}`);
    if (/^\s*[+-]?0[0-7]+$/.test(a.text)) this.warnings.push(`${key}=${a.text} is octal (${n}), as in xl`);
    return n;
  }

  /**
   * xl keeps pci_permissive & co. in an `int` (`pci_permissive = l`) before copying them into
   * each device's bool, so only the low 32 bits count: 0x100000000 is off.
   */
  intBool(key: string): boolean {
    const n = this.long(key);
    return n !== null && Number(BigInt.asIntN(32, BigInt(n))) !== 0;
  }

  bool(key: string, dflt: boolean): boolean {
    const n = this.long(key);
    return n === null ? dflt : n !== 0;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T): T;
  oneOf<T extends string>(key: string, allowed: readonly T[], dflt: null): T | null;
  oneOf<T extends string>(key: string, allowed: readonly T[], dflt: T | null): T | null {
    const a = this.atom(key);
    if (!a) return dflt;
    if (!(allowed as readonly string[]).includes(a.text)) {
      throw this.err(a.set, key, `unknown value "${a.text}" (one of: ${allowed.join(', ')})`);
    }
    return a.text as T;
  }

  /** A list of single values; xl stops at the first nested list, we refuse it. */
  stringList(key: string): { text: string; item: ConfigValue }[] {
    const set = this.cfg.get(key);
    if (!set) return [];
    if (set.value.kind !== 'list') throw this.err(set, key, 'is a single value but should be a list');
    return set.value.items.map((item, i) => {
      if (item.kind !== 'atom') throw this.err(item, `${key}[${i}]`, 'is a list but should be a single value');
      return { text: item.text, item };
    });
  }
}

/** xl compares `type` with strncmp(value, "hvm", strlen(value)): any prefix matches. */
function prefixOf(value: string, word: string): boolean {
  return word.startsWith(value);
}

function domainType(r: Reader): DomainType {
  let type: DomainType | null = null;
  const t = r.atom('type');
  if (t) {
    // Order as in xl_parse.c: "hvm", then "pv", then "pvh", so "" and "h" mean hvm, "p" pv.
    type = prefixOf(t.text, 'hvm') ? 'hvm' : prefixOf(t.text, 'pv') ? 'pv' : prefixOf(t.text, 'pvh') ? 'pvh' : null;
    if (!type) throw r.err(t.set, 'type', `Invalid domain type ${t.text} (pv, pvh or hvm)`);
    if (t.text !== type) r.warnings.push(`type="${t.text}" is read as "${type}" (xl accepts prefixes)`);
  }
  const b = r.atom('builder');
  if (b) {
    const bt: DomainType | null = prefixOf(b.text, 'hvm') ? 'hvm' : prefixOf(b.text, 'generic') ? 'pv' : null;
    if (!bt) throw r.err(b.set, 'builder', `Invalid domain type ${b.text} (generic or hvm)`);
    if (type && type !== bt) throw r.err(b.set, 'builder', 'Contradicting "builder" and "type" options specified');
    r.warnings.push('builder= is deprecated since Xen 4.10; use type=');
    type = bt;
  }
  return type ?? 'pv';
}

/**
 * `xlu_rdm_parse`, including its 4.17 bug: any `policy=` makes it fail (the result of
 * `parse_rdm_policy` is tested the wrong way round), and xl then ignores the whole `rdm=`
 * silently. We do the same and say so.
 */
function rdmConfig(r: Reader): RdmConfig | null {
  const a = r.atom('rdm');
  if (!a) return null;
  const parts = a.text.split(',');
  let strategy: 'ignore' | 'host' | null = null;
  for (const part of parts) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? undefined : part.slice(eq + 1);
    if (k === 'strategy' && v === 'host') strategy = 'host';
    else if (k === 'policy' && v !== undefined) {
      r.warnings.push(`rdm="${a.text}": xl 4.17 ignores the whole rdm= setting when it contains policy= (xlu_rdm_parse bug)`);
      return null;
    } else {
      r.warnings.push(`rdm="${a.text}": not understood by xl 4.17 (only strategy=host); ignored`);
      return null;
    }
  }
  if (!strategy || a.text.endsWith(',')) {
    r.warnings.push(`rdm="${a.text}": not understood by xl 4.17; ignored`);
    return null;
  }
  return { strategy, policy: 'invalid' };
}

/**
 * `tsc_mode`, as xl_parse.c (4.17) reads it: first as a number (xlu_cfg_get_long without
 * warnings, so `+=`, text that is not wholly a number, or a number out of range for a C long
 * all fall through), which xl accepts from 0 to 3 with a warning that the number form is
 * deprecated and exits 1 for anything else; otherwise as a string, matched against libxl's
 * names without regard to case (libxl__enum_from_string uses strcasecmp), an unknown one being
 * an error with exit 1. xl also prints a leftover debugging line for every string
 * (`got a tsc mode string: "..."`); we do not repeat it.
 */
function tscMode(r: Reader): TscMode | null {
  const a = r.atom('tsc_mode');
  if (!a) return null;
  const n = a.set.op === '+=' ? undefined : strtolBase0(a.text);
  if (typeof n === 'number') {
    const mode = n >= 0 ? TSC_MODES[n] : undefined;
    if (!mode) throw r.err(a.set, 'tsc_mode', `invalid value ${n} (one of: ${TSC_MODES.slice(0, 3).join(', ')})`);
    r.warnings.push(`tsc_mode=${a.text}: specifying "tsc_mode" as an integer is deprecated; use the name: tsc_mode="${mode}"`);
    return mode;
  }
  // ASCII-only case folding, as strcasecmp in the C locale xl runs in.
  const folded = a.text.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const mode = TSC_MODES.find((m) => m === folded);
  if (!mode) throw r.err(a.set, 'tsc_mode', `invalid value "${a.text}" (one of: ${TSC_MODES.slice(0, 3).join(', ')})`);
  return mode;
}

/** Reads the keys xentool acts on; throws `XentoolError` (ERR_CONFIG_VALUE) naming key and place. */
export function domainConfigFromFile(cfg: ConfigFile): DomainConfig {
  const r = new Reader(cfg);
  const type = domainType(r);
  const name = r.string('name');
  if (name === null) {
    throw new XentoolError(ErrorCodes.ERR_CONFIG_VALUE, `${cfg.source}: name: Domain name must be specified`, 1);
  }
  if (name === '') throw r.err(cfg.get('name')!, 'name', 'must not be empty');

  const uuidAtom = r.atom('uuid');
  let uuid: string | null = null;
  if (uuidAtom) {
    // libxl_uuid_from_string: 8-4-4-4-12 hex digits.
    if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(uuidAtom.text)) {
      throw r.err(uuidAtom.set, 'uuid', `Failed to parse UUID: ${uuidAtom.text}`);
    }
    uuid = uuidAtom.text.toLowerCase();
  }

  const memory = r.long('memory', 0);
  const maxmemSet = r.long('maxmem', 0);
  const vcpus = r.long('vcpus', 1) ?? 1;
  const maxvcpus = r.long('maxvcpus', 1);
  if (maxvcpus !== null && maxvcpus < vcpus) throw r.err(cfg.get('maxvcpus')!, 'maxvcpus', `maxvcpus < vcpus (${maxvcpus} < ${vcpus})`);

  const cmdlineSet = r.string('cmdline');
  const root = r.string('root');
  const extra = r.string('extra');
  let cmdline: string | null;
  if (cmdlineSet !== null) {
    cmdline = cmdlineSet;
    if (root !== null || extra !== null) r.warnings.push('Warning: ignoring root= and extra= in favour of cmdline=');
  } else if (root !== null) {
    cmdline = extra !== null ? `root=${root} ${extra}` : `root=${root}`;
  } else {
    cmdline = extra;
  }

  const pci_permissive = r.intBool('pci_permissive');
  const pci_msitranslate = r.intBool('pci_msitranslate');
  const pci_power_mgmt = r.intBool('pci_power_mgmt');
  const pci_seize = r.intBool('pci_seize');
  const rdm = rdmConfig(r);

  // xl fills each device from the global pci_* keys (and the rdm policy) before parsing it.
  const base: Partial<PciSpec> = {
    permissive: pci_permissive,
    msitranslate: pci_msitranslate,
    power_mgmt: pci_power_mgmt,
    seize: pci_seize,
    rdm_policy: rdm?.policy ?? 'invalid',
  };
  const pci = r.stringList('pci').map(({ text, item }, i): PciConfigEntry => {
    let parsed;
    try {
      parsed = parsePciSpec(text, base);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw r.err(item, `pci[${i}]`, `unable to parse PCI_SPEC_STRING for passthrough: ${why}`);
    }
    const { warnings, ...spec } = parsed;
    r.warnings.push(...warnings.map((w) => `pci[${i}]: ${w}`));
    return { ...spec, spec: text, line: item.line, col: item.col };
  });

  const passthrough = r.oneOf('passthrough', PASSTHROUGH, null);
  if (passthrough === 'disabled' && pci.length > 0) {
    throw r.err(cfg.get('passthrough')!, 'passthrough', 'is "disabled" but pci= lists devices');
  }

  const maxmem = maxmemSet ?? memory;
  if (type === 'hvm' && pci.length > 0 && memory !== null && maxmem !== null && memory < maxmem) {
    r.warnings.push(
      `memory (${memory}) < maxmem (${maxmem}) on an HVM guest means populate-on-demand, which libxl refuses with PCI passthrough`,
    );
  }

  return {
    source: cfg.source,
    name,
    uuid,
    type,
    memory,
    maxmem,
    vcpus,
    maxvcpus,
    kernel: r.string('kernel'),
    ramdisk: r.string('ramdisk'),
    cmdline,
    root,
    extra,
    bootloader: r.string('bootloader'),
    disk: r.stringList('disk').map((d) => d.text),
    vif: r.stringList('vif').map((d) => d.text),
    pci,
    passthrough,
    pci_permissive,
    pci_msitranslate,
    pci_power_mgmt,
    pci_seize,
    rdm,
    on_poweroff: r.oneOf('on_poweroff', ACTIONS, 'destroy'),
    on_reboot: r.oneOf('on_reboot', ACTIONS, 'restart'),
    on_crash: r.oneOf('on_crash', ACTIONS, 'destroy'),
    device_model_version: r.oneOf('device_model_version', DM_VERSIONS, null),
    e820_host: type === 'pv' && pci.length > 0 ? true : r.bool('e820_host', false),
    tsc_mode: tscMode(r),
    // xlu_cfg_get_defbool: any number, non-zero is true.
    nomigrate: cfg.get('nomigrate') ? r.bool('nomigrate', false) : null,
    warnings: r.warnings,
  };
}
