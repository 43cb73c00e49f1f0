/**
 * The "pcidevs" array of a domain's stored config (XEN_LIB_DIR/userdata-d.<domid>.<uuid>.libxl-json),
 * kept in step with what xentool hot-plugs, as libxl 4.17 keeps it for `xl pci-attach`:
 *
 * - libxl_pci.c libxl__device_pci_add_xenstore, for a device added to a running domain (not
 *   one added while the domain is being created, whose config is stored once creation is done,
 *   nor one in a stub domain): take the userdata lock, read the stored config, put the device in
 *   (libxl_device.c device_add_domain_config: a device with the same domain:bus:dev.func,
 *   COMPARE_PCI, is replaced where it stands; otherwise it is appended), write it back (to
 *   userdata-n, renamed over userdata-d), unlock. The device is the libxl_device_pci the attach
 *   used: rdm_policy filled in ("strict" unless "relaxed" was asked for, setdefault), vdevfn as
 *   written to the backend's vdevfn-N (HVM: the slot QEMU reported).
 * - A domain without a stored config: libxl fails the attach (ERROR_JSON_CONFIG_EMPTY, rc -16).
 *   xentool attaches anyway and leaves the file alone (there is nothing to keep in step; such a
 *   domain was made by a toolstack that keeps its config elsewhere, or by xentool before it wrote one).
 * - Detach: libxl 4.17 never removes the device from the file (its readers, `xl list -l`, save,
 *   migrate and xl's reboot, drop entries that the backend in xenstore no longer lists:
 *   libxl_domain.c retrieve_domain_configuration_end). xentool removes it, so that the file
 *   itself says what the domain has.
 *
 * Only the pcidevs member is rewritten; every other byte of the file stays as it was (libxl
 * regenerates the whole document, which for a file libxl wrote gives the same bytes; a byte-exact
 * splice also keeps what xentool's JSON model would not carry, such as 64-bit numbers). The
 * entries already there are kept as written; a new one is generated as libxl's generator prints
 * it (domain/libxl-userdata.ts, the same generator `create` uses). An emptied array disappears,
 * as libxl's generator leaves out an array with no elements.
 */
import { existsSync, readFileSync } from 'node:fs';
import { XentoolError } from '../errors';
import { LIBXL_JSON, type LibxlJson, formatLibxlJsonValue, storeUserdata, userdataPath } from '../domain/libxl-userdata';
import type { Bdf } from '../pci/types';
import { lockDomainUserdata, type UserdataLockOptions } from './userdata-lock';

/** libxl_domain_config's members before "pcidevs", in the IDL's order (where a new array goes). */
const BEFORE_PCIDEVS = ['c_info', 'b_info', 'disks', 'nics'];

/** An entry's place in the array and its text, as the file has it. */
export interface PcidevAt {
  index: number;
  text: string;
}

interface Member {
  key: string;
  /** Index of the key's opening quote. */
  start: number;
  valueStart: number;
  valueEnd: number;
}

function bad(what: string): never {
  throw new XentoolError('ERR_LIBXL_CONFIG', `the stored domain config is not valid JSON: ${what}`);
}

function skipWs(t: string, i: number): number {
  while (i < t.length && (t[i] === ' ' || t[i] === '\n' || t[i] === '\t' || t[i] === '\r')) i++;
  return i;
}

function skipString(t: string, i: number): number {
  for (i++; i < t.length; i++) {
    if (t[i] === '\\') i++;
    else if (t[i] === '"') return i + 1;
  }
  return bad('unterminated string');
}

function skipValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') return skipString(t, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    while (i < t.length) {
      const ch = t[i];
      if (ch === '"') {
        i = skipString(t, i);
        continue;
      }
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return bad('unbalanced brackets');
  }
  let j = i;
  while (j < t.length && !',}] \t\r\n'.includes(t[j]!)) j++;
  return j > i ? j : bad(`unexpected ${JSON.stringify(t[i] ?? 'end')}`);
}

/** The top-level object's members with their spans (the text was checked with JSON.parse first). */
function members(t: string): { open: number; close: number; list: Member[] } {
  const open = skipWs(t, 0);
  if (t[open] !== '{') bad('the top level is not an object');
  const list: Member[] = [];
  let i = skipWs(t, open + 1);
  while (t[i] !== '}') {
    const start = i;
    const keyEnd = skipString(t, i);
    const key = JSON.parse(t.slice(start, keyEnd)) as string;
    const valueStart = skipWs(t, skipWs(t, keyEnd) + 1);
    const valueEnd = skipValue(t, valueStart);
    list.push({ key, start, valueStart, valueEnd });
    i = skipWs(t, valueEnd);
    if (t[i] === ',') i = skipWs(t, i + 1);
  }
  return { open, close: i, list };
}

function elements(t: string, m: Member): string[] {
  if (t[m.valueStart] !== '[') bad('"pcidevs" is not an array');
  const out: string[] = [];
  let i = skipWs(t, m.valueStart + 1);
  while (t[i] !== ']') {
    const end = skipValue(t, i);
    out.push(t.slice(i, end));
    i = skipWs(t, end);
    if (t[i] === ',') i = skipWs(t, i + 1);
  }
  return out;
}

/** COMPARE_PCI: the same domain, bus, device and function (absent fields are 0, libxl's default). */
function entryIs(text: string, b: Bdf): boolean {
  const e = JSON.parse(text) as Record<string, unknown>;
  const f = (k: string) => (typeof e[k] === 'number' ? e[k] : 0);
  return f('domain') === b.domain && f('bus') === b.bus && f('dev') === b.dev && f('func') === b.func;
}

