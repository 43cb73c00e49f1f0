/**
 * What the scenario files share: the paths of the harness and the VM of this suite run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SPARE_DEVICES, XenVm } from './xen-vm';

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

/**
 * How to run xentool in dom0. 'tree': `node /mnt/proj/packages/xentool/bin/xentool.js`, the built
 * tree (dist/) on the project share; needs `npx tsc -b packages/xentool` to have succeeded.
 * 'bundle': one file that esbuild bundles from the current sources into the run's share (koffi
 * stays external and loads from the project's node_modules); it starts faster from 9p (one file
 * instead of hundreds) and does not depend on the whole tree type-checking. The default is the
 * tree when run.js built it, else the bundle; XENVM_XENTOOL=tree|bundle overrides.
 */
export function xentoolMode(): 'tree' | 'bundle' {
  const forced = process.env.XENVM_XENTOOL;
  if (forced === 'tree' || forced === 'bundle') return forced;
  return process.env.XENVM_TREE_BUILT === '0' ? 'bundle' : 'tree';
}

const bundled = new Set<string>();

/** The shell command that runs xentool in dom0 (append the arguments). */
export function xentoolCommand(vm: XenVm): string {
  if (xentoolMode() === 'tree') return `node ${PROJECT_IN_DOM0}/packages/xentool/bin/xentool.js`;
  if (!bundled.has(vm.share)) {
    // esbuild is the workspace's devDependency; loaded only when a bundle is wanted.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require('esbuild') as typeof import('esbuild');
    const leaf = (name: string) => path.join(PROJECT_DIR, 'packages', name, 'src', 'index.ts');
    esbuild.buildSync({
      stdin: {
        contents: "require('./packages/xentool/src/main.ts').main('xentool');",
        resolveDir: PROJECT_DIR,
        loader: 'js',
        sourcefile: 'xentool-bundle-entry.js',
      },
      outfile: path.join(vm.share, 'xentool.js'),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      external: ['koffi'],
      alias: {
        '@xentool/xenstore': leaf('xenstore'),
        '@xentool/pciback': leaf('pciback'),
        '@xentool/libxc-bindings': leaf('libxc-bindings'),
      },
      logLevel: 'error',
    });
    bundled.add(vm.share);
  }
  return `NODE_PATH=${PROJECT_IN_DOM0}/node_modules node /mnt/host/xentool.js`;
}

/** The VM that global-setup.ts booted (or that XENVM_RUN_DIR names). */
export function suiteVm(): XenVm {
  const runDir = process.env.XENVM_RUN_DIR;
  if (!runDir) throw new Error('XENVM_RUN_DIR is not set: run the suite with `npm run test:xen`');
  return XenVm.attach(runDir);
}

/** Saves a transcript under work/transcripts, and under fixtures/ when recording. */
export function saveTranscript(name: string, text: string): void {
  const dirs = [TRANSCRIPTS_DIR];
  if (process.env.XENVM_RECORD_FIXTURES === '1') dirs.push(FIXTURES_DIR);
  for (const dir of dirs) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

/**
 * What the toolstack leaves behind for PCI, each command's output kept byte for byte in its own
 * file (the lead's commands must reproduce these): pciback's backend and the guest's frontend in
 * xenstore, libxl's own records, pciback's sysfs slots, and xl's two listings.
 */
export const PCI_STATE_COMMANDS: Record<string, (guest: string) => string> = {
  'xenstore-backend-pci.txt': () => 'xenstore-ls -f /local/domain/0/backend/pci',
  'xenstore-libxl.txt': () => 'xenstore-ls -f /libxl',
  'xenstore-frontend-pci.txt': (g) => `xenstore-ls -f /local/domain/$(xl domid ${g})/device/pci`,
  'pciback-slots.txt': () => 'cat /sys/bus/pci/drivers/pciback/slots',
  'xl-pci-list.txt': (g) => `xl pci-list ${g}`,
  'xl-pci-assignable-list.txt': () => 'xl pci-assignable-list',
  // Not a single command's output: "BDF driver" per spare device (none when unbound).
  'dom0-drivers.txt': () =>
    SPARE_DEVICES.map((d) => `d=$(readlink /sys/bus/pci/devices/${d.bdf}/driver); echo "${d.bdf} $(basename "\${d:-none}")"`).join('; '),
};

/**
 * Takes the PCI_STATE_COMMANDS snapshot in one round trip: dom0 writes each command's stdout and
 * stderr into the share, the host reads them back. Saved as transcripts `<stage>/<file>`.
 */
export async function pciState(vm: XenVm, guest: string, stage: string): Promise<Record<string, string>> {
  const dir = `/mnt/host/state/${stage}`;
  const script = [`rm -rf ${dir}; mkdir -p ${dir}`];
  for (const [file, cmd] of Object.entries(PCI_STATE_COMMANDS)) {
    script.push(`{ ${cmd(guest)}; } > ${dir}/${file} 2> ${dir}/${file}.stderr`);
  }
  await vm.execOk(script.join('\n'));
  const state: Record<string, string> = {};
  for (const file of Object.keys(PCI_STATE_COMMANDS)) {
    for (const name of [file, `${file}.stderr`]) {
      const text = fs.readFileSync(path.join(vm.share, 'state', stage, name), 'utf8');
      state[name] = text;
      if (text !== '' || !name.endsWith('.stderr')) saveTranscript(`${stage}/${name}`, text);
    }
  }
  return state;
}
