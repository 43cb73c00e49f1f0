/**
 * The xl-syntax PCI commands on the simulated seed host: output bytes, exit codes, the xenstore
 * records xl would find, what the guest sees, and refusals that leave the host untouched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from './sim-helpers';

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
});
afterEach(() => b.cleanup());

const PV = (name: string, pci = '') => `name = "${name}"\ntype = "pv"\nmemory = 256\nkernel = "/boot/vmlinuz"\npassthrough = "enabled"\n${pci}\n`;
const HVM = (name: string) => `name = "${name}"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n`;

describe('seed host', () => {
  it('info --json carries the same fields as the text', async () => {
    const text = (await b.ok(['info'])).stdout;
    const json = JSON.parse((await b.ok(['info', '--json'])).stdout) as Record<string, string>;
    expect(Object.keys(json)).toEqual(text.trim().split('\n').map((l) => l.split(' : ')[0]!.trim()));
    expect(json.xen_major).toBe('4');
    expect(json.virt_caps).toMatch(/hvm_directio/);
  });

  // In the kernel's (kernfs name-hash) order of pciback's directory, as xl prints them on real Xen.
  it('lists the devices hidden at boot as assignable, each line with xl trailing space', async () => {
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('0000:03:00.0 \n0000:01:00.0 \n');
  });

  it('creates a PV guest with pci=[01:00.0, 03:00.0]: pci-list as xl prints it, and the guest sees both', async () => {
    await b.ok(['sim-create', b.config('g1.cfg', PV('guest1', "pci = [ '01:00.0', '03:00.0' ]"))]);
    expect((await b.ok(['pci-list', 'guest1'])).stdout).toBe('Vdev Device\n00.0 0000:01:00.0\n00.0 0000:03:00.0\n');
    expect((await b.ok(['sim-guest', 'guest1'])).stdout).toBe('guest sees 0000:00:00.00\nguest sees 0000:00:01.00\n');
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('');
  });
});

describe('PV attach and detach', () => {
  beforeEach(async () => {
    await b.ok(['sim-create', b.config('g1.cfg', PV('pvxl'))]);
  });

  it('writes the same backend, frontend and /libxl nodes as xl 4.17 did on real Xen', async () => {
    await b.ok(['pci-attach', 'pvxl', '01:00.0']);
    const fixture = readFileSync(join(__dirname, '../xen/fixtures/pv-xl/3-attached/xenstore-backend-pci.txt'), 'utf8');
    // The fixture is `xenstore-ls -f` output from real Xen for the device 00:04.0 on domain 1.
    // Same guest name and domid here; only the device differs.
    const want = Object.fromEntries(
      fixture
        .trim()
        .split('\n')
        .map((l) => /^(\S+) = "(.*)"$/.exec(l)!)
        .map((m) => [m[1]!, m[2]!.replace('0000:00:04.0', '0000:01:00.0')]),
    );
    const got = b.xenstore('/local/domain/0/backend/pci/');
    // Values, and the order nodes were created in (xenstore-ls lists children in that order).
    expect(got).toEqual(want);
    expect(Object.keys(got)).toEqual(Object.keys(want));
    expect(b.xenstore('/libxl/pci')).toEqual({ '/libxl/pci': '', '/libxl/pci/0000-01-00-0': '', '/libxl/pci/0000-01-00-0/domid': '1' });
    const fe = b.xenstore('/local/domain/1/device/pci');
    expect(fe['/local/domain/1/device/pci/0/state']).toBe('4');
    expect(fe['/local/domain/1/device/pci/0/magic']).toBe('7');
  });

  it('detach: the guest lets go, the records go, the device is assignable again, and xl would find no backend', async () => {
    await b.ok(['pci-attach', 'pvxl', '01:00.0']);
    await b.ok(['pci-attach', 'pvxl', '03:00.0']);
    await b.ok(['pci-detach', 'pvxl', '01:00.0']);
    expect((await b.ok(['pci-list', 'pvxl'])).stdout).toBe('Vdev Device\n00.0 0000:03:00.0\n');
    // Index 1 moved down to 0, as libxl compacts.
    const be = b.xenstore('/local/domain/0/backend/pci/1/0');
    expect(be['/local/domain/0/backend/pci/1/0/dev-0']).toBe('0000:03:00.0');
    expect(be['/local/domain/0/backend/pci/1/0/num_devs']).toBe('1');
    expect(be['/local/domain/0/backend/pci/1/0/dev-1']).toBeUndefined();
    expect((await b.ok(['sim-guest', 'pvxl'])).stdout).toBe('guest sees 0000:00:01.00\n');
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('0000:01:00.0 \n');
    await b.ok(['pci-detach', 'pvxl', '03:00.0']);
    // libxl's path cleanup takes the emptied /local/domain/0/backend/pci with it.
    expect(Object.keys(b.xenstore('/local/domain/0/backend/pci'))).toEqual([]);
    expect(b.xenstore('/local/domain/1/device/pci')).toEqual({});
    expect(b.xenstore('/libxl/pci')).toEqual({ '/libxl/pci': '', '/libxl/pci/0000-01-00-0': '', '/libxl/pci/0000-03-00-0': '' });
    expect((await b.ok(['pci-list', 'pvxl'])).stdout).toBe('');
  });

  it('a hot-add the guest never takes is withdrawn: exit 1 and the host as before', async () => {
    await b.ok(['pci-attach', 'pvxl', '01:00.0']);
    await b.ok(['sim-guest', 'pvxl', '--hung']);
    const before = b.snapshot();
    const r = await b.run(['pci-attach', 'pvxl', '03:00.0', '--timeout', '0.3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 0.3 s waiting for domain 1's pcifront to take 0000:03:00.0/);
    expect(b.snapshot()).toEqual(before);
  });

  it('a hung PV guest: detach times out, says nothing changed, and -f removes it anyway', async () => {
    await b.ok(['pci-attach', 'pvxl', '01:00.0']);
    await b.ok(['sim-guest', 'pvxl', '--hung']);
    const before = b.snapshot();
    const r = await b.run(['pci-detach', 'pvxl', '01:00.0', '--timeout', '0.3']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/did not release 0000:01:00.0 within 0.3 s; nothing was changed \(use -f/);
    expect(b.snapshot()).toEqual(before);
    const f = await b.run(['pci-detach', '-f', 'pvxl', '01:00.0', '--timeout', '0.3']);
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/removing it anyway \(-f\)/);
    expect((await b.ok(['pci-list', 'pvxl'])).stdout).toBe('');
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('0000:03:00.0 \n0000:01:00.0 \n');
  });
});

describe('HVM attach and detach through QMP', () => {
  beforeEach(async () => {
    await b.ok(['sim-create', b.config('h.cfg', HVM('hvm1'))]);
  });

  it('honours the requested slot, shows it in pci-list and in the guest', async () => {
    await b.ok(['pci-attach', 'hvm1', '03:00.0@7']);
    expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('Vdev Device\n07.0 0000:03:00.0\n');
    expect((await b.ok(['sim-guest', 'hvm1'])).stdout).toBe('guest sees 0000:00:07.0 (host 0000:03:00.0)\n');
    expect(b.xenstore('/local/domain/0/backend/pci/1/0')['/local/domain/0/backend/pci/1/0/vdevfn-0']).toBe('38');
  });

  it('attaches every function of a slot with BB:DD.*@VSLOT, function 0 last, and needs the slot', async () => {
    await b.ok(['pci-assignable-add', '02:00.0']);
    await b.ok(['pci-assignable-add', '02:00.1']);
    const noSlot = await b.run(['pci-attach', 'hvm1', '02:00.*']);
    expect(noSlot).toMatchObject({ code: 1, stderr: 'Must specify a v-slot for multi-function devices (0000:02:00.*@VSLOT)\n' });
    await b.ok(['pci-attach', 'hvm1', '02:00.*@6']);
    expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('Vdev Device\n06.1 0000:02:00.1\n06.0 0000:02:00.0\n');
    expect((await b.ok(['sim-guest', 'hvm1'])).stdout).toBe('guest sees 0000:00:06.0 (host 0000:02:00.0)\nguest sees 0000:00:06.1 (host 0000:02:00.1)\n');
  });

  it("takes QEMU's choice without a slot (the first free one)", async () => {
    await b.ok(['pci-attach', 'hvm1', '01:00.0']);
    expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('Vdev Device\n04.0 0000:01:00.0\n');
  });

  it('refuses a taken slot before changing anything', async () => {
    await b.ok(['pci-attach', 'hvm1', '03:00.0@7']);
    const before = b.snapshot();
    const r = await b.run(['pci-attach', 'hvm1', '01:00.0@7']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('virtual slot 0x7 of domain 1 is already in use\n');
    expect(b.snapshot()).toEqual(before);
  });

  it('detach delivers the hot-removal; a guest that ignores it times out, and -f continues', async () => {
    await b.ok(['pci-attach', 'hvm1', '03:00.0@7']);
    await b.ok(['pci-detach', 'hvm1', '03:00.0']);
    expect((await b.ok(['sim-guest', 'hvm1'])).stdout).toBe('the guest sees no passthrough PCI device\n');
    await b.ok(['pci-attach', 'hvm1', '03:00.0@7']);
    await b.ok(['sim-guest', 'hvm1', '--ignore-unplug']);
    const r = await b.run(['pci-detach', 'hvm1', '03:00.0', '--timeout', '0.5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 0.5 s waiting for domain 1 to eject pci-pt-03_00.0; the device is still attached/);
    expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('Vdev Device\n07.0 0000:03:00.0\n');
    const f = await b.run(['pci-detach', '-f', 'hvm1', '03:00.0', '--timeout', '0.5']);
    expect(f.code).toBe(0);
    expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('');
  });
});

describe('refusals leave the host untouched', () => {
  it.each([
    ['a guest created without passthrough', 'name = "nopt"\ntype = "pv"\nmemory = 128\n', ['pci-attach', 'nopt', '01:00.0'], /created without an IOMMU context \(set passthrough="enabled"/],
    ['a device still bound to its dom0 driver', PV('g'), ['pci-attach', 'g', '02:00.0'], /0:2:0.0 is not assignable: it is bound to ahci; run 'xentool pci-assignable-add 0000:02:00.0' first/],
    ['a device dom0 itself uses', PV('g'), ['pci-attach', 'g', '00:1f.2,seize=1'], /backs a block device dom0 uses/],
    ['a device that does not exist', PV('g'), ['pci-attach', 'g', '09:00.0'], /0000:09:00.0 does not exist/],
  ])('%s', async (_what, cfg, cmd, msg) => {
    await b.ok(['sim-create', b.config('c.cfg', cfg)]);
    const before = b.snapshot();
    const r = await b.run(cmd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.snapshot()).toEqual(before);
  });

  it('the two conventional devices behind the PCIe-to-PCI bridge cannot go to different domains', async () => {
    await b.ok(['pci-assignable-add', '05:00.0']);
    await b.ok(['pci-assignable-add', '05:01.0']);
    await b.ok(['sim-create', b.config('a.cfg', PV('a'))]);
    await b.ok(['sim-create', b.config('c.cfg', PV('c'))]);
    await b.ok(['pci-attach', 'a', '05:00.0']);
    const before = b.snapshot();
    const r = await b.run(['pci-attach', 'c', '05:01.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/must be assigned to the same domain as 0000:05:00.0, which is attached to domain 1/);
    expect(b.snapshot()).toEqual(before);
    await b.ok(['pci-attach', 'a', '05:01.0']);
  });

  // Malformed specs and BDFs, unknown domains and -N pci-attach: test/contract/pci-contract.ts
  // (run here by contract.sim.test.ts, and on real Xen by test/xen/15-contract.test.ts).
});

describe('assignable add/remove on the simulated kernel', () => {
  it('takes a device from its driver and gives it back with -r', async () => {
    await b.ok(['pci-assignable-add', '-n', 'nic2', '02:00.0']);
    expect((await b.ok(['pci-assignable-list', '-n'])).stdout).toBe('0000:03:00.0 \n0000:02:00.0 nic2\n0000:01:00.0 \n');
    expect(b.xenstore('/libxl/pci/0000-02-00-0')).toEqual({
      '/libxl/pci/0000-02-00-0': '',
      '/libxl/pci/0000-02-00-0/driver_path': '/sys/bus/pci/drivers/ahci',
      '/libxl/pci/0000-02-00-0/name': 'nic2',
    });
    await b.ok(['pci-assignable-remove', '-r', 'nic2']);
    expect((await b.ok(['pci-assignable-list'])).stdout).toBe('0000:03:00.0 \n0000:01:00.0 \n');
    const st = JSON.parse(readFileSync(join(b.state, 'state.json'), 'utf8')) as { sysfs: { devices: { bdf: string; driver: string | null }[] } };
    expect(st.sysfs.devices.find((d) => d.bdf === '0000:02:00.0')?.driver).toBe('ahci');
  });
});

describe('progress on a TTY', () => {
  it('shows an updating line while waiting for a guest, and clears it', async () => {
    await b.ok(['sim-create', b.config('g.cfg', PV('pvxl'))]);
    await b.ok(['pci-attach', 'pvxl', '01:00.0']);
    await b.ok(['sim-guest', 'pvxl', '--hung']);
    const { runCli } = await import('../../packages/xentool/src/cli');
    const { captureContext } = await import('../../packages/xentool/src/testing/capture');
    const ctx = captureContext({ env: { XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: b.state }, cwd: b.dir });
    ctx.stderr.isTTY = true;
    expect(await runCli(['pci-detach', 'pvxl', '01:00.0', '--timeout', '0.8'], ctx)).toBe(1);
    expect(ctx.stderr.text).toMatch(/\r\x1b\[Kwaiting for domain 1 to release 0000:01:00.0: 0\.\d s/);
    expect(ctx.stderr.text).toMatch(/\r\x1b\[K[^\r]*did not release 0000:01:00.0 within 0.8 s/);
  });
});
