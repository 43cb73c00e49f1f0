/**
 * Probe, then construct: `--sim` (or XENTOOL_HOST=sim) opens the simulated host; otherwise the
 * real one when /dev/xen/privcmd exists; otherwise one line saying no hypervisor was found.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import type { PciHost } from '../pci/pci-host';
import type { Host } from './host';

export type AnyHost = Host & PciHost;

const PRIVCMD = '/dev/xen/privcmd';

export function wantsSim(ctx: CommandContext, args: ParsedArgs): boolean {
  return args.sim === true || ctx.env.XENTOOL_HOST === 'sim';
}

/** `--sim-dir`, else XENTOOL_SIM_DIR, else `$XDG_STATE_HOME/xentool/sim` (~/.local/state/...). */
export function simDir(ctx: CommandContext, args: ParsedArgs): string {
  if (typeof args.simDir === 'string' && args.simDir) return path.resolve(ctx.cwd, args.simDir);
  if (ctx.env.XENTOOL_SIM_DIR) return path.resolve(ctx.cwd, ctx.env.XENTOOL_SIM_DIR);
  // node:os only here, where it is needed: loading it cost ~0.5 ms of every start (bench/cli-startup).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const home = () => (require('node:os') as typeof import('node:os')).homedir();
  const state = ctx.env.XDG_STATE_HOME || path.join(ctx.env.HOME || home(), '.local', 'state');
  return path.join(state, 'xentool', 'sim');
}

/** How a command means to use the host. */
export interface OpenHostOptions {
  /** It only reads: the simulated host may then skip its start-up (SimHost.open `readOnly`). */
  readOnly?: boolean;
}

/** The simulated host in the directory `--sim-dir` (or the default) names. */
export async function openSimHost(ctx: CommandContext, args: ParsedArgs, opts: OpenHostOptions = {}) {
  const { SimHost } = await import('./sim/sim-host');
  return SimHost.open({
    dir: simDir(ctx, args),
    ...(opts.readOnly ? { readOnly: true } : {}),
    onWait: (pid) => void write(ctx.stderr, `waiting for the simulated host, in use by process ${pid}...\n`),
  });
}

/**
 * The real host, with the handles it was built from (domain creation needs libxenctrl and the
 * xenstore client themselves). Without a hypervisor: one line, ERR_HOST_UNAVAILABLE.
 */
export async function openRealXenHost(ctx: CommandContext) {
  if (!existsSync(PRIVCMD)) {
    throw new XentoolError(
      'ERR_HOST_UNAVAILABLE',
      `no Xen hypervisor found (${PRIVCMD} does not exist); --sim runs against the simulated host`,
    );
  }
  const { openXenstore } = await import('@xentool/xenstore');
  const { openXc } = await import('@xentool/libxc-bindings');
  const xenstore = await openXenstore({ env: ctx.env });
  let xc;
  try {
    xc = openXc({});
  } catch (e) {
    xenstore.close();
    throw e;
  }
  const { RealXenHost } = await import('./real/real-xen-host');
  return { host: new RealXenHost({ xc, xenstore }), xc, xenstore };
}

export async function openHost(ctx: CommandContext, args: ParsedArgs, opts: OpenHostOptions = {}): Promise<AnyHost> {
  if (wantsSim(ctx, args)) return openSimHost(ctx, args, opts);
  return (await openRealXenHost(ctx)).host;
}
