import { assessAssignability } from './assignability';
import { PcibackError } from './errors';
import { readInventory } from './inventory';
import { KNOWN_QUIRKS, matchQuirks, parseQuirksFile } from './quirks';
import { seedTopology, TopologyBuilder } from './topology';

const dev = (vendorId: number, deviceId: number, classCode = 0x020000, bdf = '0000:03:00.0') => ({ bdf, vendorId, deviceId, classCode });
const kinds = (d: ReturnType<typeof dev>) => matchQuirks(d, KNOWN_QUIRKS).map((q) => q.kind);

describe('the built-in quirks table', () => {
  it('names devices by vendor and device id', () => {
    expect(kinds(dev(0x8086, 0x1502))).toEqual(['broken-flr']);
    expect(kinds(dev(0x8086, 0x1503))).toEqual(['broken-flr']);
    expect(kinds(dev(0x14c3, 0x0616, 0x028000))).toEqual(['broken-flr']);
    expect(kinds(dev(0x168c, 0x003c, 0x028000))).toEqual(['broken-bus-reset']);
    expect(kinds(dev(0x10ec, 0x8168))).toEqual(['msix-window']);
    // Neighbours of listed devices are not listed.
    expect(kinds(dev(0x8086, 0x10d3))).toEqual([]);
    expect(kinds(dev(0x168c, 0x002a, 0x028000))).toEqual([]);
    expect(kinds(dev(0x10ec, 0x8169))).toEqual([]);
  });

  it('matches a whole vendor by class under a mask (AMD/ATI GPUs, not their audio function)', () => {
    expect(kinds(dev(0x1002, 0x6611, 0x030000))).toEqual(['broken-pm-reset']);
    expect(kinds(dev(0x1002, 0x6611, 0x030001))).toEqual(['broken-pm-reset']);
    expect(kinds(dev(0x1002, 0xaab0, 0x040300))).toEqual([]);
  });

  it('matches the IGD only at 00:02.0', () => {
    expect(kinds(dev(0x8086, 0x29b2, 0x030000, '0000:00:02.0'))).toEqual(['igd']);
    expect(kinds(dev(0x8086, 0x29b2, 0x030000, '0000:01:00.0'))).toEqual([]);
  });

  it('says for every entry why, and where that is known from', () => {
    for (const q of KNOWN_QUIRKS) {
      expect(q.reason.length).toBeGreaterThan(40);
      expect(q.source).toMatch(/quirks\.c|pci-quirks\.c|libxl_pci\.c/);
    }
  });

  it('warns on the seed host (its RTL8168 at 03:00.0), naming the reason, without refusing', () => {
    const sim = seedTopology();
    const a = assessAssignability(readInventory(sim), '03:00.0', { dom0Usage: sim.dom0Usage, pcibackLoaded: true });
    expect(a.assignable).toBe(true);
    expect(a.reasons).toEqual([
      expect.objectContaining({ code: 'QUIRK', severity: 'warning', message: expect.stringMatching(/^0000:03:00\.0: Realtek RTL8168: its MSI-X table .* BAR2/) }),
    ]);
  });

  it('warns about a device that hangs on FLR even though it advertises FLR', () => {
    const sim = new TopologyBuilder()
      .pciePort('00:1c.0', { vendorId: 0x8086, deviceId: 0x1c10, secondaryBus: 1 })
      .pcieEndpoint('01:00.0', { parent: '00:1c.0', vendorId: 0x8086, deviceId: 0x1502, classCode: 0x020000, flr: true, driver: 'pciback' })
      .build();
    const a = assessAssignability(readInventory(sim), '01:00.0', { pcibackLoaded: true });
    expect(a.assignable).toBe(true);
    expect(a.reasons.map((r) => r.code)).toEqual(['QUIRK']);
    expect(a.reasons[0]!.message).toMatch(/82579LM.*function-level reset hangs the device/);
  });
});

