/**
 * How each PCI plan step is performed, over the Host seam's primitives, and how it is undone.
 * The same handlers run against the real host and the simulated one. Each `apply` reads what it
 * is about to change and returns the steps that put it back.
 */
import { XentoolError } from '../errors';
import type { Step, StepHandler, StepHandlers } from '../plan/plan';
import type { PciHypervisor } from '../host/hypervisor';
import { DOMID_IO, XEN_DOMCTL_DEV_RDM_RELAXED } from '../host/hypervisor';
import type { QmpClient } from '../qmp/qmp-client';
import { queryPciDevices } from '../qmp/qmp-client';
import type { Xs } from '../xs/xs';
import { captureTree, restoreTree, type XsTreeCopy } from '../xs/tree';
import { waitFor } from '../xs/wait-for';
import {
  XenbusState,
  backendPath,
  frontendPath,
  libxlPciPath,
  readAttached,
  removeBackendDevice,
  writeBackendDevice,
} from './backend-xs';
import { qemuTradHandlers, tradVdevfn } from './qemu-trad';
import { bdfOf, n, s } from './step-fields';
import type { Bdf } from './types';
import { bdfText, hex, machineSbdf, sameBdf } from './types';

/** The dom0-side PCI operations on sysfs (packages/pciback does the work). */
export interface PcibackOps {
  /** Unbinds from the current driver (returned, for -r), binds to pciback. */
  seize(bdf: string): Promise<{ originalDriverPath: string | undefined }>;
  /** Unbinds from pciback and removes it from pciback's slots. */
  release(bdf: string): Promise<void>;
  /** Binds to the driver at `driverPath` (a `/sys/bus/pci/drivers/<name>` path). */
  bindDriver(bdf: string, driverPath: string): Promise<void>;
  /** Function reset; resolves to a warning text when the kernel cannot reset it. */
  reset(bdf: string): Promise<string | undefined>;
  setPermissive(bdf: string): Promise<void>;
  /** The driver bound now (its `/sys/bus/pci/drivers/<name>` path), if any. */
  currentDriverPath(bdf: string): Promise<string | undefined>;
}

export interface StepContext {
  xs: Xs;
  hv: PciHypervisor;
  pciback: PcibackOps;
  /** Connects to the domain's device model (caller closes). */
  qmp(domid: number): Promise<QmpClient>;
  domainName(domid: number): Promise<string | undefined>;
  /** A progress line for long waits (shown on a TTY). */
  progress(text: string): void;
  warn(text: string): void;
  /** The domain's uuid while it exists: it names the domain's files in XEN_LIB_DIR. */
  domainUuid?(domid: number): Promise<string | undefined>;
  /**
   * Why the domain no longer runs a guest that could answer ("shut down (reboot)", "is dying",
   * "no longer exists"), or undefined while it does: waits on the guest stop early on it, so a
   * domain that reboots or crashes meanwhile is not waited on (and the host lock not held) for
   * the whole timeout while its monitor waits to clean it up.
   */
  domainEnded?(domid: number): Promise<string | undefined>;
  /**
   * Where libxl keeps the domains' stored configs and how long to wait for libxl's lock on one
   * (the `libxl.pcidev*` steps keep their "pcidevs" in step); absent: those steps do nothing.
   */
  storedConfig?: { dir: string; lockTimeoutMs: number; onWait(text: string): void };
}


/** The QEMU device id libxl uses, `pci-pt-BB_DD.F` (no segment). */
export function qdevId(b: Bdf): string {
  return `pci-pt-${hex(b.bus, 2)}_${hex(b.dev, 2)}.${b.func.toString(16)}`;
}

