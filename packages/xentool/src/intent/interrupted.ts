/**
 * A step that had started and not finished when the process died may have done all, part or
 * none of its work, and it never returned its undo steps. Two things make that case
 * unambiguous anyway:
 *  - before the step starts, the intent log records what it may change (`preimageOf`): the
 *    xenstore subtrees it writes and the driver its device is bound to;
 *  - `settleInterrupted` then brings the step's effect back to "not done" by looking at the host
 *    and acting only where it differs (hypervisor calls are issued as their inverse, which Xen
 *    accepts whether or not the original call happened; the errors that mean "already so" are
 *    the ones tolerated).
 * When the plan is rolled forward instead, the interrupted step is simply run again, with the
 * same "already so" errors tolerated (`rerunInterrupted`).
 */
import { XentoolError } from '../errors';
import type { Step, StepHandlers } from '../plan/plan';
import { libxlPciPath, parseDevNode, readAttached } from '../pci/backend-xs';
import { dmPath } from '../pci/qemu-trad';
import type { PcibackOps } from '../pci/step-handlers';
import { qdevId } from '../pci/step-handlers';
import { bdfText, sameBdf } from '../pci/types';
import type { QmpClient } from '../qmp/qmp-client';
import { queryPciDevices } from '../qmp/qmp-client';
import { captureTree, type XsTreeCopy } from '../xs/tree';
import type { Xs } from '../xs/xs';
import { waitFor } from '../xs/wait-for';
import type { Preimage } from './intent-store';

export interface RecoveryEnv {
  xs: Xs;
  pciback: PcibackOps;
  qmp(domid: number): Promise<QmpClient>;
  handlers: StepHandlers;
  /**
   * Device `bdf`'s entry in domain `domid`'s stored config for xl: null when the domain or its
   * stored config does not exist (or the host keeps none).
   */
  storedPcidev?(domid: number, bdf: string): Promise<{ uuid: string; entry: string | null; index: number | null } | null>;
}

const PCIBACK = '/sys/bus/pci/drivers/pciback';
const BINDING_OPS = new Set(['pciback.seize', 'pciback.unseize', 'pciback.release', 'pciback.rebindPciback', 'pci.rebind', 'pciback.seizeQuiet']);

/** The xenstore node a step writes or removes, when it is one of the record-keeping steps. */
function xsPathOf(step: Step): string | undefined {
  const bdf = typeof step.bdf === 'string' ? parseDevNode(step.bdf) : undefined;
  switch (step.op) {
    case 'xs.set':
      return String(step.path);
    case 'libxl.setDomid':
    case 'libxl.clearDomid':
      return bdf && `${libxlPciPath(bdf)}/domid`;
    case 'libxl.setName':
      return bdf && `${libxlPciPath(bdf)}/name`;
    case 'pciback.seize':
    case 'pci.rebind':
      return bdf && `${libxlPciPath(bdf)}/driver_path`;
    default:
      return undefined;
  }
}

/**
 * The subtree that covers a write to `path`: its parent when that exists, else the highest
 * missing ancestor (a write creates missing parents, and putting things back means removing it).
 */
async function coveringTree(xs: Xs, path: string): Promise<XsTreeCopy> {
  let root = path.slice(0, path.lastIndexOf('/'));
  while ((await xs.read(root)) === undefined) {
    const up = root.slice(0, root.lastIndexOf('/'));
    if (up.length === 0 || (await xs.read(up)) !== undefined) break;
    root = up;
  }
  return captureTree(xs, root);
}

