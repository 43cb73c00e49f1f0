#!/usr/bin/env node
// Bundles the CLI into one file (bundle/xentool.js) with esbuild, then makes its V8 code cache
// (see bin/load-bundle.js). Start-up then costs one file read and a cache load instead of
// resolving, loading and compiling ~150 modules. koffi stays external: it carries a native
// binary and is loaded only when a real host is opened.
//
// The output is checked, because the loader relies on it:
// - pure ASCII (no comments survive minification; esbuild escapes non-ASCII in strings):
//   V8 then keeps the source the loader reads as a one-byte string (a two-byte one costs more);
// - no dynamic import(): the bundle runs through vm.Script, which has no stable way to load ES
//   modules in Node 20 (use a static import of the builtin instead);
// - a trailing build id (sha256 of the bundle), which the code cache must match.
// The bundle is written inside CommonJS's module wrapper, for the loader: it is a function
// expression, not a module to require() directly.
'use strict';
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const esbuild = require('esbuild');
const { WRAPPER_HEAD, WRAPPER_TAIL } = require('../bin/load-bundle.js');

const root = path.join(__dirname, '..');
const outfile = path.join(root, 'bundle', 'xentool.js');
const bin = path.join(root, 'bin', 'xentool.js');

function fail(msg) {
  process.stderr.write(`bundle: ${msg}\n`);
  process.exit(1);
}

/**
 * Edits of yargs's platform shims, as [from, to] pairs, for the bundle only (unbundled, yargs
 * runs as published). Each keeps what xentool sees and removes start-up work (bench/cli-startup):
 * - yargs's shim reads process.stdout.columns when it loads, which makes Node create the stdout
 *   stream (loading node:net and the stream modules; src/lazy-stdio.ts exists to avoid that):
 *   the value becomes a getter, read only when yargs wants the terminal width, which it does not
 *   because cli.ts sets the wrap width;
 * - it computes its directory with fileURLToPath(import.meta.url), which in a CommonJS bundle
 *   always throws (import.meta is empty) and falls back to process.cwd(): building that error
 *   cost ~1 ms, so the bundle takes process.cwd() at once;
 * - y18n, yargs's translator, then looks for its locale files under that directory (the cwd's
 *   ../../../locales, not yargs's own), stat-ing and reading files that are not there (an
 *   ENOENT error each) and falling back to the English strings in the code. The bundle's y18n
 *   looks for no file (y18n's own "bundler" case, no readFileSync) and uses the same English.
 *   Every string it translates goes through util.format, which returns a lone string unchanged:
 *   the bundle's y18n returns it without calling util.format (whose code Node would otherwise
 *   compile at every start just for that);
 * - a new yargs instance gets a --version option whose number it guesses by reading the nearest
 *   package.json; cli.ts, the bundle's only yargs user, removes that option at once
 *   (.version(false)), so the bundle's instances start without it and read no package.json;
 * - yargs's modules reach an instance's internals through getInternalMethods(), which binds
 *   sixteen methods afresh at every call (a few hundred bound functions per start); the bundle
 *   binds them once per instance and hands out the same object (nothing in yargs changes it);
 * - every yargs method checks the types of its own arguments (argsert: parses a signature string
 *   per call, ~60 calls per start, ~2 ms) and, on a mismatch, only prints a warning with a stack
 *   (it never throws). xentool's calls are typed by @types/yargs and the unbundled tree, which
 *   the tests run, keeps the check; the bundle's argsert does nothing.
 */
