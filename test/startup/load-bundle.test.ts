/**
 * packages/xentool/bin/load-bundle.js: the bundle runs through a V8 code cache that is used only
 * for the build it was made from. Each case runs the loader in a fresh Node process, as the bins
 * do, on a small stand-in bundle in a temporary directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const LOADER = path.resolve(__dirname, '../../packages/xentool/bin/load-bundle.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { cacheFileFor } = require(LOADER) as { cacheFileFor(bundle: string): string };

let dir: string;
let bundle: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'xentool-load-bundle-'));
  bundle = path.join(dir, 'xentool.js');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function writeBundle(body: string, id: string | undefined): void {
  writeFileSync(bundle, `${body}\n${id === undefined ? '' : `//# xentoolBuildId=${id}\n`}`);
}

/** Loads the bundle in a child process: what the loader said of the cache, and `exports.value`. */
function load(): { cache: string; value: string } {
  const script = `const l = require(${JSON.stringify(LOADER)}); let cache = '';
    const e = l.loadBundle({ file: ${JSON.stringify(bundle)}, report: (s) => { cache = s; } });
    process.stdout.write(JSON.stringify({ cache, value: e.value }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as { cache: string; value: string };
}

it('makes the cache on the first run and uses it on the next', () => {
  writeBundle("exports.value = 'one';", 'a'.repeat(32));
  expect(load()).toEqual({ cache: 'missing', value: 'one' });
  expect(existsSync(cacheFileFor(bundle))).toBe(true);
  expect(load()).toEqual({ cache: 'used', value: 'one' });
});

it('does not use the cache of another build of the same length (V8 would: it checks only the length)', () => {
  writeBundle("exports.value = 'one';", 'a'.repeat(32));
  load();
  expect(load().cache).toBe('used');
  writeBundle("exports.value = 'two';", 'b'.repeat(32));
  expect(load()).toEqual({ cache: 'stale', value: 'two' });
  // ...and replaces it with this build's.
  expect(load()).toEqual({ cache: 'used', value: 'two' });
});

it('survives a damaged cache: V8 rejects it, the bundle is compiled, the cache rewritten', () => {
  writeBundle("exports.value = 'one';", 'a'.repeat(32));
  load();
  const file = cacheFileFor(bundle);
  const text = readFileSync(file);
  const header = text.subarray(0, text.indexOf(10) + 1);
  writeFileSync(file, Buffer.concat([header, Buffer.from('not V8 code cache data')]));
  expect(load()).toEqual({ cache: 'rejected', value: 'one' });
  expect(load()).toEqual({ cache: 'used', value: 'one' });
});

it('runs a bundle without a build id, and a non-ASCII one, without a cache', () => {
  writeBundle("exports.value = 'caf\u00e9';", undefined);
  expect(load()).toEqual({ cache: 'missing', value: 'caf\u00e9' });
  expect(existsSync(cacheFileFor(bundle))).toBe(false);
});

it('answers undefined when there is no bundle (the bins then use dist/)', () => {
  const r = spawnSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(LOADER)}).loadBundle({ file: ${JSON.stringify(bundle)} })))`], {
    encoding: 'utf8',
  });
  expect(r.stdout).toBe('undefined');
});

it('runs a bundle the build wrote inside the module wrapper as is, with its cache', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WRAPPER_HEAD, WRAPPER_TAIL } = require(LOADER) as { WRAPPER_HEAD: string; WRAPPER_TAIL: string };
  // Wrapped a second time, this would only define a function and leave exports.value unset.
  writeBundle(`${WRAPPER_HEAD}exports.value = typeof module === 'object' && __filename === ${JSON.stringify(bundle)} ? 'wrapped' : 'wrong';${WRAPPER_TAIL}`, 'c'.repeat(32));
  expect(load()).toEqual({ cache: 'missing', value: 'wrapped' });
  expect(load()).toEqual({ cache: 'used', value: 'wrapped' });
});
