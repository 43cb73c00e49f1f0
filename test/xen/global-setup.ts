/**
 * Boots the suite's VMs: one per jest worker (suiteVmCount(), 1 by default), each test file runs
 * in one of them, one file at a time per VM. When XENVM_RUN_DIR already names a running VM
 * (`node test/xen/run.js serve`), the suite uses that one alone and leaves it running.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { IMAGES_DIR, PROJECT_DIR, RUNS_DIR, suiteVmCount, XEN_DIR } from './suite';
import { XenVm } from './xen-vm';

/** Runs kept in work/runs (serial log, qemu.log, guest consoles); older ones are removed. */
const KEEP_RUNS = 5;

function pruneRuns(): void {
  if (!fs.existsSync(RUNS_DIR)) return;
  const runs = fs.readdirSync(RUNS_DIR).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - KEEP_RUNS))) {
    fs.rmSync(path.join(RUNS_DIR, old), { recursive: true, force: true });
  }
}

export default async function globalSetup(): Promise<void> {
  if (process.env.XENVM_RUN_DIR) {
    XenVm.attach(process.env.XENVM_RUN_DIR);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the real-Xen suite needs root (QEMU, 9p with security_model=none)');
  execFileSync('bash', [path.join(XEN_DIR, 'build-initramfs.sh'), IMAGES_DIR], { stdio: 'inherit' });
  pruneRuns();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const count = suiteVmCount();
  // Booted side by side: a boot is mostly one emulated CPU's work.
  const vms = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      XenVm.boot({
        images: IMAGES_DIR,
        runDir: path.join(RUNS_DIR, count === 1 ? stamp : `${stamp}-vm${i + 1}`),
        projectDir: PROJECT_DIR,
        log: (line) => process.stderr.write(`${count === 1 ? '' : `[vm${i + 1}] `}${line}\n`),
      }),
    ),
  );
  // The workers jest starts next inherit these (suite.ts suiteVm picks one by JEST_WORKER_ID).
  process.env.XENVM_RUN_DIRS = vms.map((v) => v.runDir).join(',');
  (globalThis as { __xenvms?: XenVm[] }).__xenvms = vms;
}
