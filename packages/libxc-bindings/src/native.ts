/**
 * The koffi side of the binding: the C structs and the libxenctrl symbol table, each annotated
 * with its C prototype from the installed 4.17 headers (xenctrl.h, xentoollog.h, xen/*.h).
 * Nothing here is exported from the package: xc-interface.ts turns every result into plain
 * TypeScript data.
 *
 * koffi is required lazily, on the first open of a real host, so `xentool --help` and the
 * simulated host never load the native module or libxenctrl.
 */
import type * as KoffiModule from 'koffi';
import { existsSync } from 'node:fs';
import { readElfSoname } from './elf-soname';
import { LibraryLoadError } from './errors';

export type Koffi = typeof KoffiModule;
type Fn = ReturnType<KoffiModule.LibraryHandle['func']>;
type TypeObj = KoffiModule.TypeObject;

/** The ABI this binding is written for: domctl/sysctl interface version 0x15. */
export const LIBXC_SONAME = 'libxenctrl.so.4.17';

let koffiModule: Koffi | undefined;
export function koffi(): Koffi {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  koffiModule ??= require('koffi') as Koffi;
  return koffiModule;
}

export interface Types {
  xen_arch_domainconfig: TypeObj;
  xc_domaininfo_t: TypeObj;
  xc_physinfo_t: TypeObj;
  xen_domctl_createdomain: TypeObj;
  xen_compile_info_t: TypeObj;
  xen_platform_parameters_t: TypeObj;
  xentoollog_logger: TypeObj;
  xtl_vmessage_fn: TypeObj;
}

let types: Types | undefined;

/**
 * Declared once per module instance and anonymous: koffi's type-name registry lives in the
 * native addon and is process-global, so a named struct declared again (a second module
 * registry, as jest creates per test file) would throw "Duplicate type name".
 */
export function structTypes(): Types {
  if (types) return types;
  const k = koffi();
  // struct xen_arch_domainconfig (x86) { uint32_t emulation_flags; uint32_t misc_flags; };
  const xen_arch_domainconfig = k.struct({
    emulation_flags: 'uint32_t',
    misc_flags: 'uint32_t',
  });
  // typedef struct xen_domctl_getdomaininfo xc_domaininfo_t;   (xen/domctl.h, 112 bytes)
  const xc_domaininfo_t = k.struct({
    domain: 'uint16_t',
    pad1: 'uint16_t',
    flags: 'uint32_t',
    tot_pages: 'uint64_t',
    max_pages: 'uint64_t',
    outstanding_pages: 'uint64_t',
    shr_pages: 'uint64_t',
    paged_pages: 'uint64_t',
    shared_info_frame: 'uint64_t',
    cpu_time: 'uint64_t',
    nr_online_vcpus: 'uint32_t',
    max_vcpu_id: 'uint32_t',
    ssidref: 'uint32_t',
    handle: k.array('uint8_t', 16),
    cpupool: 'uint32_t',
    gpaddr_bits: 'uint8_t',
    pad2: k.array('uint8_t', 7),
    arch_config: xen_arch_domainconfig,
  });
  // typedef struct xen_sysctl_physinfo xc_physinfo_t;   (xen/sysctl.h, 112 bytes)
  const xc_physinfo_t = k.struct({
    threads_per_core: 'uint32_t',
    cores_per_socket: 'uint32_t',
    nr_cpus: 'uint32_t',
    max_cpu_id: 'uint32_t',
    nr_nodes: 'uint32_t',
    max_node_id: 'uint32_t',
    cpu_khz: 'uint32_t',
    capabilities: 'uint32_t',
    arch_capabilities: 'uint32_t',
    pad: 'uint32_t',
    total_pages: 'uint64_t',
    free_pages: 'uint64_t',
    scrub_pages: 'uint64_t',
    outstanding_pages: 'uint64_t',
    max_mfn: 'uint64_t',
    hw_cap: k.array('uint32_t', 8),
  });
  // struct xen_domctl_createdomain   (xen/domctl.h, 64 bytes; in/out)
  const xen_domctl_createdomain = k.struct({
    ssidref: 'uint32_t',
    handle: k.array('uint8_t', 16),
    flags: 'uint32_t',
    iommu_opts: 'uint32_t',
    max_vcpus: 'uint32_t',
    max_evtchn_port: 'uint32_t',
    max_grant_frames: 'int32_t',
    max_maptrack_frames: 'int32_t',
    grant_opts: 'uint32_t',
    vmtrace_size: 'uint32_t',
    cpupool_id: 'uint32_t',
    arch: xen_arch_domainconfig,
  });
  // struct xen_compile_info { char compiler[64]; char compile_by[16]; char compile_domain[32]; char compile_date[32]; };
  const xen_compile_info_t = k.struct({
    compiler: k.array('char', 64, 'Array'),
    compile_by: k.array('char', 16, 'Array'),
    compile_domain: k.array('char', 32, 'Array'),
    compile_date: k.array('char', 32, 'Array'),
  });
  // struct xen_platform_parameters { xen_ulong_t virt_start; };
  const xen_platform_parameters_t = k.struct({ virt_start: 'uint64_t' });
  // void (*vmessage)(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
  //                  const char *context, const char *format, va_list al);
  // On x86-64 a va_list parameter is a pointer to __va_list_tag[1]: it is passed through
  // untouched to vsnprintf, which is the only thing allowed to consume it.
  const xtl_vmessage_fn = k.proto('void', ['void *', 'int', 'int', 'const char *', 'void *', 'void *']);
  // struct xentoollog_logger { vmessage; progress; destroy; }  (xentoollog.h)
  const xentoollog_logger = k.struct({
    vmessage: 'void *',
    progress: 'void *',
    destroy: 'void *',
  });
  types = {
    xen_arch_domainconfig,
    xc_domaininfo_t,
    xc_physinfo_t,
    xen_domctl_createdomain,
    xen_compile_info_t,
    xen_platform_parameters_t,
    xentoollog_logger,
    xtl_vmessage_fn,
  };
  return types;
}

