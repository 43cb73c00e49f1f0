/**
 * An in-memory Xen 4.17 for the simulated host: domains, PCI device ownership (dom0, the
 * quarantine owner DOMID_IO, or a guest), and the ioport/iomem/irq permissions each domain holds.
 * It refuses what the hypervisor refuses, with Xen's errno (xen/drivers/passthrough/pci.c and
 * iommu.c @RELEASE-4.17.0):
 * - every IOMMU domctl on a domain created without `XEN_DOMCTL_CDF_iommu` → EOPNOTSUPP (this is
 *   what makes hot-attach to a guest created without `passthrough=` fail);
 * - test_assign of a device not owned by dom0 or DOMID_IO, or unknown → EINVAL ("already
 *   assigned, or non-existent");
 * - assign of a device owned by another guest → EBUSY; unknown → ENODEV;
 * - deassign of a device the domain does not own → ENODEV;
 * - permission and pirq calls on a domain that does not exist → ESRCH.
 * State is plain JSON so the simulated host can persist it between CLI invocations.
 */
import type { PciHypervisor } from '../hypervisor';
import { DOMID_INVALID, DOMID_IO, HypervisorError } from '../hypervisor';

export interface SimDomainState {
  domid: number;
  hvm: boolean;
  /** Created with XEN_DOMCTL_CDF_iommu (passthrough enabled). */
  iommu: boolean;
  dying: boolean;
  /** Inclusive [first, last] ranges, sorted and merged. */
  ioports: [number, number][];
  /** Inclusive [first, last] frame ranges as decimal strings (frames can exceed 2^53). */
  iomem: [string, string][];
  irqs: number[];
  /** irq → pirq for IRQs mapped into this domain. */
  pirqs: Record<string, number>;
  /** The memory map the guest reads (XENMEM_memory_map), as xc_domain_set_memory_map left it. */
  memoryMap?: SimE820Entry[];
}

/** A `struct e820entry` in the state file (hex strings: JSON has no 64-bit integers). */
export interface SimE820Entry {
  addr: string;
  size: string;
  type: number;
}

/**
 * The host map XENMEM_machine_memory_map answers when the state names none: the one Xen printed
 * at boot in the served Xen VM (QEMU q35, 5 GiB; test/xen/work/runs/<run>/serial.log,
 * "Xen-e820 RAM map"). A real Xen adds reserved entries for the holes dom0 may not map.
 */
export const SIM_MACHINE_MEMORY_MAP: readonly SimE820Entry[] = [
  { addr: '0x0', size: '0x9fc00', type: 1 },
  { addr: '0x9fc00', size: '0x400', type: 2 },
  { addr: '0xf0000', size: '0x10000', type: 2 },
  { addr: '0x100000', size: '0x7fedf000', type: 1 },
  { addr: '0x7ffdf000', size: '0x21000', type: 2 },
  { addr: '0xb0000000', size: '0x10000000', type: 2 },
  { addr: '0xfed1c000', size: '0x4000', type: 2 },
  { addr: '0xfffc0000', size: '0x40000', type: 2 },
  { addr: '0x100000000', size: '0x40000000', type: 1 },
  { addr: '0xfd00000000', size: '0x300000000', type: 2 },
];

/** Xen's own E820MAX (xen/arch/x86/include/asm/e820.h): XENMEM_set_memory_map refuses more. */
const XEN_E820MAX = 1024;

export interface SimHypervisorState {
  domains: SimDomainState[];
  /** The host memory map; absent: SIM_MACHINE_MEMORY_MAP. */
  machineMemoryMap?: SimE820Entry[];
  /** sbdf (decimal string) → owning domid (0 = dom0, DOMID_IO = quarantine). */
  pciOwners: Record<string, number>;
}

export function emptyHypervisorState(): SimHypervisorState {
  return { domains: [{ domid: 0, hvm: false, iommu: true, dying: false, ioports: [], iomem: [], irqs: [], pirqs: {} }], pciOwners: {} };
}

