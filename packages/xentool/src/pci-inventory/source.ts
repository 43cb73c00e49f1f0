/**
 * Where the PCI commands get their facts: a sysfs (the real `/sys`, or the simulated host's
 * sysfs), what dom0 uses, and which devices are assigned to guests. The commands only read.
 *
 * - Real: `/sys` and `/proc` (roots overridable with --sysfs-root/--proc-root, which the tests
 *   use to point at temporary trees).
 * - `--sim`: the simulated sysfs saved by the simulated host (`sysfs` in `<sim-dir>/state.json`),
 *   or, when there is none yet, the seed document's host (`seedTopology`).
 *
 * `assigned` stays empty here: the BDF → domid records live in xenstore (/libxl/pci/<bdf>/domid),
 * which the Host seam provides; callers that have a host pass them in.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Dom0Usage, PciIds, SysfsFs } from '@xentool/pciback';
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { XentoolError } from '../errors';

export interface PciSource {
  sysfs: SysfsFs;
  dom0Usage: Dom0Usage[];
  assigned: Map<string, number>;
  pciIds: PciIds;
  /** `real` or `sim`, for messages. */
  kind: 'real' | 'sim';
}

export type OpenPciSource = (ctx: CommandContext, args: ParsedArgs) => Promise<PciSource>;

export const openPciSource: OpenPciSource = async (ctx, args) => {
  const pb = await import('@xentool/pciback');
  const pciIds = pb.PciIds.load(typeof args['pci-ids'] === 'string' ? path.resolve(ctx.cwd, args['pci-ids']) : undefined);
  if (args.sim) {
    const sim = loadSimSysfs(pb, typeof args['sim-dir'] === 'string' ? path.resolve(ctx.cwd, args['sim-dir']) : undefined);
    return { sysfs: sim, dom0Usage: [...sim.dom0Usage], assigned: new Map(), pciIds, kind: 'sim' };
  }
  const sysRoot = path.resolve(ctx.cwd, typeof args['sysfs-root'] === 'string' ? args['sysfs-root'] : '/sys');
  const procRoot = path.resolve(ctx.cwd, typeof args['proc-root'] === 'string' ? args['proc-root'] : '/proc');
  const sysfs = new pb.Sysfs({ root: sysRoot });
  const dom0Usage = pb.detectDom0Usage(sysfs, new pb.Sysfs({ root: procRoot }));
  return { sysfs, dom0Usage, assigned: new Map(), pciIds, kind: 'real' };
};

function loadSimSysfs(pb: typeof import('@xentool/pciback'), dir: string | undefined) {
  if (dir) {
    const file = path.join(dir, 'state.json');
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      let state: { sysfs?: unknown };
      try {
        state = JSON.parse(text) as { sysfs?: unknown };
      } catch (e) {
        throw new XentoolError('ERR_SIM_STATE', `${file}: the simulated host's state is corrupt (${(e as Error).message})`);
      }
      if (state && state.sysfs !== undefined) return pb.SimSysfs.fromJSON(state.sysfs);
    }
  }
  return pb.seedTopology();
}

/** yargs options shared by the PCI inventory commands. */
export function sourceOptions<T extends import('yargs').Argv>(y: T): T {
  return y
    .option('sysfs-root', { type: 'string', describe: 'Read sysfs from this directory instead of /sys', hidden: true })
    .option('proc-root', { type: 'string', describe: 'Read /proc from this directory instead', hidden: true })
    .option('pci-ids', { type: 'string', describe: 'pci.ids database (default /usr/share/misc/pci.ids)', hidden: true }) as unknown as T;
}

/** What pciSourceFromHost needs of a PciHost (pci/pci-host.ts). */
export interface PciSourceHost {
  readonly kind: 'real' | 'sim';
  readonly sysfs: SysfsFs;
  dom0Usage(): Dom0Usage[];
  readonly xs: { directory(path: string): Promise<string[]>; read(path: string): Promise<string | undefined> };
}

/**
 * Builds the source from an open host: assignment records come from the tree xl and xentool
 * share, `/libxl/pci/<DDDD-BB-DD-F>/domid` (written on attach, removed on detach).
 */
export async function pciSourceFromHost(host: PciSourceHost, pciIds: PciIds): Promise<PciSource> {
  const assigned = new Map<string, number>();
  let keys: string[] = [];
  try {
    keys = await host.xs.directory('/libxl/pci');
  } catch {
    keys = [];
  }
  for (const k of keys) {
    const m = /^([0-9a-f]{4})-([0-9a-f]{2})-([0-9a-f]{2})-([0-7])$/.exec(k);
    if (!m) continue;
    const domid = await host.xs.read(`/libxl/pci/${k}/domid`);
    if (domid !== undefined && /^\d+$/.test(domid)) assigned.set(`${m[1]}:${m[2]}:${m[3]}.${m[4]}`, Number(domid));
  }
  return { sysfs: host.sysfs, dom0Usage: host.dom0Usage(), assigned, pciIds, kind: host.kind };
}
