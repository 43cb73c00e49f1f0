export { runCli, reportError } from './cli';
export type { CommandContext } from './context';
export type { CommandSpec, ParsedArgs } from './command';
export { XentoolError, UsageError, ErrorCodes, isCodedError } from './errors';
