import type { CommandSpec } from '../command';

/** `xentool config-dump [--json] [--typed] FILE [KEY=VALUE...]` (see config/config-dump.ts). */
export const command: CommandSpec = {
  command: 'config-dump <file> [overrides..]',
  describe: 'Parse a domain config as xl does and print it (KEY=VALUE overrides as xl create)',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'Domain config file' })
      .positional('overrides', { type: 'string', array: true, describe: 'KEY=VALUE lines appended to the file' })
      .option('json', { type: 'boolean', default: false, describe: 'One JSON object, key → value' })
      .option('typed', { type: 'boolean', default: false, describe: 'The typed domain model as JSON' }),
  run: async (args, ctx) => {
    const { runConfigDump } = await import('../config/config-dump');
    return runConfigDump(
      {
        file: String(args.file),
        overrides: ((args.overrides as unknown[] | undefined) ?? []).map(String),
        json: Boolean(args.json),
        typed: Boolean(args.typed),
      },
      ctx,
    );
  },
};
