/**
 * Plans: serialisable lists of atomic steps. A pure planner builds one from the request and the
 * observed host state; `applyPlan` performs it. Keeping steps as plain data lets `--dry-run`
 * print them, lets the intent log (crash safety) record them, and lets tests compare plans.
 */

/** One atomic step. `op` selects the handler; the other fields are its arguments (JSON only). */
export interface Step {
  op: string;
  /** Why this step is here and why at this position; printed with --dry-run --verbose. */
  why?: string;
  [arg: string]: unknown;
}

export interface Plan {
  /** What was asked, e.g. `pci-attach guest1 0000:03:00.0`. */
  title: string;
  steps: Step[];
  /** Warnings found while planning (printed on stderr before applying, and with --dry-run). */
  warnings?: string[];
}

/**
 * Performs one kind of step. `apply` returns the steps that undo it, computed from what it
 * observed before changing anything (so undo restores the previous value, not a guess), or an
 * empty list when there is nothing to undo (reads, waits, resets).
 */
export interface StepHandler {
  describe(step: Step): string;
  apply(step: Step): Promise<Step[]>;
}

export type StepHandlers = Readonly<Record<string, StepHandler>>;

export function describeStep(step: Step, handlers: StepHandlers): string {
  const h = handlers[step.op];
  return h ? h.describe(step) : `${step.op} ${JSON.stringify(stripOp(step))}`;
}

function stripOp(step: Step): Record<string, unknown> {
  const { op: _op, why: _why, ...rest } = step;
  return rest;
}

/** The `--dry-run` rendering: one numbered line per step, reasons indented below with `verbose`. */
export function formatPlan(plan: Plan, handlers: StepHandlers, verbose = false): string {
  let out = `plan: ${plan.title}\n`;
  for (const w of plan.warnings ?? []) out += `  warning: ${w}\n`;
  if (plan.steps.length === 0) return out + '  (nothing to do)\n';
  const width = String(plan.steps.length).length;
  plan.steps.forEach((s, i) => {
    out += `  ${String(i + 1).padStart(width)}. ${describeStep(s, handlers)}\n`;
    if (verbose && s.why) out += `  ${' '.repeat(width)}  why: ${s.why}\n`;
  });
  return out;
}
