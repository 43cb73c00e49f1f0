/**
 * 50 `xentool pci-attach`/`pci-detach` processes started at once over two devices and three
 * domains (PV, PV, HVM) on one simulated host. They take turns on the host lock; each either
 * succeeds or is refused with one clear line. At the end no device is in two domains, the
 * successful attaches and detaches of each device add up to where it is, the records agree with
 * the hypervisor, and pci-audit is clean.
 */
import { SimBench } from '../pci/sim-helpers';
import { buildCli, cloneBench, inconsistencies, runChild, type ChildResult } from './crash-helpers';

jest.setTimeout(300_000);

let b: SimBench;
beforeAll(async () => {
  buildCli();
  const setup = new SimBench();
  await setup.ok(['sim-init']);
  await setup.ok(['sim-create', setup.config('pv.cfg', 'name = "pv"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  await setup.ok(['sim-create', setup.config('pv2.cfg', 'name = "pv2"\ntype = "pv"\nmemory = 256\npassthrough = "enabled"\n')]);
  await setup.ok(['sim-create', setup.config('hvm.cfg', 'name = "hvm"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
  await setup.ok(['pci-attach', 'pv', '01:00.0']);
  b = cloneBench(setup);
  setup.cleanup();
});
afterAll(() => b?.cleanup());

const DEVICES = ['0000:01:00.0', '0000:03:00.0'];
const DOMAINS = ['pv', 'pv2', 'hvm'];

/** The refusals a losing invocation may give; anything else (a trace, a crash) fails the test. */
const REFUSALS = [
  /^PCI device [0-9a-f:.]+ is not assignable: it is attached to domain \d+$/,
  /^PCI device [0-9a-f:.]+ is not attached to domain \d+$/,
  /^PCI device [0-9a-f:.]+ is already attached to domain \d+$/,
  // On a loaded machine (2 cores shared with other suites) the last of 50 may wait longer than
  // the simulated host's 30 s lock timeout: giving up with this line, having changed nothing,
  // is the specified behaviour.
  /^gave up after 30 s waiting for the simulated host lock \(.*\), held by process \d+ \(xentool --sim\)$/,
];

it('never gives one device to two domains, and ends consistent', async () => {
  const cmds = [...Array(50).keys()].map((i) => {
    const dev = DEVICES[(i >> 1) % 2]!;
    const dom = DOMAINS[(i >> 2) % 3]!;
    return i % 2 === 0 ? ['pci-attach', dom, dev] : ['pci-detach', dom, dev];
  });
  const results: ChildResult[] = await Promise.all(cmds.map((c) => runChild(b, c)));

  const waited = results.filter((r) => /^waiting for the simulated host, in use by process \d+\.\.\.$/m.test(r.stderr)).length;
  expect(waited).toBeGreaterThan(0);
  const net = new Map(DEVICES.map((d) => [d, 0]));
  results.forEach((r, i) => {
    const [op, , dev] = cmds[i]!;
    expect({ i, signal: r.signal, code: r.code === 0 || r.code === 1 }).toEqual({ i, signal: null, code: true });
    const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('waiting for the simulated host'));
    if (r.code === 0) {
      expect({ i, lines }).toEqual({ i, lines: [] });
      net.set(dev!, net.get(dev!)! + (op === 'pci-attach' ? 1 : -1));
    } else {
      expect({ i, lines }).toEqual({ i, lines: [expect.stringMatching(new RegExp(REFUSALS.map((re) => re.source).join('|')))] });
    }
  });
  // Not vacuous: the lock let both kinds of operation through.
  const ok = (op: string) => results.filter((r, i) => r.code === 0 && cmds[i]![0] === op).length;
  expect(ok('pci-attach')).toBeGreaterThan(0);
  expect(ok('pci-attach') + ok('pci-detach')).toBeGreaterThan(1);
  // 01:00.0 started attached to pv.
  net.set('0000:01:00.0', net.get('0000:01:00.0')! + 1);

  const owners: Record<string, string[]> = {};
  for (const dom of DOMAINS) {
    const list = (await b.ok(['pci-list', dom])).stdout;
    for (const dev of DEVICES) if (list.includes(dev)) (owners[dev] ??= []).push(dom);
  }
  for (const dev of DEVICES) {
    const held = owners[dev] ?? [];
    expect({ dev, domains: held.length <= 1, net: net.get(dev) }).toEqual({ dev, domains: true, net: held.length });
  }
  expect(inconsistencies(b)).toEqual([]);
  const audit = await b.run(['pci-audit']);
  expect({ code: audit.code, out: audit.stdout }).toEqual({ code: 0, out: expect.stringMatching(/^pci-audit: clean /) });
});
