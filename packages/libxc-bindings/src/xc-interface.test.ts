/**
 * Argument validation runs before any C call. A dummy handle (XC_OPENFLAG_DUMMY) makes that
 * observable without Xen: invalid arguments fail ERR_XC_INVALID_ARGUMENT, valid ones get as far
 * as the hypercall guard (ERR_XC_DUMMY_HANDLE) — a hypercall on a dummy handle would crash.
 */
import { DOMID_INVALID, DOMID_IO, XEN_DOMCTL_CDF } from './constants';
import { XcArgumentError } from './errors';
import { koffi, structTypes } from './native';
import { createDomainStruct, openXc, type XcInterface } from './xc-interface';

describe('XcInterface argument validation (dummy handle)', () => {
  let xc: XcInterface;
  beforeAll(() => {
    xc = openXc({ dummy: true });
  });
  afterAll(() => xc.close());

  const refused = (fn: () => unknown, argument: string) => {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XcArgumentError);
    expect(err).toMatchObject({ code: 'ERR_XC_INVALID_ARGUMENT', argument });
  };
  const passes = (fn: () => unknown) => expect(fn).toThrow(expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }));

  it('domain calls', () => {
    refused(() => xc.pause(0x7ff0), 'domid');
    refused(() => xc.unpause(-1), 'domid');
    refused(() => xc.shutdown(1, 'halt' as never), 'reason');
    refused(() => xc.shutdown(1, 6), 'reason');
    refused(() => xc.setMaxMem(1, 2 ** 60), 'maxMemKiB');
    refused(() => xc.setMaxVcpus(1, -1), 'max');
    refused(() => xc.domainInfoList(0, 0), 'max');
    refused(() => xc.domainInfoList(0, 1025), 'max');
    refused(() => xc.domainInfo(0x7ff1), 'domid');
    passes(() => xc.pause(1));
    passes(() => xc.shutdown(1, 'poweroff'));
    passes(() => xc.setMaxMem(1, (1n << 40n) + 1024n));
    passes(() => xc.domainInfo(0));
    passes(() => xc.listDomains());
  });

  it('domain creation', () => {
    refused(() => xc.createDomain({ type: 'hvm', maxVcpus: 0 }), 'maxVcpus');
    refused(() => xc.createDomain({ type: 'hvm', maxVcpus: 2, uuid: 'nope' }), 'uuid');
    refused(() => xc.createDomain({ type: 'kvm' as never, maxVcpus: 1 }), 'type');
    refused(() => xc.createDomain({ type: 'hvm', maxVcpus: 1, passthrough: true as never }), 'passthrough');
    refused(() => xc.createDomain({ type: 'hvm', maxVcpus: 1, emulationFlags: 0x800 }), 'emulationFlags');
    passes(() => xc.createDomain({ type: 'hvm', maxVcpus: 2, passthrough: 'sync_pt', uuid: '00112233-4455-6677-8899-aabbccddeeff' }));
  });

  it('PCI calls', () => {
    refused(() => xc.assignDevice(1, { segment: 0, bus: 3, device: 32, function: 0 }), 'device');
    refused(() => xc.assignDevice(DOMID_INVALID, 0x301), 'domid');
    refused(() => xc.testAssignDevice(DOMID_IO, 0x301), 'domid');
    refused(() => xc.deassignDevice(1, 2 ** 32), 'sbdf');
    passes(() => xc.assignDevice(DOMID_IO, { segment: 0, bus: 3, device: 0, function: 1 }));
    passes(() => xc.testAssignDevice(DOMID_INVALID, 0x301));
    passes(() => xc.deassignDevice(DOMID_IO, 0x301));

    refused(() => xc.iomemPermission(1, { firstMfn: 1n, nrMfns: 0n }, true), 'nrMfns');
    refused(() => xc.iomemPermission(1, { firstMfn: (1n << 64n) - 1n, nrMfns: 2n }, true), 'nrMfns');
    passes(() => xc.iomemPermission(1, { firstMfn: (1n << 52n) - 1n, nrMfns: 1n }, true));
    refused(() => xc.ioportPermission(1, 0xfff0, 0x20, true), 'nrPorts');
    refused(() => xc.ioportPermission(1, 0x10000, 1, true), 'firstPort');
    passes(() => xc.ioportPermission(1, 0xfff0, 0x10, true));
    refused(() => xc.irqPermission(1, -3, true), 'pirq');
    passes(() => xc.irqPermission(1, 16, true));
    refused(() => xc.mapPirq(1, 2 ** 31), 'gsi');
    passes(() => xc.mapPirq(1, 16));
    refused(() => xc.unmapPirq(1, 1.5), 'pirq');

    refused(() => xc.bindPtIrq(1, { machineIrq: 16, type: 'msi' }), 'type');
    refused(() => xc.bindPtIrq(1, { machineIrq: 16, type: 'pci', bus: 0, device: 5, intx: 4 }), 'intx');
    refused(() => xc.bindPtIrq(1, { machineIrq: 256, type: 'pci', bus: 0, device: 5, intx: 0 }), 'machineIrq');
    refused(() => xc.bindPtIrq(1, { machineIrq: 16, type: 'isa' }), 'isaIrq');
    passes(() => xc.bindPtIrq(1, { machineIrq: 16, type: 'pci', bus: 0, device: 5, intx: 0 }));
    passes(() => xc.unbindPtIrq(1, { machineIrq: 16, type: 'isa', isaIrq: 4 }));
  });

  it('host calls refuse to run on a dummy handle', () => {
    passes(() => xc.physinfo());
    passes(() => xc.version());
    passes(() => xc.freeCpus());
  });
});