export function pciStepHandlers(c: StepContext): StepHandlers {
  const xsSet = (path: string, value: string | null): Step => ({ op: 'xs.set', path, value });
  const handlers: Record<string, StepHandler> = {
    'xs.set': {
      describe: (st) => (st.value === null ? `xenstore rm ${s(st, 'path')}` : `xenstore write ${s(st, 'path')} = ${s(st, 'value')}`),
      apply: async (st) => {
        const path = s(st, 'path');
        const prev = await c.xs.read(path);
        if (st.value === null) {
          if (prev === undefined) return [];
          // Undo puts the whole parent record back, so even the order of its children (which
          // xenstore keeps as creation order) is as before.
          const copy = await captureTree(c.xs, path.slice(0, path.lastIndexOf('/')));
          await c.xs.rm(path);
          return [{ op: 'xs.restoreTrees', trees: [copy] }];
        }
        // A write creates missing parents too; undo removes the highest one it created.
        let created = prev === undefined ? path : undefined;
        for (let p = path.slice(0, path.lastIndexOf('/')); prev === undefined && p.length > 0; p = p.slice(0, p.lastIndexOf('/'))) {
          if ((await c.xs.read(p)) !== undefined) break;
          created = p;
        }
        await c.xs.write(path, String(st.value));
        return [created !== undefined ? xsSet(created, null) : xsSet(path, prev ?? null)];
      },
    },
    'libxl.setDomid': {
      describe: (st) => `record ${s(st, 'bdf')} as used by domain ${n(st, 'domid')} (${libxlPciPath(bdfOf(st))}/domid)`,
      apply: async (st) => handlers['xs.set']!.apply(xsSet(`${libxlPciPath(bdfOf(st))}/domid`, String(n(st, 'domid')))),
    },
    'libxl.clearDomid': {
      describe: (st) => `forget that ${s(st, 'bdf')} is in use (${libxlPciPath(bdfOf(st))}/domid)`,
      apply: async (st) => handlers['xs.set']!.apply(xsSet(`${libxlPciPath(bdfOf(st))}/domid`, null)),
    },
    'libxl.setName': {
      describe: (st) => (st.name === null ? `drop the name of ${s(st, 'bdf')}` : `name ${s(st, 'bdf')} '${s(st, 'name')}'`),
      apply: async (st) => handlers['xs.set']!.apply(xsSet(`${libxlPciPath(bdfOf(st))}/name`, st.name === null ? null : s(st, 'name'))),
    },
    'pciback.seize': {
      describe: (st) => `bind ${s(st, 'bdf')} to pciback (remembering its driver)`,
      apply: async (st) => {
        const b = bdfOf(st);
        const { originalDriverPath } = await c.pciback.seize(bdfText(b));
        const undo: Step[] = [];
        if (originalDriverPath) {
          const key = `${libxlPciPath(b)}/driver_path`;
          undo.push(...(await handlers['xs.set']!.apply(xsSet(key, originalDriverPath))));
        }
        // Undo order: forget the driver_path record, then hand the device back to its driver.
        return [...undo, { op: 'pciback.unseize', bdf: bdfText(b), ...(originalDriverPath ? { driverPath: originalDriverPath } : {}) }];
      },
    },
    'pciback.unseize': {
      describe: (st) => `release ${s(st, 'bdf')} from pciback${st.driverPath ? ` and rebind ${s(st, 'driverPath')}` : ''}`,
      apply: async (st) => {
        await c.pciback.release(s(st, 'bdf'));
        if (typeof st.driverPath === 'string') await c.pciback.bindDriver(s(st, 'bdf'), st.driverPath);
        return [{ op: 'pciback.seize', bdf: s(st, 'bdf') }];
      },
    },
    'pciback.release': {
      describe: (st) => `unbind ${s(st, 'bdf')} from pciback and remove it from pciback's slots`,
      apply: async (st) => {
        await c.pciback.release(s(st, 'bdf'));
        return [{ op: 'pciback.rebindPciback', bdf: s(st, 'bdf') }];
      },
    },
    'pciback.rebindPciback': {
      describe: (st) => `bind ${s(st, 'bdf')} to pciback again`,
      apply: async (st) => {
        await c.pciback.seize(s(st, 'bdf'));
        return [];
      },
    },
    'pci.rebind': {
      describe: (st) => `bind ${s(st, 'bdf')} to ${s(st, 'driverPath')} and forget the record`,
      apply: async (st) => {
        await c.pciback.bindDriver(s(st, 'bdf'), s(st, 'driverPath'));
        const undo = await handlers['xs.set']!.apply(xsSet(`${libxlPciPath(bdfOf(st))}/driver_path`, null));
        return [...undo, { op: 'pciback.rebindPciback', bdf: s(st, 'bdf') }];
      },
    },
    'pci.reset': {
      describe: (st) => `reset ${s(st, 'bdf')}`,
      apply: async (st) => {
        const w = await c.pciback.reset(s(st, 'bdf'));
        if (w) c.warn(w);
        return [];
      },
    },
    'pciback.permissive': {
      describe: (st) => `let the guest write ${s(st, 'bdf')}'s config space (pciback permissive; cleared only when pciback releases it)`,
      apply: async (st) => {
        await c.pciback.setPermissive(s(st, 'bdf'));
        return [];
      },
    },
    'xc.iomem': {
      describe: (st) =>
        `${st.allow ? 'grant' : 'revoke'} domain ${n(st, 'domid')} I/O memory frames 0x${BigInt(s(st, 'first')).toString(16)}+0x${BigInt(s(st, 'nr')).toString(16)}`,
      apply: async (st) => {
        await c.hv.iomemPermission(n(st, 'domid'), BigInt(s(st, 'first')), BigInt(s(st, 'nr')), st.allow === true);
        return [{ ...st, allow: !st.allow }];
      },
    },
    'xc.ioport': {
      describe: (st) => `${st.allow ? 'grant' : 'revoke'} domain ${n(st, 'domid')} I/O ports 0x${n(st, 'first').toString(16)}+0x${n(st, 'nr').toString(16)}`,
      apply: async (st) => {
        await c.hv.ioportPermission(n(st, 'domid'), n(st, 'first'), n(st, 'nr'), st.allow === true);
        return [{ ...st, allow: !st.allow }];
      },
    },
    'xc.grantIrq': {
      describe: (st) => `map IRQ ${n(st, 'irq')} into domain ${n(st, 'domid')} and grant it`,
      apply: async (st) => {
        const pirq = await c.hv.mapPirq(n(st, 'domid'), n(st, 'irq'));
        await c.hv.irqPermission(n(st, 'domid'), pirq, true);
        return [{ op: 'xc.revokeIrq', domid: n(st, 'domid'), irq: n(st, 'irq'), pirq }];
      },
    },
    'xc.revokeIrq': {
      describe: (st) => `revoke IRQ ${n(st, 'irq')} from domain ${n(st, 'domid')} and unmap it`,
      apply: async (st) => {
        const pirq = st.pirq === undefined ? n(st, 'irq') : n(st, 'pirq');
        await c.hv.irqPermission(n(st, 'domid'), pirq, false);
        try {
          await c.hv.unmapPirq(n(st, 'domid'), pirq);
        } catch (e) {
          // For an HVM guest, qemu-xen unmaps the pirq itself when device_del completes, so
          // Xen answers EINVAL here (seen on real Xen 4.17; libxl ignores this error for the same
          // reason). The goal of the step, no mapping left, holds either way.
          if ((e as { code?: string }).code !== 'EINVAL') throw e;
        }
        return [{ op: 'xc.grantIrq', domid: n(st, 'domid'), irq: n(st, 'irq') }];
      },
    },
    'xc.assign': {
      describe: (st) => `assign ${s(st, 'bdf')} to domain ${n(st, 'domid')} in the IOMMU${st.relaxed ? ' (rdm_policy=relaxed)' : ''}`,
      apply: async (st) => {
        await c.hv.assignDevice(n(st, 'domid'), machineSbdf(bdfOf(st)), st.relaxed ? XEN_DOMCTL_DEV_RDM_RELAXED : 0);
        return [{ op: 'xc.deassign', domid: n(st, 'domid'), bdf: s(st, 'bdf') }];
      },
    },
    'xc.deassign': {
      describe: (st) => `deassign ${s(st, 'bdf')} from domain ${n(st, 'domid')} (Xen quarantines it)`,
      apply: async (st) => {
        await c.hv.deassignDevice(n(st, 'domid'), machineSbdf(bdfOf(st)));
        return [{ op: 'xc.assign', domid: n(st, 'domid'), bdf: s(st, 'bdf'), relaxed: false }];
      },
    },
    'xc.quarantine': {
      describe: (st) => `quarantine ${s(st, 'bdf')} (assign it to dom_io)`,
      apply: async (st) => {
        await c.hv.assignDevice(DOMID_IO, machineSbdf(bdfOf(st)), XEN_DOMCTL_DEV_RDM_RELAXED);
        return [{ op: 'xc.dequarantine', bdf: s(st, 'bdf') }];
      },
    },
    'xc.dequarantine': {
      describe: (st) => `take ${s(st, 'bdf')} out of quarantine`,
      apply: async (st) => {
        try {
          await c.hv.deassignDevice(DOMID_IO, machineSbdf(bdfOf(st)));
        } catch (e) {
          // A device hidden at boot was never quarantined: dom0 still owns it in the IOMMU, which is
          // what dequarantining wants. libxl fails here; that is not worth failing for.
          if ((e as { code?: string }).code === 'ENODEV') return [];
          throw e;
        }
        return [{ op: 'xc.quarantine', bdf: s(st, 'bdf') }];
      },
    },
    'backend.add': {
      describe: (st) =>
        `record ${s(st, 'bdf')} in domain ${n(st, 'domid')}'s PCI backend${st.hvm || st.starting ? '' : ' and wait for pciback and pcifront to reconfigure'}`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        const be = backendPath(domid);
        const hvm = st.hvm === true;
        let vdevfn = st.vdevfn === undefined ? undefined : n(st, 'vdevfn');
        // HVM: the guest devfn the device model chose or honoured, as it reports it (QMP
        // query-pci; qemu-traditional's answer to pci-ins, still in its `parameter`).
        if (hvm) vdevfn = st.dm === 'qemu-xen-traditional' ? await tradVdevfn(c, domid) : await hvmSlotOf(c, domid, b);
        // A domain being created (still paused) has no pcifront yet: nothing to wait for.
        const starting = st.starting === true;
        const connected = !hvm && !starting && (await c.xs.read(`${be}/state`)) !== undefined;
        if (connected) {
          await waitFor(c.xs, `${be}/state`, async () => ((await c.xs.read(`${be}/state`)) === '4' ? true : undefined), {
            timeoutMs: n(st, 'timeoutMs') || 10_000,
            what: `domain ${domid}'s PCI backend to be connected before hot-add`,
          });
        }
        const domName = await c.domainName(domid);
        const index = await c.xs.transaction((tx) =>
          writeBackendDevice(tx, {
            domid,
            domName,
            bdf: b,
            ...(vdevfn !== undefined ? { vdevfn } : {}),
            ...(typeof st.name === 'string' ? { name: st.name } : {}),
            opts: s(st, 'opts'),
            reconfigure: !hvm && !starting,
          }),
        );
        const undo: Step[] = [{ op: 'backend.forget', domid, bdf: bdfText(b) }];
        if (!hvm && !starting) {
          // pciback exports the device (state-N 1 → 3) and the backend returns to Connected once
          // pcifront has rescanned; a first device connects from Initialising.
          await waitTaken(c, domid, b, index, n(st, 'timeoutMs') || 10_000).catch(async (e) => {
            // A failed step has no undo entry, so it cleans up after itself. A slow guest may
            // still take the device after the wait gave up (seen on real Xen under emulation), so
            // a hot-add is withdrawn through pcifront (state-N=5, Reconfiguring) before its
            // nodes go; the first device goes with its whole backend, which pciback tears down.
            let unanswered = index > 0;
            if (index > 0) {
              unanswered = false;
              await c.xs.transaction(async (tx) => {
                await tx.write(`${be}/state-${index}`, String(XenbusState.Closing));
                await tx.write(`${be}/state`, String(XenbusState.Reconfiguring));
              });
              await waitFor(c.xs, `${be}/state`, async () => ((await c.xs.read(`${be}/state`)) === '4' ? true : undefined), {
                timeoutMs: n(st, 'timeoutMs') || 10_000,
                what: `domain ${domid} to drop the half-added ${bdfText(b)}`,
              }).catch(() => {
                c.warn(`domain ${domid} did not confirm dropping the half-added ${bdfText(b)}; its record is removed anyway`);
                unanswered = true;
              });
            }
            await c.xs.transaction(async (tx) => {
              await removeBackendDevice(tx, domid, b);
              // Nobody answered the Reconfiguring request: put back the Connected state the
              // backend had before this step.
              if (unanswered) await tx.write(`${be}/state`, String(XenbusState.Connected));
            });
            throw e;
          });
        }
        return undo;
      },
    },
    'backend.forget': {
      describe: (st) => `remove ${s(st, 'bdf')} from domain ${n(st, 'domid')}'s PCI backend records`,
      apply: async (st) => {
        await c.xs.transaction((tx) => removeBackendDevice(tx, n(st, 'domid'), bdfOf(st)));
        return [];
      },
    },
    'backend.remove': {
      describe: (st) => `remove ${s(st, 'bdf')} from domain ${n(st, 'domid')}'s PCI backend records`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const trees: XsTreeCopy[] = [];
        const removed = await c.xs.transaction(async (tx) => {
          trees.length = 0;
          for (const root of [`/local/domain/0/backend/pci/${domid}`, frontendPath(domid)]) trees.push(await captureTree(tx, root));
          return removeBackendDevice(tx, domid, bdfOf(st));
        });
        if (!removed) throw new XentoolError('ERR_NOT_ATTACHED', `PCI device ${s(st, 'bdf')} is not recorded for domain ${domid}`);
        return [{ op: 'xs.restoreTrees', trees }];
      },
    },
    'xs.restoreTrees': {
      describe: (st) => `restore ${(st.trees as { root: string }[]).map((t) => t.root).join(' and ')} as they were`,
      apply: async (st) => {
        await c.xs.transaction(async (tx) => {
          for (const t of st.trees as XsTreeCopy[]) await restoreTree(tx, t);
        });
        return [];
      },
    },
    'backend.release': {
      describe: (st) => `ask domain ${n(st, 'domid')}'s pcifront to release ${s(st, 'bdf')} and wait (up to ${n(st, 'timeoutMs') / 1000} s)`,
      apply: async (st) => {
        await releasePv(c, n(st, 'domid'), bdfOf(st), n(st, 'timeoutMs'), st.force === true);
        return [{ op: 'backend.replug', domid: n(st, 'domid'), bdf: s(st, 'bdf'), timeoutMs: n(st, 'timeoutMs') }];
      },
    },
    'backend.replug': {
      describe: (st) => `give ${s(st, 'bdf')} back to domain ${n(st, 'domid')}'s pcifront`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        const be = backendPath(domid);
        const index = (await readAttached(c.xs, domid)).find((a) => sameBdf(a, b))?.index;
        if (index === undefined) throw new XentoolError('ERR_NOT_ATTACHED', `PCI device ${bdfText(b)} is no longer recorded for domain ${domid}`);
        await c.xs.transaction(async (tx) => {
          await tx.write(`${be}/state-${index}`, String(XenbusState.Initialising));
          await tx.write(`${be}/state`, String(XenbusState.Reconfiguring));
        });
        await waitTaken(c, domid, b, index, n(st, 'timeoutMs') || 10_000);
        return [{ op: 'backend.release', domid, bdf: bdfText(b), timeoutMs: n(st, 'timeoutMs'), force: false }];
      },
    },
    'hvm.deviceAdd': {
      describe: (st) =>
        `QMP device_add ${qdevId(bdfOf(st))} (hostaddr ${s(st, 'bdf')}${st.vdevfn !== undefined ? `, guest slot 0x${(n(st, 'vdevfn') >> 3).toString(16)}` : ''}) to domain ${n(st, 'domid')}`,
      apply: async (st) => {
        const b = bdfOf(st);
        const q = await c.qmp(n(st, 'domid'));
        try {
          const args: Record<string, unknown> = { driver: 'xen-pci-passthrough', id: qdevId(b), hostaddr: bdfText(b) };
          if (st.vdevfn !== undefined) args.addr = `${(n(st, 'vdevfn') >> 3).toString(16)}.${(n(st, 'vdevfn') & 7).toString(16)}`;
          if (st.permissive === true) args.permissive = true;
          await q.execute('device_add', args);
        } finally {
          q.close();
        }
        return [{ op: 'hvm.deviceDel', domid: n(st, 'domid'), bdf: bdfText(b), timeoutMs: n(st, 'timeoutMs') || 10_000, force: true }];
      },
    },
    'hvm.deviceDel': {
      describe: (st) => `QMP device_del ${qdevId(bdfOf(st))} and wait for domain ${n(st, 'domid')} to eject it (up to ${n(st, 'timeoutMs') / 1000} s)`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        const rec = (await readAttached(c.xs, domid)).find((a) => sameBdf(a, b));
        const vdevfn = await hvmSlotOf(c, domid, b).catch(() => rec?.vdevfn);
        await unplugHvm(c, domid, b, n(st, 'timeoutMs'), st.force === true);
        return [
          {
            op: 'hvm.deviceAdd',
            domid,
            bdf: bdfText(b),
            ...(vdevfn !== undefined ? { vdevfn } : {}),
            permissive: rec?.opts.permissive === '1',
            timeoutMs: n(st, 'timeoutMs'),
          },
        ];
      },
    },
    'libxl.pcidevAdd': {
      describe: (st) => `add ${s(st, 'bdf')} to domain ${n(st, 'domid')}'s stored config for xl (pcidevs in ${storedConfigName(c, n(st, 'domid'))}, under libxl's lock)`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        // libxl records the vdevfn it writes to the backend's vdevfn-N: the slot asked for (PV),
        // or the one the device model reports (HVM), read as backend.add reads it.
        let vdevfn = st.vdevfn === undefined ? 0 : n(st, 'vdevfn');
        if (st.hvm === true) vdevfn = st.dm === 'qemu-xen-traditional' ? await tradVdevfn(c, domid) : await hvmSlotOf(c, domid, b);
        const { libxlPciJson } = await import('../domain/libxl-userdata');
        const { pcidevEntryText } = await import('../libxl/stored-pcidevs');
        const entry = libxlPciJson(
          {
            ...b,
            vdevfn,
            vfunc_mask: n(st, 'vfuncMask'),
            msitranslate: st.msitranslate === true,
            power_mgmt: st.powerMgmt === true,
            permissive: st.permissive === true,
            seize: st.seize === true,
            rdm_policy: st.rdmPolicy === 'relaxed' ? 'relaxed' : 'strict',
            name: typeof st.name === 'string' ? st.name : null,
          },
          st.hvm === true ? 'hvm' : 'pv',
        );
        return putPcidevStep(c, domid, undefined, b, pcidevEntryText(entry));
      },
    },
    'libxl.pcidevRemove': {
      describe: (st) => `remove ${s(st, 'bdf')} from domain ${n(st, 'domid')}'s stored config for xl (pcidevs in ${storedConfigName(c, n(st, 'domid'))}, under libxl's lock)`,
      apply: async (st) => putPcidevStep(c, n(st, 'domid'), undefined, bdfOf(st), null),
    },
    'libxl.pcidevPut': {
      describe: (st) =>
        st.entry === null
          ? `remove ${s(st, 'bdf')} from domain ${n(st, 'domid')}'s stored config for xl again`
          : `put ${s(st, 'bdf')}'s entry back into domain ${n(st, 'domid')}'s stored config for xl`,
      apply: async (st) =>
        putPcidevStep(c, n(st, 'domid'), s(st, 'uuid'), bdfOf(st), st.entry === null ? null : s(st, 'entry'), st.index === null ? undefined : n(st, 'index')),
    },
    ...qemuTradHandlers(c),
  };
  return handlers;
}

