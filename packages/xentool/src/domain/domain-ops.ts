/**
 * The hypervisor side of the domain lifecycle, as the real host (libxenctrl + libxenguest +
 * the xenstore client's INTRODUCE) and the simulated host (its in-memory hypervisor and
 * in-process xenstored) each provide it. Xenstore node writes are not here: they go through
 * the host's `Xs`, the same code on both hosts.
 */
import type { DomainRecord } from '../host/host';
import type { QmpClient } from '../qmp/qmp-client';
import type { Xs } from '../xs/xs';
import type { E820Entry } from './e820-host';

export interface CreateDomainArgs {
  type: 'pv' | 'hvm' | 'pvh';
  uuid: string;
  maxVcpus: number;
  passthrough: 'disabled' | 'sync_pt' | 'share_pt';
  maxGrantVersion: number;
}

export interface BuildPvArgs {
  kernel: string;
  ramdisk: string | null;
  cmdline: string | null;
  memMiB: number;
  maxVcpus: number;
  storePort: number;
  consolePort: number;
  onStep?: (syscall: string) => void;
}

export interface BuildHvmArgs {
  /** hvmloader, and the BIOS file it loads (SeaBIOS). */
  firmware: string;
  systemFirmware: string;
  /** libxl's max_memkb - video_memkb and target_memkb - video_memkb. */
  memKiB: number;
  targetKiB: number;
  /** target_memkb / 1024 (what libxl gives xc_dom_mem_init). */
  memInitMiB: number;
  maxVcpus: number;
  vcpus: number;
  storePort: number;
  consolePort: number;
  onStep?: (syscall: string) => void;
}

export interface BuildPreArgs {
  maxVcpus: number;
  maxMemKiB: number;
  /** PV only: the end of the guest's pseudo-physical map. */
  memmapLimitKiB: number;
  /** xc_domain_set_tsc_info's mode: 0 default, 1 always_emulate, 2 native (never emulate). */
  tscMode: 0 | 1 | 2;
  /** xc_cpuid_apply_policy's itsc: advertise an invariant TSC (create-request.ts cpuidItsc). */
  itsc: boolean;
  /** HVM: the HAP paging pool (libxl's shadow_memkb). */
  hvm?: { pagingMempoolKiB: number };
}

export interface SpawnDm {
  binary: string;
  argv: string[];
  env: Record<string, string>;
  /** /var/log/xen/qemu-dm-<name>.log */
  logFile: string;
}

export interface HostFacts {
  freeKiB: number;
  caps: { pv: boolean; hvm: boolean; directio: boolean; gnttabV1: boolean; gnttabV2: boolean };
}

/** Xen's shutdown codes (SHUTDOWN_* in xen/sched.h). */
export type ShutdownCode = 'poweroff' | 'reboot' | 'suspend' | 'crash' | 'watchdog' | 'soft_reset';

export interface DomainOps {
  readonly kind: 'real' | 'sim';
  readonly xs: Xs;
  /** libxl's XEN_LIB_DIR, where the domains' userdata files live (/var/lib/xen on a real host). */
  readonly xenLibDir: string;
  facts(): Promise<HostFacts>;
  domains(): Promise<DomainRecord[]>;
  /** Whether a file the config names can be read by the builder. */
  readable(file: string): Promise<boolean>;
  createDomain(a: CreateDomainArgs): Promise<number>;
  /** max_vcpus, setmaxmem, the store and console event channels, memmap limit, TSC, CPUID. */
  buildPre(domid: number, a: BuildPreArgs): Promise<{ storePort: number; consolePort: number }>;
  buildPv(domid: number, a: BuildPvArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }>;
  /** The host's memory map (xc_get_machine_memory_map with libxl's E820MAX). */
  machineMemoryMap(): Promise<E820Entry[]>;
  /** xc_domain_set_memory_map: the map the guest reads (PV: replaces the memmap limit's). */
  setMemoryMap(domid: number, map: readonly E820Entry[]): Promise<void>;
  /** HVM: the store and console frames are guest frame numbers (an HVM guest's own). */
  buildHvm(domid: number, a: BuildHvmArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }>;
  /** Starts the device model in its own session; returns its pid. */
  spawnDeviceModel(domid: number, a: SpawnDm): Promise<number>;
  /** Ends a device model (SIGTERM, then SIGKILL) and removes its QMP sockets. */
  killDeviceModel(domid: number, pid: number | undefined): Promise<void>;
  /** HVM: whether the guest's PV drivers are up (HVM_PARAM_CALLBACK_IRQ set), so control/shutdown is heard. */
  pvControlAvailable(domid: number): Promise<boolean>;
  /** The device model's QMP socket (libxl's qmp-libxl-<domid>). */
  qmp(domid: number): Promise<QmpClient>;
  introduce(domid: number, storeMfn: bigint, storePort: number): Promise<void>;
  /**
   * The simulated host has no xenconsoled: it publishes console/tty itself. The real host
   * does nothing (xenconsoled does it on @introduceDomain).
   */
  consoleNodesWritten(domid: number): Promise<void>;
  pause(domid: number): Promise<void>;
  unpause(domid: number): Promise<void>;
  /** SCHEDOP_remote_shutdown: a hard shutdown, without the guest's cooperation. */
  remoteShutdown(domid: number, code: ShutdownCode): Promise<void>;
  /** xc_domain_destroy (the hypervisor part only; xenstore cleanup is the caller's). */
  destroyDomain(domid: number): Promise<void>;
  close(): Promise<void>;
}
