/**
 * DomainOps on the simulated host. It keeps the real preconditions where the simulated
 * hypervisor can check them (a domain must exist, max_vcpus must match createdomain, memory
 * must be free) and stands in for the daemons dom0 runs on a real host: the in-process
 * xenstored takes the INTRODUCE, and a stand-in xenconsoled publishes console/tty.
 */
import type { DomainRecord } from '../host/host';
import type { SimDomainMeta, SimHost } from '../host/sim/sim-host';
import { HypervisorError } from '../host/hypervisor';
import type { QmpClient } from '../qmp/qmp-client';
import type { BuildHvmArgs, BuildPreArgs, BuildPvArgs, CreateDomainArgs, DomainOps, HostFacts, ShutdownCode, SpawnDm } from './domain-ops';
import { HVMLOADER, QEMU_XEN, SEABIOS } from './hvm-options';
import { readableFile } from './readable-file';
import { E820_RAM, E820MAX, type E820Entry, e820FromJson, e820ToJson } from './e820-host';

/** Where the simulated guest's store and console pages "are": fixed, recognisable frames. */
const SIM_STORE_MFN_BASE = 0x100000n;

export class SimDomainOps implements DomainOps {
  readonly kind = 'sim' as const;
  private readonly maxVcpus = new Map<number, number>();

  constructor(private readonly host: SimHost) {}

  get xs() {
    return this.host.xs;
  }

  get xenLibDir(): string {
    return this.host.xenLibDir;
  }

  async facts(): Promise<HostFacts> {
    const i = await this.host.info();
    return {
      freeKiB: i.freePages * 4,
      caps: { pv: i.caps.pv, hvm: i.caps.hvm, directio: i.caps.directio, gnttabV1: i.caps.gnttabV1, gnttabV2: i.caps.gnttabV2 },
    };
  }

  domains(): Promise<DomainRecord[]> {
    return this.host.domains();
  }

  async readable(file: string): Promise<boolean> {
    // The simulated host has the HVM firmware and qemu-xen that Debian's packages install.
    if (file === HVMLOADER || file === SEABIOS || file === QEMU_XEN) return true;
    return readableFile(file);
  }

  private meta(syscall: string, domid: number): SimDomainMeta {
    const m = this.host.state.domains.find((d) => d.domid === domid);
    if (!m || domid === 0) throw new HypervisorError(syscall, 'ESRCH', `domain ${domid}`);
    return m;
  }

  async createDomain(a: CreateDomainArgs): Promise<number> {
    const domid = this.host.state.nextDomid++;
    const hvm = a.type !== 'pv';
    this.host.hv.createDomain(domid, { hvm, iommu: a.passthrough !== 'disabled' });
    // A new domain has no memory and is paused until the toolstack unpauses it.
    this.host.state.domains.push({ domid, uuid: a.uuid, hvm, memKiB: 0, maxMemKiB: 0, vcpus: 0, paused: true, createdAtMs: Date.now() });
    this.maxVcpus.set(domid, a.maxVcpus);
    return domid;
  }

  async buildPre(domid: number, a: BuildPreArgs): Promise<{ storePort: number; consolePort: number }> {
    const m = this.meta('xc_domain_max_vcpus', domid);
    // Xen 4.17 refuses a max_vcpus that differs from createdomain's with EINVAL.
    if (this.maxVcpus.has(domid) && this.maxVcpus.get(domid) !== a.maxVcpus) throw new HypervisorError('xc_domain_max_vcpus', 'EINVAL');
    m.maxMemKiB = a.maxMemKiB;
    // xc_domain_set_memmap_limit is xc_domain_set_memory_map with one RAM entry from 0.
    if (!a.hvm) this.host.hv.setMemoryMap(domid, e820ToJson([{ addr: 0n, size: BigInt(a.memmapLimitKiB) << 10n, type: E820_RAM }]));
    // Xen 4.17's tsc_set_info (arch/x86/time.c) knows modes 0-2 and answers anything else with EINVAL.
    if (![0, 1, 2].includes(a.tscMode)) throw new HypervisorError('xc_domain_set_tsc_info', 'EINVAL', `tsc_mode ${a.tscMode}`);
    m.tsc = { mode: a.tscMode, itsc: a.itsc };
    return { storePort: 1, consolePort: 2 };
  }

  async machineMemoryMap(): Promise<E820Entry[]> {
    return e820FromJson(this.host.hv.machineMemoryMap(E820MAX));
  }

  async setMemoryMap(domid: number, map: readonly E820Entry[]): Promise<void> {
    this.host.hv.setMemoryMap(domid, e820ToJson(map));
  }

