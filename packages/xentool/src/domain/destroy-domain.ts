/**
 * Destroy, in libxl 4.17's order (libxl_domain.c libxl__destroy_domid): PCI devices first (so
 * they go back to pciback while the guest can still be told), pause, the xenstore nodes dom0
 * owns, then the hypervisor's domain_kill. xenstored and xenconsoled clean up their own side
 * when they see the domain die (@releaseDomain); libxl sends no XS_RELEASE and neither do we.
 */
import { existsSync } from 'node:fs';
import { XentoolError } from '../errors';
import type { DomainOps } from './domain-ops';
import { destroyAllUserdata } from './libxl-userdata';
import { removeDomainNodes } from './xs-domain';

export interface DestroyOptions {
  /** A teardown after a failed create: carry on past errors, report them at the end. */
  force?: boolean;
  /** Force-removes the domain's PCI devices (pci-ops' detach on the host). */
  detachAllPci?: (domid: number) => Promise<void>;
  /** How long to wait for the hypervisor to let go of the domain. */
  goneTimeoutMs?: number;
  /** A line for stderr at once (waiting for libxl's userdata lock). */
  notice?(text: string): void;
  /** How long to wait for libxl's userdata lock (default 120 s). */
  lockTimeoutMs?: number;
}

export async function destroyDomain(ops: DomainOps, domid: number, o: DestroyOptions = {}): Promise<void> {
  if (domid === 0) throw new XentoolError('ERR_DOMAIN_INVALID', 'domain 0 cannot be destroyed');
  const record = (await ops.domains()).find((d) => d.domid === domid);
  const exists = record !== undefined;
  if (!exists && !o.force) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `Error: Domain '${domid}' does not exist.`);
  const failures: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      if (!o.force) throw e;
      failures.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  if (exists && o.detachAllPci) await attempt('removing PCI devices', () => o.detachAllPci!(domid));
  // Paused, the guest cannot react to its nodes vanishing half-way.
  if (exists) await attempt('pause', () => ops.pause(domid));
  // HVM: the device model goes after the devices it served and before the nodes that name it
  // (libxl__destroy_domid: pause, libxl__destroy_device_model, then the devices' nodes).
  const dmPid = await ops.xs.read(`/local/domain/${domid}/image/device-model-pid`).catch(() => undefined);
  if (dmPid !== undefined) await attempt('stopping the device model', () => ops.killDeviceModel(domid, Number.parseInt(dmPid, 10) || undefined));
  await attempt('removing xenstore nodes', () => ops.xs.transaction((tx) => removeDomainNodes(tx, domid)));
  // libxl removes the domain's userdata files (its stored config among them) here, between the
  // xenstore nodes and domain_kill; the names carry the uuid, which the hypervisor still knows.
  // Under libxl's userdata lock (libxl__destroy_domid too), whose unlock removes the lock file.
  if (record && existsSync(ops.xenLibDir)) {
    await attempt('removing libxl userdata files', async () => {
      const { withDomainUserdataLock } = await import('../libxl/userdata-lock');
      const lock = { timeoutMs: o.lockTimeoutMs ?? 120_000, ...(o.notice ? { onWait: o.notice } : {}) };
      await withDomainUserdataLock(ops.xenLibDir, domid, record.uuid, lock, () => void destroyAllUserdata(ops.xenLibDir, domid, record.uuid));
    });
  }
  if (exists) await attempt('xc_domain_destroy', () => ops.destroyDomain(domid));
  // domain_kill returns once the pages are being freed; the domain leaves the list when the
  // last reference goes (a pty or a grant mapping held by a daemon can keep it a while).
  const deadline = Date.now() + (o.goneTimeoutMs ?? 10_000);
  while (exists && Date.now() < deadline) {
    if (!(await ops.domains()).some((d) => d.domid === domid)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (failures.length > 0) throw new XentoolError('ERR_DESTROY_INCOMPLETE', `destroying domain ${domid} left work undone: ${failures.join('; ')}`);
}
