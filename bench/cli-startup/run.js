#!/usr/bin/env node
// CLI start-up: `xentool --sim pci-list DOM` against `node -e 0`, measured in the same run,
// interleaved so that machine load hits both alike. Prints medians and the ratio.
// Usage: node bench/cli-startup/run.js [runs]   (npm run build first for the bundled CLI)
//
// When NODE_EXTRA_CA_CERTS is set, every Node process parses that certificate file before it
// runs any JavaScript (on the test machine, /etc/ssl/certs/ca-certificates.crt: about 45 ms,
// more than `node -e 0` takes without it). That time is the same in both commands, so it pulls
// the ratio towards 1: the bench then measures a second time with the variable removed from the
// children's environment, which is what a host without it sees, and prints both ratios.
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

function run(args, env = process.env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, out: r.stdout };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Interleaved runs of both commands in `env`: their medians. */
function measure(env) {
  const base = [];
  const cli = [];
  for (let i = 0; i < runs; i++) {
    base.push(run(['-e', '0'], env).ms);
    cli.push(run([bin, ...sim, 'pci-list', 'guest1'], env).ms);
  }
  return { b: median(base), c: median(cli) };
}

function report(title, { b, c }) {
  console.log(title);
  console.log(`node -e 0:                       median ${b.toFixed(1)} ms`);
  console.log(`xentool --sim pci-list guest1:   median ${c.toFixed(1)} ms`);
  console.log(`ratio: ${(c / b).toFixed(2)}x (goal <= 1.30x)`);
}

try {
  run([bin, ...sim, 'sim-init']);
  writeFileSync(path.join(dir, 'g.cfg'), 'name = "guest1"\ntype = "pv"\nmemory = 256\npci = [ \'01:00.0\' ]\n');
  run([bin, ...sim, 'sim-create', path.join(dir, 'g.cfg')]);
  const check = run([bin, ...sim, 'pci-list', 'guest1']).out;
  if (check !== 'Vdev Device\n00.0 0000:01:00.0\n') throw new Error(`unexpected pci-list output: ${JSON.stringify(check)}`);

  console.log(`runs: ${runs} each, interleaved; build: ${bundled ? 'bundled (bundle/xentool.js)' : 'unbundled (dist/)'}`);
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  report(extraCa ? `environment as given (NODE_EXTRA_CA_CERTS=${extraCa}):` : 'environment as given:', measure(process.env));
  if (extraCa) {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    report('without NODE_EXTRA_CA_CERTS (what a host without it sees):', measure(env));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
