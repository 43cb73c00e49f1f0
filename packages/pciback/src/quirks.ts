/**
 * Devices known to be unsuitable (or to need special handling) for passthrough. A small table:
 * each entry says why and where the knowledge comes from. Callers may append host-specific
 * entries (e.g. from a configuration file) through `AssessOptions.quirks`.
 *
 * The seed document names a class of devices that cannot work behind a virtualised BAR: the
 * driver hands the device pointers into the device's own BAR-mapped memory, and the guest's
 * BAR address differs from the host's. It names no device ids, so that kind exists here
 * (`bar-internal-pointers`) without built-in entries we could not verify.
 */
export interface QuirkEntry {
  kind: 'bar-internal-pointers' | 'igd' | 'other';
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
