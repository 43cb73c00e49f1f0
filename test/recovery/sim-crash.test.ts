/**
 * The process is SIGKILLed at every step boundary of every PCI plan (attach and detach, PV and
 * HVM with qemu-xen or qemu-traditional, assignable-add, assignable-remove): boundary k < n kills
 * as step k is about to start (its intent record already says so), boundary n kills after the last
 * step, before the record is closed. After `pci-recover` the host is exactly as before the command (rolled back) or exactly
 * as after a clean run (finished forward), per the recovery policy the record states; it passes
 * the independent consistency check and `pci-audit` reports it clean. pci-recover is itself killed
 * before each change it makes, and the next pci-recover still ends in the same state.
 */
import { SimBench } from '../pci/sim-helpers';
import { buildCli, clonePool, inconsistencies, intentFiles, runChild, stepCount } from './crash-helpers';

jest.setTimeout(600_000);

let base: SimBench;
const pool = clonePool();
const clone = pool.clone;

beforeAll(async () => {
  buildCli();
  base = new SimBench();
  await base.ok(['sim-init']);
  await base.ok(['sim-create', base.config('pv.cfg', 'name = "pv"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  await base.ok(['sim-create', base.config('hvm.cfg', 'name = "hvm"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
  trad = clone(base);
  await trad.ok(['sim-create', trad.config('trad.cfg', 'name = "trad"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\ndevice_model_version = "qemu-xen-traditional"\n')]);
  await trad.ok(['pci-attach', 'pv', '03:00.0']);
});
afterAll(() => {
  base?.cleanup();
  pool.cleanup();
});

let trad: SimBench | undefined;

/**
 * A copy of the base host plus an HVM guest whose device model is qemu-traditional, and another
 * guest holding a device (so that /local/domain/0/backend never empties: undoing its removal would
 * re-create it after /local/domain/0/device-model, a difference in sibling order only).
 */
function withTrad(): SimBench {
  return clone(trad!);
}

/**
 * Kills `cmd` at every boundary of its plan on a copy of `start`, recovers, and checks.
 * `forwardFrom`: the first boundary from which recovery finishes the operation instead of
 * rolling it back (n for operations that are always rolled back).
 */
async function killEverywhere(start: SimBench, cmd: string[], forwardFrom?: number): Promise<void> {
  const n = await stepCount(start, cmd);
  expect(n).toBeGreaterThan(2);
  const before = start.snapshot();
  const ref = clone(start);
  await ref.ok(cmd);
  const after = ref.snapshot();
  const pivot = forwardFrom ?? n;
  for (let k = 0; k <= n; k++) {
    const b = clone(start);
    const r = await runChild(b, cmd, { XENTOOL_TEST_KILL_AT_STEP: String(k) });
    expect({ k, signal: r.signal, stderr: r.stderr }).toEqual({ k, signal: 'SIGKILL', stderr: '' });
    // The record on disk says exactly where it stopped.
    const [rec, ...more] = intentFiles(b);
    expect(more).toEqual([]);
    expect({ k, completed: rec!.completed.map((c) => c.index), inFlight: rec!.inFlight?.index }).toEqual({
      k,
      completed: [...Array(k).keys()],
      inFlight: k < n ? k : undefined,
    });
    // Until recovered, the same command is refused with a pointer to pci-recover.
    const refused = await b.run(cmd);
    expect({ k, code: refused.code }).toEqual({ k, code: 1 });
    expect(refused.stderr).toMatch(/unfinished operation .*; run 'xentool pci-recover' first/);

    const rec2 = await b.ok(['pci-recover']);
    const verb = k < pivot ? 'rolled back' : 'finished';
    expect(rec2.stdout).toMatch(new RegExp(`^${cmd[0]} .*\\(intent [^)]+\\): ${verb}, because `));
    expect({ k, state: b.snapshot() }).toEqual({ k, state: k < pivot ? before : after });
    expect({ k, problems: inconsistencies(b) }).toEqual({ k, problems: [] });
    const audit = await b.run(['pci-audit']);
    expect({ k, code: audit.code, out: audit.stdout }).toEqual({ k, code: 0, out: expect.stringMatching(/^pci-audit: clean /) });
  }
  // A host rolled back equals the start state, where the command works (the reference run), so
  // nothing is left wedged; one re-run checks that the record is really gone for the command too.
  const again = clone(start);
  await runChild(again, cmd, { XENTOOL_TEST_KILL_AT_STEP: '0' });
  await again.ok(['pci-recover']);
  await again.ok(cmd);
  expect(again.snapshot()).toEqual(after);
}

describe('SIGKILL at every step boundary, then pci-recover', () => {
  it('PV attach, first device (backend and frontend created)', async () => {
    await killEverywhere(base, ['pci-attach', 'pv', '01:00.0']);
  });

  it('PV attach, second device (backend connected: Reconfiguring dance)', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'pv', '03:00.0']);
    await killEverywhere(s, ['pci-attach', 'pv', '01:00.0']);
  });

  it('PV detach: rolled back until the guest has let go, finished after', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'pv', '01:00.0']);
    await s.ok(['pci-attach', 'pv', '03:00.0']);
    await killEverywhere(s, ['pci-detach', 'pv', '01:00.0'], 1);
  });

  it('PV detach of the last device (backend destroyed)', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'pv', '01:00.0']);
    await killEverywhere(s, ['pci-detach', 'pv', '01:00.0'], 1);
  });

  it('HVM attach with a slot', async () => {
    await killEverywhere(base, ['pci-attach', 'hvm', '03:00.0@7']);
  });

  it('HVM detach', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'hvm', '03:00.0@7']);
    await killEverywhere(s, ['pci-detach', 'hvm', '03:00.0'], 1);
  });

  it('qemu-traditional HVM attach, qemu-dm picks the slot', async () => {
    await killEverywhere(withTrad(), ['pci-attach', 'trad', '01:00.0']);
  });

  it('qemu-traditional HVM detach: rolled back until the guest has ejected it, finished after', async () => {
    const s = withTrad();
    await s.ok(['pci-attach', 'trad', '01:00.0@7']);
    await killEverywhere(s, ['pci-detach', 'trad', '01:00.0'], 1);
  });

  it('assignable-add from a dom0 driver, with a name', async () => {
    await killEverywhere(base, ['pci-assignable-add', '-n', 'sata', '02:00.0']);
  });

  it('assignable-remove -r back to the dom0 driver', async () => {
    const s = clone(base);
    await s.ok(['pci-assignable-add', '-n', 'sata', '02:00.0']);
    await killEverywhere(s, ['pci-assignable-remove', '-r', '02:00.0']);
  });
});

