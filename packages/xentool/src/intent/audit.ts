/**
 * `pci-audit`: what the hypervisor, xenstore (the PCI backends and libxl's `/libxl/pci`
 * bookkeeping), dom0's driver bindings and the intent log each say about every passthrough
 * device, and every place where they disagree, with the command that repairs it.
 *
 * What the hypervisor can tell differs by host: the simulator knows each device's owner and each
 * domain's I/O permissions exactly; on real Xen 4.17 there is no call that lists either, so the
 * audit asks xc_test_assign_device on dom0, which answers EINVAL exactly when some guest (not
 * dom0, not quarantine) owns the device — "assigned or not", without the guest's id — and
 * permissions are not checked (the report says so).
 */
import { readInventory } from '@xentool/pciback';
import { DOMID_INVALID, DOMID_IO } from '../host/hypervisor';
import { readAttached } from '../pci/backend-xs';
import type { PciHost } from '../pci/pci-host';
import { permissionSteps } from '../pci/plan-pci-attach';
import type { AttachedPci } from '../pci/types';
import { bdfText, machineSbdf } from '../pci/types';
import type { DeviceView } from '../pci/view';
import type { IntentStore } from './intent-store';
import { describeIntent } from './guarded-apply';

export interface AuditFinding {
  /** Stable: scripts match on it. */
  code: string;
  device?: string;
  domid?: number;
  message: string;
  /** A command line that repairs it. */
  repair: string;
}

export interface AuditReport {
  clean: boolean;
  checked: {
    devices: string[];
    domains: number[];
    intents: number;
    /** `exact`: the owning domain is known; `assigned-or-not`: only whether some guest owns it. */
    ownership: 'exact' | 'assigned-or-not';
    permissions: boolean;
  };
  findings: AuditFinding[];
}

const PCIBACK = 'pciback';

/** The simulator's extra queries; absent on the real host. */
interface ExactHypervisor {
  owner(sbdf: number): number | undefined;
  domain(domid: number): { ioports: [number, number][]; iomem: [string, string][]; irqs: number[] } | undefined;
}

function exact(hv: unknown): ExactHypervisor | undefined {
  const h = hv as Partial<ExactHypervisor>;
  return typeof h.owner === 'function' && typeof h.domain === 'function' ? (h as ExactHypervisor) : undefined;
}

function keyToBdf(key: string): string | undefined {
  const m = /^([0-9a-f]{4})-([0-9a-f]{2})-([0-9a-f]{2})-([0-7])$/.exec(key);
  return m ? `${m[1]}:${m[2]}:${m[3]}.${m[4]}` : undefined;
}

