/** `pci-devices`, `pci-check`, `pci-hide-line` through the CLI factory: on the simulated seed host and read-only on this machine. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PciIds, seedTopology } from '@xentool/pciback';
import type { SimSysfs } from '@xentool/pciback';
import { runCli } from '../cli';
import { captureContext } from '../testing/capture';
import type { OpenPciSource, PciSource } from '../pci-inventory/source';
import { openPciSource, pciSourceFromHost } from '../pci-inventory/source';
import { makePciCheckCommand } from './pci-check';
import { makePciDevicesCommand } from './pci-devices';
import { makePciHideLineCommand } from './pci-hide-line';

const ids = PciIds.load();

function simSource(sim: SimSysfs = seedTopology(), assigned = new Map<string, number>()): OpenPciSource {
  return async () => ({ sysfs: sim, dom0Usage: [...sim.dom0Usage], assigned, pciIds: ids, kind: 'sim' }) satisfies PciSource;
}

async function cli(args: string[], open: OpenPciSource = simSource()) {
  const ctx = captureContext();
  const commands = [makePciDevicesCommand(open), makePciCheckCommand(open), makePciHideLineCommand(open)];
  const code = await runCli(args, ctx, { commands });
  return { code, out: ctx.stdout.text, err: ctx.stderr.text };
}

describe('xentool pci-devices', () => {
  it('prints a table of the non-bridge devices with the verdict and the group', async () => {
    const r = await cli(['pci-devices']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const lines = r.out.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^BDF +DEVICE +DRIVER +ASSIGNABLE +GROUP$/);
    expect(lines.slice(1).map((l) => l.slice(0, 12))).toEqual([
      '0000:00:02.0',
      '0000:00:19.0',
      '0000:00:1f.2',
      '0000:00:1f.3',
      '0000:01:00.0',
      '0000:02:00.0',
      '0000:02:00.1',
      '0000:03:00.0',
      '0000:05:00.0',
      '0000:05:01.0',
    ]);
    const row = (bdf: string) => lines.find((l) => l.startsWith(bdf))!;
    expect(row('0000:01:00.0')).toMatch(/82574L Gigabit Network Connection +pciback +yes +-$/);
    expect(row('0000:00:1f.2')).toMatch(/ahci +no: bound to ahci, dom0 disk, group member not in pciback +00:1f\.2 00:1f\.3$/);
    expect(row('0000:05:01.0')).toMatch(/05:00\.0 05:01\.0$/);
  });

  it('--all adds the bridges, refused as bridges', async () => {
    const r = await cli(['pci-devices', '--all']);
    expect(r.out).toMatch(/^0000:00:00\.0 .* no: host bridge +-$/m);
    expect(r.out).toMatch(/^0000:04:00\.0 +Texas Instruments XIO2001 PCI Express-to-PCI Bridge +- +no: bridge +-$/m);
  });

  it('--json gives explicit objects with hex ids, exact 64-bit BARs, reasons and groups', async () => {
    const r = await cli(['pci-devices', '--json']);
    const list = JSON.parse(r.out) as Array<Record<string, any>>;
    const nic = list.find((d) => d.bdf === '0000:03:00.0')!;
    expect(Object.keys(nic)).toEqual([
      'bdf', 'vendor', 'device', 'subsystemVendor', 'subsystemDevice', 'class', 'revision', 'vendorName', 'deviceName', 'className',
      'kind', 'driver', 'iommuGroup', 'numaNode', 'irq', 'bars', 'msi', 'msix', 'pcie', 'flr', 'resetMethods', 'resetAvailable',
      'acs', 'siblings', 'parents', 'assignable', 'reasons', 'group',
    ]);
    // Assignable, with the quirks table's warning about the RTL8168's MSI-X window (pciback quirks.ts).
    expect(nic).toMatchObject({ vendor: '10ec', device: '8168', class: '020000', driver: 'pciback', assignable: true, group: ['0000:03:00.0'] });
    expect(nic.reasons).toEqual([{ code: 'QUIRK', severity: 'warning', message: expect.stringMatching(/^0000:03:00\.0: Realtek RTL8168: its MSI-X table/), fix: expect.stringMatching(/^source: QEMU hw\/vfio\/pci-quirks\.c/) }]);
    expect(nic.bars[1]).toEqual({ index: 1, type: 'mem', start: expect.stringMatching(/^0x40000[0-9a-f]{5}$/), end: expect.any(String), size: '0x1000', is64: true, prefetchable: false });
    expect(nic.pcie).toEqual({ portType: 'endpoint', flr: false });
    const jm = list.find((d) => d.bdf === '0000:02:00.1')!;
    expect(jm.reasons.map((x: { code: string }) => x.code)).toEqual(['NOT_PCIBACK', 'COASSIGN_GROUP', 'COASSIGN_NOT_PCIBACK', 'NO_RESET']);
  });

  it('reads what a make-assignable changed (same model, next invocation)', async () => {
    const sim = seedTopology();
    const { makeAssignable } = await import('@xentool/pciback');
    makeAssignable(sim, '0000:05:00.0');
    makeAssignable(sim, '0000:05:01.0');
    const r = await cli(['pci-devices'], simSource(sim));
    expect(r.out).toMatch(/^0000:05:00\.0 .* pciback +yes \(group\) +05:00\.0 05:01\.0$/m);
  });
});

describe('xentool pci-check', () => {
  it('prints every reason with its fix, and exits 1 when any device cannot be assigned', async () => {
    const r = await cli(['pci-check', '01:00.0', '02:00.0']);
    expect(r.code).toBe(1);
    expect(r.out).toBe(
      '0000:01:00.0 Intel Corporation 82574L Gigabit Network Connection: assignable\n' +
        '0000:02:00.0 JMicron Technology Corp. JMB363 SATA/IDE Controller: NOT assignable\n' +
        '  error   NOT_PCIBACK: 0000:02:00.0 is bound to ahci, not to pciback\n' +
        '          fix: make it assignable with `xentool pci-assignable-add 0000:02:00.0`, or hide it at boot (`xentool pci-hide-line 0000:02:00.0`)\n' +
        '  warning COASSIGN_GROUP: 0000:02:00.0 must be assigned together with 0000:02:00.1: it is a multi-function device without FLR, so its functions can only be reset together\n' +
        '          fix: assign all of 0000:02:00.0 0000:02:00.1 to the same guest\n' +
        '  error   COASSIGN_NOT_PCIBACK: 0000:02:00.1 must be co-assigned with 0000:02:00.0, but it is bound to pata_jmicron, not to pciback\n' +
        '          fix: `xentool pci-assignable-add 0000:02:00.1`\n' +
        '  warning NO_RESET: the kernel has no reset method for 0000:02:00.0 (no FLR, no usable PM reset, no bus reset): state may leak between dom0 and guests\n' +
        '          fix: assign all functions to one guest and do not move them between guests without a host reboot\n' +
        '  co-assignment group: 0000:02:00.0 0000:02:00.1\n',
    );
  });

  it('exits 0 when all devices are assignable; uses the caller\'s assignment records', async () => {
    expect((await cli(['pci-check', '0000:01:00.0', '03:00.0'])).code).toBe(0);
    const r = await cli(['pci-check', '03:00.0'], simSource(seedTopology(), new Map([['0000:03:00.0', 5]])));
    expect(r.code).toBe(1);
    expect(r.out).toContain('error   ALREADY_ASSIGNED: 0000:03:00.0 is already assigned to domain 5\n');
  });

  it('--force turns dom0 use into a warning; --json carries the same facts', async () => {
    const r = await cli(['pci-check', '--json', '--force', '00:19.0']);
    const [d] = JSON.parse(r.out) as Array<{ reasons: Array<{ code: string; severity: string }> }>;
    expect(d!.reasons).toContainEqual(expect.objectContaining({ code: 'IN_USE_BY_DOM0', severity: 'warning' }));
    const missing = await cli(['pci-check', '--json', '0000:0f:00.0']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out)).toEqual([
      { bdf: '0000:0f:00.0', assignable: false, reasons: [expect.objectContaining({ code: 'NO_DEVICE', severity: 'error' })], group: ['0000:0f:00.0'] },
    ]);
  });

  it('rejects a malformed address with exit 2 and one line', async () => {
    const r = await cli(['pci-check', '01:00']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("malformed PCI address '01:00' (expected [DDDD:]BB:DD.F)\n");
    expect(r.out).toBe('');
  });
});

describe('xentool pci-hide-line', () => {
  it('prints the seed step 11 parameter (full BDFs) and where it goes', async () => {
    const sim = seedTopology({ hidden: false });
    const r = await cli(['pci-hide-line', '01:00.0', '03:00.0'], simSource(sim));
    expect(r.code).toBe(0);
    // Hidden all the same; the one warning is the quirks table's (pciback quirks.ts).
    expect(r.err).toMatch(/^warning: 0000:03:00\.0: Realtek RTL8168: [^\n]*\n$/);
    expect(r.out.split('\n')[0]).toBe('xen-pciback.hide=(0000:01:00.0)(0000:03:00.0)');
    expect(r.out).toContain('    GRUB_CMDLINE_LINUX="... xen-pciback.hide=(0000:01:00.0)(0000:03:00.0)"\n');
    expect(r.out).toContain('    options xen-pciback hide=(0000:01:00.0)(0000:03:00.0)\n    softdep e1000e pre: xen-pciback\n    softdep r8169 pre: xen-pciback\n');
    expect(r.out).toContain('pciback.hide=(0000:01:00.0)(0000:03:00.0)');
    expect(r.out).toContain('  0000:03:00.0  Realtek Semiconductor Co., Ltd. RTL8111/8168/8411 PCI Express Gigabit Ethernet Controller\n');
  });

  it('-q prints only the parameter; warns about co-assigned devices left out', async () => {
    const r = await cli(['pci-hide-line', '-q', '05:00.0']);
    expect(r.out).toBe('xen-pciback.hide=(0000:05:00.0)\n');
    expect(r.err).toBe('warning: 0000:05:00.0 must be assigned together with 0000:05:01.0, which is not in the list: hide it too\n');
    const both = await cli(['pci-hide-line', '-q', '05:00.0', '0000:05:01.0', '05:00.0']);
    expect(both.out).toBe('xen-pciback.hide=(0000:05:00.0)(0000:05:01.0)\n');
    expect(both.err).toBe('');
  });

  it('refuses the root disk controller, bridges and unknown devices, printing each reason', async () => {
    const r = await cli(['pci-hide-line', '00:1f.2', '04:00.0', '0a:00.0', '01:00.0']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      'xentool: 0000:00:1f.2 backs a block device dom0 uses: /dev/sda1 mounted on / (move dom0 off the device first; assign it anyway only with --force)\n' +
        'xentool: 0000:04:00.0 is a bridge (pcie-to-pci-bridge): assign the devices behind it instead\n' +
        'xentool: no PCI device 0000:0a:00.0 on this host (list the devices with `xentool pci-devices`)\n' +
        'xentool: not printing a hide line: 3 problem(s) above\n',
    );
    const forced = await cli(['pci-hide-line', '-q', '--force', '00:1f.2', '00:1f.3']);
    expect(forced.code).toBe(0);
    expect(forced.out).toBe('xen-pciback.hide=(0000:00:1f.2)(0000:00:1f.3)\n');
    expect(forced.err).toContain('warning: 0000:00:1f.2 backs a block device dom0 uses: /dev/sda1 mounted on / (forced: dom0 will lose it)\n');
  });
});

describe('the commands on this machine (read-only /sys)', () => {
  const real = async (args: string[]) => cli(args, openPciSource);

  const haveLspci = (() => {
    try {
      execFileSync('lspci', ['--version'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  })();

  (haveLspci ? it : it.skip)('pci-devices --json --all lists exactly what `lspci -n -D` lists', async () => {
    const lspci = execFileSync('lspci', ['-n', '-D'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const want = lspci.split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
    const r = await real(['pci-devices', '--json', '--all']);
    expect(r.code).toBe(0);
    const got = (JSON.parse(r.out) as Array<{ bdf: string; assignable: boolean }>).map((d) => d.bdf);
    expect(got).toEqual(want);
  });

  it('reads a copied tree through --sysfs-root/--proc-root: the dom0 root disk is refused', async () => {
    // A miniature host: one NVMe controller backing /, one spare NIC; pciback not loaded.
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pci-cmd-'));
    const put = (p: string, v: string | { link: string }) => {
      const abs = path.join(root, p);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      if (typeof v === 'string') fs.writeFileSync(abs, v);
      else fs.symlinkSync(v.link, abs);
    };
    const dev = (bdf: string, vendor: string, device: string, cls: string, driver: string) => {
      const d = `sys/devices/pci0000:00/${bdf}`;
      put(`${d}/vendor`, `0x${vendor}\n`);
      put(`${d}/device`, `0x${device}\n`);
      put(`${d}/class`, `0x${cls}\n`);
      put(`${d}/revision`, '0x00\n');
      put(`${d}/resource`, '0x00000000fe000000 0x00000000fe003fff 0x0000000000140204\n');
      put(`${d}/config`, '');
      put(`sys/bus/pci/drivers/${driver}/bind`, '');
      put(`${d}/driver`, { link: `../../../bus/pci/drivers/${driver}` });
      put(`sys/bus/pci/devices/${bdf}`, { link: `../../../devices/pci0000:00/${bdf}` });
    };
    try {
      dev('0000:00:04.0', '144d', 'a808', '010802', 'nvme');
      dev('0000:00:05.0', '8086', '1533', '020000', 'igb');
      put('sys/devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1/x', '');
      put('sys/class/block/nvme0n1p1', { link: '../../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1/nvme0n1p1' });
      put('proc/mounts', '/dev/nvme0n1p1 / ext4 rw 0 0\n');
      const r = await real(['pci-check', '--sysfs-root', path.join(root, 'sys'), '--proc-root', path.join(root, 'proc'), '00:04.0', '00:05.0']);
      expect(r.code).toBe(1);
      expect(r.out).toContain('0000:00:04.0 Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983: NOT assignable\n');
      expect(r.out).toContain('  error   IN_USE_BY_DOM0: 0000:00:04.0 backs a block device dom0 uses: /dev/nvme0n1p1 mounted on /\n');
      expect(r.out).toContain('  error   PCIBACK_NOT_LOADED: the xen-pciback driver is not loaded (no /sys/bus/pci/drivers/pciback)\n');
      expect(r.out).toContain('  error   NOT_PCIBACK: 0000:00:05.0 is bound to igb, not to pciback\n');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('pciSourceFromHost', () => {
  it('reads assignments from /libxl/pci/<DDDD-BB-DD-F>/domid, as xl records them', async () => {
    const sim = seedTopology();
    const tree: Record<string, string> = { '/libxl/pci/0000-03-00-0/domid': '3', '/libxl/pci/0000-01-00-0/driver_path': '/sys/bus/pci/drivers/e1000e' };
    const xs = {
      directory: async (p: string) => [...new Set(Object.keys(tree).filter((k) => k.startsWith(p + '/')).map((k) => k.slice(p.length + 1).split('/')[0]!))],
      read: async (p: string) => tree[p],
    };
    const src = await pciSourceFromHost({ kind: 'sim', sysfs: sim, dom0Usage: () => sim.dom0Usage, xs }, ids);
    expect([...src.assigned]).toEqual([['0000:03:00.0', 3]]);
    const r = await cli(['pci-check', '03:00.0', '01:00.0'], async () => src);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ALREADY_ASSIGNED: 0000:03:00.0 is already assigned to domain 3');
    expect(r.out).toContain('0000:01:00.0 Intel Corporation 82574L Gigabit Network Connection: assignable');
  });
});

describe('openPciSource', () => {
  const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pci-src-'));

  it('--sim reads the simulated host\'s saved sysfs (state.json `sysfs`), so earlier invocations\' bindings show', async () => {
    const dir = tmp();
    try {
      const sim = seedTopology();
      const { release } = await import('@xentool/pciback');
      release(sim, '0000:01:00.0', { rebindTo: '/sys/bus/pci/drivers/e1000e' });
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ format: 'xentool-sim-host/1', sysfs: sim.toJSON() }));
      const r = await cli(['--sim', '--sim-dir', dir, 'pci-devices'], openPciSource);
      expect(r.out).toMatch(/^0000:01:00\.0 .* e1000e +no: bound to e1000e +-$/m);
      // Without a saved host: the seed document's host, where 01:00.0 is hidden.
      const fresh = await cli(['--sim', 'pci-devices'], openPciSource);
      expect(fresh.out).toMatch(/^0000:01:00\.0 .* pciback +yes +-$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a corrupt state file is one line with ERR_SIM_STATE', async () => {
    const dir = tmp();
    try {
      fs.writeFileSync(path.join(dir, 'state.json'), '{"sysfs": ');
      const r = await cli(['--sim', '--sim-dir', dir, 'pci-devices'], openPciSource);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^\S+state\.json: the simulated host's state is corrupt \(.*\)\n$/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a machine without PCI devices says so on stderr and lists nothing', async () => {
    const dir = tmp();
    try {
      fs.mkdirSync(path.join(dir, 'sys'));
      const r = await cli(['pci-devices', '--sysfs-root', path.join(dir, 'sys'), '--proc-root', path.join(dir, 'proc')], openPciSource);
      expect([r.code, r.out, r.err]).toEqual([0, '', 'xentool: no PCI devices (other than bridges; --all lists those)\n']);
      const j = await cli(['pci-devices', '--json', '--sysfs-root', path.join(dir, 'sys')], openPciSource);
      expect(j.out).toBe('[]\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
