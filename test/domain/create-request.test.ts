/** libxl 4.17's defaults as resolveCreate fills them, and planCreate's refusals (pure). */
import { parseConfig } from '../../packages/xentool/src/config/parse-config';
import { domainConfigFromFile } from '../../packages/xentool/src/config/domain-config';
import { resolveCreate } from '../../packages/xentool/src/domain/create-request';
import { planCreate, type CreateObservation } from '../../packages/xentool/src/domain/plan-create';
import { e820FromJson, e820HostMap, type E820Json } from '../../packages/xentool/src/domain/e820-host';
import { SIM_MACHINE_MEMORY_MAP } from '../../packages/xentool/src/host/sim/sim-hypervisor';
import { HVMLOADER, QEMU_XEN, SEABIOS } from '../../packages/xentool/src/domain/hvm-options';

const UUID = '11111111-2222-4333-8444-555555555555';
const req = (text: string, paused = false) => resolveCreate(domainConfigFromFile(parseConfig(text, 'g.cfg')), { uuid: UUID, paused });
const HOST_MAP = e820FromJson([...SIM_MACHINE_MEMORY_MAP]);
const obs = (over: Partial<CreateObservation> = {}): CreateObservation => ({
  names: ['Domain-0'],
  freeKiB: 1024 * 1024,
  caps: { pv: true, hvm: true, directio: true, gnttabV1: true, gnttabV2: false },
  files: { '/k': true },
  ...over,
});

