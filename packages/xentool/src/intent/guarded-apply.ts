/**
 * What wraps every changing PCI plan: the host-wide lock (real host), the refusal to touch a
 * device or domain that an interrupted operation left half-done, and the intent record written
 * before the first step and after every step. Ordering at each step boundary, and why:
 *  1. the record says "step N is starting" together with what step N may change (its preimage);
 *  2. on the simulated host, the whole host state is checkpointed (the record is part of its
 *     xenstore, so host and record move together);
 *  3. the file copy is written (so it is never ahead of the host);
 *  4. only then does step N run.
 * After step N: the record gets N's undo steps (computed by the handler from what it saw).
 */
import { XentoolError } from '../errors';
import { applyPlan } from '../plan/apply-plan';
import type { Plan, Step, StepHandlers } from '../plan/plan';
import { acquireHostLock, REAL_LOCK_FILE, type HostLock } from './host-lock';
import { IntentStore, type IntentRecord, type RecoveryPolicy } from './intent-store';
import { preimageOf, type RecoveryEnv } from './interrupted';

export interface GuardOptions {
  failAt?: number;
  /** Test-only: SIGKILL at this step boundary (see CommandContext.testHooks). */
  killAt?: { step: number; kill(): void };
  /** Simulated host: persist the whole host state (no-op on the real host). */
  checkpoint?: () => Promise<void>;
  /** Real host: take the host-wide lock (the simulated host's directory lock already serialises). */
  lock?: { file?: string; timeoutMs: number; onWait(text: string): void };
  pid: number;
  observer?: {
    stepStarted?(index: number, step: Step): void | Promise<void>;
    stepDone?(index: number, step: Step, undo: Step[]): void | Promise<void>;
    stepUndone?(index: number, step: Step): void | Promise<void>;
  };
}

export interface Touches {
  devices: string[];
  domains: number[];
}

/** Devices and domains named by a plan's steps. */
export function touchesOf(steps: readonly Step[]): Touches {
  const devices = new Set<string>();
  const domains = new Set<number>();
  for (const s of steps) {
    if (typeof s.bdf === 'string') devices.add(s.bdf);
    if (typeof s.domid === 'number') domains.add(s.domid);
  }
  return { devices: [...devices].sort(), domains: [...domains].sort((a, b) => a - b) };
}

/**
 * How an interrupted run of this plan is finished. A detach whose first step (the guest lets go)
 * completed is rolled forward: what remains needs nothing from the guest, while rolling back
 * would need the guest to take the device again. Everything else is rolled back: every completed
 * step recorded its undo, so the host can always be put back as it was.
 */
export function recoveryPolicyFor(plan: Plan): RecoveryPolicy {
  const first = plan.steps[0]?.op;
  if (first === 'backend.release' || first === 'hvm.deviceDel' || first === 'qemuTrad.pciRem') {
    return {
      mode: 'forward-after',
      step: 0,
      why: 'the guest had already let the device go, so finishing the detach needs nothing more from it (rolling back would need the guest to take the device again)',
    };
  }
  return { mode: 'rollback', why: 'every completed step had recorded how to undo it' };
}

export function describeIntent(r: IntentRecord): string {
  const at = r.inFlight !== undefined ? `in step ${r.inFlight.index + 1}/${r.steps.length}` : `after ${r.completed.length}/${r.steps.length} steps`;
  return `'${r.command}' (intent ${r.id}, process ${r.pid}, started ${r.startedAt}, stopped ${at})`;
}