/** yajl's layout for the array as a member of the top-level object. */
function arrayText(elems: string[]): string {
  return `[\n${elems.map((e) => `        ${e}`).join(',\n')}\n    ]`;
}

/**
 * Puts `entry` (an element's text at depth 2, or null to remove it) for device `b` into the
 * stored config `doc` (without libxl's terminating NUL). An element for the same device is
 * replaced where it stands (libxl replaces the last one that matches) or removed; otherwise the
 * entry goes at `index` (default: the end). Returns the new text and what was there before.
 */
export function putPcidev(doc: string, b: Bdf, entry: string | null, index?: number): { text: string; previous: PcidevAt | null } {
  try {
    JSON.parse(doc);
  } catch (e) {
    bad((e as Error).message);
  }
  const { open, close, list } = members(doc);
  const at = list.findIndex((m) => m.key === 'pcidevs');
  const member = at >= 0 ? list[at]! : undefined;
  const elems = member ? elements(doc, member) : [];
  let found = -1;
  elems.forEach((e, i) => {
    if (entryIs(e, b)) found = i;
  });
  const previous = found >= 0 ? { index: found, text: elems[found]! } : null;
  if (entry === null) {
    if (found < 0) return { text: doc, previous };
    elems.splice(found, 1);
  } else if (found >= 0) {
    elems[found] = entry;
  } else {
    elems.splice(Math.min(index ?? elems.length, elems.length), 0, entry);
  }

  if (member && elems.length > 0) {
    return { text: doc.slice(0, member.valueStart) + arrayText(elems) + doc.slice(member.valueEnd), previous };
  }
  if (member) {
    // The last device went: the member goes, with the comma that joined it to its neighbour.
    if (at > 0) return { text: doc.slice(0, list[at - 1]!.valueEnd) + doc.slice(member.valueEnd), previous };
    if (list.length > 1) return { text: doc.slice(0, member.start) + doc.slice(list[1]!.start), previous };
    return { text: `${doc.slice(0, open)}{\n\n}${doc.slice(close + 1)}`, previous };
  }
  const text = `"pcidevs": ${arrayText(elems)}`;
  const after = list.filter((m) => BEFORE_PCIDEVS.includes(m.key)).pop();
  if (after) return { text: `${doc.slice(0, after.valueEnd)},\n    ${text}${doc.slice(after.valueEnd)}`, previous };
  if (list.length > 0) return { text: `${doc.slice(0, list[0]!.start)}${text},\n    ${doc.slice(list[0]!.start)}`, previous };
  return { text: `${doc.slice(0, open)}{\n    ${text}\n}${doc.slice(close + 1)}`, previous };
}

/** A libxl_device_pci entry (as libxlPciJson makes it) in the array's layout. */
export function pcidevEntryText(entry: { [key: string]: LibxlJson }): string {
  return formatLibxlJsonValue(entry, 2);
}

export interface StoredConfigAccess {
  /** XEN_LIB_DIR. */
  dir: string;
  lock: UserdataLockOptions;
}

/**
 * putPcidev on the file itself, under libxl's userdata lock. Resolves to null, touching nothing
 * (no lock file either), when the domain has no stored config.
 */
export async function putStoredPcidev(
  a: StoredConfigAccess,
  domid: number,
  uuid: string,
  b: Bdf,
  entry: string | null,
  index?: number,
): Promise<{ previous: PcidevAt | null; changed: boolean } | null> {
  const file = userdataPath(a.dir, 'd', domid, uuid, LIBXL_JSON);
  if (!existsSync(file)) return null;
  const lock = await lockDomainUserdata(a.dir, domid, uuid, a.lock);
  try {
    // Bytes as latin1 characters, one for one, so that the splice keeps every other byte exactly.
    let raw: string;
    try {
      raw = readFileSync(file, 'latin1');
    } catch (e) {
      // Destroyed while we waited for the lock.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    if (raw.length === 0) throw new XentoolError('ERR_LIBXL_CONFIG', `the stored domain config ${file} is empty`);
    // libxl stores the text with its terminating NUL.
    const doc = raw.endsWith('\0') ? raw.slice(0, -1) : raw;
    const latin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
    const utf8 = (s: string) => Buffer.from(s, 'latin1').toString('utf8');
    const r = putPcidev(doc, b, entry === null ? null : latin1(entry), index);
    const changed = r.text !== doc;
    if (changed) storeUserdata(a.dir, domid, uuid, LIBXL_JSON, Buffer.from(r.text, 'latin1'));
    return { previous: r.previous && { index: r.previous.index, text: utf8(r.previous.text) }, changed };
  } catch (e) {
    if (e instanceof XentoolError && e.code === 'ERR_LIBXL_CONFIG') e.message = `${file}: ${e.message}`;
    throw e;
  } finally {
    lock.release();
  }
}

/**
 * The entry for device `b` in a domain's stored config, read without the lock (libxl replaces
 * the file by rename, so a reader sees a whole one): undefined when there is no stored config,
 * null when it does not list the device.
 */
export function readStoredPcidev(dir: string, domid: number, uuid: string, b: Bdf): PcidevAt | null | undefined {
  let raw: string;
  try {
    raw = readFileSync(userdataPath(dir, 'd', domid, uuid, LIBXL_JSON), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const doc = raw.endsWith('\0') ? raw.slice(0, -1) : raw;
  // Removing the entry from a copy tells where it is and what it says.
  return putPcidev(doc, b, null).previous;
}
