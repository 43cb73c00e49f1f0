/**
 * The PCI operations behind both front ends (xl syntax in `xentool`, xm syntax in `xm`): look at
 * the host, plan, then apply (or print the plan for --dry-run). Shared by the real and the
 * simulated host through PciHost.
 */
import { assessAssignability, isPcibackLoaded, pcibackOps, readInventory, type PciDevice, type QuirkEntry } from '@xentool/pciback';
import { XentoolError } from '../errors';
import type { ApplyOptions } from '../plan/apply-plan';
import { formatPlan, type Plan, type StepHandlers } from '../plan/plan';
import { applyWithIntent, refuseIfInterrupted, takeLock, type GuardOptions, type Touches } from '../intent/guarded-apply';
import { intentStoreFor, recoveryEnvFor } from '../intent/host-intents';
import { libxlPciPath, readAttached } from './backend-xs';
import type { PciHost } from './pci-host';
import { pciList, resolveDomain } from './pci-list';
import { planAssignableAdd, planAssignableRemove } from './plan-assignable';
import { planPciAttach, type AttachRequest } from './plan-pci-attach';
import { planPciDetach } from './plan-pci-detach';
import { kernfsOrder } from './kernfs-order';
import { pciStepHandlers } from './step-handlers';
import type { Bdf } from './types';
import { bdfText, bdfXsKey, machineSbdf } from './types';
import type { DeviceModel, DeviceView, DomainView, TestAssign } from './view';

// In pci-list.ts, so that `pci-list` starts without this module's imports; still exported here.
export { pciList, resolveDomain };

export interface OpOptions {
  dryRun: boolean;
  verbose?: boolean;
  /** Where the plan goes for --dry-run, and warnings. */
  out(text: string): void;
  warn(text: string): void;
  progress?(text: string): void;
  /** Test-only failure injection (config.ts reads it from the environment). */
  failAt?: number;
  /** Test-only: SIGKILL this process at a step boundary (config.ts reads it from the environment). */
  killAt?: { step: number; kill(): void };
  /** A line for stderr at once, not after the command (what a waiting invocation waits for). */
  notice?(text: string): void;
  /** How long to wait for the real host's lock. */
  lockTimeoutMs?: number;
  observer?: Pick<ApplyOptions, 'stepStarted' | 'stepDone' | 'stepUndone'>;
  /** pci-assignable-add: the quirks table devices are assessed with (pciback's built-in one when absent). */
  quirks?: readonly QuirkEntry[];
}

export async function domainView(host: PciHost, domid: number): Promise<DomainView> {
  const d = (await host.domains()).find((x) => x.domid === domid);
  if (!d) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `domain ${domid} does not exist`);
  const dm = d.hvm ? await host.xs.read(`/libxl/${domid}/dm-version`) : undefined;
  const deviceModel: DeviceModel = !d.hvm ? 'none' : dm === 'qemu_xen_traditional' ? 'qemu-xen-traditional' : 'qemu-xen';
  const attached = await readAttached(host.xs, domid);
  const state = await host.xs.read(`/local/domain/0/backend/pci/${domid}/0/state`);
  const view: DomainView = {
    domid,
    name: d.name,
    hvm: d.hvm,
    dying: d.dying,
    deviceModel,
    attached,
    backendState: state === undefined ? undefined : Number.parseInt(state, 10),
  };
  if (d.hvm && deviceModel === 'qemu-xen') {
    const { queryPciDevices } = await import('../qmp/qmp-client');
    const q = await host.qmp(domid);
    try {
      view.usedSlots = [...new Set(queryPciDevices(await q.execute('query-pci')).map((x) => x.slot))];
    } finally {
      q.close();
    }
  }
  if (d.hvm && deviceModel === 'qemu-xen-traditional') {
    view.usedSlots = [...new Set(attached.flatMap((a) => (a.vdevfn === undefined ? [] : [a.vdevfn >> 3])))];
    const stub = await host.xs.read(`/local/domain/${domid}/image/device-model-domid`);
    if (stub !== undefined && Number.parseInt(stub, 10) > 0) view.stubdomId = Number.parseInt(stub, 10);
  }
  return view;
}

