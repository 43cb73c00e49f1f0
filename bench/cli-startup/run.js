#!/usr/bin/env node
// CLI start-up: `xentool --sim pci-list DOM` against `node -e 0`, measured in the same run,
// interleaved so that machine load hits both alike. Prints medians and the ratio.
// Usage: node bench/cli-startup/run.js [runs]   (npm run build first for the bundled CLI)
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdtempSync, writeFileSync, rmSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const runs = Number(process.argv[2] || 20);
const bin = path.join(__dirname, '..', '..', 'packages', 'xentool', 'bin', 'xentool.js');
const bundled = existsSync(path.join(__dirname, '..', '..', 'packages', 'xentool', 'bundle', 'xentool.js'));
const dir = mkdtempSync(path.join(tmpdir(), 'xentool-bench-'));
const sim = ['--sim', '--sim-dir', path.join(dir, 'sim')];

function run(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, out: r.stdout };
}

try {
  run([bin, ...sim, 'sim-init']);
  writeFileSync(path.join(dir, 'g.cfg'), 'name = "guest1"\ntype = "pv"\nmemory = 256\npci = [ \'01:00.0\' ]\n');
  run([bin, ...sim, 'sim-create', path.join(dir, 'g.cfg')]);
  const check = run([bin, ...sim, 'pci-list', 'guest1']).out;
  if (check !== 'Vdev Device\n00.0 0000:01:00.0\n') throw new Error(`unexpected pci-list output: ${JSON.stringify(check)}`);

  const base = [];
  const cli = [];
  for (let i = 0; i < runs; i++) {
    base.push(run(['-e', '0']).ms);
    cli.push(run([bin, ...sim, 'pci-list', 'guest1']).ms);
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  const b = median(base);
  const c = median(cli);
  console.log(`runs: ${runs} each, interleaved; build: ${bundled ? 'bundled (bundle/xentool.js)' : 'unbundled (dist/)'}`);
  console.log(`node -e 0:                       median ${b.toFixed(1)} ms`);
  console.log(`xentool --sim pci-list guest1:   median ${c.toFixed(1)} ms`);
  console.log(`ratio: ${(c / b).toFixed(2)}x (goal <= 1.30x)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
