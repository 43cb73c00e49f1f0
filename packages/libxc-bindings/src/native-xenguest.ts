/**
 * The koffi side of libxenguest.so.4.17 (the domain builder: `xc_dom_*`), plus the few
 * libxenctrl calls only a domain build needs. Each declaration carries its C prototype from the
 * installed 4.17 headers (xenguest.h, xenctrl.h). Nothing here is exported from the package:
 * dom-image.ts wraps it.
 *
 * `struct xc_dom_image` is not a stable ABI (its fields move between Xen releases): the binding
 * only ever reads it whole and writes single fields at the offsets koffi computes from the
 * declaration below, which layout.test.ts proves equal to gcc's for the installed header. The
 * library allocates the struct, so it is handled as an opaque pointer.
 */
import type * as KoffiModule from 'koffi';
import { LibraryLoadError } from './errors';
import { koffi } from './native';

type Fn = ReturnType<KoffiModule.LibraryHandle['func']>;
type TypeObj = KoffiModule.TypeObject;

export const LIBXENGUEST_SONAME = 'libxenguest.so.4.17';

export interface XenguestTypes {
  xc_dom_seg: TypeObj;
  xc_dom_module: TypeObj;
  xc_hvm_firmware_module: TypeObj;
  xc_dom_image: TypeObj;
  e820entry: TypeObj;
  hvm_info_table: TypeObj;
}

let types: XenguestTypes | undefined;