  async buildPv(domid: number, a: BuildPvArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }> {
    const m = this.meta('xc_dom_boot_xen_init', domid);
    for (const s of ['xc_dom_allocate', 'xc_dom_kernel_file', ...(a.ramdisk ? ['xc_dom_module_file'] : []), 'xc_dom_boot_xen_init', 'xc_dom_parse_image', 'xc_dom_mem_init', 'xc_dom_boot_mem_init', 'xc_dom_build_image', 'xc_dom_boot_image', 'xc_dom_gnttab_init']) {
      a.onStep?.(s);
    }
    const kib = a.memMiB * 1024;
    const free = (await this.facts()).freeKiB;
    if (kib > free) throw new HypervisorError('xc_dom_boot_mem_init', 'ENOSPC', 'not enough free memory');
    if (kib > m.maxMemKiB) throw new HypervisorError('xc_dom_boot_mem_init', 'EINVAL', 'memory above setmaxmem');
    m.memKiB = kib;
    m.vcpus = a.maxVcpus;
    return { storeMfn: SIM_STORE_MFN_BASE + BigInt(domid) * 2n, consoleMfn: SIM_STORE_MFN_BASE + BigInt(domid) * 2n + 1n };
  }

  async buildHvm(domid: number, a: BuildHvmArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }> {
    const m = this.meta('xc_dom_boot_xen_init', domid);
    for (const st of ['xc_dom_allocate', 'xc_dom_kernel_file', 'xc_dom_boot_xen_init', 'xc_dom_parse_image', 'xc_dom_mem_init', 'xc_dom_boot_mem_init', 'xc_domain_set_memory_map', 'xc_dom_build_image', 'xc_dom_boot_image', 'xc_dom_gnttab_init', 'hvm_info']) {
      a.onStep?.(st);
    }
    const free = (await this.facts()).freeKiB;
    if (a.targetKiB > free) throw new HypervisorError('xc_dom_boot_mem_init', 'ENOSPC', 'not enough free memory');
    m.memKiB = a.targetKiB;
    m.vcpus = a.maxVcpus;
    // An HVM guest's special pages sit at fixed guest frames (xg_dom_x86.c: 0xfeffc store, 0xfefff console).
    return { storeMfn: 0xfeffcn, consoleMfn: 0xfefffn };
  }

  /** The simulated QEMU already listens (it came up with the guest); it reports itself running. */
  async spawnDeviceModel(domid: number, _a: SpawnDm): Promise<number> {
    await this.host.xs.write(`/local/domain/0/device-model/${domid}/state`, 'running');
    return 0;
  }

  async killDeviceModel(domid: number, _pid: number | undefined): Promise<void> {
    await this.host.stopGuest(domid);
  }

  /** The simulated guests have their PV drivers from the start. */
  async pvControlAvailable(_domid: number): Promise<boolean> {
    return true;
  }

  qmp(domid: number): Promise<QmpClient> {
    return this.host.qmp(domid);
  }

  async introduce(domid: number, storeMfn: bigint, storePort: number): Promise<void> {
    const m = this.meta('xs_introduce_domain', domid);
    this.host.server.introduceDomain(domid, storeMfn.toString(), storePort);
    // QEMU runs before the guest does (it is spawned while the domain is paused); a PV guest's
    // pcifront only once the guest runs, at the first unpause, so it finds every device that
    // creation attached while the domain was paused, as a real guest's pcifront does at boot.
    if (m.hvm) await this.host.startGuest(m);
    else this.notBooted.add(domid);
  }

  /** PV domains of this process that were introduced but never unpaused (no pcifront yet). */
  private readonly notBooted = new Set<number>();

  async consoleNodesWritten(domid: number): Promise<void> {
    await this.host.xs.write(`/local/domain/${domid}/console/tty`, `/dev/pts/sim${domid}`);
  }

  async pause(domid: number): Promise<void> {
    this.meta('xc_domain_pause', domid).paused = true;
  }

  async unpause(domid: number): Promise<void> {
    const m = this.meta('xc_domain_unpause', domid);
    m.paused = false;
    if (this.notBooted.delete(domid)) await this.host.startGuest(m);
  }

  async remoteShutdown(domid: number, _code: ShutdownCode): Promise<void> {
    // The simulated hypervisor has no shut-down state: a shut-down guest is stopped at once,
    // which is what the monitor's default action (destroy) would make of it.
    this.meta('xc_domain_shutdown', domid).paused = true;
  }

  async destroyDomain(domid: number): Promise<void> {
    this.meta('xc_domain_destroy', domid);
    await this.host.stopGuest(domid);
    this.host.hv.destroyDomain(domid);
    this.host.state.domains = this.host.state.domains.filter((d) => d.domid !== domid);
    delete this.host.state.qemu[String(domid)];
    delete this.host.state.guests[String(domid)];
    if (this.host.server.isDomainIntroduced(domid)) this.host.server.releaseDomain(domid);
  }

  async close(): Promise<void> {}
}