const sourceEdits = [
  {
    file: /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/,
    edits: [
      [
        "stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null",
        "get stdColumns() { return typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null }",
      ],
      ['__dirname = fileURLToPath(import.meta.url);', '__dirname = process.cwd();'],
    ],
  },
  {
    file: /[\\/]y18n[\\/]build[\\/]lib[\\/]platform-shims[\\/]node\.js$/,
    edits: [
      ['        readFileSync,\n', '        readFileSync: undefined,\n'],
      ['return statSync(file).isFile();', 'return false;'],
      ['    format,\n', '    format: (...args) => (args.length === 1 && typeof args[0] === \'string\' ? args[0] : format(...args)),\n'],
    ],
  },
  {
    file: /[\\/]yargs[\\/]build[\\/]lib[\\/]yargs-factory\.js$/,
    edits: [
      ['        yargs.help();\n        yargs.version();\n', '        yargs.help();\n'],
      [
        "const kCopyDoubleDash = Symbol('copyDoubleDash');",
        "const internalMethodsOf = new WeakMap();\nconst kCopyDoubleDash = Symbol('copyDoubleDash');",
      ],
      [
        '    getInternalMethods() {\n        return {\n',
        '    getInternalMethods() {\n        let methods = internalMethodsOf.get(this);\n        if (methods)\n            return methods;\n        methods = {\n',
      ],
      [
        '            setHasOutput: this[kSetHasOutput].bind(this),\n        };\n    }\n',
        '            setHasOutput: this[kSetHasOutput].bind(this),\n        };\n        internalMethodsOf.set(this, methods);\n        return methods;\n    }\n',
      ],
    ],
  },
  {
    file: /[\\/]yargs[\\/]build[\\/]lib[\\/]argsert\.js$/,
    edits: [['export function argsert(arg1, arg2, arg3) {', 'export function argsert() {}\nfunction checkedArgsert(arg1, arg2, arg3) {']],
  },
];

/**
 * yargs 17's ESM platform shim, bundled, does costly things at every start that xentool does
 * not need (measured with bench/cli-startup and node --cpu-prof on the 2-core test machine):
 * - it imports node:assert (which loads Node's assertion machinery, ~5 ms) only to check
 *   yargs's own invariants: a lazy stand-in loads node:assert when an assertion actually fails;
 * - to guess the program's version it walks from its own directory up to the nearest
 *   package.json (~5 ms); bundled, "its own directory" is unknown, so it walks from the
 *   process's cwd (readdir per level, then parses whatever package.json it finds). xentool turns
 *   --version off (cli.ts), so the guess is discarded; the stand-in for that walk names
 *   xentool's own package.json next to the bundle, which is what yargs looks for when it is not
 *   bundled.
 * The shim's own text is also edited (sourceEdits), each edit checked to apply.
 */
const yargsShimRedirects = {
  name: 'yargs-shim-redirects',
  setup(build) {
    const fromYargsShim = (args) => /[\\/]yargs[\\/]lib[\\/]platform-shims[\\/]esm\.mjs$/.test(args.importer);
    build.onResolve({ filter: /^(assert|escalade\/sync)$/ }, (args) =>
      fromYargsShim(args) ? { path: args.path, namespace: 'yargs-shim' } : undefined,
    );
    for (const { file, edits } of sourceEdits) {
      build.onLoad({ filter: file }, async (args) => {
        let text = await fs.promises.readFile(args.path, 'utf8');
        for (const [from, to] of edits) {
          // yargs is pinned (17.7.2); text that is not there any more must be looked at again.
          if (!text.includes(from)) throw new Error(`${args.path}: no ${JSON.stringify(from)} to rewrite`);
          text = text.replace(from, to);
        }
        return { loader: 'js', contents: text };
      });
    }
    build.onLoad({ filter: /.*/, namespace: 'yargs-shim' }, (args) => ({
      loader: 'js',
      resolveDir: root,
      contents:
        args.path === 'assert'
          ? [
              'export function notStrictEqual(actual, expected, message) {',
              "  if (Object.is(actual, expected)) require('node:assert').notStrictEqual(actual, expected, message);",
              '}',
              'export function strictEqual(actual, expected, message) {',
              "  if (!Object.is(actual, expected)) require('node:assert').strictEqual(actual, expected, message);",
              '}',
            ].join('\n')
          : "export default function findPackageJson() { return require('node:path').join(__dirname, '..', 'package.json'); }",
    }));
  },
};

