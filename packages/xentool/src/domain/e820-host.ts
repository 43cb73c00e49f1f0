/**
 * `e820_host` for PV guests: the memory map a PV guest with passthrough devices gets, derived
 * from the host's, so that the guest keeps its RAM out of the host's reserved and ACPI regions
 * and does not mistake a hole below 4 GiB for free PCI address space (where a passed-through
 * device's driver could then place a BAR on top of host firmware or RAM).
 *
 * The facts are libxl 4.17's (tools/libs/light/libxl_x86.c: libxl__arch_domain_create →
 * libxl__e820_alloc → e820_host_sanitize → e820_sanitize), written here from those facts:
 *
 * - When: a PV guest whose b_info.u.pv.e820_host is true. xl sets it from the config key
 *   `e820_host` and forces it on when the PV guest has `pci=` devices (xl_parse.c).
 * - Input: the host map as XENMEM_machine_memory_map reports it (xc_get_machine_memory_map, at
 *   most E820MAX = 128 entries). Xen adds to its own E820 a reserved entry for every hole that
 *   dom0 may not map (IOAPIC pages, ...: arch/x86/mm.c), so the input has more reserved entries
 *   than the map Xen prints at boot.
 * - RAM: `target_memkb` from address 0, cut short at the lowest host entry above 1 MiB that is
 *   neither RAM nor unusable (the first reserved/ACPI/NVS region). What was cut, plus the balloon
 *   room `max_memkb - target_memkb` (+ slack_memkb, 0 for xl), is one RAM entry at 4 GiB.
 *   libxl means to place it after the highest such host region, but its comparison yields 0 or 1
 *   where it wanted an address, so it is always exactly 4 GiB; we give the guest the same map.
 * - Host entries starting at or below 1 MiB are dropped (the guest's kernel makes its own ISA
 *   hole), as are host RAM entries (RAM above 4 GiB too) and host unusable entries.
 * - Host RAM below 4 GiB that ends above the guest's RAM becomes unusable from the end of the
 *   guest's RAM (Linux commit 2f14ddc3a714: a gap there would be taken for PCI space, which is
 *   what an Intel IGD's stolen memory must not be).
 * - The hole from the end of the guest's RAM to the first reserved region is unusable (extended
 *   from an unusable entry that already starts there, else a new one), for the same reason.
 * - Order: the guest's RAM, that unusable hole (when new), the kept host entries in the host's
 *   order, the RAM at 4 GiB (when there is any).
 * - xc_domain_set_memory_map then gives the guest the result; it replaces the one-entry map
 *   that xc_domain_set_memmap_limit set earlier in the same build step. A failure fails the
 *   creation (libxl__arch_domain_create returns it).
 */
import type { E820Entry } from '@xentool/libxc-bindings';
import { XentoolError } from '../errors';

export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;
export const E820_NVS = 4;
export const E820_UNUSABLE = 5;
/** xenctrl.h E820MAX: the most entries libxl reads from the host and hands to the guest. */
export const E820MAX = 128;

/** `struct e820entry`, as the bindings take and return it. */
export type { E820Entry };

/** A map entry as a plan step or a state file keeps it (JSON has no bigint). */
export interface E820Json {
  addr: string;
  size: string;
  type: number;
}

const MiB = 0x100000n;
const FOUR_GIB = 1n << 32n;
const U64_MAX = (1n << 64n) - 1n;

/** The names Linux prints for each type in its "Xen: [mem ...]" lines. */
export function e820TypeName(type: number): string {
  switch (type) {
    case E820_RAM:
      return 'usable';
    case E820_RESERVED:
      return 'reserved';
    case E820_ACPI:
      return 'ACPI data';
    case E820_NVS:
      return 'ACPI NVS';
    case E820_UNUSABLE:
      return 'unusable';
    default:
      return `type ${type}`;
  }
}

export function e820ToJson(map: readonly E820Entry[]): E820Json[] {
  return map.map((e) => ({ addr: `0x${e.addr.toString(16)}`, size: `0x${e.size.toString(16)}`, type: e.type }));
}

