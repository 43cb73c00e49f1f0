/**
 * The applier: runs a plan's steps in order; when one fails, undoes the completed ones in
 * reverse and raises an error that names the failed step. An undo that itself fails does not
 * stop the others; the error then says which undo steps failed, so the state left behind is
 * known (and `pci-recover`, from the intent log, can finish the job).
 */
import { XentoolError } from '../errors';
import type { Plan, Step, StepHandlers } from './plan';
import { describeStep } from './plan';

export interface ApplyObserver {
  /** Called before a step runs. */
  stepStarted?(index: number, step: Step): void | Promise<void>;
  /** Called once a step has succeeded, with the steps that undo it. */
  stepDone?(index: number, step: Step, undo: Step[]): void | Promise<void>;
  /** Called as rollback undoes a completed step. */
  stepUndone?(index: number, step: Step): void | Promise<void>;
}

export interface ApplyOptions extends ApplyObserver {
  /**
   * Failure injection for tests: the step with this index (0-based) fails before it runs.
   * Wired from the test-only environment hook in config.ts, never from a user flag.
   */
  failAt?: number;
}

export interface ApplyResult {
  completed: number;
}

export async function applyPlan(plan: Plan, handlers: StepHandlers, opts: ApplyOptions = {}): Promise<ApplyResult> {
  for (const step of plan.steps) {
    if (!handlers[step.op]) {
      throw new XentoolError('ERR_PLAN_UNKNOWN_STEP', `${plan.title}: no handler for step '${step.op}'`);
    }
  }
  const done: { index: number; step: Step; undo: Step[] }[] = [];
  for (let i = 0; i < plan.steps.length; i++) {
    const step = plan.steps[i]!;
    try {
      await opts.stepStarted?.(i, step);
      if (opts.failAt === i) throw new XentoolError('ERR_INJECTED_FAILURE', 'injected failure');
      const undo = await handlers[step.op]!.apply(step);
      done.push({ index: i, step, undo });
      await opts.stepDone?.(i, step, undo);
    } catch (cause) {
      const undoFailures = await rollback(done, handlers, opts);
      throw stepFailure(plan, i, step, handlers, cause, done.length, undoFailures);
    }
  }
  return { completed: done.length };
}

/** Undoes completed steps, newest first. Returns descriptions of undo steps that failed. */
export async function rollback(
  done: readonly { index: number; step: Step; undo: Step[] }[],
  handlers: StepHandlers,
  opts: ApplyObserver = {},
): Promise<string[]> {
  const failures: string[] = [];
  for (const d of [...done].reverse()) {
    for (const u of d.undo) {
      try {
        const h = handlers[u.op];
        if (!h) throw new Error(`no handler for undo step '${u.op}'`);
        await h.apply(u);
      } catch (e) {
        failures.push(`${describeStep(u, handlers)}: ${messageOf(e)}`);
      }
    }
    await opts.stepUndone?.(d.index, d.step);
  }
  return failures;
}

function stepFailure(
  plan: Plan,
  index: number,
  step: Step,
  handlers: StepHandlers,
  cause: unknown,
  undone: number,
  undoFailures: string[],
): XentoolError {
  const where = `${plan.title}: step ${index + 1}/${plan.steps.length} (${describeStep(step, handlers)}) failed: ${messageOf(cause)}`;
  const code = codeOf(cause) ?? 'ERR_STEP_FAILED';
  if (undoFailures.length === 0) {
    const tail = undone > 0 ? `; the ${undone} completed step${undone === 1 ? ' was' : 's were'} undone` : '';
    return new XentoolError(code, where + tail, 1, { cause });
  }
  return new XentoolError(
    'ERR_ROLLBACK_INCOMPLETE',
    `${where}; rollback incomplete: ${undoFailures.join('; ')}`,
    1,
    { cause },
  );
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | undefined)?.code;
  return typeof c === 'string' && c !== 'ERR_INJECTED_FAILURE' ? c : undefined;
}
