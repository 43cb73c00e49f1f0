/**
 * What the bundled CLI (bundle/xentool.js, made by `npm run build`, which `npm test` runs first)
 * does not load for `xentool --sim pci-list DOM`, the command bench/cli-startup times: Node's
 * stream, net and tty modules. They are loaded by creating process.stdout/stderr (which
 * src/lazy-stdio.ts avoids, and yargs's shim touched when it loaded: scripts/bundle.js), and by
 * the QMP client, the simulated QEMU and the host lock (sim-host.ts loads them when first
 * needed). Each costs milliseconds at every start; the module list is a check that does not
 * depend on the machine's speed. Without a bundle (tsc only) these cases are skipped: the
 * unbundled tree runs yargs's CommonJS build, which creates process.stdout as it loads.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const PKG = path.resolve(__dirname, '../../packages/xentool');
const BIN = path.join(PKG, 'bin', 'xentool.js');
const bundled = existsSync(path.join(PKG, 'bundle', 'xentool.js'));

let dir: string;
let sim: string[];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-cli-laziness-'));
  sim = ['--sim', '--sim-dir', path.join(dir, 'sim')];
  // Prints, at exit and on fd 3, the builtin modules the process loaded.
  writeFileSync(
    path.join(dir, 'modules.js'),
    "process.on('exit', () => require('node:fs').writeSync(3, JSON.stringify(process.moduleLoadList)));\n",
  );
  writeFileSync(path.join(dir, 'g.cfg'), "name = \"guest1\"\ntype = \"pv\"\nmemory = 256\npci = [ '01:00.0' ]\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): { status: number | null; stdout: string; stderr: string; modules: string[] } {
  const r = spawnSync(process.execPath, ['-r', path.join(dir, 'modules.js'), BIN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  const fd3 = r.output[3];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, modules: fd3 ? (JSON.parse(fd3) as string[]) : [] };
}

const heavy = (modules: string[]): string[] => modules.filter((m) => /^NativeModule (net|stream|tty)$/.test(m));

(bundled ? describe : describe.skip)('bundled CLI, xentool --sim pci-list', () => {
  beforeAll(() => {
    expect(run([...sim, 'sim-init']).status).toBe(0);
    expect(run([...sim, 'sim-create', path.join(dir, 'g.cfg')]).status).toBe(0);
  });

  it('prints the listing without loading net, stream or tty', () => {
    const r = run([...sim, 'pci-list', 'guest1']);
    expect(r.stdout).toBe('Vdev Device\n00.0 0000:01:00.0\n');
    expect(r.status).toBe(0);
    expect(r.modules.length).toBeGreaterThan(0);
    expect(heavy(r.modules)).toEqual([]);
  });

  it('prints its one-line error the same way (stderr written without the stream)', () => {
    const r = run([...sim, 'pci-list', 'nosuch']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^[^\n]*nosuch[^\n]*\n$/);
    expect(r.status).toBe(1);
    expect(heavy(r.modules)).toEqual([]);
  });

  it('still loads them when a command needs them (sim-guest: the host lock, a full open)', () => {
    const r = run([...sim, 'sim-guest', 'guest1']);
    expect(r.status).toBe(0);
    expect(heavy(r.modules)).toContain('NativeModule net');
  });
});