describe('parseQuirksFile (the operator file)', () => {
  const good = `{
  // Our own findings.
  "quirks": [
    { "kind": "bar-internal-pointers", "vendor": "0x1234", "device": "abcd",
      "reason": "the driver gives the card addresses inside BAR2", "source": "vendor ticket 42" },
    { "kind": "other", "vendor": "10ec", "class": "020000", "classMask": "ffff00", "bdf": "3:0.0",
      "reason": "flaky on this board" }
  ]
}
`;

  it('reads entries, hex as lspci -n prints it, with the file as the default source', () => {
    expect(parseQuirksFile(good, '/etc/xentool/pci-quirks.json')).toEqual([
      { kind: 'bar-internal-pointers', vendorId: 0x1234, deviceId: 0xabcd, reason: 'the driver gives the card addresses inside BAR2', source: 'vendor ticket 42' },
      { kind: 'other', vendorId: 0x10ec, classCode: 0x020000, classMask: 0xffff00, bdf: '0000:03:00.0', reason: 'flaky on this board', source: '/etc/xentool/pci-quirks.json' },
    ]);
    expect(parseQuirksFile('{ "quirks": [] }', 'f')).toEqual([]);
  });

  it('makes the seed kind usable: an operator entry becomes a warning naming its reason', () => {
    const sim = seedTopology();
    const quirks = [...KNOWN_QUIRKS, ...parseQuirksFile('{"quirks":[{"kind":"bar-internal-pointers","vendor":"8086","device":"10d3","reason":"hands the NIC pointers into BAR1"}]}', 'q.json')];
    const a = assessAssignability(readInventory(sim), '01:00.0', { dom0Usage: sim.dom0Usage, pcibackLoaded: true, quirks });
    expect(a.assignable).toBe(true);
    expect(a.reasons).toEqual([{ code: 'QUIRK', severity: 'warning', message: '0000:01:00.0: hands the NIC pointers into BAR1', fix: 'source: q.json' }]);
  });

  const err = (text: string): string => {
    try {
      parseQuirksFile(text, 'q.json');
    } catch (e) {
      expect(e).toBeInstanceOf(PcibackError);
      expect((e as PcibackError).code).toBe('ERR_QUIRKS_FILE');
      return (e as Error).message;
    }
    throw new Error('no error');
  };

  it('points at the exact line and column of what is wrong, in one line', () => {
    expect(err('{\n  "quirks": [\n    { "kind": "other" "vendor": "1" }\n  ]\n}')).toBe("q.json:3:23: not valid JSON (',' was expected)");
    expect(err('{ "quirks": [ ')).toBe("q.json:1:15: not valid JSON (']' was expected)");
    expect(err('{ "quirks": [],\n}')).toMatch(/^q\.json:2:1: not valid JSON/);
    expect(err('[]')).toBe('q.json:1:1: expected an object with a "quirks" list');
    expect(err('{ "quirk": [] }')).toBe('q.json:1:3: unknown key "quirk" (the file has one key, "quirks")');
    expect(err('{}')).toBe('q.json:1:1: no "quirks" list');
    expect(err('{ "quirks": {} }')).toBe('q.json:1:13: "quirks" must be a list');
    expect(err('{ "quirks": [ 1 ] }')).toBe('q.json:1:15: each quirk must be an object');
    const q = (body: string) => err(`{ "quirks": [\n  { ${body} }\n] }`);
    expect(q('"kind": "other", "vendor": "10ec"')).toBe('q.json:2:3: this quirk has no "reason"');
    expect(q('"kind": "broken", "vendor": "10ec", "reason": "r"')).toMatch(/^q\.json:2:13: "kind" must be one of bar-internal-pointers, msix-window, /);
    expect(q('"kind": "other", "vendor": "10ecc", "reason": "r"')).toBe('q.json:2:32: "vendor" must be hexadecimal, at most 4 digits (as lspci -n prints it), not "10ecc"');
    expect(q('"kind": "other", "vendor": 4332, "reason": "r"')).toBe('q.json:2:32: "vendor" must be a string of hex digits, as lspci -n prints it (e.g. "10ec")');
    expect(q('"kind": "other", "vendor": "10ec", "reason": ""')).toBe('q.json:2:50: "reason" must be a non-empty string');
    expect(q('"kind": "other", "vendor": "10ec", "reason": "r", "classMask": "ff"')).toBe('q.json:2:68: "classMask" needs a "class"');
    expect(q('"kind": "other", "vendor": "10ec", "reason": "r", "bdf": "03:00"')).toBe('q.json:2:62: "bdf" must look like 0000:03:00.0, not "03:00"');
    expect(q('"kind": "other", "vendor": "10ec", "reason": "r", "vendr": "1"')).toMatch(/^q\.json:2:55: unknown key "vendr" \(known: kind, vendor, /);
    expect(q('"kind": "other", "kind": "igd", "vendor": "10ec", "reason": "r"')).toBe('q.json:2:22: "kind" appears twice');
  });
});
