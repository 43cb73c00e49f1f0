/**
 * Opens a host for the lifecycle commands: the same probe as host/open-host.ts (`--sim`, else
 * /dev/xen/privcmd), but keeping hold of the parts creation needs beyond the Host seam — the
 * libxenctrl handle for the builder and the xenstore client for XS_INTRODUCE.
 */
import { existsSync } from 'node:fs';
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import type { Host } from '../host/host';
import { simDir, wantsSim } from '../host/open-host';
import type { PciHost } from '../pci/pci-host';
import type { DomainOps } from './domain-ops';

export interface DomainHost {
  host: Host & PciHost;
  ops: DomainOps;
  close(): Promise<void>;
}

const PRIVCMD = '/dev/xen/privcmd';

export async function openDomainHost(ctx: CommandContext, args: ParsedArgs): Promise<DomainHost> {
  if (wantsSim(ctx, args)) {
    const [{ SimHost }, { SimDomainOps }] = await Promise.all([import('../host/sim/sim-host'), import('./sim-domain-ops')]);
    const host = await SimHost.open({
      dir: simDir(ctx, args),
      onWait: (pid) => void write(ctx.stderr, `waiting for the simulated host, in use by process ${pid}...\n`),
    });
    return { host, ops: new SimDomainOps(host), close: () => host.close() };
  }
  if (!existsSync(PRIVCMD)) {
    throw new XentoolError('ERR_HOST_UNAVAILABLE', `no Xen hypervisor found (${PRIVCMD} does not exist); --sim runs against the simulated host`);
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
  const [{ RealXenHost }, { RealDomainOps }] = await Promise.all([import('../host/real/real-xen-host'), import('./real-domain-ops')]);
  const host = new RealXenHost({ xc, xenstore });
  return { host, ops: new RealDomainOps(xc, xenstore, host.xs, () => host.domains()), close: () => host.close() };
}
