/**
 * A libxenctrl interface handle with typed, validated methods. Callers only ever see plain
 * TypeScript data; the koffi handle, buffers and structs stay inside.
 *
 * Every C call goes through one funnel (`call`): clear errno, call, read `koffi.errno()` at once
 * (before anything else can clobber it), and turn a failure into an errno-shaped XcError that
 * carries what libxc logged meanwhile.
 */
import {
  DOMID_FIRST_RESERVED,
  PT_IRQ_TYPE,
  type PtIrqType,
  SCHEDULERS,
  SHUTDOWN_REASONS,
  type ShutdownReason,
  XC_OPENFLAG_DUMMY,
  XENVER,
  XEN_DOMCTL_CDF,
  XEN_DOMCTL_DEV_RDM_RELAXED,
  XEN_DOMCTL_IOMMU_NO_SHAREPT,
  XEN_X86_EMU,
  XEN_X86_EMU_ALL,
} from './constants';
import { cString, decodeDomainInfo, decodePhysinfo, type DomainInfo, type PhysInfo, uuidToBytes } from './decode';
import { errnoName } from './errno';
import { HostUnavailableError, XcArgumentError, XcClosedError, XcDummyHandleError, XcError } from './errors';
import { CapturingLogger, type XcLogMessage } from './logger';
import { koffi, type Libxc, loadLibxc, structTypes } from './native';
import { encodeSbdf, type PciAddress } from './sbdf';
import { domid as checkDomid, frameRange, type FrameRange, int32, u64, uint } from './validate';

/** One `struct e820entry` (xenctrl.h): a memory map entry as Xen takes and reports them. */
export interface E820Entry {
  addr: bigint;
  size: bigint;
  /** E820_RAM 1, RESERVED 2, ACPI 3, NVS 4, UNUSABLE 5. */
  type: number;
}

/** xenctrl.h E820MAX: the table size libxl uses for the host's map and the guest's. */
export const E820MAX = 128;
/** sizeof(struct e820entry): packed u64 addr, u64 size, u32 type (layout.test.ts checks it). */
const E820_ENTRY_SIZE = 20;

export interface OpenXcOptions {
  /** Load libxenctrl from this file instead of the soname (it must carry soname libxenctrl.so.4.17). */
  libraryPath?: string;
  /** XC_OPENFLAG_DUMMY: a handle that opens no device; any hypercall method refuses to run. */
  dummy?: boolean;
  /** Receives every libxc log message (level >= detail) as it is emitted. */
  onLog?: (m: XcLogMessage) => void;
}

const PRIVCMD = '/dev/xen/privcmd';

/**
 * The error for a failed xc_interface_open. libxc (xencall_open, tools/libs/call/linux.c) opens
 * /dev/xen/privcmd, falls back to /proc/xen/privcmd on ENOENT/ENXIO/ENODEV, and returns the
 * errno of the last open(): ENOENT on a machine without Xen (checked here: Debian 12, no
 * /dev/xen), EACCES when not root on a Xen host.
 */
export function hostUnavailableFromErrno(errno: number, log: readonly string[] = []): HostUnavailableError {
  const name = errnoName(errno);
  let msg: string;
  if (name === 'ENOENT' || name === 'ENXIO' || name === 'ENODEV') {
    msg = `no Xen hypervisor interface: ${PRIVCMD} is missing (not running in a Xen dom0, or the xen-privcmd driver is not loaded)`;
  } else if (name === 'EACCES' || name === 'EPERM') {
    msg = `permission denied opening ${PRIVCMD}: the Xen toolstack must run as root in dom0`;
  } else {
    msg = `cannot open the Xen hypervisor interface ${PRIVCMD}: ${name}`;
  }
  return new HostUnavailableError(msg, errno, log);
}

/** Opens libxenctrl (loading it on first use). Throws HostUnavailableError without a hypervisor. */
export function openXc(opts: OpenXcOptions = {}): XcInterface {
  const api = loadLibxc(opts.libraryPath);
  const logger = new CapturingLogger(api, opts.onLog);
  const k = koffi();
  k.errno(0);
  const handle = api.xc_interface_open(logger.pointer, logger.pointer, opts.dummy ? XC_OPENFLAG_DUMMY : 0) as bigint | null;
  const errno = k.errno();
  if (handle === null) {
    const log = logger.drain().map((m) => m.line);
    logger.destroy();
    throw hostUnavailableFromErrno(errno, log);
  }
  return new XcInterface(api, handle, logger, Boolean(opts.dummy));
}

