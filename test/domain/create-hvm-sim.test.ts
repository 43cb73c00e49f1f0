/**
 * HVM create / destroy on the simulated host: the plan (hvmloader build, qemu-xen spawn, QMP
 * cont before the unpause), the xenstore nodes libxl writes for an HVM guest, pci=[...] through
 * QMP while the domain is paused, and destroy taking the device model and every node away.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';

let b: SimBench;
let kernel: string;

beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  kernel = b.kernelFile();
});
afterEach(() => b.cleanup());

const userdataFiles = () => b.userdataFiles();

function hvmConfig(name: string, extra = ''): string {
  return b.config(`${name}.cfg`, `name = "${name}"\ntype = "hvm"\nkernel = "${kernel}"\nextra = "console=ttyS0"\nmemory = 256\nvcpus = 1\nserial = "pty"\nvnc = 0\n${extra}`);
}

describe('create -N of an HVM guest', () => {
  it('plans the HVM build, qemu-xen with xl’s command line, and cont before unpause', async () => {
    const r = await b.ok(['create', '-N', hvmConfig('h1')]);
    const out = JSON.parse(r.stdout) as { plan: { steps: Record<string, unknown>[] }; config: Record<string, unknown> };
    expect(out.plan.steps.map((s) => s.op)).toEqual([
      'domain.create',
      'xs.skeleton',
      'domain.build-pre',
      'domain.build-hvm',
      'xs.build-post',
      'xs.introduce',
      'console.add',
      'dm.spawn',
      'libxl.store-config',
      'domain.unpause',
      'monitor.start',
    ]);
    const pre = out.plan.steps[2]!;
    // 4 * (256 * 1 vcpu + 256 MiB) KiB of HAP pool; setmaxmem = target + 1 MiB.
    expect(pre).toMatchObject({ pagingMempoolKiB: 2048, maxMemKiB: 257 * 1024, hvm: true });
    // cirrus takes 8 MiB of the 256: hvmloader's guest gets 248 MiB, and so does QEMU's -m.
    expect(out.plan.steps[3]).toMatchObject({ memKiB: 248 * 1024, targetKiB: 248 * 1024, memInitMiB: 248 });
    const argv = out.plan.steps[7]!.argv as string[];
    expect(argv.slice(argv.indexOf('-kernel'), argv.indexOf('-kernel') + 4)).toEqual(['-kernel', kernel, '-append', 'console=ttyS0']);
    expect(argv.slice(-2)).toEqual(['-m', '248']);
    expect(out.config).toMatchObject({ type: 'hvm', passthrough: 'disabled' });
  });

  it('refuses qemu-xen-traditional and unsupported serial settings before anything is created', async () => {
    const before = b.snapshot();
    const r1 = await b.run(['create', hvmConfig('h1', 'device_model_version = "qemu-xen-traditional"\n')]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/only qemu-xen is supported for creation/);
    const r2 = await b.run(['create', hvmConfig('h2', 'serial = "file:/tmp/x"\n')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/serial="file:\/tmp\/x": only "pty" is supported/);
    expect(b.snapshot()).toEqual(before);
  });
});

describe('create of an HVM guest on the simulated host', () => {
  it('writes the HVM nodes, records the device model and its serial pty, and runs the guest', async () => {
    const before = b.xenstore('/');
    await b.ok(['create', hvmConfig('h1')]);
    const domid = (await b.ok(['domid', 'h1'])).stdout.trim();
    const d = `/local/domain/${domid}`;
    const xs = b.xenstore(`${d}/`);
    expect(xs).toMatchObject({
      [`${d}/platform/acpi`]: '1',
      [`${d}/platform/device-model`]: 'qemu_xen',
      [`${d}/hvmloader/bios`]: 'seabios',
      [`${d}/hvmloader/allow-memory-relocate`]: '0',
      [`${d}/memory/target`]: String(248 * 1024),
      [`${d}/memory/videoram`]: String(8 * 1024),
      [`${d}/memory/static-max`]: String(256 * 1024),
      [`${d}/store/ring-ref`]: String(0xfeffc),
      [`${d}/console/ring-ref`]: String(0xfefff),
      [`${d}/serial/0/tty`]: `/dev/pts/simqemu${domid}`,
      [`${d}/image/device-model-pid`]: expect.stringMatching(/^\d+$/),
    });
    expect(b.xenstore(`/local/domain/0/device-model/${domid}/`)).toMatchObject({ [`/local/domain/0/device-model/${domid}/state`]: 'running' });
    expect(b.xenstore(`/libxl/${domid}/`)).toMatchObject({ [`/libxl/${domid}/type`]: 'hvm' });
    // What Xen counts: the 248 MiB populated for the guest (xl lists xl-made HVM guests the same way).
    expect((await b.ok(['list', 'h1'])).stdout).toMatch(/^h1\s+\d+\s+248\s+1\s+-b----/m);
    await b.ok(['destroy', 'h1']);
    expect(b.xenstore('/')).toEqual(before);
  });

  it('pci=[...]: the device is added through QMP while paused, the guest sees it, destroy gives it back', async () => {
    const assignable = (await b.ok(['pci-assignable-list'])).stdout;
    await b.ok(['create', hvmConfig('h1', "pci = [ '03:00.0@07' ]\n")]);
    expect((await b.ok(['pci-list', 'h1'])).stdout).toBe('Vdev Device\n07.0 0000:03:00.0\n');
    expect((await b.ok(['sim-guest', 'h1'])).stdout).toBe('guest sees 0000:00:07.0 (host 0000:03:00.0)\n');
    await b.ok(['destroy', 'h1']);
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe(assignable);
  });

  it('shutdown -w of an HVM guest with PV drivers: on_poweroff=destroy ends QEMU and every node', async () => {
    const before = b.xenstore('/');
    await b.ok(['create', hvmConfig('h1')]);
    const domid = (await b.ok(['domid', 'h1'])).stdout.trim();
    const r = await b.ok(['shutdown', '-w', 'h1']);
    expect(r.stderr).toBe(`Shutting down domain ${domid}\nWaiting for 1 domains\nDomain ${domid} has been destroyed\n`);
    expect(b.xenstore('/')).toEqual(before);
  });

  // 8: the libxl config step itself; 9 and 10 (unpause, monitor) fail after it wrote the file.
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])('a failure at step %i leaves nothing behind (no stored config either) and names the step', async (step) => {
    const before = b.xenstore('/');
    const r = await b.run(['create', hvmConfig('h1')], { XENTOOL_TEST_FAIL_AT_STEP: String(step) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`create h1: step ${step + 1}/11 \\(.+\\) failed`));
    expect(b.xenstore('/')).toEqual(before);
    expect((await b.ok(['list'])).stdout).not.toMatch(/^h1\s/m);
    expect(userdataFiles()).toEqual([]);
  });

  it('stores the HVM config for xl (type, video memory, vnc as set) and destroy removes it', async () => {
    await b.ok(['create', '-p', hvmConfig('h1')]);
    const domid = (await b.ok(['domid', 'h1'])).stdout.trim();
    const files = userdataFiles();
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^userdata-d\\.${domid}\\.[0-9a-f-]{36}\\.libxl-json$`));
    const j = JSON.parse(readFileSync(join(b.state, 'var', 'lib', 'xen', files[0]!), 'utf8').replace(/\0$/, '')) as { c_info: { type: string }; b_info: Record<string, unknown> };
    expect(j.c_info.type).toBe('hvm');
    expect(j.b_info).toMatchObject({ video_memkb: 8192, max_memkb: 262144, 'type.hvm': { vnc: { enable: 'False' }, sdl: {}, serial: 'pty' } });
    await b.ok(['destroy', 'h1']);
    expect(userdataFiles()).toEqual([]);
  });
});