/** Refuses when an open intent touches any of these devices or domains. */
export async function refuseIfInterrupted(store: IntentStore, t: Touches): Promise<void> {
  for (const r of await store.list()) {
    if (r.status === 'done') continue;
    const devs = r.devices.filter((d) => t.devices.includes(d));
    const doms = r.domains.filter((d) => t.domains.includes(d));
    if (devs.length === 0 && doms.length === 0) continue;
    const what = [...devs.map((d) => `device ${d}`), ...doms.map((d) => `domain ${d}`)].join(' and ');
    throw new XentoolError(
      'ERR_INTERRUPTED_OPERATION',
      `${what} ${devs.length + doms.length === 1 ? 'has' : 'have'} an unfinished operation ${describeIntent(r)}; run 'xentool pci-recover' first`,
    );
  }
}

export async function takeLock(o: GuardOptions, what: string): Promise<HostLock | undefined> {
  if (!o.lock) return undefined;
  const file = o.lock.file ?? REAL_LOCK_FILE;
  return acquireHostLock({
    file,
    timeoutMs: o.lock.timeoutMs,
    what,
    onWait: (h) => o.lock!.onWait(`waiting for the host lock ${file}, held by process ${h.pid} (${h.what})...`),
  });
}

/** Applies `plan` under an intent record. The caller holds the lock and has checked for refusals. */
export async function applyWithIntent(store: IntentStore, env: RecoveryEnv, plan: Plan, handlers: StepHandlers, o: GuardOptions): Promise<void> {
  const t = touchesOf(plan.steps);
  const rec: IntentRecord = {
    format: 'xentool-intent/1',
    id: IntentStore.newId(o.pid),
    seq: 0,
    pid: o.pid,
    startedAt: new Date().toISOString(),
    command: plan.title,
    devices: t.devices,
    domains: t.domains,
    steps: plan.steps,
    recovery: recoveryPolicyFor(plan),
    completed: [],
    status: 'applying',
  };
  const persist = () => store.write(rec, o.checkpoint);
  const n = plan.steps.length;
  // The applier reports a step as undone even when one of its undo steps failed; which ones
  // failed is told by identity (rollback runs the very objects the record holds), so that such a
  // step stays pending in the record for pci-recover.
  const failed = new WeakSet<Step>();
  const watched: StepHandlers = Object.fromEntries(
    Object.entries(handlers).map(([op, h]) => [
      op,
      {
        describe: (st: Step) => h.describe(st),
        apply: async (st: Step) => {
          try {
            return await h.apply(st);
          } catch (e) {
            failed.add(st);
            throw e;
          }
        },
      },
    ]),
  );
  await persist();
  try {
    await applyPlan(plan, watched, {
      ...(o.failAt !== undefined ? { failAt: o.failAt } : {}),
      stepStarted: async (i, step) => {
        rec.inFlight = { index: i, pre: await preimageOf(env, step) };
        await persist();
        if (o.killAt?.step === i) o.killAt.kill();
        await o.observer?.stepStarted?.(i, step);
      },
      stepDone: async (i, step, undo) => {
        rec.completed.push({ index: i, undo });
        delete rec.inFlight;
        // The simulated host persists only at checkpoints, and the record must never be ahead of
        // it; the next step's start persists both together, so only the last step needs its own
        // write here. The real host's effects are durable at once, so its record is written now.
        if (!o.checkpoint || i === n - 1) await persist();
        if (i === n - 1 && o.killAt?.step === n) o.killAt.kill();
        await o.observer?.stepDone?.(i, step, undo);
      },
      stepUndone: async (i, step) => {
        rec.status = 'rolling-back';
        const c = rec.completed.find((x) => x.index === i);
        if (c && !c.undo.some((u) => failed.has(u))) c.undone = true;
        await persist();
        await o.observer?.stepUndone?.(i, step);
      },
    });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_ROLLBACK_INCOMPLETE') {
      // Left open on purpose: pci-audit shows it, pci-recover retries the undo steps.
      rec.status = 'stuck';
      rec.failures = [(e as Error).message];
      await persist();
      throw e;
    }
    // The failed step cleaned up after itself and every completed step was undone.
    delete rec.inFlight;
    await store.remove(rec);
    throw e;
  }
  await store.remove(rec);
}