describe('pci-recover itself SIGKILLed before each of its changes, then run again', () => {
  async function killRecoveryEverywhere(start: SimBench, cmd: string[], killAt: number, want: 'before' | 'after'): Promise<void> {
    const ref = clone(start);
    await ref.ok(cmd);
    const expected = want === 'before' ? start.snapshot() : ref.snapshot();
    const crashed = clone(start);
    expect((await runChild(crashed, cmd, { XENTOOL_TEST_KILL_AT_STEP: String(killAt) })).signal).toBe('SIGKILL');
    // The changes recovery will make, one line each.
    const plan = (await clone(crashed).ok(['pci-recover', '--dry-run'])).stdout.split('\n').filter((l) => l.startsWith('  '));
    expect(plan.length).toBeGreaterThan(2);
    for (let j = 0; j < plan.length; j++) {
      const b = clone(crashed);
      const r = await runChild(b, ['pci-recover'], { XENTOOL_TEST_KILL_AT_STEP: String(j) });
      expect({ j, signal: r.signal }).toEqual({ j, signal: 'SIGKILL' });
      const again = await b.ok(['pci-recover']);
      expect(again.stdout).toMatch(new RegExp(`^${cmd[0]} .*: ${want === 'before' ? 'rolled back' : 'finished'}, because `));
      expect({ j, state: b.snapshot() }).toEqual({ j, state: expected });
      expect({ j, problems: inconsistencies(b) }).toEqual({ j, problems: [] });
      expect((await b.run(['pci-audit'])).code).toBe(0);
    }
  }

  it('rolling back a PV attach killed at its last step', async () => {
    const n = await stepCount(base, ['pci-attach', 'pv', '01:00.0']);
    await killRecoveryEverywhere(base, ['pci-attach', 'pv', '01:00.0'], n - 1, 'before');
  });

  it('rolling back an assignable-add killed at its last step (undo of the seize is two steps)', async () => {
    const n = await stepCount(base, ['pci-assignable-add', '-n', 'sata', '02:00.0']);
    await killRecoveryEverywhere(base, ['pci-assignable-add', '-n', 'sata', '02:00.0'], n - 1, 'before');
  });

  it('rolling back a qemu-traditional attach killed at its last step (qemu-dm must eject it again)', async () => {
    const s = withTrad();
    const n = await stepCount(s, ['pci-attach', 'trad', '01:00.0']);
    await killRecoveryEverywhere(s, ['pci-attach', 'trad', '01:00.0'], n - 1, 'before');
  });

  it('finishing a PV detach killed after the guest let go', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'pv', '01:00.0']);
    await killRecoveryEverywhere(s, ['pci-detach', 'pv', '01:00.0'], 1, 'after');
  });
});
