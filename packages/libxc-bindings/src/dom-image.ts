/**
 * The PV domain builder: libxenguest's `xc_dom_*` chain in libxl 4.17's order
 * (libxl_dom.c `libxl__build_pv` / `libxl__build_dom`), and the libxenctrl calls of
 * `libxl__build_pre` that only a build needs (event channels, memmap limit, TSC mode, CPUID).
 *
 * `DomImage` exposes the steps one by one (tests drive the parsing steps on a dummy handle,
 * without a hypervisor); `buildPvImage` runs the whole chain and always releases the image.
 */
import { errnoName } from './errno';
import { XcArgumentError, XcError } from './errors';
import { koffi } from './native';
import { type Libxenguest, loadLibxenguest, xenguestTypes } from './native-xenguest';
import { domid as checkDomid, uint } from './validate';
import type { XcInterface } from './xc-interface';

/** `SIF_VIRT_P2M_4TOOLS`: what xc_dom_allocate leaves in `flags` (and libxl overwrites with 0). */
export const SIF_VIRT_P2M_4TOOLS = 0x10;
/** `XC_DOM_DECOMPRESS_MAX`: xc_dom_allocate's default kernel/module size cap. */
export const XC_DOM_DECOMPRESS_MAX = 1024 * 1024 * 1024;
const INVALID_MFN = 0xffffffffffffffffn;

/** What the image says about itself, read back from struct xc_dom_image. */
export interface DomImageInfo {
  /** e.g. `xen-3.0-x86_64` (set by parse). */
  guestType: string | undefined;
  /** Decompressed kernel size after parse. */
  kernelSize: number;
  numModules: number;
  moduleSizes: number[];
  totalPages: number;
  consolePfn: bigint;
  xenstorePfn: bigint;
  flags: number;
  consoleEvtchn: number;
  xenstoreEvtchn: number;
  consoleDomid: number;
  xenstoreDomid: number;
  maxVcpus: number;
  maxKernelSize: number;
  cmdline: string | undefined;
  containerType: 'pv' | 'hvm';
  xenCaps: string;
  /** The xc_interface pointer the library stored: equals the handle for a well-formed image. */
  xchMatchesHandle: boolean;
}

/** The fields libxl writes into the image before boot_xen_init (§1.4 of domain-build.md). */
export interface DomImageFields {
  flags?: number;
  consoleEvtchn?: number;
  xenstoreEvtchn?: number;
  consoleDomid?: number;
  xenstoreDomid?: number;
  claimEnabled?: boolean;
  maxVcpus?: number;
  containerType?: 'pv' | 'hvm';
}

function cstr(p: unknown): string | undefined {
  if (p === null || p === undefined) return undefined;
  return koffi().decode(p, 'char', -1) as string;
}

export class DomImage {
  private dom: unknown;
  private readonly xg: Libxenguest;

  private constructor(
    private readonly xc: XcInterface,
    dom: unknown,
    private readonly handle: bigint,
  ) {
    this.dom = dom;
    this.xg = loadLibxenguest(xc.internals('xc_dom_allocate', true).api.path);
  }

  /**
   * xc_dom_allocate. Allowed on a dummy handle: it only mallocs. A self-check follows, as
   * domain-build.md §2.1 advises: an image whose `flags`, `max_kernel_size` or `xch` are not
   * what 4.17's xc_dom_allocate writes means the struct layout is not the one declared here,
   * and every later field write would corrupt it.
   */
  static allocate(xc: XcInterface, opts: { cmdline?: string; features?: string } = {}): DomImage {
    const raw = xc.internals('xc_dom_allocate', true);
    const xg = loadLibxenguest(raw.api.path);
    raw.drainLog();
    const k = koffi();
    k.errno(0);
    const dom = xg.xc_dom_allocate(raw.handle, opts.cmdline ?? null, opts.features ?? null);
    const errno = k.errno();
    if (dom === null) throw withLog('xc_dom_allocate', errno, raw.drainLog());
    const img = new DomImage(xc, dom, raw.handle);
    const info = img.info();
    if (info.flags !== SIF_VIRT_P2M_4TOOLS || info.maxKernelSize !== XC_DOM_DECOMPRESS_MAX || !info.xchMatchesHandle) {
      img.release();
      throw new XcArgumentError(
        'xc_dom_image',
        `libxenguest's struct xc_dom_image does not have the 4.17 layout this binding declares (flags ${info.flags}, max_kernel_size ${info.maxKernelSize})`,
      );
    }
    return img;
  }

  private live(syscall: string): unknown {
    if (this.dom === null) throw new XcArgumentError('dom', `${syscall}: the domain image was already released`);
    return this.dom;
  }

