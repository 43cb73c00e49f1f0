/**
 * The PCI backend records in xenstore, byte-compatible with libxl 4.17 so that xl and xentool
 * can share a host (facts: xen-interfaces.md §4, toolstack-behaviour.md §2.6, and what xl 4.17
 * wrote on real Xen in test/xen/fixtures/pv-xl — libxl keeps no /libxl/<domid>/device/pci index,
 * and its path cleanup removes /local/domain/0/backend/pci itself once empty):
 *
 *   /local/domain/0/backend/pci/<domid>/0/   frontend, frontend-id, online=1, state, domain,
 *       num_devs, and per device N: key-N = dev-N = DDDD:BB:DD.F, vdevfn-N (%x, only if nonzero),
 *       name-N (only if named), opts-N, state-N; pciback adds vdev-N, root-N, root_num.
 *   /local/domain/<domid>/device/pci/0/       backend, backend-id=0, state (pcifront owns it).
 *   /libxl/pci/<DDDD-BB-DD-F>/                domid, driver_path, name (shared bookkeeping).
 */
import type { XsOps } from '../xs/xs';
import type { AttachedPci, Bdf } from './types';
import { bdfText, bdfXsKey } from './types';

export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;

export const backendPath = (domid: number) => `/local/domain/0/backend/pci/${domid}/0`;
export const frontendPath = (domid: number) => `/local/domain/${domid}/device/pci/0`;
export const libxlPciPath = (b: Bdf) => `/libxl/pci/${bdfXsKey(b)}`;

/** Parses `dev-N` the way pciback does (`%x:%x:%x.%x`). */
export function parseDevNode(s: string): Bdf | undefined {
  const m = /^([0-9a-f]+):([0-9a-f]+):([0-9a-f]+)\.([0-9a-f]+)$/i.exec(s.trim());
  if (!m) return undefined;
  const [domain, bus, dev, func] = m.slice(1).map((x) => parseInt(x, 16)) as [number, number, number, number];
  if (domain > 0xffff || bus > 0xff || dev > 0x1f || func > 7) return undefined;
  return { domain, bus, dev, func };
}

function parseOpts(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (s ?? '').split(',')) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** The devices a domain's PCI backend records, in index order. */
export async function readAttached(xs: XsOps, domid: number): Promise<AttachedPci[]> {
  const be = backendPath(domid);
  const num = await xs.read(`${be}/num_devs`);
  if (num === undefined) return [];
  const n = Number.parseInt(num, 10);
  const out: AttachedPci[] = [];
  for (let i = 0; i < (Number.isFinite(n) ? n : 0); i++) {
    const [dev, vdevfnText, name, opts, state, vdev] = await Promise.all(
      ['dev', 'vdevfn', 'name', 'opts', 'state', 'vdev'].map((k) => xs.read(`${be}/${k}-${i}`)),
    );
    const bdf = dev === undefined ? undefined : parseDevNode(dev);
    if (!bdf) continue;
    const recordedVdevfn = vdevfnText === undefined ? 0 : Number.parseInt(vdevfnText, 16) || 0;
    let vdevfn: number | undefined = vdevfnText === undefined ? undefined : recordedVdevfn;
    if (vdevfn === undefined && vdev !== undefined) {
      // pciback's guest address, `%04x:%02x:%02x.%02x` (two-digit function).
      const g = /^[0-9a-f]+:[0-9a-f]+:([0-9a-f]+)\.([0-9a-f]+)$/i.exec(vdev);
      if (g) vdevfn = (parseInt(g[1]!, 16) << 3) | parseInt(g[2]!, 16);
    }
    out.push({
      ...bdf,
      index: i,
      vdevfn,
      recordedVdevfn,
      ...(name !== undefined ? { name } : {}),
      opts: parseOpts(opts),
      ...(state !== undefined ? { state: Number.parseInt(state, 10) } : {}),
    });
  }
  return out;
}

export interface NewBackendDevice {
  domid: number;
  domName: string | undefined;
  bdf: Bdf;
  vdevfn?: number;
  name?: string;
  opts: string;
  /** PV hot-add to a connected backend asks pciback/pcifront to reconfigure. */
  reconfigure: boolean;
}

/**
 * Writes one device's nodes (inside the caller's transaction). With no backend yet, creates the
 * backend and frontend directories with libxl's permissions (backend: dom0 owns, guest reads;
 * frontend: guest owns, dom0 reads). Returns the index used.
 */
