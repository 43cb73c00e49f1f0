/**
 * A simulated qemu-xen device model for an HVM guest: a QMP server on a unix socket that answers
 * what the toolstack sends (`qmp_capabilities`, `device_add` of `xen-pci-passthrough`,
 * `device_del`, `query-pci`) the way QEMU does, so the real QmpClient is what talks to it.
 *
 * The guest side is folded in: after `device_del`, a cooperative guest ejects the slot after
 * `unplugDelayMs` and QEMU emits DEVICE_DELETED; a guest that ignores hot-unplug never does,
 * which is how the timeout and `-f` paths are exercised.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { promises as fs } from 'node:fs';

export interface SimQemuDevice {
  slot: number;
  function: number;
  qdev_id: string;
  driver: string;
  hostaddr?: string;
  permissive?: boolean;
  vendor: number;
  device: number;
  class: number;
}

export interface SimQemuState {
  devices: SimQemuDevice[];
  /** The guest never acknowledges hot-unplug. */
  ignoreUnplug: boolean;
  unplugDelayMs: number;
}

/** The emulated devices of a default Xen HVM guest (i440fx): host bridge, PIIX3, VGA, platform. */
export function defaultQemuState(): SimQemuState {
  return {
    ignoreUnplug: false,
    unplugDelayMs: 50,
    devices: [
      { slot: 0, function: 0, qdev_id: '', driver: 'i440FX', vendor: 0x8086, device: 0x1237, class: 0x0600 },
      { slot: 1, function: 0, qdev_id: '', driver: 'PIIX3', vendor: 0x8086, device: 0x7000, class: 0x0601 },
      { slot: 1, function: 1, qdev_id: '', driver: 'piix3-ide', vendor: 0x8086, device: 0x7010, class: 0x0101 },
      { slot: 1, function: 3, qdev_id: '', driver: 'PIIX4_PM', vendor: 0x8086, device: 0x7113, class: 0x0680 },
      { slot: 2, function: 0, qdev_id: '', driver: 'cirrus-vga', vendor: 0x1013, device: 0x00b8, class: 0x0300 },
      { slot: 3, function: 0, qdev_id: '', driver: 'xen-platform', vendor: 0x5853, device: 0x0001, class: 0xff80 },
    ],
  };
}

export interface HostDeviceFacts {
  vendor: number;
  device: number;
  class: number;
}

export class SimQemu {
  private server: Server | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly clients = new Set<Socket>();

  constructor(
    readonly domid: number,
    readonly state: SimQemuState,
    /** Reads the host device QEMU would open through sysfs; undefined if it does not exist. */
    private readonly hostDevice: (hostaddr: string) => HostDeviceFacts | undefined,
  ) {}

