/**
 * PCI device specifications in the forms xentool reads:
 *
 * - `parsePciSpec(s, base?)`: xl's PCI_SPEC_STRING (`xlu_pci_parse_spec_string` 4.17),
 *   warnings returned in `.warnings`, never printed. ERR_PCI_SPEC, exit 2.
 * - `parseBdf(s)`: `xlu_pci_parse_bdf` (pci-assignable-add/-remove). ERR_BDF, exit 2.
 * - `parseXmPciSpec(s, opts?)`: xm's forms, which may name several functions.
 * - `parseHideLine(s)`: the `pciback.hide=` / `xen-pciback.hide=` boot-line parameter.
 * - `formatBdf(bdf, {short?})`, `formatPciSpecBdf(spec)`.
 *
 * Parsed devices have the fields of libxl's `libxl_device_pci` (`PciSpec`).
 */
export { parsePciSpec, parseBdf, scanBdf } from './parse-pci-spec';
export type { ParsedPciSpec, BdfScan } from './parse-pci-spec';
export { parseXmPciSpec } from './parse-xm-pci-spec';
export type { ParsedXmPciSpec, XmPciDevice, XmParseOptions } from './parse-xm-pci-spec';
export { parseHideLine, parseHideValue } from './parse-hide-line';
export type { HideEntry, ParsedHideLine } from './parse-hide-line';
export { emptyPciSpec, formatBdf, formatPciSpecBdf, PCI_FUNC_ALL } from './pci-spec';
export type { PciSpec, RdmPolicy } from './pci-spec';
