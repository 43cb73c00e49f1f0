#!/usr/bin/env node
'use strict';
/*
 * The real-Xen harness's entry point (`npm run test:xen` runs it with no arguments).
 *
 *   node test/xen/run.js [jest args...]   build the images and the tree, then run the suite (jest,
 *                                         test/xen/jest.config.js); one VM for the whole suite
 *   node test/xen/run.js build            only build the images (test/xen/work/images)
 *   node test/xen/run.js serve            boot a VM and keep it until Ctrl-C; `exec` and the suite
 *                                         (XENVM_RUN_DIR=<dir> npm run test:xen) then use it
 *   node test/xen/run.js exec 'CMD'...    run each CMD in dom0 (the VM XENVM_RUN_DIR names, else the
 *                                         last served one, else a VM booted for this call), print
 *                                         its output, exit with the last code
 *
 * Needs root and the Debian packages of test/xen/setup.sh. One image set (test/xen/work/images),
 * with qemu-xen in dom0 for the HVM scenarios.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const XEN_DIR = __dirname;
const PROJECT = path.resolve(XEN_DIR, '../..');
const WORK = path.join(XEN_DIR, 'work');
const IMAGES = path.join(WORK, 'images');
const CURRENT = path.join(WORK, 'current');

function fail(message, code = 2) {
  process.stderr.write(`test:xen: ${message}\n`);
  process.exit(code);
}

function preflight() {
  if (process.getuid && process.getuid() !== 0) fail('needs root (QEMU with 9p shares as root, the suite writes test/xen/work)');
  const which = spawnSync('sh', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' });
  if (which.status !== 0) fail('qemu-system-x86_64 not found: run test/xen/setup.sh (as root) first');
}

function buildImages() {
  const r = spawnSync('bash', [path.join(XEN_DIR, 'build-initramfs.sh'), IMAGES], { stdio: 'inherit' });
  if (r.status !== 0) fail(`building the images failed (exit ${r.status})`);
}

/** xen-vm.ts compiled for this script (the suite itself goes through ts-jest). */
function loadXenVm() {
  const out = path.join(WORK, 'xen-vm.js');
  require('esbuild').buildSync({
    entryPoints: [path.join(XEN_DIR, 'xen-vm.ts')],
    outfile: out,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'error',
  });
  return require(out);
}

/** The VM to use: XENVM_RUN_DIR if set, else the last one `serve` started (work/current). */
function servedRunDir() {
  try {
    const dir = process.env.XENVM_RUN_DIR || fs.readFileSync(CURRENT, 'utf8').trim();
    const pid = Number(fs.readFileSync(path.join(dir, 'qemu.pid'), 'utf8').trim());
    process.kill(pid, 0);
    if (fs.existsSync(path.join(dir, 'share', 'POWEROFF'))) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

function newRunDir() {
  return path.join(WORK, 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
}

async function boot(XenVm) {
  return XenVm.boot({
    images: IMAGES,
    runDir: newRunDir(),
    projectDir: PROJECT,
    xenstored: process.env.XENVM_XENSTORED || undefined,
    log: (line) => process.stderr.write(`${line}\n`),
  });
}

async function serve() {
  preflight();
  buildImages();
  const { XenVm } = loadXenVm();
  const vm = await boot(XenVm);
  fs.writeFileSync(CURRENT, `${vm.runDir}\n`);
  process.stdout.write(`${vm.runDir}\n`);
  process.stderr.write('xenvm: serving; `node test/xen/run.js exec CMD` runs commands in it; Ctrl-C powers it off\n');
  await new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await vm.shutdown();
  // Several people may serve VMs from one tree: leave work/current alone if it names another.
  const current = fs.existsSync(CURRENT) ? fs.readFileSync(CURRENT, 'utf8').trim() : '';
  if (current === vm.runDir) fs.rmSync(CURRENT, { force: true });
}

async function exec(commands) {
  if (commands.length === 0) fail('usage: run.js exec CMD...');
  preflight();
  const { XenVm } = loadXenVm();
  const served = servedRunDir();
  let vm;
  if (served) {
    vm = XenVm.attach(served);
  } else {
    buildImages();
    vm = await boot(XenVm);
  }
  let code = 0;
  try {
    for (const cmd of commands) {
      const r = await vm.exec(cmd, { timeoutS: Number(process.env.XENVM_TIMEOUT_S) || 300 });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.stderr.write(`xenvm: exit ${r.code} in ${(r.ms / 1000).toFixed(1)} s: ${cmd.split('\n')[0]}\n`);
      code = r.code;
    }
  } finally {
    if (!served) await vm.shutdown();
  }
  process.exit(code);
}

function suite(jestArgs) {
  preflight();
  buildImages();
  // Scenarios run xentool in dom0 from the package as `npm run build` leaves it (the bundle and
  // its code cache; suite.ts xentoolCommand). When the tree does not build (type errors anywhere
  // in it), they run an esbuild bundle of the sources instead; XENVM_XENTOOL=tree makes them fail.
  const tsc = spawnSync('npm', ['run', '--silent', 'build'], { cwd: PROJECT, encoding: 'utf8' });
  if (tsc.status !== 0) {
    process.stderr.write(`test:xen: warning: \`npm run build\` failed; xentool runs from a bundle of the sources:\n${tsc.stdout}${tsc.stderr}`);
  }
  const env = { ...process.env, XENVM_TREE_BUILT: tsc.status === 0 ? '1' : '0' };
  const jest = path.join(PROJECT, 'node_modules', 'jest', 'bin', 'jest.js');
  const r = spawnSync(process.execPath, [jest, '-c', path.join(XEN_DIR, 'jest.config.js'), ...jestArgs], {
    cwd: PROJECT,
    stdio: 'inherit',
    env,
  });
  process.exit(r.status === null ? 1 : r.status);
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'build':
      preflight();
      buildImages();
      return;
    case 'serve':
      return serve();
    case 'exec':
      return exec(rest);
    default:
      return suite(process.argv.slice(2));
  }
}

main().catch((e) => fail(e && e.code ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e), 1));