/** Every struct the binding declares, with the C name to compare against in the layout test. */
export const STRUCT_C_NAMES: Record<Exclude<keyof Types, 'xtl_vmessage_fn'>, string> = {
  xen_arch_domainconfig: 'struct xen_arch_domainconfig',
  xc_domaininfo_t: 'xc_domaininfo_t',
  xc_physinfo_t: 'xc_physinfo_t',
  xen_domctl_createdomain: 'struct xen_domctl_createdomain',
  xen_compile_info_t: 'xen_compile_info_t',
  xen_platform_parameters_t: 'xen_platform_parameters_t',
  xentoollog_logger: 'struct xentoollog_logger',
};

export interface Libxc {
  path: string;
  // xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger, unsigned open_flags);
  xc_interface_open: Fn;
  // int xc_interface_close(xc_interface *xch);
  xc_interface_close: Fn;
  // const char *xc_strerror(xc_interface *xch, int errcode);
  xc_strerror: Fn;
  // int xc_physinfo(xc_interface *xch, xc_physinfo_t *info);
  xc_physinfo: Fn;
  // int xc_version(xc_interface *xch, int cmd, void *arg);
  xc_version: Fn;
  // int xc_sched_id(xc_interface *xch, int *sched_id);
  xc_sched_id: Fn;
  // long xc_sharing_freed_pages(xc_interface *xch);
  xc_sharing_freed_pages: Fn;
  // long xc_sharing_used_frames(xc_interface *xch);
  xc_sharing_used_frames: Fn;
  // int xc_get_cpumap_size(xc_interface *xch);
  xc_get_cpumap_size: Fn;
  // xc_cpumap_t xc_cpupool_freeinfo(xc_interface *xch);   (malloc'd; caller frees)
  xc_cpupool_freeinfo: Fn;
  // int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains, xc_domaininfo_t *info);
  xc_domain_getinfolist: Fn;
  // int xc_domain_create(xc_interface *xch, uint32_t *pdomid, struct xen_domctl_createdomain *config);
  xc_domain_create: Fn;
  // int xc_domain_max_vcpus(xc_interface *xch, uint32_t domid, unsigned int max);
  xc_domain_max_vcpus: Fn;
  // int xc_domain_setmaxmem(xc_interface *xch, uint32_t domid, uint64_t max_memkb);
  xc_domain_setmaxmem: Fn;
  // int xc_domain_pause(xc_interface *xch, uint32_t domid);
  xc_domain_pause: Fn;
  // int xc_get_machine_memory_map(xc_interface *xch, struct e820entry entries[], uint32_t max_entries);
  // (returns the number of entries written, or -1 with errno)
  xc_get_machine_memory_map: Fn;
  // int xc_domain_set_memory_map(xc_interface *xch, uint32_t domid, struct e820entry entries[], uint32_t nr_entries);
  xc_domain_set_memory_map: Fn;
  // int xc_domain_unpause(xc_interface *xch, uint32_t domid);
  xc_domain_unpause: Fn;
  // int xc_domain_destroy(xc_interface *xch, uint32_t domid);
  xc_domain_destroy: Fn;
  // int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason);
  xc_domain_shutdown: Fn;
  // int xc_assign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf, uint32_t flag);
  xc_assign_device: Fn;
  // int xc_test_assign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf);
  xc_test_assign_device: Fn;
  // int xc_deassign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf);
  xc_deassign_device: Fn;
  // int xc_domain_irq_permission(xc_interface *xch, uint32_t domid, uint32_t pirq, bool allow_access);
  xc_domain_irq_permission: Fn;
  // int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid, unsigned long first_mfn, unsigned long nr_mfns, uint8_t allow_access);
  xc_domain_iomem_permission: Fn;
  // int xc_domain_ioport_permission(xc_interface *xch, uint32_t domid, uint32_t first_port, uint32_t nr_ports, uint32_t allow_access);
  xc_domain_ioport_permission: Fn;
  // int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index, int *pirq);
  xc_physdev_map_pirq: Fn;
  // int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq);
  xc_physdev_unmap_pirq: Fn;
  // int xc_domain_bind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq, uint8_t irq_type,
  //                           uint8_t bus, uint8_t device, uint8_t intx, uint8_t isa_irq);
  xc_domain_bind_pt_irq: Fn;
  // int xc_domain_unbind_pt_irq(... same arguments ...);
  xc_domain_unbind_pt_irq: Fn;
  // libc, for the logger and for xc_cpupool_freeinfo's malloc'd bitmap:
  // int vsnprintf(char *str, size_t size, const char *format, va_list ap);
  vsnprintf: Fn;
  // void *malloc(size_t size);  void free(void *ptr);
  malloc: Fn;
  free: Fn;
}

