/** Where a host keeps its intent records, and what recovery needs of it. */
import { pcibackOps } from '@xentool/pciback';
import type { StepHandlers } from '../plan/plan';
import { parseDevNode } from '../pci/backend-xs';
import type { PciHost } from '../pci/pci-host';
import { IntentStore, REAL_INTENT_DIR } from './intent-store';
import type { RecoveryEnv } from './interrupted';

/** The simulated host names its own directory (`<sim-dir>/intents`); the real host uses /var/lib/xentool. */
export function intentStoreFor(host: PciHost): IntentStore {
  const dir = (host as { intentDir?: string }).intentDir ?? REAL_INTENT_DIR;
  return new IntentStore(host.xs, dir);
}

export function recoveryEnvFor(host: PciHost, handlers: StepHandlers): RecoveryEnv {
  return {
    xs: host.xs,
    pciback: pcibackOps(host.sysfs),
    qmp: (domid) => host.qmp(domid),
    handlers,
    storedPcidev: async (domid, bdf) => {
      const dir = host.xenLibDir;
      const uuid = (await host.domains()).find((d) => d.domid === domid)?.uuid;
      const b = parseDevNode(bdf);
      if (dir === undefined || uuid === undefined || !b) return null;
      const { readStoredPcidev } = await import('../libxl/stored-pcidevs');
      const at = readStoredPcidev(dir, domid, uuid, b);
      return at === undefined ? null : { uuid, entry: at?.text ?? null, index: at?.index ?? null };
    },
  };
}

/** The simulated host's checkpoint, bound; undefined on the real host (it has nothing to save). */
export function checkpointFor(host: PciHost): (() => Promise<void>) | undefined {
  const cp = (host as { checkpoint?: () => Promise<void> }).checkpoint;
  return cp ? () => cp.call(host) : undefined;
}
