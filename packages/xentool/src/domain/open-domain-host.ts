/**
 * Opens a host for the lifecycle commands: the same probe as host/open-host.ts (`--sim`, else
 * /dev/xen/privcmd), but keeping hold of the parts creation needs beyond the Host seam — the
 * libxenctrl handle for the builder and the xenstore client for XS_INTRODUCE.
 */
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import type { Host } from '../host/host';
import { openRealXenHost, openSimHost, wantsSim } from '../host/open-host';
import type { PciHost } from '../pci/pci-host';
import type { DomainOps } from './domain-ops';

export interface DomainHost {
  host: Host & PciHost;
  ops: DomainOps;
  close(): Promise<void>;
}

export async function openDomainHost(ctx: CommandContext, args: ParsedArgs): Promise<DomainHost> {
  if (wantsSim(ctx, args)) {
    const [host, { SimDomainOps }] = await Promise.all([openSimHost(ctx, args), import('./sim-domain-ops')]);
    return { host, ops: new SimDomainOps(host), close: () => host.close() };
  }
  const [{ host, xc, xenstore }, { RealDomainOps }] = await Promise.all([openRealXenHost(ctx), import('./real-domain-ops')]);
  return { host, ops: new RealDomainOps(xc, xenstore, host.xs, () => host.domains(), (d) => host.qmp(d)), close: () => host.close() };
}
