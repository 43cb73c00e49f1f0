import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { mapStack } from './map-stack';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-map-stack-'));
  // Line 3 of the source throws; minified, everything lands on one line of the output.
  writeFileSync(
    path.join(dir, 'thrower.ts'),
    'export function outerFunction(n: number): number {\n  const doubled = n * 2;\n  if (doubled > 2) throw new Error(`too big: ${doubled}`);\n  return doubled;\n}\n',
  );
  buildSync({ entryPoints: [path.join(dir, 'thrower.ts')], outfile: path.join(dir, 'out.js'), bundle: true, minify: true, sourcemap: true, format: 'cjs', platform: 'node', logLevel: 'silent' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The stack as a plain Node process prints it (jest would map it itself). */
function thrownStack(): string {
  const script = `try { require(${JSON.stringify(path.join(dir, 'out.js'))}).outerFunction(5); } catch (e) { process.stdout.write(e.stack); }`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) throw new Error(`thrower: ${r.stderr}`);
  return r.stdout;
}

describe('mapStack', () => {
  it('maps a minified file\'s frame to the source line through the map beside it', () => {
    const stack = thrownStack();
    expect(stack.split('\n')[1]).toContain(`${path.join(dir, 'out.js')}:1:`);
    const mapped = mapStack(stack).split('\n');
    expect(mapped[0]).toBe('Error: too big: 10');
    expect(mapped[1]).toMatch(new RegExp(`^    at .*\\(${path.join(dir, 'thrower.ts').replace(/[.]/g, '\\.')}:3:\\d+\\)$`));
  });

  it('leaves frames without a map, and lines that are not frames, as they are', () => {
    const stack = ['Error: x', '    at f (/nonexistent/a.js:1:2)', '    at node:internal/main:3:4', '    at /nonexistent/b.js:5:6', 'not a frame'].join('\n');
    expect(mapStack(stack)).toBe(stack);
  });

  it('leaves the frames as they are when the map is damaged', () => {
    writeFileSync(path.join(dir, 'damaged.js'), 'x');
    writeFileSync(path.join(dir, 'damaged.js.map'), '{ not json');
    const stack = `Error: x\n    at f (${path.join(dir, 'damaged.js')}:1:1)`;
    expect(mapStack(stack)).toBe(stack);
  });
});