function storedConfigName(c: StepContext, domid: number): string {
  return c.storedConfig ? `${c.storedConfig.dir}/userdata-d.${domid}.<uuid>.libxl-json` : 'none kept on this host';
}

/**
 * One change to a domain's stored "pcidevs" (libxl/stored-pcidevs.ts, loaded only here), and the
 * step that puts back what was there. `uuid` pins an undo to the domain it was made for (a
 * domid can be reused); forward steps use the domain's uuid now. Nothing to do, and nothing to
 * undo, when the host keeps no stored configs or the domain has none.
 */
async function putPcidevStep(c: StepContext, domid: number, uuid: string | undefined, b: Bdf, entry: string | null, index?: number): Promise<Step[]> {
  const sc = c.storedConfig;
  if (!sc || !c.domainUuid) return [];
  const current = await c.domainUuid(domid);
  if (current === undefined || (uuid !== undefined && uuid !== current)) return [];
  const { putStoredPcidev } = await import('../libxl/stored-pcidevs');
  const r = await putStoredPcidev(
    { dir: sc.dir, lock: { timeoutMs: sc.lockTimeoutMs, onWait: (t) => sc.onWait(t), domainExists: async () => (await c.domainUuid!(domid)) === current } },
    domid,
    current,
    b,
    entry,
    index,
  );
  if (!r || !r.changed) return [];
  return [{ op: 'libxl.pcidevPut', domid, uuid: current, bdf: bdfText(b), entry: r.previous?.text ?? null, index: r.previous?.index ?? null }];
}

