import { runPciAttach, runPciDetach } from './pci-cli';
import { captureContext } from '../testing/capture';
import type { PciHost } from './pci-host';

/** A host whose every touch fails the test: the root check must come before any of them. */
function untouchable(kind: 'real' | 'sim'): PciHost & { close(): Promise<void> } {
  const boom = () => {
    throw new Error('the host was touched');
  };
  return new Proxy({ kind, close: async () => undefined } as unknown as PciHost & { close(): Promise<void> }, {
    // `then` is probed by `await` on any resolved value; it is not a use of the host.
    get: (t, k) => (k in t ? (t as unknown as Record<string | symbol, unknown>)[k] : k === 'then' ? undefined : boom()),
  });
}

describe('changing commands on a real host need root', () => {
  it.each([
    ['pci-attach', runPciAttach],
    ['pci-detach', runPciDetach],
  ])('%s says so in one line before touching anything', async (cmd, fn) => {
    const ctx = captureContext({ uid: 1000 });
    await expect(fn(async () => untouchable('real'), { _: [], domain: 'g', spec: '03:00.0' }, ctx)).rejects.toMatchObject({
      code: 'ERR_NEEDS_ROOT',
      message: `${cmd} changes the host and needs root: run it as root (or with -N to see the plan)`,
    });
  });

  it('does not ask for root on the simulated host', async () => {
    const ctx = captureContext({ uid: 1000 });
    await expect(runPciAttach(async () => untouchable('sim'), { _: [], domain: 'g', spec: '03:00.0' }, ctx)).rejects.toThrow(
      'the host was touched',
    );
  });
});