/** Anonymous for the same reason as native.ts: koffi's type-name registry is process-global. */
export function xenguestTypes(): XenguestTypes {
  if (types) return types;
  const k = koffi();
  // struct xc_dom_seg { xen_vaddr_t vstart; xen_vaddr_t vend; xen_pfn_t pfn; xen_pfn_t pages; };
  const xc_dom_seg = k.struct({ vstart: 'uint64_t', vend: 'uint64_t', pfn: 'uint64_t', pages: 'uint64_t' });
  // struct xc_dom_module { void *blob; size_t size; void *cmdline; struct xc_dom_seg seg; };
  const xc_dom_module = k.struct({ blob: 'void *', size: 'size_t', cmdline: 'void *', seg: xc_dom_seg });
  // struct xc_hvm_firmware_module { uint8_t *data; uint32_t length; uint64_t guest_addr_out; };
  const xc_hvm_firmware_module = k.struct({ data: 'void *', length: 'uint32_t', guest_addr_out: 'uint64_t' });
  // struct xc_dom_image (xenguest.h, x86_64: XG_MAX_MODULES 2, XENFEAT_NR_SUBMAPS 1,
  // xen_capabilities_info_t = char[1024]). Every member is declared, in order, so that koffi's
  // offsets can be checked one by one against gcc's.
  const xc_dom_image = k.struct({
    kernel_blob: 'void *',
    kernel_size: 'size_t',
    num_modules: 'unsigned int',
    modules: k.array(xc_dom_module, 2),
    devicetree_blob: 'void *',
    devicetree_size: 'size_t',
    max_kernel_size: 'size_t',
    max_module_size: 'size_t',
    max_devicetree_size: 'size_t',
    cmdline: 'void *',
    cmdline_size: 'size_t',
    f_requested: k.array('uint32_t', 1),
    parms: 'void *',
    guest_type: 'void *',
    kernel_seg: xc_dom_seg,
    p2m_seg: xc_dom_seg,
    pgtables_seg: xc_dom_seg,
    devicetree_seg: xc_dom_seg,
    start_info_seg: xc_dom_seg,
    start_info_pfn: 'uint64_t',
    console_pfn: 'uint64_t',
    xenstore_pfn: 'uint64_t',
    shared_info_pfn: 'uint64_t',
    bootstack_pfn: 'uint64_t',
    pfn_alloc_end: 'uint64_t',
    virt_alloc_end: 'uint64_t',
    bsd_symtab_start: 'uint64_t',
    initrd_start: 'uint64_t',
    initrd_len: 'uint64_t',
    alloc_bootstack: 'unsigned int',
    virt_pgtab_end: 'uint64_t',
    f_active: k.array('uint32_t', 1),
    pv_p2m: 'void *',
    p2m_size: 'uint64_t',
    rambase_pfn: 'uint64_t',
    total_pages: 'uint64_t',
    phys_pages: 'void *',
    memblocks: 'void *',
    alloc_malloc: 'size_t',
    alloc_mem_map: 'size_t',
    alloc_file_map: 'size_t',
    alloc_domU_map: 'size_t',
    flags: 'unsigned long',
    console_evtchn: 'unsigned int',
    xenstore_evtchn: 'unsigned int',
    console_domid: 'uint32_t',
    xenstore_domid: 'uint32_t',
    shared_info_mfn: 'uint64_t',
    xch: 'void *',
    guest_domid: 'uint32_t',
    claim_enabled: 'int',
    xen_version: 'int',
    xen_caps: k.array('uint8_t', 1024),
    kernel_loader: 'void *',
    private_loader: 'void *',
    vmemranges: 'void *',
    nr_vmemranges: 'unsigned int',
    vnode_to_pnode: 'void *',
    nr_vnodes: 'unsigned int',
    arch_private: 'void *',
    arch_hooks: 'void *',
    allocate: 'void *',
    container_type: 'int',
    target_pages: 'uint64_t',
    mmio_start: 'uint64_t',
    mmio_size: 'uint64_t',
    lowmem_end: 'uint64_t',
    highmem_end: 'uint64_t',
    vga_hole_size: 'uint64_t',
    device_model: 'bool',
    system_firmware_module: xc_hvm_firmware_module,
    acpi_modules: k.array(xc_hvm_firmware_module, 4),
    smbios_module: xc_hvm_firmware_module,
    e820: 'void *',
    e820_entries: 'unsigned int',
    vuart_gfn: 'uint64_t',
    max_vcpus: 'unsigned int',
  });
  // struct e820entry { uint64_t addr; uint64_t size; uint32_t type; } __attribute__((packed));
  // (xenctrl.h: 20 bytes, what xc_domain_set_memory_map and dom->e820 take).
  const e820entry = k.pack({ addr: 'uint64_t', size: 'uint64_t', type: 'uint32_t' });
  // struct hvm_info_table (xen/hvm/hvm_info_table.h, HVM_MAX_VCPUS 128): at HVM_INFO_PADDR in
  // the guest; the builder fills it, the toolstack patches the vCPU fields and the checksum.
  const hvm_info_table = k.struct({
    signature: k.array('char', 8),
    length: 'uint32_t',
    checksum: 'uint8_t',
    apic_mode: 'uint8_t',
    nr_vcpus: 'uint32_t',
    low_mem_pgend: 'uint32_t',
    reserved_mem_pgstart: 'uint32_t',
    high_mem_pgend: 'uint32_t',
    vcpu_online: k.array('uint8_t', 16),
  });
  types = { xc_dom_seg, xc_dom_module, xc_hvm_firmware_module, xc_dom_image, e820entry, hvm_info_table };
  return types;
}

export const XENGUEST_STRUCT_C_NAMES: Record<keyof XenguestTypes, string> = {
  xc_dom_seg: 'struct xc_dom_seg',
  xc_dom_module: 'struct xc_dom_module',
  xc_hvm_firmware_module: 'struct xc_hvm_firmware_module',
  xc_dom_image: 'struct xc_dom_image',
  e820entry: 'struct e820entry',
  hvm_info_table: 'struct hvm_info_table',
};

