import { ErrorCodes, XentoolError } from '../errors';
import { atoiC, scanHex } from './c-scan';
import { parseBdf, parsePciSpec } from './parse-pci-spec';
import { formatBdf, formatPciSpecBdf, PCI_FUNC_ALL } from './pci-spec';

function rejects(s: string): XentoolError {
  try {
    parsePciSpec(s);
  } catch (e) {
    expect(e).toBeInstanceOf(XentoolError);
    return e as XentoolError;
  }
  throw new Error(`accepted ${s}`);
}

describe('C number scanning', () => {
  it('scanHex follows glibc %x: space, sign, 0x, 32-bit truncation', () => {
    expect(scanHex('1f.', 0)).toEqual({ value: 31, length: 2 });
    expect(scanHex(' +0x1f', 0)).toEqual({ value: 31, length: 6 });
    expect(scanHex('0x.', 0)).toEqual({ value: 0, length: 2 });
    expect(scanHex('-1', 0)).toEqual({ value: 0xffffffff, length: 2 });
    expect(scanHex('100000003', 0)).toEqual({ value: 3, length: 9 });
    expect(scanHex('g', 0)).toBeUndefined();
    expect(scanHex('-', 0)).toBeUndefined();
  });

  it('atoiC is (int) strtol(s, NULL, 10)', () => {
    expect(atoiC('yes')).toBe(0);
    expect(atoiC(' 12abc')).toBe(12);
    expect(atoiC('4294967296')).toBe(0);
    expect(atoiC('4294967297')).toBe(1);
    expect(atoiC('99999999999999999999')).toBe(-1);
    expect(atoiC('-99999999999999999999')).toBe(0);
  });
});

describe('parsePciSpec (xlu_pci_parse_spec_string)', () => {
  it('parses BDF, vslot and options into libxl_device_pci fields', () => {
    const { warnings, ...p } = parsePciSpec('0000:03:00.1@1f,msitranslate=1,power_mgmt=1,seize=1,permissive=0,rdm_policy=strict');
    expect(p).toEqual({
      domain: 0, bus: 3, dev: 0, func: 1, vdevfn: 0xf8, vfunc_mask: 1,
      msitranslate: true, power_mgmt: true, permissive: false, seize: true, rdm_policy: 'strict', name: null,
    });
    expect(warnings).toEqual([]);
    expect(parsePciSpec('03:00.*').vfunc_mask).toBe(PCI_FUNC_ALL);
    expect(parsePciSpec('name=gpu0')).toMatchObject({ name: 'gpu0', vfunc_mask: 0, bus: 0 });
    expect(parsePciSpec('bdf=04:01.2,vslot=3')).toMatchObject({ bus: 4, dev: 1, func: 2, vdevfn: 0x18 });
  });

  it('matches libxlutil where it is surprising, with warnings', () => {
    const yes = parsePciSpec('03:00.0,permissive=yes');
    expect(yes.permissive).toBe(false);
    expect(yes.warnings).toEqual(['"03:00.0,permissive=yes": permissive=yes is read as 0 (xl uses atoi); write 0 or 1']);
    const twice = parsePciSpec('03:00.0@08,vslot=9');
    expect(twice.vdevfn).toBe(0x48);
    expect(twice.warnings[0]).toMatch(/virtual slot given twice; xl uses the last \(vslot=9\)/);
    expect(parsePciSpec('bdf=03:00.0xyz').warnings[0]).toMatch(/trailing "yz" after bdf= ignored/);
  });

  it('starts from the caller\'s defaults (the config file\'s pci_* keys)', () => {
    expect(parsePciSpec('03:00.0', { permissive: true, msitranslate: true })).toMatchObject({ permissive: true, msitranslate: true });
    expect(parsePciSpec('03:00.0,permissive=0', { permissive: true }).permissive).toBe(false);
  });

  it('rejects what libxlutil rejects, exit 2, one line', () => {
    const e = rejects('36:00.0,vslot=20,seize=1');
    expect(e.code).toBe(ErrorCodes.ERR_PCI_SPEC);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('malformed PCI_SPEC_STRING "36:00.0,vslot=20,seize=1": vslot="20": virtual slot 0x20 > 0x1f (vslot is hex)');
    expect(rejects('03:00.0,name=gpu0').message).toMatch(/give a BDF or name=, not both/);
    expect(rejects('permissive=1').message).toMatch(/a BDF or name= is required/);
    expect(rejects('03:00.0,permissive').message).toMatch(/has no "=value"/);
    expect(rejects('03:00.0,bogus=1').message).toMatch(/unknown option "bogus"/);
    expect(rejects('03:00.0,rdm_policy=loose').message).toMatch(/unknown RDM policy "loose"/);
    for (const bad of ['03:20.0', '03:00.8', '100:00.0', '03.00.0', ' 03:00.0', '03:00.0 ', '03:00.1-3', '03:00', '03:00.0\n']) {
      expect(() => parsePciSpec(bad)).toThrow(XentoolError);
    }
  });
});

describe('parseBdf (xlu_pci_parse_bdf)', () => {
  it('ignores what follows the function, and warns', () => {
    expect(parseBdf('03:00.0@8')).toEqual({
      domain: 0, bus: 3, dev: 0, func: 0, vfunc_mask: 1, warnings: ['"03:00.0@8": trailing "@8" ignored (as xl does)'],
    });
    expect(parseBdf('03:00.*').warnings).toEqual([`"03:00.*": xl takes '*' here as function 0 only`]);
    expect(() => parseBdf('03:00')).toThrow(expect.objectContaining({ code: ErrorCodes.ERR_BDF, exitCode: 2 }));
  });
});

describe('formatBdf', () => {
  it('pads like sysfs, or not like xl messages', () => {
    expect(formatBdf({ domain: 0, bus: 3, dev: 0, func: 1 })).toBe('0000:03:00.1');
    expect(formatBdf({ domain: 0, bus: 3, dev: 0, func: 1 }, { short: true })).toBe('0:3:0.1');
    expect(formatPciSpecBdf(parsePciSpec('3:1f.*'))).toBe('0000:03:1f.*');
  });
});