/** Every `/libxl/pci/<bdf>/domid`, i.e. which guest uses which device, as xl records it. */
export async function usedDevices(host: PciHost): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const key of await host.xs.directory('/libxl/pci')) {
    const v = await host.xs.read(`/libxl/pci/${key}/domid`);
    const m = /^([0-9a-f]{4})-([0-9a-f]{2})-([0-9a-f]{2})-([0-7])$/.exec(key);
    if (v !== undefined && m) out.set(`${m[1]}:${m[2]}:${m[3]}.${m[4]}`, Number.parseInt(v, 10));
  }
  return out;
}

export async function deviceView(
  host: PciHost,
  bdf: Bdf,
  opts: { targetDomid?: number; force?: boolean; inventory?: PciDevice[]; quirks?: readonly QuirkEntry[] } = {},
): Promise<DeviceView> {
  const inv = opts.inventory ?? readInventory(host.sysfs);
  const b = bdfText(bdf);
  const d = inv.find((x) => x.bdf === b);
  const used = await usedDevices(host);
  const rec = libxlPciPath(bdf);
  const [name, originalDriverPath] = await Promise.all([host.xs.read(`${rec}/name`), host.xs.read(`${rec}/driver_path`)]);
  const a = assessAssignability(inv, b, {
    assigned: used,
    ...(opts.targetDomid !== undefined ? { targetDomid: opts.targetDomid } : {}),
    dom0Usage: host.dom0Usage(),
    force: opts.force ?? false,
    pcibackLoaded: isPcibackLoaded(host.sysfs),
    ...(opts.quirks ? { quirks: opts.quirks } : {}),
  });
  // The planner handles pciback ownership, use by a guest and co-assignment itself (it needs
  // to know which guest); every other refusal comes from the pciback assessment.
  const own = new Set(['NO_DEVICE', 'NOT_PCIBACK', 'ALREADY_ASSIGNED', 'COASSIGN_ASSIGNED', 'COASSIGN_GROUP']);
  return {
    ...bdf,
    exists: d !== undefined,
    driver: d?.driver ?? undefined,
    resources: (d?.bars ?? []).map((x) => ({ start: x.start, end: x.end, flags: x.flags })),
    irq: d?.irq ?? 0,
    usedBy: used.get(b),
    name,
    originalDriverPath,
    blockers: a.reasons.filter((r) => r.severity === 'error' && !own.has(r.code)).map((r) => ({ code: r.code, message: r.message })),
    warnings: a.reasons.filter((r) => r.severity === 'warning' && r.code !== 'COASSIGN_GROUP' && r.code !== 'QUIRK').map((r) => r.message),
    quirkWarnings: a.reasons.filter((r) => r.code === 'QUIRK').map((r) => r.message),
    coAssign: a.group
      .filter((g) => g !== b)
      .map((g) => {
        const [dom, bus, rest] = g.split(':');
        const [dev, fn] = rest!.split('.');
        return { domain: parseInt(dom!, 16), bus: parseInt(bus!, 16), dev: parseInt(dev!, 16), func: parseInt(fn!, 16) };
      }),
  };
}

/** The step handlers over this host's primitives (also what pci-recover undoes with). */
export function stepHandlersFor(host: PciHost, o: Pick<OpOptions, 'progress' | 'warn' | 'notice' | 'lockTimeoutMs'>): StepHandlers {
  return pciStepHandlers({
    xs: host.xs,
    hv: host.hv,
    pciback: pcibackOps(host.sysfs),
    qmp: (domid) => host.qmp(domid),
    domainName: async (domid) => (await host.domains()).find((d) => d.domid === domid)?.name,
    domainUuid: async (domid) => (await host.domains()).find((d) => d.domid === domid)?.uuid,
    domainEnded: async (domid) => {
      const d = (await host.domains()).find((x) => x.domid === domid);
      if (!d) return 'no longer exists';
      if (d.dying) return 'is dying';
      if (d.shutdown) return `shut down (${d.shutdownReason ?? 'unknown reason'})`;
      return undefined;
    },
    ...(host.xenLibDir !== undefined
      ? { storedConfig: { dir: host.xenLibDir, lockTimeoutMs: o.lockTimeoutMs ?? 120_000, onWait: (t: string) => (o.notice ?? o.warn)(t) } }
      : {}),
    progress: (t) => o.progress?.(t),
    warn: (t) => o.warn(t),
  });
}