export class SimHypervisor implements PciHypervisor {
  constructor(readonly state: SimHypervisorState) {}

  /** The hypervisor learns of host devices as dom0 reports them (PHYSDEVOP_pci_device_add). */
  addPciDevice(sbdf: number): void {
    if (this.state.pciOwners[String(sbdf)] === undefined) this.state.pciOwners[String(sbdf)] = 0;
  }

  owner(sbdf: number): number | undefined {
    return this.state.pciOwners[String(sbdf)];
  }

  createDomain(domid: number, opts: { hvm: boolean; iommu: boolean }): void {
    if (this.find(domid)) throw new HypervisorError('xc_domain_create', 'EINVAL', `domain ${domid} exists`);
    this.state.domains.push({ domid, hvm: opts.hvm, iommu: opts.iommu, dying: false, ioports: [], iomem: [], irqs: [], pirqs: {} });
    this.state.domains.sort((a, b) => a.domid - b.domid);
  }

  /** Destroy: devices go back to quarantine (Xen's default), permissions vanish with the domain. */
  destroyDomain(domid: number): void {
    this.get('xc_domain_destroy', domid);
    for (const [sbdf, owner] of Object.entries(this.state.pciOwners)) {
      if (owner === domid) this.state.pciOwners[sbdf] = DOMID_IO;
    }
    this.state.domains = this.state.domains.filter((d) => d.domid !== domid);
  }

  domain(domid: number): SimDomainState | undefined {
    return this.find(domid);
  }

  async testAssignDevice(domid: number, sbdf: number): Promise<void> {
    // As Xen 4.17: DOMID_INVALID asks without a target; the caller's own domain (dom0 here) is
    // refused as self-assignment, whatever the device.
    if (domid === 0) throw new HypervisorError('xc_test_assign_device', 'EINVAL', 'self-assignment is not supported');
    const d = domid === DOMID_INVALID ? this.get('xc_test_assign_device', 0) : this.get('xc_test_assign_device', domid);
    if (!d.iommu) throw new HypervisorError('xc_test_assign_device', 'EOPNOTSUPP');
    const owner = this.owner(sbdf);
    if (owner === undefined || (owner !== 0 && owner !== DOMID_IO)) {
      throw new HypervisorError('xc_test_assign_device', 'EINVAL', 'already assigned, or non-existent');
    }
  }

  /** XENMEM_machine_memory_map: Xen refuses a table without room for one entry more (EINVAL). */
  machineMemoryMap(maxEntries: number): SimE820Entry[] {
    const map = this.state.machineMemoryMap ?? SIM_MACHINE_MEMORY_MAP;
    if (maxEntries < map.length + 1) throw new HypervisorError('xc_get_machine_memory_map', 'EINVAL');
    return map.map((e) => ({ ...e }));
  }

  /** XENMEM_set_memory_map: any existing domain, at most Xen's E820MAX entries. */
  setMemoryMap(domid: number, map: readonly SimE820Entry[]): void {
    const d = this.get('xc_domain_set_memory_map', domid);
    if (map.length > XEN_E820MAX) throw new HypervisorError('xc_domain_set_memory_map', 'EINVAL');
    d.memoryMap = map.map((e) => ({ ...e }));
  }

  async assignDevice(domid: number, sbdf: number, flags: number): Promise<void> {
    const call = 'xc_assign_device';
    const d = domid === DOMID_IO ? undefined : this.get(call, domid);
    if (d && !d.iommu) throw new HypervisorError(call, 'EOPNOTSUPP');
    if (d?.dying || (flags & ~1) !== 0) throw new HypervisorError(call, 'EINVAL');
    const owner = this.owner(sbdf);
    if (owner === undefined) throw new HypervisorError(call, 'ENODEV');
    if (owner === domid) return;
    if (owner !== 0 && owner !== DOMID_IO) throw new HypervisorError(call, 'EBUSY');
    this.state.pciOwners[String(sbdf)] = domid;
  }

