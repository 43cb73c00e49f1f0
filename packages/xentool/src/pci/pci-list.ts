/**
 * `pci-list DOM` (xl) and the domain lookup it shares with every PCI command, in a module of its
 * own that imports only what a listing needs: the CLI starts `pci-list` without initialising the
 * planners, step handlers, intent log and pciback that pci-ops.ts brings in (bench/cli-startup).
 * pci-ops.ts and pci-cli.ts re-export these, so callers may keep importing them from there.
 */
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import { readAttached } from './backend-xs';
import { formatXlPciList } from './format-pci-list';
import type { PciHost } from './pci-host';
import type { AttachedPci } from './types';
import { bdfText } from './types';

/**
 * xl's `find_domain`: an all-digit argument is a domid, taken without checking that it exists
 * (so `xl pci-list 999` prints nothing); anything else is looked up by name.
 */
export async function resolveDomain(host: PciHost, arg: string): Promise<number> {
  if (/^[0-9]+$/.test(arg)) return Number.parseInt(arg, 10);
  const doms = await host.domains();
  const d = doms.find((x) => x.name === arg);
  if (!d) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `${arg} is an invalid domain identifier (rc=-6)`);
  return d.domid;
}

export async function pciList(host: PciHost, domArg: string): Promise<AttachedPci[]> {
  return readAttached(host.xs, await resolveDomain(host, domArg));
}

export async function runPciList(
  open: (ctx: CommandContext, args: ParsedArgs) => Promise<PciHost & { close(): Promise<void> }>,
  args: ParsedArgs,
  ctx: CommandContext,
): Promise<number> {
  const host = await open(ctx, args);
  try {
    const devs = await pciList(host, String(args.domain));
    if (args.json) {
      const rows = devs.map((d) => ({
        bdf: bdfText(d),
        vdevfn: d.vdevfn ?? null,
        vslot: d.vdevfn === undefined ? null : d.vdevfn >> 3,
        ...(d.name !== undefined ? { name: d.name } : {}),
        opts: d.opts,
        ...(d.state !== undefined ? { state: d.state } : {}),
      }));
      await write(ctx.stdout, JSON.stringify(rows, null, 2) + '\n');
    } else {
      await write(ctx.stdout, formatXlPciList(devs));
    }
    return 0;
  } finally {
    await host.close();
  }
}