export interface Libxenguest {
  path: string;
  // struct xc_dom_image *xc_dom_allocate(xc_interface *xch, const char *cmdline, const char *features);
  xc_dom_allocate: Fn;
  // void xc_dom_release(struct xc_dom_image *dom);
  xc_dom_release: Fn;
  // int xc_dom_kernel_file(struct xc_dom_image *dom, const char *filename);
  xc_dom_kernel_file: Fn;
  // int xc_dom_module_file(struct xc_dom_image *dom, const char *filename, const char *cmdline);
  xc_dom_module_file: Fn;
  // int xc_dom_boot_xen_init(struct xc_dom_image *dom, xc_interface *xch, uint32_t domid);
  xc_dom_boot_xen_init: Fn;
  // int xc_dom_parse_image(struct xc_dom_image *dom);
  xc_dom_parse_image: Fn;
  // int xc_dom_mem_init(struct xc_dom_image *dom, unsigned int mem_mb);
  xc_dom_mem_init: Fn;
  // int xc_dom_boot_mem_init(struct xc_dom_image *dom);
  xc_dom_boot_mem_init: Fn;
  // int xc_dom_build_image(struct xc_dom_image *dom);
  xc_dom_build_image: Fn;
  // int xc_dom_boot_image(struct xc_dom_image *dom);
  xc_dom_boot_image: Fn;
  // int xc_dom_gnttab_init(struct xc_dom_image *dom);
  xc_dom_gnttab_init: Fn;
  // int xc_dom_gnttab_seed(xc_interface *xch, uint32_t guest_domid, bool is_hvm, xen_pfn_t console_gfn,
  //                        xen_pfn_t xenstore_gfn, uint32_t console_domid, uint32_t xenstore_domid);
  xc_dom_gnttab_seed: Fn;
  // bool xc_dom_translated(const struct xc_dom_image *dom);
  xc_dom_translated: Fn;
  // int xc_cpuid_apply_policy(xc_interface *xch, uint32_t domid, bool restore, const uint32_t *featureset,
  //                           unsigned int nr_features, bool pae, bool itsc, bool nested_virt,
  //                           const struct xc_xend_cpuid *xend, const struct xc_msr *msr);
  xc_cpuid_apply_policy: Fn;
  // libxenctrl, used by the build only:
  // xc_evtchn_port_or_error_t xc_evtchn_alloc_unbound(xc_interface *xch, uint32_t dom, uint32_t remote_dom);
  xc_evtchn_alloc_unbound: Fn;
  // int xc_domain_set_memmap_limit(xc_interface *xch, uint32_t domid, unsigned long map_limitkb);
  xc_domain_set_memmap_limit: Fn;
  // int xc_domain_set_tsc_info(xc_interface *xch, uint32_t domid, uint32_t tsc_mode, uint64_t elapsed_nsec,
  //                            uint32_t gtsc_khz, uint32_t incarnation);
  xc_domain_set_tsc_info: Fn;
  // HVM builds:
  // int xc_hvm_param_set(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t value);
  xc_hvm_param_set: Fn;
  // int xc_hvm_param_get(xc_interface *handle, uint32_t dom, uint32_t param, uint64_t *value);
  xc_hvm_param_get: Fn;
  // int xc_set_paging_mempool_size(xc_interface *xch, uint32_t domid, uint64_t size);
  xc_set_paging_mempool_size: Fn;
  // void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot, unsigned long mfn);
  xc_map_foreign_range: Fn;
  // libc: int munmap(void *addr, size_t length);
  munmap: Fn;
}

const loaded = new Map<string, Libxenguest>();

/**
 * Loads libxenguest once. `libxcPath` is the libxenctrl the handle came from: the three
 * libxenctrl calls are taken from it, so a stand-in libxenctrl in tests stays in charge of them.
 */
