/**
 * What the scenario files share: the paths of the harness and the VM of this suite run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { XenVm } from './xen-vm';

export const XEN_DIR = __dirname;
export const PROJECT_DIR = path.resolve(__dirname, '../..');
export const WORK_DIR = path.join(__dirname, 'work');
export const IMAGES_DIR = path.join(WORK_DIR, 'images');
export const RUNS_DIR = path.join(WORK_DIR, 'runs');
/** Where the project is mounted (read-only) inside dom0. */
export const PROJECT_IN_DOM0 = '/mnt/proj';
/** Transcripts of every run; with XENVM_RECORD_FIXTURES=1 they are also written to fixtures/. */
export const TRANSCRIPTS_DIR = path.join(WORK_DIR, 'transcripts');
export const FIXTURES_DIR = path.join(__dirname, 'fixtures');

/** The VM that global-setup.ts booted (or that XENVM_RUN_DIR names). */
export function suiteVm(): XenVm {
  const runDir = process.env.XENVM_RUN_DIR;
  if (!runDir) throw new Error('XENVM_RUN_DIR is not set: run the suite with `npm run test:xen`');
  return XenVm.attach(runDir);
}

/** Saves a transcript under work/transcripts, and under fixtures/ when recording. */
export function saveTranscript(name: string, text: string): void {
  fs.mkdirSync(TRANSCRIPTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(TRANSCRIPTS_DIR, name), text);
  if (process.env.XENVM_RECORD_FIXTURES === '1') {
    fs.mkdirSync(FIXTURES_DIR, { recursive: true });
    fs.writeFileSync(path.join(FIXTURES_DIR, name), text);
  }
}
