/**
 * `pci-recover --forget DOMAIN BDF`: the repair for a device a domain's records list but Xen no
 * longer gives it (pci-audit's BACKEND_NOT_ASSIGNED). pci-detach cannot do it: its
 * xc_deassign_device step fails with ENODEV because the domain does not own the device, and the
 * whole detach is rolled back. This plan is a detach without that step: the guest is asked to let
 * go (forced: its device is already dead to it), the permissions are revoked, the records go. It
 * runs under the same lock and intent log as every other plan.
 */
import { DOMID_INVALID } from '../host/hypervisor';
import { XentoolError } from '../errors';
import type { Plan } from '../plan/plan';
import { domainView, deviceView, resolveDomain, stepHandlersFor, type OpOptions } from '../pci/pci-ops';
import type { PciHost } from '../pci/pci-host';
import { permissionSteps } from '../pci/plan-pci-attach';
import type { Bdf } from '../pci/types';
import { bdfText, machineSbdf, sameBdf } from '../pci/types';
import { applyWithIntent, refuseIfInterrupted, takeLock, type GuardOptions } from './guarded-apply';
import { checkpointFor, intentStoreFor, recoveryEnvFor } from './host-intents';

export async function forgetDevice(host: PciHost, domArg: string, bdf: Bdf, o: OpOptions): Promise<void> {
  const domid = await resolveDomain(host, domArg);
  const b = bdfText(bdf);
  const cp = checkpointFor(host);
  const guard: GuardOptions = {
    pid: process.pid,
    ...(cp ? { checkpoint: cp } : {}),
    ...(o.killAt ? { killAt: o.killAt } : {}),
    ...(host.kind === 'real' ? { lock: { timeoutMs: o.lockTimeoutMs ?? 120_000, onWait: (t: string) => (o.notice ?? o.warn)(t) } } : {}),
  };
  const handlers = stepHandlersFor(host, o);
  const store = intentStoreFor(host);
  const lock = o.dryRun ? undefined : await takeLock(guard, `pci-recover --forget ${domid} ${b}`);
  try {
    if (!o.dryRun) await refuseIfInterrupted(store, { devices: [b], domains: [domid] });
    const domain = await domainView(host, domid);
    if (!domain.attached.some((a) => sameBdf(a, bdf))) throw new XentoolError('ERR_NOT_ATTACHED', `PCI device ${b} is not recorded for domain ${domid}`);
    // Refuse where it would be wrong: Xen still gives the device to this domain, so the records
    // are right and pci-detach is the way.
    const owned = await host.hv.testAssignDevice(DOMID_INVALID, machineSbdf(bdf)).then(
      () => false,
      (e: { code?: string }) => e.code === 'EINVAL',
    );
    const exactOwner = (host.hv as { owner?: (s: number) => number | undefined }).owner?.(machineSbdf(bdf));
    if (exactOwner === domid || (exactOwner === undefined && owned)) {
      throw new XentoolError('ERR_DEVICE_IN_USE', `Xen still assigns ${b} to ${exactOwner === domid ? `domain ${domid}` : 'a guest'}; use 'xentool pci-detach ${domid} ${b}'`);
    }
    const device = await deviceView(host, bdf, { targetDomid: domid });
    const plan: Plan = {
      title: `pci-recover --forget ${domain.name ?? domid} ${b}`,
      steps: [
        ...(domain.hvm && domain.deviceModel === 'qemu-xen-traditional'
          ? [
              { op: 'qemuTrad.pciRem', domid, bdf: b, timeoutMs: 2000, force: true, why: 'qemu-dm stops showing the guest a device it cannot use' },
              { op: 'qemuTrad.resume', domid, why: "qemu-dm's answer is put back to running" },
            ]
          : domain.hvm
          ? [{ op: 'hvm.deviceDel', domid, bdf: b, timeoutMs: 2000, force: true, why: 'QEMU stops showing the guest a device it cannot use' }]
          : [{ op: 'backend.release', domid, bdf: b, timeoutMs: 2000, force: true, why: 'pcifront drops a device it can no longer reach' }]),
        ...permissionSteps(domid, device, false),
        { op: 'backend.remove', domid, bdf: b, why: 'drop the stale record' },
        { op: 'libxl.clearDomid', bdf: b, why: 'the device is no longer in use by the domain' },
      ],
    };
    if (o.dryRun) {
      const { formatPlan } = await import('../plan/plan');
      o.out(formatPlan(plan, handlers, o.verbose));
      return;
    }
    await applyWithIntent(store, recoveryEnvFor(host, handlers), plan, handlers, guard);
  } finally {
    await lock?.release();
  }
}