  private step(syscall: string, fn: (dom: unknown) => number, allowDummy = false): void {
    const dom = this.live(syscall);
    const raw = this.xc.internals(syscall, allowDummy);
    raw.drainLog();
    const k = koffi();
    k.errno(0);
    const r = fn(dom);
    const errno = k.errno();
    if (r !== 0) throw withLog(syscall, errno, raw.drainLog());
  }

  /** The long steps (populate physmap, decompress and load) run on a koffi worker thread. */
  private async stepAsync(syscall: string, fn: { async: (...a: unknown[]) => void }): Promise<void> {
    const dom = this.live(syscall);
    const raw = this.xc.internals(syscall);
    raw.drainLog();
    return new Promise((resolve, reject) => {
      fn.async(dom, (err: unknown, r: number) => {
        // errno of a worker thread is not observable from here; libxenguest reports its
        // failures through the dombuild logger, which is what the error carries.
        if (err) reject(err);
        else if (r !== 0) reject(withLog(syscall, 0, raw.drainLog()));
        else resolve();
      });
    });
  }

  kernelFile(path: string): void {
    this.step('xc_dom_kernel_file', (d) => this.xg.xc_dom_kernel_file(d, path) as number, true);
  }

  moduleFile(path: string, cmdline?: string): void {
    this.step('xc_dom_module_file', (d) => this.xg.xc_dom_module_file(d, path, cmdline ?? null) as number, true);
  }

  /** Single-field writes at koffi's offsets; the struct is never written whole. */
  setFields(f: DomImageFields): void {
    const dom = this.live('xc_dom_image');
    const k = koffi();
    const t = xenguestTypes().xc_dom_image;
    const put = (field: string, type: string, v: number) => k.encode(dom, k.offsetof(t, field), type, v);
    if (f.containerType !== undefined) put('container_type', 'int', f.containerType === 'hvm' ? 1 : 0);
    if (f.flags !== undefined) put('flags', 'unsigned long', uint('flags', f.flags, 0xffffffff));
    if (f.consoleEvtchn !== undefined) put('console_evtchn', 'unsigned int', uint('consoleEvtchn', f.consoleEvtchn, 0xffffffff));
    if (f.xenstoreEvtchn !== undefined) put('xenstore_evtchn', 'unsigned int', uint('xenstoreEvtchn', f.xenstoreEvtchn, 0xffffffff));
    if (f.consoleDomid !== undefined) put('console_domid', 'uint32_t', checkDomid(f.consoleDomid));
    if (f.xenstoreDomid !== undefined) put('xenstore_domid', 'uint32_t', checkDomid(f.xenstoreDomid));
    if (f.claimEnabled !== undefined) put('claim_enabled', 'int', f.claimEnabled ? 1 : 0);
    if (f.maxVcpus !== undefined) put('max_vcpus', 'unsigned int', uint('maxVcpus', f.maxVcpus, 0xffffffff));
  }

  /**
   * Tests only: what xc_dom_boot_xen_init would have read from the hypervisor
   * (XENVER_capabilities), so parse_image can run on a dummy handle.
   */
  setXenCapsForTest(caps: string): void {
    const dom = this.live('xc_dom_image');
    const k = koffi();
    const off = k.offsetof(xenguestTypes().xc_dom_image, 'xen_caps');
    const bytes = Buffer.alloc(1024);
    bytes.write(caps.slice(0, 1023), 'latin1');
    k.encode(dom, off, koffi().array('uint8_t', 1024), Array.from(bytes));
  }

  /**
   * Tests only: a p2m table as meminit_pv would leave it (pv_p2m and total_pages), so that the
   * frame lookup can be checked without a hypervisor. The table is ours; release() detaches it
   * before libxenguest frees the image.
   */
  setP2mForTest(mfns: bigint[]): void {
    const dom = this.live('xc_dom_image');
    const k = koffi();
    const t = xenguestTypes().xc_dom_image;
    const table = k.alloc('uint64_t', Math.max(1, mfns.length));
    k.encode(table, 'uint64_t', mfns, mfns.length);
    this.testP2m = table;
    k.encode(dom, k.offsetof(t, 'pv_p2m'), 'void *', table);
    k.encode(dom, k.offsetof(t, 'total_pages'), 'uint64_t', mfns.length);
  }

  private testP2m: unknown = null;

  bootXenInit(domid: number): void {
    const d = checkDomid(domid);
    this.step('xc_dom_boot_xen_init', (dom) => this.xg.xc_dom_boot_xen_init(dom, this.handle, d) as number);
  }

  parseImage(): void {
    this.step('xc_dom_parse_image', (d) => this.xg.xc_dom_parse_image(d) as number, true);
  }

  memInit(memMiB: number): void {
    const mb = uint('memMiB', memMiB, 0xffffffff);
    this.step('xc_dom_mem_init', (d) => this.xg.xc_dom_mem_init(d, mb) as number, true);
  }