/**
 * Waits until pciback has exported device `index` (`state-N=3`) and the backend is Connected
 * again, i.e. pcifront has rescanned and the guest has the device.
 */
function waitTaken(c: StepContext, domid: number, b: Bdf, index: number, timeoutMs: number): Promise<true> {
  const be = backendPath(domid);
  return waitFor(
    c.xs,
    be,
    async () => {
      const [state, devState] = await Promise.all([c.xs.read(`${be}/state`), c.xs.read(`${be}/state-${index}`)]);
      return state === '4' && devState === '3' ? true : undefined;
    },
    {
      timeoutMs,
      what: `domain ${domid}'s pcifront to take ${bdfText(b)} (backend state Connected, state-${index}=3)`,
      onTick: (ms) => c.progress(`waiting for domain ${domid} to take ${bdfText(b)}: ${(ms / 1000).toFixed(1)} s`),
    },
  );
}

async function hvmSlotOf(c: StepContext, domid: number, b: Bdf): Promise<number> {
  const q = await c.qmp(domid);
  try {
    const d = queryPciDevices(await q.execute('query-pci')).find((x) => x.qdev_id === qdevId(b));
    if (!d) throw new XentoolError('ERR_QMP_PROTOCOL', `PCI device id '${qdevId(b)}' wasn't found in QEMU's 'query-pci' response.`);
    return (d.slot << 3) | d.function;
  } finally {
    q.close();
  }
}

