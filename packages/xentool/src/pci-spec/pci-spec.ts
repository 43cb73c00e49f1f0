/**
 * The shape of a parsed PCI device, named field for field after libxl's `libxl_device_pci`
 * (libxl_types.idl, 4.17), so that JSON output and later libxl-compatible code line up.
 */

/** libxl_rdm_reserve_policy: `invalid` (-1) is libxl's "not set", and xl accepts it as a value. */
export type RdmPolicy = 'invalid' | 'strict' | 'relaxed';

export interface PciSpec {
  domain: number;
  bus: number;
  dev: number;
  func: number;
  /** Virtual devfn: vslot << 3; 0 lets libxl choose the slot. */
  vdevfn: number;
  /** 1 for one function; LIBXL_PCI_FUNC_ALL (0xffffffff) for `*`; 0 when no BDF was given. */
  vfunc_mask: number;
  msitranslate: boolean;
  power_mgmt: boolean;
  permissive: boolean;
  seize: boolean;
  rdm_policy: RdmPolicy;
  /** A name from `xl pci-assignable-add -n`; the BDF is looked up later. null when absent. */
  name: string | null;
}

/** `LIBXL_PCI_FUNC_ALL` (~0U): every function of the device. */
export const PCI_FUNC_ALL = 0xffffffff;

/** What `libxl_device_pci_init` leaves in a device: the base every parser starts from. */
export function emptyPciSpec(): PciSpec {
  return {
    domain: 0,
    bus: 0,
    dev: 0,
    func: 0,
    vdevfn: 0,
    vfunc_mask: 0,
    msitranslate: false,
    power_mgmt: false,
    permissive: false,
    seize: false,
    rdm_policy: 'invalid',
    name: null,
  };
}

/**
 * `DDDD:BB:SS.F`, the sysfs spelling (lower-case, zero-padded). `func` may be `'*'`.
 * Pass `{ short: true }` for xl's unpadded message form (`0:3:0.0`).
 */
export function formatBdf(
  bdf: { domain: number; bus: number; dev: number; func: number | '*' },
  opts: { short?: boolean } = {},
): string {
  const h = (n: number, w: number) => (opts.short ? n.toString(16) : n.toString(16).padStart(w, '0'));
  const func = bdf.func === '*' ? '*' : bdf.func.toString(16);
  return `${h(bdf.domain, 4)}:${h(bdf.bus, 2)}:${h(bdf.dev, 2)}.${func}`;
}

/** The BDF of a parsed spec, with `*` when it names every function. */
export function formatPciSpecBdf(p: PciSpec): string {
  return formatBdf({ ...p, func: p.vfunc_mask === PCI_FUNC_ALL ? '*' : p.func });
}
