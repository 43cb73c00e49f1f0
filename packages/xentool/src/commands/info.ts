import type { CommandSpec, ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import type { Host } from '../host/host';

/** host/open-host.ts's signature: probes, then builds the real or simulated host. */
export type OpenHostFn = (ctx: CommandContext, args: ParsedArgs) => Promise<Host>;

/** The host factory, imported only when the command runs (keeps --help from loading hosts). */
const loadOpenHost: OpenHostFn = async (ctx, args) => (await import('../host/open-host')).openHost(ctx, args);

/** `xentool info [name]`: `xl info` text; with a name, only the values of matching lines. */
export async function runInfo(host: Host, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const { formatXlInfo } = await import('../format/xl-info');
  const info = await host.info();
  const name = args.name === undefined ? undefined : String(args.name);
  if (args.json) {
    // The same fields and values as the text, as one object: `{"host": "...", "nr_cpus": "4", ...}`.
    const fields: Record<string, string> = {};
    for (const line of formatXlInfo(info).split('\n')) {
      const i = line.indexOf(' : ');
      if (i < 0) continue;
      const key = line.slice(0, i).trim();
      if (name === undefined || key.startsWith(name)) fields[key] = line.slice(i + 3);
    }
    await write(ctx.stdout, JSON.stringify(fields, null, 2) + '\n');
    return 0;
  }
  await write(ctx.stdout, formatXlInfo(info, name));
  return 0;
}

export function makeInfoCommand(openHost: OpenHostFn = loadOpenHost): CommandSpec {
  return {
    command: 'info [name]',
    describe: 'Print host and hypervisor information, as xl info (a name prints only the values of matching fields)',
    builder: (y) =>
      y.positional('name', { type: 'string', describe: 'field name prefix, e.g. free_memory' }).option('json', { type: 'boolean', describe: 'JSON output' }),
    run: async (args, ctx) => {
      const host = await openHost(ctx, args);
      try {
        return await runInfo(host, args, ctx);
      } finally {
        await host.close();
      }
    },
  };
}

export const command: CommandSpec = makeInfoCommand();