export async function preimageOf(env: RecoveryEnv, step: Step): Promise<Preimage> {
  const pre: Preimage = {};
  const p = xsPathOf(step);
  if (p) pre.trees = [await coveringTree(env.xs, p)];
  if (step.op === 'backend.remove') {
    const domid = Number(step.domid);
    pre.trees = [await captureTree(env.xs, `/local/domain/0/backend/pci/${domid}`), await captureTree(env.xs, `/local/domain/${domid}/device/pci`)];
  }
  // qemu-traditional commands: qemu-dm's mailbox (`parameter`, `command`, `state`) as it was.
  if (step.op.startsWith('qemuTrad.')) pre.trees = [await captureTree(env.xs, dmPath(Number(step.domid)))];
  if (BINDING_OPS.has(step.op)) pre.driver = (await env.pciback.currentDriverPath(String(step.bdf))) ?? null;
  if (step.op.startsWith('libxl.pcidev')) pre.pcidev = env.storedPcidev ? await env.storedPcidev(Number(step.domid), String(step.bdf)) : null;
  return pre;
}

const codeOf = (e: unknown) => String((e as { code?: unknown }).code ?? '');

/** Runs `fn`, treating the listed error codes as "already in that state". */
async function tolerate(codes: string[], fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!codes.includes(codeOf(e))) throw e;
  }
}

async function restoreTreesIfChanged(env: RecoveryEnv, trees: XsTreeCopy[]): Promise<boolean> {
  let changed = false;
  for (const t of trees) {
    const now = await captureTree(env.xs, t.root);
    if (JSON.stringify(now.nodes) !== JSON.stringify(t.nodes)) changed = true;
  }
  if (changed) await env.handlers['xs.restoreTrees']!.apply({ op: 'xs.restoreTrees', trees });
  return changed;
}

async function restoreBinding(env: RecoveryEnv, bdf: string, want: string | null): Promise<boolean> {
  const now = (await env.pciback.currentDriverPath(bdf)) ?? null;
  if (now === want) return false;
  if (want === PCIBACK) {
    await env.pciback.seize(bdf);
    return true;
  }
  if (now === PCIBACK) await env.pciback.release(bdf);
  else if (now !== null) {
    // Bound to some third driver: go through pciback, which unbinds whatever holds it.
    await env.pciback.seize(bdf);
    await env.pciback.release(bdf);
  }
  if (want !== null) await env.pciback.bindDriver(bdf, want);
  return true;
}

async function inQemu(env: RecoveryEnv, domid: number, bdf: string): Promise<boolean> {
  const b = parseDevNode(bdf)!;
  const q = await env.qmp(domid);
  try {
    return queryPciDevices(await q.execute('query-pci')).some((d) => d.qdev_id === qdevId(b));
  } finally {
    q.close();
  }
}

/**
 * Makes sure an interrupted step has no effect left. Returns what it did (for the report), or
 * undefined when there was nothing to undo.
 */
