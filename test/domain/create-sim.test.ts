/**
 * create / destroy / pause / unpause / domid / domname on the simulated host, through the CLI
 * in-process. The simulated host keeps the real preconditions (free memory, names, IOMMU), so
 * these check the planner's refusals, the xenstore layout libxl would write, and that any
 * failure part-way leaves the host exactly as it was.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';
import { e820FromJson, e820HostMap, type E820Json, e820ToJson } from '../../packages/xentool/src/domain/e820-host';
import { SIM_MACHINE_MEMORY_MAP } from '../../packages/xentool/src/host/sim/sim-hypervisor';
import { formatLibxlJson, type LibxlJson } from '../../packages/xentool/src/domain/libxl-userdata';

let b: SimBench;
let kernel: string;
let ramdisk: string;

beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  kernel = join(b.dir, 'vmlinuz');
  ramdisk = join(b.dir, 'initrd.gz');
  writeFileSync(kernel, 'not really a kernel: the simulated builder only opens it');
  writeFileSync(ramdisk, 'initrd');
});
afterEach(() => b.cleanup());

/** The simulated host's /var/lib/xen (libxl's userdata files). */
const xenLib = () => join(b.state, 'var', 'lib', 'xen');
const userdataFiles = () => (existsSync(xenLib()) ? readdirSync(xenLib()).filter((n) => n.startsWith('userdata-')).sort() : []);

function pvConfig(name: string, extra = ''): string {
  return b.config(`${name}.cfg`, `name = "${name}"\ntype = "pv"\nkernel = "${kernel}"\nramdisk = "${ramdisk}"\nextra = "console=hvc0"\nmemory = 128\nvcpus = 2\n${extra}`);
}

describe('create -N', () => {
  it('prints the plan and the resolved config as JSON and changes nothing', async () => {
    const before = b.snapshot();
    const r = await b.ok(['create', '-N', pvConfig('g1'), 'memory=64']);
    const out = JSON.parse(r.stdout) as { plan: { title: string; steps: { op: string }[] }; config: Record<string, unknown> };
    expect(out.plan.title).toBe('create g1');
    expect(out.plan.steps.map((s) => s.op)).toEqual([
      'domain.create',
      'xs.skeleton',
      'domain.build-pre',
      'domain.build-pv',
      'xs.build-post',
      'xs.introduce',
      'console.add',
      'libxl.store-config',
      'domain.unpause',
      'monitor.start',
    ]);
    expect(out.config).toMatchObject({ name: 'g1', type: 'pv', targetMemKiB: 64 * 1024, maxMemKiB: 64 * 1024, vcpus: 2, maxVcpus: 2, cmdline: 'console=hvc0', passthrough: 'disabled', paused: false });
    expect(out.config.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.snapshot()).toEqual(before);
  });

  it('-p leaves out the unpause step', async () => {
    const r = await b.ok(['create', '-N', '-p', pvConfig('g1')]);
    expect((JSON.parse(r.stdout) as { plan: { steps: { op: string }[] } }).plan.steps.map((s) => s.op)).not.toContain('domain.unpause');
  });
});