  bootMemInit(): Promise<void> {
    return this.stepAsync('xc_dom_boot_mem_init', this.xg.xc_dom_boot_mem_init as never);
  }

  buildImage(): Promise<void> {
    return this.stepAsync('xc_dom_build_image', this.xg.xc_dom_build_image as never);
  }

  bootImage(): void {
    this.step('xc_dom_boot_image', (d) => this.xg.xc_dom_boot_image(d) as number);
  }

  gnttabInit(): void {
    this.step('xc_dom_gnttab_init', (d) => this.xg.xc_dom_gnttab_init(d) as number);
  }

  /**
   * xc_dom_p2m(), which is static inline in xenguest.h and so has to be redone here: a
   * translated (HVM) guest's frame numbers are its own; a PV guest's come from `pv_p2m`, the
   * table meminit_pv filled, which only lives until release.
   */
  p2m(pfn: bigint): bigint {
    const dom = this.live('xc_dom_p2m');
    if (this.xg.xc_dom_translated(dom) as boolean) return pfn;
    const k = koffi();
    const raw = k.decode(dom, xenguestTypes().xc_dom_image) as { total_pages: number | bigint; pv_p2m: unknown };
    if (pfn >= BigInt(raw.total_pages) || raw.pv_p2m === null) return INVALID_MFN;
    return BigInt(k.decode(raw.pv_p2m, Number(pfn) * 8, 'uint64_t') as number | bigint);
  }

  info(): DomImageInfo {
    const dom = this.live('xc_dom_image');
    const k = koffi();
    const r = k.decode(dom, xenguestTypes().xc_dom_image) as Record<string, unknown>;
    const mods = r.modules as { size: number | bigint }[];
    const n = Number(r.num_modules);
    const caps = Buffer.from(r.xen_caps as number[]);
    const nul = caps.indexOf(0);
    return {
      guestType: cstr(r.guest_type),
      kernelSize: Number(r.kernel_size),
      numModules: n,
      moduleSizes: mods.slice(0, n).map((m) => Number(m.size)),
      totalPages: Number(r.total_pages),
      consolePfn: BigInt(r.console_pfn as number | bigint),
      xenstorePfn: BigInt(r.xenstore_pfn as number | bigint),
      flags: Number(r.flags),
      consoleEvtchn: Number(r.console_evtchn),
      xenstoreEvtchn: Number(r.xenstore_evtchn),
      consoleDomid: Number(r.console_domid),
      xenstoreDomid: Number(r.xenstore_domid),
      maxVcpus: Number(r.max_vcpus),
      maxKernelSize: Number(r.max_kernel_size),
      cmdline: cstr(r.cmdline),
      containerType: Number(r.container_type) === 1 ? 'hvm' : 'pv',
      xenCaps: caps.toString('latin1', 0, nul < 0 ? caps.length : nul),
      xchMatchesHandle: k.address(r.xch) === this.handle,
    };
  }

  /** Idempotent; frees the image and everything libxenguest allocated for it (pv_p2m too). */
  release(): void {
    if (this.dom === null) return;
    const dom = this.dom;
    this.dom = null;
    if (this.testP2m !== null) {
      koffi().encode(dom, koffi().offsetof(xenguestTypes().xc_dom_image, 'pv_p2m'), 'void *', null);
      koffi().free(this.testP2m);
      this.testP2m = null;
    }
    this.xg.xc_dom_release(dom);
  }
}

function withLog(syscall: string, errno: number, log: string[]): XcError {
  // libxenguest's errors are xc_dom_panic() lines in the dombuild log ("xc_dom_parse_image:
  // unknown kernel..."); errno is often left at 0, so the last log line is the useful detail.
  const last = log[log.length - 1];
  const detail = last ?? (errno ? errnoName(errno) : 'failed (libxenguest logged nothing)');
  return new XcError(syscall, errno, detail, log);
}

export interface PvBuildRequest {
  domid: number;
  kernel: string;
  ramdisk?: string;
  cmdline?: string;
  memMiB: number;
  maxVcpus: number;
  consoleEvtchn: number;
  xenstoreEvtchn: number;
  /** The domains serving the console and the store (0 unless they run in stub domains). */
  consoleDomid?: number;
  xenstoreDomid?: number;
  /** Called before each libxenguest call, with its C name. */
  onStep?: (syscall: string) => void;
}

export interface PvBuildResult {
  guestType: string;
  totalPages: number;
  consolePfn: bigint;
  xenstorePfn: bigint;
  /** What goes to xenstore's `store/ring-ref` and XS_INTRODUCE, and to `console/ring-ref`. */
  consoleMfn: bigint;
  storeMfn: bigint;
}

