import type { Argv } from 'yargs';
import type { CommandContext } from './context';

/** Arguments after yargs has parsed them. */
export type ParsedArgs = Record<string, unknown> & { _: (string | number)[] };

/**
 * One subcommand. The spec module stays tiny: `run` imports its implementation lazily, so
 * `xentool --help` and short commands do not load the whole toolstack.
 */
export interface CommandSpec {
  /** yargs command string, e.g. `pci-spec [specs..]`. */
  command: string;
  aliases?: string[];
  describe: string;
  builder?: (y: Argv) => Argv;
  /** Resolves to the process exit code. */
  run: (args: ParsedArgs, ctx: CommandContext) => Promise<number>;
}
