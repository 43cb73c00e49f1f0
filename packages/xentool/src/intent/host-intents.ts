/** Where a host keeps its intent records, and what recovery needs of it. */
import { pcibackOps } from '@xentool/pciback';
import type { StepHandlers } from '../plan/plan';
import type { PciHost } from '../pci/pci-host';
import { IntentStore, REAL_INTENT_DIR } from './intent-store';
import type { RecoveryEnv } from './interrupted';

/** The simulated host names its own directory (`<sim-dir>/intents`); the real host uses /var/lib/xentool. */
export function intentStoreFor(host: PciHost): IntentStore {
  const dir = (host as { intentDir?: string }).intentDir ?? REAL_INTENT_DIR;
  return new IntentStore(host.xs, dir);
}

export function recoveryEnvFor(host: PciHost, handlers: StepHandlers): RecoveryEnv {
  return { xs: host.xs, pciback: pcibackOps(host.sysfs), qmp: (domid) => host.qmp(domid), handlers };
}

/** The simulated host's checkpoint, bound; undefined on the real host (it has nothing to save). */
export function checkpointFor(host: PciHost): (() => Promise<void>) | undefined {
  const cp = (host as { checkpoint?: () => Promise<void> }).checkpoint;
  return cp ? () => cp.call(host) : undefined;
}
