/**
 * HVM guests whose device model is qemu-traditional (`device_model_version="qemu-xen-traditional"`)
 * on the simulated host: pci-attach/pci-list/pci-detach through qemu-dm's xenstore commands
 * (`/local/domain/0/device-model/<domid>/{parameter,command,state}`), the slot qemu-dm picks, a
 * requested slot honoured or refused, a guest that ignores the ejection, and -f.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from './sim-helpers';

jest.setTimeout(60_000);

const TRAD = (name: string, extra = '') =>
  `name = "${name}"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\ndevice_model_version = "qemu-xen-traditional"\n${extra}`;
const DM = '/local/domain/0/device-model/1';

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('t.cfg', TRAD('trad'))]);
});
afterEach(() => b.cleanup());

const dm = () => b.xenstore(DM);

describe('qemu-traditional HVM guest', () => {
  it('has an idle device model in xenstore and no QMP socket', async () => {
    expect(dm()).toEqual({ [DM]: '', [`${DM}/state`]: 'running' });
    expect(b.xenstore('/libxl/1/dm-version')['/libxl/1/dm-version']).toBe('qemu_xen_traditional');
    expect(existsSync(join(b.state, 'run', 'qmp-libxl-1'))).toBe(false);
  });

  it('attach without a slot takes the first slot with all eight functions free, as qemu-dm picks it', async () => {
    await b.ok(['pci-attach', 'trad', '01:00.0']);
    // Slots 0-3 hold the emulated i440FX, PIIX3 (functions 0, 1, 3), VGA and the Xen platform device.
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('Vdev Device\n04.0 0000:01:00.0\n');
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('guest sees 0000:00:04.0 (host 0000:01:00.0)\n');
    // qemu-dm's answer stays in the mailbox; state is back to running, the command consumed.
    expect(dm()).toEqual({ [DM]: '', [`${DM}/state`]: 'running', [`${DM}/parameter`]: '0x20' });
    expect(b.xenstore('/local/domain/0/backend/pci/1/0')['/local/domain/0/backend/pci/1/0/vdevfn-0']).toBe('20');
    expect(b.xenstore('/libxl/pci/0000-01-00-0')['/libxl/pci/0000-01-00-0/domid']).toBe('1');
  });

  it('attach with a slot honours it; a later attach without one goes around it', async () => {
    await b.ok(['pci-attach', 'trad', '03:00.0@4']);
    await b.ok(['pci-attach', 'trad', '01:00.0']);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('Vdev Device\n04.0 0000:03:00.0\n05.0 0000:01:00.0\n');
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('guest sees 0000:00:04.0 (host 0000:03:00.0)\nguest sees 0000:00:05.0 (host 0000:01:00.0)\n');
  });

  it('the plan names the device-model commands', async () => {
    const plan = (await b.ok(['-N', 'pci-attach', 'trad', '01:00.0@6'])).stdout;
    expect(plan).toMatch(/device model \(qemu-traditional\) pci-ins 0000:01:00.0 at guest slot 0x6 for domain 1, and wait for pci-inserted/);
    expect(plan).toMatch(/set domain 1's device-model state back to running/);
    expect(plan).not.toMatch(/QMP/);
  });

  it('refuses a slot a passthrough device holds before changing anything', async () => {
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
    const before = b.snapshot();
    const r = await b.run(['pci-attach', 'trad', '01:00.0@7']);
    expect(r).toMatchObject({ code: 1, stderr: 'virtual slot 0x7 of domain 1 is already in use\n' });
    expect(b.snapshot()).toEqual(before);
  });

  it("a slot one of qemu-dm's emulated devices holds is refused by qemu-dm, and everything is undone", async () => {
    const before = b.snapshot();
    const r = await b.run(['pci-attach', 'trad', '01:00.0@2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/step \d+\/\d+ \(device model \(qemu-traditional\) pci-ins .*\) failed: domain 1's device model refused to add 0000:01:00.0: wrong bdf or vdevfn/);
    expect(r.stderr).toMatch(/completed steps were undone/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(b.snapshot()).toEqual(before);
  });

  it('detach: the guest ejects the slot, then dom0 cleans up; the device is assignable again', async () => {
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
    await b.ok(['pci-detach', 'trad', '03:00.0']);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('');
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('the guest sees no passthrough PCI device\n');
    expect(dm()).toEqual({ [DM]: '', [`${DM}/state`]: 'running', [`${DM}/parameter`]: '0000:03:00.0' });
    expect((await b.ok(['pci-assignable-list'])).stdout).toContain('0000:03:00.0 \n');
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
  });

  it('a guest that ignores the ejection: detach times out with nothing changed; -f goes on', async () => {
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
    await b.ok(['sim-guest', 'trad', '--ignore-unplug']);
    const before = b.snapshot();
    const r = await b.run(['pci-detach', 'trad', '03:00.0', '--timeout', '0.5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/timed out after 0.5 s waiting for domain 1 to eject 0000:03:00.0 \(qemu-traditional pci-rem\); the device is still attached \(use -f/);
    expect(b.snapshot()).toEqual(before);
    const f = await b.run(['pci-detach', '-f', 'trad', '03:00.0', '--timeout', '0.5']);
    expect(f.code).toBe(0);
    expect(f.stderr).toMatch(/warning: timed out waiting for domain 1 to eject 0000:03:00.0; continuing \(-f\)/);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('');
    // qemu-dm never let go of it: the guest still sees it, as on a real host.
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('guest sees 0000:00:07.0 (host 0000:03:00.0)\n');
    expect(b.xenstore('/libxl/pci/0000-03-00-0')['/libxl/pci/0000-03-00-0/domid']).toBeUndefined();
  });

  it('a leftover answer (a guest that ejected after the toolstack gave up) does not block the next command', async () => {
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
    await b.ok(['sim-guest', 'trad', '--ignore-unplug']);
    await b.ok(['pci-detach', '-f', 'trad', '03:00.0', '--timeout', '0.3']);
    await b.ok(['sim-guest', 'trad', '--no-ignore-unplug']);
    // What qemu-dm writes when the guest finally ejects: pci-removed, with nobody waiting.
    const { SimHost } = await import('../../packages/xentool/src/host/sim/sim-host');
    const h = await SimHost.open({ dir: b.state });
    try {
      h.state.qemu['1']!.devices = h.state.qemu['1']!.devices.filter((d) => d.hostaddr === undefined);
      await h.xs.write(`${DM}/state`, 'pci-removed');
    } finally {
      await h.close();
    }
    await b.ok(['pci-attach', 'trad', '03:00.0@7']);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('Vdev Device\n07.0 0000:03:00.0\n');
    expect(dm()[`${DM}/state`]).toBe('running');
  });

  it('xm pci-attach with a virtual slot and xm pci-detach go through qemu-dm too', async () => {
    expect(await b.xm(['pci-attach', '-o', 'power_mgmt=1', 'trad', '0:3:0.0', '6'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await b.xm(['pci-list', 'trad', '--format=4.1'])).stdout).toBe('Vdev Device\n06.0 0000:03:00.0\n');
    expect(dm()[`${DM}/parameter`]).toBe('0x30');
    expect(await b.xm(['pci-detach', 'trad', '0:3:0.0'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('the guest sees no passthrough PCI device\n');
  });

  it('pci-recover --forget of a device Xen no longer gives the guest takes it out of qemu-dm too', async () => {
    await b.ok(['pci-attach', 'trad', '01:00.0@7']);
    // As if deassigned behind our back: Xen has parked 01:00.0 (sbdf 0x100) in quarantine.
    const file = join(b.state, 'state.json');
    const s = JSON.parse(readFileSync(file, 'utf8')) as { hypervisor: { pciOwners: Record<string, number> } };
    s.hypervisor.pciOwners['256'] = 0x7ff1;
    writeFileSync(file, JSON.stringify(s));
    expect((await b.run(['pci-audit'])).stdout).toMatch(/BACKEND_NOT_ASSIGNED/);
    const plan = (await b.ok(['pci-recover', '-N', '--forget', 'trad', '01:00.0'])).stdout;
    expect(plan).toMatch(/1\. device model \(qemu-traditional\) pci-rem 0000:01:00.0/);
    await b.ok(['pci-recover', '--forget', '1', '01:00.0']);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('');
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('the guest sees no passthrough PCI device\n');
    expect((await b.run(['pci-audit'])).stdout).toMatch(/^pci-audit: clean /);
  });

  it('every function of a slot with BB:DD.*@VSLOT, function 0 last', async () => {
    await b.ok(['pci-assignable-add', '02:00.0']);
    await b.ok(['pci-assignable-add', '02:00.1']);
    await b.ok(['pci-attach', 'trad', '02:00.*@6']);
    expect((await b.ok(['pci-list', 'trad'])).stdout).toBe('Vdev Device\n06.1 0000:02:00.1\n06.0 0000:02:00.0\n');
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('guest sees 0000:00:06.0 (host 0000:02:00.0)\nguest sees 0000:00:06.1 (host 0000:02:00.1)\n');
  });

  it('a config with pci = [...] attaches at creation, and sim-destroy cleans the device model up', async () => {
    await b.ok(['sim-create', b.config('u.cfg', TRAD('u', "pci = [ '01:00.0' ]\n"))]);
    expect((await b.ok(['pci-list', 'u'])).stdout).toBe('Vdev Device\n04.0 0000:01:00.0\n');
    await b.ok(['sim-destroy', 'u']);
    expect(b.xenstore('/local/domain/0/device-model/2')).toEqual({});
    expect((await b.ok(['pci-assignable-list'])).stdout).toContain('0000:01:00.0 \n');
  });
});