export interface XenVersion {
  major: number;
  /** Full 16-bit minor from XENVER_version (libxl keeps only the low 8 bits). */
  minor: number;
  extra: string;
  capabilities: string;
  changeset: string;
  compiler: string;
  compileBy: string;
  compileDomain: string;
  compileDate: string;
  virtStart: bigint;
  pagesize: number;
  commandline: string;
  /** Hex; empty when the hypervisor has none or refuses to tell (as libxl). */
  buildId: string;
}

export interface CreateDomainConfig {
  type: 'pv' | 'hvm' | 'pvh';
  /** Requested id; 0 or absent lets Xen allocate the next free one. */
  domid?: number;
  uuid?: string;
  ssidref?: number;
  /** HVM/PVH: hardware-assisted paging (default true). */
  hap?: boolean;
  /**
   * The domain may get PCI devices, now or later: sets XEN_DOMCTL_CDF_iommu. A domain created
   * without it can never get one (every IOMMU domctl then fails EOPNOTSUPP). `sync_pt` also
   * sets XEN_DOMCTL_IOMMU_no_sharept, which libxl always does for PV.
   */
  passthrough?: false | 'share_pt' | 'sync_pt';
  oosOff?: boolean;
  nestedVirt?: boolean;
  vpmu?: boolean;
  maxVcpus: number;
  maxEvtchnPort?: number;
  /** < 0 = hypervisor default. */
  maxGrantFrames?: number;
  maxMaptrackFrames?: number;
  /** Highest grant table version the guest may use (low 4 bits of grant_opts). */
  maxGrantVersion?: number;
  vmtraceSize?: number;
  cpupoolId?: number;
  /** XEN_X86_EMU_*; default as libxl 4.17: HVM all but VPCI, PVH LAPIC only, PV none. */
  emulationFlags?: number;
  miscFlags?: number;
}

export interface BindPtIrq {
  /** The guest pirq returned by mapPirq. */
  machineIrq: number;
  type: PtIrqType;
  bus?: number;
  device?: number;
  /** 0..3 = INTA..INTD. */
  intx?: number;
  isaIrq?: number;
}

type Sbdf = PciAddress | number;

function sbdfOf(dev: Sbdf): number {
  if (typeof dev === 'number') return uint('sbdf', dev, 0xffffffff);
  return encodeSbdf(dev);
}

