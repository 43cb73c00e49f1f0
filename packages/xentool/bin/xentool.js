#!/usr/bin/env node
'use strict';
// The xentool bin, and the loader of the bundled build: loads bundle/xentool.js (npm run build)
// with a V8 code cache, or returns undefined when there is no bundle (the bins then use the
// compiled tree, dist/). The loader lives in this file, not in a module of its own, because
// loading one more module (resolving, reading and compiling it) cost ~0.4 ms of every start
// (bench/cli-startup); xm.js, the build and the tests require it from here (or through
// load-bundle.js), and only running the file as a program starts the CLI.
//
// Why the code cache: compiling the bundle was about a third of `xentool --sim pci-list`'s own start-up time
// (bench/cli-startup). Node 20 has no module.enableCompileCache (22.1+), so the bundle is
// compiled through vm.Script with `cachedData`, which is how Node's own loader would do it.
// The cache is made by `npm run build` (scripts/bundle.js runs a representative command and
// saves the code V8 compiled by its end, so the functions start-up needs are in it) and
// rewritten at exit by any run that found it missing or unusable (another Node version, other
// V8 flags) when the directory is writable; otherwise the bundle is simply compiled as before.
//
// V8 accepts a cache only for the same V8 version and flags and for a source of the same
// *length*: it does not look at the content. A rebuilt bundle of the same length would run with
// the old bundle's code, so the cache file starts with the build id the bundle ends with
// (`//# xentoolBuildId=<sha256 prefix of the bundle>`, written by scripts/bundle.js), and a
// cache with another id is not used. One cache file per Node version and architecture, so a
// tree shared with the Xen test VM's dom0 does not make the two overwrite each other's.
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
// CommonJS's Module class, which node:module exports too; loading that builtin cost ~0.25 ms
// (it pulls in the ES module loader and the source-map reader), this module's own is free.
const Module = module.constructor;

const BUNDLE = path.join(__dirname, '..', 'bundle', 'xentool.js');
const HEADER = 'xentool-code-cache ';
// The build writes the bundle already inside CommonJS's module wrapper (the text Module.wrap
// puts around a module; the build puts it on a line of its own, which the bundle's source map
// accounts for). Wrapped here, the bundle's source would be copied once more when V8 flattens
// the concatenation: a young allocation large enough to cost a scavenge at every start. Other
// files are wrapped as Node does.
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAPPER_TAIL = '\n});';

function cacheFileFor(bundle) {
  return path.join(path.dirname(bundle), 'code-cache', `${path.basename(bundle)}-${process.version}-${process.arch}.bin`);
}

function buildIdOf(source) {
  const m = /\/\/# xentoolBuildId=([0-9a-f]{16,64})\s*$/.exec(source.slice(-120));
  return m ? m[1] : undefined;
}

/** The cache's V8 data when the file is there and was made for this build; else undefined. */
function readCache(file, id) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = buf.indexOf(10);
  if (nl < 0 || buf.latin1Slice(0, nl) !== HEADER + id) return undefined;
  return buf.subarray(nl + 1);
}

function writeCache(file, id, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${HEADER}${id}\n`, 'latin1'), data]));
    // Atomic: a concurrent start reads the old file or the new one, never half of one.
    fs.renameSync(tmp, file);
  } catch {
    // A read-only install, a full disk: the cache is an optimisation, nothing depends on it.
    try {
      fs.unlinkSync(tmp);
    } catch {
      // not created
    }
  }
}

/**
 * The bundle's exports. `refreshCache`: rewrite the cache at exit even if it was usable (the
 * build does this after a representative run). `report`: told what became of the cache
 * ('used', 'rejected' by V8, 'stale' for another build, 'missing'; tests use it).
 */
function loadBundle(opts = {}) {
  const file = opts.file || BUNDLE;
  let source;
  try {
    // Read as UTF-8, Node 20 makes the string in C++ (fs.readFileSync's readFileUtf8), without a
    // Buffer of the whole file on the JavaScript heap: ~0.3 ms less than reading a Buffer and
    // slicing it (interleaved runs, wall time). The build makes the bundle pure ASCII, which V8
    // then keeps as a one-byte string (a two-byte one, from a single non-ASCII comment, cost ~5 ms).
    source = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  }
  const id = buildIdOf(source);
  const cacheFile = cacheFileFor(file);
  const cachedData = id === undefined ? undefined : readCache(cacheFile, id);
  // No importModuleDynamically: the bundle has no import() (scripts/bundle.js checks), and the
  // option's default-loader form is still experimental in Node 20 (it prints a warning).
  const wrapped = source.startsWith(WRAPPER_HEAD) ? source : Module.wrap(source);
  const script = new vm.Script(wrapped, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (opts.report) {
    const there = cachedData || (id !== undefined && fs.existsSync(cacheFile));
    opts.report(cachedData ? (script.cachedDataRejected ? 'rejected' : 'used') : there ? 'stale' : 'missing');
  }
  if (id !== undefined && (opts.refreshCache || !cachedData || script.cachedDataRejected)) {
    // At exit, so the cache holds every function this run compiled, not only the top level.
    process.once('exit', () => writeCache(cacheFile, id, script.createCachedData()));
  }
  const mod = new Module(file, module);
  mod.filename = file;
  const req = Module.createRequire(file);
  script.runInThisContext().call(mod.exports, mod.exports, req, mod, file, path.dirname(file));
  mod.loaded = true;
  return mod.exports;
}

module.exports = { loadBundle, cacheFileFor, buildIdOf, WRAPPER_HEAD, WRAPPER_TAIL };

// Run as a program (the bin, or a link to it), not required: the bundled build when present,
// else the compiled tree. An operator may link this file as `xl` on purpose (the package never
// installs one): messages then name xl.
if (require.main === module) {
  const entry = loadBundle() || require('../dist/main.js');
  entry.main(path.basename(process.argv[1] || '') === 'xl' ? 'xl' : 'xentool');
}