/**
 * PV hot-unplug: `state-N=5` and backend Reconfiguring in one transaction, then wait until the
 * backend is Connected again (pcifront dropped it, pciback released and reset it). On timeout
 * without force, the two nodes are put back, so the device stays as it was; with force, the
 * caller goes on and the device is reported as forcibly removed.
 */
async function releasePv(c: StepContext, domid: number, b: Bdf, timeoutMs: number, force: boolean): Promise<void> {
  const be = backendPath(domid);
  const index = (await readAttached(c.xs, domid)).find((a) => sameBdf(a, b))?.index;
  if (index === undefined) throw new XentoolError('ERR_NOT_ATTACHED', `PCI device ${bdfText(b)} is not attached to domain ${domid}`);
  const connected = async () => ((await c.xs.read(`${be}/state`)) === String(XenbusState.Connected) ? true : undefined);
  try {
    await waitFor(c.xs, `${be}/state`, connected, { timeoutMs, what: `domain ${domid}'s PCI backend to be connected` });
  } catch (e) {
    if (!force) throw e;
    c.warn(`domain ${domid}'s PCI backend is not connected; removing ${bdfText(b)} without the guest's cooperation (-f)`);
    return;
  }
  const prevDevState = await c.xs.read(`${be}/state-${index}`);
  await c.xs.transaction(async (tx) => {
    await tx.write(`${be}/state-${index}`, String(XenbusState.Closing));
    await tx.write(`${be}/state`, String(XenbusState.Reconfiguring));
  });
  // A domain that shuts down meanwhile will not release anything: stop at once (checked every
  // second; the backend's watch does not fire for it).
  let ended: string | undefined;
  const releasedOrEnded = async () => {
    ended = await c.domainEnded?.(domid);
    if (ended !== undefined) {
      throw new XentoolError('ERR_DOMAIN_ENDED', `domain ${domid} ${ended} while waiting for it to release ${bdfText(b)}; the device stays with the domain until it is destroyed`);
    }
    return connected();
  };
  try {
    await waitFor(c.xs, `${be}/state`, releasedOrEnded, {
      timeoutMs,
      what: `domain ${domid} to release ${bdfText(b)}`,
      onTick: (ms) => c.progress(`waiting for domain ${domid} to release ${bdfText(b)}: ${(ms / 1000).toFixed(1)} s`),
      pollMs: 1000,
    });
  } catch (e) {
    if (force) {
      c.warn(
        ended !== undefined
          ? `domain ${domid} ${ended} while waiting for it to release ${bdfText(b)}; removing it anyway (-f)`
          : `domain ${domid} did not release ${bdfText(b)} within ${timeoutMs / 1000} s; removing it anyway (-f): the guest may still hold a stale handle`,
      );
      return;
    }
    await c.xs.transaction(async (tx) => {
      if (prevDevState !== undefined) await tx.write(`${be}/state-${index}`, prevDevState);
      await tx.write(`${be}/state`, String(XenbusState.Connected));
    });
    if (ended !== undefined) throw e;
    throw new XentoolError(
      'ERR_GUEST_TIMEOUT',
      `domain ${domid} did not release ${bdfText(b)} within ${timeoutMs / 1000} s; nothing was changed (use -f to remove it anyway)`,
      1,
      { cause: e },
    );
  }
}

