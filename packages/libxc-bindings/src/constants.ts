/** Numbers from the installed Xen 4.17 headers (xen/xen.h, xen/domctl.h, xen/sysctl.h, xen/version.h). */

export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
/** Owner of quarantined devices (`xl pci-assignable-add` assigns them here). */
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
/** xc_test_assign_device with this id tests against the global IOMMU state. */
export const DOMID_INVALID = 0x7ff4;

/** xc_interface_open flags. */
export const XC_OPENFLAG_DUMMY = 1 << 0;

/** XEN_DOMINF_* bits of xc_domaininfo_t.flags. */
export const XEN_DOMINF = {
  dying: 1 << 0,
  hvm_guest: 1 << 1,
  shutdown: 1 << 2,
  paused: 1 << 3,
  blocked: 1 << 4,
  running: 1 << 5,
  debugged: 1 << 6,
  xs_domain: 1 << 7,
  hap: 1 << 8,
} as const;
export const XEN_DOMINF_SHUTDOWNSHIFT = 16;
export const XEN_DOMINF_SHUTDOWNMASK = 0xff;

/** XEN_SYSCTL_PHYSCAP_* bits of xc_physinfo_t.capabilities. */
export const XEN_SYSCTL_PHYSCAP = {
  hvm: 1 << 0,
  pv: 1 << 1,
  /** Direct access to I/O devices with an IOMMU: libxl refuses any passthrough without it. */
  directio: 1 << 2,
  hap: 1 << 3,
  shadow: 1 << 4,
  iommu_hap_pt_share: 1 << 5,
  vmtrace: 1 << 6,
  vpmu: 1 << 7,
  gnttab_v1: 1 << 8,
  gnttab_v2: 1 << 9,
} as const;

/** XEN_DOMCTL_CDF_* flags of xen_domctl_createdomain. */
export const XEN_DOMCTL_CDF = {
  hvm: 1 << 0,
  hap: 1 << 1,
  s3_integrity: 1 << 2,
  oos_off: 1 << 3,
  xs_domain: 1 << 4,
  iommu: 1 << 5,
  nested_virt: 1 << 6,
  vpmu: 1 << 7,
} as const;
export const XEN_DOMCTL_IOMMU_NO_SHAREPT = 1 << 0;
export const XEN_DOMCTL_DEV_RDM_RELAXED = 1;

/** x86 emulation flags (arch_config.emulation_flags). */
export const XEN_X86_EMU = {
  LAPIC: 1 << 0,
  HPET: 1 << 1,
  PM: 1 << 2,
  RTC: 1 << 3,
  IOAPIC: 1 << 4,
  PIC: 1 << 5,
  VGA: 1 << 6,
  IOMMU: 1 << 7,
  PIT: 1 << 8,
  USE_PIRQ: 1 << 9,
  VPCI: 1 << 10,
} as const;
export const XEN_X86_EMU_ALL = 0x7ff;

/** SHUTDOWN_* reasons (xen/sched.h), index = code. */
export const SHUTDOWN_REASONS = ['poweroff', 'reboot', 'suspend', 'crash', 'watchdog', 'soft_reset'] as const;
export type ShutdownReason = (typeof SHUTDOWN_REASONS)[number];

/** XENVER_* commands of xc_version. */
export const XENVER = {
  version: 0,
  extraversion: 1,
  compile_info: 2,
  capabilities: 3,
  changeset: 4,
  platform_parameters: 5,
  pagesize: 7,
  commandline: 9,
  build_id: 10,
} as const;

/** XEN_SCHEDULER_* ids (xen/domctl.h) with libxl's names for them (libxl_types.idl libxl_scheduler). */
export const SCHEDULERS: Record<number, string> = {
  0: 'unknown',
  4: 'sedf',
  5: 'credit',
  6: 'credit2',
  7: 'arinc653',
  8: 'rtds',
  9: 'null',
};

/** enum pt_irq_type (xen/domctl.h). */
export const PT_IRQ_TYPE = { pci: 0, isa: 1, msi: 2, msi_translate: 3, spi: 4 } as const;
export type PtIrqType = keyof typeof PT_IRQ_TYPE;
