/**
 * `pci-recover`: finishes or rolls back every interrupted operation from its intent record.
 * Newest first, so that if two records ever overlap the later one is undone before the earlier.
 * Recovery records its own progress in the same record (each undone step is marked, each step
 * rolled forward is added to `completed`), so a recovery that is itself killed is picked up where
 * it stopped by the next run.
 */
import { describeStep, type Step } from '../plan/plan';
import type { IntentRecord, IntentStore } from './intent-store';
import { rerunInterrupted, settleInterrupted, type RecoveryEnv } from './interrupted';

export interface RecoveryOutcome {
  id: string;
  command: string;
  /** What was (or, with dry-run, would be) done. */
  action: 'rolled back' | 'finished' | 'closed' | 'stuck';
  why: string;
  /** One line per host change made (or planned). */
  actions: string[];
  failures: string[];
}

export interface RecoverOptions {
  dryRun: boolean;
  checkpoint?: () => Promise<void>;
  /**
   * Called before each change recovery makes, numbered from 0 across the run, after the record
   * says everything before it is done: the test-only kill hook uses it to prove that a recovery
   * killed at any point is finished by the next one.
   */
  beforeAction?: (n: number) => void;
}

export async function recoverIntents(store: IntentStore, env: RecoveryEnv, o: RecoverOptions): Promise<RecoveryOutcome[]> {
  const out: RecoveryOutcome[] = [];
  let n = 0;
  const tick = () => o.beforeAction?.(n++);
  for (const rec of (await store.list()).reverse()) out.push(await recoverOne(store, env, rec, o, tick));
  return out;
}

function rollsForward(r: IntentRecord): boolean {
  if (r.recovery.mode !== 'forward-after') return false;
  const pivot = r.recovery.step;
  // The applier had already started undoing (a step failed): rolling back is what was under way.
  if (r.status === 'rolling-back') return false;
  return r.completed.some((c) => c.index === pivot && !c.undone);
}

async function recoverOne(store: IntentStore, env: RecoveryEnv, rec: IntentRecord, o: RecoverOptions, tick: () => void): Promise<RecoveryOutcome> {
  const base = { id: rec.id, command: rec.command, actions: [] as string[], failures: [] as string[] };
  const persist = () => store.write(rec, o.checkpoint);
  const describe = (s: Step) => describeStep(s, env.handlers);
  if (rec.status === 'done') {
    if (!o.dryRun) await store.purge(rec.id);
    return { ...base, action: 'closed', why: 'it had finished; only a leftover copy of its record remained' };
  }
  const n = rec.steps.length;
  const allDone = rec.inFlight === undefined && rec.completed.length === n && rec.completed.every((c) => !c.undone);
  if (allDone) {
    if (!o.dryRun) await store.remove(rec);
    return { ...base, action: 'finished', why: `all ${n} steps had completed; only the record was still open` };
  }

  if (rollsForward(rec)) {
    const why = `step ${(rec.recovery as { step: number }).step + 1} had completed and ${rec.recovery.why}`;
    const doneIdx = new Set(rec.completed.map((c) => c.index));
    const todo = rec.steps.map((s, i) => ({ s, i })).filter(({ i }) => !doneIdx.has(i));
    if (o.dryRun) return { ...base, action: 'finished', why, actions: todo.map(({ s, i }) => `step ${i + 1}/${n}: ${describe(s)}`) };
    rec.status = 'recovering';
    await persist();
    for (const { s, i } of todo) {
      tick();
      try {
        if (rec.inFlight?.index === i) await rerunInterrupted(env, s);
        else await env.handlers[s.op]!.apply(s);
      } catch (e) {
        base.failures.push(`step ${i + 1}/${n} (${describe(s)}): ${(e as Error).message}`);
        rec.status = 'stuck';
        rec.failures = base.failures;
        await persist();
        return { ...base, action: 'stuck', why: `a step failed while finishing the operation (${why}); the record stays open` };
      }
      base.actions.push(`step ${i + 1}/${n}: ${describe(s)}`);
      // Recorded without undo: once rolling forward there is no going back.
      rec.completed.push({ index: i, undo: [] });
      if (rec.inFlight?.index === i) delete rec.inFlight;
      await persist();
    }
    await store.remove(rec);
    return { ...base, action: 'finished', why };
  }

  const why = rec.recovery.mode === 'rollback' ? rec.recovery.why : 'the guest had not let the device go yet, so the operation is undone and the device stays where it was';
  const pending = rec.completed.filter((c) => !c.undone).sort((a, b) => b.index - a.index);
  if (o.dryRun) {
    const lines: string[] = [];
    if (rec.inFlight) lines.push(`make sure interrupted step ${rec.inFlight.index + 1}/${n} (${describe(rec.steps[rec.inFlight.index]!)}) left nothing behind`);
    for (const c of pending) for (const u of c.undo) lines.push(`undo step ${c.index + 1}/${n}: ${describe(u)}`);
    return { ...base, action: 'rolled back', why, actions: lines };
  }
  rec.status = 'recovering';
  await persist();
  const inFlight = rec.inFlight;
  if (inFlight) {
    const step = rec.steps[inFlight.index]!;
    tick();
    try {
      const did = await settleInterrupted(env, step, inFlight.pre);
      base.actions.push(`interrupted step ${inFlight.index + 1}/${n} (${describe(step)}): ${did ?? 'had not changed anything'}`);
      delete rec.inFlight;
      await persist();
    } catch (e) {
      base.failures.push(`interrupted step ${inFlight.index + 1}/${n} (${describe(step)}): ${(e as Error).message}`);
    }
  }
  for (const c of pending) {
    let ok = true;
    // Each undo step is recorded as applied before the next starts, so a recovery killed between
    // two of them resumes with the next instead of applying one twice (releasing a device from
    // pciback twice is an error, not a no-op).
    for (const u of c.undo.slice(c.undoneCount ?? 0)) {
      tick();
      try {
        await env.handlers[u.op]!.apply(u);
        base.actions.push(`undid step ${c.index + 1}/${n}: ${describe(u)}`);
        if (ok) {
          c.undoneCount = (c.undoneCount ?? 0) + 1;
          await persist();
        }
      } catch (e) {
        ok = false;
        base.failures.push(`undo of step ${c.index + 1}/${n} (${describe(u)}): ${(e as Error).message}`);
      }
    }
    if (ok) {
      c.undone = true;
      await persist();
    }
  }
  if (base.failures.length > 0) {
    rec.status = 'stuck';
    rec.failures = base.failures;
    await persist();
    return { ...base, action: 'stuck', why: `an undo failed while rolling back (${why}); the record stays open` };
  }
  await store.remove(rec);
  return { ...base, action: 'rolled back', why };
}
