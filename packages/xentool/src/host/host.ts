/**
 * The Host seam: everything xentool knows about a Xen host goes through this interface. There
 * are two implementations, the real host (libxenctrl + xenstored + sysfs + QMP) and the
 * simulated host (in-memory hypervisor, in-process xenstored, simulated sysfs, simulated
 * guests). Both pass one contract suite. Plain TypeScript data only: no koffi types, no sockets.
 *
 * Grouped by device class, as xenopsd's backend signature is. Sections are added as the issues
 * that need them land; a method exists here only once both implementations provide it.
 */

/** The `xl info` fields that physinfo and the version calls provide. */
export interface HostInfo {
  /** e.g. `xen_major`, `xen_minor`, `xen_extra`, `xen_caps`, `nr_cpus`, ...: see format/xl-info.ts */
  readonly [key: string]: string | number | boolean | readonly string[] | undefined;
}

/** One domain as `xc_domain_getinfolist` and xenstore describe it. */
export interface DomainRecord {
  domid: number;
  /** From `/local/domain/<domid>/name`; undefined when xenstore has none. */
  name: string | undefined;
  /** Lower-case canonical UUID text. */
  uuid: string;
  /** tot_pages × 4. */
  memKiB: number;
  /** max_pages × 4. */
  maxMemKiB: number;
  /** Online vcpus. */
  vcpus: number;
  /** max_vcpu_id + 1 (0 when max_vcpu_id is ~0U). */
  maxVcpus: number;
  cpuTimeNs: bigint;
  hvm: boolean;
  dying: boolean;
  shutdown: boolean;
  /** Set when `shutdown`: poweroff, reboot, suspend, crash, watchdog, soft_reset. */
  shutdownReason?: 'poweroff' | 'reboot' | 'suspend' | 'crash' | 'watchdog' | 'soft_reset' | number;
  paused: boolean;
  blocked: boolean;
  running: boolean;
}

export interface Host {
  readonly kind: 'real' | 'sim';

  // -- hypervisor ---------------------------------------------------------------------------
  /** Host facts for `xl info`. */
  info(): Promise<HostInfo>;
  /** Every domain, ascending domid. */
  domains(): Promise<DomainRecord[]>;

  /** Releases every handle; idempotent. */
  close(): Promise<void>;
}
