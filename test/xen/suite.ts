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
 * How to run xentool in dom0. 'tree': the package as `npm run build` left it (bin/ and the bundle
 * with its code cache), installed into dom0's tmpfs on first use (see dom0Install). 'bundle': one
 * file that esbuild bundles from the current sources into the run's share (koffi stays external
 * and loads from the project's node_modules); for a tree that does not build (type errors
 * anywhere in it). The default is the tree when run.js built it, else the bundle;
 * XENVM_XENTOOL=tree|bundle overrides.
 */
export function xentoolMode(): 'tree' | 'bundle' {
  const forced = process.env.XENVM_XENTOOL;
  if (forced === 'tree' || forced === 'bundle') return forced;
  return process.env.XENVM_TREE_BUILT === '0' ? 'bundle' : 'tree';
}

export type Prog = 'xentool' | 'xm';

const PACKAGE_DIR = path.join(PROJECT_DIR, 'packages', 'xentool');

/** The build id `npm run build` ends the bundle with (read by the bin's own buildIdOf), or undefined. */
function builtBundleId(): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(PACKAGE_DIR, 'bundle', 'xentool.js'), 'latin1');
  } catch {
    return undefined;
  }
  // The bin starts the CLI only when it is the main module; required, it exports its loader's parts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bin = require(path.join(PACKAGE_DIR, 'bin', 'xentool.js')) as { buildIdOf(source: string): string | undefined };
  return bin.buildIdOf(text);
}

/**
 * The script that installs the built package into dom0's tmpfs once per build and runs it
 * (`/mnt/host/bin/PROG`). Why not straight from the project share: V8 does not accept the code
 * cache made on the host in dom0 (another CPU under TCG), the share is read-only so dom0 cannot
 * write its own, and compiling the bundle costs every start about 0.6 s under TCG. In tmpfs the
 * first start writes a cache that the later ones use. koffi (external to the bundle) is copied
 * too: loading it from the share cost a third of every real-host start (its loader's module
 * resolution stats dozens of paths, each a 9p round trip under TCG; seen with --cpu-prof in dom0).
 */
function dom0Install(prog: Prog, id: string): string {
  const src = `${PROJECT_IN_DOM0}/packages/xentool`;
  const dir = `/run/xentool-${id}`;
  const nm = `${PROJECT_IN_DOM0}/node_modules`;
  return [
    '#!/bin/sh',
    '# Written by test/xen/suite.ts: runs the built xentool from a copy in dom0 tmpfs.',
    `D=${dir}`,
    'if [ ! -d $D ]; then',
    '  T=$D.$$',
    `  mkdir -p $T/node_modules/@koromix && cp -r ${src}/bin ${src}/bundle ${src}/package.json $T/ &&`,
    `    cp -r ${nm}/koffi $T/node_modules/ && cp -r ${nm}/@koromix/koffi-linux-x64 $T/node_modules/@koromix/ && { [ -d $D ] || mv $T $D; }`,
    '  rm -rf $T',
    'fi',
    `exec node $D/bin/${prog}.js "$@"`,
    '',
  ].join('\n');
}

/** The esbuild bundle of the sources whose entry calls main(prog), written into the share. */
function sourceBundle(vm: XenVm, prog: Prog): string {
  // esbuild is the workspace's devDependency; loaded only when a bundle is wanted.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  const leaf = (name: string) => path.join(PROJECT_DIR, 'packages', name, 'src', 'index.ts');
  esbuild.buildSync({
    stdin: { contents: `require('./packages/xentool/src/main.ts').main('${prog}');`, resolveDir: PROJECT_DIR, loader: 'js', sourcefile: `${prog}-bundle-entry.js` },
    outfile: path.join(vm.share, 'bin', `${prog}-src.js`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['koffi'],
    alias: { '@xentool/xenstore': leaf('xenstore'), '@xentool/pciback': leaf('pciback'), '@xentool/libxc-bindings': leaf('libxc-bindings') },
    logLevel: 'error',
  });
  return `#!/bin/sh\nNODE_PATH=${PROJECT_IN_DOM0}/node_modules exec node /mnt/host/bin/${prog}-src.js "$@"\n`;
}

const prepared = new Set<string>();

/**
 * The command that runs xentool (or its xm front end) in dom0: `sh /mnt/host/bin/PROG`, a script in
 * the run's share (append the arguments). Without a built bundle it runs bin/PROG.js of the tree.
 */
export function xentoolCommand(vm: XenVm, prog: Prog = 'xentool'): string {
  const key = `${vm.share}:${prog}`;
  if (!prepared.has(key)) {
    const id = builtBundleId();
    const script =
      xentoolMode() === 'bundle'
        ? sourceBundle(vm, prog)
        : id
          ? dom0Install(prog, id)
          : `#!/bin/sh\nexec node ${PROJECT_IN_DOM0}/packages/xentool/bin/${prog}.js "$@"\n`;
    const file = path.join(vm.share, 'bin', prog);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Rewritten only when it changes: dom0 may be running it.
    if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== script) {
      fs.writeFileSync(`${file}.tmp`, script, { mode: 0o755 });
      fs.renameSync(`${file}.tmp`, file);
    }
    prepared.add(key);
  }
  return `sh /mnt/host/bin/${prog}`;
}

/**
 * How many VMs the suite boots: one per jest worker (jest.config.js), XENVM_VMS or 1. Two on the
 * 2-core machine were not faster (2026-11-24: each file took 2.2-2.6 times as long as alone; an
 * HVM guest is a chain of round trips through dom0's QEMU and each waits for a host CPU), so more
 * are for machines with more cores. One when XENVM_RUN_DIR names a served VM.
 */
export function suiteVmCount(): number {
  if (process.env.XENVM_RUN_DIR) return 1;
  const n = Number(process.env.XENVM_VMS ?? 1);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/**
 * This test file's VM: the one XENVM_RUN_DIR names, else one of those global-setup.ts booted
 * (XENVM_RUN_DIRS), chosen by the jest worker running the file, so that each VM runs one file at
 * a time.
 */
export function suiteVm(): XenVm {
  const dirs = (process.env.XENVM_RUN_DIR ?? process.env.XENVM_RUN_DIRS ?? '').split(',').filter(Boolean);
  if (dirs.length === 0) throw new Error('no VM: run the suite with `npm run test:xen` (or set XENVM_RUN_DIR to a served VM)');
  const worker = Number(process.env.JEST_WORKER_ID ?? 1);
  return XenVm.attach(dirs[(worker - 1) % dirs.length]!);
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