/**
 * The whole PV image build into an existing, paused domain whose vcpus, memory limit and event
 * channels are already set up. The image is released whatever happens; the domain itself is the
 * caller's to destroy on failure.
 */
export async function buildPvImage(xc: XcInterface, req: PvBuildRequest): Promise<PvBuildResult> {
  const note = req.onStep ?? (() => undefined);
  note('xc_dom_allocate');
  const img = DomImage.allocate(xc, { cmdline: req.cmdline });
  try {
    // libxl's order: files first, then the fields, then boot_xen_init (which only fills
    // xch/domid/version/caps), parse (needs xen_caps), mem_init, and the hypercall-heavy steps.
    note('xc_dom_kernel_file');
    img.kernelFile(req.kernel);
    if (req.ramdisk !== undefined) {
      note('xc_dom_module_file');
      img.moduleFile(req.ramdisk);
    }
    // flags = 0 overwrites SIF_VIRT_P2M_4TOOLS, as libxl does: the guest gets the classic
    // start_info without the virtual-p2m hint for tools.
    img.setFields({
      containerType: 'pv',
      flags: 0,
      consoleEvtchn: req.consoleEvtchn,
      xenstoreEvtchn: req.xenstoreEvtchn,
      consoleDomid: req.consoleDomid ?? 0,
      xenstoreDomid: req.xenstoreDomid ?? 0,
      claimEnabled: false,
      maxVcpus: req.maxVcpus,
    });
    note('xc_dom_boot_xen_init');
    img.bootXenInit(req.domid);
    note('xc_dom_parse_image');
    img.parseImage();
    note('xc_dom_mem_init');
    img.memInit(req.memMiB);
    note('xc_dom_boot_mem_init');
    await img.bootMemInit();
    note('xc_dom_build_image');
    await img.buildImage();
    note('xc_dom_boot_image');
    img.bootImage();
    note('xc_dom_gnttab_init');
    img.gnttabInit();
    const info = img.info();
    // pv_p2m dies with the image: the MFNs are read before release.
    return {
      guestType: info.guestType ?? '',
      totalPages: info.totalPages,
      consolePfn: info.consolePfn,
      xenstorePfn: info.xenstorePfn,
      consoleMfn: img.p2m(info.consolePfn),
      storeMfn: img.p2m(info.xenstorePfn),
    };
  } finally {
    img.release();
  }
}

/** The build_pre calls a domain build needs besides max_vcpus and setmaxmem. */
export function evtchnAllocUnbound(xc: XcInterface, domid: number, remoteDomid: number): number {
  const d = checkDomid(domid);
  const r = checkDomid(remoteDomid);
  return rawCall(xc, 'xc_evtchn_alloc_unbound', (xg, h) => xg.xc_evtchn_alloc_unbound(h, d, r) as number);
}

/** PV only: the guest's pseudo-physical memory map ends here (libxl: max_memkb + slack 0). */
export function setMemmapLimit(xc: XcInterface, domid: number, limitKiB: number): void {
  const d = checkDomid(domid);
  const kib = uint('limitKiB', limitKiB, Number.MAX_SAFE_INTEGER);
  rawCall(xc, 'xc_domain_set_memmap_limit', (xg, h) => xg.xc_domain_set_memmap_limit(h, d, kib) as number);
}

/** tsc_mode 0 = default, 1 = always emulate, 2 = native (libxl's xl.cfg `tsc_mode`). */
export function setTscInfo(xc: XcInterface, domid: number, tscMode: 0 | 1 | 2): void {
  const d = checkDomid(domid);
  rawCall(xc, 'xc_domain_set_tsc_info', (xg, h) => xg.xc_domain_set_tsc_info(h, d, tscMode, 0, 0, 0) as number);
}

/** libxl__cpuid_legacy with no user policy: the default policy, PAE on (always true for PV). */
export function cpuidApplyPolicy(xc: XcInterface, domid: number, opts: { pae: boolean; itsc: boolean; nestedVirt: boolean }): void {
  const d = checkDomid(domid);
  rawCall(
    xc,
    'xc_cpuid_apply_policy',
    (xg, h) => xg.xc_cpuid_apply_policy(h, d, false, null, 0, opts.pae, opts.itsc, opts.nestedVirt, null, null) as number,
  );
}

function rawCall(xc: XcInterface, syscall: string, fn: (xg: Libxenguest, h: bigint) => number): number {
  const raw = xc.internals(syscall);
  const xg = loadLibxenguest(raw.api.path);
  raw.drainLog();
  const k = koffi();
  k.errno(0);
  const r = fn(xg, raw.handle);
  const errno = k.errno();
  if (r < 0) throw raw.fail(syscall, errno);
  return r;
}