export async function settleInterrupted(env: RecoveryEnv, step: Step, pre: Preimage): Promise<string | undefined> {
  const h = env.handlers;
  const did: string[] = [];
  const bdf = typeof step.bdf === 'string' ? step.bdf : '';
  const domid = Number(step.domid);
  switch (step.op) {
    case 'pci.reset':
    case 'pciback.permissive':
      // Nothing to undo: a reset is not state, and permissive is cleared when pciback releases.
      return undefined;
    case 'xc.iomem':
    case 'xc.ioport':
      // Granting and revoking are idempotent in Xen (rangeset add/remove), so the inverse is safe
      // whether or not the original call reached the hypervisor.
      await h[step.op]!.apply({ ...step, allow: !step.allow });
      return `${step.allow ? 'revoked' : 're-granted'} the range`;
    case 'xc.grantIrq':
      // EINVAL from unmap: the pirq was never mapped, i.e. the grant never happened.
      await tolerate(['EINVAL'], () => h['xc.revokeIrq']!.apply({ op: 'xc.revokeIrq', domid, irq: step.irq }));
      return `revoked IRQ ${String(step.irq)}`;
    case 'xc.revokeIrq':
      await h['xc.grantIrq']!.apply({ op: 'xc.grantIrq', domid, irq: step.irq });
      return `re-granted IRQ ${String(step.irq)}`;
    case 'xc.assign':
      // ENODEV: the domain does not own it, i.e. the assignment never happened.
      await tolerate(['ENODEV'], () => h['xc.deassign']!.apply({ op: 'xc.deassign', domid, bdf }));
      return `made sure ${bdf} is not assigned to domain ${domid}`;
    case 'xc.deassign':
      // The simulator accepts assigning a device to its owner again; Xen 4.17's device_assigned()
      // answers EBUSY for any device outside dom0 and dom_io, ours included.
      await tolerate(['EBUSY'], () => h['xc.assign']!.apply({ op: 'xc.assign', domid, bdf, relaxed: false }));
      return `made sure ${bdf} is assigned to domain ${domid}`;
    case 'xc.quarantine':
      await tolerate(['ENODEV'], () => h['xc.dequarantine']!.apply({ op: 'xc.dequarantine', bdf }));
      return `made sure ${bdf} is not quarantined`;
    case 'xc.dequarantine':
      await tolerate(['EBUSY'], () => h['xc.quarantine']!.apply({ op: 'xc.quarantine', bdf }));
      return `made sure ${bdf} is quarantined`;
    case 'libxl.pcidevAdd':
    case 'libxl.pcidevRemove':
    case 'libxl.pcidevPut': {
      // The file is replaced by rename, so it holds the entry as it was or as the step made it:
      // putting the old one back is right either way (and changes nothing when it is unchanged).
      if (!pre.pcidev) return undefined;
      const undo = await h['libxl.pcidevPut']!.apply({ op: 'libxl.pcidevPut', domid, uuid: pre.pcidev.uuid, bdf, entry: pre.pcidev.entry, index: pre.pcidev.index });
      return undo.length > 0 ? `restored ${bdf}'s entry in domain ${domid}'s stored config` : undefined;
    }
    case 'backend.add':
      // backend.forget is a no-op when the nodes were never written.
      await h['backend.forget']!.apply({ op: 'backend.forget', domid, bdf });
      return `made sure ${bdf} is not in domain ${domid}'s backend`;
    case 'backend.release': {
      const rec = (await readAttached(env.xs, domid)).find((a) => sameBdf(a, parseDevNode(bdf)!));
      const be = await env.xs.read(`/local/domain/0/backend/pci/${domid}/0/state`);
      if (!rec) throw new XentoolError('ERR_RECOVERY_AMBIGUOUS', `${bdf} is no longer in domain ${domid}'s backend; cannot tell whether the guest still uses it`);
      if (rec.state === 3 && be === '4') return undefined;
      await h['backend.replug']!.apply({ op: 'backend.replug', domid, bdf, timeoutMs: Number(step.timeoutMs) || 10_000 });
      return `gave ${bdf} back to domain ${domid}'s pcifront`;
    }
    case 'hvm.deviceAdd':
      if (!(await inQemu(env, domid, bdf))) return undefined;
      await h['hvm.deviceDel']!.apply({ op: 'hvm.deviceDel', domid, bdf, timeoutMs: Number(step.timeoutMs) || 10_000, force: true });
      return `removed ${bdf} from domain ${domid}'s QEMU`;
    case 'hvm.deviceDel': {
      if (await inQemu(env, domid, bdf)) return undefined;
      const rec = (await readAttached(env.xs, domid)).find((a) => bdfText(a) === bdf);
      await h['hvm.deviceAdd']!.apply({
        op: 'hvm.deviceAdd',
        domid,
        bdf,
        ...(rec?.vdevfn !== undefined ? { vdevfn: rec.vdevfn } : {}),
        permissive: rec?.opts.permissive === '1',
        timeoutMs: Number(step.timeoutMs) || 10_000,
      });
      return `plugged ${bdf} back into domain ${domid}'s QEMU`;
    }
    case 'qemuTrad.pciIns': {
      // The command step leaves qemu-dm's answer in `state` (qemu-trad.ts), so `pci-inserted`
      // there means the device reached the guest. A command qemu-dm has not read yet is given
      // the step's timeout to be read and answered (the real qemu-dm outlives us; the simulated
      // one answers as the host reopens).
      const answer = await tradAnswer(env, domid, 'pci-ins', Number(step.timeoutMs) || 10_000);
      if (answer === 'pci-inserted') {
        await h['qemuTrad.pciRem']!.apply({ op: 'qemuTrad.pciRem', domid, bdf, timeoutMs: Number(step.timeoutMs) || 10_000, force: true });
        did.push(`took ${bdf} out of domain ${domid}'s device model`);
      }
      if (pre.trees && (await restoreTreesIfChanged(env, pre.trees))) did.push(`restored ${dmPath(domid)}`);
      return did.length > 0 ? did.join('; ') : undefined;
    }
    case 'qemuTrad.pciRem': {
      const answer = await tradAnswer(env, domid, 'pci-rem', Number(step.timeoutMs) || 10_000);
      if (answer === 'pci-removed') {
        const rec = (await readAttached(env.xs, domid)).find((a) => bdfText(a) === bdf);
        await h['qemuTrad.pciIns']!.apply({
          op: 'qemuTrad.pciIns',
          domid,
          bdf,
          ...(rec?.vdevfn !== undefined ? { vdevfn: rec.vdevfn } : {}),
          msitranslate: rec?.opts.msitranslate === '1',
          powerMgmt: rec?.opts.power_mgmt === '1',
          timeoutMs: Number(step.timeoutMs) || 10_000,
        });
        did.push(`plugged ${bdf} back into domain ${domid}'s device model`);
      }
      // Otherwise the guest has not ejected it (an ejection request qemu-dm already passed on
      // cannot be withdrawn; the guest may still act on it).
      if (pre.trees && (await restoreTreesIfChanged(env, pre.trees))) did.push(`restored ${dmPath(domid)}`);
      return did.length > 0 ? did.join('; ') : undefined;
    }
    default:
      break;
  }
  if (pre.driver !== undefined && (await restoreBinding(env, bdf, pre.driver))) did.push(`rebound ${bdf} to ${pre.driver ?? 'no driver'}`);
  if (pre.trees && (await restoreTreesIfChanged(env, pre.trees))) did.push(`restored ${pre.trees.map((t) => t.root).join(' and ')}`);
  if (pre.driver === undefined && !pre.trees) {
    throw new XentoolError('ERR_RECOVERY_AMBIGUOUS', `no way to tell what an interrupted '${step.op}' step changed`);
  }
  return did.length > 0 ? did.join('; ') : undefined;
}

