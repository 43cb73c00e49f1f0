/**
 * main.ts's exitIfIdle: a finished command ends the process at once when nothing is left for
 * the event loop (which spares a young-generation collection V8 would run in the loop's last
 * turn), and leaves it to its normal end when something is. 'beforeExit' is emitted only at a
 * normal end, so it tells the two apart. Runs the compiled tree (dist/, built by `npm test`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const PKG = path.resolve(__dirname, '../../packages/xentool');
const MAIN = path.join(PKG, 'dist', 'main.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-exit-if-idle-'));
  // Records, on fd 3, the end the process took.
  writeFileSync(
    path.join(dir, 'ends.js'),
    "const fs = require('node:fs');\nprocess.on('beforeExit', () => fs.writeSync(3, 'beforeExit;'));\nprocess.on('exit', (c) => fs.writeSync(3, `exit ${c};`));\n",
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function node(args: string[]): { status: number | null; stdout: string; ends: string } {
  const r = spawnSync(process.execPath, ['-r', path.join(dir, 'ends.js'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout, ends: String(r.output[3] ?? '') };
}

describe('exitIfIdle', () => {
  it('ends the process at once, with process.exitCode, when nothing is pending', () => {
    const r = node(['-e', `process.exitCode = 3; require(${JSON.stringify(MAIN)}).exitIfIdle(); process.stdout.write('not reached');`]);
    expect(r.ends).toBe('exit 3;');
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
  });

  it('leaves the process to its normal end while a timer is pending', () => {
    const r = node(['-e', `setTimeout(() => process.stdout.write('timer'), 20); require(${JSON.stringify(MAIN)}).exitIfIdle();`]);
    expect(r.stdout).toBe('timer');
    expect(r.ends).toBe('beforeExit;exit 0;');
    expect(r.status).toBe(0);
  });

  (existsSync(MAIN) ? it : it.skip)('ends a finished CLI command early, its output whole', () => {
    const sim = ['--sim', '--sim-dir', path.join(dir, 'sim')];
    const bin = path.join(PKG, 'bin', 'xentool.js');
    expect(node([bin, ...sim, 'sim-init']).status).toBe(0);
    const r = node([bin, ...sim, 'pci-assignable-list']);
    expect(r.status).toBe(0);
    expect(r.ends).toBe('exit 0;');
    const bad = node([bin, ...sim, 'pci-list', 'nosuch']);
    expect(bad.status).toBe(1);
    expect(bad.ends).toBe('exit 1;');
  });
});
