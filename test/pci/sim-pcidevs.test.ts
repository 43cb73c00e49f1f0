/**
 * pci-attach / pci-detach keep libxl's stored domain config ("pcidevs" in
 * <sim-dir>/var/lib/xen/userdata-d.<domid>.<uuid>.libxl-json) in step, on the simulated host,
 * which keeps the file and takes libxl's userdata lock (flock) exactly as the real host does.
 *
 * What libxl would write is derived independently of the splice: the stored document parsed,
 * the device put into pcidevs, regenerated with libxl's generator rules (formatLibxlJson,
 * checked byte for byte against xl 4.17's own files in domain/libxl-userdata.test.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from './sim-helpers';
import { formatLibxlJson, type LibxlJson } from '../../packages/xentool/src/domain/libxl-userdata';
import { SimHost } from '../../packages/xentool/src/host/sim/sim-host';
import { pciAttach } from '../../packages/xentool/src/pci/pci-ops';
import { runCli } from '../../packages/xentool/src/cli';
import { captureContext } from '../../packages/xentool/src/testing/capture';

jest.setTimeout(120_000);

type Doc = { [key: string]: LibxlJson };
let b: SimBench;
let kernel: string;

beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  kernel = b.kernelFile();
});
afterEach(() => b.cleanup());

const xenLib = () => b.xenLib;
const userdataFiles = () => b.userdataFiles();

async function domainOf(name: string): Promise<{ domid: string; uuid: string; file: string }> {
  const domid = (await b.ok(['domid', name])).stdout.trim();
  const uuid = b.xenstore(`/local/domain/${domid}/vm`)[`/local/domain/${domid}/vm`]!.slice('/vm/'.length);
  return { domid, uuid, file: join(xenLib(), `userdata-d.${domid}.${uuid}.libxl-json`) };
}

/** libxl's document for `stored` with pcidevs = devs (IDL member order), NUL-terminated. */
function libxlWith(stored: string, devs: Doc[]): string {
  const order = ['c_info', 'b_info', 'disks', 'nics', 'pcidevs', 'rdms', 'on_poweroff', 'on_reboot', 'on_watchdog', 'on_crash', 'on_soft_reset'];
  const d = JSON.parse(stored.replace(/\0$/, '')) as Doc;
  if (devs.length > 0) d.pcidevs = devs;
  else delete d.pcidevs;
  expect(Object.keys(d).every((k) => order.includes(k))).toBe(true);
  const out: Doc = {};
  for (const k of order) if (d[k] !== undefined) out[k] = d[k]!;
  return formatLibxlJson(out) + '\0';
}

const pvCfg = (name: string, extra = '') => b.config(`${name}.cfg`, `name = "${name}"\ntype = "pv"\nkernel = "${kernel}"\nmemory = 128\npassthrough = "enabled"\n${extra}`);
const hvmCfg = (name: string) => b.config(`${name}.cfg`, `name = "${name}"\ntype = "hvm"\nkernel = "${kernel}"\nmemory = 256\nserial = "pty"\nvnc = 0\npassthrough = "enabled"\n`);

