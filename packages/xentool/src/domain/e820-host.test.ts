import { E820_ACPI, E820_NVS, E820_RAM, E820_RESERVED, E820_UNUSABLE, type E820Entry, e820FromJson, e820HostMap, e820ToJson, formatE820 } from './e820-host';

const MiB = 1024; // KiB
const TYPES: Record<string, number> = { usable: E820_RAM, reserved: E820_RESERVED, 'ACPI data': E820_ACPI, 'ACPI NVS': E820_NVS, unusable: E820_UNUSABLE };

/** Xen's boot-time "Xen-e820 RAM map" lines: `[start, end] (type)`, end inclusive. */
function xenMap(text: string): E820Entry[] {
  return text
    .trim()
    .split('\n')
    .map((l) => {
      const m = /\[([0-9a-f]+), ([0-9a-f]+)\] \((.+)\)/.exec(l);
      if (!m) throw new Error(`bad line ${l}`);
      const addr = BigInt(`0x${m[1]}`);
      return { addr, size: BigInt(`0x${m[2]}`) - addr + 1n, type: TYPES[m[3]!]! };
    });
}

/** The guest's map as `start-end type` lines, end inclusive (what the guest's kernel prints). */
const show = (map: E820Entry[]) => formatE820(map).map((l) => l.replace(/^\[mem (\S+)\] /, '$1 '));

// The served Xen VM (QEMU q35, 5 GiB): the map Xen printed at boot (test/xen/work/runs/*/serial.log).
const Q35 = xenMap(`
 [0000000000000000, 000000000009fbff] (usable)
 [000000000009fc00, 000000000009ffff] (reserved)
 [00000000000f0000, 00000000000fffff] (reserved)
 [0000000000100000, 000000007ffdefff] (usable)
 [000000007ffdf000, 000000007fffffff] (reserved)
 [00000000b0000000, 00000000bfffffff] (reserved)
 [00000000fed1c000, 00000000fed1ffff] (reserved)
 [00000000fffc0000, 00000000ffffffff] (reserved)
 [0000000100000000, 000000013fffffff] (usable)
 [000000fd00000000, 000000ffffffffff] (reserved)
`);

const Q35_HOLES = [
  '0x000000007ffdf000-0x000000007fffffff reserved',
  '0x00000000b0000000-0x00000000bfffffff reserved',
  '0x00000000fed1c000-0x00000000fed1ffff reserved',
  '0x00000000fffc0000-0x00000000ffffffff reserved',
  '0x000000fd00000000-0x000000ffffffffff reserved',
];

// A typical two-socket Intel server with UEFI firmware: ACPI tables and NVS below the 32-bit PCI
// hole, RAM that the firmware left between reserved regions (the IGD-stolen-memory shape libxl
// guards against), MMCONFIG, IOAPIC/HPET/LAPIC and the flash at the top of 4 GiB, RAM above.
const SERVER = xenMap(`
 [0000000000000000, 000000000009bfff] (usable)
 [000000000009c000, 000000000009ffff] (reserved)
 [00000000000e0000, 00000000000fffff] (reserved)
 [0000000000100000, 000000001fffffff] (usable)
 [0000000020000000, 000000005fffffff] (usable)
 [0000000060000000, 0000000060ffffff] (reserved)
 [0000000061000000, 000000006b0c2fff] (usable)
 [000000006b0c3000, 000000006b35afff] (ACPI data)
 [000000006b35b000, 000000006bba2fff] (ACPI NVS)
 [000000006bba3000, 000000006bffffff] (reserved)
 [000000006c000000, 000000006fffffff] (usable)
 [0000000070000000, 000000008fffffff] (reserved)
 [00000000fec00000, 00000000fec00fff] (reserved)
 [00000000fed00000, 00000000fed00fff] (reserved)
 [00000000fee00000, 00000000fee00fff] (reserved)
 [00000000ff000000, 00000000ffffffff] (reserved)
 [0000000100000000, 000000207fffffff] (usable)
`);

describe('e820HostMap on the Xen VM (q35) map', () => {
  it('128 MiB guest (the test guests): its RAM from 0, unusable up to the first reserved region, every host hole above 1 MiB, no host RAM', () => {
    expect(show(e820HostMap(Q35, { targetKiB: 128 * MiB, maxKiB: 128 * MiB }))).toEqual([
      '0x0000000000000000-0x0000000007ffffff usable',
      '0x0000000008000000-0x000000007ffdefff unusable',
      ...Q35_HOLES,
    ]);
  });

  it('maxmem above memory: the balloon room is RAM at 4 GiB, not below the holes', () => {
    expect(show(e820HostMap(Q35, { targetKiB: 256 * MiB, maxKiB: 512 * MiB }))).toEqual([
      '0x0000000000000000-0x000000000fffffff usable',
      '0x0000000010000000-0x000000007ffdefff unusable',
      ...Q35_HOLES,
      '0x0000000100000000-0x000000010fffffff usable',
    ]);
  });

  it('more memory than fits below the first reserved region: the rest moves to 4 GiB, with no unusable gap', () => {
    const map = e820HostMap(Q35, { targetKiB: 4096 * MiB, maxKiB: 4096 * MiB });
    expect(show(map)).toEqual(['0x0000000000000000-0x000000007ffdefff usable', ...Q35_HOLES, '0x0000000100000000-0x0000000180020fff usable']);
    // All of memory= is RAM in the guest's map, split around the holes.
    const ram = map.filter((e) => e.type === E820_RAM).reduce((n, e) => n + e.size, 0n);
    expect(ram).toBe(4096n << 20n);
  });

  it('slack_memkb adds to the RAM at 4 GiB', () => {
    const map = e820HostMap(Q35, { targetKiB: 128 * MiB, maxKiB: 128 * MiB, slackKiB: 8 * MiB });
    expect(show(map).at(-1)).toBe('0x0000000100000000-0x00000001007fffff usable');
  });
});