describe('resolveCreate', () => {
  it('gives 32 MiB when neither memory nor maxmem is set, and maxmem = memory otherwise', () => {
    expect(req('name="g"\nkernel="/k"\n')).toMatchObject({ targetMemKiB: 32 * 1024, maxMemKiB: 32 * 1024, vcpus: 1, maxVcpus: 1, uuid: UUID });
    expect(req('name="g"\nkernel="/k"\nmemory=256\n')).toMatchObject({ targetMemKiB: 256 * 1024, maxMemKiB: 256 * 1024 });
    expect(req('name="g"\nkernel="/k"\nmemory=256\nmaxmem=512\n')).toMatchObject({ targetMemKiB: 256 * 1024, maxMemKiB: 512 * 1024 });
  });

  it('turns passthrough on for PV guests with devices, as sync_pt', () => {
    expect(req('name="g"\ntype="pv"\nkernel="/k"\npci=["00:04.0"]\n').passthrough).toBe('sync_pt');
    expect(req('name="g"\ntype="pv"\nkernel="/k"\npassthrough="enabled"\n').passthrough).toBe('sync_pt');
    expect(req('name="g"\ntype="pv"\nkernel="/k"\n').passthrough).toBe('disabled');
  });

  it('refuses contradictions with a coded error', () => {
    expect(() => req('name="g"\ntype="pv"\nkernel="/k"\npassthrough="disabled"\npci=["00:04.0"]\n')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_VALUE' }));
    expect(() => req('name="g"\ntype="pv"\nkernel="/k"\npassthrough="share_pt"\n')).toThrow(/share_pt.*not supported for PV/);
    expect(() => req('name="g"\nkernel="/k"\nmemory=512\nmaxmem=256\n')).toThrow(/maxmem \(256 MiB\) is smaller than memory \(512 MiB\)/);
  });

  it('keeps a uuid the config gives', () => {
    expect(req('name="g"\nkernel="/k"\nuuid="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"\n').uuid).toBe('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
  });
});

describe('planCreate', () => {
  it('asks setmaxmem for target + 1 MiB and the grant version the host offers', () => {
    const p = planCreate(req('name="g"\ntype="pv"\nkernel="/k"\nmemory=64\n'), obs());
    expect(p.steps.find((s) => s.op === 'domain.build-pre')).toMatchObject({ maxMemKiB: 64 * 1024 + 1024, memmapLimitKiB: 64 * 1024 });
    expect(p.steps[0]).toMatchObject({ op: 'domain.create', maxGrantVersion: 1, passthrough: 'disabled' });
    expect(planCreate(req('name="g"\ntype="pv"\nkernel="/k"\n'), obs({ caps: { ...obs().caps, gnttabV2: true } })).steps[0]).toMatchObject({ maxGrantVersion: 2 });
  });

  it('puts PCI attach steps after the console and before the unpause', () => {
    const ops = planCreate(req('name="g"\ntype="pv"\nkernel="/k"\npci=["00:04.0","00:05.0"]\n'), obs({ machineMemoryMap: HOST_MAP })).steps.map((s) => s.op);
    expect(ops.slice(ops.indexOf('console.add'))).toEqual(['console.add', 'pci.attach', 'pci.attach', 'libxl.store-config', 'domain.unpause', 'monitor.start']);
  });

  describe('e820_host', () => {
    const e820Step = (text: string, o = obs({ machineMemoryMap: HOST_MAP })) => planCreate(req(text), o).steps.find((s) => s.op === 'domain.e820-host');
    const PV = 'name="g"\ntype="pv"\nkernel="/k"\nmemory=128\nmaxmem=256\n';

    it('a PV guest with pci= gets the host-derived map right after build-pre, for its memory and maxmem', () => {
      const p = planCreate(req(`${PV}pci=["00:04.0"]\n`), obs({ machineMemoryMap: HOST_MAP }));
      const ops = p.steps.map((s) => s.op);
      expect(ops.slice(ops.indexOf('domain.build-pre'), ops.indexOf('domain.build-pre') + 3)).toEqual(['domain.build-pre', 'domain.e820-host', 'domain.build-pv']);
      const step = p.steps.find((s) => s.op === 'domain.e820-host')!;
      expect(e820FromJson(step.map as E820Json[])).toEqual(e820HostMap(HOST_MAP, { targetKiB: 128 * 1024, maxKiB: 256 * 1024 }));
    });

    it('e820_host=1 without devices turns it on; e820_host=0 cannot turn it off while pci= lists devices (xl 4.17 forces it)', () => {
      expect(e820Step(`${PV}e820_host=1\n`)).toBeDefined();
      expect(e820Step(`${PV}e820_host=0\npci=["00:04.0"]\n`)).toBeDefined();
      expect(e820Step(PV)).toBeUndefined();
      expect(e820Step(`${PV}e820_host=0\n`)).toBeUndefined();
    });

    it('HVM guests never get it (libxl reads e820_host for PV only)', () => {
      const hvm = 'name="g"\ntype="hvm"\nmemory=128\npci=["00:04.0"]\ne820_host=1\n';
      const r = resolveCreate(domainConfigFromFile(parseConfig(hvm, 'g.cfg')), { uuid: UUID, paused: false });
      expect(r.e820Host).toBe(false);
    });

    it('a host map libxl cannot use fails the plan with ERR_E820_HOST, before anything is created', () => {
      expect(() => e820Step(`${PV}e820_host=1\n`, obs({ machineMemoryMap: [] }))).toThrow(expect.objectContaining({ code: 'ERR_E820_HOST' }));
    });
  });

  it.each([
    ['PVH (not yet)', 'name="g"\ntype="pvh"\nkernel="/k"\n', obs(), 'ERR_CREATE_UNSUPPORTED'],
    ['HVM on a host without HVM', 'name="g"\ntype="hvm"\n', obs({ caps: { ...obs().caps, hvm: false } }), 'ERR_CREATE_UNSUPPORTED'],
    ['HVM without hvmloader', 'name="g"\ntype="hvm"\n', obs(), 'ERR_CONFIG_FILE'],
    ['no IOMMU for passthrough', 'name="g"\ntype="pv"\nkernel="/k"\npci=["00:04.0"]\n', obs({ caps: { ...obs().caps, directio: false } }), 'ERR_NO_IOMMU'],
    ['a host without PV', 'name="g"\ntype="pv"\nkernel="/k"\n', obs({ caps: { ...obs().caps, pv: false } }), 'ERR_CREATE_UNSUPPORTED'],
    ['memory above free', 'name="g"\ntype="pv"\nkernel="/k"\nmemory=2048\n', obs(), 'ERR_CREATE_NO_MEMORY'],
    ['an unreadable kernel', 'name="g"\ntype="pv"\nkernel="/k2"\n', obs(), 'ERR_CONFIG_FILE'],
    ['a name in use', 'name="Domain-0"\ntype="pv"\nkernel="/k"\n', obs(), 'ERR_DOMAIN_EXISTS'],
    ['tsc_mode="native_paravirt" (libxl: ERROR_FEATURE_REMOVED)', 'name="g"\ntype="pv"\nkernel="/k"\ntsc_mode="native_paravirt"\n', obs(), 'ERR_FEATURE_REMOVED'],
    ['tsc_mode=3 on HVM', 'name="g"\ntype="hvm"\ntsc_mode=3\n', obs({ files: { [HVMLOADER]: true, [SEABIOS]: true, [QEMU_XEN]: true } }), 'ERR_FEATURE_REMOVED'],
  ])('refuses %s', (_what, text, o, code) => {
    expect(() => planCreate(req(text), o)).toThrow(expect.objectContaining({ code }));
  });
});
