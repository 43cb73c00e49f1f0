/**
 * The hypervisor operations the PCI commands need, as the Host seam exposes them. The real host
 * implements them with libxenctrl (packages/libxc-bindings); the simulated host with an
 * in-memory model that refuses what Xen 4.17 refuses, with the same errno.
 */

/** `DOMID_IO`: the owner of quarantined devices (xen/include/public/xen.h). */
export const DOMID_IO = 0x7ff1;
/**
 * What `testAssignDevice` is given to ask about a device without naming a target domain. Xen
 * answers EINVAL to a test naming the caller's own domain ("no self-assignment"), so asking with
 * dom0's id from dom0 says "assigned" for every device (seen on real Xen 4.17).
 */
export const DOMID_INVALID = 0x7ff4;
/** `XEN_DOMCTL_DEV_RDM_RELAXED`: the assign flag for rdm_policy=relaxed. */
export const XEN_DOMCTL_DEV_RDM_RELAXED = 1;

export interface PciHypervisor {
  /** `xc_test_assign_device`: may `domid` be given this device (owned by dom0 or quarantined)? */
  testAssignDevice(domid: number, sbdf: number): Promise<void>;
  /** `xc_assign_device`. */
  assignDevice(domid: number, sbdf: number, flags: number): Promise<void>;
  /** `xc_deassign_device`. */
  deassignDevice(domid: number, sbdf: number): Promise<void>;
  /** `xc_domain_ioport_permission(domid, first, nr, allow)`. */
  ioportPermission(domid: number, firstPort: number, nrPorts: number, allow: boolean): Promise<void>;
  /** `xc_domain_iomem_permission(domid, first_mfn, nr_mfns, allow)`; frames are 4 KiB. */
  iomemPermission(domid: number, firstFrame: bigint, nrFrames: bigint, allow: boolean): Promise<void>;
  /** `xc_domain_irq_permission(domid, pirq, allow)`. */
  irqPermission(domid: number, pirq: number, allow: boolean): Promise<void>;
  /** `xc_physdev_map_pirq(domid, index=irq, &pirq)`; returns the pirq. */
  mapPirq(domid: number, irq: number): Promise<number>;
  /** `xc_physdev_unmap_pirq(domid, pirq)`. */
  unmapPirq(domid: number, pirq: number): Promise<void>;
}

/** errno-shaped failure of a hypervisor call: `{syscall, errno, code}` as Node's system errors. */
export class HypervisorError extends Error {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;
  constructor(syscall: string, code: keyof typeof ERRNO, detail?: string) {
    super(`${syscall} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'HypervisorError';
    this.syscall = syscall;
    this.code = code;
    this.errno = ERRNO[code];
  }
}

/** Linux errno values for the codes Xen's PCI domctls return. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EBUSY: 16,
  EXDEV: 18,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EOPNOTSUPP: 95,
} as const;
