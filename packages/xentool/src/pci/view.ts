/**
 * What the planners see of the host: a snapshot gathered before any change (gather-view.ts), so
 * the planners themselves are pure and every refusal happens before the first step.
 */
import type { AttachedPci, Bdf } from './types';

export type DeviceModel = 'qemu-xen' | 'qemu-xen-traditional' | 'none';

export interface DomainView {
  domid: number;
  name: string | undefined;
  hvm: boolean;
  dying: boolean;
  /** HVM device model; 'none' for PV. From `/libxl/<domid>/dm-version` (absent → qemu-xen). */
  deviceModel: DeviceModel;
  /** The domain's PCI backend records (`/local/domain/0/backend/pci/<domid>/0`), index order. */
  attached: AttachedPci[];
  /** Backend `state` (XenbusState) when the backend exists. */
  backendState: number | undefined;
  /**
   * HVM: slots known to be in use. qemu-xen: every device on QEMU's bus (`query-pci`).
   * qemu-traditional has no query interface: the passthrough devices the backend records (its
   * emulated devices' slots are refused by qemu-dm itself, when it is asked).
   */
  usedSlots?: number[];
  /** `/local/domain/<domid>/image/device-model-domid`: the device model runs in this stub domain. */
  stubdomId?: number;
}

/** One line of sysfs `resource`. */
export interface PciResource {
  start: bigint;
  end: bigint;
  flags: bigint;
}

export interface DeviceView extends Bdf {
  exists: boolean;
  /** Name of the bound driver (`pciback` when hidden), undefined when unbound. */
  driver: string | undefined;
  /** Lines 0-6 of `resource` (BARs and ROM). */
  resources: PciResource[];
  irq: number;
  /** `/libxl/pci/<bdf>/domid`: the domain using it, per the shared xl/xentool record. */
  usedBy: number | undefined;
  /** `/libxl/pci/<bdf>/name`. */
  name: string | undefined;
  /** `/libxl/pci/<bdf>/driver_path`. */
  originalDriverPath: string | undefined;
  /** Refusals from the pciback assignability check (bridge, in use by dom0, ...). */
  blockers: { code: string; message: string }[];
  /** Warnings (no reset method, no ACS, IOMMU group peers, ...). */
  warnings: string[];
  /**
   * Warnings from the quirks table (devices known to be unsuitable), kept apart from `warnings`:
   * pci-assignable-add shows them, pci-attach does not repeat them, so that attaching stays
   * byte-for-byte what xl and xm print (the seed walkthrough's 03:00.0 is such a device).
   */
  quirkWarnings?: string[];
  /** Devices that must be assigned to the same domain (excluding this one). */
  coAssign: Bdf[];
}

/** The outcome of the read-only `xc_test_assign_device` for (domain, device). */
export type TestAssign = { ok: true } | { ok: false; code: string };