describe('e820HostMap on a server map', () => {
  it('ACPI and NVS regions are kept with their types; RAM the firmware put between reserved regions becomes unusable', () => {
    expect(show(e820HostMap(SERVER, { targetKiB: 1024 * MiB, maxKiB: 1024 * MiB }))).toEqual([
      '0x0000000000000000-0x000000003fffffff usable',
      // Host RAM 0x20000000-0x5fffffff crosses the end of the guest's RAM: what is above it
      // stays, as unusable, and already closes the gap up to the first reserved region.
      '0x0000000040000000-0x000000005fffffff unusable',
      '0x0000000060000000-0x0000000060ffffff reserved',
      '0x0000000061000000-0x000000006b0c2fff unusable',
      '0x000000006b0c3000-0x000000006b35afff ACPI data',
      '0x000000006b35b000-0x000000006bba2fff ACPI NVS',
      '0x000000006bba3000-0x000000006bffffff reserved',
      '0x000000006c000000-0x000000006fffffff unusable',
      '0x0000000070000000-0x000000008fffffff reserved',
      '0x00000000fec00000-0x00000000fec00fff reserved',
      '0x00000000fed00000-0x00000000fed00fff reserved',
      '0x00000000fee00000-0x00000000fee00fff reserved',
      '0x00000000ff000000-0x00000000ffffffff reserved',
    ]);
  });

  it('a guest larger than the RAM below the first reserved region: cut there, the rest at 4 GiB', () => {
    const map = e820HostMap(SERVER, { targetKiB: 2048 * MiB, maxKiB: 3072 * MiB });
    expect(show(map)[0]).toBe('0x0000000000000000-0x000000005fffffff usable');
    // 512 MiB cut off below the first reserved region (0x60000000) + 1 GiB of balloon room.
    expect(show(map).at(-1)).toBe('0x0000000100000000-0x000000015fffffff usable');
    expect(map.some((e) => e.type === E820_UNUSABLE && e.addr < 0x60000000n)).toBe(false);
  });

  it('an unusable host entry is never copied; a host map without reserved regions leaves the guest nothing but unusable above its RAM', () => {
    const map = e820HostMap(
      [
        { addr: 0n, size: 0xa0000n, type: E820_RAM },
        { addr: 0x100000n, size: 0x3ff00000n, type: E820_RAM },
        { addr: 0x40000000n, size: 0x1000n, type: E820_UNUSABLE },
      ],
      { targetKiB: 64 * MiB, maxKiB: 64 * MiB },
    );
    // libxl's "no region found" start is the top of the 64-bit space.
    expect(e820ToJson(map)).toEqual([
      { addr: '0x0', size: '0x4000000', type: E820_RAM },
      { addr: '0x4000000', size: `0x${((1n << 64n) - 1n - 0x4000000n).toString(16)}`, type: E820_UNUSABLE },
    ]);
  });
});

describe('e820HostMap refusals and helpers', () => {
  it('refuses what libxl fails on, with a coded error', () => {
    expect(() => e820HostMap([], { targetKiB: 1024, maxKiB: 1024 })).toThrow(expect.objectContaining({ code: 'ERR_E820_HOST' }));
    const many = Array.from({ length: 129 }, (_, i) => ({ addr: BigInt(i + 1) << 24n, size: 0x1000n, type: E820_RESERVED }));
    expect(() => e820HostMap(many, { targetKiB: 1024, maxKiB: 1024 })).toThrow(/129 entries, more than the 128/);
    expect(() => e820HostMap(many.slice(0, 128), { targetKiB: 1024, maxKiB: 1024 })).not.toThrow();
    expect(() => e820HostMap(Q35, { targetKiB: 0, maxKiB: 0 })).toThrow(expect.objectContaining({ code: 'ERR_E820_HOST' }));
  });

  it('round-trips through the JSON form plan steps and state files use', () => {
    const map = e820HostMap(Q35, { targetKiB: 256 * MiB, maxKiB: 512 * MiB });
    expect(e820FromJson(JSON.parse(JSON.stringify(e820ToJson(map))))).toEqual(map);
  });
});
