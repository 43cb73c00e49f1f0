/**
 * The bundle is minified (scripts/bundle.js) and runs through vm.Script, where Node maps no
 * stack trace: with --verbose, the CLI maps each frame through bundle/xentool.js.map itself
 * (src/map-stack.ts). This checks it on the real bundle, which also checks that the map accounts
 * for the module wrapper the build writes around the code. Skipped without a bundle (tsc only).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const PKG = path.resolve(__dirname, '../../packages/xentool');
const BIN = path.join(PKG, 'bin', 'xentool.js');
const bundled = existsSync(path.join(PKG, 'bundle', 'xentool.js'));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-bundle-stack-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

(bundled ? describe : describe.skip)('bundled CLI, --verbose stack traces', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, '--sim', '--sim-dir', path.join(dir, 'none'), ...args], { encoding: 'utf8' });

  it('name the TypeScript sources, not the minified bundle', () => {
    const r = run(['--verbose', 'pci-list', 'guest1']);
    expect(r.status).toBe(1);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^no simulated host in .*none; create one with/);
    const frames = lines.filter((l) => /^\s+at /.test(l));
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.some((l) => l.includes('bundle/xentool.js'))).toBe(false);
    expect(frames[0]).toMatch(new RegExp(`\\(${path.join(PKG, 'src', 'host', 'sim', 'sim-host.ts').replace(/[.]/g, '\\.')}:\\d+:\\d+\\)$`));
  });

  it('are not printed without --verbose: one line', () => {
    const r = run(['pci-list', 'guest1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^no simulated host in [^\n]*\n$/);
  });
});