/**
 * Plans and applies under the crash- and concurrency-safety wrapper (intent/guarded-apply.ts):
 * on a real host the host-wide lock is taken before the host is observed for planning, so the
 * plan is made from a state nobody else is changing; an unfinished operation on the same devices
 * or domains is refused before planning (its half-done state would mislead the planner).
 */
async function run(host: PciHost, touches: Touches, makePlan: () => Promise<Plan>, o: OpOptions): Promise<void> {
  const handlers = stepHandlersFor(host, o);
  const store = intentStoreFor(host);
  if (o.dryRun) {
    await refuseIfInterrupted(store, touches).catch((e: Error) => o.warn(e.message));
    o.out(formatPlan(await makePlan(), handlers, o.verbose));
    return;
  }
  const lock = await takeLock(guardOptions(host, o), touches.devices.length > 0 ? `PCI operation on ${touches.devices.join(', ')}` : 'PCI operation');
  try {
    await refuseIfInterrupted(store, touches);
    const plan = await makePlan();
    for (const w of plan.warnings ?? []) o.warn(w);
    await applyWithIntent(store, recoveryEnvFor(host, handlers), plan, handlers, guardOptions(host, o));
  } finally {
    await lock?.release();
  }
}

function guardOptions(host: PciHost, o: OpOptions): GuardOptions {
  const checkpoint = (host as { checkpoint?: () => Promise<void> }).checkpoint;
  return {
    pid: process.pid,
    ...(o.failAt !== undefined ? { failAt: o.failAt } : {}),
    ...(o.killAt ? { killAt: o.killAt } : {}),
    ...(checkpoint ? { checkpoint: () => checkpoint.call(host) } : {}),
    ...(host.kind === 'real' ? { lock: { timeoutMs: o.lockTimeoutMs ?? 120_000, onWait: (t: string) => (o.notice ?? o.warn)(t) } } : {}),
    ...(o.observer ? { observer: o.observer } : {}),
  };
}

export async function pciAttach(host: PciHost, domArg: string, req: AttachRequest, o: OpOptions): Promise<void> {
  const domid = await resolveDomain(host, domArg);
  await run(host, { devices: [bdfText(req.bdf)], domains: [domid] }, async () => {
    const domain = await domainView(host, domid);
    const device = await deviceView(host, req.bdf, { targetDomid: domid, force: req.force });
    const used = await usedDevices(host);
    let testAssign: TestAssign = { ok: true };
    try {
      await host.hv.testAssignDevice(domid, machineSbdf(req.bdf));
    } catch (e) {
      testAssign = { ok: false, code: String((e as { code?: string }).code ?? 'EIO') };
    }
    return planPciAttach(req, {
      domain,
      device,
      testAssign,
      iommu: await host.iommuEnabled(),
      partnersUsedBy: device.coAssign.map((p) => used.get(bdfText(p))),
    });
  }, o);
}

/**
 * `BB:DD.*` (libxl's LIBXL_PCI_FUNC_ALL): every function of the slot present on the host, in
 * one plan, functions 7 down to 0 as libxl adds them (the guest sees the slot when function 0
 * arrives). A virtual slot is required and every function must be held by pciback, as in libxl.
 */
export async function pciAttachAllFunctions(host: PciHost, domArg: string, req: AttachRequest, o: OpOptions): Promise<void> {
  const b = bdfText({ ...req.bdf, func: 0 }).replace(/\.0$/, '.*');
  if (req.vslot === undefined) throw new XentoolError('ERR_USAGE', `Must specify a v-slot for multi-function devices (${b}@VSLOT)`, 1);
  const inv = readInventory(host.sysfs);
  const funcs = inv.filter((d) => d.domain === req.bdf.domain && d.bus === req.bdf.bus && d.dev === req.bdf.dev).map((d) => d.fn);
  if (funcs.length === 0) throw new XentoolError('ERR_DEVICE_NOT_FOUND', `PCI device ${b} does not exist on this host`);
  for (const f of funcs) {
    const d = inv.find((x) => x.domain === req.bdf.domain && x.bus === req.bdf.bus && x.dev === req.bdf.dev && x.fn === f)!;
    if (d.driver !== 'pciback' && !req.seize) throw new XentoolError('ERR_DEVICE_NOT_ASSIGNABLE', `${d.bdf} is not assigned to pciback driver`);
  }
  const domid = await resolveDomain(host, domArg);
  const bdfs = [...funcs].sort((x, y) => y - x).map((f) => ({ ...req.bdf, func: f }));
  await run(host, { devices: bdfs.map(bdfText), domains: [domid] }, async () => {
    const domain = await domainView(host, domid);
    const used = await usedDevices(host);
    const iommu = await host.iommuEnabled();
    const steps: Plan['steps'] = [];
    const warnings: string[] = [];
    for (const bdf of bdfs) {
      const device = await deviceView(host, bdf, { targetDomid: domid, force: req.force, inventory: inv });
      let testAssign: TestAssign = { ok: true };
      try {
        await host.hv.testAssignDevice(domid, machineSbdf(bdf));
      } catch (e) {
        testAssign = { ok: false, code: String((e as { code?: string }).code ?? 'EIO') };
      }
      const partnersUsedBy = device.coAssign.map((p) => used.get(bdfText(p)));
      const p = planPciAttach({ ...req, bdf, vfunc: bdf.func, vfuncMask: 1 << bdf.func }, { domain, device, testAssign, iommu, partnersUsedBy });
      steps.push(...p.steps);
      warnings.push(...(p.warnings ?? []));
    }
    return { title: `pci-attach ${domain.name ?? domid} ${b}@${req.vslot!.toString(16)}`, steps, warnings: [...new Set(warnings)] };
  }, o);
}