export async function auditHost(host: PciHost, store: IntentStore): Promise<AuditReport> {
  const xs = host.xs;
  const findings: AuditFinding[] = [];
  const add = (f: AuditFinding) => findings.push(f);
  const ex = exact(host.hv);

  const live = new Map((await host.domains()).map((d) => [d.domid, d]));
  const inventory = readInventory(host.sysfs);
  const byBdf = new Map(inventory.map((d) => [d.bdf, d]));

  // Unfinished operations first: everything else they touch may be explained by them.
  const intents = (await store.list()).filter((r) => r.status !== 'done');
  for (const r of intents) {
    add({
      code: r.status === 'stuck' ? 'INTENT_STUCK' : 'INTENT_OPEN',
      message: `unfinished operation ${describeIntent(r)}${r.failures?.length ? `: ${r.failures.join('; ')}` : ''}`,
      repair: 'xentool pci-recover',
    });
  }

  // What the backends record, per domain.
  const backends = new Map<number, AttachedPci[]>();
  for (const d of await xs.directory('/local/domain/0/backend/pci')) {
    const domid = Number.parseInt(d, 10);
    if (!Number.isInteger(domid)) continue;
    if (!live.has(domid)) {
      add({
        code: 'BACKEND_DEAD_DOMAIN',
        domid,
        message: `a PCI backend is recorded for domain ${domid}, which does not exist`,
        repair: `xenstore-rm /local/domain/0/backend/pci/${domid}`,
      });
      continue;
    }
    backends.set(domid, await readAttached(xs, domid));
  }
  for (const domid of live.keys()) {
    if (domid === 0) continue;
    const fe = `/local/domain/${domid}/device/pci`;
    if ((await xs.read(fe)) !== undefined && !backends.has(domid)) {
      add({ code: 'FRONTEND_WITHOUT_BACKEND', domid, message: `domain ${domid} has a PCI frontend directory but no backend`, repair: `xenstore-rm ${fe}` });
    }
  }

  // libxl's bookkeeping: which guest uses which device.
  const libxlDomid = new Map<string, number>();
  for (const key of await xs.directory('/libxl/pci')) {
    const bdf = keyToBdf(key);
    const v = await xs.read(`/libxl/pci/${key}/domid`);
    if (!bdf || v === undefined) continue;
    const domid = Number.parseInt(v, 10);
    libxlDomid.set(bdf, domid);
    if (!live.has(domid)) {
      add({
        code: 'LIBXL_DOMID_DEAD',
        device: bdf,
        domid,
        message: `${bdf} is recorded as used by domain ${domid} (/libxl/pci/${key}/domid), which does not exist`,
        repair: `xenstore-rm /libxl/pci/${key}/domid`,
      });
    } else if (!(backends.get(domid) ?? []).some((a) => bdfText(a) === bdf)) {
      add({
        code: 'LIBXL_DOMID_NO_BACKEND',
        device: bdf,
        domid,
        message: `${bdf} is recorded as used by domain ${domid}, but domain ${domid}'s PCI backend does not list it`,
        repair: `xenstore-rm /libxl/pci/${key}/domid`,
      });
    }
  }

  const devices = new Set<string>();
  for (const d of inventory) if (d.driver === PCIBACK) devices.add(d.bdf);
  for (const b of libxlDomid.keys()) devices.add(b);
  for (const list of backends.values()) for (const a of list) devices.add(bdfText(a));

  const ownerOf = async (bdf: string): Promise<number | 'guest' | undefined> => {
    const [dom, bus, rest] = bdf.split(':');
    const [dev, fn] = rest!.split('.');
    const sbdf = machineSbdf({ domain: parseInt(dom!, 16), bus: parseInt(bus!, 16), dev: parseInt(dev!, 16), func: parseInt(fn!, 16) });
    if (ex) return ex.owner(sbdf);
    try {
      await host.hv.testAssignDevice(DOMID_INVALID, sbdf);
      return undefined;
    } catch (e) {
      return (e as { code?: string }).code === 'EINVAL' ? 'guest' : undefined;
    }
  };
  // Every device the simulator's hypervisor gives to a guest or holds in quarantine is a
  // passthrough device too.
  if (ex) {
    for (const d of inventory) {
      const o = await ownerOf(d.bdf);
      if (typeof o === 'number' && o !== 0) devices.add(d.bdf);
    }
  }

  for (const bdf of [...devices].sort()) {
    const dev = byBdf.get(bdf);
    const key = bdf.replace(/[:.]/g, '-');
    const recordedIn = [...backends].filter(([, list]) => list.some((a) => bdfText(a) === bdf)).map(([d]) => d);
    const owner = await ownerOf(bdf);
    const inGuest = owner === 'guest' || (typeof owner === 'number' && owner !== 0 && owner !== DOMID_IO);
    if (recordedIn.length > 1) {
      add({ code: 'BACKEND_TWICE', device: bdf, message: `${bdf} is recorded in the PCI backends of domains ${recordedIn.join(' and ')}`, repair: `xentool pci-detach -f ${recordedIn[1]} ${bdf}` });
    }
    for (const domid of recordedIn) {
      if (libxlDomid.get(bdf) !== domid) {
        add({
          code: 'BACKEND_NO_LIBXL',
          device: bdf,
          domid,
          message: `domain ${domid}'s PCI backend lists ${bdf}, but /libxl/pci/${key}/domid ${libxlDomid.has(bdf) ? `says ${libxlDomid.get(bdf)}` : 'is missing'}`,
          repair: `xenstore-write /libxl/pci/${key}/domid ${domid}`,
        });
      }
      const xenAgrees = ex ? owner === domid : inGuest;
      if (!xenAgrees) {
        add({
          code: 'BACKEND_NOT_ASSIGNED',
          device: bdf,
          domid,
          message: `domain ${domid}'s PCI backend lists ${bdf}, but Xen has not assigned it to domain ${domid}${typeof owner === 'number' ? ` (owner: ${ownerName(owner)})` : ''}`,
          repair: `xentool pci-recover --forget ${domid} ${bdf}`,
        });
      }
      if (dev?.driver !== PCIBACK) {
        add({
          code: 'GUEST_DEVICE_NOT_PCIBACK',
          device: bdf,
          domid,
          message: `${bdf} is given to domain ${domid} but bound to ${dev?.driver ?? 'no driver'} in dom0, not pciback`,
          repair: `xentool pci-detach -f ${domid} ${bdf}`,
        });
      }
    }
    if (inGuest && recordedIn.length === 0) {
      const who = typeof owner === 'number' ? owner : undefined;
      add({
        code: 'ASSIGNED_WITHOUT_RECORD',
        device: bdf,
        ...(who !== undefined ? { domid: who } : {}),
        message: `Xen assigns ${bdf} to ${who !== undefined ? `domain ${who}` : 'a guest'}, but no PCI backend records it`,
        repair: who !== undefined ? `xl destroy ${who}` : `xl destroy <the domain that has it> (xl pci-list shows none)`,
      });
    }
    if (!inGuest && recordedIn.length === 0 && ex && dev) {
      // Bound to pciback while Xen still gives dom0 the IOMMU context is not flagged: that is a
      // device hidden at boot (xen-pciback.hide), which Xen 4.17 quarantines only once a guest
      // has had it; xl leaves it so too.
      if (dev.driver !== PCIBACK && owner === DOMID_IO) {
        add({ code: 'QUARANTINED_IN_DOM0_DRIVER', device: bdf, message: `${bdf} is bound to ${dev.driver ?? 'no driver'} in dom0 but quarantined in Xen`, repair: `xentool pci-assignable-remove ${bdf}` });
      }
    }
  }

  // PV backends must be at rest: Connected, every device Initialised (pciback exported it).
  for (const [domid, list] of backends) {
    if (live.get(domid)?.hvm) continue;
    const state = await xs.read(`/local/domain/0/backend/pci/${domid}/0/state`);
    const restless = list.filter((a) => a.state !== 3);
    if (list.length > 0 && (state !== '4' || restless.length > 0)) {
      add({
        code: 'BACKEND_NOT_CONNECTED',
        domid,
        message: `domain ${domid}'s PCI backend is in state ${state ?? 'none'}${restless.length ? ` with ${restless.map((a) => `${bdfText(a)} in state ${a.state ?? 'none'}`).join(', ')}` : ''}, not Connected`,
        repair: restless.length ? `xentool pci-detach -f ${domid} ${bdfText(restless[0]!)}` : `xentool pci-detach -f ${domid} ${bdfText(list[0]!)}`,
      });
    }
  }

  if (ex) for (const domid of live.keys()) if (domid !== 0) auditPermissions(domid, backends.get(domid) ?? [], byBdf, ex, add);

  return {
    clean: findings.length === 0,
    checked: {
      devices: [...devices].sort(),
      domains: [...live.keys()].filter((d) => d !== 0).sort((a, b) => a - b),
      intents: intents.length,
      ownership: ex ? 'exact' : 'assigned-or-not',
      permissions: ex !== undefined,
    },
    findings,
  };
}

