/**
 * Creating and destroying domains on the simulated host (`sim-create`, `sim-destroy`), until the
 * real `create` lands. The xenstore skeleton is what xl writes for a domain (name, domid, vm,
 * the `/libxl/<domid>` entries), so pci-list and friends find what they would on a real host;
 * `pci = [...]` devices go through the same attach code as `pci-attach`, and a domain whose
 * devices cannot be attached is destroyed again with nothing left behind.
 */
import { randomUUID } from 'node:crypto';
import type { DomainConfig } from '../../config/domain-config';
import { XentoolError } from '../../errors';
import type { OpOptions } from '../../pci/pci-ops';
import { pciAttach, pciDetach } from '../../pci/pci-ops';
import { readAttached } from '../../pci/backend-xs';
import { destroyAllUserdata } from '../../domain/libxl-userdata';
import type { SimDomainMeta, SimHost } from './sim-host';

export async function createSimDomain(host: SimHost, cfg: DomainConfig, o: OpOptions): Promise<number> {
  const doms = await host.domains();
  if (doms.some((d) => d.name === cfg.name)) {
    throw new XentoolError('ERR_DOMAIN_EXISTS', `domain with name "${cfg.name}" already exists.`);
  }
  const wantsPci = cfg.pci.length > 0;
  const passthrough = cfg.passthrough ?? (wantsPci ? 'enabled' : 'disabled');
  if (passthrough === 'disabled' && wantsPci) throw new XentoolError('ERR_CONFIG_VALUE', `${cfg.source}: passthrough disabled but devices are specified`);
  if (passthrough !== 'disabled' && !host.state.iommu) {
    throw new XentoolError('ERR_NO_IOMMU', `${cfg.source}: passthrough not supported on this platform (no IOMMU)`);
  }
  const hvm = cfg.type === 'hvm';
  const memMiB = cfg.memory ?? (hvm ? 1024 : 128);
  const maxMiB = cfg.maxmem ?? memMiB;
  if (hvm && passthrough !== 'disabled' && memMiB < maxMiB) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${cfg.source}: IOMMU required for device passthrough but not supported together with PoD (memory < maxmem)`);
  }
  if (o.dryRun) {
    o.out(`plan: sim-create ${cfg.name}\n  1. create ${hvm ? 'HVM' : 'PV'} domain (${memMiB} MiB, ${cfg.vcpus} vcpus, passthrough=${passthrough})\n`);
    return -1;
  }
  const domid = host.state.nextDomid++;
  const meta: SimDomainMeta = {
    domid,
    uuid: cfg.uuid ?? randomUUID(),
    hvm,
    memKiB: memMiB * 1024,
    maxMemKiB: maxMiB * 1024,
    vcpus: cfg.vcpus,
    paused: false,
    createdAtMs: Date.now(),
  };
  host.hv.createDomain(domid, { hvm, iommu: passthrough !== 'disabled' });
  host.state.domains.push(meta);
  host.server.introduceDomain(domid, 0xfefff - domid, 1);
  const dom = `/local/domain/${domid}`;
  await host.xs.transaction(async (tx) => {
    await tx.mkdir(dom);
    await tx.setPerms(dom, [{ domid: 0, perm: 'n' }, { domid, perm: 'r' }]);
    await tx.write(`${dom}/name`, cfg.name);
    await tx.write(`${dom}/domid`, String(domid));
    await tx.write(`${dom}/vm`, `/vm/${meta.uuid}`);
    await tx.mkdir(`${dom}/device`);
    await tx.setPerms(`${dom}/device`, [{ domid, perm: 'n' }]);
    await tx.write(`/vm/${meta.uuid}/name`, cfg.name);
    await tx.write(`/libxl/${domid}/type`, hvm ? 'hvm' : 'pv');
    await tx.write(`/libxl/${domid}/dm-version`, cfg.device_model_version === 'qemu-xen-traditional' ? 'qemu_xen_traditional' : 'qemu_xen');
    // libxl makes the device model's directory before starting qemu-dm (libxl_dm.c); qemu-dm
    // then writes its state there.
    if (hvm && cfg.device_model_version === 'qemu-xen-traditional') await tx.mkdir(`/local/domain/0/device-model/${domid}`);
  });
  await host.startGuest(meta);
  try {
    for (const p of cfg.pci) {
      await pciAttach(
        host,
        String(domid),
        {
          bdf: { domain: p.domain, bus: p.bus, dev: p.dev, func: p.func },
          ...(p.vdevfn ? { vslot: p.vdevfn >> 3 } : {}),
          permissive: p.permissive,
          msitranslate: p.msitranslate,
          powerMgmt: p.power_mgmt,
          seize: p.seize,
          rdmPolicy: p.rdm_policy === 'relaxed' ? 'relaxed' : 'strict',
          force: false,
          timeoutMs: 10_000,
        },
        o,
      );
    }
  } catch (e) {
    await destroySimDomain(host, domid, o);
    const msg = e instanceof Error ? e.message : String(e);
    throw new XentoolError((e as { code?: string }).code ?? 'ERR_CREATE_FAILED', `${cfg.source}: creating ${cfg.name} failed while attaching its PCI devices: ${msg}; the domain was destroyed`);
  }
  return domid;
}

/** Destroy as libxl does: force-remove every PCI device, then drop the domain and its nodes. */
export async function destroySimDomain(host: SimHost, domid: number, o: OpOptions): Promise<void> {
  const meta = host.state.domains.find((d) => d.domid === domid);
  if (!meta || domid === 0) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `domain ${domid} does not exist`);
  for (const a of await readAttached(host.xs, domid)) {
    await pciDetach(host, String(domid), a, { force: true, timeoutMs: 1000 }, { ...o, dryRun: false });
  }
  await host.stopGuest(domid);
  host.hv.destroyDomain(domid);
  host.state.domains = host.state.domains.filter((d) => d.domid !== domid);
  delete host.state.qemu[String(domid)];
  delete host.state.guests[String(domid)];
  await host.xs.rm(`/vm/${meta.uuid}`);
  await host.xs.rm(`/libxl/${domid}`);
  await host.xs.rm(`/local/domain/0/device-model/${domid}`);
  await host.xs.rm(`/local/domain/${domid}`);
  destroyAllUserdata(host.xenLibDir, domid, meta.uuid);
  host.server.releaseDomain(domid);
}