describe('create on the simulated host', () => {
  it('creates a running PV domain with the xenstore nodes libxl writes', async () => {
    const r = await b.run(['create', pvConfig('g1')]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toBe(`Parsing config from ${join(b.dir, 'g1.cfg')}\n`);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    expect(domid).toMatch(/^[1-9][0-9]*$/);
    expect((await b.ok(['domname', domid])).stdout).toBe('g1\n');
    const xs = b.xenstore(`/local/domain/${domid}/`);
    const uuid = xs[`/local/domain/${domid}/vm`]!.slice('/vm/'.length);
    expect(xs).toMatchObject({
      [`/local/domain/${domid}/name`]: 'g1',
      [`/local/domain/${domid}/domid`]: domid,
      [`/local/domain/${domid}/memory/target`]: String(128 * 1024),
      [`/local/domain/${domid}/memory/static-max`]: String(128 * 1024),
      [`/local/domain/${domid}/cpu/0/availability`]: 'online',
      [`/local/domain/${domid}/cpu/1/availability`]: 'online',
      [`/local/domain/${domid}/store/port`]: '1',
      [`/local/domain/${domid}/console/port`]: '2',
      [`/local/domain/${domid}/console/type`]: 'xenconsoled',
      [`/local/domain/${domid}/console/tty`]: `/dev/pts/sim${domid}`,
      [`/local/domain/${domid}/control/platform-feature-xs_reset_watches`]: '1',
    });
    expect(b.xenstore(`/vm/${uuid}/`)).toMatchObject({ [`/vm/${uuid}/name`]: 'g1', [`/vm/${uuid}/image/kernel`]: kernel, [`/vm/${uuid}/image/cmdline`]: 'console=hvc0' });
    expect(b.xenstore(`/libxl/${domid}/`)).toMatchObject({ [`/libxl/${domid}/type`]: 'pv', [`/libxl/${domid}/dm-version`]: 'qemu_xen' });
    const list = (await b.ok(['list'])).stdout;
    expect(list).toMatch(new RegExp(`^g1\\s+${domid}\\s+128\\s+2\\s+-b----`, 'm'));
  });

  it('pause and unpause change the state list shows', async () => {
    await b.ok(['create', pvConfig('g1')]);
    await b.ok(['pause', 'g1']);
    expect((await b.ok(['list', 'g1'])).stdout).toMatch(/^g1\s+\d+\s+128\s+2\s+--p---/m);
    await b.ok(['unpause', 'g1']);
    expect((await b.ok(['list', 'g1'])).stdout).toMatch(/^g1\s+\d+\s+128\s+2\s+-b----/m);
  });

  it('create -p leaves the domain paused', async () => {
    await b.ok(['create', '-p', pvConfig('g1')]);
    expect((await b.ok(['list', 'g1'])).stdout).toMatch(/--p---/);
  });

  it('the guest memory map: one RAM entry up to maxmem without e820_host, the host-derived map with it', async () => {
    const hvDomain = (domid: string) => {
      const st = JSON.parse(readFileSync(join(b.state, 'state.json'), 'utf8')) as { hypervisor: { domains: { domid: number; memoryMap?: E820Json[] }[] } };
      return st.hypervisor.domains.find((d) => d.domid === Number(domid));
    };
    await b.ok(['create', pvConfig('g1', 'maxmem = 192\n')]);
    const plain = hvDomain((await b.ok(['domid', 'g1'])).stdout.trim());
    expect(plain?.memoryMap).toEqual([{ addr: '0x0', size: `0x${(192 * 1024 * 1024).toString(16)}`, type: 1 }]);
    await b.ok(['create', pvConfig('g2', 'maxmem = 192\ne820_host = 1\n')]);
    const host = hvDomain((await b.ok(['domid', 'g2'])).stdout.trim());
    expect(host?.memoryMap).toEqual(e820ToJson(e820HostMap(e820FromJson([...SIM_MACHINE_MEMORY_MAP]), { targetKiB: 128 * 1024, maxKiB: 192 * 1024 })));
    // The map really is the host's shape: its reserved holes are there, and RAM past memory= sits at 4 GiB.
    expect(host?.memoryMap?.filter((e) => e.type === 2).map((e) => e.addr)).toEqual(['0x7ffdf000', '0xb0000000', '0xfed1c000', '0xfffc0000', '0xfd00000000']);
    expect(host?.memoryMap?.at(-1)).toEqual({ addr: '0x100000000', size: `0x${(64 * 1024 * 1024).toString(16)}`, type: 1 });
  });

  it('destroy leaves no node, no domain and the memory free again', async () => {
    const before = b.xenstore('/');
    const free = (await b.ok(['info', 'free_memory'])).stdout;
    await b.ok(['create', pvConfig('g1')]);
    expect((await b.ok(['info', 'free_memory'])).stdout).not.toBe(free);
    await b.ok(['destroy', 'g1']);
    expect(b.xenstore('/')).toEqual(before);
    expect((await b.ok(['list'])).stdout).not.toMatch(/^g1/m);
    expect((await b.ok(['info', 'free_memory'])).stdout).toBe(free);
  });

  it('pci=[...]: the devices are attached while the domain is paused, the guest sees them, destroy gives them back', async () => {
    const assignable = (await b.ok(['pci-assignable-list'])).stdout;
    expect(assignable).toBe('0000:03:00.0 \n0000:01:00.0 \n');
    const r = await b.ok(['create', '-N', pvConfig('g1', "pci = [ '01:00.0', '03:00.0' ]\n")]);
    const plan = (JSON.parse(r.stdout) as { plan: { steps: { op: string }[] } }).plan.steps.map((st) => st.op);
    // Attached after the console and before the unpause: pcifront finds them when it first connects.
    expect(plan.slice(plan.indexOf('console.add'))).toEqual(['console.add', 'pci.attach', 'pci.attach', 'libxl.store-config', 'domain.unpause', 'monitor.start']);
    // xl's e820_host, forced on by pci=: the guest's map is derived from the host's.
    expect(plan[plan.indexOf('domain.build-pre') + 1]).toBe('domain.e820-host');
    await b.ok(['create', pvConfig('g1', "pci = [ '01:00.0', '03:00.0' ]\n")]);
    expect((await b.ok(['pci-list', 'g1'])).stdout).toBe('Vdev Device\n00.0 0000:01:00.0\n00.0 0000:03:00.0\n');
    expect((await b.ok(['sim-guest', 'g1'])).stdout).toBe('guest sees 0000:00:00.00\nguest sees 0000:00:01.00\n');
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('');
    await b.ok(['destroy', 'g1']);
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe(assignable);
  });

  it('refuses a second domain with the same name before creating anything', async () => {
    await b.ok(['create', pvConfig('g1')]);
    const before = b.snapshot();
    const r = await b.run(['create', pvConfig('g1')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('domain with name "g1" already exists.');
    expect(b.snapshot()).toEqual(before);
  });
});

describe('bad configs fail before anything is created, with one line', () => {
  const cases: [string, () => string, RegExp][] = [
    ['a missing kernel file', () => b.config('x.cfg', `name="x"\ntype="pv"\nkernel="${join(b.dir, 'nope')}"\n`), /kernel file .*nope does not exist/],
    ['a missing ramdisk file', () => b.config('x.cfg', `name="x"\ntype="pv"\nkernel="${kernel}"\nramdisk="/nonexistent/initrd"\n`), /ramdisk file \/nonexistent\/initrd does not exist/],
    ['more memory than is free', () => b.config('x.cfg', `name="x"\ntype="pv"\nkernel="${kernel}"\nmemory=1000000\n`), /memory=1000000 MiB is more than the host has free/],
    ['an unknown type', () => b.config('x.cfg', `name="x"\ntype="xyz"\nkernel="${kernel}"\n`), /Invalid domain type xyz/],
    ['no kernel', () => b.config('x.cfg', `name="x"\ntype="pv"\n`), /needs kernel=/],
    ['a PCI device not assignable', () => b.config('x.cfg', `name="x"\ntype="pv"\nkernel="${kernel}"\npci=["00:1f.0"]\n`), /pci device 0000:00:1f.0 is not assignable/],
  ];
  it.each(cases)('%s', async (_what, cfg, message) => {
    const before = b.snapshot();
    const r = await b.run(['create', cfg()]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('Parsing config'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(b.snapshot()).toEqual(before);
  });
});

describe('failure part-way', () => {
  // 7: the libxl config step itself fails; 8 and 9 (unpause, monitor) fail after it wrote the file.
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9])('a failure at step %i destroys the half-built domain, leaves no stored config and names the step', async (step) => {
    const before = b.xenstore('/');
    const domainsBefore = (await b.ok(['list'])).stdout;
    const r = await b.run(['create', pvConfig('g1')], { XENTOOL_TEST_FAIL_AT_STEP: String(step) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`create g1: step ${step + 1}/10 \\(.+\\) failed`));
    expect(b.xenstore('/')).toEqual(before);
    expect((await b.ok(['list'])).stdout).toBe(domainsBefore);
    expect(userdataFiles()).toEqual([]);
  });
});

describe('libxl’s stored domain config (xl interop, issues 6 and 9)', () => {
  const UUID = '5e1f0c1a-3b8e-4d2a-9c47-0a1b2c3d4e5f';

  it('create writes /var/lib/xen/userdata-d.<domid>.<uuid>.libxl-json with the config -N shows, NUL-terminated as libxl stores it', async () => {
    const cfg = pvConfig('g1', `uuid = "${UUID}"\npci = [ '01:00.0' ]\non_crash = "preserve"\n`);
    const plan = JSON.parse((await b.ok(['create', '-N', cfg])).stdout) as { plan: { steps: Record<string, unknown>[] } };
    const step = plan.plan.steps.find((st) => st.op === 'libxl.store-config')!;
    expect(step).toMatchObject({ uuid: UUID, userid: 'libxl-json' });
    // -N writes nothing.
    expect(userdataFiles()).toEqual([]);
    await b.ok(['create', cfg]);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    expect(userdataFiles()).toEqual([`userdata-d.${domid}.${UUID}.libxl-json`]);
    const text = readFileSync(join(xenLib(), `userdata-d.${domid}.${UUID}.libxl-json`), 'utf8');
    expect(text).toBe(formatLibxlJson(step.config as LibxlJson) + '\0');
    const j = JSON.parse(text.slice(0, -1)) as { c_info: Record<string, unknown>; b_info: Record<string, unknown>; pcidevs: unknown[]; on_crash: string };
    expect(j.c_info).toEqual({ type: 'pv', name: 'g1', domid: 4294967295, uuid: UUID, run_hotplug_scripts: 'True' });
    expect(j.b_info).toMatchObject({ max_vcpus: 2, avail_vcpus: [0, 1], max_memkb: 131072, target_memkb: 131072, kernel, ramdisk, cmdline: 'console=hvc0', 'type.pv': { e820_host: 'True' } });
    expect(j.pcidevs).toEqual([{ bus: 1, vfunc_mask: 1, rdm_policy: 'strict' }]);
    expect(j.on_crash).toBe('preserve');
  });

  it('destroy removes that domain’s userdata files (libxl__userdata_destroyall) under its lock, whose unlock removes the lock file; not another domain’s', async () => {
    await b.ok(['create', pvConfig('g1', `uuid = "${UUID}"\n`)]);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    const keep = [`userdata-d.${domid}1.${UUID}.libxl-json`, `userdata-d.${domid}.aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee.libxl-json`];
    // A lock file left by a holder that died (libxl's unlock unlinks it; a killed process does not).
    for (const n of [...keep, `userdata-d.${domid}.${UUID}.xl`, `userdata-l.${domid}.${UUID}.domain-userdata-lock`]) writeFileSync(join(xenLib(), n), 'x');
    const plan = await b.ok(['destroy', '-N', 'g1']);
    expect(plan.stdout).toContain(`remove its libxl userdata files (${xenLib()}/userdata-?.${domid}.${UUID}.*)`);
    expect(userdataFiles()).toHaveLength(5);
    await b.ok(['destroy', 'g1']);
    expect(userdataFiles()).toEqual([...keep].sort());
  });

  it('the monitor’s destroy removes it too, and a restart stores the config of the new domain', async () => {
    await b.ok(['create', pvConfig('g1', `uuid = "${UUID}"\n`)]);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    await b.ok(['reboot', 'g1']);
    const again = (await b.ok(['domid', 'g1'])).stdout.trim();
    expect(userdataFiles()).toEqual([`userdata-d.${again}.${UUID}.libxl-json`]);
    expect(again).not.toBe(domid);
    await b.ok(['shutdown', '-w', 'g1']);
    expect(userdataFiles()).toEqual([]);
  });
});

describe('shutdown and reboot on the simulated host (the host plays the guest and the monitor)', () => {
  it('shutdown -w: the guest powers off, on_poweroff=destroy removes it and every node', async () => {
    const before = b.xenstore('/');
    await b.ok(['create', pvConfig('g1')]);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    const r = await b.ok(['shutdown', '-w', 'g1']);
    expect(r.stderr).toBe(`Shutting down domain ${domid}\nWaiting for 1 domains\nDomain ${domid} has been destroyed\n`);
    expect((await b.ok(['list'])).stdout).not.toMatch(/^g1/m);
    expect(b.xenstore('/')).toEqual(before);
  });

  it('on_poweroff=preserve leaves the domain in place', async () => {
    await b.ok(['create', pvConfig('g1', 'on_poweroff="preserve"\n')]);
    await b.ok(['shutdown', 'g1']);
    expect((await b.ok(['list'])).stdout).toMatch(/^g1\s/m);
  });

  it('reboot: on_reboot=restart destroys and creates it again with the same name and uuid', async () => {
    await b.ok(['create', pvConfig('g1')]);
    const domid = (await b.ok(['domid', 'g1'])).stdout.trim();
    const uuid = b.xenstore(`/local/domain/${domid}/vm`)[`/local/domain/${domid}/vm`];
    const r = await b.ok(['reboot', 'g1']);
    expect(r.stderr).toBe(`Rebooting domain ${domid}\n`);
    const again = (await b.ok(['domid', 'g1'])).stdout.trim();
    expect(again).not.toBe(domid);
    expect(b.xenstore(`/local/domain/${again}/vm`)[`/local/domain/${again}/vm`]).toBe(uuid);
    expect(b.xenstore(`/local/domain/${domid}/`)).toEqual({});
    expect((await b.ok(['list'])).stdout.match(/^g1\s/gm)).toHaveLength(1);
  });

  it('shutdown of an unknown domain fails like xl', async () => {
    const r = await b.run(['shutdown', 'nosuch']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toContain('nosuch is an invalid domain identifier (rc=-6)');
  });
});

describe('domid / domname', () => {
  it('fail with xl’s messages for unknown domains', async () => {
    const a = await b.run(['domid', 'nosuch']);
    expect(a.code).toBe(1);
    expect(a.stderr).toContain("Can't get domid of domain name 'nosuch', maybe this domain does not exist.");
    const n = await b.run(['domname', '77']);
    expect(n.code).toBe(1);
    expect(n.stderr).toContain("Can't get domain name of domain id '77', maybe this domain does not exist.");
    expect((await b.ok(['domname', '0'])).stdout).toBe('Domain-0\n');
    expect((await b.ok(['domid', 'Domain-0'])).stdout).toBe('0\n');
  });
});
