/**
 * Recorded on real Xen 4.17.7 (Debian, the test/xen VM): fixtures/probe.json is what the
 * bindings returned in dom0 (test/libxc/dom0-probe.js json), taken between two `xl info` runs
 * that printed identical text (fixtures/xl-info.txt), and `xl list` right after
 * (fixtures/xl-list.txt). Replaying the bindings' results through RealHost and the formatters
 * must give xl's bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainInfo, PhysInfo, XenVersion } from '@xentool/libxc-bindings';
import { RealHost } from '../../packages/xentool/src/host/real/real-host';
import { formatXlInfo } from '../../packages/xentool/src/format/xl-info';
import { formatXlList } from '../../packages/xentool/src/format/xl-list';

const dir = join(__dirname, 'fixtures');
const BIGINT_FIELDS = new Set(['maxMfn', 'virtStart', 'sharedInfoFrame', 'cpuTimeNs']);
const probe = JSON.parse(readFileSync(join(dir, 'probe.json'), 'utf8'), (k, v: unknown) =>
  BIGINT_FIELDS.has(k) && typeof v === 'string' ? BigInt(v) : v,
) as {
  physinfo: PhysInfo;
  version: XenVersion;
  scheduler: string;
  freeCpus: number[];
  domains: DomainInfo[];
  sharingFreedPages: number;
  sharingUsedFrames: number;
  pauseMissing: { code: string; errno: number };
};
const xlInfo = readFileSync(join(dir, 'xl-info.txt'), 'utf8');
const xlList = readFileSync(join(dir, 'xl-list.txt'), 'utf8');

function host(): RealHost {
  const value = (name: string) => xlInfo.split('\n').find((l) => l.startsWith(`${name} `))!.replace(/^[^:]*: /, '');
  return new RealHost({
    xc: {
      physinfo: () => probe.physinfo,
      version: () => probe.version,
      schedulerName: () => probe.scheduler,
      sharingFreedPages: () => probe.sharingFreedPages,
      sharingUsedFrames: () => probe.sharingUsedFrames,
      freeCpus: () => probe.freeCpus,
      listDomains: () => probe.domains,
      close: () => undefined,
    },
    xenstore: { read: async (p) => (p === '/local/domain/0/name' ? 'Domain-0' : undefined), close: async () => undefined },
    // dom0's uname is not something the bindings read; take it from the recording.
    uname: () => ({ hostname: value('host'), release: value('release'), version: value('version'), machine: value('machine') }),
  });
}

describe('replay of a real Xen 4.17.7 dom0', () => {
  it('xl info, byte for byte', async () => {
    expect(formatXlInfo(await host().info())).toBe(xlInfo);
  });

  it('xl list, byte for byte but the Time(s) column (dom0 kept running between the two reads)', async () => {
    const strip = (t: string) => t.replace(/ +[0-9.]+$/gm, '');
    expect(strip(formatXlList(await host().domains()))).toBe(strip(xlList));
  });

  it('real dom0 flags carry all-ones in the shutdown-code bits; they are ignored while not shut down', () => {
    const dom0 = probe.domains[0]!;
    expect(dom0.flags >>> 16).toBe(0xffff);
    expect(dom0).toMatchObject({ running: true, shutdown: false });
    expect(dom0.shutdownReason).toBeUndefined();
  });

  it('a domctl on a missing domain failed ESRCH', () => {
    expect(probe.pauseMissing).toMatchObject({ code: 'ESRCH', errno: 3 });
  });
});
