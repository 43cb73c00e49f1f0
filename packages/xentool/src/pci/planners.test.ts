import { planAssignableAdd, planAssignableRemove } from './plan-assignable';
import { planPciAttach, type AttachRequest, type AttachView } from './plan-pci-attach';
import { planPciDetach } from './plan-pci-detach';
import type { DeviceView, DomainView } from './view';

const BDF = { domain: 0, bus: 3, dev: 0, func: 0 };

function device(over: Partial<DeviceView> = {}): DeviceView {
  return {
    ...BDF,
    exists: true,
    driver: 'pciback',
    resources: [
      { start: 0xfebc0000n, end: 0xfebdffffn, flags: 0x40200n },
      { start: 0xc000n, end: 0xc03fn, flags: 0x40101n },
      { start: 0x380000000000n, end: 0x380000003fffn, flags: 0x14220cn }, // 64-bit prefetchable BAR
      { start: 0xfeb80000n, end: 0xfebbffffn, flags: 0x46201n }, // enabled ROM: bit 0 set, still memory
    ],
    irq: 11,
    usedBy: undefined,
    name: undefined,
    originalDriverPath: undefined,
    blockers: [],
    warnings: [],
    coAssign: [],
    ...over,
  };
}

function domain(over: Partial<DomainView> = {}): DomainView {
  return { domid: 5, name: 'guest1', hvm: false, dying: false, deviceModel: 'none', attached: [], backendState: undefined, ...over };
}

const req = (over: Partial<AttachRequest> = {}): AttachRequest => ({
  bdf: BDF,
  permissive: false,
  msitranslate: false,
  powerMgmt: false,
  seize: false,
  rdmPolicy: 'strict',
  force: false,
  timeoutMs: 10_000,
  ...over,
});

const view = (over: Partial<AttachView> = {}): AttachView => ({
  domain: domain(),
  device: device(),
  testAssign: { ok: true },
  iommu: true,
  partnersUsedBy: [],
  ...over,
});

describe('planPciAttach for qemu-traditional', () => {
  const trad = (over: Partial<DomainView> = {}) => domain({ hvm: true, deviceModel: 'qemu-xen-traditional', usedSlots: [], ...over });
  it('IOMMU first, then pci-ins, its answer put back to running, then the record with the devfn qemu-dm reported', () => {
    const p = planPciAttach(req({ vslot: 6, msitranslate: true }), view({ domain: trad() }));
    const ops = p.steps.map((s) => s.op);
    expect(ops.slice(ops.indexOf('xc.assign'))).toEqual(['xc.assign', 'qemuTrad.pciIns', 'qemuTrad.resume', 'libxl.pcidevAdd', 'backend.add']);
    expect(p.steps.find((s) => s.op === 'qemuTrad.pciIns')).toMatchObject({ vdevfn: 0x30, msitranslate: true, powerMgmt: false });
    expect(p.steps.at(-1)).toMatchObject({ hvm: true, dm: 'qemu-xen-traditional' });
    expect(ops).not.toContain('hvm.deviceAdd');
  });
  it('leaves the slot to qemu-dm when none is asked for', () => {
    expect(planPciAttach(req(), view({ domain: trad() })).steps.find((s) => s.op === 'qemuTrad.pciIns')).not.toHaveProperty('vdevfn');
  });
  it('refuses a slot a recorded passthrough device holds, and a device model in a stub domain', () => {
    expect(() => planPciAttach(req({ vslot: 7 }), view({ domain: trad({ usedSlots: [7] }) }))).toThrow(expect.objectContaining({ code: 'ERR_SLOT_TAKEN' }));
    expect(() => planPciAttach(req(), view({ domain: trad({ stubdomId: 9 }) }))).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_DM', message: "domain 5's device model runs in stub domain 9; PCI hot-plug through a stub domain is not supported" }),
    );
  });
});

