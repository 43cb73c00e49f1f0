/** Helpers for scenario tests on the simulated host: run the CLI in-process against a temp state dir. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../packages/xentool/src/cli';
import { openHost } from '../../packages/xentool/src/host/open-host';
import { runXm } from '../../packages/xentool/src/xm/xm-cli';
import { captureContext } from '../../packages/xentool/src/testing/capture';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export class SimBench {
  readonly dir = mkdtempSync(join(tmpdir(), 'xentool-sim-'));
  readonly state = join(this.dir, 'state');

  async run(args: string[], env: Record<string, string> = {}, prog = 'xentool'): Promise<Run> {
    const ctx = captureContext({ env: { XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: this.state, ...env }, cwd: this.dir, prog });
    if (env.XENTOOL_TEST_FAIL_AT_STEP !== undefined) ctx.testHooks = { failAtStep: Number(env.XENTOOL_TEST_FAIL_AT_STEP) };
    const code = await runCli(args, ctx);
    return { code, stdout: ctx.stdout.text, stderr: ctx.stderr.text };
  }

  /** The `xm` front end against the same simulated host. */
  async xm(args: string[]): Promise<Run> {
    const ctx = captureContext({ env: { XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: this.state }, cwd: this.dir, prog: 'xm' });
    const code = await runXm(args, ctx, () => openHost(ctx, { _: [], sim: true, simDir: this.state }));
    return { code, stdout: ctx.stdout.text, stderr: ctx.stderr.text };
  }

  /** Runs and fails the test with the output when the exit code is not `want`. */
  async ok(args: string[], want = 0): Promise<Run> {
    const r = await this.run(args);
    if (r.code !== want) throw new Error(`xentool ${args.join(' ')} exited ${r.code} (wanted ${want})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  }

  config(name: string, text: string): string {
    const p = join(this.dir, name);
    writeFileSync(p, text);
    return p;
  }

  /** The whole host state, minus what moves by itself (CPU time). */
  snapshot(): unknown {
    const s = JSON.parse(readFileSync(join(this.state, 'state.json'), 'utf8')) as {
      domains: unknown[];
      sysfs: { devices: { resetCount?: number }[] };
    };
    // A reset cannot be undone and is not meant to be: how often a device was reset is not host state.
    for (const d of s.sysfs.devices) delete d.resetCount;
    // Xen 4.17 parks every device it takes back from a guest in quarantine (dom_io, XSA-302), so
    // undoing an assignment leaves a device that dom0 owned quarantined: still in no guest and
    // still assignable, and safer than handing it straight back. Compare "which guest", not that.
    const owners = (s as unknown as { hypervisor: { pciOwners: Record<string, number> } }).hypervisor.pciOwners;
    for (const k of Object.keys(owners)) if (owners[k] === 0x7ff1) owners[k] = 0;
    return s;
  }

  /** xenstore as path → value (values decoded), for readable assertions. */
  xenstore(prefix = '/'): Record<string, string> {
    const s = JSON.parse(readFileSync(join(this.state, 'state.json'), 'utf8')) as { xenstore: { nodes: { path: string; value: string }[] } };
    const out: Record<string, string> = {};
    for (const n of s.xenstore.nodes) if (n.path.startsWith(prefix)) out[n.path] = Buffer.from(n.value, 'base64').toString('utf8');
    return out;
  }

  /** The simulated host's /var/lib/xen (libxl's stored domain configs live there). */
  get xenLib(): string {
    return join(this.state, 'var', 'lib', 'xen');
  }

  /** libxl's userdata files in the simulated host's /var/lib/xen, sorted. */
  userdataFiles(): string[] {
    return existsSync(this.xenLib) ? readdirSync(this.xenLib).filter((n) => n.startsWith('userdata-')).sort() : [];
  }

  /** A file for `kernel =` (the simulated builder only opens it); returns its path. */
  kernelFile(): string {
    const p = join(this.dir, 'vmlinuz');
    writeFileSync(p, 'not really a kernel: the simulated builder only opens it');
    return p;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
