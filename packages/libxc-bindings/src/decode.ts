/**
 * Raw struct values (as koffi.decode returns them) to the plain objects the package exports.
 * Pure: tests feed them hand-built values and buffers without a hypervisor.
 */
import {
  SHUTDOWN_REASONS,
  type ShutdownReason,
  XEN_DOMINF,
  XEN_DOMINF_SHUTDOWNMASK,
  XEN_DOMINF_SHUTDOWNSHIFT,
  XEN_SYSCTL_PHYSCAP,
} from './constants';

type U64 = number | bigint;

export interface RawDomainInfo {
  domain: number;
  flags: number;
  tot_pages: U64;
  max_pages: U64;
  outstanding_pages: U64;
  shr_pages: U64;
  paged_pages: U64;
  shared_info_frame: U64;
  cpu_time: U64;
  nr_online_vcpus: number;
  max_vcpu_id: number;
  ssidref: number;
  handle: ArrayLike<number>;
  cpupool: number;
  gpaddr_bits: number;
  arch_config: { emulation_flags: number; misc_flags: number };
}

/** One domain from xc_domain_getinfolist (hypervisor ABI struct xen_domctl_getdomaininfo). */
export interface DomainInfo {
  domid: number;
  /** Canonical lower-case UUID text of the domain handle. */
  uuid: string;
  flags: number;
  dying: boolean;
  hvm: boolean;
  /** XEN_DOMINF_shutdown, whatever the reason (libxl_dominfo's meaning; xl prints 's'). */
  shutdown: boolean;
  /** Shut down with SHUTDOWN_crash (libxc's xc_dominfo_t would report only this, not shutdown). */
  crashed: boolean;
  /** The shutdown code when `shutdown`, else undefined. */
  shutdownCode: number | undefined;
  shutdownReason: ShutdownReason | undefined;
  paused: boolean;
  blocked: boolean;
  running: boolean;
  debugged: boolean;
  xenstoreDomain: boolean;
  hap: boolean;
  totPages: number;
  maxPages: number;
  outstandingPages: number;
  sharedPages: number;
  pagedPages: number;
  sharedInfoFrame: bigint;
  /** ns of CPU consumed; bigint because it passes 2^53 after ~104 vcpu-days. */
  cpuTimeNs: bigint;
  onlineVcpus: number;
  /** max_vcpu_id + 1; 0 when max_vcpu_id is ~0U (no vcpus allocated yet). */
  maxVcpus: number;
  ssidref: number;
  cpupool: number;
  gpaddrBits: number;
  emulationFlags: number;
  miscFlags: number;
}

function num(v: U64): number {
  return typeof v === 'bigint' ? Number(v) : v;
}
function big(v: U64): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

