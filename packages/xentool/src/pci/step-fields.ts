/**
 * Reading a plan step's fields (steps are JSON data): shared by the PCI step handlers and the
 * qemu-traditional ones.
 */
import { XentoolError } from '../errors';
import type { Step } from '../plan/plan';
import { parseDevNode } from './backend-xs';
import type { Bdf } from './types';

export const s = (step: Step, k: string): string => String(step[k]);
export const n = (step: Step, k: string): number => Number(step[k]);

export function bdfOf(step: Step): Bdf {
  const b = parseDevNode(s(step, 'bdf'));
  if (!b) throw new XentoolError('ERR_PLAN_CORRUPT', `step ${step.op}: bad BDF ${s(step, 'bdf')}`);
  return b;
}
