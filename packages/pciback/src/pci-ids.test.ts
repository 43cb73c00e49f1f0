import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PciIds } from './pci-ids';

const haveLspci = (() => {
  try {
    execFileSync('lspci', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

const SAMPLE = [
  '# comment',
  '8086  Intel Corporation',
  '\t10d3  82574L Gigabit Network Connection',
  '\t\t8086 a01f  Gigabit CT Desktop Adapter',
  'ffff  Illegal Vendor ID',
  'C 01  Mass storage controller',
  '\t06  SATA controller',
  '\t\t01  AHCI 1.0',
  'C 02  Network controller',
  '\t00  Ethernet controller',
  '',
].join('\n');

describe('PciIds', () => {
  const ids = PciIds.parse(SAMPLE);

  it('finds vendor, device and subsystem names (vendor ids above 0x7fff included)', () => {
    expect(ids.vendor(0x8086)).toBe('Intel Corporation');
    expect(ids.device(0x8086, 0x10d3)).toBe('82574L Gigabit Network Connection');
    expect(ids.subsystem(0x8086, 0x10d3, 0x8086, 0xa01f)).toBe('Gigabit CT Desktop Adapter');
    expect(ids.vendor(0xffff)).toBe('Illegal Vendor ID');
    expect(ids.device(0x8086, 0x1234)).toBeUndefined();
  });

  it('names classes at the subclass level, and at prog-if level when asked for the most specific', () => {
    expect(ids.subclassName(0x010601)).toBe('SATA controller');
    expect(ids.className(0x010601)).toBe('AHCI 1.0');
    expect(ids.className(0x020000)).toBe('Ethernet controller');
    expect(ids.subclassName(0x028000)).toBe('Network controller');
  });

  it('an absent database yields no names rather than an error', () => {
    expect(PciIds.load('/nonexistent/pci.ids').vendor(0x8086)).toBeUndefined();
  });

  (haveLspci ? it : it.skip)('agrees with lspci on the installed database (lspci -F names a one-device dump)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pciids-'));
    try {
      const dump = path.join(dir, 'dump');
      // 8086:10d3 class 02/00, and 1af4:1045 with class ff/ff (only the base class has a name).
      fs.writeFileSync(
        dump,
        '00:03.0 x\n00: 86 80 d3 10 00 00 10 00 00 00 00 02 00 00 00 00\n\n' + '00:04.0 x\n00: f4 1a 45 10 00 00 10 00 01 00 80 02 00 00 00 00\n',
      );
      const out = execFileSync('lspci', ['-F', dump, '-mm'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const real = PciIds.load();
      expect(out).toContain(`00:03.0 "${real.subclassName(0x020000)}" "${real.vendor(0x8086)}" "${real.device(0x8086, 0x10d3)}"`);
      expect(out).toContain(`00:04.0 "${real.subclassName(0x028000)}" "${real.vendor(0x1af4)}" "${real.device(0x1af4, 0x1045)}"`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