describe('planPciAttach', () => {
  it('orders a PV attach: claim, reset, permissions, IOMMU, then the backend', () => {
    const p = planPciAttach(req(), view());
    expect(p.steps.map((s) => s.op)).toEqual([
      'libxl.setDomid',
      'pci.reset',
      'xc.iomem',
      'xc.ioport',
      'xc.iomem',
      'xc.iomem',
      'xc.grantIrq',
      'xc.assign',
      'libxl.pcidevAdd',
      'backend.add',
    ]);
    expect(p.steps.at(-1)).toMatchObject({ hvm: false, opts: 'msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict' });
  });

  it("records the device in the domain's stored config as libxl_device_pci fields, except while the domain is being created", () => {
    const p = planPciAttach(req({ permissive: true, seize: true, rdmPolicy: 'relaxed', name: 'nic0' }), view());
    expect(p.steps.find((s) => s.op === 'libxl.pcidevAdd')).toMatchObject({
      domid: 5,
      bdf: '0000:03:00.0',
      hvm: false,
      vfuncMask: 1,
      msitranslate: false,
      powerMgmt: false,
      permissive: true,
      seize: true,
      rdmPolicy: 'relaxed',
      name: 'nic0',
    });
    expect(planPciAttach(req({ starting: true }), view()).steps.map((s) => s.op)).not.toContain('libxl.pcidevAdd');
    // PV: the slot asked for is what libxl stores; HVM: the device model's answer, read when applied.
    expect(planPciAttach(req({ vslot: 5 }), view()).steps.find((s) => s.op === 'libxl.pcidevAdd')).toMatchObject({ vdevfn: 0x28 });
    const hvm = planPciAttach(req({ vslot: 5 }), view({ domain: domain({ hvm: true, deviceModel: 'qemu-xen', usedSlots: [] }) }));
    expect(hvm.steps.find((s) => s.op === 'libxl.pcidevAdd')).not.toHaveProperty('vdevfn');
  });

  it('grants 64-bit BARs exactly and treats an enabled ROM as memory, not I/O', () => {
    const p = planPciAttach(req(), view());
    const iomem = p.steps.filter((s) => s.op === 'xc.iomem').map((s) => [s.first, s.nr]);
    expect(iomem).toEqual([
      [(0xfebc0000n >> 12n).toString(), '32'],
      [(0x380000000000n >> 12n).toString(), '4'],
      [(0xfeb80000n >> 12n).toString(), '64'],
    ]);
    expect(p.steps.find((s) => s.op === 'xc.ioport')).toMatchObject({ first: 0xc000, nr: 0x40 });
  });

  it('counts every page a sub-page BAR straddles', () => {
    const dev = device({ resources: [{ start: 0x1000ff0n, end: 0x100100fn, flags: 0x200n }] });
    const p = planPciAttach(req(), view({ device: dev }));
    expect(p.steps.find((s) => s.op === 'xc.iomem')).toMatchObject({ first: (0x1000n).toString(), nr: '2' });
  });

  it('for HVM, assigns in the IOMMU before QEMU shows the device, then records it', () => {
    const p = planPciAttach(req({ vslot: 7 }), view({ domain: domain({ hvm: true, deviceModel: 'qemu-xen', usedSlots: [0, 1, 2, 3] }) }));
    const ops = p.steps.map((s) => s.op);
    expect(ops.indexOf('xc.assign')).toBeLessThan(ops.indexOf('hvm.deviceAdd'));
    expect(p.steps.find((s) => s.op === 'hvm.deviceAdd')).toMatchObject({ vdevfn: 0x38 });
    // The stored config gets the slot QEMU reports, so its step comes after device_add.
    expect(ops.slice(ops.indexOf('hvm.deviceAdd'))).toEqual(['hvm.deviceAdd', 'libxl.pcidevAdd', 'backend.add']);
  });

  it('seizes from the dom0 driver first when seize=1', () => {
    const p = planPciAttach(req({ seize: true }), view({ device: device({ driver: 'e1000e' }) }));
    expect(p.steps[0]).toMatchObject({ op: 'pciback.seize', bdf: '0000:03:00.0' });
  });

  it.each([
    ['a device bound to a dom0 driver', view({ device: device({ driver: 'e1000e' }) }), 'ERR_DEVICE_NOT_ASSIGNABLE', /bound to e1000e.*pci-assignable-add 0000:03:00.0/],
    ['a device another domain uses', view({ device: device({ usedBy: 7 }) }), 'ERR_DEVICE_IN_USE', /0:3:0.0 is not assignable: it is attached to domain 7/],
    ['a guest created without passthrough', view({ testAssign: { ok: false, code: 'EOPNOTSUPP' } }), 'ERR_PASSTHROUGH_DISABLED', /passthrough="enabled"/],
    ['a host without IOMMU', view({ iommu: false }), 'ERR_NO_IOMMU', /no IOMMU/],
    ['a device that does not exist', view({ device: device({ exists: false }) }), 'ERR_DEVICE_NOT_FOUND', /does not exist/],
    ['a co-assignment partner in another domain', view({ device: device({ coAssign: [{ domain: 0, bus: 3, dev: 1, func: 0 }] }), partnersUsedBy: [9] }), 'ERR_CO_ASSIGNMENT', /0000:03:01.0, which is attached to domain 9/],
    ['a device dom0 uses', view({ device: device({ blockers: [{ code: 'IN_USE_BY_DOM0', message: 'it backs the mounted filesystem /' }] }) }), 'ERR_DEVICE_NOT_ASSIGNABLE', /mounted filesystem/],
    ['attach to dom0', view({ domain: domain({ domid: 0 }) }), 'ERR_DOMAIN_IS_DOM0', /dom0/],
  ])('refuses %s before any step', (_what, v, code, msg) => {
    expect(() => planPciAttach(req(), v)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(msg) }));
  });

  it('refuses a taken slot, and lets --force override only the dom0-use refusal', () => {
    const hvm = domain({ hvm: true, deviceModel: 'qemu-xen', usedSlots: [0, 1, 2, 3, 7] });
    expect(() => planPciAttach(req({ vslot: 7 }), view({ domain: hvm }))).toThrow(expect.objectContaining({ code: 'ERR_SLOT_TAKEN' }));
    const inUse = device({ blockers: [{ code: 'IN_USE_BY_DOM0', message: 'x' }] });
    expect(planPciAttach(req({ force: true }), view({ device: inUse })).steps.length).toBeGreaterThan(0);
    const bridge = device({ blockers: [{ code: 'IS_BRIDGE', message: 'it is a PCI bridge' }] });
    expect(() => planPciAttach(req({ force: true }), view({ device: bridge }))).toThrow(/bridge/);
  });
});

