import { SimSysfs, parseSlotSpec } from './sim-sysfs';
import { seedTopology, TopologyBuilder } from './topology';
import { PcibackError } from './errors';

const PB = '/bus/pci/drivers/pciback';

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PcibackError);
    return (e as PcibackError).errno;
  }
  return undefined;
}

describe('simulated sysfs: layout', () => {
  const sim = seedTopology();

  it('links bus/pci/devices entries to the device directory under their bridges', () => {
    expect(sim.readlink('/bus/pci/devices/0000:05:01.0')).toBe('../../../devices/pci0000:00/0000:00:1c.3/0000:04:00.0/0000:05:01.0');
    expect(sim.realpath('/bus/pci/devices/0000:05:01.0')).toBe('/devices/pci0000:00/0000:00:1c.3/0000:04:00.0/0000:05:01.0');
    expect(sim.readdir('/devices/pci0000:00/0000:00:1c.3/0000:04:00.0')).toEqual(expect.arrayContaining(['0000:05:00.0', '0000:05:01.0', 'config', 'vendor']));
  });

  it('formats attributes as the kernel does', () => {
    const txt = (p: string) => sim.readFile(p).toString();
    expect(txt('/bus/pci/devices/0000:01:00.0/vendor')).toBe('0x8086\n');
    expect(txt('/bus/pci/devices/0000:01:00.0/class')).toBe('0x020000\n');
    expect(txt('/bus/pci/devices/0000:01:00.0/driver_override')).toBe('(null)\n');
    expect(sim.readFile('/bus/pci/devices/0000:01:00.0/config').length).toBe(4096);
    expect(sim.readFile('/bus/pci/devices/0000:05:00.0/config').length).toBe(256);
    const lines = txt('/bus/pci/devices/0000:03:00.0/resource').split('\n').filter(Boolean);
    expect(lines).toHaveLength(13);
    expect(lines[0]).toMatch(/^0x0000000000002[0-9a-f]{3} 0x0000000000002[0-9a-f]{3} 0x0000000000040101$/);
    expect(lines[1]).toMatch(/ 0x0000000000140204$/);
    expect(lines[2]).toBe('0x0000000000000000 0x0000000000000000 0x0000000000000000');
  });

  it('resolves the driver link relative to the device directory', () => {
    expect(sim.readlink('/bus/pci/devices/0000:00:19.0/driver')).toBe('../../../bus/pci/drivers/e1000e');
    expect(sim.realpath('/bus/pci/devices/0000:01:00.0/driver')).toBe('/bus/pci/drivers/pciback');
    expect(sim.exists('/bus/pci/devices/0000:00:00.0/driver')).toBe(false);
    expect(sim.readdir(PB)).toEqual(expect.arrayContaining(['0000:01:00.0', '0000:03:00.0', 'new_slot', 'slots']));
  });

  it('refuses reads of write-only and writes of read-only attributes', () => {
    expect(errnoOf(() => sim.readFile(`${PB}/bind`))).toBe('EACCES');
    expect(errnoOf(() => sim.writeFile('/bus/pci/devices/0000:01:00.0/vendor', '0x1234'))).toBe('EACCES');
    expect(errnoOf(() => sim.readFile('/bus/pci/devices/0000:09:00.0/vendor'))).toBe('ENOENT');
  });
});

