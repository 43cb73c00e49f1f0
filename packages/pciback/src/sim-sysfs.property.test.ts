import fc from 'fast-check';
import { makeAssignable, release, pcibackSlots } from './binding';
import { PcibackError } from './errors';
import { readInventory } from './inventory';
import { SimSysfs } from './sim-sysfs';
import { seedTopology } from './topology';

const BDFS = readInventory(seedTopology()).map((d) => d.bdf);
const DRIVERS = ['pciback', 'e1000e', 'r8169', 'ahci', 'e1000', 'i915'];
const KNOWN_ERRNOS = new Set(['EBUSY', 'ENODEV', 'EINVAL', 'ENOENT', 'EACCES', 'ENOTTY', 'EEXIST']);

/** State without the reset counters, which every bind/unbind through pciback legitimately bumps. */
function shape(sim: SimSysfs): unknown {
  const s = sim.toJSON();
  return { ...s, devices: s.devices.map((d) => ({ ...d, resetCount: 0 })) };
}

const op = fc.oneof(
  fc.record({ kind: fc.constant('bind' as const), drv: fc.constantFrom(...DRIVERS), bdf: fc.constantFrom(...BDFS) }),
  fc.record({ kind: fc.constant('unbind' as const), drv: fc.constantFrom(...DRIVERS), bdf: fc.constantFrom(...BDFS) }),
  fc.record({ kind: fc.constant('new_slot' as const), bdf: fc.constantFrom(...BDFS, '00:1c.*', 'zz') }),
  fc.record({ kind: fc.constant('remove_slot' as const), bdf: fc.constantFrom(...BDFS, '02:00.*') }),
  fc.record({ kind: fc.constant('override' as const), bdf: fc.constantFrom(...BDFS), drv: fc.constantFrom('pciback', '\n', 'e1000e') }),
  fc.record({ kind: fc.constant('probe' as const), bdf: fc.constantFrom(...BDFS) }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function apply(sim: SimSysfs, o: Op): void {
  const PB = '/bus/pci/drivers';
  switch (o.kind) {
    case 'bind':
      return sim.writeFile(`${PB}/${o.drv}/bind`, o.bdf);
    case 'unbind':
      return sim.writeFile(`${PB}/${o.drv}/unbind`, o.bdf);
    case 'new_slot':
      return sim.writeFile(`${PB}/pciback/new_slot`, o.bdf);
    case 'remove_slot':
      return sim.writeFile(`${PB}/pciback/remove_slot`, o.bdf);
    case 'override':
      return sim.writeFile(`/bus/pci/devices/${o.bdf}/driver_override`, o.drv);
    case 'probe':
      return sim.writeFile('/bus/pci/drivers_probe', o.bdf);
  }
}

describe('simulated sysfs under random write sequences', () => {
  it('keeps driver links, driver directories and persistence consistent; refusals are errno-shaped', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const sim = seedTopology();
        for (const o of ops) {
          const before = new Map(BDFS.map((b) => [b, sim.device(b)!.driver]));
          try {
            apply(sim, o);
            // A device that gained a driver got one its driver_override allows (pci_match_device).
            for (const b of BDFS) {
              const d = sim.device(b)!;
              if (before.get(b) === null && d.driver !== null && d.driverOverride !== null) expect(d.driver).toBe(d.driverOverride);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(PcibackError);
            expect(KNOWN_ERRNOS.has((e as PcibackError).errno!)).toBe(true);
          }
        }
        for (const bdf of BDFS) {
          const d = sim.device(bdf)!;
          const link = `/bus/pci/devices/${bdf}/driver`;
          expect(sim.exists(link)).toBe(d.driver !== null);
          if (d.driver) {
            expect(sim.realpath(link)).toBe(`/bus/pci/drivers/${d.driver}`);
            expect(sim.readdir(`/bus/pci/drivers/${d.driver}`)).toContain(bdf);
          }
        }
        expect(SimSysfs.deserialize(sim.serialize()).serialize()).toBe(sim.serialize());
      }),
      { numRuns: 150 },
    );
  });

  it('makeAssignable then release -r restores every endpoint exactly, by either method', () => {
    const endpoints = readInventory(seedTopology({ hidden: false })).filter((d) => !d.isBridge && d.driver !== null);
    fc.assert(
      fc.property(fc.constantFrom(...endpoints.map((d) => d.bdf)), fc.constantFrom<'slot' | 'override'>('slot', 'override'), fc.boolean(), (bdf, method, twice) => {
        const sim = seedTopology({ hidden: false });
        const before = shape(sim);
        const r = makeAssignable(sim, bdf, { method });
        if (twice) expect(makeAssignable(sim, bdf, { method }).alreadyAssignable).toBe(true);
        expect(sim.device(bdf)!.driver).toBe('pciback');
        expect(pcibackSlots(sim).filter((s) => s === bdf)).toHaveLength(1);
        release(sim, bdf, { rebindTo: r.originalDriverPath });
        expect(shape(sim)).toEqual(before);
      }),
    );
  });
});
