import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { readInventory, readDevice, parseResource } from './inventory';
import { PciIds } from './pci-ids';
import { Sysfs } from './sysfs';
import type { SysfsFs } from './sysfs';
import { seedTopology } from './topology';
import { detectDom0Usage } from './dom0-usage';

/** The real /sys, with writes made impossible: these tests must never change the machine. */
function readOnly(inner: SysfsFs): SysfsFs & { writes: number } {
  const ro = Object.create(inner) as SysfsFs & { writes: number };
  ro.writes = 0;
  ro.writeFile = () => {
    ro.writes++;
    throw new Error('write attempted on the real /sys');
  };
  return ro;
}

const haveLspci = (() => {
  try {
    execFileSync('lspci', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

describe('inventory against this machine\'s real /sys (read-only)', () => {
  const sys = readOnly(new Sysfs({ root: '/sys' }));
  const ids = PciIds.load();

  (haveLspci ? it : it.skip)('lists exactly the BDFs, ids, classes and revisions that `lspci -n -D` lists', () => {
    const out = execFileSync('lspci', ['-n', '-D'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const want = out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(\S+) ([0-9a-f]{4}): ([0-9a-f]{4}):([0-9a-f]{4})(?: \(rev ([0-9a-f]{2})\))?/.exec(l);
        if (!m) throw new Error(`unexpected lspci line ${l}`);
        return `${m[1]} ${m[2]} ${m[3]}:${m[4]} rev ${m[5] ?? '00'}`;
      });
    const inv = readInventory(sys, { pciIds: ids });
    const got = inv.map(
      (d) =>
        `${d.bdf} ${(d.classCode >> 8).toString(16).padStart(4, '0')} ${d.vendorId.toString(16).padStart(4, '0')}:${d.deviceId
          .toString(16)
          .padStart(4, '0')} rev ${d.revision.toString(16).padStart(2, '0')}`,
    );
    expect(got).toEqual(want);
    // Meaningful either way: with no PCI devices both lists are empty, and that is what we compare.
    expect(inv.length).toBe(fs.existsSync('/sys/bus/pci/devices') ? fs.readdirSync('/sys/bus/pci/devices').length : 0);
    expect(sys.writes).toBe(0);
  });

  (haveLspci ? it : it.skip)('names devices as `lspci` does and reports the kernel driver as `lspci -k` does', () => {
    const inv = readInventory(sys, { pciIds: ids });
    for (const d of inv) {
      const text = execFileSync('lspci', ['-k', '-s', d.bdf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (d.deviceName) expect(text).toContain(d.deviceName);
      const m = /Kernel driver in use: (\S+)/.exec(text);
      expect(d.driver).toBe(m ? m[1] : null);
    }
  });

  it('agrees with the kernel\'s own resource file and finds every parent bridge by path', () => {
    for (const d of readInventory(sys)) {
      const raw = fs.readFileSync(`/sys/bus/pci/devices/${d.bdf}/resource`, 'utf8').split('\n').slice(0, 7);
      const nonzero = raw.filter((l) => l.trim() && !/^0x0+ 0x0+ /.test(l));
      expect(d.bars).toHaveLength(nonzero.length);
      const real = fs.realpathSync(`/sys/bus/pci/devices/${d.bdf}`);
      expect(real.endsWith([...d.parents, d.bdf].join('/'))).toBe(true);
    }
  });

  it('finds the root file system\'s controller when it sits on PCI', () => {
    const usage = detectDom0Usage(sys, new Sysfs({ root: '/proc' }));
    const root = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[1] === '/' && f[0]!.startsWith('/dev/'));
    if (root) {
      const name = root[0]!.slice(5);
      const real = fs.existsSync(`/sys/class/block/${name}`) ? fs.realpathSync(`/sys/class/block/${name}`) : '';
      const bdfs = real.split('/').filter((s) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/.test(s));
      if (bdfs.length > 0) expect(usage).toContainEqual({ bdf: bdfs[bdfs.length - 1], kind: 'block', detail: `${root[0]} mounted on /` });
    }
    for (const u of usage) expect(fs.existsSync(`/sys/bus/pci/devices/${u.bdf}`)).toBe(true);
    expect(sys.writes).toBe(0);
  });
});

describe('inventory of the simulated seed host', () => {
  const sim = seedTopology();
  const ids = PciIds.load();
  const inv = readInventory(sim, { pciIds: ids });
  const get = (bdf: string) => inv.find((d) => d.bdf === bdf)!;

  it('reads capabilities from config space', () => {
    const nic = get('0000:01:00.0');
    expect(nic.kind).toBe('pcie-endpoint');
    expect(nic.pcie).toEqual({ portType: 0, portTypeName: 'endpoint', version: 2, flr: true });
    expect(nic.msix).toEqual({ enabled: false, tableSize: 5 });
    expect(nic.msi).toEqual({ enabled: false, is64: true, maxVectors: 1 });
    expect(nic.flr).toBe(true);
    expect(nic.resetMethods).toEqual(['flr', 'pm', 'bus']);
    expect(nic.driver).toBe('pciback');
    expect(nic.driverPath).toBe('/bus/pci/drivers/pciback');
    expect(nic.parents).toEqual(['0000:00:1c.0']);
    expect(nic.vendorName).toBe('Intel Corporation');
    expect(nic.deviceName).toBe('82574L Gigabit Network Connection');
    expect(nic.className).toBe('Ethernet controller');
  });

  it('classifies bridges and finds devices behind the PCIe-to-PCI bridge', () => {
    expect(get('0000:00:00.0').kind).toBe('host-bridge');
    expect(get('0000:00:1c.3').kind).toBe('pcie-port');
    const br = get('0000:04:00.0');
    expect(br.kind).toBe('pcie-to-pci-bridge');
    expect(br.secondaryBus).toBe(5);
    const card = get('0000:05:01.0');
    expect(card.kind).toBe('pci-device');
    expect(card.pcie).toBeNull();
    expect(card.parents).toEqual(['0000:00:1c.3', '0000:04:00.0']);
    expect(card.configComplete).toBe(true);
  });

  it('lists multi-function siblings and their missing reset', () => {
    const f0 = get('0000:02:00.0');
    expect(f0.multiFunction).toBe(true);
    expect(f0.siblings).toEqual(['0000:02:00.1']);
    expect(f0.flr).toBe(false);
    expect(f0.resetAvailable).toBe(false);
    expect(f0.pm).toEqual({ noSoftReset: true });
  });

  it('reads 64-bit BARs exactly and tells I/O from memory by the resource flags', () => {
    const r = get('0000:03:00.0');
    expect(r.bars.map((b) => [b.index, b.kind, b.is64, b.prefetchable, b.size])).toEqual([
      [0, 'io', false, false, 0x100n],
      [1, 'mem', true, false, 0x1000n],
      [3, 'mem', true, true, 0x4000n],
    ]);
    expect(r.bars[1]!.start).toBeGreaterThanOrEqual(0x4000000000n);
  });

  it('raises ERR_PCI_NO_DEVICE for a missing device', () => {
    expect(() => readDevice(sim, '0000:09:00.0')).toThrow(expect.objectContaining({ code: 'ERR_PCI_NO_DEVICE' }));
  });
});

describe('parseResource', () => {
  it('classifies an enabled ROM as ROM, not I/O (bit 0 there is ROM_ENABLE)', () => {
    const text = [
      '0x000000000000e000 0x000000000000e01f 0x0000000000040101',
      '0x00000000f7e00000 0x00000000f7e1ffff 0x0000000000040200',
      ...Array(4).fill('0x0000000000000000 0x0000000000000000 0x0000000000000000'),
      '0x00000000f7c00000 0x00000000f7c7ffff 0x0000000000046201',
    ].join('\n');
    const bars = parseResource(text);
    expect(bars.map((b) => [b.index, b.kind, b.size])).toEqual([
      [0, 'io', 0x20n],
      [1, 'mem', 0x20000n],
      [6, 'rom', 0x80000n],
    ]);
  });
});
