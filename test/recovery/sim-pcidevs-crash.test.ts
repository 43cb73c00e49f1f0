/**
 * SIGKILL at every step boundary of an attach and a detach on a domain whose stored config for
 * xl exists (xl 4.17's captured file): after `pci-recover` the file is byte for byte what it was
 * before the command (rolled back) or what a clean run leaves (finished), with the rest of the
 * host. Boundary k kills as step k is about to start, so the pcidev step is both interrupted
 * (settled from the preimage its intent record holds) and completed (undone from its undo steps).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';
import { buildCli, clonePool, runChild, stepCount } from './crash-helpers';

jest.setTimeout(600_000);

let base: SimBench;
let file: string;
const pool = clonePool();
const clone = pool.clone;

beforeAll(async () => {
  buildCli();
  base = new SimBench();
  await base.ok(['sim-init']);
  await base.ok(['sim-create', base.config('xlpv.cfg', 'name = "xlpv"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  const domid = (await base.ok(['domid', 'xlpv'])).stdout.trim();
  const uuid = base.xenstore(`/local/domain/${domid}/vm`)[`/local/domain/${domid}/vm`]!.slice('/vm/'.length);
  const dir = join(base.state, 'var', 'lib', 'xen');
  mkdirSync(dir, { recursive: true });
  file = join(dir, `userdata-d.${domid}.${uuid}.libxl-json`).slice(base.state.length);
  writeFileSync(join(base.state, file), readFileSync(join(__dirname, '../../packages/xentool/src/domain/fixtures/xl-4.17-pv-pci.libxl-json')), { mode: 0o600 });
});
afterAll(() => {
  base?.cleanup();
  pool.cleanup();
});

const stored = (b: SimBench) => readFileSync(join(b.state, file)).toString('base64');

async function killEverywhere(start: SimBench, cmd: string[], forwardFrom?: number): Promise<void> {
  const n = await stepCount(start, cmd);
  const before = { state: start.snapshot(), file: stored(start) };
  const ref = clone(start);
  await ref.ok(cmd);
  const after = { state: ref.snapshot(), file: stored(ref) };
  expect(after.file).not.toBe(before.file);
  for (let k = 0; k <= n; k++) {
    const b = clone(start);
    const r = await runChild(b, cmd, { XENTOOL_TEST_KILL_AT_STEP: String(k) });
    expect({ k, signal: r.signal }).toEqual({ k, signal: 'SIGKILL' });
    await b.ok(['pci-recover']);
    expect({ k, state: b.snapshot(), file: stored(b) }).toEqual({ k, ...(k < (forwardFrom ?? n) ? before : after) });
  }
}

describe("SIGKILL at every step boundary, then pci-recover: the domain's stored config", () => {
  it('PV attach: rolled back to the file xl wrote', async () => {
    await killEverywhere(base, ['pci-attach', 'xlpv', '01:00.0']);
  });

  it('PV detach: the entry back until the guest has let go, removed after', async () => {
    const s = clone(base);
    await s.ok(['pci-attach', 'xlpv', '01:00.0']);
    await killEverywhere(s, ['pci-detach', 'xlpv', '01:00.0'], 1);
  });
});