describe('simulated sysfs: the kernel reacts to writes', () => {
  it('unbind then new_slot then bind moves the device to pciback', () => {
    const sim = seedTopology();
    const bdf = '0000:05:00.0';
    sim.writeFile('/bus/pci/drivers/e1000/unbind', bdf);
    expect(sim.exists(`/bus/pci/devices/${bdf}/driver`)).toBe(false);
    // pciback's probe only accepts devices in its slot list: ENODEV before new_slot.
    expect(errnoOf(() => sim.writeFile(`${PB}/bind`, bdf))).toBe('ENODEV');
    sim.writeFile(`${PB}/new_slot`, bdf);
    expect(sim.readFile(`${PB}/slots`).toString()).toContain(`${bdf}\n`);
    sim.writeFile(`${PB}/bind`, bdf);
    expect(sim.realpath(`/bus/pci/devices/${bdf}/driver`)).toBe(PB);
    expect(sim.device(bdf)!.resetCount).toBe(1);
  });

  it('refuses a bind of a bound device with EBUSY and an unbind from the wrong driver with ENODEV', () => {
    const sim = seedTopology();
    sim.writeFile(`${PB}/new_slot`, '0000:00:19.0');
    expect(errnoOf(() => sim.writeFile(`${PB}/bind`, '0000:00:19.0'))).toBe('EBUSY');
    expect(errnoOf(() => sim.writeFile(`${PB}/unbind`, '0000:00:19.0'))).toBe('ENODEV');
    expect(errnoOf(() => sim.writeFile(`${PB}/bind`, '0000:42:00.0'))).toBe('ENODEV');
    // The kernel compares names exactly: the short form is not a device name.
    sim.writeFile('/bus/pci/drivers/e1000e/unbind', '0000:00:19.0');
    expect(errnoOf(() => sim.writeFile(`${PB}/bind`, '00:19.0'))).toBe('ENODEV');
    sim.writeFile(`${PB}/bind`, '0000:00:19.0\n');
    expect(sim.device('0000:00:19.0')!.driver).toBe('pciback');
  });

  it('validates new_slot / remove_slot like str_to_slot', () => {
    const sim = seedTopology({ hidden: false });
    expect(errnoOf(() => sim.writeFile(`${PB}/new_slot`, 'zz:00.0'))).toBe('EINVAL');
    expect(errnoOf(() => sim.writeFile(`${PB}/new_slot`, '0000:100:00.0'))).toBe('EINVAL');
    expect(errnoOf(() => sim.writeFile(`${PB}/remove_slot`, '0000:01:00.0'))).toBe('ENOENT');
    sim.writeFile(`${PB}/new_slot`, '02:00.*');
    expect(sim.readFile(`${PB}/slots`).toString().split('\n').filter(Boolean)).toHaveLength(8);
    sim.writeFile(`${PB}/remove_slot`, '0000:02:00.*');
    expect(sim.readFile(`${PB}/slots`).toString()).toBe('');
    // Older kernels keep duplicate entries, which is why callers check `slots` first.
    sim.writeFile(`${PB}/new_slot`, '0000:01:00.0');
    sim.writeFile(`${PB}/new_slot`, '0000:01:00.0');
    expect(sim.readFile(`${PB}/slots`).toString()).toBe('0000:01:00.0\n0000:01:00.0\n');
    sim.pciback.dedupeSlots = true;
    sim.writeFile(`${PB}/new_slot`, '0000:01:00.0');
    expect(sim.pciback.slots).toHaveLength(2);
  });

  it('driver_override + drivers_probe binds pciback without a slot entry first', () => {
    const sim = seedTopology({ hidden: false });
    const bdf = '0000:03:00.0';
    sim.writeFile(`/bus/pci/devices/${bdf}/driver_override`, 'pciback');
    expect(sim.readFile(`/bus/pci/devices/${bdf}/driver_override`).toString()).toBe('pciback\n');
    // driver_override does not unbind: the device stays with r8169 until unbound.
    expect(sim.device(bdf)!.driver).toBe('r8169');
    sim.writeFile('/bus/pci/drivers/r8169/unbind', bdf);
    sim.writeFile('/bus/pci/drivers_probe', bdf);
    expect(sim.device(bdf)!.driver).toBe('pciback');
    expect(sim.pciback.slots).toContain(bdf);
    // With the override cleared and the device unbound, a probe goes back to the native driver.
    sim.writeFile(`${PB}/unbind`, bdf);
    sim.writeFile(`${PB}/remove_slot`, bdf);
    sim.writeFile(`/bus/pci/devices/${bdf}/driver_override`, '\n');
    sim.writeFile('/bus/pci/drivers_probe', bdf);
    expect(sim.device(bdf)!.driver).toBe('r8169');
    expect(errnoOf(() => sim.writeFile('/bus/pci/drivers_probe', '0000:77:00.0'))).toBe('ENODEV');
  });

  it('permissive and quirks need a device held by pciback and vanish on unbind', () => {
    const sim = seedTopology();
    expect(errnoOf(() => sim.writeFile(`${PB}/permissive`, '0000:00:19.0'))).toBe('ENODEV');
    sim.writeFile(`${PB}/permissive`, '0000:01:00.0');
    expect(sim.readFile(`${PB}/permissive`).toString()).toBe('0000:01:00.0\n');
    expect(errnoOf(() => sim.writeFile(`${PB}/quirks`, '01:00.0-1000:2:FF'))).toBe('EINVAL');
    expect(errnoOf(() => sim.writeFile(`${PB}/quirks`, '01:00.0-E0:1:1FF'))).toBe('EINVAL');
    sim.writeFile(`${PB}/quirks`, '0000:01:00.0-E0:2:FF');
    expect(sim.readFile(`${PB}/quirks`).toString()).toBe('01:00.0\n\t8086:10d3:8086:10d3\n\t\t000000e0:2:000000ff\n');
    sim.writeFile(`${PB}/unbind`, '0000:01:00.0');
    expect(sim.readFile(`${PB}/permissive`).toString()).toBe('');
    expect(sim.readFile(`${PB}/quirks`).toString()).toBe('');
  });

  it('reset counts resets and honours reset_method', () => {
    const sim = seedTopology();
    const p = '/bus/pci/devices/0000:01:00.0';
    expect(sim.readFile(`${p}/reset_method`).toString()).toBe('flr pm bus\n');
    sim.writeFile(`${p}/reset`, '1');
    expect(sim.device('0000:01:00.0')!.resetCount).toBe(1);
    expect(errnoOf(() => sim.writeFile(`${p}/reset`, '2'))).toBe('EINVAL');
    expect(errnoOf(() => sim.writeFile(`${p}/reset_method`, 'flr acpi'))).toBe('EINVAL');
    sim.writeFile(`${p}/reset_method`, '');
    expect(errnoOf(() => sim.writeFile(`${p}/reset`, '1'))).toBe('ENOTTY');
    sim.writeFile(`${p}/reset_method`, 'default');
    expect(sim.readFile(`${p}/reset_method`).toString()).toBe('flr pm bus\n');
    // The two-function controller has neither FLR nor a usable PM reset and shares its bus: no reset file.
    expect(sim.exists('/bus/pci/devices/0000:02:00.0/reset')).toBe(false);
  });

  it('keeps an ordered write log including refusals', () => {
    const sim = seedTopology();
    try {
      sim.writeFile(`${PB}/bind`, '0000:01:00.0');
    } catch {
      /* EBUSY, asserted below */
    }
    sim.writeFile(`${PB}/unbind`, '0000:01:00.0');
    expect(sim.writes).toEqual([
      { path: `${PB}/bind`, data: '0000:01:00.0', error: 'EBUSY' },
      { path: `${PB}/unbind`, data: '0000:01:00.0' },
    ]);
  });

  it('new_id adds a dynamic id and probes matching unbound devices; known ids are EEXIST', () => {
    const sim = seedTopology();
    sim.writeFile('/bus/pci/drivers/e1000/unbind', '0000:05:00.0');
    expect(errnoOf(() => sim.writeFile('/bus/pci/drivers/e1000/new_id', '8086 107c'))).toBe('EEXIST');
    expect(errnoOf(() => sim.writeFile('/bus/pci/drivers/pciback/new_id', '8086 107c'))).toBe('EEXIST');
    sim.writeFile('/bus/pci/drivers/e1000e/new_id', '8086 107c');
    expect(sim.device('0000:05:00.0')!.driver).toBe('e1000e');
    sim.writeFile('/bus/pci/drivers/e1000e/remove_id', '8086 107c');
    expect(errnoOf(() => sim.writeFile('/bus/pci/drivers/e1000e/remove_id', '8086 107c'))).toBe('ENODEV');
  });

  it('hides pciback entirely when the module is not loaded', () => {
    const sim = new TopologyBuilder().withoutPciback().pcieEndpoint('00:03.0', { vendorId: 1, deviceId: 2, classCode: 0x020000, driver: 'x' }).build();
    expect(sim.exists(PB)).toBe(false);
    expect(sim.readdir('/bus/pci/drivers')).toEqual(['x']);
  });
});

