/**
 * A pci-detach that waits for the guest stops as soon as the domain shuts down, instead of
 * holding the host lock for the whole timeout (seen on real Xen: an HVM guest rebooted during
 * `pci-detach --timeout 300`, and its monitor gave up cleaning the domain after 120 s waiting for
 * the lock). Nothing of the device's attachment is undone: it goes with the domain.
 */
import { SimBench } from './sim-helpers';
import { SimHost } from '../../packages/xentool/src/host/sim/sim-host';
import { stepHandlersFor } from '../../packages/xentool/src/pci/pci-ops';

jest.setTimeout(60_000);

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('h.cfg', 'name = "hvm1"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
  await b.ok(['pci-attach', 'hvm1', '03:00.0@7']);
  await b.ok(['sim-guest', 'hvm1', '--ignore-unplug']);
});
afterEach(() => b.cleanup());

async function ejectWhile(shutdownAfterMs: number | undefined, timeoutMs: number): Promise<{ error: unknown; elapsedMs: number }> {
  const host = await SimHost.open({ dir: b.state });
  try {
    const handlers = stepHandlersFor(host, { warn: () => undefined });
    const dom = host.state.domains.find((d) => d.domid === 1)!;
    const timer = shutdownAfterMs === undefined ? undefined : setTimeout(() => (dom.shutdownReason = 'reboot'), shutdownAfterMs);
    const started = Date.now();
    let error: unknown;
    try {
      await handlers['hvm.deviceDel']!.apply({ op: 'hvm.deviceDel', domid: 1, bdf: '0000:03:00.0', timeoutMs, force: false });
    } catch (e) {
      error = e;
    }
    clearTimeout(timer);
    return { error, elapsedMs: Date.now() - started };
  } finally {
    await host.close();
  }
}

it('stops waiting for the eject when the domain shuts down, with ERR_DOMAIN_ENDED naming the reason', async () => {
  const r = await ejectWhile(300, 30_000);
  expect(r.error).toMatchObject({ code: 'ERR_DOMAIN_ENDED', exitCode: 1 });
  expect((r.error as Error).message).toBe(
    'domain 1 shut down (reboot) while waiting for it to eject pci-pt-03_00.0; the device stays with the domain until it is destroyed',
  );
  // Within a few polls of the shutdown, far from the 30 s timeout.
  expect(r.elapsedMs).toBeLessThan(10_000);
  // Nothing else changed: the device is still listed as attached.
  expect((await b.ok(['pci-list', 'hvm1'])).stdout).toBe('Vdev Device\n07.0 0000:03:00.0\n');
});

it('a guest that stays up but ignores the eject still gets the whole timeout (ERR_GUEST_TIMEOUT)', async () => {
  const r = await ejectWhile(undefined, 1_500);
  expect(r.error).toMatchObject({ code: 'ERR_GUEST_TIMEOUT' });
  expect(r.elapsedMs).toBeGreaterThanOrEqual(1_500);
});

it('with -f it warns and goes on (the rest of the detach takes the device from the dead domain)', async () => {
  const host = await SimHost.open({ dir: b.state });
  const warnings: string[] = [];
  try {
    const handlers = stepHandlersFor(host, { warn: (t) => warnings.push(t) });
    host.state.domains.find((d) => d.domid === 1)!.shutdownReason = 'crash';
    await handlers['hvm.deviceDel']!.apply({ op: 'hvm.deviceDel', domid: 1, bdf: '0000:03:00.0', timeoutMs: 30_000, force: true });
  } finally {
    await host.close();
  }
  expect(warnings).toEqual(['domain 1 shut down (crash) while waiting for it to eject pci-pt-03_00.0; removing it anyway (-f)']);
});

describe('PV', () => {
  beforeEach(async () => {
    await b.ok(['sim-create', b.config('p.cfg', 'name = "pv1"\ntype = "pv"\nmemory = 256\nkernel = "/boot/vmlinuz"\npassthrough = "enabled"\n')]);
    await b.ok(['pci-attach', 'pv1', '01:00.0']);
  });

  it('stops waiting for pcifront when the domain shuts down, and puts the backend nodes back', async () => {
    const host = await SimHost.open({ dir: b.state });
    const be = '/local/domain/0/backend/pci/2/0';
    let error: unknown;
    const started = Date.now();
    try {
      const before = { state: await host.xs.read(`${be}/state`), dev: await host.xs.read(`${be}/state-0`) };
      const handlers = stepHandlersFor(host, { warn: () => undefined });
      // pcifront in the simulated guest answers at once: freeze it by shutting the domain down first.
      host.state.domains.find((d) => d.domid === 2)!.shutdownReason = 'poweroff';
      try {
        await handlers['backend.release']!.apply({ op: 'backend.release', domid: 2, bdf: '0000:01:00.0', timeoutMs: 30_000, force: false });
      } catch (e) {
        error = e;
      }
      expect({ state: await host.xs.read(`${be}/state`), dev: await host.xs.read(`${be}/state-0`) }).toEqual(before);
    } finally {
      await host.close();
    }
    expect(error).toMatchObject({ code: 'ERR_DOMAIN_ENDED' });
    expect((error as Error).message).toBe('domain 2 shut down (poweroff) while waiting for it to release 0000:01:00.0; the device stays with the domain until it is destroyed');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
