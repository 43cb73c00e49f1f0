/**
 * A simulated qemu-xen device model for an HVM guest: a QMP server on a unix socket that answers
 * what the toolstack sends (`qmp_capabilities`, `device_add` of `xen-pci-passthrough`,
 * `device_del`, `query-pci`) the way QEMU does, so the real QmpClient is what talks to it.
 *
 * The guest side is folded in: after `device_del`, a cooperative guest ejects the slot after
 * `unplugDelayMs` and QEMU emits DEVICE_DELETED; a guest that ignores hot-unplug never does,
 * which is how the timeout and `-f` paths are exercised.
 *
 * The same device model also plays qemu-traditional (qemu-dm), for domains created with
 * `device_model_version="qemu-xen-traditional"`: no QMP socket then, but the xenstore command
 * protocol under `/local/domain/0/device-model/<domid>/` as qemu-xen-traditional's xenstore.c,
 * pass-through.c and piix4acpi.c implement it (see `serveDmCommands`).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { promises as fs } from 'node:fs';
import type { Xs, XsWatch } from '../../xs/xs';

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
  private dm: { xs: Xs; watch: XsWatch; loop: Promise<void> } | undefined;
  /** qemu-dm handles one xenstore event after another. */
  private dmQueue: Promise<void> = Promise.resolve();

  constructor(
    readonly domid: number,
    readonly state: SimQemuState,
    /** Reads the host device QEMU would open through sysfs; undefined if it does not exist. */
    private readonly hostDevice: (hostaddr: string) => HostDeviceFacts | undefined,
    /**
     * Called when a passed-through device has left the guest. qemu-xen's xen-pci-passthrough
     * unmaps the device's pirq from the domain at that point, so a toolstack's own unmap after
     * it finds nothing mapped (EINVAL on real Xen 4.17); the host wires this to its hypervisor.
     */
    private readonly onRemoved?: (hostaddr: string) => void,
    /** Called when a device is realized: qemu-xen maps its pirq into the domain then. */
    private readonly onAdded?: (hostaddr: string) => void,
  ) {}

  async listen(path: string): Promise<void> {
    await fs.rm(path, { force: true });
    this.server = createServer((sock) => this.serve(sock));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(path, resolve);
    });
  }

  /** Stops: pending unplugs are dropped (the guest had not acknowledged them yet). */
  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.clients) c.destroy();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    const dm = this.dm;
    this.dm = undefined;
    if (dm) {
      await this.dmQueue;
      await dm.watch.close().catch(() => undefined);
      await dm.loop;
      await dm.xs.close().catch(() => undefined);
    }
  }

  /** Waits until every xenstore command seen so far has been handled (qemu-traditional). */
  idle(): Promise<void> {
    return this.dmQueue;
  }

  /**
   * Serves the qemu-traditional command protocol over `xs` (a dom0 connection, as qemu-dm has):
   *  - on its first start it writes `state` = `running` (a restart keeps what is there: the
   *    simulated qemu-dm stands for one that kept running between CLI invocations, and an answer
   *    a toolstack has not yet put back is evidence pci-recover reads);
   *  - it watches `command`, reads and removes it, and reads `parameter`;
   *  - `pci-ins BDF[@VDEVFN][,opts]`: the requested devfn, or without one the first slot whose
   *    eight functions are all free (pass-through.c `find_free_vslot`), keeping the requested
   *    function; answers `parameter` = `0x%02x` then `state` = `pci-inserted`. A devfn in use, or
   *    no free slot, is answered in `parameter` only ("wrong bdf or vdevfn", "no free hotplug
   *    devfn") with `state` left alone, as qemu-dm does;
   *  - `pci-rem BDF`: only a device it inserted, only function 0 (it ejects whole slots); the
   *    guest ejects after `unplugDelayMs` (all functions of the slot go) and qemu-dm writes
   *    `state` = `pci-removed`; a guest that ignores hot-unplug never does, and an unknown device
   *    is only logged by qemu-dm, so neither gets an answer.
   */
  async serveDmCommands(xs: Xs): Promise<void> {
    const base = `/local/domain/0/device-model/${this.domid}`;
    if ((await xs.read(`${base}/state`)) === undefined) await xs.write(`${base}/state`, 'running');
    const watch = xs.watch(`${base}/command`, `dm-command-${this.domid}`);
    const loop = (async () => {
      try {
        for await (const _ev of watch) {
          this.dmQueue = this.dmQueue.then(() => this.dmCommand(xs, base)).catch(() => undefined);
        }
      } catch {
        // The connection went away: the simulated host is shutting down.
      }
    })();
    this.dm = { xs, watch, loop };
  }

  private async dmCommand(xs: Xs, base: string): Promise<void> {
    const command = await xs.read(`${base}/command`);
    if (command === undefined) return;
    await xs.rm(`${base}/command`);
    const par = await xs.read(`${base}/parameter`);
    if (par === undefined) return;
    const req = parseDmBdf(par);
    if (command === 'pci-ins') {
      const devfn = req ? this.insertDevfn(req) : -2;
      if (devfn < 0) {
        await xs.write(`${base}/parameter`, devfn === -1 ? 'no free hotplug devfn' : 'wrong bdf or vdevfn');
        return;
      }
      await xs.write(`${base}/parameter`, `0x${devfn.toString(16).padStart(2, '0')}`);
      await xs.write(`${base}/state`, 'pci-inserted');
    } else if (command === 'pci-rem') {
      const dev = req && this.state.devices.find((d) => d.hostaddr !== undefined && d.hostaddr === req.hostaddr);
      if (!dev || dev.function !== 0 || this.state.ignoreUnplug) return;
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.state.devices = this.state.devices.filter((d) => !(d.hostaddr !== undefined && d.slot === dev.slot));
        this.dmQueue = this.dmQueue.then(() => xs.write(`${base}/state`, 'pci-removed')).catch(() => undefined);
      }, this.state.unplugDelayMs);
      this.timers.add(t);
    }
  }

  /** qemu-dm's `__insert_to_pci_devfn`: the new devfn, -1 (no free slot) or -2 (taken / bad device). */
  private insertDevfn(req: { hostaddr: string; vdevfn: number | undefined }): number {
    const facts = this.hostDevice(req.hostaddr);
    // qemu-dm would fail to open the device later; the simulator refuses it at once.
    if (!facts) return -2;
    const used = (slot: number, fn: number) => this.state.devices.some((d) => d.slot === slot && d.function === fn);
    let slot: number;
    let fn: number;
    if (req.vdevfn === undefined || req.vdevfn & 0x100) {
      fn = (req.vdevfn ?? 0) & 7;
      slot = 0;
      while (slot <= 0x1f && [0, 1, 2, 3, 4, 5, 6, 7].some((f) => used(slot, f))) slot++;
      if (slot > 0x1f) return -1;
    } else {
      slot = req.vdevfn >> 3;
      fn = req.vdevfn & 7;
      if (slot > 0x1f || used(slot, fn)) return -2;
    }
    // Recorded as a passthrough device under the qemu-xen driver name, so that `sim-guest` lists
    // both kinds the same way.
    this.state.devices.push({ slot, function: fn, qdev_id: '', driver: 'xen-pci-passthrough', hostaddr: req.hostaddr, ...facts });
    this.state.devices.sort((a, b) => a.slot - b.slot || a.function - b.function);
    return (slot << 3) | fn;
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
      // What `create` asks of a fresh device model: resume it, and where its serial pty is.
      case 'cont':
        return {};
      case 'query-chardev':
        return [{ label: 'serial0', filename: `pty:/dev/pts/simqemu${this.domid}`, 'frontend-open': false }];
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
    this.onAdded?.(hostaddr);
  }

  private deviceDel(args: Record<string, unknown>, send: (o: unknown) => void): void {
    const id = String(args.id ?? '');
    const dev = this.state.devices.find((d) => d.qdev_id === id && id !== '');
    if (!dev) throw qmpErr('DeviceNotFound', `Device '${id}' not found`);
    if (this.state.ignoreUnplug) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.state.devices = this.state.devices.filter((d) => d !== dev);
      if (dev.hostaddr) this.onRemoved?.(dev.hostaddr);
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

/**
 * qemu-dm's `parse_bdf`: `SEG:BUS:DEV.FUNC[@VDEVFN][,opts]`, every number hex; no `@` means
 * "choose" (AUTO_PHP_SLOT, 0x100).
 */
function parseDmBdf(text: string): { hostaddr: string; vdevfn: number | undefined } | undefined {
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])(?:@([0-9a-f]{1,3}))?(?:,.*)?$/i.exec(text);
  if (!m) return undefined;
  const h = (x: string, w: number) => Number.parseInt(x, 16).toString(16).padStart(w, '0');
  return { hostaddr: `${h(m[1]!, 4)}:${h(m[2]!, 2)}:${h(m[3]!, 2)}.${m[4]}`, vdevfn: m[5] === undefined ? undefined : Number.parseInt(m[5], 16) };
}

function qmpErr(qmpClass: string, message: string): Error & { qmpClass: string } {
  return Object.assign(new Error(message), { qmpClass });
}
