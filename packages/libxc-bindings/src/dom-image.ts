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
  /** HVM fields. */
  targetPages: bigint;
  mmioStart: bigint;
  mmioSize: bigint;
  lowmemEnd: bigint;
  highmemEnd: bigint;
  vgaHoleSize: bigint;
  deviceModel: boolean;
  systemFirmwareLength: number;
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
  /** HVM: pages populated at boot (below the memory size: the rest is populate-on-demand). */
  targetPages?: bigint;
  mmioStart?: bigint;
  mmioSize?: bigint;
  lowmemEnd?: bigint;
  highmemEnd?: bigint;
  /** HVM: pages left unpopulated at 0xA0000 for the emulated VGA (0 without a device model). */
  vgaHoleSize?: bigint;
  /** HVM: a device model will run (the builder then allocates the ioreq server pages). */
  deviceModel?: boolean;
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
    const put64 = (field: string, v: bigint) => k.encode(dom, k.offsetof(t, field), 'uint64_t', v);
    if (f.targetPages !== undefined) put64('target_pages', f.targetPages);
    if (f.mmioStart !== undefined) put64('mmio_start', f.mmioStart);
    if (f.mmioSize !== undefined) put64('mmio_size', f.mmioSize);
    if (f.lowmemEnd !== undefined) put64('lowmem_end', f.lowmemEnd);
    if (f.highmemEnd !== undefined) put64('highmem_end', f.highmemEnd);
    if (f.vgaHoleSize !== undefined) put64('vga_hole_size', f.vgaHoleSize);
    if (f.deviceModel !== undefined) k.encode(dom, k.offsetof(t, 'device_model'), 'bool', f.deviceModel);
  }

  /**
   * HVM: the system firmware (SeaBIOS) handed to hvmloader as a module. libxenguest keeps the
   * pointer, so the buffer is held here until release().
   */
  setSystemFirmware(data: Buffer): void {
    const dom = this.live('xc_dom_image');
    const k = koffi();
    const t = xenguestTypes().xc_dom_image;
    const mem = k.alloc('uint8_t', Math.max(1, data.length));
    k.encode(mem, 'uint8_t', Array.from(data), data.length);
    this.keep.push(mem);
    k.encode(dom, k.offsetof(t, 'system_firmware_module'), xenguestTypes().xc_hvm_firmware_module, {
      data: mem,
      length: uint('firmware length', data.length, 0xffffffff),
      guest_addr_out: 0,
    });
  }

  /**
   * HVM: the guest's E820 (xc_domain_set_memory_map), also recorded in the image where the
   * builder writes it into hvm_start_info; the table is held here until release().
   */
  setMemoryMap(domid: number, entries: { addr: bigint; size: bigint; type: number }[]): void {
    const dom = this.live('xc_domain_set_memory_map');
    const k = koffi();
    const t = xenguestTypes();
    const table = k.alloc(t.e820entry, Math.max(1, entries.length));
    k.encode(table, t.e820entry, entries, entries.length);
    this.keep.push(table);
    this.xc.setMemoryMap(domid, entries);
    k.encode(dom, k.offsetof(t.xc_dom_image, 'e820'), 'void *', table);
    k.encode(dom, k.offsetof(t.xc_dom_image, 'e820_entries'), 'unsigned int', entries.length);
  }

  /** Native memory libxenguest points at; freed after xc_dom_release. */
  private readonly keep: unknown[] = [];

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
      targetPages: BigInt(r.target_pages as number | bigint),
      mmioStart: BigInt(r.mmio_start as number | bigint),
      mmioSize: BigInt(r.mmio_size as number | bigint),
      lowmemEnd: BigInt(r.lowmem_end as number | bigint),
      highmemEnd: BigInt(r.highmem_end as number | bigint),
      vgaHoleSize: BigInt(r.vga_hole_size as number | bigint),
      deviceModel: Boolean(r.device_model),
      systemFirmwareLength: Number((r.system_firmware_module as { length: number }).length),
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
    for (const mem of this.keep.splice(0)) koffi().free(mem);
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

