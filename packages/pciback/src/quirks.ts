/**
 * Devices known to be unsuitable for passthrough, or to need care: a small table, each entry
 * with the reason the operator is told and where the knowledge comes from. The assessment
 * (assignability.ts) turns a match into a warning, never a refusal: the device may still be the
 * right one to give away, but the operator should know what to expect.
 *
 * Kinds:
 * - `bar-internal-pointers`: the seed document's example. The driver hands the device addresses
 *   of memory inside the device's own BARs; behind a virtualised BAR the guest's addresses are
 *   not the host's, so the device follows them to the wrong place. The seed names no device, and
 *   none could be found with a citable source (Linux quirks.c, QEMU's VFIO quirks, libxl, the
 *   Xen wiki and xend's pciquirk tables were searched), so the built-in table has no entry of
 *   this kind; an operator who knows such a device lists it in the operator file
 *   (`parseQuirksFile`, /etc/xentool/pci-quirks.json by default).
 * - `msix-window`: the nearest documented relative: registers in a BAR through which the driver
 *   reaches the device's MSI-X table, so writes to the table bypass the place where the
 *   hypervisor emulates it.
 * - `broken-flr`, `broken-bus-reset`, `broken-pm-reset`: the device advertises a reset that
 *   hangs it or does nothing (the kernel knows, and avoids that method; what is left may be no
 *   reset at all, so state can leak from one guest to the next).
 * - `igd`: Intel integrated graphics need libxl's gfx_passthru path.
 */
import { canonicalBdf } from './bdf';
import { PcibackError, PcibackErrorCodes } from './errors';

export type QuirkKind = 'bar-internal-pointers' | 'msix-window' | 'broken-flr' | 'broken-bus-reset' | 'broken-pm-reset' | 'igd' | 'other';

export const QUIRK_KINDS: readonly QuirkKind[] = ['bar-internal-pointers', 'msix-window', 'broken-flr', 'broken-bus-reset', 'broken-pm-reset', 'igd', 'other'];

export interface QuirkEntry {
  kind: QuirkKind;
  vendorId: number;
  /** Absent: any device of the vendor (narrowed by class). */
  deviceId?: number;
  /** Compared under `classMask` (default 0xffffff). */
  classCode?: number;
  classMask?: number;
  /** Only at this address (the IGD is always 0000:00:02.0). */
  bdf?: string;
  reason: string;
  source: string;
}

const LINUX_NO_FLR =
  'Linux drivers/pci/quirks.c quirk_no_flr ("FLR may cause the following devices to hang"), which sets PCI_DEV_FLAGS_NO_FLR_RESET';
const LINUX_NO_BUS_RESET =
  'Linux drivers/pci/quirks.c quirk_no_bus_reset: Atheros AR9xxx/QCA988x "do not behave after a bus reset ... config space of the device is never accessible again and typically causes the system to hang or reset"';

function noFlr(vendorId: number, deviceId: number, what: string, source = LINUX_NO_FLR): QuirkEntry {
  return {
    kind: 'broken-flr',
    vendorId,
    deviceId,
    reason: `${what}: its function-level reset hangs the device; the kernel does not use it, and without another reset method the device keeps one guest's state for the next`,
    source,
  };
}

function noBusReset(deviceId: number): QuirkEntry {
  return {
    kind: 'broken-bus-reset',
    vendorId: 0x168c,
    deviceId,
    reason: 'Atheros wireless: after a secondary bus reset its config space is never readable again and the host may hang; the kernel does not bus-reset it, so it may have no reset between guests',
    source: LINUX_NO_BUS_RESET,
  };
}