  async deassignDevice(domid: number, sbdf: number): Promise<void> {
    const call = 'xc_deassign_device';
    const d = domid === DOMID_IO ? undefined : this.get(call, domid);
    if (d && !d.iommu) throw new HypervisorError(call, 'EOPNOTSUPP');
    if (this.owner(sbdf) !== domid) throw new HypervisorError(call, 'ENODEV');
    // A guest's device goes to quarantine (iommu=quarantine is the 4.17 default); a quarantined
    // device goes back to dom0.
    this.state.pciOwners[String(sbdf)] = domid === DOMID_IO ? 0 : DOMID_IO;
  }

  async ioportPermission(domid: number, first: number, nr: number, allow: boolean): Promise<void> {
    const d = this.get('xc_domain_ioport_permission', domid);
    if (nr <= 0 || first + nr - 1 > 0xffff) throw new HypervisorError('xc_domain_ioport_permission', 'EINVAL');
    d.ioports = editRanges(d.ioports.map(([a, b]) => [BigInt(a), BigInt(b)]), BigInt(first), BigInt(first + nr - 1), allow).map(
      ([a, b]) => [Number(a), Number(b)],
    );
  }

  async iomemPermission(domid: number, first: bigint, nr: bigint, allow: boolean): Promise<void> {
    const d = this.get('xc_domain_iomem_permission', domid);
    if (nr <= 0n) throw new HypervisorError('xc_domain_iomem_permission', 'EINVAL');
    d.iomem = editRanges(d.iomem.map(([a, b]) => [BigInt(a), BigInt(b)]), first, first + nr - 1n, allow).map(([a, b]) => [
      a.toString(),
      b.toString(),
    ]);
  }

  async irqPermission(domid: number, pirq: number, allow: boolean): Promise<void> {
    const d = this.get('xc_domain_irq_permission', domid);
    const has = d.irqs.includes(pirq);
    if (allow && !has) d.irqs = [...d.irqs, pirq].sort((a, b) => a - b);
    if (!allow) d.irqs = d.irqs.filter((i) => i !== pirq);
  }

  async mapPirq(domid: number, irq: number): Promise<number> {
    const d = this.get('xc_physdev_map_pirq', domid);
    // PV dom0 sees GSIs as pirqs of the same number; mapping into a guest reuses it.
    d.pirqs[String(irq)] = irq;
    return irq;
  }

  async unmapPirq(domid: number, pirq: number): Promise<void> {
    const d = this.get('xc_physdev_unmap_pirq', domid);
    const key = Object.keys(d.pirqs).find((k) => d.pirqs[k] === pirq);
    if (key === undefined) throw new HypervisorError('xc_physdev_unmap_pirq', 'EINVAL', `pirq ${pirq} not mapped`);
    delete d.pirqs[key];
  }

  private find(domid: number): SimDomainState | undefined {
    return this.state.domains.find((d) => d.domid === domid);
  }

  private get(call: string, domid: number): SimDomainState {
    const d = this.find(domid);
    if (!d) throw new HypervisorError(call, 'ESRCH', `no domain ${domid}`);
    return d;
  }
}

/** Adds or removes the inclusive range [lo, hi] from a sorted, merged range list. */
export function editRanges(ranges: [bigint, bigint][], lo: bigint, hi: bigint, add: boolean): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  if (add) {
    let [nlo, nhi] = [lo, hi];
    for (const [a, b] of ranges) {
      if (b + 1n < nlo || a > nhi + 1n) out.push([a, b]);
      else {
        nlo = a < nlo ? a : nlo;
        nhi = b > nhi ? b : nhi;
      }
    }
    out.push([nlo, nhi]);
  } else {
    for (const [a, b] of ranges) {
      if (b < lo || a > hi) out.push([a, b]);
      else {
        if (a < lo) out.push([a, lo - 1n]);
        if (b > hi) out.push([hi + 1n, b]);
      }
    }
  }
  return out.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}
