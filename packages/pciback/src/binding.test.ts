import {
  makeAssignable,
  planMakeAssignable,
  release,
  resetDevice,
  setPermissive,
  isPermissive,
  addConfigQuirk,
  pcibackSlots,
  toLibxlDriverPath,
} from './binding';
import { PcibackError } from './errors';
import { seedTopology, TopologyBuilder } from './topology';

const PB = '/bus/pci/drivers/pciback';
const ok = (sim: ReturnType<typeof seedTopology>) => sim.writes.filter((w) => !w.error).map((w) => `${w.path} <- ${JSON.stringify(w.data)}`);

function thrown(fn: () => unknown): PcibackError {
  try {
    fn();
  } catch (e) {
    return e as PcibackError;
  }
  throw new Error('expected a throw');
}

describe('makeAssignable', () => {
  it('unbinds, adds the slot, binds, and returns the original driver (libxl order)', () => {
    const sim = seedTopology({ hidden: false });
    const r = makeAssignable(sim, '01:00.0');
    expect(r.originalDriverPath).toBe('/bus/pci/drivers/e1000e');
    expect(toLibxlDriverPath(r.originalDriverPath!)).toBe('/sys/bus/pci/drivers/e1000e');
    expect(ok(sim)).toEqual([
      '/bus/pci/drivers/e1000e/unbind <- "0000:01:00.0"',
      `${PB}/new_slot <- "0000:01:00.0"`,
      `${PB}/bind <- "0000:01:00.0"`,
    ]);
    expect(sim.device('0000:01:00.0')!.driver).toBe('pciback');
  });

  it('is idempotent and never adds a second slot entry', () => {
    const sim = seedTopology({ hidden: false });
    makeAssignable(sim, '0000:03:00.0');
    const again = makeAssignable(sim, '0000:03:00.0');
    expect(again).toMatchObject({ alreadyAssignable: true, originalDriverPath: null, steps: [] });
    expect(pcibackSlots(sim)).toEqual(['0000:03:00.0']);
    // Listed but unbound (e.g. after a manual unbind): no new_slot, just bind.
    sim.writeFile(`${PB}/unbind`, '0000:03:00.0');
    expect(planMakeAssignable(sim, '03:00.0').steps.map((s) => s.path)).toEqual([`${PB}/bind`]);
  });

  it('binds through driver_override + drivers_probe when asked', () => {
    const sim = seedTopology({ hidden: false });
    makeAssignable(sim, '03:00.0', { method: 'override' });
    expect(ok(sim)).toEqual([
      '/bus/pci/devices/0000:03:00.0/driver_override <- "pciback"',
      '/bus/pci/drivers/r8169/unbind <- "0000:03:00.0"',
      '/bus/pci/drivers_probe <- "0000:03:00.0"',
    ]);
    expect(sim.device('0000:03:00.0')!.driver).toBe('pciback');
  });

  it('rolls back and reports path and errno when the bind is refused', () => {
    const sim = seedTopology({ hidden: false });
    // A CardBus bridge (header type 2): pciback's probe refuses it with ENODEV.
    sim.device('0000:05:01.0')!.config[0x0e] = 0x02;
    const e = thrown(() => makeAssignable(sim, '05:01.0'));
    expect(e).toBeInstanceOf(PcibackError);
    expect(e.code).toBe('ERR_SYSFS_IO');
    expect(e.errno).toBe('ENODEV');
    expect(e.path).toBe('sim:/sys/bus/pci/drivers/pciback/bind');
    expect(e.message).toBe('cannot make 0000:05:01.0 assignable: write sim:/sys/bus/pci/drivers/pciback/bind: ENODEV (No such device)');
    // Back where it was: bound to its driver, not in the slot list.
    expect(sim.device('0000:05:01.0')!.driver).toBe('snd_emu10k1');
    expect(pcibackSlots(sim)).toEqual([]);
  });

  it('verifies by reading back: a declined drivers_probe is an error and is undone', () => {
    const sim = seedTopology({ hidden: false });
    sim.device('0000:05:01.0')!.config[0x0e] = 0x02;
    const e = thrown(() => makeAssignable(sim, '05:01.0', { method: 'override' }));
    expect(e.code).toBe('ERR_PCIBACK_VERIFY');
    expect(e.message).toContain('is absent, not to pciback');
    expect(sim.device('0000:05:01.0')).toMatchObject({ driver: 'snd_emu10k1', driverOverride: null });
  });

  it('refuses unknown devices and a missing pciback with coded errors', () => {
    expect(thrown(() => makeAssignable(seedTopology(), '0000:0a:00.0')).code).toBe('ERR_PCI_NO_DEVICE');
    const noPb = new TopologyBuilder().withoutPciback().pcieEndpoint('00:03.0', { vendorId: 1, deviceId: 2, classCode: 0x20000, driver: 'x' }).build();
    const e = thrown(() => makeAssignable(noPb, '00:03.0'));
    expect(e.code).toBe('ERR_PCIBACK_NOT_LOADED');
    expect(e.message).toContain('modprobe xen-pciback');
    expect(thrown(() => makeAssignable(noPb, 'garbage')).code).toBe('ERR_BDF');
  });
});

