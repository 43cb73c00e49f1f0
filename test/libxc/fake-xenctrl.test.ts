/**
 * The bindings and the real host against a stand-in libxenctrl (fake-xenctrl.c) built from the
 * real Xen 4.17 headers, and `xl info` / `xl list` from Debian's real xl binary run over the
 * same stand-in (LD_PRELOAD) as the byte-exact oracle for xentool's output.
 *
 * What this proves without a hypervisor: struct decoding of C-filled data, argument marshalling
 * (64-bit frames, uint8 irq fields, the createdomain struct), the errno funnel, libxc log
 * capture with real varargs, the async destroy, and xl's text. What it cannot prove: what Xen
 * itself answers; that is the real-Xen suite's job (test/xen/).
 *
 * The stand-in runs only in child processes: it carries the soname libxenctrl.so.4.17, and once
 * it is loaded glibc hands it out for every later dlopen("libxenctrl.so.4.17") in that process,
 * including other test files' loads of the real library in the same jest worker.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const XL = '/usr/lib/xen-4.17/bin/xl';

interface FixtureDomain {
  domid: number;
  flags: number;
  tot: number;
  max: number;
  outstanding?: number;
  cpu: bigint;
  online: number;
  maxId: number;
  handle?: number[];
}

const domains: FixtureDomain[] = [
  { domid: 0, flags: 0x20, tot: 262_144, max: 262_144, cpu: 1_234_567_890_123n, online: 8, maxId: 7 },
  // hvm | shutdown | paused, reason crash
  { domid: 5, flags: 0x3000e, tot: 1000, max: 2000, outstanding: 300, cpu: 250_000_000n, online: 1, maxId: 0, handle: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16] },
  // shutdown with poweroff: xl shows 's' and '-'
  { domid: 6, flags: 0x00014, tot: 4, max: 4, cpu: (1n << 60n) + 12345n, online: 1, maxId: 0 },
  // dying, no vcpus
  { domid: 7, flags: 0x00001, tot: 0, max: 0, cpu: 0n, online: 0, maxId: 0xffffffff },
  // enough domains to need a second getinfolist batch (libxl and xentool both batch by 1024)
  ...Array.from({ length: 1030 }, (_, i): FixtureDomain => ({ domid: 100 + i, flags: 0x10, tot: 256 * (i + 1), max: 256 * (i + 1), cpu: BigInt(i) * 999_999_937n, online: 1 + (i % 4), maxId: 3 })),
];

const names: Record<string, string> = {
  '/local/domain/0/name': 'Domain-0',
  '/local/domain/5/name': 'a-guest-name-longer-than-forty-columns-of-text',
  '/local/domain/6/name': 'stopped',
  // domain 7 and most of the batch have no name: xl prints "(null)"
  '/local/domain/100/name': 'first-of-batch',
  '/local/domain/1129/name': 'last-of-batch',
};

const c = (s: string) => JSON.stringify(s);

function fixtureH(): string {
  const dom = (d: FixtureDomain) =>
    `  { .domain = ${d.domid}, .flags = ${d.flags}u, .tot_pages = ${d.tot}, .max_pages = ${d.max}, .outstanding_pages = ${d.outstanding ?? 0}, ` +
    `.cpu_time = ${d.cpu}ULL, .nr_online_vcpus = ${d.online}, .max_vcpu_id = ${d.maxId}u, .handle = {${(d.handle ?? [0]).join(',')}}, ` +
    `.cpupool = 0, .arch_config = { .emulation_flags = ${d.flags & 2 ? 0x3ff : 0} } },`;
  return `
static const xc_physinfo_t FIX_PHYSINFO = { .threads_per_core = 2, .cores_per_socket = 4, .nr_cpus = 8, .max_cpu_id = 15,
  .nr_nodes = 1, .max_node_id = 0, .cpu_khz = 2893004, .capabilities = 0x31f, .total_pages = 4194166, .free_pages = 3000123,
  .outstanding_pages = 1000, .max_mfn = 0x43ffff, .hw_cap = {0xbfebfbff, 0x77fafbff, 0x2c100800, 0x121, 0xf, 0x29c6fbf, 0, 0x100} };
static const unsigned FIX_FREE_CPUS[] = { 3, 9, 15 };
#define FIX_SCHED_ID 6
#define FIX_XEN_MAJOR 4
#define FIX_XEN_MINOR 17
#define FIX_XEN_EXTRA ".5"
#define FIX_CC_COMPILER "x86_64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0"
#define FIX_CC_BY "pkg-xen-devel"
#define FIX_CC_DOMAIN "lists.alioth.debian.org"
#define FIX_CC_DATE "Tue Oct  1 12:00:00 UTC 2024"
#define FIX_XEN_CAPS "xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64"
#define FIX_XEN_CHANGESET ""
#define FIX_VIRT_START 0xffff800000000000ULL
#define FIX_XEN_CMDLINE "placeholder dom0_mem=4096M,max:4096M iommu=1 no-real-mode"
static const unsigned char FIX_BUILD_ID[] = { 0x8b, 0x2a, 0x4f, 0x1c, 0x0e, 0x7d, 0x00, 0xff };
static const xc_domaininfo_t FIX_DOMAINS[] = {
${domains.map(dom).join('\n')}
};
static const char *FIX_XS[][2] = {
${Object.entries(names)
  .map(([k, v]) => `  { ${c(k)}, ${c(v)} },`)
  .join('\n')}
};
#define FIX_MISSING_DOMID 99
#define FIX_BUSY_SBDF 0x301
`;
}

let dir: string;
let fakeLib: string;
let preloadLib: string;
let bundle: string;
const ROOT = resolve(__dirname, '../..');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fake-xenctrl-'));
  writeFileSync(join(dir, 'fixture.h'), fixtureH());
  const src = join(__dirname, 'fake-xenctrl.c');
  const cc = (soname: string, out: string) =>
    execFileSync('gcc', ['-shared', '-fPIC', '-Wall', '-Werror', `-I${dir}`, `-Wl,-soname,${soname}`, '-o', out, src, '-lxentoollog'], { stdio: 'pipe' });
  // For the bindings: it must carry the 4.17 soname, or loadLibxc refuses it.
  fakeLib = join(dir, 'libxenctrl.so.4.17');
  cc('libxenctrl.so.4.17', fakeLib);
  // For xl: another soname, so the real libxenctrl still loads and provides everything this
  // file does not define (a preload that claimed the soname would replace it wholesale).
  preloadLib = join(dir, 'libfakexc.so');
  cc('libfakexc.so', preloadLib);
  bundle = join(dir, 'xentool.js');
  buildSync({
    stdin: {
      contents: [
        "export * from './packages/libxc-bindings/src';",
        "export { RealHost } from './packages/xentool/src/host/real/real-host';",
        "export { formatXlInfo } from './packages/xentool/src/format/xl-info';",
        "export { formatXlList } from './packages/xentool/src/format/xl-list';",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['koffi'],
    outfile: bundle,
    logLevel: 'silent',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function xl(...args: string[]): string {
  const r = spawnSync(XL, args, { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: preloadLib } });
  if (r.status !== 0) throw new Error(`xl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Runs `body` (an async function body) in a fresh node process with the bundle as `m`, the
 * stand-in's path as `FAKE`, `calls()`/`reset()` over its call log, and returns its result.
 * Bigints and errors cross as JSON.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function inChild(body: string, env: Record<string, string> = {}): any {
  const script = `
    const m = require(${JSON.stringify(bundle)});
    const koffi = require('koffi');
    const FAKE = ${JSON.stringify(fakeLib)};
    const NAMES = ${JSON.stringify(names)};
    const xenstore = { read: async (p) => NAMES[p], close: async () => {} };
    const lib = koffi.load(FAKE);
    const fakeCalls = lib.func('const char *fake_calls(void)');
    const calls = () => fakeCalls().trim().split('\\n').filter(Boolean);
    const reset = lib.func('void fake_calls_reset(void)');
    const plain = (e) => ({ class: e.constructor.name, code: e.code, errno: e.errno, errnoCode: e.errnoCode, syscall: e.syscall,
                            message: e.message, log: e.log, argument: e.argument });
    const catching = (fn) => { try { fn(); return null; } catch (e) { return plain(e); } };
    (async () => { ${body} })().then(
      (r) => process.stdout.write(JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v))),
      (e) => process.stdout.write(JSON.stringify({ $uncaught: plain(e) })),
    );
  `;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules'), ...env },
  });
  if (r.status !== 0 || r.stderr !== '') throw new Error(`child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && '$bigint' in v ? BigInt((v as { $bigint: string }).$bigint) : v,
  );
}

describe('xentool output against the real xl over the same libxenctrl', () => {
  const itXl = existsSync(XL) ? it : it.skip;
  const NAMES = ['free_memory', 'xen_c', 'virt_caps', 'build_id', 'nope'];
  let ours: { info: string; byName: Record<string, string>; list: string };
  beforeAll(() => {
    ours = inChild(`
      const host = new m.RealHost({ xc: m.openXc({ libraryPath: FAKE }), xenstore });
      try {
        const info = await host.info();
        const byName = {};
        for (const n of ${JSON.stringify(NAMES)}) byName[n] = m.formatXlInfo(info, n);
        return { info: m.formatXlInfo(info), byName, list: m.formatXlList(await host.domains()) };
      } finally {
        await host.close();
      }
    `);
  });

  itXl('xl info', () => {
    expect(ours.info).toBe(xl('info'));
  });

  itXl('xl info <name>', () => {
    for (const name of NAMES) expect(ours.byName[name]).toBe(xl('info', name));
  });

  itXl('xl list (crash, poweroff, dying, unnamed, long names, cpu time past 2^53, 1034 domains)', () => {
    const out = xl('list');
    expect(out.split('\n')).toHaveLength(domains.length + 2);
    expect(ours.list).toBe(out);
  });
});

describe('bindings against the stand-in libxenctrl', () => {
  it('domainInfo checks the id of the answer (getinfolist returns the next domain >= id)', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      return { five: xc.domainInfo(5), eight: xc.domainInfo(8) ?? null, calls: calls() };
    `);
    expect(r.five).toMatchObject({ domid: 5, hvm: true, crashed: true, shutdownReason: 'crash', outstandingPages: 300 });
    expect(r.five.uuid).toBe('01020304-0506-0708-090a-0b0c0d0e0f10');
    expect(r.eight).toBeNull();
    expect(r.calls).toEqual(['xc_domain_getinfolist 5 1', 'xc_domain_getinfolist 8 1']);
  });

  it('listDomains batches by 1024 and continues after the last id', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      const all = xc.listDomains();
      return { n: all.length, last: all[all.length - 1].domid, calls: calls() };
    `);
    expect(r).toEqual({ n: domains.length, last: 1129, calls: ['xc_domain_getinfolist 0 1024', 'xc_domain_getinfolist 1120 1024'] });
  });

  it('physinfo, version and the free cpupool map decode C-filled structs', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      return { p: xc.physinfo(), v: xc.version(), free: xc.freeCpus(), sched: xc.schedulerName(),
               sharing: catching(() => xc.sharingFreedPages()) };
    `);
    expect(r.p).toMatchObject({ nrCpus: 8, maxCpuId: 15, cpuKhz: 2893004, totalPages: 4194166, maxMfn: 0x43ffffn });
    expect(r.v).toMatchObject({
      major: 4,
      minor: 17,
      extra: '.5',
      compileDate: 'Tue Oct  1 12:00:00 UTC 2024',
      virtStart: 0xffff800000000000n,
      pagesize: 4096,
      buildId: '8b2a4f1c0e7d00ff',
    });
    expect(r.free).toEqual([3, 9, 15]);
    expect(r.sched).toBe('credit2');
    expect(r.sharing).toMatchObject({ class: 'XcError', code: 'ENOSYS', syscall: 'xc_sharing_freed_pages' });
  });

  it('turns a failed call into an errno-shaped XcError carrying libxc log lines formatted from real varargs', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      return {
        pause: catching(() => xc.pause(99)),
        assign: catching(() => xc.assignDevice(1, { segment: 0, bus: 3, device: 0, function: 1 })),
      };
    `);
    expect(r.pause).toMatchObject({
      class: 'XcError',
      syscall: 'xc_domain_pause',
      errno: 3,
      code: 'ESRCH',
      message: 'xc_domain_pause: No such process (ESRCH)',
      log: ['xc: error: xc_domain_pause failed for domain 99 (fake): ESRCH'],
    });
    expect(r.assign).toMatchObject({ class: 'XcError', code: 'EBUSY', syscall: 'xc_assign_device' });
  });

  it('marshals arguments exactly (64-bit frames, sbdf, uint8 irq fields)', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      xc.iomemPermission(3, { firstMfn: (1n << 52n) - 1n, nrMfns: 2n }, true);
      xc.ioportPermission(3, 0xc000, 0x40, false);
      xc.irqPermission(3, 36, true);
      const pirqs = [xc.mapPirq(3, 36), xc.mapPirq(3, 36, 55)];
      xc.unmapPirq(3, 36);
      xc.assignDevice(0x7ff1, { segment: 1, bus: 0x81, device: 0x1c, function: 4 });
      xc.assignDevice(3, 0x400, { rdmRelaxed: false });
      xc.testAssignDevice(0x7ff4, 0x400);
      xc.deassignDevice(3, 0x400);
      xc.bindPtIrq(3, { machineIrq: 200, type: 'pci', bus: 0, device: 31, intx: 3 });
      xc.unbindPtIrq(3, { machineIrq: 9, type: 'isa', isaIrq: 15 });
      xc.setMaxMem(3, (1n << 40n) + 1024n);
      xc.setMaxVcpus(3, 4);
      xc.shutdown(3, 'reboot');
      xc.unpause(3);
      return { pirqs, calls: calls() };
    `);
    expect(r.pirqs).toEqual([36, 55]);
    expect(r.calls).toEqual([
      'xc_domain_iomem_permission 3 0xfffffffffffff 0x2 1',
      'xc_domain_ioport_permission 3 0xc000 64 0',
      'xc_domain_irq_permission 3 36 1',
      'xc_physdev_map_pirq 3 36 -1',
      'xc_physdev_map_pirq 3 36 55',
      'xc_physdev_unmap_pirq 3 36',
      'xc_assign_device 32753 0x181e4 1',
      'xc_assign_device 3 0x400 0',
      'xc_test_assign_device 32756 0x400',
      'xc_deassign_device 3 0x400',
      'xc_domain_bind_pt_irq 3 200 0 0 31 3 0',
      'xc_domain_unbind_pt_irq 3 9 1 0 0 0 15',
      'xc_domain_setmaxmem 3 0x10000000400',
      'xc_domain_max_vcpus 3 4',
      'xc_domain_shutdown 3 1',
      'xc_domain_unpause 3',
    ]);
  });

  it('machineMemoryMap and setMemoryMap carry packed 20-byte e820 entries both ways, 64-bit fields intact', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      const host = xc.machineMemoryMap();
      const small = catching(() => xc.machineMemoryMap(4));
      xc.setMemoryMap(3, host.filter((e) => e.type !== 1));
      const missing = catching(() => xc.setMemoryMap(99, []));
      return { host, small, missing, calls: calls() };
    `);
    expect(r.$uncaught).toBeUndefined();
    expect(r.host).toEqual([
      { addr: 0x0n, size: 0x9fc00n, type: 1 },
      { addr: 0x100000n, size: 0x7fedf000n, type: 1 },
      { addr: 0x7ffdf000n, size: 0x21000n, type: 2 },
      { addr: 0x7f000000n, size: 0x10000n, type: 3 },
      { addr: 0xfec00000n, size: 0x1000n, type: 2 },
      { addr: 0x100000000n, size: 0x40000000n, type: 1 },
      { addr: 0x3ff0000000000000n, size: 0x123456789n, type: 4 },
    ]);
    expect(r.small).toMatchObject({ syscall: 'xc_get_machine_memory_map', code: 'EINVAL' });
    expect(r.missing).toMatchObject({ syscall: 'xc_domain_set_memory_map', code: 'ESRCH' });
    expect(r.calls).toEqual([
      'xc_get_machine_memory_map 128',
      'xc_get_machine_memory_map 4',
      'xc_domain_set_memory_map 3 4',
      '  0x7ffdf000 0x21000 2',
      '  0x7f000000 0x10000 3',
      '  0xfec00000 0x1000 2',
      '  0x3ff0000000000000 0x123456789 4',
      'xc_domain_set_memory_map 99 0',
    ]);
  });

  it('createDomain fills xen_domctl_createdomain so that C reads the right fields', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      const ids = [
        xc.createDomain({ type: 'hvm', maxVcpus: 4, passthrough: 'sync_pt', uuid: 'a0000000-0000-0000-0000-0000000000b1', maxGrantVersion: 2 }),
        xc.createDomain({ type: 'pv', maxVcpus: 1, domid: 9 }),
      ];
      return { ids, calls: calls() };
    `);
    expect(r.ids).toEqual([42, 9]);
    expect(r.calls).toEqual([
      'xc_domain_create 0 ssidref=0 flags=0x23 iommu_opts=1 max_vcpus=4 max_evtchn_port=1023 max_grant_frames=-1 max_maptrack_frames=-1 grant_opts=2 vmtrace_size=0 cpupool_id=0 emulation_flags=0x3ff misc_flags=0 handle=a0..b1',
      'xc_domain_create 9 ssidref=0 flags=0 iommu_opts=0 max_vcpus=1 max_evtchn_port=1023 max_grant_frames=-1 max_maptrack_frames=-1 grant_opts=1 vmtrace_size=0 cpupool_id=0 emulation_flags=0 misc_flags=0 handle=00..00',
    ]);
  });

  it('destroy runs off the event loop and keeps errno and libxc log across the worker thread', () => {
    const r = inChild(`
      const xc = m.openXc({ libraryPath: FAKE });
      reset();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      try {
        await xc.destroy(3);
        const during = ticks;
        let failed = null;
        try { await xc.destroy(99); } catch (e) { failed = plain(e); }
        return { during, failed, calls: calls() };
      } finally {
        clearInterval(timer);
      }
    `);
    expect(r.during).toBeGreaterThan(5); // the 200 ms call did not block the loop
    expect(r.failed).toMatchObject({
      class: 'XcError',
      code: 'ESRCH',
      syscall: 'xc_domain_destroy',
      log: ['xc: error: xc_domain_destroy failed for domain 99 (fake): ESRCH'],
    });
    expect(r.calls).toEqual(['xc_domain_destroy 3', 'xc_domain_destroy 99']);
  });

  it('maps xc_interface_open errno to HostUnavailableError (EACCES: not root)', () => {
    const r = inChild(`return catching(() => m.openXc({ libraryPath: FAKE }));`, { FAKE_XC_OPEN_ERRNO: '13' });
    expect(r).toMatchObject({
      class: 'HostUnavailableError',
      code: 'ERR_HOST_UNAVAILABLE',
      errno: 13,
      errnoCode: 'EACCES',
      log: ['xencall: error: Could not obtain handle on privileged command interface: EACCES'],
    });
    expect(r.message).toMatch(/permission denied opening \/dev\/xen\/privcmd/);
  });
});
