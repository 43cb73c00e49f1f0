import type { CommandSpec, ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { ErrorCodes, XentoolError } from '../errors';
import type { DomainRecord, Host } from '../host/host';

/** host/open-host.ts's signature: probes, then builds the real or simulated host. */
export type OpenHostFn = (ctx: CommandContext, args: ParsedArgs) => Promise<Host>;

/** The host factory, imported only when the command runs (keeps --help from loading hosts). */
const loadOpenHost: OpenHostFn = async (ctx, args) => (await import('../host/open-host')).openHost(ctx, args);

/**
 * Picks the domain `xl list <domain>` means. As xl's find_domain: an all-digit argument is a
 * domid (checked against the list afterwards); anything else is looked up by name.
 */
export function selectDomain(domains: readonly DomainRecord[], qualifier: string): DomainRecord {
  if (/^[0-9]+$/.test(qualifier)) {
    const domid = Number.parseInt(qualifier, 10);
    const d = domains.find((x) => x.domid === domid);
    if (!d) throw new XentoolError(ErrorCodes.ERR_DOMAIN_NOT_FOUND, `Error: Domain '${qualifier}' does not exist.`);
    return d;
  }
  const d = domains.find((x) => x.name === qualifier);
  // xl prints libxl's ERROR_INVAL (-6) from libxl_name_to_domid.
  if (!d) throw new XentoolError(ErrorCodes.ERR_DOMAIN_INVALID, `${qualifier} is an invalid domain identifier (rc=-6)`);
  return d;
}

/** `xentool list [-l|--json] [domain]`. */
export async function runList(host: Host, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const { formatXlList, formatXlListJson } = await import('../format/xl-list');
  let domains = await host.domains();
  if (args.domain !== undefined) domains = [selectDomain(domains, String(args.domain))];
  const json = Boolean(args.long) || Boolean(args.json);
  await write(ctx.stdout, json ? formatXlListJson(domains) : formatXlList(domains));
  return 0;
}

export function makeListCommand(openHost: OpenHostFn = loadOpenHost): CommandSpec {
  return {
    command: 'list [domain]',
    describe: 'List domains, as xl list (-l/--json: one JSON object per domain)',
    builder: (y) =>
      y
        .positional('domain', { type: 'string', describe: 'domain name or id' })
        .option('long', { alias: 'l', type: 'boolean', describe: 'JSON output' })
        .option('json', { type: 'boolean', describe: 'JSON output (same as -l)' }),
    run: async (args, ctx) => {
      const host = await openHost(ctx, args);
      try {
        return await runList(host, args, ctx);
      } finally {
        await host.close();
      }
    },
  };
}

export const command: CommandSpec = makeListCommand();
