/**
 * The xentool subcommands. Each entry lives in its own file, named after the subcommand.
 * Keep this list sorted by file name; add a line when a command lands.
 */
import type { CommandSpec } from '../command';

export function allCommands(): CommandSpec[] {
  return [
    // One require per command keeps start-up cheap: a spec module holds only its options.
    /* eslint-disable @typescript-eslint/no-require-imports */
  ];
}
