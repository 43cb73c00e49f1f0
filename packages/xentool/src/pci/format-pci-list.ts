/**
 * Byte-exact renderings of the PCI listing commands of xl 4.17 and of the three historic xm
 * formats (facts: ../shared/reference/toolstack-behaviour.md §1.2, §1.3, §2.2).
 */
import type { AttachedPci, Bdf } from './types';
import { hex } from './types';

/**
 * `xl pci-list DOM`: `Vdev Device` then `%02x.%01x %04x:%02x:%02x.%01x` per device in backend
 * index order. xl reads `vdevfn-N` only (absent → 0), so a PV guest shows `00.0`. No devices →
 * nothing at all, not even the header.
 */
export function formatXlPciList(devs: readonly AttachedPci[]): string {
  if (devs.length === 0) return '';
  let out = 'Vdev Device\n';
  for (const d of [...devs].sort((a, b) => a.index - b.index)) {
    const v = d.recordedVdevfn;
    out += `${hex((v >> 3) & 0x1f, 2)}.${(v & 7).toString(16)} ${bdf(d)}\n`;
  }
  return out;
}

/**
 * `xl pci-assignable-list [-n]`: `%04x:%02x:%02x.%01x %s\n` — every line has the space, even
 * without names (xl prints `name ?: ""`).
 */
export function formatXlAssignableList(devs: readonly (Bdf & { name?: string })[], showNames: boolean): string {
  return devs.map((d) => `${bdf(d)} ${showNames && d.name ? d.name : ''}\n`).join('');
}

/**
 * `xm pci-list-assignable-devices`. Xen 3.3's xm printed one co-assignment group per line, its
 * members separated by spaces (`print d.name,` then `print`); from 4.0 on, one BDF per line.
 */
export function formatXmAssignableList(groups: readonly (readonly Bdf[])[], format: XmListFormat = '3.3'): string {
  if (format === '3.3') return groups.map((g) => `${g.map(bdf).join(' ')}\n`).join('');
  return groups.flat().map((d) => `${bdf(d)}\n`).join('');
}

export type XmListFormat = '3.3' | '4.0' | '4.1';

/**
 * `xm pci-list DOM` in the layout of a given xm release.
 *
 * 3.3/3.4 (the seed's): xend handed xm strings, which xm padded with `%-3s`:
 * `"%(vslot)-3s    %(domain)-3s  %(bus)-3s   %(slot)-3s    %(func)-3s    "` (trailing spaces
 * kept). The strings were hex with a `0x` prefix; the seed's example row for `0:2:0.0` in slot 6
 * is `0x6    0x0  0x02   0x00    0x0    `, so bus and slot carry two digits, the others none.
 * When the first device has no known slot, xend had no `vslt` key and xm dropped the column.
 *
 * 4.0: sorted by `(vdevfn - func) << 32 | BDF`; `VSlt VFn domain bus  slot func` with
 * `%-4s %-3s 0x%04x 0x%02x 0x%02x 0x%x`; an unknown slot shows `-`; with no known slot at all
 * the two columns are dropped.
 *
 * 4.1-4.4: same order; `Vdev Device` with `%-4s %04x:%02x:%02x.%x`, `-` when unknown, and a bare
 * `Device` header when no slot is known.
 */
export function formatXmPciList(devs: readonly AttachedPci[], format: XmListFormat = '3.3'): string {
  if (devs.length === 0) return '';
  if (format === '3.3') return formatXm33(devs);
  const sorted = [...devs].sort((a, b) => compareBig(sortKey(a), sortKey(b)));
  const anyKnown = sorted.some((d) => d.vdevfn !== undefined);
  if (format === '4.0') {
    if (!anyKnown) {
      return 'domain bus  slot func\n' + sorted.map((d) => `${xm40Bdf(d)}\n`).join('');
    }
    let out = 'VSlt VFn domain bus  slot func\n';
    for (const d of sorted) {
      const slot = d.vdevfn === undefined ? '-' : `0x${hex(d.vdevfn >> 3, 2)}`;
      const vfn = d.vdevfn === undefined ? '-' : `0x${(d.vdevfn & 7).toString(16)}`;
      out += `${slot.padEnd(4)} ${vfn.padEnd(3)} ${xm40Bdf(d)}\n`;
    }
    return out;
  }
  if (!anyKnown) return 'Device\n' + sorted.map((d) => `${bdf(d)}\n`).join('');
  let out = 'Vdev Device\n';
  for (const d of sorted) {
    const v = d.vdevfn === undefined ? '-' : `${hex(d.vdevfn >> 3, 2)}.${(d.vdevfn & 7).toString(16)}`;
    out += `${v.padEnd(4)} ${bdf(d)}\n`;
  }
  return out;
}

function formatXm33(devs: readonly AttachedPci[]): string {
  const ordered = [...devs].sort((a, b) => a.index - b.index);
  const withSlot = ordered[0]!.vdevfn !== undefined;
  const p = (s: string) => s.padEnd(3);
  let out = withSlot ? 'VSlt domain   bus   slot   func\n' : 'domain   bus   slot   func\n';
  for (const d of ordered) {
    const cols = `${p(`0x${d.domain.toString(16)}`)}  ${p(`0x${hex(d.bus, 2)}`)}   ${p(`0x${hex(d.dev, 2)}`)}    ${p(`0x${d.func.toString(16)}`)}    `;
    // A later device without a known slot still needs a value under the column; xend stored 0x0
    // for "not yet chosen" (the auto marker of the 3.3 era).
    out += withSlot ? `${p(`0x${((d.vdevfn ?? 0) >> 3).toString(16)}`)}    ${cols}\n` : `${cols}\n`;
  }
  return out;
}

function sortKey(d: AttachedPci): bigint {
  // xend 4.x stored 0x100 (AUTO_PHP_SLOT) for a slot qemu had not chosen.
  const vdevfn = d.vdevfn ?? 0x100;
  const bdfInt = (d.domain << 16) | (d.bus << 8) | (d.dev << 3) | d.func;
  return (BigInt(vdevfn - d.func) << 32n) | BigInt(bdfInt >>> 0);
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function xm40Bdf(d: Bdf): string {
  return `0x${hex(d.domain, 4)} 0x${hex(d.bus, 2)} 0x${hex(d.dev, 2)} 0x${d.func.toString(16)}`;
}

function bdf(d: Bdf): string {
  return `${hex(d.domain, 4)}:${hex(d.bus, 2)}:${hex(d.dev, 2)}.${d.func.toString(16)}`;
}
