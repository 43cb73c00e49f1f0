/**
 * PciHypervisor on libxenctrl. Failures surface as the bindings' XcError, which is already
 * errno-shaped ({syscall, errno, code: 'EBUSY'}) like the simulator's HypervisorError.
 */
import type { XcInterface } from '@xentool/libxc-bindings';
import { HypervisorError, type PciHypervisor, XEN_DOMCTL_DEV_RDM_RELAXED } from '../hypervisor';

export type PciHandle = Pick<
  XcInterface,
  'testAssignDevice' | 'assignDevice' | 'deassignDevice' | 'ioportPermission' | 'iomemPermission' | 'irqPermission' | 'mapPirq' | 'unmapPirq'
>;

export class RealPciHypervisor implements PciHypervisor {
  constructor(private readonly xc: PciHandle) {}

  async testAssignDevice(domid: number, sbdf: number): Promise<void> {
    this.xc.testAssignDevice(domid, sbdf);
  }

  async assignDevice(domid: number, sbdf: number, flags: number): Promise<void> {
    // Xen 4.17 accepts only 0 and XEN_DOMCTL_DEV_RDM_RELAXED and answers EINVAL otherwise;
    // the bindings take the flag as a boolean, so anything else is refused the same way here.
    if (flags !== 0 && flags !== XEN_DOMCTL_DEV_RDM_RELAXED) throw new HypervisorError('xc_assign_device', 'EINVAL', `flags ${flags}`);
    this.xc.assignDevice(domid, sbdf, { rdmRelaxed: flags === XEN_DOMCTL_DEV_RDM_RELAXED });
  }

  async deassignDevice(domid: number, sbdf: number): Promise<void> {
    this.xc.deassignDevice(domid, sbdf);
  }

  async ioportPermission(domid: number, firstPort: number, nrPorts: number, allow: boolean): Promise<void> {
    this.xc.ioportPermission(domid, firstPort, nrPorts, allow);
  }

  async iomemPermission(domid: number, firstFrame: bigint, nrFrames: bigint, allow: boolean): Promise<void> {
    this.xc.iomemPermission(domid, { firstMfn: firstFrame, nrMfns: nrFrames }, allow);
  }

  async irqPermission(domid: number, pirq: number, allow: boolean): Promise<void> {
    this.xc.irqPermission(domid, pirq, allow);
  }

  async mapPirq(domid: number, irq: number): Promise<number> {
    return this.xc.mapPirq(domid, irq);
  }

  async unmapPirq(domid: number, pirq: number): Promise<void> {
    this.xc.unmapPirq(domid, pirq);
  }
}
