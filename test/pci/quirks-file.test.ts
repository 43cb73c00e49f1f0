/**
 * The operator's PCI quirks file (XENTOOL_PCI_QUIRKS, default /etc/xentool/pci-quirks.json) on the
 * simulated seed host: its entries warn, naming their reason, in pci-check and
 * pci-assignable-add without refusing the device; a malformed or missing file stops the command
 * with one `FILE:LINE:COL: ...` line and exit 1 before anything changes.
 */
import { join } from 'node:path';
import { DEFAULT_PCI_QUIRKS_FILE, pciQuirksFile } from '../../packages/xentool/src/config';
import { SimBench } from './sim-helpers';

let b: SimBench;
let good: string;
/** pci-check and pci-devices read the simulated sysfs only when told --sim (they work without a host). */
const sim = () => ['--sim', '--sim-dir', b.state];
beforeAll(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  good = b.config(
    'pci-quirks.json',
    '{\n  // what this site found out\n  "quirks": [\n    { "kind": "bar-internal-pointers", "vendor": "8086", "device": "10d3",\n      "reason": "its driver hands the card pointers into BAR1", "source": "site note 7" }\n  ]\n}\n',
  );
});
afterAll(() => b.cleanup());

it('names the file from XENTOOL_PCI_QUIRKS (relative to the cwd), else the default', () => {
  expect(pciQuirksFile({}, '/x')).toEqual({ path: DEFAULT_PCI_QUIRKS_FILE, explicit: false });
  expect(pciQuirksFile({ XENTOOL_PCI_QUIRKS: 'q.json' }, '/etc/site')).toEqual({ path: '/etc/site/q.json', explicit: true });
});

it('pci-check shows an operator entry as a warning with its reason and source, and still passes the device', async () => {
  const r = await b.run([...sim(), 'pci-check', '01:00.0'], { XENTOOL_PCI_QUIRKS: good });
  expect(r).toEqual({
    code: 0,
    stdout:
      '0000:01:00.0 Intel Corporation 82574L Gigabit Network Connection: assignable\n' +
      '  warning QUIRK: 0000:01:00.0: its driver hands the card pointers into BAR1\n' +
      '          fix: source: site note 7\n',
    stderr: '',
  });
  // Without the file, the same device has nothing to say.
  expect((await b.run([...sim(), 'pci-check', '01:00.0'])).stdout).toBe('0000:01:00.0 Intel Corporation 82574L Gigabit Network Connection: assignable\n');
});

it('pci-assignable-add prints the warning and makes the device assignable all the same', async () => {
  await b.ok(['pci-assignable-remove', '-r', '01:00.0']);
  const r = await b.run(['pci-assignable-add', '01:00.0'], { XENTOOL_PCI_QUIRKS: good });
  expect(r).toEqual({ code: 0, stdout: '', stderr: 'warning: 0000:01:00.0: its driver hands the card pointers into BAR1\n' });
  expect((await b.ok(['pci-assignable-list'])).stdout).toContain('0000:01:00.0');
});

it('a built-in entry warns on the seed host too: its RTL8168 at 03:00.0', async () => {
  const r = await b.run([...sim(), 'pci-check', '03:00.0']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^ {2}warning QUIRK: 0000:03:00\.0: Realtek RTL8168: its MSI-X table can also be reached through a register window in BAR2/m);
});

it('a malformed file is one line naming file, line and column, exit 1, and nothing changes', async () => {
  const bad = b.config('bad.json', '{\n  "quirks": [\n    { "kind": "other", "vendor": "8086" "reason": "x" }\n  ]\n}\n');
  const before = b.snapshot();
  const check = await b.run([...sim(), 'pci-check', '01:00.0'], { XENTOOL_PCI_QUIRKS: bad });
  expect(check).toEqual({ code: 1, stdout: '', stderr: `${bad}:3:41: not valid JSON (',' was expected)\n` });
  const add = await b.run(['pci-assignable-add', '05:00.0'], { XENTOOL_PCI_QUIRKS: bad });
  expect(add).toEqual({ code: 1, stdout: '', stderr: `${bad}:3:41: not valid JSON (',' was expected)\n` });
  const wrong = b.config('wrong.json', '{ "quirks": [ { "kind": "other", "vendor": "8086", "device": "10d3x", "reason": "x" } ] }');
  expect((await b.run([...sim(), 'pci-devices'], { XENTOOL_PCI_QUIRKS: wrong })).stderr).toBe(
    `${wrong}:1:62: "device" must be hexadecimal, at most 4 digits (as lspci -n prints it), not "10d3x"\n`,
  );
  expect(b.snapshot()).toEqual(before);
});

it('a file named by XENTOOL_PCI_QUIRKS that is not there is an error; the default one may be absent', async () => {
  const missing = join(b.dir, 'nope.json');
  expect(await b.run([...sim(), 'pci-check', '01:00.0'], { XENTOOL_PCI_QUIRKS: missing })).toEqual({
    code: 1,
    stdout: '',
    stderr: `${missing}: cannot read the PCI quirks file (ENOENT)\n`,
  });
});