export async function pciDetach(host: PciHost, domArg: string, bdf: Bdf, opts: { force: boolean; timeoutMs: number }, o: OpOptions): Promise<void> {
  const domid = await resolveDomain(host, domArg);
  await run(host, { devices: [bdfText(bdf)], domains: [domid] }, async () => {
    const domain = await domainView(host, domid);
    const device = await deviceView(host, bdf, { targetDomid: domid });
    return planPciDetach({ bdf, ...opts }, domain, device);
  }, o);
}

/** Resolves a `name=` given to a PCI command through `/libxl/pci/<bdf>/name`, as xl does. */
export async function bdfForName(host: PciHost, name: string): Promise<Bdf> {
  for (const key of await host.xs.directory('/libxl/pci')) {
    if ((await host.xs.read(`/libxl/pci/${key}/name`)) === name) {
      const [domain, bus, dev, func] = key.split('-').map((x) => parseInt(x, 16)) as [number, number, number, number];
      return { domain, bus, dev, func };
    }
  }
  throw new XentoolError('ERR_NAME_NOT_FOUND', `no assignable device is named '${name}'`);
}

export interface AssignableDevice extends Bdf {
  name?: string;
}

/**
 * `pci-assignable-list`: bound to pciback and not in use by a guest (no `/libxl/pci/<bdf>/domid`),
 * in the order of pciback's driver directory as the kernel lists it (kernfs hash order, which is
 * what xl prints; our Sysfs sorts by name).
 */
export async function assignableList(host: PciHost): Promise<AssignableDevice[]> {
  if (!isPcibackLoaded(host.sysfs)) {
    throw new XentoolError('ERR_PCIBACK_NOT_LOADED', 'Looks like pciback driver not loaded');
  }
  const out: AssignableDevice[] = [];
  for (const e of kernfsOrder(host.sysfs.readdir('/bus/pci/drivers/pciback'))) {
    const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(e);
    if (!m) continue;
    const b = { domain: parseInt(m[1]!, 16), bus: parseInt(m[2]!, 16), dev: parseInt(m[3]!, 16), func: parseInt(m[4]!, 16) };
    const rec = `/libxl/pci/${bdfXsKey(b)}`;
    if ((await host.xs.read(`${rec}/domid`)) !== undefined) continue;
    const name = await host.xs.read(`${rec}/name`);
    out.push(name === undefined ? b : { ...b, name });
  }
  return out;
}

export async function assignableAdd(host: PciHost, bdf: Bdf, opts: { name?: string; force: boolean }, o: OpOptions): Promise<void> {
  await run(host, { devices: [bdfText(bdf)], domains: [] }, async () => planAssignableAdd(bdf, await deviceView(host, bdf, { force: opts.force, ...(o.quirks ? { quirks: o.quirks } : {}) }), opts), o);
}

export async function assignableRemove(host: PciHost, bdf: Bdf, opts: { rebind: boolean }, o: OpOptions): Promise<void> {
  await run(host, { devices: [bdfText(bdf)], domains: [] }, async () => planAssignableRemove(bdf, await deviceView(host, bdf), opts), o);
}