export async function writeBackendDevice(tx: XsOps, d: NewBackendDevice): Promise<number> {
  const be = backendPath(d.domid);
  const fe = frontendPath(d.domid);
  const numText = await tx.read(`${be}/num_devs`);
  const num = numText === undefined ? 0 : Number.parseInt(numText, 10) || 0;
  if (numText === undefined || num === 0) {
    await tx.rm(fe);
    await tx.rm(be);
    await tx.mkdir(be);
    await tx.setPerms(be, [
      { domid: 0, perm: 'n' },
      { domid: d.domid, perm: 'r' },
    ]);
    await tx.mkdir(fe);
    await tx.setPerms(fe, [
      { domid: d.domid, perm: 'n' },
      { domid: 0, perm: 'r' },
    ]);
    await tx.write(`${be}/frontend`, fe);
    await tx.write(`${be}/frontend-id`, String(d.domid));
    await tx.write(`${be}/online`, '1');
    await tx.write(`${be}/state`, String(XenbusState.Initialising));
    if (d.domName !== undefined) await tx.write(`${be}/domain`, d.domName);
    await tx.write(`${fe}/backend`, be);
    await tx.write(`${fe}/backend-id`, '0');
    await tx.write(`${fe}/state`, String(XenbusState.Initialising));
  }
  const i = num;
  const b = bdfText(d.bdf);
  await tx.write(`${be}/key-${i}`, b);
  await tx.write(`${be}/dev-${i}`, b);
  if (d.vdevfn) await tx.write(`${be}/vdevfn-${i}`, d.vdevfn.toString(16));
  if (d.name !== undefined) await tx.write(`${be}/name-${i}`, d.name);
  await tx.write(`${be}/opts-${i}`, d.opts);
  await tx.write(`${be}/state-${i}`, String(XenbusState.Initialising));
  await tx.write(`${be}/num_devs`, String(i + 1));
  if (d.reconfigure && num > 0) await tx.write(`${be}/state`, String(XenbusState.Reconfiguring));
  return i;
}

const PER_DEVICE = ['state', 'key', 'dev', 'vdev', 'opts', 'vdevfn', 'name'] as const;

/**
 * Removes device `bdf`'s nodes and moves every higher index down by one, as libxl does; the last
 * device takes the whole backend, frontend and libxl index with it. Returns false when the device
 * was not recorded.
 */
export async function removeBackendDevice(tx: XsOps, domid: number, bdf: Bdf): Promise<boolean> {
  const be = backendPath(domid);
  const numText = await tx.read(`${be}/num_devs`);
  if (numText === undefined) return false;
  const num = Number.parseInt(numText, 10) || 0;
  const want = bdfText(bdf);
  let idx = -1;
  for (let i = 0; i < num; i++) {
    const dev = await tx.read(`${be}/dev-${i}`);
    const parsed = dev === undefined ? undefined : parseDevNode(dev);
    if (parsed && bdfText(parsed) === want) {
      idx = i;
      break;
    }
  }
  if (idx < 0) return false;
  if (num === 1) {
    await removePathAndEmptyParents(tx, be);
    await removePathAndEmptyParents(tx, frontendPath(domid));
    return true;
  }
  for (const k of PER_DEVICE) await tx.rm(`${be}/${k}-${idx}`);
  for (let j = idx + 1; j < num; j++) {
    for (const k of PER_DEVICE) {
      const v = await tx.read(`${be}/${k}-${j}`);
      if (v !== undefined) {
        await tx.write(`${be}/${k}-${j - 1}`, v);
        await tx.rm(`${be}/${k}-${j}`);
      }
    }
  }
  await tx.write(`${be}/num_devs`, String(num - 1));
  return true;
}

/**
 * Removes `path`, then each parent that is left empty, as libxl's `libxl__xs_path_cleanup` does
 * when it destroys a device (so `/local/domain/0/backend/pci/<domid>` does not linger).
 */
export async function removePathAndEmptyParents(tx: XsOps, path: string): Promise<void> {
  await tx.rm(path);
  let p = path;
  for (;;) {
    const cut = p.lastIndexOf('/');
    if (cut <= 0) return;
    p = p.slice(0, cut);
    if ((await tx.read(p)) === undefined) return;
    if ((await tx.directory(p)).length > 0) return;
    await tx.rm(p);
  }
}