/** HVM_PARAM_* indices (xen/hvm/params.h) a build sets. */
export const HVM_PARAM = {
  CALLBACK_IRQ: 0,
  STORE_PFN: 1,
  STORE_EVTCHN: 2,
  PAE_ENABLED: 4,
  TIMER_MODE: 10,
  HPET_ENABLED: 11,
  VPT_ALIGN: 16,
  CONSOLE_PFN: 17,
  CONSOLE_EVTCHN: 18,
  ALTP2M: 35,
} as const;

export function hvmParamSet(xc: XcInterface, domid: number, param: number, value: bigint | number): void {
  const d = checkDomid(domid);
  rawCall(xc, 'xc_hvm_param_set', (xg, h) => xg.xc_hvm_param_set(h, d, param, BigInt(value)) as number);
}

export function hvmParamGet(xc: XcInterface, domid: number, param: number): bigint {
  const d = checkDomid(domid);
  const out = [0n];
  rawCall(xc, 'xc_hvm_param_get', (xg, h) => xg.xc_hvm_param_get(h, d, param, out) as number);
  return BigInt(out[0] as bigint | number);
}

/** HAP/shadow pool size in bytes (libxl: shadow_memkb << 10). */
export function setPagingMempoolSize(xc: XcInterface, domid: number, bytes: bigint): void {
  const d = checkDomid(domid);
  rawCall(xc, 'xc_set_paging_mempool_size', (xg, h) => xg.xc_set_paging_mempool_size(h, d, bytes) as number);
}

/** HVM_BELOW_4G_MMIO_LENGTH: the MMIO hole below 4 GiB with a device model. */
export const HVM_BELOW_4G_MMIO_LENGTH = 0x10000000n;
/** LIBXL_VGA_HOLE_SIZE, in pages (0xA0000-0xBFFFF). */
export const VGA_HOLE_PAGES = 0x20n;
const HVM_INFO_PFN = 0x9f;
const HVM_INFO_OFFSET = 0x800;
const E820_RAM = 1;

export interface HvmBuildRequest {
  domid: number;
  /** hvmloader (libxl: /usr/lib/xen-4.17/boot/hvmloader). */
  firmware: string;
  /** The BIOS hvmloader loads (SeaBIOS's bios-256k.bin), as bytes. */
  systemFirmware: Buffer;
  /** libxl's max_memkb - video_memkb, and target_memkb - video_memkb, in KiB. */
  memKiB: number;
  targetKiB: number;
  /** target_memkb / 1024, what libxl__build_dom gives xc_dom_mem_init. */
  memInitMiB: number;
  maxVcpus: number;
  /** vcpus online at boot (hvm_info's vcpu_online bitmap). */
  vcpus: number;
  consoleEvtchn: number;
  xenstoreEvtchn: number;
  onStep?: (syscall: string) => void;
}

export interface HvmBuildResult {
  /** Guest frame numbers (an HVM guest's own): `console/ring-ref`, `store/ring-ref`, XS_INTRODUCE. */
  consolePfn: bigint;
  xenstorePfn: bigint;
  lowmemEnd: bigint;
  highmemEnd: bigint;
}

/**
 * hvmloader through libxenguest's HVM container, in libxl 4.17's order (libxl_dom.c
 * libxl__build_hvm + libxl__build_dom; domain-build.md §3.3): fields, boot_xen_init, parse,
 * mem_init, boot_mem_init, the E820 (libxl__arch_domain_finalise_hw_description), build,
 * boot, grant table, then the hvm_info table's vCPU fields (hvm_build_set_params). The
 * builder itself sets the store/console PFN and event channel parameters.
 */
