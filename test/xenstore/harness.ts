/**
 * Shared set-up for the cross tests: a XenstoredServer on a unix socket in a scratch dir, the
 * real tools run with XENSTORED_PATH pointing at it, and the C probe compiled against the
 * installed libxenstore.
 *
 * Everything that runs a tool is asynchronous: the server lives in this jest worker's event
 * loop, so a synchronous exec would deadlock it.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 10000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function scratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Compiles test/xenstore/xsprobe.c against /usr/include/xenstore.h and -lxenstore. */
export async function buildProbe(dir: string): Promise<string> {
  const out = path.join(dir, 'xsprobe');
  const r = await run('gcc', ['-O2', '-Wall', '-Werror', '-o', out, path.join(__dirname, 'xsprobe.c'), '-lxenstore'], {});
  if (r.code !== 0) throw new Error(`gcc failed: ${r.stderr}`);
  return out;
}

/**
 * Bundles a test's child-process entry (TypeScript importing @xentool/xenstore from its
 * sources) into one .js file with esbuild, so the child runs the current sources whether or not
 * packages/xenstore/dist is built. koffi stays external (a native module) and loads from the
 * workspace's node_modules, found by walking up from the project directory.
 */
export function bundleChild(entry: string, outDir: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const out = path.join(outDir, `${path.basename(entry, '.ts')}.js`);
  esbuild.buildSync({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['koffi'],
    alias: { '@xentool/xenstore': path.join(__dirname, '../../packages/xenstore/src/index.ts') },
    logLevel: 'error',
  });
  return out;
}

/** NODE_PATH for a bundled child: the workspace's node_modules (koffi). */
export const CHILD_NODE_PATH = path.join(__dirname, '../../node_modules');
