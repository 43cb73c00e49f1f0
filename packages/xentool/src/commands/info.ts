import type { CommandSpec, ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import type { Host } from '../host/host';

/** The lead's host factory (host/open-host.ts): probes, then builds the real or simulated host. */
export type OpenHostFn = (ctx: CommandContext, args: ParsedArgs) => Promise<Host>;

/**
 * Loads host/open-host lazily. The specifier is deliberately not a literal: that module lands
 * separately (the host factory), and a literal would make this package fail to type-check until
 * then. Once it exists, a plain `await import('../host/open-host')` is equivalent.
 */
const loadOpenHost: OpenHostFn = async (ctx, args) => {
  const specifier: string = '../host/open-host';
  const mod = (await import(specifier)) as { openHost: OpenHostFn };
  return mod.openHost(ctx, args);
};

/** `xentool info [name]`: `xl info` text; with a name, only the values of matching lines. */
export async function runInfo(host: Host, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const { formatXlInfo } = await import('../format/xl-info');
  const info = await host.info();
  const name = args.name === undefined ? undefined : String(args.name);
  await write(ctx.stdout, formatXlInfo(info, name));
  return 0;
}

export function makeInfoCommand(openHost: OpenHostFn = loadOpenHost): CommandSpec {
  return {
    command: 'info [name]',
    describe: 'Print host and hypervisor information, as xl info (a name prints only the values of matching fields)',
    builder: (y) => y.positional('name', { type: 'string', describe: 'field name prefix, e.g. free_memory' }),
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
