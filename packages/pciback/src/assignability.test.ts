import { assessAssignability, coAssignmentGroup } from './assignability';
import type { Reason } from './assignability';
import { readInventory } from './inventory';
import { seedTopology, TopologyBuilder } from './topology';

const codes = (rs: Reason[]) => rs.map((r) => `${r.severity}:${r.code}`).sort();

describe('assessAssignability on the seed host', () => {
  const sim = seedTopology();
  const inv = readInventory(sim);
  const opts = { dom0Usage: sim.dom0Usage, pcibackLoaded: true };

  it('passes the hidden NIC with FLR without a single reason', () => {
    const a = assessAssignability(inv, '01:00.0', opts);
    expect(a).toEqual({ bdf: '0000:01:00.0', assignable: true, reasons: [], group: ['0000:01:00.0'] });
  });

  it('says why a device still owned by its dom0 driver is not assignable, and how to fix it', () => {
    const a = assessAssignability(inv, '0000:02:00.0', opts);
    expect(a.assignable).toBe(false);
    const own = a.reasons.find((r) => r.code === 'NOT_PCIBACK')!;
    expect(own.message).toBe('0000:02:00.0 is bound to ahci, not to pciback');
    expect(own.fix).toContain('xentool pci-assignable-add 0000:02:00.0');
    expect(a.group).toEqual(['0000:02:00.0', '0000:02:00.1']);
    expect(a.groupRule).toBe('multifunction-without-flr');
    expect(codes(a.reasons)).toEqual(['error:COASSIGN_NOT_PCIBACK', 'error:NOT_PCIBACK', 'warning:COASSIGN_GROUP', 'warning:NO_RESET']);
  });

  it('groups the conventional PCI devices behind the PCIe-to-PCI bridge', () => {
    expect(coAssignmentGroup(inv, '0000:05:01.0')).toEqual({ group: ['0000:05:00.0', '0000:05:01.0'], rule: 'behind-pci-bridge' });
    const a = assessAssignability(inv, '0000:05:00.0', opts);
    expect(a.reasons.find((r) => r.code === 'COASSIGN_GROUP')!.message).toMatch(/must be assigned together with 0000:05:01.0: conventional PCI/);
  });

  it('keeps PCIe endpoints out of any group (seed: PCIe devices do not have this restriction)', () => {
    expect(coAssignmentGroup(inv, '0000:03:00.0').group).toEqual(['0000:03:00.0']);
  });

  it('refuses bridges and the host bridge', () => {
    expect(codes(assessAssignability(inv, '00:00.0', opts).reasons)).toContain('error:HOST_BRIDGE');
    expect(codes(assessAssignability(inv, '04:00.0', opts).reasons)).toContain('error:BRIDGE');
    expect(codes(assessAssignability(inv, '00:1f.0', opts).reasons)).toContain('error:BRIDGE');
  });

  it('refuses devices dom0 uses unless forced, then warns', () => {
    const disk = assessAssignability(inv, '00:1f.2', opts).reasons.find((r) => r.code === 'IN_USE_BY_DOM0')!;
    expect(disk.severity).toBe('error');
    expect(disk.message).toBe('0000:00:1f.2 backs a block device dom0 uses: /dev/sda1 mounted on /');
    const nic = assessAssignability(inv, '00:19.0', { ...opts, force: true }).reasons.find((r) => r.code === 'IN_USE_BY_DOM0')!;
    expect(nic.severity).toBe('warning');
    expect(nic.message).toContain('default route');
    const vga = assessAssignability(inv, '00:02.0', opts);
    expect(codes(vga.reasons)).toEqual(expect.arrayContaining(['error:IN_USE_BY_DOM0', 'warning:QUIRK']));
  });

  it('uses the caller\'s assignment state for "already assigned" and for group members', () => {
    const assigned = new Map([['0000:03:00.0', 4], ['0000:05:01.0', 7]]);
    const a = assessAssignability(inv, '03:00.0', { ...opts, assigned });
    expect(a.reasons).toContainEqual(expect.objectContaining({ code: 'ALREADY_ASSIGNED', severity: 'error', message: '0000:03:00.0 is already assigned to domain 4' }));
    const b = assessAssignability(inv, '05:00.0', { ...opts, assigned, targetDomid: 9 });
    expect(b.reasons.find((r) => r.code === 'COASSIGN_ASSIGNED')!.message).toBe('0000:05:01.0 must be co-assigned with 0000:05:00.0, but it is assigned to domain 7');
    const c = assessAssignability(inv, '05:00.0', { ...opts, assigned, targetDomid: 7 });
    expect(c.reasons.some((r) => r.code === 'COASSIGN_ASSIGNED')).toBe(false);
  });

  it('reports a missing device and a missing pciback module', () => {
    expect(assessAssignability(inv, '0000:42:00.0', opts)).toMatchObject({ assignable: false, reasons: [{ code: 'NO_DEVICE' }] });
    const a = assessAssignability(inv, '02:00.1', { ...opts, pcibackLoaded: false });
    expect(a.reasons[0]).toMatchObject({ code: 'PCIBACK_NOT_LOADED', fix: expect.stringContaining('modprobe xen-pciback') });
  });

  it('applies caller-supplied quirks (the seed\'s BAR-internal-pointer devices)', () => {
    const a = assessAssignability(inv, '03:00.0', {
      ...opts,
      quirks: [{ kind: 'bar-internal-pointers', vendorId: 0x10ec, deviceId: 0x8168, reason: 'driver passes BAR-internal buffer addresses', source: 'site list' }],
    });
    expect(a.assignable).toBe(true);
    expect(a.reasons).toEqual([expect.objectContaining({ code: 'QUIRK', severity: 'warning', message: '0000:03:00.0: driver passes BAR-internal buffer addresses' })]);
  });
});