export const KNOWN_QUIRKS: readonly QuirkEntry[] = [
  {
    kind: 'igd',
    vendorId: 0x8086,
    classCode: 0x030000,
    classMask: 0xffff00,
    bdf: '0000:00:02.0',
    reason:
      'Intel integrated graphics: works only for HVM guests with gfx_passthru=1 (OpRegion and legacy VGA ranges are mapped specially); generic passthrough gives the guest no usable display',
    source: 'libxl_pci.c libxl__is_igd_vga_passthru: vendor 0x8086, class 0x0300 at 00:02.0',
  },
  {
    kind: 'msix-window',
    vendorId: 0x10ec,
    deviceId: 0x8168,
    reason:
      "Realtek RTL8168: its MSI-X table can also be reached through a register window in BAR2 (data at 0x70, address at 0x74), which drivers use; those writes bypass the hypervisor's MSI-X table emulation, so check that the guest's interrupts work (or make the guest use MSI)",
    source: 'QEMU hw/vfio/pci-quirks.c, RTL8168 BAR2 quirk: "RTL8168 devices have a backdoor that can access the MSI-X table" (VFIO traps that window for the same reason)',
  },
  noFlr(0x8086, 0x1502, 'Intel 82579LM Gigabit Ethernet'),
  noFlr(0x8086, 0x1503, 'Intel 82579V Gigabit Ethernet'),
  noFlr(0x1022, 0x1487, 'AMD Starship/Matisse HD Audio Controller'),
  noFlr(0x1022, 0x149c, 'AMD Matisse USB 3.0 Host Controller'),
  noFlr(
    0x14c3,
    0x0616,
    'MediaTek MT7922 Wi-Fi',
    `${LINUX_NO_FLR}; commit "PCI: Avoid FLR for Mediatek MT7922 WiFi", found passing it through on Qubes OS (Xen), qubes-issues #9689`,
  ),
  noBusReset(0x0030),
  noBusReset(0x0032),
  noBusReset(0x0033),
  noBusReset(0x0034),
  noBusReset(0x003c),
  noBusReset(0x003e),
  {
    kind: 'broken-pm-reset',
    vendorId: 0x1002,
    classCode: 0x030000,
    classMask: 0xffff00,
    reason:
      'AMD/ATI GPU: it advertises a D3hot-to-D0 (PM) reset that does nothing (framebuffer and monitor sync survive it); the kernel does not use it, so the GPU may keep one guest\'s state for the next',
    source: 'Linux drivers/pci/quirks.c quirk_no_pm_reset (AMD/ATI VGA class, e.g. HD8570 "Oland"), which sets PCI_DEV_FLAGS_NO_PM_RESET',
  },
];

export function matchQuirks(
  d: { bdf: string; vendorId: number; deviceId: number; classCode: number },
  table: readonly QuirkEntry[],
): QuirkEntry[] {
  return table.filter(
    (q) =>
      q.vendorId === d.vendorId &&
      (q.deviceId === undefined || q.deviceId === d.deviceId) &&
      (q.classCode === undefined || (d.classCode & (q.classMask ?? 0xffffff)) === q.classCode) &&
      (q.bdf === undefined || q.bdf === d.bdf),
  );
}

/**
 * Entries from an operator's file, a JSON object (comments allowed) such as
 *
 *   { "quirks": [ { "kind": "bar-internal-pointers", "vendor": "1234", "device": "5678",
 *                   "reason": "the driver gives the card addresses inside BAR2", "source": "vendor ticket 42" } ] }
 *
 * `vendor` and `device` are hexadecimal as lspci -n prints them (a `0x` prefix is accepted);
 * `device` may be left out to match the whole vendor, narrowed by `class` (six hex digits) and
 * `classMask`; `bdf` limits the entry to one address; `source` defaults to the file's own name.
 * Anything wrong is a PcibackError ERR_QUIRKS_FILE whose message is one line,
 * `FILE:LINE:COL: what is wrong`, pointing at the offending text.
 */