function ownerName(o: number): string {
  return o === 0 ? 'dom0' : o === DOMID_IO ? 'quarantine (dom_io)' : `domain ${o}`;
}

/** The grants a domain holds must be exactly those of the devices its backend lists. */
function auditPermissions(
  domid: number,
  attached: AttachedPci[],
  byBdf: Map<string, ReturnType<typeof readInventory>[number]>,
  ex: ExactHypervisor,
  add: (f: AuditFinding) => void,
): void {
  const have = ex.domain(domid);
  if (!have) return;
  const wantIo = new Set<number>();
  const wantMem = new Set<bigint>();
  const wantIrq = new Set<number>();
  for (const a of attached) {
    const d = byBdf.get(bdfText(a));
    if (!d) continue;
    const view = { resources: d.bars.map((x) => ({ start: x.start, end: x.end, flags: x.flags })), irq: d.irq ?? 0 } as unknown as DeviceView;
    for (const s of permissionSteps(domid, view, true)) {
      if (s.op === 'xc.ioport') for (let p = Number(s.first); p < Number(s.first) + Number(s.nr); p++) wantIo.add(p);
      if (s.op === 'xc.iomem') for (let f = BigInt(String(s.first)); f < BigInt(String(s.first)) + BigInt(String(s.nr)); f++) wantMem.add(f);
      if (s.op === 'xc.grantIrq') wantIrq.add(Number(s.irq));
    }
  }
  const stray: string[] = [];
  const missing: string[] = [];
  for (const [lo, hi] of have.ioports) for (let p = lo; p <= hi; p++) if (!wantIo.has(p)) stray.push(`I/O port 0x${p.toString(16)}`);
  for (const [lo, hi] of have.iomem) for (let f = BigInt(lo); f <= BigInt(hi); f++) if (!wantMem.has(f)) stray.push(`frame 0x${f.toString(16)}`);
  for (const i of have.irqs) if (!wantIrq.has(i)) stray.push(`IRQ ${i}`);
  const heldIo = (p: number) => have.ioports.some(([lo, hi]) => p >= lo && p <= hi);
  const heldMem = (f: bigint) => have.iomem.some(([lo, hi]) => f >= BigInt(lo) && f <= BigInt(hi));
  for (const p of wantIo) if (!heldIo(p)) missing.push(`I/O port 0x${p.toString(16)}`);
  for (const f of wantMem) if (!heldMem(f)) missing.push(`frame 0x${f.toString(16)}`);
  for (const i of wantIrq) if (!have.irqs.includes(i)) missing.push(`IRQ ${i}`);
  if (stray.length > 0) {
    add({
      code: 'PERMISSION_STRAY',
      domid,
      message: `domain ${domid} holds permissions no attached device needs: ${summarise(stray)}`,
      repair: `xl destroy ${domid} (no xentool command revokes a single grant; pci-recover does when an unfinished operation left it)`,
    });
  }
  if (missing.length > 0) {
    add({ code: 'PERMISSION_MISSING', domid, message: `domain ${domid} lacks permissions its attached devices need: ${summarise(missing)}`, repair: `xentool pci-detach -f ${domid} <device> and attach it again` });
  }
}

function summarise(items: string[]): string {
  return items.length <= 4 ? items.join(', ') : `${items.slice(0, 4).join(', ')} and ${items.length - 4} more`;
}

export function formatAudit(r: AuditReport): string {
  const scope = `${r.checked.devices.length} device${r.checked.devices.length === 1 ? '' : 's'}, ${r.checked.domains.length} domain${r.checked.domains.length === 1 ? '' : 's'}, ${r.checked.intents} unfinished operation${r.checked.intents === 1 ? '' : 's'}`;
  const notes = [
    ...(r.checked.ownership === 'exact' ? [] : ['Xen tells only whether a guest owns a device, not which']),
    ...(r.checked.permissions ? [] : ['I/O permissions not checked (Xen cannot list them)']),
  ];
  let out = r.clean ? `pci-audit: clean (${scope})\n` : `pci-audit: ${r.findings.length} problem${r.findings.length === 1 ? '' : 's'} (${scope})\n`;
  for (const n of notes) out += `note: ${n}\n`;
  for (const f of r.findings) out += `${f.code}: ${f.message}\n  repair: ${f.repair}\n`;
  return out;
}


