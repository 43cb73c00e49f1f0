/**
 * pci-audit on the simulated host: clean after ordinary use; each kind of disagreement, made by
 * editing the stored host state the way a crash, a dead daemon or another toolstack would leave
 * it, is reported with its code and the command that repairs it (and the xentool repairs work).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimBench } from '../pci/sim-helpers';

jest.setTimeout(120_000);

interface Finding {
  code: string;
  device?: string;
  domid?: number;
  message: string;
  repair: string;
}

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('pv.cfg', 'name = "pv"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  await b.ok(['sim-create', b.config('hvm.cfg', 'name = "hvm"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
});
afterEach(() => b.cleanup());

type State = {
  hypervisor: { pciOwners: Record<string, number>; domains: { domid: number; iomem: [string, string][] }[] };
  xenstore: { nodes: { path: string; value: string; perms: string[] }[] };
  sysfs: { devices: { bdf: string; driver: string | null }[] };
};

function editState(fn: (s: State) => void): void {
  const file = join(b.state, 'state.json');
  const s = JSON.parse(readFileSync(file, 'utf8')) as State;
  fn(s);
  writeFileSync(file, JSON.stringify(s));
}

function xsNode(s: State, path: string, value = ''): void {
  s.xenstore.nodes.push({ path, value: Buffer.from(value).toString('base64'), perms: ['n0'] });
}

async function audit(): Promise<{ code: number; findings: Finding[] }> {
  const r = await b.run(['pci-audit', '--json']);
  const j = JSON.parse(r.stdout) as { clean: boolean; findings: Finding[] };
  expect(j.clean).toBe(j.findings.length === 0);
  return { code: r.code, findings: j.findings };
}

const SBDF_03 = String((3 << 8) | 0);

it('is clean after attach and detach, and its text says what it checked', async () => {
  await b.ok(['pci-attach', 'pv', '01:00.0']);
  await b.ok(['pci-attach', 'hvm', '03:00.0@7']);
  expect(await audit()).toEqual({ code: 0, findings: [] });
  expect((await b.ok(['pci-audit'])).stdout).toBe('pci-audit: clean (2 devices, 2 domains, 0 unfinished operations)\n');
  await b.ok(['pci-detach', 'pv', '01:00.0']);
  await b.ok(['pci-detach', 'hvm', '03:00.0']);
  expect(await audit()).toEqual({ code: 0, findings: [] });
});

it('a device Xen gives to a guest with no backend record, and stray permissions', async () => {
  editState((s) => {
    s.hypervisor.pciOwners[SBDF_03] = 1;
    s.hypervisor.domains.find((d) => d.domid === 1)!.iomem.push(['4096', '4097']);
  });
  const r = await audit();
  expect(r.code).toBe(1);
  expect(r.findings.map((f) => [f.code, f.device ?? null, f.domid ?? null, f.repair])).toEqual([
    ['ASSIGNED_WITHOUT_RECORD', '0000:03:00.0', 1, 'xl destroy 1'],
    ['PERMISSION_STRAY', null, 1, expect.stringMatching(/^xl destroy 1 /)],
  ]);
  expect(r.findings[1]!.message).toBe('domain 1 holds permissions no attached device needs: frame 0x1000, frame 0x1001');
  const text = (await b.run(['pci-audit'])).stdout;
  expect(text).toMatch(/^pci-audit: 2 problems \(/);
  expect(text).toContain('ASSIGNED_WITHOUT_RECORD: Xen assigns 0000:03:00.0 to domain 1, but no PCI backend records it\n  repair: xl destroy 1\n');
});

it('records for a domain that does not exist', async () => {
  editState((s) => {
    for (const p of ['/local/domain/0/backend/pci', '/local/domain/0/backend/pci/9', '/local/domain/0/backend/pci/9/0']) xsNode(s, p);
    xsNode(s, '/local/domain/0/backend/pci/9/0/num_devs', '1');
    xsNode(s, '/local/domain/0/backend/pci/9/0/dev-0', '0000:01:00.0');
    xsNode(s, '/libxl/pci');
    xsNode(s, '/libxl/pci/0000-01-00-0');
    xsNode(s, '/libxl/pci/0000-01-00-0/domid', '9');
  });
  const r = await audit();
  expect(r.findings.map((f) => [f.code, f.repair])).toEqual([
    ['BACKEND_DEAD_DOMAIN', 'xenstore-rm /local/domain/0/backend/pci/9'],
    ['LIBXL_DOMID_DEAD', 'xenstore-rm /libxl/pci/0000-01-00-0/domid'],
  ]);
});

it('a backend record Xen does not back, and a quarantined device in a dom0 driver; the xentool repairs work', async () => {
  await b.ok(['pci-attach', 'pv', '01:00.0']);
  await b.ok(['pci-assignable-add', '02:00.0']);
  // While Xen still gives the device to the guest, --forget refuses and points at pci-detach.
  const refused = await b.run(['pci-recover', '--forget', '1', '01:00.0']);
  expect(refused).toEqual({ code: 1, stdout: '', stderr: "Xen still assigns 0000:01:00.0 to domain 1; use 'xentool pci-detach 1 0000:01:00.0'\n" });
  editState((s) => {
    // The guest lost the device in the IOMMU (as if deassigned behind our back), and dom0's ahci
    // took 02:00.0 back without it leaving quarantine.
    s.hypervisor.pciOwners[String(1 << 8)] = 0x7ff1;
    s.sysfs.devices.find((d) => d.bdf === '0000:02:00.0')!.driver = 'ahci';
  });
  const r = await audit();
  expect(r.findings.map((f) => [f.code, f.repair])).toEqual([
    ['BACKEND_NOT_ASSIGNED', 'xentool pci-recover --forget 1 0000:01:00.0'],
    ['QUARANTINED_IN_DOM0_DRIVER', 'xentool pci-assignable-remove 0000:02:00.0'],
  ]);
  for (const f of r.findings) await b.ok(f.repair.split(' ').slice(1));
  expect(await audit()).toEqual({ code: 0, findings: [] });
});

it('an interrupted operation points at pci-recover, and after it the audit is clean', async () => {
  await b.run(['pci-attach', 'pv', '01:00.0'], { XENTOOL_TEST_FAIL_AT_STEP: '99' });
  // Leave an open record the way a killed process does: copy one out of a run stopped mid-way.
  editState((s) => {
    const rec = {
      format: 'xentool-intent/1',
      id: 'test-1',
      seq: 1,
      pid: 999999,
      startedAt: '2026-01-01T00:00:00.000Z',
      command: 'pci-assignable-add 0000:02:00.0',
      devices: ['0000:02:00.0'],
      domains: [],
      steps: [{ op: 'xc.quarantine', bdf: '0000:02:00.0' }],
      recovery: { mode: 'rollback', why: 'every completed step had recorded how to undo it' },
      completed: [],
      inFlight: { index: 0, pre: {} },
      status: 'applying',
    };
    xsNode(s, '/xentool');
    xsNode(s, '/xentool/intents');
    xsNode(s, '/xentool/intents/test-1', '1');
    xsNode(s, '/xentool/intents/test-1/part-0', JSON.stringify(rec));
  });
  const r = await audit();
  expect(r.findings).toEqual([
    {
      code: 'INTENT_OPEN',
      message: "unfinished operation 'pci-assignable-add 0000:02:00.0' (intent test-1, process 999999, started 2026-01-01T00:00:00.000Z, stopped in step 1/1)",
      repair: 'xentool pci-recover',
    },
  ]);
  const dry = await b.ok(['pci-recover', '--dry-run']);
  expect(dry.stdout).toBe(
    'pci-assignable-add 0000:02:00.0 (intent test-1): would roll back, because every completed step had recorded how to undo it\n' +
      '  make sure interrupted step 1/1 (quarantine 0000:02:00.0 (assign it to dom_io)) left nothing behind\n',
  );
  expect((await audit()).findings.map((f) => f.code)).toEqual(['INTENT_OPEN']);
  const rec = await b.ok(['pci-recover', '--json']);
  expect(JSON.parse(rec.stdout)).toEqual({
    dryRun: false,
    operations: [
      {
        id: 'test-1',
        command: 'pci-assignable-add 0000:02:00.0',
        action: 'rolled back',
        why: 'every completed step had recorded how to undo it',
        actions: ['interrupted step 1/1 (quarantine 0000:02:00.0 (assign it to dom_io)): made sure 0000:02:00.0 is not quarantined'],
        failures: [],
      },
    ],
  });
  expect(await audit()).toEqual({ code: 0, findings: [] });
});

it('an undo that fails leaves the record stuck, says so, and exits 1; the audit keeps showing it', async () => {
  editState((s) => {
    const rec = {
      format: 'xentool-intent/1',
      id: 'test-2',
      seq: 1,
      pid: 999999,
      startedAt: '2026-01-01T00:00:00.000Z',
      command: 'pci-attach pv 0000:01:00.0',
      devices: ['0000:01:00.0'],
      domains: [1],
      steps: [{ op: 'xc.assign', domid: 1, bdf: '0000:01:00.0' }, { op: 'pci.reset', bdf: '0000:01:00.0' }],
      recovery: { mode: 'rollback', why: 'every completed step had recorded how to undo it' },
      // Claims the assignment happened, but Xen says otherwise: its undo (deassign) fails.
      completed: [{ index: 0, undo: [{ op: 'xc.deassign', domid: 1, bdf: '0000:01:00.0' }] }],
      status: 'applying',
    };
    xsNode(s, '/xentool');
    xsNode(s, '/xentool/intents');
    xsNode(s, '/xentool/intents/test-2', '1');
    xsNode(s, '/xentool/intents/test-2/part-0', JSON.stringify(rec));
  });
  const r = await b.run(['pci-recover']);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe(
    'pci-attach pv 0000:01:00.0 (intent test-2): STUCK, because an undo failed while rolling back (every completed step had recorded how to undo it); the record stays open\n' +
      '  failed: undo of step 1/2 (deassign 0000:01:00.0 from domain 1 (Xen quarantines it)): xc_deassign_device failed: ENODEV\n',
  );
  const a = await audit();
  expect(a.findings.map((f) => [f.code, f.repair])).toEqual([['INTENT_STUCK', 'xentool pci-recover']]);
  expect(a.findings[0]!.message).toContain('xc_deassign_device failed: ENODEV');
  // Still refused for the device until someone looks.
  expect((await b.run(['pci-attach', 'pv', '01:00.0'])).stderr).toMatch(/^device 0000:01:00.0 and domain 1 have an unfinished operation/);
});