describe('simulated sysfs: persistence', () => {
  it('round-trips through JSON, including bindings, slots and injected dom0 usage', () => {
    const sim = seedTopology();
    sim.writeFile(`${PB}/permissive`, '0000:03:00.0');
    sim.writeFile('/bus/pci/devices/0000:05:00.0/driver_override', 'pciback');
    const again = SimSysfs.deserialize(sim.serialize());
    expect(again.serialize()).toBe(sim.serialize());
    expect(again.readFile('/bus/pci/devices/0000:01:00.0/config').equals(sim.readFile('/bus/pci/devices/0000:01:00.0/config'))).toBe(true);
    expect(again.readFile(`${PB}/permissive`).toString()).toBe('0000:03:00.0\n');
    expect(again.dom0Usage.map((u) => u.bdf)).toEqual(['0000:00:1f.2', '0000:00:19.0', '0000:00:02.0']);
    expect(again.readFile('/bus/pci/devices/0000:03:00.0/resource').toString()).toBe(sim.readFile('/bus/pci/devices/0000:03:00.0/resource').toString());
  });

  it('rejects foreign JSON with a coded error', () => {
    expect(() => SimSysfs.deserialize('{"format":"other"}')).toThrow(expect.objectContaining({ code: 'ERR_SIM_STATE' }));
    expect(() => SimSysfs.deserialize('not json')).toThrow(expect.objectContaining({ code: 'ERR_SIM_STATE' }));
  });
});