describe('release', () => {
  it('unbinds, removes the slot, and rebinds the recorded driver (libxl path form accepted)', () => {
    const sim = seedTopology({ hidden: false });
    const { originalDriverPath } = makeAssignable(sim, '01:00.0');
    sim.writes.length = 0;
    const r = release(sim, '01:00.0', { rebindTo: toLibxlDriverPath(originalDriverPath!) });
    expect(r).toMatchObject({ wasPciback: true, driverPath: '/bus/pci/drivers/e1000e' });
    expect(ok(sim)).toEqual([`${PB}/unbind <- "0000:01:00.0"`, `${PB}/remove_slot <- "0000:01:00.0"`, '/bus/pci/drivers/e1000e/bind <- "0000:01:00.0"']);
    expect(pcibackSlots(sim)).toEqual([]);
  });

  it('without -r leaves the device unbound; undoes an override binding', () => {
    const sim = seedTopology({ hidden: false });
    makeAssignable(sim, '03:00.0', { method: 'override' });
    const r = release(sim, '03:00.0');
    expect(r.driverPath).toBeNull();
    expect(sim.device('0000:03:00.0')!.driverOverride).toBeNull();
    expect(pcibackSlots(sim)).toEqual([]);
  });

  it('reports a failed rebind with path and errno and rolls the release back', () => {
    const sim = seedTopology();
    const e = thrown(() => release(sim, '01:00.0', { rebindTo: '/bus/pci/drivers/r8169' }));
    expect(e.errno).toBe('ENODEV');
    expect(e.path).toBe('sim:/sys/bus/pci/drivers/r8169/bind');
    // Rollback gave the device back to pciback rather than leaving it half-released.
    expect(sim.device('0000:01:00.0')!.driver).toBe('pciback');
    expect(pcibackSlots(sim)).toContain('0000:01:00.0');
  });
});

describe('reset, permissive, quirks', () => {
  it('resets through the sysfs reset attribute and refuses when the kernel has none', () => {
    const sim = seedTopology();
    expect(resetDevice(sim, '01:00.0')).toEqual({ bdf: '0000:01:00.0', via: 'reset' });
    expect(sim.device('0000:01:00.0')!.resetCount).toBe(1);
    const e = thrown(() => resetDevice(sim, '02:00.0'));
    expect(e.code).toBe('ERR_PCI_NO_RESET');
    expect(e.message).toBe("the kernel doesn't support reset from sysfs for PCI device 0000:02:00.0 (no sim:/sys/bus/pci/devices/0000:02:00.0/reset)");
  });

  it('surfaces ENOTTY when every reset method has been disabled', () => {
    const sim = seedTopology();
    sim.writeFile('/bus/pci/devices/0000:01:00.0/reset_method', '');
    const e = thrown(() => resetDevice(sim, '01:00.0'));
    expect([e.code, e.errno]).toEqual(['ERR_SYSFS_IO', 'ENOTTY']);
    expect(e.message).toContain('Inappropriate ioctl for device');
  });

  it('sets permissive only on a pciback device and verifies it', () => {
    const sim = seedTopology();
    setPermissive(sim, '01:00.0');
    expect(isPermissive(sim, '0000:01:00.0')).toBe(true);
    expect(isPermissive(sim, '0000:03:00.0')).toBe(false);
    const e = thrown(() => setPermissive(sim, '00:19.0'));
    expect(e.code).toBe('ERR_PCIBACK_VERIFY');
    expect(e.message).toBe('cannot set permissive for 0000:00:19.0: it is not bound to pciback');
  });

  it('adds a config quirk and reads it back', () => {
    const sim = seedTopology();
    addConfigQuirk(sim, '03:00.0', 0xe0, 2, 0xff);
    expect(sim.readFile(`${PB}/quirks`).toString()).toContain('03:00.0\n\t10ec:8168:10ec:8168\n\t\t000000e0:2:000000ff\n');
    expect(thrown(() => addConfigQuirk(sim, '03:00.0', 0x1000, 2, 0xff)).errno).toBe('EINVAL');
  });
});

describe('bindDriver and the async pcibackOps adapter', () => {
  it('seizes with the original driver in libxl form, rebinds it, and verifies', async () => {
    const sim = seedTopology({ hidden: false });
    const ops = (await import('./binding')).pcibackOps(sim);
    expect(await ops.seize('0000:03:00.0')).toEqual({ originalDriverPath: '/sys/bus/pci/drivers/r8169' });
    expect(await ops.currentDriverPath('0000:03:00.0')).toBe('/sys/bus/pci/drivers/pciback');
    await ops.setPermissive('0000:03:00.0');
    expect(await ops.reset('0000:03:00.0')).toBeUndefined();
    expect(await ops.reset('0000:02:00.0')).toContain("doesn't support reset");
    await ops.release('0000:03:00.0');
    expect(isPermissive(sim, '0000:03:00.0')).toBe(false);
    await ops.bindDriver('0000:03:00.0', '/sys/bus/pci/drivers/r8169');
    expect(sim.device('0000:03:00.0')!.driver).toBe('r8169');
    await expect(ops.bindDriver('0000:03:00.0', '/sys/bus/pci/drivers/r8169')).rejects.toMatchObject({ errno: 'EBUSY' });
  });
});