/** The xen_domctl_createdomain value for a config, as libxl 4.17 fills it (libxl_create.c, libxl_x86.c). */
export function createDomainStruct(cfg: CreateDomainConfig): { requestedDomid: number; value: Record<string, unknown> } {
  if (cfg.type !== 'pv' && cfg.type !== 'hvm' && cfg.type !== 'pvh') {
    throw new XcArgumentError('type', `type must be pv, hvm or pvh, got ${String(cfg.type)}`);
  }
  const requested = cfg.domid === undefined ? 0 : checkDomid(cfg.domid);
  const pt = cfg.passthrough ?? false;
  if (pt !== false && pt !== 'share_pt' && pt !== 'sync_pt') {
    throw new XcArgumentError('passthrough', `passthrough must be false, share_pt or sync_pt, got ${String(pt)}`);
  }
  const hvmLike = cfg.type !== 'pv';
  let flags = 0;
  if (hvmLike) flags |= XEN_DOMCTL_CDF.hvm;
  if (hvmLike && (cfg.hap ?? true)) flags |= XEN_DOMCTL_CDF.hap;
  if (pt !== false) flags |= XEN_DOMCTL_CDF.iommu;
  if (cfg.oosOff) flags |= XEN_DOMCTL_CDF.oos_off;
  if (cfg.nestedVirt) flags |= XEN_DOMCTL_CDF.nested_virt;
  if (cfg.vpmu) flags |= XEN_DOMCTL_CDF.vpmu;
  const defaultEmu = cfg.type === 'hvm' ? XEN_X86_EMU_ALL & ~XEN_X86_EMU.VPCI : cfg.type === 'pvh' ? XEN_X86_EMU.LAPIC : 0;
  const value = {
    ssidref: uint('ssidref', cfg.ssidref ?? 0, 0xffffffff),
    handle: cfg.uuid === undefined ? new Array(16).fill(0) : uuidBytes(cfg.uuid),
    flags,
    iommu_opts: pt === 'sync_pt' ? XEN_DOMCTL_IOMMU_NO_SHAREPT : 0,
    max_vcpus: uint('maxVcpus', cfg.maxVcpus, 0xffffffff),
    max_evtchn_port: uint('maxEvtchnPort', cfg.maxEvtchnPort ?? 1023, 0xffffffff),
    max_grant_frames: int32('maxGrantFrames', cfg.maxGrantFrames ?? -1),
    max_maptrack_frames: int32('maxMaptrackFrames', cfg.maxMaptrackFrames ?? -1),
    grant_opts: uint('maxGrantVersion', cfg.maxGrantVersion ?? 1, 0xf),
    vmtrace_size: uint('vmtraceSize', cfg.vmtraceSize ?? 0, 0xffffffff),
    cpupool_id: uint('cpupoolId', cfg.cpupoolId ?? 0, 0xffffffff),
    arch: {
      emulation_flags: uint('emulationFlags', cfg.emulationFlags ?? defaultEmu, XEN_X86_EMU_ALL),
      misc_flags: uint('miscFlags', cfg.miscFlags ?? 0, 0xffffffff),
    },
  };
  if (value.max_vcpus === 0) throw new XcArgumentError('maxVcpus', 'maxVcpus must be at least 1');
  return { requestedDomid: requested, value };
}

function uuidBytes(uuid: string): number[] {
  try {
    return uuidToBytes(uuid);
  } catch (e) {
    throw new XcArgumentError('uuid', (e as Error).message);
  }
}

/** Domains per getinfolist call: libxl's batch size. */
const BATCH = 1024;

export class XcInterface {
  private handle: bigint | null;