describe('planPciDetach', () => {
  const attached = [{ ...BDF, index: 0, vdevfn: 0, recordedVdevfn: 0, opts: {} }];
  it('lets the guest go first, then resets, deassigns, revokes and forgets', () => {
    const p = planPciDetach({ bdf: BDF, force: false, timeoutMs: 10_000 }, domain({ attached }), device());
    expect(p.steps.map((s) => s.op)).toEqual([
      'backend.release',
      'pci.reset',
      'xc.deassign',
      'xc.iomem',
      'xc.ioport',
      'xc.iomem',
      'xc.iomem',
      'xc.revokeIrq',
      'backend.remove',
      'libxl.pcidevRemove',
      'libxl.clearDomid',
    ]);
    expect(p.steps.filter((s) => s.op === 'xc.iomem').every((s) => s.allow === false)).toBe(true);
  });
  it('uses QMP device_del for HVM', () => {
    const p = planPciDetach({ bdf: BDF, force: true, timeoutMs: 1 }, domain({ hvm: true, deviceModel: 'qemu-xen', attached }), device());
    expect(p.steps[0]).toMatchObject({ op: 'hvm.deviceDel', force: true });
  });
  it('qemu-traditional: pci-rem through the device model, its answer put back, then dom0 cleans up', () => {
    const p = planPciDetach({ bdf: BDF, force: false, timeoutMs: 3000 }, domain({ hvm: true, deviceModel: 'qemu-xen-traditional', attached }), device());
    expect(p.steps.slice(0, 4).map((s) => s.op)).toEqual(['qemuTrad.pciRem', 'qemuTrad.resume', 'pci.reset', 'xc.deassign']);
    expect(p.steps[0]).toMatchObject({ domid: 5, bdf: '0000:03:00.0', timeoutMs: 3000, force: false });
  });
  it('refuses a device that is not attached to the domain', () => {
    expect(() => planPciDetach({ bdf: BDF, force: false, timeoutMs: 1 }, domain(), device())).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_ATTACHED', message: 'PCI device 0000:03:00.0 is not attached to domain 5' }),
    );
  });
});

describe('assignable planners', () => {
  it('add: seize, name, quarantine; already-hidden devices only get quarantined', () => {
    expect(planAssignableAdd(BDF, device({ driver: 'e1000e' }), { name: 'nic0', force: false }).steps.map((s) => s.op)).toEqual([
      'pciback.seize',
      'libxl.setName',
      'xc.quarantine',
    ]);
    expect(planAssignableAdd(BDF, device(), { force: false }).steps.map((s) => s.op)).toEqual(['xc.quarantine']);
  });
  it('add refuses bridges and bad names', () => {
    expect(() => planAssignableAdd(BDF, device({ blockers: [{ code: 'IS_BRIDGE', message: 'it is a PCI bridge' }] }), { force: true })).toThrow(/bridge/);
    expect(() => planAssignableAdd(BDF, device(), { name: 'has space', force: false })).toThrow('Names may only include printable characters');
    expect(() => planAssignableAdd(BDF, device(), { name: 'x'.repeat(65), force: false })).toThrow('Name too long');
  });
  it('remove -r rebinds the recorded driver, or warns as xl does when none is recorded', () => {
    const p = planAssignableRemove(BDF, device({ originalDriverPath: '/sys/bus/pci/drivers/e1000e', name: 'nic0' }), { rebind: true });
    expect(p.steps.map((s) => s.op)).toEqual(['xc.dequarantine', 'pciback.release', 'pci.rebind', 'libxl.setName']);
    const q = planAssignableRemove(BDF, device(), { rebind: true });
    expect(q.warnings).toEqual([`Couldn't find path for original driver; not rebinding`]);
  });
  it('remove refuses a device attached to a guest', () => {
    expect(() => planAssignableRemove(BDF, device({ usedBy: 3 }), { rebind: false })).toThrow(/attached to domain 3; detach it first/);
  });
});