export function uuidFromBytes(bytes: ArrayLike<number>): string {
  const hex = Array.from(bytes, (b) => (b & 0xff).toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function uuidToBytes(uuid: string): number[] {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex) || !/^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$/.test(uuid)) {
    throw new RangeError(`not a UUID: ${JSON.stringify(uuid)}`);
  }
  return Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

export function decodeDomainInfo(raw: RawDomainInfo): DomainInfo {
  const f = raw.flags >>> 0;
  const down = (f & XEN_DOMINF.shutdown) !== 0;
  const code = down ? (f >>> XEN_DOMINF_SHUTDOWNSHIFT) & XEN_DOMINF_SHUTDOWNMASK : undefined;
  return {
    domid: raw.domain,
    uuid: uuidFromBytes(raw.handle),
    flags: f,
    dying: (f & XEN_DOMINF.dying) !== 0,
    hvm: (f & XEN_DOMINF.hvm_guest) !== 0,
    shutdown: down,
    crashed: code === 3,
    shutdownCode: code,
    shutdownReason: code === undefined ? undefined : SHUTDOWN_REASONS[code],
    paused: (f & XEN_DOMINF.paused) !== 0,
    blocked: (f & XEN_DOMINF.blocked) !== 0,
    running: (f & XEN_DOMINF.running) !== 0,
    debugged: (f & XEN_DOMINF.debugged) !== 0,
    xenstoreDomain: (f & XEN_DOMINF.xs_domain) !== 0,
    hap: (f & XEN_DOMINF.hap) !== 0,
    totPages: num(raw.tot_pages),
    maxPages: num(raw.max_pages),
    outstandingPages: num(raw.outstanding_pages),
    sharedPages: num(raw.shr_pages),
    pagedPages: num(raw.paged_pages),
    sharedInfoFrame: big(raw.shared_info_frame),
    cpuTimeNs: big(raw.cpu_time),
    onlineVcpus: raw.nr_online_vcpus,
    maxVcpus: raw.max_vcpu_id >>> 0 === 0xffffffff ? 0 : (raw.max_vcpu_id >>> 0) + 1,
    ssidref: raw.ssidref,
    cpupool: raw.cpupool,
    gpaddrBits: raw.gpaddr_bits,
    emulationFlags: raw.arch_config.emulation_flags,
    miscFlags: raw.arch_config.misc_flags,
  };
}

export interface RawPhysinfo {
  threads_per_core: number;
  cores_per_socket: number;
  nr_cpus: number;
  max_cpu_id: number;
  nr_nodes: number;
  max_node_id: number;
  cpu_khz: number;
  capabilities: number;
  arch_capabilities: number;
  total_pages: U64;
  free_pages: U64;
  scrub_pages: U64;
  outstanding_pages: U64;
  max_mfn: U64;
  hw_cap: ArrayLike<number>;
}

export interface PhysCapabilities {
  hvm: boolean;
  pv: boolean;
  /** XEN_SYSCTL_PHYSCAP_directio: an IOMMU is in use; libxl calls it cap_hvm_directio. */
  directio: boolean;
  hap: boolean;
  shadow: boolean;
  iommuHapPtShare: boolean;
  vmtrace: boolean;
  vpmu: boolean;
  gnttabV1: boolean;
  gnttabV2: boolean;
}

export interface PhysInfo {
  threadsPerCore: number;
  coresPerSocket: number;
  nrCpus: number;
  maxCpuId: number;
  nrNodes: number;
  maxNodeId: number;
  cpuKhz: number;
  capabilities: PhysCapabilities;
  capabilitiesRaw: number;
  archCapabilities: number;
  totalPages: number;
  freePages: number;
  scrubPages: number;
  outstandingPages: number;
  maxMfn: bigint;
  hwCap: number[];
}

export function decodePhysinfo(raw: RawPhysinfo): PhysInfo {
  const c = raw.capabilities >>> 0;
  const P = XEN_SYSCTL_PHYSCAP;
  return {
    threadsPerCore: raw.threads_per_core,
    coresPerSocket: raw.cores_per_socket,
    nrCpus: raw.nr_cpus,
    maxCpuId: raw.max_cpu_id,
    nrNodes: raw.nr_nodes,
    maxNodeId: raw.max_node_id,
    cpuKhz: raw.cpu_khz,
    capabilities: {
      hvm: (c & P.hvm) !== 0,
      pv: (c & P.pv) !== 0,
      directio: (c & P.directio) !== 0,
      hap: (c & P.hap) !== 0,
      shadow: (c & P.shadow) !== 0,
      iommuHapPtShare: (c & P.iommu_hap_pt_share) !== 0,
      vmtrace: (c & P.vmtrace) !== 0,
      vpmu: (c & P.vpmu) !== 0,
      gnttabV1: (c & P.gnttab_v1) !== 0,
      gnttabV2: (c & P.gnttab_v2) !== 0,
    },
    capabilitiesRaw: c,
    archCapabilities: raw.arch_capabilities,
    totalPages: num(raw.total_pages),
    freePages: num(raw.free_pages),
    scrubPages: num(raw.scrub_pages),
    outstandingPages: num(raw.outstanding_pages),
    maxMfn: big(raw.max_mfn),
    hwCap: Array.from(raw.hw_cap, (v) => v >>> 0),
  };
}

/** A NUL-terminated char array decoded by koffi as numbers, or a Buffer slice. */
export function cString(chars: ArrayLike<number> | Buffer): string {
  const bytes = Buffer.isBuffer(chars) ? chars : Buffer.from(Array.from(chars, (c) => c & 0xff));
  const end = bytes.indexOf(0);
  return bytes.toString('utf8', 0, end < 0 ? bytes.length : end);
}