  /** @internal use openXc() */
  constructor(
    private readonly api: Libxc,
    handle: bigint,
    private readonly logger: CapturingLogger,
    readonly dummy: boolean,
  ) {
    this.handle = handle;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  private live(syscall: string): bigint {
    if (this.handle === null) throw new XcClosedError(syscall);
    if (this.dummy) throw new XcDummyHandleError(syscall);
    return this.handle;
  }

  /**
   * @internal The raw pieces, for the domain builder (dom-image.ts), which lives in its own file
   * because it binds a second library. `allowDummy`: libxenguest's parsing steps make no
   * hypercall, so they may run on a dummy handle (tests without a hypervisor).
   */
  internals(syscall: string, allowDummy = false): { api: Libxc; handle: bigint; drainLog: () => string[]; fail: (syscall: string, errno: number) => XcError } {
    if (this.handle === null) throw new XcClosedError(syscall);
    if (this.dummy && !allowDummy) throw new XcDummyHandleError(syscall);
    return {
      api: this.api,
      handle: this.handle,
      drainLog: () => this.logger.drain().map((m) => m.line),
      fail: (sc, errno) => this.fail(sc, errno),
    };
  }

  private fail(syscall: string, errno: number): XcError {
    const log = this.logger.drain().map((m) => m.line);
    let detail = errnoName(errno);
    if (this.handle !== null) {
      const text = this.api.xc_strerror(this.handle, errno) as string | null;
      if (text) detail = text;
    }
    return new XcError(syscall, errno, detail, log);
  }

  /** The funnel: a negative return (or null, for pointer results) is a failure with errno. */
  private call<T>(syscall: string, fn: (h: bigint) => T, failed: (r: T) => boolean = (r) => (r as number) < 0): T {
    const h = this.live(syscall);
    this.logger.drain();
    const k = koffi();
    k.errno(0);
    const r = fn(h);
    const errno = k.errno();
    if (failed(r)) throw this.fail(syscall, errno);
    return r;
  }

  // -- host --------------------------------------------------------------------------------

  physinfo(): PhysInfo {
    const t = structTypes();
    const buf = Buffer.alloc(koffi().sizeof(t.xc_physinfo_t));
    this.call('xc_physinfo', (h) => this.api.xc_physinfo(h, buf) as number);
    return decodePhysinfo(koffi().decode(buf, t.xc_physinfo_t));
  }

  version(): XenVersion {
    const k = koffi();
    const t = structTypes();
    const v = this.call('xc_version', (h) => this.api.xc_version(h, XENVER.version, null) as number);
    const str = (cmd: number, size: number) => {
      const buf = Buffer.alloc(size);
      this.call('xc_version', (h) => this.api.xc_version(h, cmd, buf) as number);
      return cString(buf);
    };
    const cc = Buffer.alloc(k.sizeof(t.xen_compile_info_t));
    this.call('xc_version', (h) => this.api.xc_version(h, XENVER.compile_info, cc) as number);
    const compile = k.decode(cc, t.xen_compile_info_t) as Record<string, number[]>;
    const pp = Buffer.alloc(k.sizeof(t.xen_platform_parameters_t));
    this.call('xc_version', (h) => this.api.xc_version(h, XENVER.platform_parameters, pp) as number);
    const platform = k.decode(pp, t.xen_platform_parameters_t) as { virt_start: number | bigint };
    const pagesize = this.call('xc_version', (h) => this.api.xc_version(h, XENVER.pagesize, null) as number);
    // struct xen_build_id { uint32_t len; unsigned char buf[]; }: libxl offers 1020 bytes and
    // treats every failure (xc_version returns -1, which equals -EPERM) as "no build id".
    const bid = Buffer.alloc(4 + 1020);
    bid.writeUInt32LE(1020, 0);
    const h = this.live('xc_version');
    const n = this.api.xc_version(h, XENVER.build_id, bid) as number;
    this.logger.drain();
    return {
      major: v >>> 16,
      minor: v & 0xffff,
      extra: str(XENVER.extraversion, 16),
      capabilities: str(XENVER.capabilities, 1024),
      changeset: str(XENVER.changeset, 64),
      compiler: cString(compile.compiler!),
      compileBy: cString(compile.compile_by!),
      compileDomain: cString(compile.compile_domain!),
      compileDate: cString(compile.compile_date!),
      virtStart: BigInt(platform.virt_start),
      pagesize,
      commandline: str(XENVER.commandline, 1024),
      buildId: n > 0 ? bid.subarray(4, 4 + n).toString('hex') : '',
    };
  }

  /** XEN_SCHEDULER_* id of the default cpupool's scheduler. */
  schedulerId(): number {
    const out = [0];
    this.call('xc_sched_id', (h) => this.api.xc_sched_id(h, out) as number);
    return out[0]!;
  }

  /** libxl's name for the scheduler (`credit2`), or undefined for an id libxl does not know. */
  schedulerName(): string | undefined {
    return SCHEDULERS[this.schedulerId()];
  }

  /** Pages freed by memory sharing; throws XcError (ENOSYS without sharing support). */
  sharingFreedPages(): number {
    return this.call('xc_sharing_freed_pages', (h) => this.api.xc_sharing_freed_pages(h) as number);
  }

  sharingUsedFrames(): number {
    return this.call('xc_sharing_used_frames', (h) => this.api.xc_sharing_used_frames(h) as number);
  }

  /** Physical CPUs in no cpupool, ascending. */
  freeCpus(): number[] {
    const size = this.call('xc_get_cpumap_size', (h) => this.api.xc_get_cpumap_size(h) as number);
    const map = this.call(
      'xc_cpupool_freeinfo',
      (h) => this.api.xc_cpupool_freeinfo(h) as bigint | null,
      (p) => p === null,
    ) as bigint;
    try {
      const bytes = koffi().decode(map, 'uint8_t', size) as ArrayLike<number>;
      const cpus: number[] = [];
      for (let i = 0; i < size * 8; i++) if ((bytes[i >> 3]! >> (i & 7)) & 1) cpus.push(i);
      return cpus;
    } finally {
      this.api.free(map);
    }
  }

  // -- domains -----------------------------------------------------------------------------

  /** Up to `max` domains with id >= `first`, ascending. */
  domainInfoList(first: number, max: number = BATCH): DomainInfo[] {
    const f = uint('first', first, DOMID_FIRST_RESERVED - 1);
    const m = uint('max', max, BATCH);
    if (m === 0) throw new XcArgumentError('max', 'max must be at least 1');
    const t = structTypes();
    const k = koffi();
    const size = k.sizeof(t.xc_domaininfo_t);
    const buf = Buffer.alloc(m * size);
    const n = this.call('xc_domain_getinfolist', (h) => this.api.xc_domain_getinfolist(h, f, m, buf) as number);
    return Array.from({ length: n }, (_, i) => decodeDomainInfo(k.decode(buf, i * size, t.xc_domaininfo_t)));
  }

  /**
   * One domain, or undefined if it does not exist. Xen 4.17 answers with the first domain whose
   * id is >= the one asked for, so the id of the answer is checked.
   */
  domainInfo(domid: number): DomainInfo | undefined {
    const d = checkDomid(domid);
    const [info] = this.domainInfoList(d, 1);
    return info !== undefined && info.domid === d ? info : undefined;
  }

  /** Every domain, ascending, batched as libxl_list_domain does. */
  listDomains(): DomainInfo[] {
    const all: DomainInfo[] = [];
    let next = 0;
    for (;;) {
      const batch = this.domainInfoList(next, BATCH);
      all.push(...batch);
      const last = batch[batch.length - 1];
      if (batch.length < BATCH || last === undefined || last.domid + 1 >= DOMID_FIRST_RESERVED) return all;
      next = last.domid + 1;
    }
  }

  /** xc_domain_create; returns the new domain's id. The domain starts paused, without vcpus. */
  createDomain(cfg: CreateDomainConfig): number {
    const { requestedDomid, value } = createDomainStruct(cfg);
    const k = koffi();
    const t = structTypes();
    const conf = Buffer.alloc(k.sizeof(t.xen_domctl_createdomain));
    k.encode(conf, 0, t.xen_domctl_createdomain, value);
    const pdomid = Buffer.alloc(4);
    pdomid.writeUInt32LE(requestedDomid, 0);
    this.call('xc_domain_create', (h) => this.api.xc_domain_create(h, pdomid, conf) as number);
    return pdomid.readUInt32LE(0);
  }

  /** Must repeat createDomain's maxVcpus (Xen 4.17 refuses anything else with EINVAL). */
  setMaxVcpus(domid: number, max: number): void {
    const d = checkDomid(domid);
    const m = uint('max', max, 0xffffffff);
    this.call('xc_domain_max_vcpus', (h) => this.api.xc_domain_max_vcpus(h, d, m) as number);
  }

  /** Memory limit in KiB (Xen keeps it as pages: kib >> 2). */
  setMaxMem(domid: number, maxMemKiB: number | bigint): void {
    const d = checkDomid(domid);
    const kib = u64('maxMemKiB', maxMemKiB);
    this.call('xc_domain_setmaxmem', (h) => this.api.xc_domain_setmaxmem(h, d, kib) as number);
  }

  /**
   * The host's memory map (XENMEM_machine_memory_map; dom0 only): Xen's E820 plus a reserved
   * entry for every hole dom0 may not map (IOAPIC pages, ...). Xen refuses (EINVAL) a table
   * without room for one entry more than it has; libxl asks with E820MAX.
   */
  machineMemoryMap(maxEntries = E820MAX): E820Entry[] {
    const max = uint('maxEntries', maxEntries, 0xffff);
    const buf = Buffer.alloc(E820_ENTRY_SIZE * Math.max(1, max));
    const n = this.call('xc_get_machine_memory_map', (h) => this.api.xc_get_machine_memory_map(h, buf, max) as number);
    return Array.from({ length: Math.min(n, max) }, (_, i) => {
      const o = i * E820_ENTRY_SIZE;
      return { addr: buf.readBigUInt64LE(o), size: buf.readBigUInt64LE(o + 8), type: buf.readUInt32LE(o + 16) };
    });
  }

  /**
   * A domain's memory map (XENMEM_set_memory_map), what the guest reads with XENMEM_memory_map.
   * For a PV guest it replaces the one-entry map xc_domain_set_memmap_limit wrote.
   */
  setMemoryMap(domid: number, entries: readonly E820Entry[]): void {
    const d = checkDomid(domid);
    const buf = Buffer.alloc(E820_ENTRY_SIZE * Math.max(1, entries.length));
    entries.forEach((e, i) => {
      const o = i * E820_ENTRY_SIZE;
      buf.writeBigUInt64LE(u64('addr', e.addr), o);
      buf.writeBigUInt64LE(u64('size', e.size), o + 8);
      buf.writeUInt32LE(uint('type', e.type, 0xffffffff), o + 16);
    });
    this.call('xc_domain_set_memory_map', (h) => this.api.xc_domain_set_memory_map(h, d, buf, entries.length) as number);
  }

  /** Pauses are counted: each pause needs its own unpause. */
  pause(domid: number): void {
    const d = checkDomid(domid);
    this.call('xc_domain_pause', (h) => this.api.xc_domain_pause(h, d) as number);
  }

  unpause(domid: number): void {
    const d = checkDomid(domid);
    this.call('xc_domain_unpause', (h) => this.api.xc_domain_unpause(h, d) as number);
  }

  /**
   * Runs on a koffi worker thread: domain_kill is preemptible and libxc restarts it until the
   * domain's memory is released, which takes seconds for big guests (libxl forks for it).
   */
  destroy(domid: number): Promise<void> {
    const d = checkDomid(domid);
    const h = this.live('xc_domain_destroy');
    this.logger.drain();
    return new Promise((resolve, reject) => {
      koffi().errno(0);
      this.api.xc_domain_destroy.async(h, d, (err: unknown, r: number) => {
        const errno = koffi().errno();
        if (err) reject(err);
        else if (r < 0) reject(this.fail('xc_domain_destroy', errno));
        else resolve();
      });
    });
  }

  /** SCHEDOP_remote_shutdown (not a domctl): for HVM or forced shutdowns. */
  shutdown(domid: number, reason: ShutdownReason | number): void {
    const d = checkDomid(domid);
    const code = typeof reason === 'number' ? uint('reason', reason, SHUTDOWN_REASONS.length - 1) : SHUTDOWN_REASONS.indexOf(reason);
    if (code < 0) throw new XcArgumentError('reason', `unknown shutdown reason ${String(reason)}`);
    this.call('xc_domain_shutdown', (h) => this.api.xc_domain_shutdown(h, d, code) as number);
  }

  // -- PCI passthrough ---------------------------------------------------------------------

  /**
   * Assigns a device to a domain (or to DOMID_IO to quarantine it). `rdmRelaxed` (libxl's
   * default unless rdm_policy=strict) passes XEN_DOMCTL_DEV_RDM_RELAXED.
   */
  assignDevice(domid: number, dev: Sbdf, opts: { rdmRelaxed?: boolean } = {}): void {
    const d = checkDomid(domid, { allowIo: true });
    const s = sbdfOf(dev);
    const flag = opts.rdmRelaxed === false ? 0 : XEN_DOMCTL_DEV_RDM_RELAXED;
    this.call('xc_assign_device', (h) => this.api.xc_assign_device(h, d, s, flag) as number);
  }

  /** Resolves when the device could be assigned; XcError EINVAL/EOPNOTSUPP/... otherwise. */
  testAssignDevice(domid: number, dev: Sbdf): void {
    const d = checkDomid(domid, { allowInvalid: true });
    const s = sbdfOf(dev);
    this.call('xc_test_assign_device', (h) => this.api.xc_test_assign_device(h, d, s) as number);
  }

  deassignDevice(domid: number, dev: Sbdf): void {
    const d = checkDomid(domid, { allowIo: true });
    const s = sbdfOf(dev);
    this.call('xc_deassign_device', (h) => this.api.xc_deassign_device(h, d, s) as number);
  }

  /** `pirq` is in dom0's pirq space (= the GSI on a PV dom0). */
  irqPermission(domid: number, pirq: number, allow: boolean): void {
    const d = checkDomid(domid);
    const p = uint('pirq', pirq, 0xffffffff);
    this.call('xc_domain_irq_permission', (h) => this.api.xc_domain_irq_permission(h, d, p, Boolean(allow)) as number);
  }

  /** In 4 KiB frames; see framesForRange() to convert a sysfs resource line exactly. */
  iomemPermission(domid: number, range: FrameRange, allow: boolean): void {
    const d = checkDomid(domid);
    const r = frameRange(range.firstMfn, range.nrMfns);
    this.call(
      'xc_domain_iomem_permission',
      (h) => this.api.xc_domain_iomem_permission(h, d, r.firstMfn, r.nrMfns, allow ? 1 : 0) as number,
    );
  }

  ioportPermission(domid: number, firstPort: number, nrPorts: number, allow: boolean): void {
    const d = checkDomid(domid);
    const first = uint('firstPort', firstPort, 0xffff);
    const nr = uint('nrPorts', nrPorts, 0x10000);
    if (nr === 0 || first + nr > 0x10000) {
      throw new XcArgumentError('nrPorts', `I/O port range 0x${first.toString(16)}+${nr} is empty or passes 0xffff`);
    }
    this.call('xc_domain_ioport_permission', (h) => this.api.xc_domain_ioport_permission(h, d, first, nr, allow ? 1 : 0) as number);
  }

  /**
   * PHYSDEVOP_map_pirq with MAP_PIRQ_TYPE_GSI. Without `pirq`, libxc asks for pirq = index
   * (what libxl does). Returns the pirq Xen chose.
   */
  mapPirq(domid: number, gsi: number, pirq?: number): number {
    const d = checkDomid(domid);
    const index = int32('gsi', gsi);
    const p = Buffer.alloc(4);
    p.writeInt32LE(pirq === undefined ? -1 : int32('pirq', pirq), 0);
    this.call('xc_physdev_map_pirq', (h) => this.api.xc_physdev_map_pirq(h, d, index, p) as number);
    return p.readInt32LE(0);
  }

  unmapPirq(domid: number, pirq: number): void {
    const d = checkDomid(domid);
    const p = int32('pirq', pirq);
    this.call('xc_physdev_unmap_pirq', (h) => this.api.xc_physdev_unmap_pirq(h, d, p) as number);
  }

  /** HVM only. PCI/MSI_TRANSLATE use bus/device/intx, ISA uses isaIrq. */
  bindPtIrq(domid: number, b: BindPtIrq): void {
    const [d, args] = this.ptIrqArgs(domid, b);
    this.call('xc_domain_bind_pt_irq', (h) => this.api.xc_domain_bind_pt_irq(h, d, ...args) as number);
  }

  unbindPtIrq(domid: number, b: BindPtIrq): void {
    const [d, args] = this.ptIrqArgs(domid, b);
    this.call('xc_domain_unbind_pt_irq', (h) => this.api.xc_domain_unbind_pt_irq(h, d, ...args) as number);
  }

  private ptIrqArgs(domid: number, b: BindPtIrq): [number, number[]] {
    const d = checkDomid(domid);
    const type = PT_IRQ_TYPE[b.type];
    // libxc fills bus/device/intx for PCI and MSI_TRANSLATE, isa_irq for ISA, fails MSI with
    // EINVAL before the hypercall, and SPI is ARM-only; refusing the rest here says why.
    if (type !== PT_IRQ_TYPE.pci && type !== PT_IRQ_TYPE.msi_translate && type !== PT_IRQ_TYPE.isa) {
      throw new XcArgumentError('type', `irq type must be pci, msi_translate or isa, got ${String(b.type)}`);
    }
    const isa = type === PT_IRQ_TYPE.isa;
    return [
      d,
      [
        uint('machineIrq', b.machineIrq, 0xff),
        type,
        isa ? 0 : uint('bus', b.bus, 0xff),
        isa ? 0 : uint('device', b.device, 0x1f),
        isa ? 0 : uint('intx', b.intx, 3),
        isa ? uint('isaIrq', b.isaIrq, 15) : 0,
      ],
    ];
  }

  /** Idempotent. */
  close(): void {
    if (this.handle === null) return;
    const h = this.handle;
    this.handle = null;
    this.api.xc_interface_close(h);
    // libxc never calls destroy on a logger it did not create, so ours is freed only now
    // that the handle which referenced it is gone.
    this.logger.destroy();
  }
}
