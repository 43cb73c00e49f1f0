/**
 * After creation: asking a guest to shut down or reboot, waiting for it to die, and what xl's
 * per-domain monitor does when it has shut down (xl_vmcontrol.c handle_domain_death): Xen only
 * marks a guest that called SCHEDOP_shutdown as shut down and raises VIRQ_DOM_EXC; nothing
 * destroys it unless a toolstack process does.
 */
import { XentoolError } from '../errors';
import type { ShutdownAction } from '../config/domain-config';
import type { DomainRecord } from '../host/host';
import type { DomainOps } from './domain-ops';

/** What the monitor needs to act for a domain, kept under our part of /libxl/<domid>. */
export interface MonitorInfo {
  name: string;
  uuid: string;
  onPoweroff: ShutdownAction;
  onReboot: ShutdownAction;
  onCrash: ShutdownAction;
  /** The config the domain was created from, for restarts (xl keeps it in memory). */
  config: string;
  overrides: string[];
}

const infoPath = (domid: number) => `/libxl/${domid}/xentool`;

export async function recordMonitorInfo(ops: DomainOps, domid: number, m: MonitorInfo): Promise<void> {
  await ops.xs.write(`${infoPath(domid)}/monitor`, JSON.stringify(m));
}

export async function readMonitorInfo(ops: DomainOps, domid: number): Promise<MonitorInfo | undefined> {
  const v = await ops.xs.read(`${infoPath(domid)}/monitor`);
  return v === undefined ? undefined : (JSON.parse(v) as MonitorInfo);
}

/**
 * libxl__domain_pvcontrol: the guest's xenbus driver watches control/shutdown. Written in a
 * transaction that checks the domain's directory still exists, so a request never re-creates
 * the tree of a domain being destroyed (xenopsd does the same).
 */
export async function requestShutdown(ops: DomainOps, d: DomainRecord, what: 'poweroff' | 'reboot'): Promise<void> {
  // libxl__domain_pvcontrol_available: an HVM guest answers control/shutdown only once its PV
  // drivers have registered their event channel upcall (HVM_PARAM_CALLBACK_IRQ != 0).
  if (d.hvm && !(await ops.pvControlAvailable(d.domid))) {
    throw new XentoolError(
      'ERR_NO_PARAVIRT',
      'PV control interface not available: external graceful shutdown not possible (the guest has no PV drivers yet; use destroy).',
    );
  }
  await ops.xs.transaction(async (tx) => {
    if ((await tx.read(`/local/domain/${d.domid}/name`)) === undefined) {
      throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `Domain ${d.domid} does not exist.`);
    }
    await tx.write(`/local/domain/${d.domid}/control/shutdown`, what);
  });
}

export type DeathEvent = { kind: 'death' } | { kind: 'shutdown'; reason: DomainRecord['shutdownReason'] };

/**
 * libxl's domain_death_xswatch_callback: on every @releaseDomain (xenstored fires it on
 * shutdown and crash as well as on death) look the domain up: gone or dying is DEATH, the
 * shutdown flag is SHUTDOWN with its reason.
 */
export async function waitForDomainEvent(ops: DomainOps, domid: number, o: { stopAtShutdown: boolean; timeoutMs?: number }): Promise<DeathEvent> {
  const check = async (): Promise<DeathEvent | undefined> => {
    const d = (await ops.domains()).find((x) => x.domid === domid);
    if (!d || d.dying) return { kind: 'death' };
    if (o.stopAtShutdown && d.shutdown) return { kind: 'shutdown', reason: d.shutdownReason };
    return undefined;
  };
  const watch = ops.xs.watch('@releaseDomain', `xentool-death-${domid}-${process.pid}`);
  const it = watch[Symbol.asyncIterator]();
  const deadline = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
  try {
    for (;;) {
      const ev = await check();
      if (ev) return ev;
      const left = deadline - Date.now();
      if (left <= 0) throw new XentoolError('ERR_TIMEOUT', `timed out waiting for domain ${domid} to shut down`);
      let timer: NodeJS.Timeout | undefined;
      // A poll as well: the simulated host's xenstored fires no @releaseDomain for a shutdown,
      // and on a real host a missed event must not hang a waiter (or a monitor) forever.
      const poll = ops.kind === 'sim' ? 1000 : 5000;
      const tick = new Promise<'tick'>((r) => (timer = setTimeout(() => r('tick'), Math.min(left, poll))));
      const r = await Promise.race([it.next(), tick]);
      clearTimeout(timer);
      if (r !== 'tick' && r.done) throw new XentoolError('ERR_XENSTORE_CLOSED', 'the xenstore connection closed while waiting');
    }
  } finally {
    await watch.close();
  }
}

/** xl's handle_domain_death, without core dumps (coredump-* act as their plain forms). */
export function actionFor(m: Pick<MonitorInfo, 'onPoweroff' | 'onReboot' | 'onCrash'>, reason: DomainRecord['shutdownReason']): ShutdownAction | 'none' {
  switch (reason) {
    case 'poweroff':
      return m.onPoweroff;
    case 'reboot':
      return m.onReboot;
    case 'crash':
      return m.onCrash;
    case 'suspend':
      return 'none';
    // on_watchdog and on_soft_reset are not configurable yet: xl's defaults.
    case 'watchdog':
      return 'destroy';
    case 'soft_reset':
      return 'destroy';
    default:
      return 'destroy';
  }
}

export interface ActionHooks {
  destroy(domid: number): Promise<void>;
  /** Creates the domain again from its config, with the same uuid. */
  recreate(m: MonitorInfo): Promise<void>;
  log(line: string): void;
}

/** Applies the configured action to a domain that has shut down. Returns what was done. */
export async function applyShutdownAction(domid: number, m: MonitorInfo, reason: DomainRecord['shutdownReason'], h: ActionHooks): Promise<string> {
  const action = actionFor(m, reason);
  h.log(`Action for shutdown reason ${String(reason)} is ${action}`);
  switch (action) {
    case 'none':
    case 'preserve':
      return action;
    case 'destroy':
    case 'coredump-destroy':
      h.log(`Domain ${domid} needs to be cleaned up: destroying the domain`);
      await h.destroy(domid);
      return 'destroy';
    case 'restart':
    case 'coredump-restart':
    case 'rename-restart':
    case 'soft-reset':
      h.log(`Domain ${domid} needs to be cleaned up: destroying the domain`);
      await h.destroy(domid);
      // xl sleeps 2 s between destroy and re-create so a guest in a crash loop cannot spin the host.
      await new Promise((r) => setTimeout(r, 2000));
      h.log(`Restarting domain ${m.name}`);
      await h.recreate(m);
      return 'restart';
  }
}