describe('assessAssignability on built topologies', () => {
  it('warns about switch downstream ports without ACS, and about IOMMU group peers', () => {
    const sim = new TopologyBuilder()
      .pciePort('00:01.0', { vendorId: 0x8086, deviceId: 0x1901, secondaryBus: 1, acs: 0x1f })
      .pciePort('01:00.0', { parent: '00:01.0', vendorId: 0x10b5, deviceId: 0x8747, secondaryBus: 2, portType: 5 })
      .pciePort('02:08.0', { parent: '01:00.0', vendorId: 0x10b5, deviceId: 0x8747, secondaryBus: 3, portType: 6, acs: null })
      .pcieEndpoint('03:00.0', { parent: '02:08.0', vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000, flr: true, driver: 'pciback', iommuGroup: 12 })
      .pcieEndpoint('03:00.1', { parent: '02:08.0', vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000, flr: true, driver: 'ixgbe', iommuGroup: 12 })
      .hide('03:00.0')
      .build();
    const inv = readInventory(sim);
    const a = assessAssignability(inv, '03:00.0', { pcibackLoaded: true });
    // FLR-capable functions of a multi-function device do not have to move together.
    expect(a.group).toEqual(['0000:03:00.0']);
    expect(codes(a.reasons)).toEqual(['warning:IOMMU_GROUP', 'warning:NO_ACS']);
    expect(a.reasons.find((r) => r.code === 'NO_ACS')!.related).toEqual(['0000:02:08.0']);
  });

  it('groups every function of a slot when any one of them lacks FLR, from either side', () => {
    const sim = new TopologyBuilder()
      .pciePort('00:01.0', { vendorId: 0x8086, deviceId: 0x1901, secondaryBus: 1 })
      .pcieEndpoint('01:00.0', { parent: '00:01.0', vendorId: 0x10de, deviceId: 0x1b80, classCode: 0x030000, flr: true, driver: 'pciback' })
      .pcieEndpoint('01:00.1', { parent: '00:01.0', vendorId: 0x10de, deviceId: 0x10f0, classCode: 0x040300, flr: false, driver: 'snd_hda_intel' })
      .hide('01:00.0')
      .build();
    const inv = readInventory(sim);
    expect(coAssignmentGroup(inv, '01:00.0')).toEqual({ group: ['0000:01:00.0', '0000:01:00.1'], rule: 'multifunction-without-flr' });
    expect(coAssignmentGroup(inv, '01:00.1').group).toEqual(['0000:01:00.0', '0000:01:00.1']);
    expect(codes(assessAssignability(inv, '01:00.0', { pcibackLoaded: true }).reasons)).toEqual(['error:COASSIGN_NOT_PCIBACK', 'warning:COASSIGN_GROUP']);
  });
});
