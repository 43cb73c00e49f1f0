/**
 * `readConfigFile(path, overrides)`: reads a domain config and applies `KEY=VALUE` arguments
 * the way `xl create cfg KEY=VALUE...` does (xl_vmcontrol.c): each override is a line of config
 * text appended after the file (`"\n" + overrides.join("\n") + "\n\n"`), so it is parsed with
 * the same grammar and, coming last, wins. `memory=1024` works; a string needs its quotes
 * (`name="vm2"`), as with xl.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCodes, UsageError, XentoolError } from '../errors';
import { ConfigError } from './config-error';
import { parseConfigBytes } from './parse-config';
import type { ConfigFile } from './parse-config';

/** Builds the bytes xl parses: the file, then the overrides. Exported for tests. */
export function withOverrides(file: Uint8Array, overrides: readonly string[]): { bytes: Buffer; fileLines: number } {
  const fileBuf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  let fileLines = 1;
  for (const b of fileBuf) if (b === 0x0a) fileLines++;
  if (overrides.length === 0) return { bytes: fileBuf, fileLines };
  for (const o of overrides) {
    if (!o.includes('=')) throw new UsageError(`override ${JSON.stringify(o)} is not KEY=VALUE`);
  }
  // xl: extra_config = "K=V\n" per argument, then sprintf("\n%s\n", extra_config).
  const extra = overrides.map((o) => `${o}\n`).join('');
  return { bytes: Buffer.concat([fileBuf, Buffer.from(`\n${extra}\n`, 'utf8')]), fileLines };
}

/** `source` names the file in messages (default: `path`). */
export async function readConfigFile(path: string, overrides: readonly string[] = [], source = path): Promise<ConfigFile> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new XentoolError(ErrorCodes.ERR_CONFIG_IO, `Failed to read config file: ${source}: ${err.code ?? err.message}`, 1);
  }
  const { bytes, fileLines } = withOverrides(data, overrides);
  try {
    return parseConfigBytes(bytes, source);
  } catch (e) {
    // An error past the file's last line is in an override: name it instead of a line number
    // the user cannot find in the file.
    if (e instanceof ConfigError && e.line > fileLines && overrides.length > 0) {
      const idx = e.line - fileLines - 1;
      const which = overrides[idx];
      if (which !== undefined) {
        throw new ConfigError(e.code, `${source} (override ${JSON.stringify(which)})`, 1, e.col, e.detail, e.token);
      }
    }
    throw e;
  }
}
