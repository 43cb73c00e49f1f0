/**
 * A qemu-traditional command interrupted *inside* its step (the crash tests kill at step
 * boundaries only): pci-recover must read from qemu-dm's `state` whether the command took effect
 * and undo exactly that, leaving qemu-dm's mailbox as it was before the step.
 */
import { SimBench } from '../pci/sim-helpers';
import { SimHost } from '../../packages/xentool/src/host/sim/sim-host';
import { recoveryEnvFor } from '../../packages/xentool/src/intent/host-intents';
import { preimageOf, settleInterrupted } from '../../packages/xentool/src/intent/interrupted';
import { stepHandlersFor } from '../../packages/xentool/src/pci/pci-ops';
import type { Step } from '../../packages/xentool/src/plan/plan';

jest.setTimeout(60_000);

const DM = '/local/domain/0/device-model/1';
let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('t.cfg', 'name = "trad"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\ndevice_model_version = "qemu-xen-traditional"\n')]);
});
afterEach(() => b.cleanup());

/** Runs `step`'s handler as far as it goes, then settles it as pci-recover would after a crash there. */
async function interruptAndSettle(step: Step): Promise<{ said: string | undefined; guest: string[]; dm: Record<string, string> }> {
  const host = await SimHost.open({ dir: b.state });
  try {
    const env = recoveryEnvFor(host, stepHandlersFor(host, { warn: () => undefined }));
    const pre = await preimageOf(env, step);
    // The command step itself ran to the end: qemu-dm answered and the answer is still in `state`,
    // which is what a crash before the step returned leaves behind.
    await env.handlers[step.op]!.apply(step);
    const said = await settleInterrupted(env, step, pre);
    await host.settle();
    const dm: Record<string, string> = {};
    for (const k of ['state', 'parameter', 'command']) {
      const v = await host.xs.read(`${DM}/${k}`);
      if (v !== undefined) dm[k] = v;
    }
    const guest = host.state.qemu['1']!.devices.filter((d) => d.hostaddr !== undefined).map((d) => `${d.slot}.${d.function} ${d.hostaddr}`);
    return { said, guest, dm };
  } finally {
    await host.close();
  }
}

it('an interrupted pci-ins that qemu-dm answered is taken out of the guest again', async () => {
  const r = await interruptAndSettle({ op: 'qemuTrad.pciIns', domid: 1, bdf: '0000:01:00.0', vdevfn: 0x38, msitranslate: false, powerMgmt: false, timeoutMs: 2000 });
  expect(r.said).toMatch(/took 0000:01:00.0 out of domain 1's device model/);
  expect(r.guest).toEqual([]);
  expect(r.dm).toEqual({ state: 'running' });
});

it('an interrupted pci-rem the guest acknowledged is plugged back in at the same slot', async () => {
  await b.ok(['pci-attach', 'trad', '01:00.0@7']);
  const r = await interruptAndSettle({ op: 'qemuTrad.pciRem', domid: 1, bdf: '0000:01:00.0', timeoutMs: 2000, force: false });
  expect(r.said).toMatch(/plugged 0000:01:00.0 back into domain 1's device model/);
  expect(r.guest).toEqual(['7.0 0000:01:00.0']);
  expect(r.dm).toEqual({ state: 'running', parameter: '0x38' });
});

it('an interrupted pci-rem the guest ignored leaves the device where it is', async () => {
  await b.ok(['pci-attach', 'trad', '01:00.0@7']);
  await b.ok(['sim-guest', 'trad', '--ignore-unplug']);
  const r = await interruptAndSettle({ op: 'qemuTrad.pciRem', domid: 1, bdf: '0000:01:00.0', timeoutMs: 300, force: true });
  expect(r.said).toMatch(/^restored \/local\/domain\/0\/device-model\/1$/);
  expect(r.guest).toEqual(['7.0 0000:01:00.0']);
  expect(r.dm).toEqual({ state: 'running', parameter: '0x38' });
});