export async function buildHvmImage(xc: XcInterface, req: HvmBuildRequest): Promise<HvmBuildResult> {
  const note = req.onStep ?? (() => undefined);
  const memSize = BigInt(req.memKiB) << 10n;
  let targetPages = BigInt(req.targetKiB) >> 2n;
  if (targetPages === 0n) targetPages = memSize >> 12n;
  const mmioSize = HVM_BELOW_4G_MMIO_LENGTH;
  const mmioStart = (1n << 32n) - mmioSize;
  let lowmemEnd = memSize;
  let highmemEnd = 0n;
  if (lowmemEnd > mmioStart) {
    highmemEnd = (1n << 32n) + (lowmemEnd - mmioStart);
    lowmemEnd = mmioStart;
  }
  note('xc_dom_allocate');
  const img = DomImage.allocate(xc);
  try {
    img.setFields({ containerType: 'hvm', targetPages, claimEnabled: false });
    note('xc_dom_kernel_file');
    img.kernelFile(req.firmware);
    img.setSystemFirmware(req.systemFirmware);
    img.setFields({
      mmioSize,
      mmioStart,
      lowmemEnd,
      highmemEnd,
      vgaHoleSize: VGA_HOLE_PAGES,
      deviceModel: true,
      maxVcpus: req.maxVcpus,
      consoleEvtchn: req.consoleEvtchn,
      xenstoreEvtchn: req.xenstoreEvtchn,
      consoleDomid: 0,
      xenstoreDomid: 0,
    });
    note('xc_dom_boot_xen_init');
    img.bootXenInit(req.domid);
    note('xc_dom_parse_image');
    img.parseImage();
    note('xc_dom_mem_init');
    img.memInit(req.memInitMiB);
    note('xc_dom_boot_mem_init');
    await img.bootMemInit();
    note('xc_domain_set_memory_map');
    const e820 = [{ addr: 0x100000n, size: lowmemEnd - 0x100000n, type: E820_RAM }];
    if (highmemEnd > 0n) e820.push({ addr: 1n << 32n, size: highmemEnd - (1n << 32n), type: E820_RAM });
    img.setMemoryMap(req.domid, e820);
    note('xc_dom_build_image');
    await img.buildImage();
    note('xc_dom_boot_image');
    img.bootImage();
    note('xc_dom_gnttab_init');
    img.gnttabInit();
    note('hvm_info');
    writeHvmInfo(xc, req.domid, req.maxVcpus, req.vcpus);
    const info = img.info();
    return { consolePfn: info.consolePfn, xenstorePfn: info.xenstorePfn, lowmemEnd, highmemEnd };
  } finally {
    img.release();
  }
}

/**
 * libxl's hvm_build_set_params: the builder wrote the hvm_info table with defaults (every vCPU
 * online); the toolstack sets apic_mode, nr_vcpus and the online bitmap, then the checksum that
 * makes the table's bytes sum to 0 (hvmloader checks it).
 */
function writeHvmInfo(xc: XcInterface, domid: number, maxVcpus: number, vcpus: number): void {
  const d = checkDomid(domid);
  const raw = xc.internals('xc_map_foreign_range');
  const xg = loadLibxenguest(raw.api.path);
  const k = koffi();
  raw.drainLog();
  k.errno(0);
  // PROT_READ | PROT_WRITE
  const page = xg.xc_map_foreign_range(raw.handle, d, 4096, 3, HVM_INFO_PFN);
  const errno = k.errno();
  if (page === null) throw raw.fail('xc_map_foreign_range', errno);
  try {
    const table = Buffer.from(k.decode(page, HVM_INFO_OFFSET, 'uint8_t', 4096 - HVM_INFO_OFFSET) as number[]);
    const length = table.readUInt32LE(k.offsetof(xenguestTypes().hvm_info_table, 'length'));
    if (table.toString('latin1', 0, 8) !== 'HVM INFO' || length < k.sizeof(xenguestTypes().hvm_info_table) || length > table.length) {
      throw new XcArgumentError('hvm_info', `the builder left no hvm_info table at pfn 0x${HVM_INFO_PFN.toString(16)} (signature ${JSON.stringify(table.toString('latin1', 0, 8))})`);
    }
    const t = xenguestTypes().hvm_info_table;
    const off = (f: string) => k.offsetof(t, f);
    table[off('apic_mode')] = 1;
    table.writeUInt32LE(maxVcpus, off('nr_vcpus'));
    const online = off('vcpu_online');
    table.fill(0, online, online + 16);
    for (let i = 0; i < Math.min(vcpus, 128); i++) table[online + (i >> 3)] |= 1 << (i & 7);
    table[off('checksum')] = 0;
    let sum = 0;
    for (let i = 0; i < length; i++) sum = (sum + table[i]!) & 0xff;
    table[off('checksum')] = (0x100 - sum) & 0xff;
    k.encode(page, HVM_INFO_OFFSET, 'uint8_t', Array.from(table.subarray(0, length)), length);
  } finally {
    xg.munmap(page, 4096);
  }
}