/**
 * qemu-dm's answer to an interrupted command: waits while the command is still unread (up to
 * `timeoutMs`), then returns `state`. An unread command left after that is withdrawn (restoring
 * the mailbox removes it).
 */
async function tradAnswer(env: RecoveryEnv, domid: number, cmd: string, timeoutMs: number): Promise<string | undefined> {
  const base = dmPath(domid);
  const settled = async () => {
    const [c, state] = await Promise.all([env.xs.read(`${base}/command`), env.xs.read(`${base}/state`)]);
    return c !== cmd || state === 'pci-inserted' || state === 'pci-removed' ? { state } : undefined;
  };
  const r = await waitFor(env.xs, base, settled, { timeoutMs, what: `domain ${domid}'s device model to read '${cmd}'` }).catch(() => undefined);
  return r ? r.state : env.xs.read(`${base}/state`);
}

/** Runs an interrupted step again when rolling forward; "already done" answers count as done. */
export async function rerunInterrupted(env: RecoveryEnv, step: Step): Promise<void> {
  // ENODEV: deassign of a device already deassigned. EINVAL: unmap of a pirq already unmapped.
  // ERR_NOT_ATTACHED: backend nodes already removed.
  await tolerate(['ENODEV', 'EINVAL', 'ERR_NOT_ATTACHED'], () => env.handlers[step.op]!.apply(step));
}