const loaded = new Map<string, Libxc>();

/**
 * Loads libxenctrl once per path. Without `libraryPath` the dynamic linker resolves the soname,
 * which by itself guarantees the 4.17 ABI. An explicit path must exist and carry that soname;
 * anything else is refused before dlopen() runs its constructors.
 */
export function loadLibxc(libraryPath?: string): Libxc {
  const key = libraryPath ?? LIBXC_SONAME;
  const cached = loaded.get(key);
  if (cached) return cached;
  if (libraryPath !== undefined) {
    if (!existsSync(libraryPath)) {
      throw new LibraryLoadError('ERR_LIBXC_LOAD', libraryPath, `cannot load libxenctrl: ${libraryPath} does not exist`);
    }
    let soname: string | undefined;
    try {
      soname = readElfSoname(libraryPath);
    } catch (e) {
      throw new LibraryLoadError('ERR_LIBXC_VERSION', libraryPath, `refusing ${libraryPath}: ${(e as Error).message}`, { cause: e });
    }
    if (soname !== LIBXC_SONAME) {
      throw new LibraryLoadError(
        'ERR_LIBXC_VERSION',
        libraryPath,
        `refusing ${libraryPath}: its soname is ${soname ?? '(none)'}, this xentool needs ${LIBXC_SONAME} (Xen 4.17 domctl/sysctl ABI)`,
      );
    }
  }
  const k = koffi();
  let lib: KoffiModule.LibraryHandle;
  try {
    lib = k.load(key);
  } catch (e) {
    const hint = libraryPath === undefined ? ' (install the Debian package libxenmisc4.17)' : '';
    throw new LibraryLoadError('ERR_LIBXC_LOAD', key, `cannot load ${key}${hint}: ${(e as Error).message}`, { cause: e });
  }
  const libc = k.load('libc.so.6');
  structTypes();
  const f = (sig: string) => lib.func(sig);
  const api: Libxc = {
    path: key,
    xc_interface_open: f('void *xc_interface_open(void *logger, void *dombuild_logger, unsigned int open_flags)'),
    xc_interface_close: f('int xc_interface_close(void *xch)'),
    xc_strerror: f('const char *xc_strerror(void *xch, int errcode)'),
    xc_physinfo: f('int xc_physinfo(void *xch, void *info)'),
    xc_version: f('int xc_version(void *xch, int cmd, void *arg)'),
    xc_sched_id: f('int xc_sched_id(void *xch, _Out_ int *sched_id)'),
    xc_sharing_freed_pages: f('long xc_sharing_freed_pages(void *xch)'),
    xc_sharing_used_frames: f('long xc_sharing_used_frames(void *xch)'),
    xc_get_cpumap_size: f('int xc_get_cpumap_size(void *xch)'),
    xc_cpupool_freeinfo: f('void *xc_cpupool_freeinfo(void *xch)'),
    xc_domain_getinfolist: f('int xc_domain_getinfolist(void *xch, uint32_t first_domain, unsigned int max_domains, void *info)'),
    xc_domain_create: f('int xc_domain_create(void *xch, void *pdomid, void *config)'),
    xc_domain_max_vcpus: f('int xc_domain_max_vcpus(void *xch, uint32_t domid, unsigned int max)'),
    xc_domain_setmaxmem: f('int xc_domain_setmaxmem(void *xch, uint32_t domid, uint64_t max_memkb)'),
    xc_domain_pause: f('int xc_domain_pause(void *xch, uint32_t domid)'),
    xc_get_machine_memory_map: f('int xc_get_machine_memory_map(void *xch, void *entries, uint32_t max_entries)'),
    xc_domain_set_memory_map: f('int xc_domain_set_memory_map(void *xch, uint32_t domid, void *entries, uint32_t nr_entries)'),
    xc_domain_unpause: f('int xc_domain_unpause(void *xch, uint32_t domid)'),
    xc_domain_destroy: f('int xc_domain_destroy(void *xch, uint32_t domid)'),
    xc_domain_shutdown: f('int xc_domain_shutdown(void *xch, uint32_t domid, int reason)'),
    xc_assign_device: f('int xc_assign_device(void *xch, uint32_t domid, uint32_t machine_sbdf, uint32_t flag)'),
    xc_test_assign_device: f('int xc_test_assign_device(void *xch, uint32_t domid, uint32_t machine_sbdf)'),
    xc_deassign_device: f('int xc_deassign_device(void *xch, uint32_t domid, uint32_t machine_sbdf)'),
    xc_domain_irq_permission: f('int xc_domain_irq_permission(void *xch, uint32_t domid, uint32_t pirq, bool allow_access)'),
    xc_domain_iomem_permission: f(
      'int xc_domain_iomem_permission(void *xch, uint32_t domid, unsigned long first_mfn, unsigned long nr_mfns, uint8_t allow_access)',
    ),
    xc_domain_ioport_permission: f(
      'int xc_domain_ioport_permission(void *xch, uint32_t domid, uint32_t first_port, uint32_t nr_ports, uint32_t allow_access)',
    ),
    xc_physdev_map_pirq: f('int xc_physdev_map_pirq(void *xch, uint32_t domid, int index, void *pirq)'),
    xc_physdev_unmap_pirq: f('int xc_physdev_unmap_pirq(void *xch, uint32_t domid, int pirq)'),
    xc_domain_bind_pt_irq: f(
      'int xc_domain_bind_pt_irq(void *xch, uint32_t domid, uint8_t machine_irq, uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx, uint8_t isa_irq)',
    ),
    xc_domain_unbind_pt_irq: f(
      'int xc_domain_unbind_pt_irq(void *xch, uint32_t domid, uint8_t machine_irq, uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx, uint8_t isa_irq)',
    ),
    vsnprintf: libc.func('int vsnprintf(void *str, size_t size, const char *format, void *ap)'),
    malloc: libc.func('void *malloc(size_t size)'),
    free: libc.func('void free(void *ptr)'),
  };
  loaded.set(key, api);
  return api;
}

/** sizeof/alignof/offsetof of every declared struct, as plain numbers (for the layout proof). */
export function describeLayouts(): Record<string, { cName: string; size: number; align: number; offsets: Record<string, number> }> {
  const k = koffi();
  const t = structTypes();
  const out: Record<string, { cName: string; size: number; align: number; offsets: Record<string, number> }> = {};
  for (const [key, cName] of Object.entries(STRUCT_C_NAMES)) {
    const type = t[key as keyof typeof STRUCT_C_NAMES];
    const offsets: Record<string, number> = {};
    for (const member of Object.keys(type.members ?? {})) offsets[member] = k.offsetof(type, member);
    out[key] = { cName, size: k.sizeof(type), align: k.alignof(type), offsets };
  }
  return out;
}