describe('a domain xentool created', () => {
  it('PV: attach adds the entry libxl would, a second one after it, detach removes each, and the file ends as created', async () => {
    await b.ok(['create', pvCfg('g1')]);
    const g = await domainOf('g1');
    const created = readFileSync(g.file, 'utf8');
    expect(created).not.toContain('pcidevs');

    await b.ok(['pci-attach', 'g1', '01:00.0']);
    const one = { bus: 1, vfunc_mask: 1, rdm_policy: 'strict' };
    expect(readFileSync(g.file, 'utf8')).toBe(libxlWith(created, [one]));

    await b.ok(['pci-attach', 'g1', '03:00.0@5,permissive=1']);
    const two = { bus: 3, vdevfn: 0x28, vfunc_mask: 1, permissive: true, rdm_policy: 'strict' };
    expect(readFileSync(g.file, 'utf8')).toBe(libxlWith(created, [one, two]));
    // The lock file goes with the unlock, as libxl's does.
    expect(userdataFiles()).toEqual([`userdata-d.${g.domid}.${g.uuid}.libxl-json`]);

    await b.ok(['pci-detach', 'g1', '01:00.0']);
    expect(readFileSync(g.file, 'utf8')).toBe(libxlWith(created, [two]));
    await b.ok(['pci-detach', 'g1', '03:00.0']);
    expect(readFileSync(g.file, 'utf8')).toBe(created);
  });

  it('HVM: the entry has the guest slot QEMU chose, as pci-list shows it', async () => {
    await b.ok(['create', hvmCfg('h1')]);
    const h = await domainOf('h1');
    const created = readFileSync(h.file, 'utf8');
    await b.ok(['pci-attach', 'h1', '01:00.0']);
    const slot = /^([0-9a-f]{2})\.0 0000:01:00\.0$/m.exec((await b.ok(['pci-list', 'h1'])).stdout)![1]!;
    expect(readFileSync(h.file, 'utf8')).toBe(libxlWith(created, [{ bus: 1, vdevfn: parseInt(slot, 16) << 3, vfunc_mask: 1, rdm_policy: 'strict' }]));
    await b.ok(['pci-detach', 'h1', '01:00.0']);
    expect(readFileSync(h.file, 'utf8')).toBe(created);
  });

  it('BB:DD.*@VSLOT: one entry per function, at its guest function, with the vfunc_mask that makes libxl re-create it there', async () => {
    await b.ok(['create', hvmCfg('h1')]);
    const h = await domainOf('h1');
    const created = readFileSync(h.file, 'utf8');
    await b.ok(['pci-assignable-add', '02:00.0']);
    await b.ok(['pci-assignable-add', '02:00.1']);
    await b.ok(['pci-attach', 'h1', '02:00.*@6']);
    // Functions are attached 7 down to 0, as libxl does; each entry is appended in that order.
    // libxl's add (device_pci_add_stubdom_done) keeps func and vdevfn's function only when
    // vfunc_mask equals 1 << func; with xl's 1 every function would land on guest function 0.
    expect(readFileSync(h.file, 'utf8')).toBe(
      libxlWith(created, [
        { func: 1, bus: 2, vdevfn: 0x31, vfunc_mask: 2, rdm_policy: 'strict' },
        { bus: 2, vdevfn: 0x30, vfunc_mask: 1, rdm_policy: 'strict' },
      ]),
    );
  });

  it('devices given at creation are stored by create alone (the attach inside create adds nothing twice)', async () => {
    await b.ok(['create', pvCfg('g1', "pci = [ '01:00.0' ]\n")]);
    const g = await domainOf('g1');
    const j = JSON.parse(readFileSync(g.file, 'utf8').slice(0, -1)) as { pcidevs: unknown[] };
    expect(j.pcidevs).toEqual([{ bus: 1, vfunc_mask: 1, rdm_policy: 'strict' }]);
    // Detaching a create-time device removes its entry too.
    await b.ok(['pci-detach', 'g1', '01:00.0']);
    expect(readFileSync(g.file, 'utf8')).not.toContain('pcidevs');
  });
});

describe("a domain xl created (xl's file for it)", () => {
  /** A domain with xl 4.17's stored config (the PV file captured in the Xen VM, with its 00:05.0). */
  async function xlDomain(): Promise<{ domid: string; uuid: string; file: string; xl: Buffer }> {
    await b.ok(['sim-create', b.config('xlpv.cfg', 'name = "xlpv"\ntype = "pv"\nmemory = 128\npassthrough = "enabled"\n')]);
    const d = await domainOf('xlpv');
    const xl = readFileSync(join(__dirname, '../../packages/xentool/src/domain/fixtures/xl-4.17-pv-pci.libxl-json'));
    mkdirSync(xenLib(), { recursive: true });
    writeFileSync(d.file, xl, { mode: 0o600 });
    return { ...d, xl };
  }

  it('attach and detach change pcidevs only: the other keys stay byte for byte, and detach gives xl’s file back', async () => {
    const d = await xlDomain();
    await b.ok(['pci-attach', 'xlpv', '01:00.0']);
    const now = readFileSync(d.file, 'utf8');
    expect(now).toBe(libxlWith(d.xl.toString('utf8'), [{ dev: 5, vfunc_mask: 1, rdm_policy: 'strict' }, { bus: 1, vfunc_mask: 1, rdm_policy: 'strict' }]));
    await b.ok(['pci-detach', 'xlpv', '01:00.0']);
    expect(readFileSync(d.file).equals(d.xl)).toBe(true);
  });

  it('a failure at any step of attach or detach leaves the file as it was, with the rest of the host', async () => {
    const d = await xlDomain();
    for (const cmd of [
      ['pci-attach', 'xlpv', '01:00.0'],
      ['pci-detach', 'xlpv', '01:00.0'],
    ]) {
      const n = (await b.ok(['-N', ...cmd])).stdout.split('\n').filter((l) => /^\s+\d+\. /.test(l)).length;
      const at = (await b.ok(['-N', ...cmd])).stdout.split('\n').findIndex((l) => /stored config for xl/.test(l));
      expect(at).toBeGreaterThan(0);
      for (let i = 0; i < n; i++) {
        const before = { state: b.snapshot(), file: readFileSync(d.file).toString('base64'), files: userdataFiles() };
        const r = await b.run(cmd, { XENTOOL_TEST_FAIL_AT_STEP: String(i) });
        expect({ i, code: r.code }).toEqual({ i, code: 1 });
        expect({ i, state: b.snapshot(), file: readFileSync(d.file).toString('base64'), files: userdataFiles() }).toEqual({ i, ...before });
      }
      await b.ok(cmd);
    }
    expect(readFileSync(d.file).equals(d.xl)).toBe(true);
  });
});

