/**
 * The CLI factory. `runCli` parses, dispatches and maps every failure to one line on stderr
 * and an exit code; it never exits the process, so tests call it in-process.
 */
import type { Argv } from 'yargs';
import type { CommandContext } from './context';
import { write } from './context';
import type { CommandSpec, ParsedArgs } from './command';
import { isCodedError, UsageError } from './errors';
import { mapStack } from './map-stack';
import type { PlainOption } from './plain-command-line';
import { plainCommandLine } from './plain-command-line';

/** The options every command takes (yargs `global`), in the order the help text lists them. */
export const GLOBAL_OPTIONS: ReadonlyMap<string, PlainOption> = new Map<string, PlainOption>([
  ['verbose', { alias: 'v', type: 'boolean', describe: 'Print stack traces for unexpected errors' }],
  ['color', { type: 'boolean', describe: 'Colour output (--no-color to disable)' }],
  ['sim', { type: 'boolean', describe: 'Run against the simulated host' }],
  ['sim-dir', { type: 'string', describe: 'State directory of the simulated host' }],
  ['dry-run', { alias: 'N', type: 'boolean', describe: 'Print the plan; change nothing' }],
]);

export interface CliOptions {
  /** Subcommands; defaults to the full xentool set. */
  commands?: CommandSpec[];
  scriptName?: string;
  /** Parse every command line with yargs, plain ones too (tests compare the two paths). */
  viaYargs?: boolean;
}

/** A command's name and aliases, as they may appear on the command line. */
function namesOf(spec: CommandSpec): string[] {
  return [spec.command.split(' ')[0]!, ...(spec.aliases ?? [])];
}

/**
 * The commands yargs needs to see for these arguments. yargs runs the first positional that
 * names a registered command, so registering only the commands whose names occur among the
 * arguments dispatches exactly as registering all of them; with none (an unknown or missing
 * command) or a help request, all of them, because the usage text and error lists them.
 * Registering a command costs yargs a few milliseconds at every start for all thirty of them.
 */
export function commandsFor(args: readonly string[], all: readonly CommandSpec[]): CommandSpec[] {
  if (args.some((a) => a === '--help' || a.startsWith('--help='))) return [...all];
  const words = new Set(args);
  const named = all.filter((c) => namesOf(c).some((n) => words.has(n)));
  return named.length > 0 ? named : [...all];
}

/**
 * yargs renders the matched command's whole help text right after starting its handler, only so
 * that a `showHelp()` inside an asynchronous handler could still print it (usage.cacheHelpMessage,
 * yargs 17 lib/command.js). Nothing in xentool calls showHelp, `--help` is answered before any
 * handler runs, and usage errors go through `.fail()` as one line; rendering that text was about
 * a fifth of yargs's time at start-up, so it is skipped. (yargs is pinned to 17.7.2; cli.test.ts
 * checks that the method this relies on is still there.)
 */
function skipHelpCaching(y: Argv): void {
  const internals = (y as unknown as { getInternalMethods?: () => { getUsageInstance(): { cacheHelpMessage?: () => void } } }).getInternalMethods;
  const usage = internals?.call(y).getUsageInstance();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

export async function runCli(args: string[], ctx: CommandContext, opts: CliOptions = {}): Promise<number> {
  const commands = commandsFor(args, opts.commands ?? (await import('./commands/index')).allCommands());
  const scriptName = opts.scriptName ?? ctx.prog;
  // A plain command line runs its command with the arguments yargs would have given it, without
  // loading yargs (plain-command-line.ts says which lines and why); any other goes through yargs.
  const plain = opts.viaYargs ? undefined : plainCommandLine(args, commands, GLOBAL_OPTIONS, scriptName);
  if (plain) {
    try {
      return await plain.spec.run(plain.argv, ctx);
    } catch (e) {
      return reportError(e, ctx);
    }
  }

  let exitCode = 0;
  let ran: Promise<void> | undefined;
  let helpText = '';
  const { default: yargs } = await import('yargs');
  let y: Argv = yargs()
    .scriptName(scriptName)
    .exitProcess(false)
    .parserConfiguration({ 'boolean-negation': true, 'duplicate-arguments-array': true });
  for (const [key, o] of GLOBAL_OPTIONS) y = y.option(key, { ...o, global: true });
  y = y
    .strict()
    .demandCommand(1, 'a subcommand is required')
    .version(false)
    .help()
    .wrap(Math.min(100, 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg ?? 'invalid arguments');
    });
  skipHelpCaching(y);

  for (const spec of commands) {
    y.command({
      command: spec.command,
      aliases: spec.aliases,
      describe: spec.describe,
      builder: (spec.builder ?? ((b: Argv) => b)) as never,
      handler: (argv: unknown) => {
        ran = spec.run(argv as ParsedArgs, ctx).then((code) => {
          exitCode = code;
        });
      },
    });
  }

  try {
    await y.parseAsync(args, {}, (_err: unknown, _argv: unknown, output: string) => {
      if (output) helpText = output;
    });
    if (ran) await ran;
    if (helpText) await write(ctx.stdout, helpText.endsWith('\n') ? helpText : helpText + '\n');
    return exitCode;
  } catch (e) {
    return reportError(e, ctx);
  }
}

/** One line on stderr; a stack trace only with --verbose or for an unexpected error. */
export async function reportError(e: unknown, ctx: CommandContext): Promise<number> {
  if (isCodedError(e)) {
    await write(ctx.stderr, `${e.message}\n`);
    if (ctx.verbose && e.stack) await write(ctx.stderr, `${mapStack(e.stack)}\n`);
    return typeof e.exitCode === 'number' ? e.exitCode : 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  await write(ctx.stderr, `${ctx.prog}: internal error: ${msg}\n`);
  if (ctx.verbose && e instanceof Error && e.stack) await write(ctx.stderr, `${mapStack(e.stack)}\n`);
  return 1;
}
