import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { QmpClient, queryPciDevices } from '../../qmp/qmp-client';
import { SimQemu, defaultQemuState } from './sim-qemu';

const NIC = { vendor: 0x8086, device: 0x100e, class: 0x0200 };
let dir: string;
let qemu: SimQemu;
let sock: string;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'simqemu-'));
  sock = join(dir, 'qmp-libxl-5');
  qemu = new SimQemu(5, defaultQemuState(), (h) => (h === '0000:03:00.0' || h === '0000:01:00.0' ? NIC : undefined));
  await qemu.listen(sock);
});
afterEach(async () => {
  await qemu.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('simulated QEMU over the real QMP client', () => {
  it('refuses commands before capabilities negotiation, as QEMU does', async () => {
    const lines = await new Promise<string[]>((resolve) => {
      const s = createConnection(sock);
      let buf = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => {
        buf += c;
        const ls = buf.split('\r\n').filter(Boolean);
        if (ls.length === 1) s.write('{"execute":"query-pci","id":1}\r\n');
        if (ls.length === 2) {
          s.destroy();
          resolve(ls);
        }
      });
    });
    expect(JSON.parse(lines[0]!)).toHaveProperty('QMP.version.qemu.major', 7);
    expect(JSON.parse(lines[1]!)).toEqual({ id: 1, error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } });
  });

  it('adds a passthrough device in the requested slot and lists it in query-pci', async () => {
    const c = await QmpClient.connect(sock);
    try {
      await c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'pci-pt-03_00.0', hostaddr: '0000:03:00.0', addr: '7.0' });
      const devs = queryPciDevices(await c.execute('query-pci'));
      expect(devs.find((d) => d.qdev_id === 'pci-pt-03_00.0')).toMatchObject({ slot: 7, function: 0, id: { vendor: 0x8086, device: 0x100e } });
      await expect(
        c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'pci-pt-01_00.0', hostaddr: '0000:01:00.0', addr: '7.0' }),
      ).rejects.toMatchObject({ code: 'ERR_QMP_COMMAND', message: expect.stringContaining('slot 7 function 0 not available') });
    } finally {
      c.close();
    }
  });

  it('puts a device without addr in the first free slot (4 on a default guest)', async () => {
    const c = await QmpClient.connect(sock);
    try {
      await c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'pci-pt-01_00.0', hostaddr: '0000:01:00.0' });
      const d = queryPciDevices(await c.execute('query-pci')).find((x) => x.qdev_id === 'pci-pt-01_00.0');
      expect(d?.slot).toBe(4);
    } finally {
      c.close();
    }
  });

  it('refuses a host device that does not exist and an unknown property', async () => {
    const c = await QmpClient.connect(sock);
    try {
      await expect(c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'x', hostaddr: '0000:09:00.0' })).rejects.toThrow(/real pci device/);
      await expect(
        c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'y', hostaddr: '0000:03:00.0', machine_addr: '0000:03:00.0' }),
      ).rejects.toThrow(/machine_addr' not found/);
    } finally {
      c.close();
    }
  });

  it('removes a device after device_del when the guest acks, with a DEVICE_DELETED event', async () => {
    const c = await QmpClient.connect(sock);
    try {
      await c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'pci-pt-03_00.0', hostaddr: '0000:03:00.0' });
      await c.execute('device_del', { id: 'pci-pt-03_00.0' });
      // Removal needs the guest: right after device_del the device is still there.
      expect(queryPciDevices(await c.execute('query-pci')).some((d) => d.qdev_id === 'pci-pt-03_00.0')).toBe(true);
      const ev = await c.nextEvent('DEVICE_DELETED', 2000);
      expect(ev?.data).toEqual({ device: 'pci-pt-03_00.0', path: '/machine/peripheral/pci-pt-03_00.0' });
      expect(queryPciDevices(await c.execute('query-pci')).some((d) => d.qdev_id === 'pci-pt-03_00.0')).toBe(false);
    } finally {
      c.close();
    }
  });

  it('never removes the device when the guest ignores hot-unplug', async () => {
    qemu.state.ignoreUnplug = true;
    const c = await QmpClient.connect(sock);
    try {
      await c.execute('device_add', { driver: 'xen-pci-passthrough', id: 'pci-pt-03_00.0', hostaddr: '0000:03:00.0' });
      await c.execute('device_del', { id: 'pci-pt-03_00.0' });
      expect(await c.nextEvent('DEVICE_DELETED', 200)).toBeUndefined();
      expect(queryPciDevices(await c.execute('query-pci')).some((d) => d.qdev_id === 'pci-pt-03_00.0')).toBe(true);
    } finally {
      c.close();
    }
  });

  it('reports a missing socket as a coded error', async () => {
    await expect(QmpClient.connect(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ERR_QMP_UNAVAILABLE' });
  });
});
