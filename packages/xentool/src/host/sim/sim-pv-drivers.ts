/**
 * Simulated kernel drivers on both ends of the PV PCI protocol, reacting to xenstore as the Linux
 * drivers do (drivers/xen/xen-pciback/xenbus.c, drivers/pci/xen-pcifront.c; states in
 * xen-interfaces.md §4.3-4.5). They talk to xenstored like everyone else: pciback as dom0,
 * pcifront as the guest (so the guest's permissions apply), through watches.
 */
import type { Xs } from '../../xs/xs';

const BE_ROOT = '/local/domain/0/backend/pci';

/** Runs jobs one at a time, in order: a driver handles one xenbus event after another. */
class Serial {
  private tail: Promise<void> = Promise.resolve();
  run(job: () => Promise<void>): Promise<void> {
    this.tail = this.tail.then(job).catch(() => undefined);
    return this.tail;
  }
  idle(): Promise<void> {
    return this.tail;
  }
}

abstract class WatchingDriver {
  protected readonly serial = new Serial();
  private watchClose: (() => Promise<void>) | undefined;
  private loop: Promise<void> | undefined;
  private onEvent: (() => Promise<void>) | undefined;

  protected startWatch(xs: Xs, path: string, token: string, onEvent: () => Promise<void>): void {
    this.onEvent = onEvent;
    const w = xs.watch(path, token);
    this.watchClose = () => w.close();
    this.loop = (async () => {
      try {
        for await (const _ev of w) void this.serial.run(onEvent);
      } catch {
        // The connection went away: the simulated host is shutting down.
      }
    })();
  }

  /**
   * Handles one event as if its watch had just fired: what a freshly started driver does first
   * (a xenstore watch fires once when it is set). SimHost.close uses it to find out whether the
   * next start would change anything.
   */
  kick(): void {
    const e = this.onEvent;
    if (e) void this.serial.run(e);
  }

  /** Waits until every queued event has been handled. */
  idle(): Promise<void> {
    return this.serial.idle();
  }

  async stop(): Promise<void> {
    await this.serial.idle();
    await this.watchClose?.();
    await this.loop;
  }
}

export interface PcibackHost {
  /** Whether pciback owns the device in (simulated) sysfs; export fails otherwise. */
  ownedByPciback(bdf: string): boolean;
  /** pciback resets a device it gets back (pcistub_put_pci_dev). */
  resetOnRelease(bdf: string): void;
}

/** dom0's xen-pciback, in vpci mode (the default): one virtual bus 00, slots given in order. */
export class SimPciback extends WatchingDriver {
  constructor(private readonly xs: Xs, private readonly host: PcibackHost) {
    super();
  }

  start(): void {
    // A xenbus backend watches its own directory and the frontend's state ("otherend"); one
    // watch on /local/domain covers both for every guest.
    this.startWatch(this.xs, '/local/domain', 'sim-pciback', () => this.scan());
  }

  private async scan(): Promise<void> {
    for (const domid of await this.xs.directory(BE_ROOT)) {
      const be = `${BE_ROOT}/${domid}/0`;
      if ((await this.xs.read(`${be}/state`)) === undefined) continue;
      await this.step(be);
    }
  }

  private async step(be: string): Promise<void> {
    const xs = this.xs;
    const state = await xs.read(`${be}/state`);
    const fe = await xs.read(`${be}/frontend`);
    const feState = fe === undefined ? undefined : await xs.read(`${fe}/state`);
    if (state === '1') {
      await xs.write(`${be}/state`, '2');
      return;
    }
    if (state === '2') {
      if (!(await this.exportPending(be))) return;
      // pciback publishes the root before the count (order as seen in xenstore-ls on real Xen).
      await xs.write(`${be}/root-0`, '0000:00');
      await xs.write(`${be}/root_num`, '1');
      await xs.write(`${be}/state`, '3');
      return;
    }
    if (state === '3') {
      // Linux pciback (xen_pcibk_be_watch): devices added while it is Initialised (a domain
      // being created gets them one by one before its pcifront connects) are exported too.
      if (!(await this.exportPending(be))) return;
      if (feState === '3') await xs.write(`${be}/state`, '4');
      return;
    }
    if (state === '7' && feState === '7') {
      const num = Number.parseInt((await xs.read(`${be}/num_devs`)) ?? '0', 10);
      for (let i = 0; i < num; i++) {
        if ((await xs.read(`${be}/state-${i}`)) === '5') {
          const dev = await xs.read(`${be}/dev-${i}`);
          if (dev) this.host.resetOnRelease(dev);
          // pciback leaves state-i=5 and vdev-i; the toolstack removes them.
        }
      }
      if (!(await this.exportPending(be))) return;
      await xs.write(`${be}/state`, '8');
      return;
    }
    if (state === '8' && feState === '4') {
      await xs.write(`${be}/state`, '4');
    }
  }