describe('parseSlotSpec', () => {
  it.each([
    ['0000:01:00.0', { domain: 0, bus: 1, slot: 0, fn: 0 }],
    [' 01:1f.7 ', { domain: 0, bus: 1, slot: 0x1f, fn: 7 }],
    ['0001:02:03.*', { domain: 1, bus: 2, slot: 3, fn: -1 }],
    ['02:*.*', { domain: 0, bus: 2, slot: -1, fn: -1 }],
  ])('%s', (text, want) => expect(parseSlotSpec(text)).toEqual(want));
  it.each(['', '01:00', '01:*.3', 'x:00.0'])('rejects %j', (text) => expect(parseSlotSpec(text)).toBeUndefined());
});

describe('TopologyBuilder refusals', () => {
  const ep = { vendorId: 0x8086, deviceId: 0x10d3, classCode: 0x020000 };
  it.each([
    ['a duplicate BDF', () => new TopologyBuilder().pcieEndpoint('00:03.0', ep).pcieEndpoint('0000:00:03.0', ep)],
    ['a missing parent', () => new TopologyBuilder().pcieEndpoint('01:00.0', { ...ep, parent: '00:1c.0' }).build()],
    ['a device on the wrong bus behind its bridge', () =>
      new TopologyBuilder().pciePort('00:1c.0', { vendorId: 0x8086, deviceId: 0x2940, secondaryBus: 1 }).pcieEndpoint('02:00.0', { ...ep, parent: '00:1c.0' }).build()],
    ['a hidden device that does not exist', () => new TopologyBuilder().hide('05:00.0').build()],
  ])('%s is ERR_TOPOLOGY', (_what, fn) => {
    expect(fn).toThrow(expect.objectContaining({ code: 'ERR_TOPOLOGY' }));
  });
});
