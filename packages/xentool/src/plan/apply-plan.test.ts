import { applyPlan } from './apply-plan';
import { formatPlan } from './plan';
import type { Plan, Step, StepHandlers } from './plan';

/** A toy key/value store whose steps record everything they do, so order is observable. */
function kvHandlers(store: Map<string, string>, log: string[], failOn?: string): StepHandlers {
  return {
    set: {
      describe: (s) => `set ${String(s.key)} = ${String(s.value)}`,
      apply: async (s) => {
        const key = String(s.key);
        if (key === failOn) throw Object.assign(new Error(`cannot write ${key}`), { code: 'EACCES' });
        const prev = store.get(key);
        store.set(key, String(s.value));
        log.push(`set ${key}`);
        return prev === undefined ? [{ op: 'del', key }] : [{ op: 'set', key, value: prev }];
      },
    },
    del: {
      describe: (s) => `delete ${String(s.key)}`,
      apply: async (s) => {
        const key = String(s.key);
        if (key === 'sticky') throw new Error('sticky cannot be deleted');
        store.delete(key);
        log.push(`del ${key}`);
        return [];
      },
    },
  };
}

const plan = (...steps: Step[]): Plan => ({ title: 'toy op', steps });

describe('applyPlan', () => {
  it('runs steps in order', async () => {
    const store = new Map<string, string>();
    const log: string[] = [];
    const r = await applyPlan(plan({ op: 'set', key: 'a', value: '1' }, { op: 'set', key: 'b', value: '2' }), kvHandlers(store, log));
    expect(r.completed).toBe(2);
    expect(log).toEqual(['set a', 'set b']);
    expect([...store]).toEqual([['a', '1'], ['b', '2']]);
  });

  it('undoes completed steps in reverse, restoring previous values, and names the failed step', async () => {
    const store = new Map([['a', 'old']]);
    const log: string[] = [];
    const p = plan({ op: 'set', key: 'a', value: 'new' }, { op: 'set', key: 'b', value: '2' }, { op: 'set', key: 'c', value: '3' });
    await expect(applyPlan(p, kvHandlers(store, log, 'c'))).rejects.toMatchObject({
      code: 'EACCES',
      message: 'toy op: step 3/3 (set c = 3) failed: cannot write c; the 2 completed steps were undone',
    });
    expect(log).toEqual(['set a', 'set b', 'del b', 'set a']);
    expect([...store]).toEqual([['a', 'old']]);
  });

  it('leaves the store exactly as before when failure is injected at any position', async () => {
    const steps: Step[] = [
      { op: 'set', key: 'x', value: '1' },
      { op: 'set', key: 'y', value: '2' },
      { op: 'set', key: 'x', value: '3' },
    ];
    for (let at = 0; at < steps.length; at++) {
      const store = new Map([['y', 'keep']]);
      await expect(applyPlan(plan(...steps), kvHandlers(store, []), { failAt: at })).rejects.toMatchObject({
        code: 'ERR_STEP_FAILED',
      });
      expect([...store]).toEqual([['y', 'keep']]);
    }
  });

  it('reports an incomplete rollback with the undo steps that failed', async () => {
    const store = new Map<string, string>();
    const p = plan({ op: 'set', key: 'sticky', value: '1' }, { op: 'set', key: 'b', value: '2' });
    await expect(applyPlan(p, kvHandlers(store, []), { failAt: 1 })).rejects.toMatchObject({
      code: 'ERR_ROLLBACK_INCOMPLETE',
      message: expect.stringContaining('rollback incomplete: delete sticky: sticky cannot be deleted'),
    });
  });

  it('refuses a plan with an unknown step before running anything', async () => {
    const log: string[] = [];
    await expect(
      applyPlan(plan({ op: 'set', key: 'a', value: '1' }, { op: 'frobnicate' }), kvHandlers(new Map(), log)),
    ).rejects.toMatchObject({ code: 'ERR_PLAN_UNKNOWN_STEP' });
    expect(log).toEqual([]);
  });

  it('reports progress to the observer, including undo', async () => {
    const events: string[] = [];
    await expect(
      applyPlan(plan({ op: 'set', key: 'a', value: '1' }, { op: 'set', key: 'b', value: '2' }), kvHandlers(new Map(), []), {
        failAt: 1,
        stepStarted: (i) => void events.push(`start ${i}`),
        stepDone: (i, _s, undo) => void events.push(`done ${i} undo=${undo.map((u) => u.op).join(',')}`),
        stepUndone: (i) => void events.push(`undone ${i}`),
      }),
    ).rejects.toThrow();
    expect(events).toEqual(['start 0', 'done 0 undo=del', 'start 1', 'undone 0']);
  });
});

describe('formatPlan', () => {
  it('numbers the steps and shows reasons only when verbose', () => {
    const handlers = kvHandlers(new Map(), []);
    const p = plan({ op: 'set', key: 'a', value: '1', why: 'a first' }, { op: 'del', key: 'b' });
    expect(formatPlan(p, handlers)).toBe('plan: toy op\n  1. set a = 1\n  2. delete b\n');
    expect(formatPlan(p, handlers, true)).toBe('plan: toy op\n  1. set a = 1\n     why: a first\n  2. delete b\n');
    expect(formatPlan(plan(), handlers)).toBe('plan: toy op\n  (nothing to do)\n');
  });
});