export function loadLibxenguest(libxcPath: string): Libxenguest {
  const cached = loaded.get(libxcPath);
  if (cached) return cached;
  const k = koffi();
  let lib: KoffiModule.LibraryHandle;
  try {
    lib = k.load(LIBXENGUEST_SONAME);
  } catch (e) {
    throw new LibraryLoadError(
      'ERR_LIBXC_LOAD',
      LIBXENGUEST_SONAME,
      `cannot load ${LIBXENGUEST_SONAME} (install the Debian package libxenmisc4.17): ${(e as Error).message}`,
      { cause: e },
    );
  }
  const xc = k.load(libxcPath);
  xenguestTypes();
  const f = (sig: string) => lib.func(sig);
  const api: Libxenguest = {
    path: LIBXENGUEST_SONAME,
    xc_dom_allocate: f('void *xc_dom_allocate(void *xch, const char *cmdline, const char *features)'),
    xc_dom_release: f('void xc_dom_release(void *dom)'),
    xc_dom_kernel_file: f('int xc_dom_kernel_file(void *dom, const char *filename)'),
    xc_dom_module_file: f('int xc_dom_module_file(void *dom, const char *filename, const char *cmdline)'),
    xc_dom_boot_xen_init: f('int xc_dom_boot_xen_init(void *dom, void *xch, uint32_t domid)'),
    xc_dom_parse_image: f('int xc_dom_parse_image(void *dom)'),
    xc_dom_mem_init: f('int xc_dom_mem_init(void *dom, unsigned int mem_mb)'),
    xc_dom_boot_mem_init: f('int xc_dom_boot_mem_init(void *dom)'),
    xc_dom_build_image: f('int xc_dom_build_image(void *dom)'),
    xc_dom_boot_image: f('int xc_dom_boot_image(void *dom)'),
    xc_dom_gnttab_init: f('int xc_dom_gnttab_init(void *dom)'),
    xc_dom_gnttab_seed: f(
      'int xc_dom_gnttab_seed(void *xch, uint32_t guest_domid, bool is_hvm, uint64_t console_gfn, uint64_t xenstore_gfn, uint32_t console_domid, uint32_t xenstore_domid)',
    ),
    xc_dom_translated: f('bool xc_dom_translated(void *dom)'),
    xc_cpuid_apply_policy: f(
      'int xc_cpuid_apply_policy(void *xch, uint32_t domid, bool restore, void *featureset, unsigned int nr_features, bool pae, bool itsc, bool nested_virt, void *xend, void *msr)',
    ),
    xc_evtchn_alloc_unbound: xc.func('int xc_evtchn_alloc_unbound(void *xch, uint32_t dom, uint32_t remote_dom)'),
    xc_domain_set_memmap_limit: xc.func('int xc_domain_set_memmap_limit(void *xch, uint32_t domid, unsigned long map_limitkb)'),
    xc_domain_set_tsc_info: xc.func(
      'int xc_domain_set_tsc_info(void *xch, uint32_t domid, uint32_t tsc_mode, uint64_t elapsed_nsec, uint32_t gtsc_khz, uint32_t incarnation)',
    ),
    xc_hvm_param_set: xc.func('int xc_hvm_param_set(void *xch, uint32_t dom, uint32_t param, uint64_t value)'),
    xc_hvm_param_get: xc.func('int xc_hvm_param_get(void *xch, uint32_t dom, uint32_t param, _Out_ uint64_t *value)'),
    xc_set_paging_mempool_size: xc.func('int xc_set_paging_mempool_size(void *xch, uint32_t domid, uint64_t size)'),
    xc_map_foreign_range: xc.func('void *xc_map_foreign_range(void *xch, uint32_t dom, int size, int prot, unsigned long mfn)'),
    munmap: k.load('libc.so.6').func('int munmap(void *addr, size_t length)'),
  };
  loaded.set(libxcPath, api);
  return api;
}

/** sizeof/alignof/offsetof of the xenguest structs (for the layout proof). */
export function describeXenguestLayouts(): Record<string, { cName: string; size: number; align: number; offsets: Record<string, number> }> {
  const k = koffi();
  const t = xenguestTypes();
  const out: Record<string, { cName: string; size: number; align: number; offsets: Record<string, number> }> = {};
  for (const [key, cName] of Object.entries(XENGUEST_STRUCT_C_NAMES)) {
    const type = t[key as keyof XenguestTypes];
    const offsets: Record<string, number> = {};
    for (const member of Object.keys(type.members ?? {})) offsets[member] = k.offsetof(type, member);
    out[key] = { cName, size: k.sizeof(type), align: k.alignof(type), offsets };
  }
  return out;
}
