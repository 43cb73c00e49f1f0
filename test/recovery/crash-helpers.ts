/**
 * Crash tests on the simulated host: clone a prepared host directory, run a command in a child
 * process that SIGKILLs itself at a chosen step boundary, then recover in-process.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';

const ROOT = join(__dirname, '..', '..');
export const CHILD = join(__dirname, 'xentool-child.js');

/** The children run the compiled CLI, so compile it first (incremental: fast when up to date). */
export function buildCli(): void {
  try {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', join(ROOT, 'packages', 'xentool')], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    // tsc -b still emits what compiles; a type error elsewhere in the package (another change in
    // progress) must not hide whether recovery works. A real break shows up as failing children.
    const out = String((e as { stdout?: Buffer }).stdout ?? '');
    if (!existsSync(join(ROOT, 'packages', 'xentool', 'dist', 'main.js'))) throw e;
    process.stderr.write(`warning: tsc -b packages/xentool reported errors; testing what it emitted\n${out.slice(0, 2000)}\n`);
  }
}

/** A fresh bench whose host is a copy of `from`'s (state and intents; not its lock or sockets). */
export function cloneBench(from: SimBench): SimBench {
  const b = new SimBench();
  cpSync(from.state, b.state, { recursive: true, filter: (src) => !/[/\\](lock|run)$/.test(src) });
  return b;
}

/** Benches cloned with `clone`, all removed by `cleanup` (a file's afterAll). */
export function clonePool(): { clone(from: SimBench): SimBench; cleanup(): void } {
  const benches: SimBench[] = [];
  return {
    clone(from) {
      const b = cloneBench(from);
      benches.push(b);
      return b;
    },
    cleanup() {
      for (const b of benches.splice(0)) b.cleanup();
    },
  };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runChild(b: SimBench, args: string[], env: Record<string, string> = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, ...args], {
      env: { ...process.env, XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: b.state, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface IntentFile {
  command: string;
  completed: { index: number; undone?: boolean }[];
  inFlight?: { index: number };
  status: string;
}

/** The intent files left in the host's state directory. */
export function intentFiles(b: SimBench): IntentFile[] {
  const dir = join(b.state, 'intents');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as IntentFile);
}

/** The number of steps in a command's plan, from its --dry-run output. */
export async function stepCount(b: SimBench, cmd: string[]): Promise<number> {
  const plan = (await b.ok(['-N', ...cmd])).stdout;
  return plan.split('\n').filter((l) => /^\s+\d+\. /.test(l)).length;
}

interface HostState {
  hypervisor: {
    domains: { domid: number; ioports: unknown[]; iomem: unknown[]; irqs: number[]; pirqs: Record<string, number> }[];
    pciOwners: Record<string, number>;
  };
  sysfs: { devices: { bdf?: string; driver?: string | null }[] };
  xenstore: { nodes: { path: string; value: string }[] };
}

export function hostState(b: SimBench): HostState {
  return JSON.parse(readFileSync(join(b.state, 'state.json'), 'utf8')) as HostState;
}

const DOMID_IO = 0x7ff1;

function sbdfText(sbdf: number): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${h(sbdf >>> 16, 4)}:${h((sbdf >> 8) & 0xff, 2)}:${h((sbdf >> 3) & 0x1f, 2)}.${sbdf & 7}`;
}

/**
 * The definition of a consistent host, checked from the raw state file (independently of
 * pci-audit): no intent left, no permission a guest's devices do not explain, every device owned
 * by exactly one of its own driver, pciback, or a guest, and the records of who has what agree
 * with the hypervisor in both directions. Returns the violations.
 */
export function inconsistencies(b: SimBench): string[] {
  const s = hostState(b);
  const out: string[] = [];
  const xs = new Map(s.xenstore.nodes.map((n) => [n.path, Buffer.from(n.value, 'base64').toString('utf8')]));
  for (const p of xs.keys()) if (p === '/xentool' || p.startsWith('/xentool/')) out.push(`intent node left: ${p}`);
  if (intentFiles(b).length > 0) out.push(`intent files left: ${intentFiles(b).map((f) => f.command).join(', ')}`);
  const backendDevs = new Map<number, string[]>();
  for (const [p, v] of xs) {
    const m = /^\/local\/domain\/0\/backend\/pci\/(\d+)\/0\/dev-\d+$/.exec(p);
    if (m) backendDevs.set(Number(m[1]), [...(backendDevs.get(Number(m[1])) ?? []), v]);
  }
  const libxl = new Map<string, number>();
  for (const [p, v] of xs) {
    const m = /^\/libxl\/pci\/([0-9a-f]{4})-([0-9a-f]{2})-([0-9a-f]{2})-([0-7])\/domid$/.exec(p);
    if (m) libxl.set(`${m[1]}:${m[2]}:${m[3]}.${m[4]}`, Number(v));
  }
  const devices = new Map(s.sysfs.devices.map((d) => [d.bdf!, d as { bdf: string; driver: string | null; nativeDriver?: string | null }]));
  const guestOwned = new Map<string, number>();
  for (const [k, owner] of Object.entries(s.hypervisor.pciOwners)) {
    const bdf = sbdfText(Number(k));
    const dev = devices.get(bdf);
    if (owner !== 0 && owner !== DOMID_IO) {
      guestOwned.set(bdf, owner);
      if (dev?.driver !== 'pciback') out.push(`${bdf} is in domain ${owner} but bound to ${dev?.driver ?? 'nothing'}`);
      if (!(backendDevs.get(owner) ?? []).includes(bdf)) out.push(`${bdf} is in domain ${owner} without a backend record`);
      if (libxl.get(bdf) !== owner) out.push(`${bdf} is in domain ${owner} but /libxl/pci says ${libxl.get(bdf) ?? 'nothing'}`);
    } else {
      if (owner === DOMID_IO && dev?.driver !== 'pciback') out.push(`${bdf} is quarantined but bound to ${dev?.driver ?? 'nothing'}`);
      if (dev && dev.driver !== 'pciback' && dev.driver !== null && dev.driver !== dev.nativeDriver) out.push(`${bdf} is bound to a foreign driver ${dev.driver}`);
    }
  }
  for (const [domid, list] of backendDevs) for (const bdf of list) if (guestOwned.get(bdf) !== domid) out.push(`domain ${domid}'s backend lists ${bdf}, which Xen has not given it`);
  for (const [bdf, domid] of libxl) if (guestOwned.get(bdf) !== domid) out.push(`/libxl/pci says ${bdf} is in domain ${domid}, Xen does not`);
  for (const d of s.hypervisor.domains) {
    if (d.domid === 0 || (backendDevs.get(d.domid) ?? []).length > 0) continue;
    if (d.ioports.length || d.iomem.length || d.irqs.length || Object.keys(d.pirqs).length) out.push(`domain ${d.domid} has no device but holds permissions ${JSON.stringify(d)}`);
  }
  return out;
}
