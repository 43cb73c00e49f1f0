/**
 * What the PCI commands need of a host, beyond `Host`'s domain list: xenstore, the hypervisor's
 * PCI calls, dom0's sysfs, and each HVM guest's device model. The real host and the simulated
 * host each provide one; everything above this line is shared.
 */
import type { Dom0Usage, SysfsFs } from '@xentool/pciback';
import type { DomainRecord } from '../host/host';
import type { PciHypervisor } from '../host/hypervisor';
import type { QmpClient } from '../qmp/qmp-client';
import type { Xs } from '../xs/xs';

export interface PciHost {
  readonly kind: 'real' | 'sim';
  readonly xs: Xs;
  readonly hv: PciHypervisor;
  /** dom0's sysfs (`/sys`, or the simulated kernel's). */
  readonly sysfs: SysfsFs;
  domains(): Promise<DomainRecord[]>;
  /** Devices dom0 itself depends on (root disk, default route, console). */
  dom0Usage(): Dom0Usage[];
  /** Host IOMMU enabled (physinfo XEN_SYSCTL_PHYSCAP_directio). */
  iommuEnabled(): Promise<boolean>;
  /** Connects to the QMP socket of `domid`'s device model. */
  qmp(domid: number): Promise<QmpClient>;
  /**
   * libxl's XEN_LIB_DIR, where each domain's stored config lives (/var/lib/xen on a real host);
   * undefined when the host keeps none.
   */
  readonly xenLibDir?: string;
  /** A line for a long wait (the CLI shows it on a TTY). */
  progress?(text: string): void;
}