export function e820FromJson(map: readonly E820Json[]): E820Entry[] {
  return map.map((e) => ({ addr: BigInt(e.addr), size: BigInt(e.size), type: e.type }));
}

/** `[mem 0x...-0x...] type` per entry, the way Linux prints a map (end inclusive). */
export function formatE820(map: readonly E820Entry[]): string[] {
  const hex = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;
  return map.map((e) => `[mem ${hex(e.addr)}-${hex(e.addr + e.size - 1n)}] ${e820TypeName(e.type)}`);
}

export interface GuestMemory {
  /** libxl's target_memkb: the RAM the guest starts with. */
  targetKiB: number;
  /** libxl's max_memkb. */
  maxKiB: number;
  /** b_info.u.pv.slack_memkb: 0 unless set through libxl's API (xl never does). */
  slackKiB?: number;
}

/**
 * The guest's map from the host's (see the file comment for each rule). Throws a coded error
 * where libxl fails the creation: an empty host map, more than E820MAX entries, no memory.
 */
export function e820HostMap(hostMap: readonly E820Entry[], mem: GuestMemory, where = 'e820_host'): E820Entry[] {
  if (mem.targetKiB <= 0) throw new XentoolError('ERR_E820_HOST', `${where}: the guest has no memory to place`);
  if (hostMap.length === 0) throw new XentoolError('ERR_E820_HOST', `${where}: the host memory map is empty`);
  if (hostMap.length > E820MAX) {
    throw new XentoolError('ERR_E820_HOST', `${where}: the host memory map has ${hostMap.length} entries, more than the ${E820MAX} libxl reads`);
  }
  const targetKiB = BigInt(mem.targetKiB);
  const balloonKiB = BigInt(mem.maxKiB - mem.targetKiB + (mem.slackKiB ?? 0));
  // Working copies; type 0 marks an entry that is left out.
  const src = hostMap.map((e) => ({ ...e })).filter((e) => e.addr > MiB);

  // The lowest region the guest's RAM must stay below: reserved, ACPI, NVS (or any other type
  // that is not RAM or unusable). None at all: libxl's "no limit" (the top of the 64-bit space).
  let start = U64_MAX;
  for (const e of src) if (e.type !== E820_RAM && e.type !== E820_UNUSABLE && e.addr < start) start = e.addr;
  const startKiB = start >> 10n;
  const cutKiB = targetKiB > startKiB ? targetKiB - startKiB : 0n;
  const ramEnd = (targetKiB - cutKiB) << 10n;
  const out: E820Entry[] = [{ addr: 0n, size: ramEnd, type: E820_RAM }];

  for (const e of src) {
    const end = e.addr + e.size;
    if (e.type === E820_UNUSABLE || end < ramEnd) {
      e.type = 0;
      continue;
    }
    if (e.type !== E820_RAM || e.addr >= FOUR_GIB) continue;
    // Host RAM below 4 GiB reaching past the guest's RAM: only the part above it stays, unusable.
    if (e.addr < ramEnd) {
      e.size = end - ramEnd;
      e.addr = ramEnd;
      e.type = E820_UNUSABLE;
    }
    if (end > ramEnd) e.type = E820_UNUSABLE;
  }

  if (start > ramEnd) {
    const adjoining = src.find((e) => e.type === E820_UNUSABLE && e.addr === ramEnd);
    if (adjoining) adjoining.size = start - adjoining.addr;
    else out.push({ addr: ramEnd, size: start - ramEnd, type: E820_UNUSABLE });
  }
  for (const e of src) if (e.type !== E820_RAM && e.type !== 0) out.push({ addr: e.addr, size: e.size, type: e.type });
  if (balloonKiB > 0n || cutKiB > 0n) out.push({ addr: FOUR_GIB, size: (cutKiB + balloonKiB) << 10n, type: E820_RAM });
  return out;
}