describe('XcInterface.close', () => {
  it('is idempotent, releases the logger callback, and later calls fail ERR_XC_CLOSED', async () => {
    const before = koffi().stats().callbacks;
    const xc = openXc({ dummy: true });
    expect(koffi().stats().callbacks).toBe(before + 1);
    xc.close();
    xc.close();
    expect(koffi().stats().callbacks).toBe(before);
    expect(() => xc.physinfo()).toThrow(expect.objectContaining({ code: 'ERR_XC_CLOSED' }));
    expect(() => xc.destroy(1)).toThrow(expect.objectContaining({ code: 'ERR_XC_CLOSED' }));
  });
});

describe('createDomainStruct', () => {
  it('fills xen_domctl_createdomain as libxl 4.17 does for an HVM guest that may get PCI devices', () => {
    const { requestedDomid, value } = createDomainStruct({
      type: 'hvm',
      maxVcpus: 4,
      passthrough: 'share_pt',
      uuid: '00112233-4455-6677-8899-aabbccddeeff',
    });
    expect(requestedDomid).toBe(0);
    expect(value).toMatchObject({
      flags: XEN_DOMCTL_CDF.hvm | XEN_DOMCTL_CDF.hap | XEN_DOMCTL_CDF.iommu,
      iommu_opts: 0,
      max_vcpus: 4,
      max_grant_frames: -1,
      arch: { emulation_flags: 0x3ff, misc_flags: 0 },
      handle: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
    });
  });

  it('leaves CDF_iommu clear without passthrough, and sets no_sharept for sync_pt', () => {
    expect(createDomainStruct({ type: 'pv', maxVcpus: 1 }).value).toMatchObject({ flags: 0, arch: { emulation_flags: 0 } });
    expect(createDomainStruct({ type: 'pv', maxVcpus: 1, passthrough: 'sync_pt', domid: 9 })).toMatchObject({
      requestedDomid: 9,
      value: { flags: XEN_DOMCTL_CDF.iommu, iommu_opts: 1 },
    });
    expect(createDomainStruct({ type: 'pvh', maxVcpus: 1, hap: false }).value).toMatchObject({
      flags: XEN_DOMCTL_CDF.hvm,
      arch: { emulation_flags: 1 },
    });
  });

  it('encodes into the 64-byte C struct at the header offsets', () => {
    const { value } = createDomainStruct({ type: 'hvm', maxVcpus: 3, passthrough: 'sync_pt', maxGrantVersion: 2 });
    const buf = Buffer.alloc(64);
    koffi().encode(buf, 0, structTypes().xen_domctl_createdomain, value);
    expect(buf.readUInt32LE(20)).toBe(0x23); // flags
    expect(buf.readUInt32LE(24)).toBe(1); // iommu_opts
    expect(buf.readUInt32LE(28)).toBe(3); // max_vcpus
    expect(buf.readInt32LE(36)).toBe(-1); // max_grant_frames
    expect(buf.readUInt32LE(44)).toBe(2); // grant_opts
    expect(buf.readUInt32LE(56)).toBe(0x3ff); // arch.emulation_flags
  });
});
