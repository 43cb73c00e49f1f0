import { existsSync } from 'node:fs';
import type { DomainInfo, PhysInfo, XenVersion } from '@xentool/libxc-bindings';
import { XcError } from '@xentool/libxc-bindings';
import { openRealHost } from './open-real-host';
import { type HypervisorHandle, RealHost, type XenstoreReader } from './real-host';

const physinfo: PhysInfo = {
  threadsPerCore: 2,
  coresPerSocket: 4,
  nrCpus: 8,
  maxCpuId: 7,
  nrNodes: 1,
  maxNodeId: 0,
  cpuKhz: 2_400_000,
  capabilities: { hvm: true, pv: true, directio: true, hap: true, shadow: true, iommuHapPtShare: false, vmtrace: false, vpmu: false, gnttabV1: true, gnttabV2: true },
  capabilitiesRaw: 0x31f,
  archCapabilities: 0,
  totalPages: 1_048_576,
  freePages: 500_000,
  scrubPages: 0,
  outstandingPages: 0,
  maxMfn: 0x10ffffn,
  hwCap: [1, 2, 3, 4, 5, 6, 7, 8],
};

const version: XenVersion = {
  major: 4,
  minor: 0x117, // only the low 8 bits reach xl's output
  extra: '.5',
  capabilities: 'xen-3.0-x86_64 hvm-3.0-x86_64',
  changeset: '',
  compiler: 'gcc',
  compileBy: 'me',
  compileDomain: 'example.org',
  compileDate: 'today',
  virtStart: 0xffff800000000000n,
  pagesize: 4096,
  commandline: 'dom0_mem=2G',
  buildId: 'abcd',
};

function dom(domid: number, over: Partial<DomainInfo> = {}): DomainInfo {
  return {
    domid,
    uuid: `00000000-0000-0000-0000-${String(domid).padStart(12, '0')}`,
    flags: 0,
    dying: false,
    hvm: false,
    shutdown: false,
    crashed: false,
    shutdownCode: undefined,
    shutdownReason: undefined,
    paused: false,
    blocked: false,
    running: false,
    debugged: false,
    xenstoreDomain: false,
    hap: false,
    totPages: 1000,
    maxPages: 2000,
    outstandingPages: 10,
    sharedPages: 0,
    pagedPages: 0,
    sharedInfoFrame: 0n,
    cpuTimeNs: 5n,
    onlineVcpus: 1,
    maxVcpus: 2,
    ssidref: 0,
    cpupool: 0,
    gpaddrBits: 0,
    emulationFlags: 0,
    miscFlags: 0,
    ...over,
  };
}

function fakes(over: Partial<HypervisorHandle> = {}) {
  const log: string[] = [];
  const xc: HypervisorHandle = {
    physinfo: () => physinfo,
    version: () => version,
    schedulerName: () => 'credit2',
    sharingFreedPages: () => {
      throw new XcError('xc_sharing_freed_pages', 38, 'Function not implemented');
    },
    sharingUsedFrames: () => 7,
    freeCpus: () => [2, 3],
    listDomains: () => [dom(0, { running: true }), dom(5, { shutdown: true, shutdownCode: 3, shutdownReason: 'crash', crashed: true }), dom(9)],
    close: () => void log.push('xc.close'),
    ...over,
  };
  const names: Record<string, string> = { '/local/domain/0/name': 'Domain-0', '/local/domain/5/name': 'guest' };
  const xenstore: XenstoreReader = {
    read: async (p) => {
      log.push(`read ${p}`);
      return names[p];
    },
    close: async () => void log.push('xs.close'),
  };
  return { xc, xenstore, log };
}

const uname = () => ({ hostname: 'h', release: 'r', version: 'v', machine: 'x86_64' });

describe('RealHost.info', () => {
  it('maps physinfo and version to HostInfo as libxl does', async () => {
    const { xc, xenstore } = fakes();
    const info = await new RealHost({ xc, xenstore, uname }).info();
    expect(info).toMatchObject({
      hostname: 'h',
      machine: 'x86_64',
      nrCpus: 8,
      cpuKhz: 2_400_000,
      hwCaps: [1, 2, 3, 4, 5, 6, 7, 8],
      totalPages: 1_048_576,
      xenMajor: 4,
      xenMinor: 0x17,
      xenScheduler: 'credit2',
      virtStart: 0xffff800000000000n,
      sharingFreedPages: 0, // ENOSYS counts as 0
      sharingUsedFrames: 7,
      freeCpus: 2,
      buildId: 'abcd',
    });
    expect(info.caps.directio).toBe(true);
  });

  it('propagates sharing errors other than ENOSYS, and drops free_cpus when the cpupool query fails', async () => {
    const failing = fakes({
      sharingUsedFrames: () => {
        throw new XcError('xc_sharing_used_frames', 13, 'Permission denied');
      },
    });
    await expect(new RealHost({ ...failing, uname }).info()).rejects.toMatchObject({ code: 'EACCES', syscall: 'xc_sharing_used_frames' });
    const noPools = fakes({
      freeCpus: () => {
        throw new XcError('xc_cpupool_freeinfo', 12, 'Cannot allocate memory');
      },
    });
    expect((await new RealHost({ ...noPools, uname }).info()).freeCpus).toBeUndefined();
  });
});

describe('RealHost.domains', () => {
  it('reads each name from xenstore and converts pages to KiB', async () => {
    const { xc, xenstore, log } = fakes();
    const doms = await new RealHost({ xc, xenstore }).domains();
    expect(log).toEqual(['read /local/domain/0/name', 'read /local/domain/5/name', 'read /local/domain/9/name']);
    expect(doms.map((d) => [d.domid, d.name])).toEqual([
      [0, 'Domain-0'],
      [5, 'guest'],
      [9, undefined],
    ]);
    expect(doms[1]).toMatchObject({ memKiB: 4000, outstandingMemKiB: 40, maxMemKiB: 8000, shutdown: true, shutdownReason: 'crash', maxVcpus: 2 });
    expect(doms[0]).toMatchObject({ running: true, shutdownReason: undefined });
  });
});

describe('RealHost.close', () => {
  it('closes libxenctrl then xenstore, once', async () => {
    const { xc, xenstore, log } = fakes();
    const host = new RealHost({ xc, xenstore });
    await host.close();
    await host.close();
    expect(log).toEqual(['xc.close', 'xs.close']);
  });
});

describe('openRealHost', () => {
  const noXen = !existsSync('/dev/xen/privcmd');
  (noXen ? it : it.skip)('fails with ERR_HOST_UNAVAILABLE naming /dev/xen/privcmd, and closes xenstore', async () => {
    const { xenstore, log } = fakes();
    await expect(openRealHost({ xenstore })).rejects.toMatchObject({
      code: 'ERR_HOST_UNAVAILABLE',
      errno: 2,
      message: expect.stringContaining('/dev/xen/privcmd is missing'),
    });
    expect(log).toEqual(['xs.close']);
  });
});