describe('domains without a stored config, and the lock', () => {
  it('a domain with no stored config is attached and detached as before, and no file or lock file appears', async () => {
    await b.ok(['sim-create', b.config('pv.cfg', 'name = "pv"\ntype = "pv"\nmemory = 128\npassthrough = "enabled"\n')]);
    await b.ok(['pci-attach', 'pv', '01:00.0']);
    expect((await b.ok(['pci-list', 'pv'])).stdout).toBe('Vdev Device\n00.0 0000:01:00.0\n');
    await b.ok(['pci-detach', 'pv', '01:00.0']);
    expect(userdataFiles()).toEqual([]);
  });

  let holder: ChildProcess | undefined;
  afterEach(async () => {
    if (holder && holder.exitCode === null) {
      holder.stdin?.end();
      await new Promise((r) => holder!.once('exit', r));
    }
    holder = undefined;
  });

  it('while another process (util-linux flock, as xl would) holds the lock: one waiting line, then the attach fails and is undone', async () => {
    await b.ok(['create', pvCfg('g1')]);
    const g = await domainOf('g1');
    const lockFile = join(xenLib(), `userdata-l.${g.domid}.${g.uuid}.domain-userdata-lock`);
    holder = spawn('flock', ['-x', lockFile, '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => holder!.stdout!.once('data', r));
    const before = { state: b.snapshot(), file: readFileSync(g.file, 'utf8') };

    const host = await SimHost.open({ dir: b.state });
    const notices: string[] = [];
    const warnings: string[] = [];
    let err: unknown;
    try {
      await pciAttach(
        host,
        'g1',
        { bdf: { domain: 0, bus: 1, dev: 0, func: 0 }, permissive: false, msitranslate: false, powerMgmt: false, seize: false, rdmPolicy: 'strict', force: false, timeoutMs: 10_000 },
        { dryRun: false, out: () => undefined, warn: (t) => warnings.push(t), notice: (t) => notices.push(t), lockTimeoutMs: 300 },
      );
    } catch (e) {
      err = e;
    } finally {
      await host.close();
    }
    expect(notices).toEqual([`waiting for libxl's lock on domain ${g.domid}'s stored config (${lockFile}), held by another toolstack process (xl?)`]);
    expect(err).toMatchObject({
      code: 'ERR_LIBXL_LOCK_TIMEOUT',
      message: expect.stringMatching(/^pci-attach g1 0000:01:00\.0: step \d+\/\d+ \(add 0000:01:00\.0 to domain \d+'s stored config for xl .*\) failed: timed out after 0\.3 s waiting for libxl's lock .*; the \d+ completed steps were undone$/),
    });
    expect({ state: b.snapshot(), file: readFileSync(g.file, 'utf8') }).toEqual(before);

    // Once the other process lets go, the same attach goes through.
    holder.stdin!.end();
    await new Promise((r) => holder!.once('exit', r));
    await b.ok(['pci-attach', 'g1', '01:00.0']);
    expect(readFileSync(g.file, 'utf8')).toContain('"bus": 1');
  });

  it('destroy removes the stored config under the lock too: it waits for the holder, then finishes', async () => {
    await b.ok(['create', pvCfg('g1')]);
    const g = await domainOf('g1');
    const lockFile = join(xenLib(), `userdata-l.${g.domid}.${g.uuid}.domain-userdata-lock`);
    holder = spawn('flock', ['-x', lockFile, '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => holder!.stdout!.once('data', r));
    const ctx = captureContext({ env: { XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: b.state }, cwd: b.dir });
    let settled = false;
    const destroying = runCli(['destroy', 'g1'], ctx).finally(() => (settled = true));
    while (!settled && !ctx.stderr.text.includes("waiting for libxl's lock")) await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    // Still waiting: the file is there.
    expect(existsSync(g.file)).toBe(true);
    holder.stdin!.end();
    expect(await destroying).toBe(0);
    expect(ctx.stderr.text).toBe(`waiting for libxl's lock on domain ${g.domid}'s stored config (${lockFile}), held by another toolstack process (xl?)\n`);
    expect(userdataFiles()).toEqual([]);
  });
});
