/**
 * Issue 7, scenario 7: the xenstore client (packages/xenstore) against the real daemons in dom0,
 * the C xenstored (the suite's VM) and oxenstored (a second VM booted for this file), over both
 * transports (the unix socket and /dev/xen/xenbus) and in both client modes (async, and
 * blocking: a koffi-connected blocking socket or a blocking device fd), interleaved with the
 * real C tools.
 *
 * The client runs from an esbuild bundle of its current sources (probes/xenstore-client.ts), so
 * this does not depend on packages/xenstore/dist being built.
 */
import * as path from 'path';
import { IMAGES_DIR, PROJECT_DIR, PROJECT_IN_DOM0, RUNS_DIR, saveTranscript, suiteVm, XEN_DIR } from './suite';
import { XenVm } from './xen-vm';
import { pvCreateDestroyTests } from './20-pv-cases';

function bundleProbe(share: string): void {
  // esbuild is the workspace's devDependency; required lazily so the suite's other files never load it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require('esbuild') as typeof import('esbuild');
  esbuild.buildSync({
    entryPoints: [path.join(XEN_DIR, 'probes', 'xenstore-client.ts')],
    outfile: path.join(share, 'xenstore-client.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // The blocking mode's FFI; loaded from the project's node_modules (NODE_PATH) in dom0.
    external: ['koffi'],
    alias: { '@xentool/xenstore': path.join(PROJECT_DIR, 'packages/xenstore/src/index.ts') },
    logLevel: 'error',
  });
}

interface ProbeRun {
  code: number;
  stderr: string;
  result: Record<string, unknown>;
}

type Mode = 'async' | 'blocking';

/** Runs the probe on one transport in one client mode; every run's answers are saved as transcripts. */
async function runProbe(vm: XenVm, flavour: string, transport: 'socket' | 'xenbus', mode: Mode = 'async'): Promise<ProbeRun> {
  bundleProbe(vm.share);
  // 45 s: node alone needs 3-20 s to start in dom0, depending on the host's load.
  const r = await vm.exec(`NODE_PATH=${PROJECT_IN_DOM0}/node_modules node /mnt/host/xenstore-client.js /xenvm-probe ${transport} ${mode}`, { timeoutS: 45 });
  saveTranscript(`xenstore/${flavour}-${transport}${mode === 'async' ? '' : `-${mode}`}.json`, r.stdout);
  if (r.stdout.trim() === '') throw new Error(`probe (${flavour}, ${transport}, ${mode}) printed nothing; exit ${r.code}: ${r.stderr}`);
  return { code: r.code, stderr: r.stderr, result: JSON.parse(r.stdout) as Record<string, unknown> };
}

/** What both daemons must answer, on either transport, in either mode. */
function expectBehaviour(t: Record<string, unknown>, base: string, mode: Mode = 'async'): void {
  expect(t.mode).toBe(mode);
  expect(t.dom0Name).toBe('Domain-0');
  expect(t.domainPath0).toBe('/local/domain/0');
  expect(t.cToolReadsOurs).toBe('written by xentool\n');
  expect(t.weReadTheirs).toBe('written by the C tool');
  expect(t.directory).toEqual(['a', 'b']);
  expect(t.perms).toEqual([{ id: 0, perm: 'n' }]);
  expect(t.readMissing).toBe('ENOENT');
  expect(t.existsMissing).toBe(false);
  expect(t.visibleBeforeCommit).toBe(false);
  expect(t.afterCommit).toEqual(['one', 'two']);
  expect(t.conflictCommit).toBe('EAGAIN');
  expect(t.afterConflict).toBe('changed outside');
  expect(t.retriedRuns).toBe(2);
  expect(t.afterRetry).toBe('raced+1');
  if (mode === 'blocking') {
    // Watches need the async mode; the blocking client refuses them without asking the daemon.
    expect(t.watchRefused).toBe('ENOTSUP');
  } else {
    const events = t.watchEvents as { path: string; token: string }[];
    expect(events[0]).toEqual({ path: base, token: 'probe-token' });
    expect(events[events.length - 1]).toEqual({ path: `${base}/watched`, token: 'probe-token' });
  }
  expect(t.removed).toBe(true);
}

/**
 * The same tests against one daemon. The xenbus run is shared by two tests: what it answered,
 * and whether node could exit afterwards.
 */
function daemonTests(flavour: string, vm: () => XenVm): void {
  let xenbus: ProbeRun | undefined;

  test(`${flavour}: unix socket: answers, and node exits after close()`, async () => {
    const run = await runProbe(vm(), flavour, 'socket');
    expectBehaviour(run.result, '/xenvm-probe/socket-async');
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  });

  test(`${flavour}: /dev/xen/xenbus: the same answers`, async () => {
    xenbus = await runProbe(vm(), flavour, 'xenbus');
    expectBehaviour(xenbus.result, '/xenvm-probe/xenbus-async');
  });

  // Found here on 2026-11-23: close() left a read of the device pending in libuv's thread pool,
  // which the kernel completes only when a message arrives, so node could not exit (dom0 killed
  // the probe, rc 137). Fixed in packages/xenstore (the device is read only while a reply or a
  // watch event is awaited); test/xenstore/xenbus-close.test.ts reproduces it with a FIFO.
  test(`${flavour}: /dev/xen/xenbus: node exits after close()`, () => {
    expect(xenbus).toBeDefined();
    expect({ code: xenbus?.code, stderr: xenbus?.stderr }).toEqual({ code: 0, stderr: '' });
  });

  for (const transport of ['socket', 'xenbus'] as const) {
    test(`${flavour}: ${transport === 'socket' ? 'unix socket' : '/dev/xen/xenbus'}, blocking mode: the same answers, and node exits after close()`, async () => {
      const run = await runProbe(vm(), flavour, transport, 'blocking');
      expectBehaviour(run.result, `/xenvm-probe/${transport}-blocking`, 'blocking');
      expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    });
  }
}

describe('scenario 7: @xentool/xenstore against the real C xenstored (the suite VM)', () => {
  let vm: XenVm;
  beforeAll(() => {
    vm = suiteVm();
    expect(vm.readyInfo()).toMatch(/xenstored=xenstored\b/);
  });
  daemonTests('C xenstored', () => vm);
});

describe('scenario 7: @xentool/xenstore against the real oxenstored (a second VM)', () => {
  let vm: XenVm | undefined;
  beforeAll(async () => {
    vm = await XenVm.boot({
      images: IMAGES_DIR,
      runDir: path.join(RUNS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-oxenstored`),
      xenstored: 'oxenstored',
      // The project at /mnt/proj, as in the suite's VM: koffi for the blocking mode, and xentool
      // for the PV create/destroy cases.
      projectDir: PROJECT_DIR,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    expect(vm.readyInfo()).toMatch(/xenstored=oxenstored\b/);
    const ps = await vm.execOk('ps -o comm | grep -x oxenstored');
    expect(ps.stdout.trim()).toBe('oxenstored');
  }, 300_000);
  afterAll(async () => {
    if (vm) await vm.shutdown();
  });
  daemonTests('oxenstored', () => {
    if (!vm) throw new Error('the oxenstored VM did not boot');
    return vm;
  });
  // Issue 9: xentool's PV creation against oxenstored, which maps the store ring by its MFN.
  pvCreateDestroyTests('oxenstored', () => {
    if (!vm) throw new Error('the oxenstored VM did not boot');
    return vm;
  });
});