/** HVM hot-unplug through QMP: device_del, then poll query-pci until the device is gone. */
async function unplugHvm(c: StepContext, domid: number, b: Bdf, timeoutMs: number, force: boolean): Promise<void> {
  const id = qdevId(b);
  const q = await c.qmp(domid);
  try {
    const present = async () => queryPciDevices(await q.execute('query-pci')).some((d) => d.qdev_id === id);
    if (!(await present())) return;
    await q.execute('device_del', { id });
    const started = Date.now();
    for (;;) {
      const ev = await q.nextEvent('DEVICE_DELETED', Math.min(1000, Math.max(0, timeoutMs - (Date.now() - started))));
      if ((ev && (ev.data as { device?: string } | undefined)?.device === id) || !(await present())) return;
      const ended = await c.domainEnded?.(domid);
      if (ended !== undefined) {
        if (force) {
          c.warn(`domain ${domid} ${ended} while waiting for it to eject ${id}; removing it anyway (-f)`);
          return;
        }
        // Nothing here changed the host but the device_del: QEMU and the device go with the
        // domain when it is destroyed (or its monitor restarts it).
        throw new XentoolError(
          'ERR_DOMAIN_ENDED',
          `domain ${domid} ${ended} while waiting for it to eject ${id}; the device stays with the domain until it is destroyed`,
        );
      }
      const elapsed = Date.now() - started;
      c.progress(`waiting for domain ${domid} to eject ${bdfText(b)}: ${(elapsed / 1000).toFixed(1)} s`);
      if (elapsed >= timeoutMs) break;
    }
    if (force) {
      c.warn(`timed out waiting for domain ${domid} to eject ${id}; continuing (-f): QEMU still shows the device to the guest until it acknowledges`);
      return;
    }
    throw new XentoolError(
      'ERR_GUEST_TIMEOUT',
      `timed out after ${timeoutMs / 1000} s waiting for domain ${domid} to eject ${id}; the device is still attached (use -f to remove it anyway)`,
    );
  } finally {
    q.close();
  }
}
