/**
 * tsc_mode and nomigrate through `create` on the simulated host: the number build-pre hands
 * xc_domain_set_tsc_info and the CPUID policy's itsc (recorded by the simulated hypervisor's
 * domain), what -N shows, what libxl's stored config carries, and the refusals (an invalid
 * value, native_paravirt), each before anything is created.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';

let b: SimBench;
let kernel: string;

beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  kernel = b.kernelFile();
});
afterEach(() => b.cleanup());

const xenLib = () => b.xenLib;
const userdataFiles = () => b.userdataFiles();

function config(type: 'pv' | 'hvm', extra: string): string {
  const hvm = type === 'hvm' ? 'serial = "pty"\nvnc = 0\nmemory = 256\n' : 'memory = 128\n';
  return b.config('g.cfg', `name = "g"\ntype = "${type}"\nkernel = "${kernel}"\nvcpus = 1\n${hvm}${extra}`);
}

/** What the simulated hypervisor recorded for domain `domid` at build-pre. */
function simTsc(domid: number): unknown {
  const st = JSON.parse(readFileSync(join(b.state, 'state.json'), 'utf8')) as { domains: { domid: number; tsc?: unknown }[] };
  return st.domains.find((d) => d.domid === domid)?.tsc;
}

/** The stored libxl config's b_info (the file ends with libxl's NUL). */
function storedBInfo(): Record<string, unknown> {
  const files = userdataFiles().filter((n) => n.startsWith('userdata-d.') && n.endsWith('.libxl-json'));
  expect(files).toHaveLength(1);
  const text = readFileSync(join(xenLib(), files[0]!), 'utf8');
  expect(text.endsWith('\0')).toBe(true);
  return (JSON.parse(text.slice(0, -1)) as { b_info: Record<string, unknown> }).b_info;
}

// [config lines, the number Xen gets, itsc, b_info.tsc_mode, b_info.disable_migrate]
const CASES: [string, 0 | 1 | 2, boolean, string | undefined, string | undefined][] = [
  ['', 0, false, undefined, undefined],
  ['tsc_mode = "default"\n', 0, false, undefined, undefined],
  ['tsc_mode = "always_emulate"\n', 1, true, 'always_emulate', undefined],
  ['tsc_mode = "native"\n', 2, false, 'native', undefined],
  ['tsc_mode = "NATIVE"\n', 2, false, 'native', undefined],
  ['tsc_mode = 1\n', 1, true, 'always_emulate', undefined],
  ['tsc_mode = 2\n', 2, false, 'native', undefined],
  // libxl__cpuid_legacy: itsc = disable_migrate || tsc_mode == always_emulate.
  ['tsc_mode = "native"\nnomigrate = 1\n', 2, true, 'native', 'True'],
  ['nomigrate = 1\n', 0, true, undefined, 'True'],
  ['tsc_mode = "always_emulate"\nnomigrate = 0\n', 1, true, 'always_emulate', 'False'],
  ['tsc_mode = "default"\nnomigrate = 0\n', 0, false, undefined, 'False'],
];

describe.each(['pv', 'hvm'] as const)('%s guest', (type) => {
  it.each(CASES)('%j: Xen gets mode %i, itsc %s; the stored config has tsc_mode %s, disable_migrate %s', async (extra, mode, itsc, stored, disableMigrate) => {
    const r = await b.run(['create', config(type, extra)]);
    expect(r.code).toBe(0);
    const domid = Number((await b.ok(['domid', 'g'])).stdout.trim());
    expect(simTsc(domid)).toEqual({ mode, itsc });
    const bInfo = storedBInfo();
    expect(bInfo.tsc_mode).toBe(stored);
    expect(bInfo.disable_migrate).toBe(disableMigrate);
    // libxl's generator order: tsc_mode right before max_memkb, disable_migrate after video_memkb.
    const keys = Object.keys(bInfo);
    if (stored !== undefined) expect(keys[keys.indexOf('max_memkb') - 1]).toBe('tsc_mode');
    if (disableMigrate !== undefined) expect(keys[keys.indexOf('video_memkb') + 1]).toBe('disable_migrate');
    // Only the number form warns (xl: deprecated).
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual(/^tsc_mode = \d/.test(extra) ? [`warning: tsc_mode=${extra.slice(11, 12)}: specifying "tsc_mode" as an integer is deprecated; use the name: tsc_mode="${stored}"`] : []);
  });

  it('-N shows the mode and itsc in build-pre, and the stored config in libxl.store-config', async () => {
    const out = JSON.parse((await b.ok(['create', '-N', config(type, 'tsc_mode = "always_emulate"\n')])).stdout) as {
      plan: { steps: Record<string, unknown>[] };
      config: Record<string, unknown>;
    };
    expect(out.plan.steps.find((s) => s.op === 'domain.build-pre')).toMatchObject({ tscMode: 1, itsc: true });
    const store = out.plan.steps.find((s) => s.op === 'libxl.store-config') as { config: { b_info: Record<string, unknown> } };
    expect(store.config.b_info.tsc_mode).toBe('always_emulate');
    expect(out.config).toMatchObject({ tscMode: 'always_emulate', disableMigrate: null });
  });

  it('an invalid value is one line with file:line:col, exit 1, nothing created', async () => {
    const before = b.snapshot();
    const cfg = config(type, '\ntsc_mode = "fast"\n');
    const r = await b.run(['create', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Parsing config from ${cfg}\n${cfg}:${type === 'hvm' ? 9 : 7}:1: tsc_mode: invalid value "fast" (one of: default, always_emulate, native)\n`);
    expect(b.snapshot()).toEqual(before);
    expect(userdataFiles()).toEqual([]);
    const n = await b.run(['create', config(type, 'tsc_mode = 7\n')]);
    expect(n.code).toBe(1);
    expect(n.stderr.split('\n')[1]).toMatch(/^\S+g\.cfg:\d+:1: tsc_mode: invalid value 7 /);
    expect(b.snapshot()).toEqual(before);
  });

  it.each(['tsc_mode = "native_paravirt"\n', 'tsc_mode = 3\n'])('%j is refused as libxl refuses it, before anything is created (-N too)', async (extra) => {
    const before = b.snapshot();
    const cfg = config(type, extra);
    for (const args of [['create', cfg], ['create', '-N', cfg]]) {
      const r = await b.run(args);
      expect(r.code).toBe(1);
      const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('Parsing config') && !l.startsWith('warning:'));
      expect(lines).toEqual([
        `${cfg}: tsc_mode="native_paravirt": TSC mode native_paravirt (a.k.a. PVRDTSCP) has been removed from Xen; use default, always_emulate or native`,
      ]);
      expect(r.stdout).toBe('');
    }
    expect(b.snapshot()).toEqual(before);
    expect(userdataFiles()).toEqual([]);
  });
});
