/**
 * Plans `pci-detach`. The guest lets go first, then dom0 cleans up — xend's order. libxl 4.17
 * does it the other way round for PV (reset and deassign while pcifront still drives the
 * device; toolstack-behaviour.md §2.6), and never revokes HVM permissions.
 *  1. PV: `state-N=5` + backend Reconfiguring, wait for pcifront to drop the device (backend back
 *     to Connected). HVM: QMP device_del, wait until the device leaves `query-pci`;
 *     qemu-traditional: `pci-rem` through xenstore, wait for `pci-removed`, then `running` back.
 *  2. reset, 3. xc_deassign_device (Xen parks it in quarantine), 4. revoke every permission
 *     granted at attach (64-bit exact), 5. remove the backend nodes (compacting indices), then the
 *     device's entry in the domain's stored config for xl (libxl 4.17 leaves it there, and its
 *     readers skip entries the backend no longer lists; xentool keeps the file itself right),
 *     6. drop `/libxl/pci/<bdf>/domid` last, so the device is not offered as assignable before it is clean.
 * Every step can be undone — the first by plugging the device back into the guest — so a
 * failure at any point leaves the device attached exactly as before.
 */
import { XentoolError } from '../errors';
import type { Plan, Step } from '../plan/plan';
import { permissionSteps, refuseUnsupportedDm } from './plan-pci-attach';
import type { Bdf } from './types';
import { bdfText, sameBdf } from './types';
import type { DeviceView, DomainView } from './view';

export interface DetachRequest {
  bdf: Bdf;
  force: boolean;
  timeoutMs: number;
}

export function planPciDetach(req: DetachRequest, domain: DomainView, device: DeviceView): Plan {
  const b = bdfText(req.bdf);
  const title = `pci-detach ${domain.name ?? domain.domid} ${b}`;
  if (!domain.attached.some((a) => sameBdf(a, req.bdf))) {
    throw new XentoolError('ERR_NOT_ATTACHED', `PCI device ${b} is not attached to domain ${domain.domid}`);
  }
  refuseUnsupportedDm(domain);
  const steps: Step[] = [];
  if (domain.hvm && domain.deviceModel === 'qemu-xen-traditional') {
    // libxl skips pci-rem altogether with -f; we ask the guest anyway and, forced, go on after
    // the timeout (as for qemu-xen), so a cooperative guest still lets go cleanly.
    steps.push(
      { op: 'qemuTrad.pciRem', domid: domain.domid, bdf: b, timeoutMs: req.timeoutMs, force: req.force, why: 'the guest must eject the device before dom0 touches it' },
      { op: 'qemuTrad.resume', domid: domain.domid, why: "qemu-dm's answer is put back to running, as libxl does" },
    );
  } else {
    steps.push(
      domain.hvm
        ? { op: 'hvm.deviceDel', domid: domain.domid, bdf: b, timeoutMs: req.timeoutMs, force: req.force, why: 'the guest must eject the device before dom0 touches it' }
        : { op: 'backend.release', domid: domain.domid, bdf: b, timeoutMs: req.timeoutMs, force: req.force, why: 'pcifront must drop the device before it is reset or deassigned' },
    );
  }
  steps.push({ op: 'pci.reset', bdf: b, why: 'clear what the guest left in the device' });
  steps.push({ op: 'xc.deassign', domid: domain.domid, bdf: b, why: 'take the device out of the guest IOMMU context (Xen quarantines it)' });
  steps.push(...permissionSteps(domain.domid, device, false));
  steps.push({ op: 'backend.remove', domid: domain.domid, bdf: b, why: 'drop the record; higher indices move down as libxl expects' });
  steps.push({
    op: 'libxl.pcidevRemove',
    domid: domain.domid,
    bdf: b,
    why: "the domain's stored config for xl stops listing the device together with the record that says it is attached (libxl's own readers skip an entry the backend no longer lists; whatever reads the file itself does not)",
  });
  steps.push({ op: 'libxl.clearDomid', bdf: b, why: 'only now is the device offered as assignable again' });
  return { title, steps };
}
