#!/usr/bin/env node
/*
 * Runs inside a real Xen 4.17 dom0 (the test/xen VM mounts the project at /mnt/proj) and prints
 * what the bindings read, then `xentool info` / `xentool list` text built from the real host
 * (names through xenstore-read), so it can be diffed against `xl info` / `xl list`:
 *
 *   node /mnt/proj/test/libxc/dom0-probe.js json   # bindings results as JSON
 *   node /mnt/proj/test/libxc/dom0-probe.js info   # compare: xl info
 *   node /mnt/proj/test/libxc/dom0-probe.js list   # compare: xl list
 *
 * It bundles the TypeScript sources with esbuild in memory (the tree is mounted read-only and
 * dist/ may be stale), so it needs no build step. Read-only on the host: it creates, pauses or
 * changes nothing (the one pause is aimed at a domain id that does not exist).
 */
'use strict';
const path = require('path');
const Module = require('module');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '../..');
const bundle = require(path.join(root, 'node_modules/esbuild')).buildSync({
  stdin: {
    contents: [
      "export { openXc } from './packages/libxc-bindings/src';",
      "export { RealHost } from './packages/xentool/src/host/real/real-host';",
      "export { formatXlInfo } from './packages/xentool/src/format/xl-info';",
      "export { formatXlList } from './packages/xentool/src/format/xl-list';",
    ].join('\n'),
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  external: ['koffi'],
  write: false,
}).outputFiles[0].text;
const mod = new Module(path.join(root, 'dom0-probe-bundle.js'));
mod.filename = path.join(root, 'dom0-probe-bundle.js');
mod.paths = Module._nodeModulePaths(root);
mod._compile(bundle, mod.filename);
const { openXc, RealHost, formatXlInfo, formatXlList } = mod.exports;

const xenstore = {
  async read(p) {
    try {
      return execFileSync('xenstore-read', [p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).replace(/\n$/, '');
    } catch {
      return undefined;
    }
  },
  async close() {},
};

const big = (_k, v) => (typeof v === 'bigint' ? v.toString() : v);

async function main(mode) {
  const log = [];
  const xc = openXc({ onLog: (m) => log.push(m.line) });
  const host = new RealHost({ xc, xenstore });
  try {
    if (mode === 'info') process.stdout.write(formatXlInfo(await host.info()));
    else if (mode === 'list') process.stdout.write(formatXlList(await host.domains()));
    else {
      const out = { physinfo: xc.physinfo(), version: xc.version(), scheduler: xc.schedulerName(), freeCpus: xc.freeCpus() };
      out.domains = xc.listDomains();
      out.dom0 = xc.domainInfo(0);
      out.domainInfo1 = xc.domainInfo(1) ?? null;
      for (const f of ['sharingFreedPages', 'sharingUsedFrames']) {
        try {
          out[f] = xc[f]();
        } catch (e) {
          out[f] = { code: e.code, errno: e.errno, syscall: e.syscall };
        }
      }
      try {
        xc.pause(0x7fef);
      } catch (e) {
        out.pauseMissing = { code: e.code, errno: e.errno, syscall: e.syscall, log: e.log };
      }
      out.log = log;
      process.stdout.write(JSON.stringify(out, big, 2) + '\n');
    }
  } finally {
    await host.close();
  }
}

main(process.argv[2] ?? 'json').catch((e) => {
  process.stderr.write(`${e.code ?? 'ERROR'}: ${e.message}\n`);
  process.exitCode = 1;
});
