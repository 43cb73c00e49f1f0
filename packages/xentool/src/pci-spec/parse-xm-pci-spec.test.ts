import { XentoolError } from '../errors';
import { parseXmPciSpec } from './parse-xm-pci-spec';

const funcs = (s: string) => parseXmPciSpec(s).devices.map((d) => `${d.func}=${d.vfunc}`);

describe('parseXmPciSpec (xm parse_pci_name_extended)', () => {
  it('reads the short and long forms, with , as a separator', () => {
    expect(parseXmPciSpec('0:2:0.0').devices[0]).toMatchObject({ domain: 0, bus: 2, dev: 0, func: 0, vslot: null, msitranslate: true });
    expect(parseXmPciSpec('0001,02,1f,3').devices[0]).toMatchObject({ domain: 1, bus: 2, dev: 0x1f, func: 3 });
    expect(parseXmPciSpec('01:00.0,msitranslate=0').key).toBe('01:00.0');
  });

  it('expands lists, ranges and mappings with virtual function 0 last', () => {
    expect(funcs('01:00.0,2')).toEqual(['2=2', '0=0']);
    expect(funcs('01:00.0-3')).toEqual(['3=3', '2=2', '1=1', '0=0']);
    expect(funcs('01:00.1=0,2')).toEqual(['2=2', '1=0']);
    // xm's separator class [,-=] is a range that holds the digits, so "002" is one part: 2.
    expect(funcs('01:00.002')).toEqual(['2=0']);
    // No function maps to 0: the lowest automatic one is moved there.
    expect(funcs('01:00.2,3')).toEqual(['3=3', '2=0']);
  });

  it('puts the vslot into vdevfn with the virtual function', () => {
    const d = parseXmPciSpec('01:00.0,1@4').devices;
    expect(d.map((x) => x.vdevfn)).toEqual([0x21, 0x20]);
    expect(d[0].vslot).toBe(4);
  });

  it('applies msitranslate/power_mgmt options', () => {
    expect(parseXmPciSpec('01:00.0,msitranslate=no,power_mgmt=yes').devices[0]).toMatchObject({ msitranslate: false, power_mgmt: true });
  });

  it('refuses what xm refused, and what crashed xm, with one line', () => {
    for (const [s, why] of [
      ['01:00.1-3', /Virtual device does not include virtual function 0/],
      ['01:00.0,0', /Duplicate functions/],
      ['01:00.0-1=5', /Invalid range/],
      ['01:00.0,permissive=1', /Invalid pci option "permissive=1"/],
      ['01:00.0,msitranslate', /not OPT=VAL/],
      ['01:00.0.1', /Invalid function/],
      ['01:00.8', /expected \[DDDD:\]BB:SS\.F/],
      ['01:00.0@20', /expected/],
    ] as const) {
      let err: unknown;
      try {
        parseXmPciSpec(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(XentoolError);
      expect((err as Error).message).toMatch(why);
      expect((err as XentoolError).exitCode).toBe(2);
    }
  });

  it('expands * through the caller\'s sysfs view, or keeps it as FUNC_ALL', () => {
    const present = jest.fn(() => [0, 1, 3]);
    expect(parseXmPciSpec('01:00.*', { functionsPresent: present }).devices.map((d) => d.func)).toEqual([3, 1, 0]);
    expect(present).toHaveBeenCalledWith(0, 1, 0);
    const r = parseXmPciSpec('01:00.*');
    expect(r.devices).toHaveLength(1);
    expect(r.devices[0].vfunc_mask).toBe(0xffffffff);
    expect(r.warnings[0]).toMatch(/not expanded here/);
  });
});