async function bundle() {
  const result = await esbuild.build({
    entryPoints: [path.join(root, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['koffi'],
    // Minified whole (whitespace, syntax, local names): a quarter less source to read and a
    // smaller code cache to deserialise at every start, about 2 ms of `pci-list`'s ~15 here
    // (bench/cli-startup, A/B against the whitespace-only build). No xentool output depends on a
    // function's or class's own name (error classes set `name`, messages are written out);
    // --verbose stack traces name minified functions, and cli.ts maps each frame's position back
    // to the TypeScript source through the source map (src/map-stack.ts).
    minify: true,
    sourcemap: true,
    // Written inside CommonJS's module wrapper, for the loader (see load-bundle.js); as a banner,
    // on its own line, so that esbuild's source map accounts for it.
    banner: { js: WRAPPER_HEAD },
    footer: { js: WRAPPER_TAIL.trimStart() },
    plugins: [yargsShimRedirects],
    write: false,
    logLevel: 'warning',
  });
  for (const f of result.outputFiles) {
    if (f.path !== outfile) {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      fs.writeFileSync(f.path, f.contents);
      continue;
    }
    const text = f.text;
    const nonAscii = /[^\x00-\x7f]/.exec(text);
    if (nonAscii) fail(`${outfile}: non-ASCII character at offset ${nonAscii.index}: ${JSON.stringify(text.slice(nonAscii.index - 40, nonAscii.index + 40))}`);
    const dyn = /\bimport\(/.exec(text);
    if (dyn) fail(`${outfile}: dynamic import() at offset ${dyn.index}: ${JSON.stringify(text.slice(dyn.index - 60, dyn.index + 40))}`);
    // Already in the module wrapper (the banner and footer above), which the loader then need
    // not add (see load-bundle.js).
    if (!text.startsWith(WRAPPER_HEAD)) fail(`${outfile}: does not start with the module wrapper`);
    const wrapped = text.endsWith('\n') ? text : `${text}\n`;
    const id = crypto.createHash('sha256').update(wrapped).digest('hex').slice(0, 32);
    fs.mkdirSync(path.dirname(outfile), { recursive: true });
    fs.writeFileSync(outfile, `${wrapped}//# xentoolBuildId=${id}\n`);
  }
}

/** Runs `xentool --sim pci-list` on a fresh simulated host and keeps the code V8 compiled. */
function warmCodeCache() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xentool-code-cache-'));
  try {
    const sim = ['--sim', '--sim-dir', path.join(dir, 'sim')];
    const run = (args) => {
      const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
      if (r.status !== 0) fail(`making the code cache: ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    };
    run([bin, ...sim, 'sim-init']);
    fs.writeFileSync(path.join(dir, 'g.cfg'), "name = \"guest1\"\ntype = \"pv\"\nmemory = 256\npci = [ '01:00.0' ]\n");
    run([bin, ...sim, 'sim-create', path.join(dir, 'g.cfg')]);
    // The set-up runs above wrote a cache of their own (sim-init's code: the pciback package,
    // the xenstore server...). A run given a cache writes back everything it deserialised, so
    // the warm run starts without one: its cache holds what pci-list compiled and nothing else
    // (333 KB instead of 521 KB, ~1.3 ms less to deserialise at every start).
    fs.rmSync(require('../bin/load-bundle.js').cacheFileFor(outfile), { force: true });
    run([__filename, '--warm-run', ...sim, 'pci-list', 'guest1']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--warm-run') {
  // The child of warmCodeCache: the CLI with its arguments, the cache rewritten at exit.
  process.argv.splice(2, 1);
  require('../bin/load-bundle.js').loadBundle({ refreshCache: true }).main('xentool');
} else {
  bundle()
    .then(warmCodeCache)
    .catch((e) => fail(e && e.message ? e.message : String(e)));
}