  async listen(path: string): Promise<void> {
    await fs.rm(path, { force: true });
    this.server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, resolve);
    });
  }

  /** Lets pending unplugs finish (a cooperative guest acks within unplugDelayMs), then stops. */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.clients) c.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private serve(sock: Socket): void {
    this.clients.add(sock);
    sock.on('close', () => this.clients.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setEncoding('utf8');
    const send = (o: unknown) => {
      if (!sock.destroyed) sock.write(JSON.stringify(o) + '\r\n');
    };
    send({ QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'Debian 1:7.2+dfsg (xentool sim)' }, capabilities: ['oob'] } });
    let negotiated = false;
    let buf = '';
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: { execute?: string; arguments?: Record<string, unknown>; id?: unknown };
        try {
          msg = JSON.parse(line);
        } catch {
          send({ error: { class: 'GenericError', desc: 'JSON parse error' } });
          continue;
        }
        const reply = (r: object) => send(msg.id === undefined ? r : { ...r, id: msg.id });
        if (!negotiated) {
          if (msg.execute === 'qmp_capabilities') {
            negotiated = true;
            reply({ return: {} });
          } else {
            reply({ error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" } });
          }
          continue;
        }
        try {
          reply({ return: this.command(msg.execute ?? '', msg.arguments ?? {}, send) });
        } catch (e) {
          const err = e as { qmpClass?: string; message: string };
          reply({ error: { class: err.qmpClass ?? 'GenericError', desc: err.message } });
        }
      }
    });
  }

  private command(cmd: string, args: Record<string, unknown>, send: (o: unknown) => void): unknown {
    switch (cmd) {
      case 'qmp_capabilities':
        throw qmpErr('CommandNotFound', "Capabilities negotiation is already complete, command ignored");
      case 'query-pci':
        return [
          {
            bus: 0,
            devices: [...this.state.devices]
              .sort((a, b) => a.slot - b.slot || a.function - b.function)
              .map((d) => ({
                bus: 0,
                slot: d.slot,
                function: d.function,
                class_info: { class: d.class },
                id: { device: d.device, vendor: d.vendor },
                qdev_id: d.qdev_id,
                regions: [],
              })),
          },
        ];
      case 'device_add':
        this.deviceAdd(args);
        return {};
      case 'device_del':
        this.deviceDel(args, send);
        return {};
      default:
        throw qmpErr('CommandNotFound', `The command ${cmd} has not been found`);
    }
  }

  private deviceAdd(args: Record<string, unknown>): void {
    const driver = String(args.driver ?? '');
    if (driver !== 'xen-pci-passthrough') throw qmpErr('GenericError', `'${driver}' is not a valid device model name`);
    const id = typeof args.id === 'string' ? args.id : '';
    if (id && this.state.devices.some((d) => d.qdev_id === id)) throw qmpErr('GenericError', `Duplicate device ID '${id}' for device`);
    for (const k of Object.keys(args)) {
      if (!['driver', 'id', 'hostaddr', 'addr', 'permissive', 'multifunction'].includes(k)) {
        throw qmpErr('GenericError', `Property 'xen-pci-passthrough.${k}' not found`);
      }
    }
    const hostaddr = String(args.hostaddr ?? '');
    const facts = this.hostDevice(hostaddr);
    if (!facts) throw qmpErr('GenericError', `xen_pt: Failed to "open" the real pci device. rc: -2`);
    let slot: number;
    let fn = 0;
    if (args.addr !== undefined) {
      const m = /^([0-9a-f]{1,2})(?:\.([0-7]))?$/i.exec(String(args.addr));
      if (!m) throw qmpErr('GenericError', `Property 'xen-pci-passthrough.addr' doesn't take value '${String(args.addr)}'`);
      slot = parseInt(m[1]!, 16);
      fn = m[2] ? parseInt(m[2], 10) : 0;
      if (slot > 0x1f) throw qmpErr('GenericError', `Property 'xen-pci-passthrough.addr' doesn't take value '${String(args.addr)}'`);
      const taken = this.state.devices.find((d) => d.slot === slot && d.function === fn);
      if (taken) {
        throw qmpErr(
          'GenericError',
          `PCI: slot ${slot} function ${fn} not available for xen-pci-passthrough, in use by ${taken.driver}${taken.qdev_id ? `,id=${taken.qdev_id}` : ''}`,
        );
      }
    } else {
      // QEMU puts a device without addr in the first slot with nothing in it.
      slot = 0;
      while (slot <= 0x1f && this.state.devices.some((d) => d.slot === slot)) slot++;
      if (slot > 0x1f) throw qmpErr('GenericError', 'PCI: no slot/function available for xen-pci-passthrough, all in use or reserved');
    }
    this.state.devices.push({
      slot,
      function: fn,
      qdev_id: id,
      driver,
      hostaddr,
      ...(args.permissive === true ? { permissive: true } : {}),
      ...facts,
    });
    // Kept in bus order, as QEMU's own device list is walked.
    this.state.devices.sort((a, b) => a.slot - b.slot || a.function - b.function);
  }

  private deviceDel(args: Record<string, unknown>, send: (o: unknown) => void): void {
    const id = String(args.id ?? '');
    const dev = this.state.devices.find((d) => d.qdev_id === id && id !== '');
    if (!dev) throw qmpErr('DeviceNotFound', `Device '${id}' not found`);
    if (this.state.ignoreUnplug) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.state.devices = this.state.devices.filter((d) => d !== dev);
      const now = Date.now();
      send({
        event: 'DEVICE_DELETED',
        data: { device: id, path: `/machine/peripheral/${id}` },
        timestamp: { seconds: Math.floor(now / 1000), microseconds: (now % 1000) * 1000 },
      });
    }, this.state.unplugDelayMs);
    this.timers.add(t);
  }
}

function qmpErr(qmpClass: string, message: string): Error & { qmpClass: string } {
  return Object.assign(new Error(message), { qmpClass });
}
