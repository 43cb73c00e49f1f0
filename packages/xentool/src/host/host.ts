/**
 * The Host seam: everything xentool knows about a Xen host goes through this interface. There
 * are two implementations, the real host (libxenctrl + xenstored + sysfs + QMP) and the
 * simulated host (in-memory hypervisor, in-process xenstored, simulated sysfs, simulated
 * guests). Both pass one contract suite. Plain TypeScript data only: no koffi types, no sockets.
 *
 * Grouped by device class, as xenopsd's backend signature is. Sections are added as the issues
 * that need them land; a method exists here only once both implementations provide it.
 */

/**
 * What `xl info` prints, from uname (dom0's kernel), physinfo, the XENVER_* version calls, the
 * scheduler id, memory sharing and the free cpupool map. Raw values; format/xl-info.ts turns
 * them into xl's exact text. The xl line each field feeds is named beside it.
 */
export interface HostInfo {
  /** `host`, `release`, `version`, `machine`: uname of dom0. */
  hostname: string;
  release: string;
  kernelVersion: string;
  machine: string;
  /** physinfo: `nr_cpus`, `max_cpu_id`, `nr_nodes`, `cores_per_socket`, `threads_per_core`. */
  nrCpus: number;
  maxCpuId: number;
  nrNodes: number;
  coresPerSocket: number;
  threadsPerCore: number;
  /** `cpu_mhz` = cpuKhz / 1000 with three decimals. */
  cpuKhz: number;
  /** `hw_caps`: the eight 32-bit words. */
  hwCaps: readonly number[];
  /** `virt_caps`, decoded from XEN_SYSCTL_PHYSCAP_* (`directio` = libxl's cap_hvm_directio). */
  caps: {
    pv: boolean;
    hvm: boolean;
    directio: boolean;
    hap: boolean;
    shadow: boolean;
    iommuHapPtShare: boolean;
    vmtrace: boolean;
    vpmu: boolean;
    gnttabV1: boolean;
    gnttabV2: boolean;
  };
  /** `total_memory`, `free_memory` (free − outstanding), `outstanding_claims`: in pages. */
  totalPages: number;
  freePages: number;
  outstandingPages: number;
  /** `sharing_freed_memory`, `sharing_used_memory`: pages; 0 without memory sharing (ENOSYS). */
  sharingFreedPages: number;
  sharingUsedFrames: number;
  /** `free_cpus`: CPUs in no cpupool; undefined when the cpupool query failed (xl omits the line). */
  freeCpus?: number;
  /** `xen_major`, `xen_minor` (xl keeps only the low 8 bits), `xen_extra`. */
  xenMajor: number;
  xenMinor: number;
  xenExtra: string;
  /** `xen_caps`, e.g. `xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64`. */
  xenCaps: string;
  /** `xen_scheduler`: libxl's name; undefined for an id libxl does not know (xl prints `(null)`). */
  xenScheduler: string | undefined;
  xenPagesize: number;
  /** `platform_params`: virt_start. */
  virtStart: bigint;
  xenChangeset: string;
  xenCommandline: string;
  ccCompiler: string;
  ccCompileBy: string;
  ccCompileDomain: string;
  ccCompileDate: string;
  /** `build_id`: hex, empty when Xen has none. */
  buildId: string;
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
  /** outstanding_pages × 4 (claimed, not yet allocated); `xl list` adds it to Mem. Default 0. */
  outstandingMemKiB?: number;
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
