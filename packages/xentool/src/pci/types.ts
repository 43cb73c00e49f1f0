/** A PCI function's machine address. */
export interface Bdf {
  domain: number;
  bus: number;
  dev: number;
  func: number;
}

/** A device as a domain's PCI backend records it (one `*-N` group of the backend directory). */
export interface AttachedPci extends Bdf {
  /** Backend index N. */
  index: number;
  /**
   * The guest-visible devfn (slot << 3 | func) when known: `vdevfn-N` for HVM (written when
   * nonzero), or pciback's `vdev-N` for PV. Undefined when the device model chooses and has not
   * reported yet.
   */
  vdevfn: number | undefined;
  /** The raw `vdevfn-N` value (libxl writes it only when nonzero); 0 when absent, as xl reads it. */
  recordedVdevfn: number;
  name?: string;
  /** Parsed `opts-N`. */
  opts: Record<string, string>;
  /** `state-N` (XenbusState), when present. */
  state?: number;
}

export function bdfText(b: Bdf): string {
  return `${hex(b.domain, 4)}:${hex(b.bus, 2)}:${hex(b.dev, 2)}.${b.func.toString(16)}`;
}

/** The `/libxl/pci/<DDDD-BB-DD-F>` key libxl and xentool share. */
export function bdfXsKey(b: Bdf): string {
  return `${hex(b.domain, 4)}-${hex(b.bus, 2)}-${hex(b.dev, 2)}-${b.func.toString(16)}`;
}

/** libxl's unpadded form in error messages, e.g. `0:3:0.0`. */
export function bdfUnpadded(b: Bdf): string {
  return `${b.domain.toString(16)}:${b.bus.toString(16)}:${b.dev.toString(16)}.${b.func.toString(16)}`;
}

/** `seg<<16 | bus<<8 | dev<<3 | fn`, as XEN_DOMCTL_assign_device wants it. */
export function machineSbdf(b: Bdf): number {
  return ((b.domain << 16) | (b.bus << 8) | (b.dev << 3) | b.func) >>> 0;
}

export function sameBdf(a: Bdf, b: Bdf): boolean {
  return a.domain === b.domain && a.bus === b.bus && a.dev === b.dev && a.func === b.func;
}

export function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
