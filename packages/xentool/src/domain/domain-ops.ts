/**
 * The hypervisor side of the domain lifecycle, as the real host (libxenctrl + libxenguest +
 * the xenstore client's INTRODUCE) and the simulated host (its in-memory hypervisor and
 * in-process xenstored) each provide it. Xenstore node writes are not here: they go through
 * the host's `Xs`, the same code on both hosts.
 */
import type { DomainRecord } from '../host/host';
import type { Xs } from '../xs/xs';

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

export interface HostFacts {
  freeKiB: number;
  caps: { pv: boolean; hvm: boolean; directio: boolean; gnttabV1: boolean; gnttabV2: boolean };
}

/** Xen's shutdown codes (SHUTDOWN_* in xen/sched.h). */
export type ShutdownCode = 'poweroff' | 'reboot' | 'suspend' | 'crash' | 'watchdog' | 'soft_reset';

export interface DomainOps {
  readonly kind: 'real' | 'sim';
  readonly xs: Xs;
  facts(): Promise<HostFacts>;
  domains(): Promise<DomainRecord[]>;
  /** Whether a file the config names can be read by the builder. */
  readable(file: string): Promise<boolean>;
  createDomain(a: CreateDomainArgs): Promise<number>;
  /** max_vcpus, setmaxmem, the store and console event channels, memmap limit, TSC, CPUID. */
  buildPre(domid: number, a: { maxVcpus: number; maxMemKiB: number; memmapLimitKiB: number }): Promise<{ storePort: number; consolePort: number }>;
  buildPv(domid: number, a: BuildPvArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }>;
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