export function parseQuirksFile(text: string, file: string): QuirkEntry[] {
  // Loaded here, not at the top: the parser is needed only when an operator file exists, and
  // everything that imports this package (the CLI's start-up included) would pay for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const jsonc = require('jsonc-parser') as typeof import('jsonc-parser');
  const at = (offset: number, msg: string): never => {
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const col = offset - before.lastIndexOf('\n');
    throw new PcibackError(PcibackErrorCodes.ERR_QUIRKS_FILE, `${file}:${line}:${col}: ${msg}`);
  };
  const errors: import('jsonc-parser').ParseError[] = [];
  const root = jsonc.parseTree(text, errors, { allowTrailingComma: false, disallowComments: false });
  const first = errors[0];
  if (first) at(first.offset, `not valid JSON (${SYNTAX_ERRORS[jsonc.printParseErrorCode(first.error)] ?? jsonc.printParseErrorCode(first.error)})`);
  if (!root || root.type !== 'object') return at(root?.offset ?? 0, 'expected an object with a "quirks" list');
  type JNode = import('jsonc-parser').Node;
  const props = (n: JNode): Map<string, JNode> => {
    const out = new Map<string, JNode>();
    for (const p of n.children ?? []) {
      const [k, v] = p.children ?? [];
      if (!k || !v) continue;
      if (out.has(k.value as string)) at(k.offset, `"${String(k.value)}" appears twice`);
      out.set(k.value as string, v);
    }
    return out;
  };
  const top = props(root);
  for (const [k, v] of top) if (k !== 'quirks') at(v.parent!.offset, `unknown key "${k}" (the file has one key, "quirks")`);
  const list = top.get('quirks');
  if (!list) return at(root.offset, 'no "quirks" list');
  if (list.type !== 'array') return at(list.offset, '"quirks" must be a list');
  const str = (n: JNode, what: string): string => (n.type === 'string' && (n.value as string).trim() !== '' ? (n.value as string) : at(n.offset, `${what} must be a non-empty string`));
  const hex = (n: JNode, what: string, digits: number): number => {
    if (n.type !== 'string') return at(n.offset, `${what} must be a string of hex digits, as lspci -n prints it (e.g. "10ec")`);
    const s = str(n, what);
    const m = /^(?:0x)?([0-9a-f]+)$/i.exec(s);
    if (!m || m[1]!.length > digits) return at(n.offset, `${what} must be hexadecimal, at most ${digits} digits (as lspci -n prints it), not "${s}"`);
    return Number.parseInt(m[1]!, 16);
  };
  const out: QuirkEntry[] = [];
  for (const e of list.children ?? []) {
    if (e.type !== 'object') return at(e.offset, 'each quirk must be an object');
    const p = props(e);
    const known = new Set(['kind', 'vendor', 'device', 'class', 'classMask', 'bdf', 'reason', 'source']);
    for (const [k, v] of p) if (!known.has(k)) at(v.parent!.offset, `unknown key "${k}" (known: ${[...known].join(', ')})`);
    const need = (k: string): JNode => p.get(k) ?? at(e.offset, `this quirk has no "${k}"`);
    const kindNode = need('kind');
    const kind = str(kindNode, '"kind"') as QuirkKind;
    if (!QUIRK_KINDS.includes(kind)) at(kindNode.offset, `"kind" must be one of ${QUIRK_KINDS.join(', ')}, not "${kind}"`);
    const q: QuirkEntry = { kind, vendorId: hex(need('vendor'), '"vendor"', 4), reason: str(need('reason'), '"reason"'), source: file };
    const dev = p.get('device');
    if (dev) q.deviceId = hex(dev, '"device"', 4);
    const cls = p.get('class');
    if (cls) q.classCode = hex(cls, '"class"', 6);
    const mask = p.get('classMask');
    if (mask) {
      if (!cls) at(mask.offset, '"classMask" needs a "class"');
      q.classMask = hex(mask, '"classMask"', 6);
    }
    const bdf = p.get('bdf');
    if (bdf) {
      const text = str(bdf, '"bdf"');
      try {
        q.bdf = canonicalBdf(text);
      } catch {
        at(bdf.offset, `"bdf" must look like 0000:03:00.0, not "${text}"`);
      }
    }
    const src = p.get('source');
    if (src) q.source = str(src, '"source"');
    out.push(q);
  }
  return out;
}

const SYNTAX_ERRORS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'malformed number',
  PropertyNameExpected: 'a quoted key was expected',
  ValueExpected: 'a value was expected',
  ColonExpected: "':' was expected",
  CommaExpected: "',' was expected",
  CloseBraceExpected: "'}' was expected",
  CloseBracketExpected: "']' was expected",
  EndOfFileExpected: 'text after the end',
  InvalidCommentToken: 'malformed comment',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'bad \\u escape',
  InvalidEscapeCharacter: 'bad escape',
  InvalidCharacter: 'control character in a string',
};
