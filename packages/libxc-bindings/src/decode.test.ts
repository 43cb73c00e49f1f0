import { decodeDomainInfo, decodePhysinfo, uuidFromBytes, uuidToBytes } from './decode';
import { koffi, structTypes } from './native';

/** A xc_domaininfo_t filled byte by byte at the C offsets (layout.test.ts proves them). */
function domaininfoBuffer(fields: { domain: number; flags: number; tot: bigint; max: bigint; cpu: bigint; online: number; maxId: number }): Buffer {
  const b = Buffer.alloc(112);
  b.writeUInt16LE(fields.domain, 0);
  b.writeUInt32LE(fields.flags, 4);
  b.writeBigUInt64LE(fields.tot, 8);
  b.writeBigUInt64LE(fields.max, 16);
  b.writeBigUInt64LE(fields.cpu, 56);
  b.writeUInt32LE(fields.online, 64);
  b.writeUInt32LE(fields.maxId, 68);
  Buffer.from('0123456789abcdef0123456789abcdef', 'hex').copy(b, 76);
  b.writeUInt32LE(0x3ff, 104);
  return b;
}

describe('decodeDomainInfo', () => {
  const decode = (b: Buffer) => decodeDomainInfo(koffi().decode(b, structTypes().xc_domaininfo_t));

  it('decodes flags, pages, vcpus and the handle through the koffi struct', () => {
    // hvm | shutdown | paused, shutdown code 1 (reboot)
    const d = decode(domaininfoBuffer({ domain: 7, flags: 0x1000e, tot: 262144n, max: 262400n, cpu: 12_345_678_901n, online: 2, maxId: 3 }));
    expect(d).toMatchObject({
      domid: 7,
      hvm: true,
      shutdown: true,
      crashed: false,
      shutdownCode: 1,
      shutdownReason: 'reboot',
      paused: true,
      running: false,
      blocked: false,
      dying: false,
      totPages: 262144,
      maxPages: 262400,
      cpuTimeNs: 12_345_678_901n,
      onlineVcpus: 2,
      maxVcpus: 4,
      uuid: '01234567-89ab-cdef-0123-456789abcdef',
      emulationFlags: 0x3ff,
    });
  });

  it('keeps cpu_time exact beyond 2^53 ns', () => {
    const big = (1n << 60n) + 3n;
    expect(decode(domaininfoBuffer({ domain: 0, flags: 0x20, tot: 1n, max: 1n, cpu: big, online: 1, maxId: 0 })).cpuTimeNs).toBe(big);
  });

  it('reports a crash as shutdown + crashed, and ~0U max_vcpu_id as no vcpus', () => {
    const d = decode(domaininfoBuffer({ domain: 3, flags: 0x30004, tot: 0n, max: 0n, cpu: 0n, online: 0, maxId: 0xffffffff }));
    expect(d).toMatchObject({ shutdown: true, crashed: true, shutdownReason: 'crash', maxVcpus: 0 });
  });

  it('ignores the shutdown code unless the shutdown bit is set', () => {
    const d = decode(domaininfoBuffer({ domain: 1, flags: 0x30020, tot: 0n, max: 0n, cpu: 0n, online: 1, maxId: 0 }));
    expect(d).toMatchObject({ shutdown: false, crashed: false, shutdownCode: undefined, shutdownReason: undefined, running: true });
  });
});

describe('decodePhysinfo', () => {
  it('decodes capability bits and hw_cap through the koffi struct', () => {
    const b = Buffer.alloc(112);
    b.writeUInt32LE(2, 0); // threads_per_core
    b.writeUInt32LE(4, 4); // cores_per_socket
    b.writeUInt32LE(8, 8); // nr_cpus
    b.writeUInt32LE(2_893_204, 24); // cpu_khz
    b.writeUInt32LE(0b1100101101, 28); // hvm, directio, hap, iommu_hap_pt_share, gnttab v1+v2
    b.writeBigUInt64LE(4_194_304n, 40);
    b.writeBigUInt64LE(1_000_000n, 48);
    b.writeUInt32LE(0xdeadbeef, 80 + 7 * 4);
    const p = decodePhysinfo(koffi().decode(b, structTypes().xc_physinfo_t));
    expect(p.capabilities).toEqual({
      hvm: true,
      pv: false,
      directio: true,
      hap: true,
      shadow: false,
      iommuHapPtShare: true,
      vmtrace: false,
      vpmu: false,
      gnttabV1: true,
      gnttabV2: true,
    });
    expect(p).toMatchObject({ threadsPerCore: 2, coresPerSocket: 4, nrCpus: 8, cpuKhz: 2_893_204, totalPages: 4_194_304, freePages: 1_000_000 });
    expect(p.hwCap).toEqual([0, 0, 0, 0, 0, 0, 0, 0xdeadbeef]);
  });
});

describe('uuid', () => {
  it('round-trips between bytes and text', () => {
    const bytes = Array.from({ length: 16 }, (_, i) => i * 17);
    const text = uuidFromBytes(bytes);
    expect(text).toBe('00112233-4455-6677-8899-aabbccddeeff');
    expect(uuidToBytes(text)).toEqual(bytes);
    expect(() => uuidToBytes('00112233-4455-6677-8899-aabbccddeef')).toThrow(/not a UUID/);
  });
});
