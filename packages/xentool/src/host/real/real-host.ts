/**
 * The real host's hypervisor part: libxenctrl (through @xentool/libxc-bindings) for domains
 * and host facts, xenstore for domain names. Constructed from already-open handles so that
 * tests can pass fakes and the factory (openHost) decides how each one is opened.
 */
import * as os from 'node:os';
import type { DomainInfo, XcInterface } from '@xentool/libxc-bindings';
import type { DomainRecord, Host, HostInfo } from '../host';

/** What the real host needs of a xenstore client; the xenstore package's client satisfies it. */
export interface XenstoreReader {
  /** The value, or undefined when the node does not exist. */
  read(path: string): Promise<string | undefined>;
  close(): Promise<void>;
}

/** The libxenctrl calls RealHost makes (XcInterface provides them; tests pass a fake). */
export type HypervisorHandle = Pick<
  XcInterface,
  'physinfo' | 'version' | 'schedulerName' | 'sharingFreedPages' | 'sharingUsedFrames' | 'freeCpus' | 'listDomains' | 'close'
>;

export interface Uname {
  hostname: string;
  release: string;
  version: string;
  machine: string;
}

export interface RealHostOptions {
  xc: HypervisorHandle;
  xenstore: XenstoreReader;
  /** dom0's uname; defaults to the running kernel's. */
  uname?: () => Uname;
}

const hostUname = (): Uname => ({ hostname: os.hostname(), release: os.release(), version: os.version(), machine: os.machine() });

export class RealHost implements Host {
  readonly kind = 'real' as const;
  private readonly xc: HypervisorHandle;
  private readonly xenstore: XenstoreReader;
  private readonly uname: () => Uname;
  private closed = false;

  constructor(opts: RealHostOptions) {
    this.xc = opts.xc;
    this.xenstore = opts.xenstore;
    this.uname = opts.uname ?? hostUname;
  }

  async info(): Promise<HostInfo> {
    const u = this.uname();
    const p = this.xc.physinfo();
    const v = this.xc.version();
    return {
      hostname: u.hostname,
      release: u.release,
      kernelVersion: u.version,
      machine: u.machine,
      nrCpus: p.nrCpus,
      maxCpuId: p.maxCpuId,
      nrNodes: p.nrNodes,
      coresPerSocket: p.coresPerSocket,
      threadsPerCore: p.threadsPerCore,
      cpuKhz: p.cpuKhz,
      hwCaps: p.hwCap,
      caps: { ...p.capabilities },
      totalPages: p.totalPages,
      freePages: p.freePages,
      outstandingPages: p.outstandingPages,
      // libxl_get_physinfo: a hypervisor built without memory sharing answers ENOSYS, which
      // counts as 0; any other failure is an error.
      sharingFreedPages: zeroIfNosys(() => this.xc.sharingFreedPages()),
      sharingUsedFrames: zeroIfNosys(() => this.xc.sharingUsedFrames()),
      // xl prints free_cpus only when libxl_get_freecpus succeeds.
      freeCpus: undefinedOnError(() => this.xc.freeCpus().length),
      xenMajor: v.major,
      // libxl_get_version_info keeps `xen_version & 0xFF` as the minor.
      xenMinor: v.minor & 0xff,
      xenExtra: v.extra,
      xenCaps: v.capabilities,
      xenScheduler: this.xc.schedulerName(),
      xenPagesize: v.pagesize,
      virtStart: v.virtStart,
      xenChangeset: v.changeset,
      xenCommandline: v.commandline,
      ccCompiler: v.compiler,
      ccCompileBy: v.compileBy,
      ccCompileDomain: v.compileDomain,
      ccCompileDate: v.compileDate,
      buildId: v.buildId,
    };
  }

  async domains(): Promise<DomainRecord[]> {
    const infos = this.xc.listDomains();
    const names = await Promise.all(infos.map((d) => this.xenstore.read(`/local/domain/${d.domid}/name`)));
    return infos.map((d, i) => domainRecord(d, names[i]));
  }

  /** Idempotent; closes xenstore even if libxenctrl's close throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.xc.close();
    } finally {
      await this.xenstore.close();
    }
  }
}

export function domainRecord(d: DomainInfo, name: string | undefined): DomainRecord {
  return {
    domid: d.domid,
    name,
    uuid: d.uuid,
    memKiB: d.totPages * 4,
    outstandingMemKiB: d.outstandingPages * 4,
    maxMemKiB: d.maxPages * 4,
    vcpus: d.onlineVcpus,
    maxVcpus: d.maxVcpus,
    cpuTimeNs: d.cpuTimeNs,
    hvm: d.hvm,
    dying: d.dying,
    shutdown: d.shutdown,
    shutdownReason: d.shutdown ? (d.shutdownReason ?? d.shutdownCode) : undefined,
    paused: d.paused,
    blocked: d.blocked,
    running: d.running,
  };
}

function zeroIfNosys(fn: () => number): number {
  try {
    return fn();
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOSYS') return 0;
    throw e;
  }
}

function undefinedOnError<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
