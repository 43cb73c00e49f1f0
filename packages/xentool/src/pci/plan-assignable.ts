/**
 * Plans `pci-assignable-add` and `pci-assignable-remove` (xl 4.17 semantics, plus refusals before
 * harm: bridges and devices dom0 is using are not taken away from dom0 unless forced).
 */
import { XentoolError } from '../errors';
import type { Plan, Step } from '../plan/plan';
import type { Bdf } from './types';
import { bdfText } from './types';
import type { DeviceView } from './view';

export function planAssignableAdd(bdf: Bdf, dev: DeviceView, opts: { name?: string; force: boolean }): Plan {
  const b = bdfText(bdf);
  const title = `pci-assignable-add ${b}`;
  if (!dev.exists) throw new XentoolError('ERR_DEVICE_NOT_FOUND', `PCI device ${b} does not exist on this host`);
  if (opts.name !== undefined) validateName(opts.name);
  // Co-assignment partners are made assignable one at a time, so a partner still in dom0 is a
  // reminder here, not a refusal (pci-attach refuses until the whole group is ready).
  const coassign = dev.blockers.filter((x) => x.code.startsWith('COASSIGN'));
  const blocker = dev.blockers.find((x) => !(opts.force && x.code === 'IN_USE_BY_DOM0') && x.code !== 'NOT_PCIBACK' && !coassign.includes(x));
  if (blocker) throw new XentoolError('ERR_DEVICE_NOT_ASSIGNABLE', `PCI device ${b} cannot be made assignable: ${blocker.message}`);
  const steps: Step[] = [];
  if (dev.driver !== 'pciback') {
    steps.push({ op: 'pciback.seize', bdf: b, why: 'unbind from the dom0 driver (remembered for -r) and bind to pciback' });
  }
  if (opts.name !== undefined && opts.name !== dev.name) steps.push({ op: 'libxl.setName', bdf: b, name: opts.name });
  steps.push({ op: 'xc.quarantine', bdf: b, why: 'park the device in dom_io so no stale DMA reaches dom0 (XSA-302)' });
  return { title, steps, warnings: [...dev.warnings, ...(dev.quirkWarnings ?? []), ...coassign.map((c) => c.message)] };
}

export function planAssignableRemove(bdf: Bdf, dev: DeviceView, opts: { rebind: boolean }): Plan {
  const b = bdfText(bdf);
  const title = `pci-assignable-remove ${opts.rebind ? '-r ' : ''}${b}`;
  if (!dev.exists) throw new XentoolError('ERR_DEVICE_NOT_FOUND', `PCI device ${b} does not exist on this host`);
  if (dev.usedBy !== undefined) {
    throw new XentoolError('ERR_DEVICE_IN_USE', `PCI device ${b} is attached to domain ${dev.usedBy}; detach it first`);
  }
  const steps: Step[] = [{ op: 'xc.dequarantine', bdf: b, why: 'hand the device back to dom0 in the IOMMU' }];
  if (dev.driver === 'pciback') steps.push({ op: 'pciback.release', bdf: b });
  const warnings: string[] = [];
  if (opts.rebind) {
    if (dev.originalDriverPath) steps.push({ op: 'pci.rebind', bdf: b, driverPath: dev.originalDriverPath, why: '-r: back to the driver it had before' });
    else warnings.push(`Couldn't find path for original driver; not rebinding`);
  }
  if (dev.name !== undefined) steps.push({ op: 'libxl.setName', bdf: b, name: null });
  return { title, steps, warnings };
}

/** libxl's rules for assignable-device names (at most 64 printable, non-space characters). */
export function validateName(name: string): void {
  if (name.length > 64) throw new XentoolError('ERR_BAD_NAME', `Name too long`);
  if (!/^[\x21-\x7e]+$/.test(name)) throw new XentoolError('ERR_BAD_NAME', `Names may only include printable characters`);
}