  /** Exports every `state-i == 1` device; false (and backend Closing) when one is not ours. */
  private async exportPending(be: string): Promise<boolean> {
    const xs = this.xs;
    const num = Number.parseInt((await xs.read(`${be}/num_devs`)) ?? '0', 10);
    const used = new Map<string, number>();
    for (let i = 0; i < num; i++) {
      const vdev = await xs.read(`${be}/vdev-${i}`);
      const dev = await xs.read(`${be}/dev-${i}`);
      const st = await xs.read(`${be}/state-${i}`);
      if (vdev && dev && st !== '5') used.set(physSlot(dev), parseInt(vdev.split(':')[2]!.split('.')[0]!, 16));
    }
    for (let i = 0; i < num; i++) {
      const st = await xs.read(`${be}/state-${i}`);
      if (st !== undefined && st !== '1') continue;
      const dev = await xs.read(`${be}/dev-${i}`);
      if (!dev) continue;
      if (!this.host.ownedByPciback(dev)) {
        await xs.write(`${be}/error`, `Couldn't locate PCI device (${dev})! perhaps already in-use?`);
        await xs.write(`${be}/state`, '5');
        return false;
      }
      // vpci: functions of one physical slot share a virtual slot; otherwise the first free one.
      let slot = used.get(physSlot(dev));
      if (slot === undefined) {
        const taken = new Set(used.values());
        slot = 0;
        while (taken.has(slot)) slot++;
        used.set(physSlot(dev), slot);
      }
      const fn = parseInt(dev.split('.')[1]!, 16);
      await xs.write(`${be}/vdev-${i}`, `0000:00:${slot.toString(16).padStart(2, '0')}.${fn.toString(16).padStart(2, '0')}`);
      await xs.write(`${be}/state-${i}`, '3');
    }
    return true;
  }
}

function physSlot(dev: string): string {
  return dev.slice(0, dev.lastIndexOf('.'));
}

export interface GuestPciState {
  /** Guest-visible addresses (pciback's vdev-N) of the devices the guest has. */
  devices: string[];
  /** The guest is hung: its pcifront answers nothing. */
  hung: boolean;
}

/** A PV guest's xen-pcifront, connected to xenstored as the guest. */
export class SimPcifront extends WatchingDriver {
  constructor(private readonly xs: Xs, private readonly domid: number, readonly guest: GuestPciState) {
    super();
  }

  private get fe(): string {
    return `/local/domain/${this.domid}/device/pci/0`;
  }

  start(): void {
    // The guest watches its own device directory; once the frontend exists it also needs the
    // backend's changes, so a second watch follows the backend path it names.
    this.startWatch(this.xs, `/local/domain/${this.domid}/device`, `sim-pcifront-${this.domid}`, () => this.step());
    this.beWatch = this.xs.watch(`${BE_ROOT}/${this.domid}/0`, `sim-pcifront-be-${this.domid}`);
    this.beLoop = (async () => {
      try {
        for await (const _ of this.beWatch!) void this.serial.run(() => this.step());
      } catch {
        // closing
      }
    })();
  }

  private beWatch: ReturnType<Xs['watch']> | undefined;
  private beLoop: Promise<void> | undefined;

  override async stop(): Promise<void> {
    await super.stop();
    await this.beWatch?.close();
    await this.beLoop;
  }

  private async step(): Promise<void> {
    if (this.guest.hung) return;
    const xs = this.xs;
    const feState = await xs.read(`${this.fe}/state`);
    if (feState === undefined) {
      this.guest.devices = [];
      return;
    }
    const be = await xs.read(`${this.fe}/backend`);
    if (!be) return;
    const beState = await xs.read(`${be}/state`);
    if (feState === '1' && beState !== undefined) {
      await xs.transaction(async (tx) => {
        await tx.write(`${this.fe}/pci-op-ref`, '8');
        await tx.write(`${this.fe}/event-channel`, '12');
        await tx.write(`${this.fe}/magic`, '7');
      });
      await xs.write(`${this.fe}/state`, '3');
      return;
    }
    if (beState === '4' && feState === '3') {
      this.guest.devices = await this.scan(be);
      await xs.write(`${this.fe}/state`, '4');
      return;
    }
    if (beState === '7' && feState === '4') {
      const num = Number.parseInt((await xs.read(`${be}/num_devs`)) ?? '0', 10);
      for (let i = 0; i < num; i++) {
        if ((await xs.read(`${be}/state-${i}`)) === '5') {
          const vdev = await xs.read(`${be}/vdev-${i}`);
          this.guest.devices = this.guest.devices.filter((d) => d !== vdev);
        }
      }
      await xs.write(`${this.fe}/state`, '7');
      return;
    }
    if (beState === '8' && feState === '7') {
      this.guest.devices = await this.scan(be);
      await xs.write(`${this.fe}/state`, '4');
    }
  }

  /** pcifront rescans the roots: every exported device the backend still offers. */
  private async scan(be: string): Promise<string[]> {
    const num = Number.parseInt((await this.xs.read(`${be}/num_devs`)) ?? '0', 10);
    const out: string[] = [];
    for (let i = 0; i < num; i++) {
      const [st, vdev] = await Promise.all([this.xs.read(`${be}/state-${i}`), this.xs.read(`${be}/vdev-${i}`)]);
      if (st === '3' && vdev) out.push(vdev);
    }
    return out.sort();
  }
}
