/**
 * A step made to fail at each position of each plan leaves the simulated host exactly as it was
 * before the command: hypervisor (ownership, permissions), xenstore (nodes and permissions),
 * sysfs (drivers, pciback slots), QEMU's bus (qemu-xen and qemu-traditional) and what each guest
 * sees.
 */
import { SimBench } from './sim-helpers';

jest.setTimeout(120_000);

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('pv.cfg', 'name = "pv"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  await b.ok(['sim-create', b.config('hvm.cfg', 'name = "hvm"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
});
afterEach(() => b.cleanup());

async function stepCount(cmd: string[]): Promise<number> {
  const plan = (await b.ok(['-N', ...cmd])).stdout;
  return plan.split('\n').filter((l) => /^\s+\d+\. /.test(l)).length;
}

async function failEverywhere(cmd: string[]): Promise<number> {
  const n = await stepCount(cmd);
  expect(n).toBeGreaterThan(2);
  for (let i = 0; i < n; i++) {
    const before = b.snapshot();
    const r = await b.run(cmd, { XENTOOL_TEST_FAIL_AT_STEP: String(i) });
    expect({ step: i, code: r.code }).toEqual({ step: i, code: 1 });
    expect(r.stderr).toMatch(new RegExp(`step ${i + 1}/${n} \\(.*\\) failed: injected failure`));
    expect({ step: i, state: b.snapshot() }).toEqual({ step: i, state: before });
  }
  return n;
}

describe('failure at every step leaves the host as it was', () => {
  it('PV attach (second device, backend already connected)', async () => {
    await b.ok(['pci-attach', 'pv', '03:00.0']);
    await failEverywhere(['pci-attach', 'pv', '01:00.0']);
    await b.ok(['pci-attach', 'pv', '01:00.0']);
  });

  it('PV attach (first device: backend and frontend created)', async () => {
    await failEverywhere(['pci-attach', 'pv', '01:00.0']);
  });

  it('PV detach (undo plugs the device back into the guest)', async () => {
    await b.ok(['pci-attach', 'pv', '01:00.0']);
    await b.ok(['pci-attach', 'pv', '03:00.0']);
    await failEverywhere(['pci-detach', 'pv', '01:00.0']);
    expect((await b.ok(['sim-guest', 'pv'])).stdout).toBe('guest sees 0000:00:00.00\nguest sees 0000:00:01.00\n');
  });

  it('HVM attach with a slot, and HVM detach', async () => {
    await failEverywhere(['pci-attach', 'hvm', '03:00.0@7']);
    await b.ok(['pci-attach', 'hvm', '03:00.0@7']);
    await failEverywhere(['pci-detach', 'hvm', '03:00.0']);
    expect((await b.ok(['sim-guest', 'hvm'])).stdout).toBe('guest sees 0000:00:07.0 (host 0000:03:00.0)\n');
  });

  it('qemu-traditional HVM attach (qemu-dm picks the slot), attach at a slot, and detach', async () => {
    await b.ok(['sim-create', b.config('trad.cfg', 'name = "trad"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\ndevice_model_version = "qemu-xen-traditional"\n')]);
    // Another guest holds a device throughout. Otherwise undoing the removal of the last backend
    // re-creates /local/domain/0/backend (removed once empty, as libxl's path cleanup does) after
    // its sibling /local/domain/0/device-model, and xenstore keeps children in creation order, so
    // the snapshots would differ in sibling order only.
    await b.ok(['pci-attach', 'pv', '03:00.0']);
    await failEverywhere(['pci-attach', 'trad', '01:00.0']);
    await failEverywhere(['pci-attach', 'trad', '01:00.0@7']);
    await b.ok(['pci-attach', 'trad', '01:00.0@7']);
    await failEverywhere(['pci-detach', 'trad', '01:00.0']);
    expect((await b.ok(['sim-guest', 'trad'])).stdout).toBe('guest sees 0000:00:07.0 (host 0000:01:00.0)\n');
  });

  it('assignable-add from a dom0 driver, and assignable-remove -r', async () => {
    await failEverywhere(['pci-assignable-add', '-n', 'sata', '02:00.0']);
    await b.ok(['pci-assignable-add', '-n', 'sata', '02:00.0']);
    await failEverywhere(['pci-assignable-remove', '-r', '02:00.0']);
  });
});
