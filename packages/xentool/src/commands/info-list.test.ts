/** `xentool info` and `xentool list` through the CLI factory, with a fake Host. */
import { runCli } from '../cli';
import type { DomainRecord, Host, HostInfo } from '../host/host';
import { captureContext } from '../testing/capture';
import { makeInfoCommand } from './info';
import { makeListCommand } from './list';

const info: HostInfo = {
  hostname: 'dom0',
  release: '6.1.0',
  kernelVersion: '#1 SMP',
  machine: 'x86_64',
  nrCpus: 4,
  maxCpuId: 3,
  nrNodes: 1,
  coresPerSocket: 4,
  threadsPerCore: 1,
  cpuKhz: 2_000_000,
  hwCaps: [0, 0, 0, 0, 0, 0, 0, 0],
  caps: { pv: true, hvm: true, directio: true, hap: true, shadow: true, iommuHapPtShare: false, vmtrace: false, vpmu: false, gnttabV1: true, gnttabV2: false },
  totalPages: 262_144,
  freePages: 131_072,
  outstandingPages: 0,
  sharingFreedPages: 0,
  sharingUsedFrames: 0,
  freeCpus: 0,
  xenMajor: 4,
  xenMinor: 17,
  xenExtra: '.5',
  xenCaps: 'xen-3.0-x86_64',
  xenScheduler: 'credit2',
  xenPagesize: 4096,
  virtStart: 0xffff800000000000n,
  xenChangeset: '',
  xenCommandline: '',
  ccCompiler: 'gcc',
  ccCompileBy: 'b',
  ccCompileDomain: 'd',
  ccCompileDate: 'today',
  buildId: '',
};

const rec = (domid: number, name: string | undefined, over: Partial<DomainRecord> = {}): DomainRecord => ({
  domid,
  name,
  uuid: '00000000-0000-0000-0000-000000000000',
  memKiB: 1024 * 512,
  maxMemKiB: 1024 * 512,
  vcpus: 1,
  maxVcpus: 1,
  cpuTimeNs: 1_500_000_000n,
  hvm: false,
  dying: false,
  shutdown: false,
  paused: false,
  blocked: true,
  running: false,
  ...over,
});

function fakeHost() {
  const events: string[] = [];
  const host: Host = {
    kind: 'sim',
    info: async () => info,
    domains: async () => [rec(0, 'Domain-0', { running: true, blocked: false }), rec(4, 'web')],
    close: async () => void events.push('close'),
  };
  const open = async () => {
    events.push('open');
    return host;
  };
  return { open, events };
}

async function cli(args: string[]) {
  const { open, events } = fakeHost();
  const ctx = captureContext();
  const code = await runCli(args, ctx, { commands: [makeInfoCommand(open), makeListCommand(open)] });
  return { code, out: ctx.stdout.text, err: ctx.stderr.text, events };
}

describe('xentool info', () => {
  it('prints xl info and closes the host', async () => {
    const r = await cli(['info']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out.startsWith('host                   : dom0\nrelease                : 6.1.0\n')).toBe(true);
    expect(r.out).toContain('total_memory           : 1024\nfree_memory            : 512\n');
    expect(r.out.endsWith('xend_config_format     : 4\n')).toBe(true);
    expect(r.events).toEqual(['open', 'close']);
  });

  it('prints only the values of the fields a name selects', async () => {
    expect((await cli(['info', 'xen_version'])).out).toBe('4.17.5\n');
    expect((await cli(['info', 'nr_'])).out).toBe('4\n1\n');
  });
});

describe('xentool list', () => {
  it('prints the xl list table', async () => {
    const r = await cli(['list']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      'Name                                        ID   Mem VCPUs\tState\tTime(s)\n' +
        'Domain-0                                     0   512     1     r-----       1.5\n' +
        'web                                          4   512     1     -b----       1.5\n',
    );
    expect(r.events).toEqual(['open', 'close']);
  });

  it('prints JSON with -l and with --json', async () => {
    for (const flag of ['-l', '--long', '--json']) {
      const r = await cli(['list', flag]);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.out) as { name: string }[]).map((d) => d.name)).toEqual(['Domain-0', 'web']);
    }
  });

  it('lists one domain by name or id', async () => {
    expect((await cli(['list', 'web'])).out.split('\n')[1]).toMatch(/^web +4 /);
    expect((await cli(['list', '0', '-l'])).out).toContain('"name": "Domain-0"');
  });

  it('fails like xl for an unknown domain, in one line, and still closes the host', async () => {
    const byId = await cli(['list', '7']);
    expect(byId).toMatchObject({ code: 1, out: '', err: "Error: Domain '7' does not exist.\n" });
    expect(byId.events).toEqual(['open', 'close']);
    const byName = await cli(['list', 'nosuch']);
    expect(byName).toMatchObject({ code: 1, out: '', err: 'nosuch is an invalid domain identifier (rc=-6)\n' });
  });
});

describe('when the host cannot be opened', () => {
  it('prints the coded error as one line, exit 1', async () => {
    const open = async () => {
      throw Object.assign(new Error('no Xen hypervisor interface: /dev/xen/privcmd is missing'), { code: 'ERR_HOST_UNAVAILABLE' });
    };
    const ctx = captureContext();
    expect(await runCli(['list'], ctx, { commands: [makeListCommand(open)] })).toBe(1);
    expect(ctx.stderr.text).toBe('no Xen hypervisor interface: /dev/xen/privcmd is missing\n');
  });
});
