/**
 * The real-Xen driver's plumbing, with a stand-in VM that runs the batch script in a local shell:
 * every command's stdout, stderr and exit code come back byte for byte and in order, arguments
 * survive the shell quoting, and guestDeviceCount reads the newest console report.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenVmDriver, type VmLike } from './xen-vm-driver';

let share: string;
let console = '';

const vm = (): VmLike => ({
  share,
  guestConsole: () => console,
  exec: (script) =>
    new Promise((resolve) => {
      const started = Date.now();
      execFile('sh', ['-c', script], (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ stdout, stderr, code, ms: Date.now() - started });
      });
    }),
});

beforeEach(() => {
  share = mkdtempSync(join(tmpdir(), 'xentool-c15-'));
  console = '';
});
afterEach(() => rmSync(share, { recursive: true, force: true }));

test('a batch returns each command outcome in order, arguments intact', async () => {
  const d = new XenVmDriver(vm(), {
    // Stand-ins for the two front ends: one prints its arguments, one fails on stderr.
    xentool: "printf '[%s]'",
    xm: "sh -c 'printf \"no %s\\n\" \"$1\" >&2; exit 3' xm",
    guests: ['g1'],
    timeoutS: 30,
    shareInDom0: share,
  });
  const outs = await d.batch([
    { xentool: ['pci-attach', "it's", 'a b', '$HOME', ''] },
    { xm: ['pci-list'] },
    { xentool: ['x'] },
  ]);
  expect(outs).toEqual([
    { stdout: "[pci-attach][it's][a b][$HOME][]", stderr: '', code: 0 },
    { stdout: '', stderr: 'no pci-list\n', code: 3 },
    { stdout: '[x]', stderr: '', code: 0 },
  ]);
});

test('driverOf is the basename of the driver link, empty for none', async () => {
  const d = new XenVmDriver(vm(), { xentool: 'true', xm: 'true', guests: [], timeoutS: 30, shareInDom0: share });
  // No such device on this machine: no link, so no driver.
  expect(await d.batch([{ driverOf: '0000:ff:1f.7' }])).toEqual([{ stdout: '', stderr: '', code: 0 }]);
});

test("guestDeviceCount: the newest complete report's device count", async () => {
  const d = new XenVmDriver(vm(), { xentool: 'true', xm: 'true', guests: [], timeoutS: 30, shareInDom0: share });
  console = [
    'xenvm-guest: pci-begin 1',
    'xenvm-guest: pci-end 1 count=0',
    'xenvm-guest: pci-begin 2',
    'xenvm-guest: pci 0000:00:00.0 1234:11e8 class=0x00ff00 driver=none',
    'xenvm-guest: pci 0000:00:01.0 1b36:0005 class=0x00ff00 driver=none',
    'xenvm-guest: pci-end 2 count=2',
    // Incomplete: not counted.
    'xenvm-guest: pci-begin 3',
  ].join('\n');
  expect(await d.guestDeviceCount('g', 2, 0)).toBe(2);
  expect(await d.guestDeviceCount('g', 0, 0)).toBe(2);
});
