/**
 * `xentool config-dump [--json] [--typed] FILE [KEY=VALUE...]`.
 *
 * - default: the canonical text form (`formatConfigText`): `key = value` per key, last
 *   assignment wins, keys in order of first assignment; it parses back to the same values.
 * - `--json`: one object, key → value; an atom is a JSON string holding exactly the text
 *   libxlutil stores (numbers as written, escapes applied), a list an array (nested lists
 *   nested).
 * - `--typed`: the typed model (`domainConfigFromFile`) as JSON; its warnings go to stderr.
 */
import { resolve } from 'node:path';
import type { CommandContext } from '../context';
import { write } from '../context';
import { oneLine } from './config-error';
import { domainConfigFromFile } from './domain-config';
import { formatConfigText } from './format-config';
import { readConfigFile } from './read-config-file';

export interface ConfigDumpArgs {
  file: string;
  overrides: string[];
  json: boolean;
  typed: boolean;
}

export async function runConfigDump(a: ConfigDumpArgs, ctx: CommandContext): Promise<number> {
  // Messages name the file as the user wrote it, not the resolved path.
  const cfg = await readConfigFile(resolve(ctx.cwd, a.file), a.overrides, a.file);
  if (a.typed) {
    const { warnings, ...model } = domainConfigFromFile(cfg);
    for (const w of warnings) await write(ctx.stderr, `warning: ${oneLine(w)}\n`);
    await write(ctx.stdout, JSON.stringify(model, null, 2) + '\n');
    return 0;
  }
  await write(ctx.stdout, a.json ? JSON.stringify(cfg.toPlain(), null, 2) + '\n' : formatConfigText(cfg));
  return 0;
}
