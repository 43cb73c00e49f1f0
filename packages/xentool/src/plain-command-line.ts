/**
 * The CLI's known-command path: for a plain command line (a registered command, its positionals,
 * and options it or the CLI declares, each spelt out once), the arguments yargs would hand to that
 * command's handler, worked out without yargs; for anything else, `undefined`, and yargs decides.
 *
 * Why: loading yargs, building its instance and its three parser passes were about 5 ms of
 * `xentool --sim pci-list DOM`'s ~16 ms over `node -e 0` (bench/cli-startup), and V8 had to
 * deserialise yargs's compiled code from the bundle's code cache at every start too. A command
 * line that reaches a handler is almost always a plain one; help, usage errors, unknown options,
 * `--no-X`, `--X=false`, option groups (`-vN`), `--`, repeated options and builders that use
 * more than plain string and boolean options all still go through yargs, with its own texts.
 *
 * What "the arguments yargs would hand over" means is checked, not assumed:
 * plain-command-line.test.ts runs generated command lines through both and compares
 * the argument objects key by key, in order.
 */
import type { Argv } from 'yargs';
import type { CommandSpec, ParsedArgs } from './command';

/** An option as cli.ts declares it to yargs: only what this path understands. */
export interface PlainOption {
  type: 'boolean' | 'string';
  alias?: string;
  describe?: string;
  hidden?: boolean;
}

/** What a command's builder declared, when it declared only plain options and positionals. */
interface PlainBuilder {
  options: Map<string, PlainOption>;
  /** Positionals declared `{ type: 'string' }` (yargs parses undeclared ones as numbers). */
  strings: Set<string>;
}

/** A positional of the command string: `<name>` (demanded), `[name]`, `[name..]`, `<name..>`. */
interface Positional {
  name: string;
  demanded: boolean;
  variadic: boolean;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** yargs-parser's camel-case expansion: `sim-dir` is also `simDir`. */
function camel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Runs the builder against a recorder that knows only `positional` and `option` with the keys
 * below; any other method or key (defaults, choices, numbers, conflicts...) makes it undefined.
 */
function recordBuilder(spec: CommandSpec): PlainBuilder | undefined {
  const out: PlainBuilder = { options: new Map(), strings: new Set() };
  if (!spec.builder) return out;
  let plain = true;
  const recorder = {
    positional(name: string, o: Record<string, unknown>) {
      // yargs ignores `array` on a positional (the command string's `..` makes it variadic).
      if (o.type !== 'string' || !NAME.test(name) || name.includes('-') || Object.keys(o).some((k) => !['type', 'describe', 'array'].includes(k))) plain = false;
      else out.strings.add(name);
      return recorder;
    },
    option(name: string, o: Record<string, unknown>) {
      const ok =
        NAME.test(name) &&
        (o.type === 'boolean' || o.type === 'string') &&
        (o.alias === undefined || (typeof o.alias === 'string' && /^[a-zA-Z]$/.test(o.alias))) &&
        // `hidden` only keeps an option out of the help text.
        Object.keys(o).every((k) => ['type', 'alias', 'describe', 'hidden'].includes(k));
      if (ok) out.options.set(name, o as unknown as PlainOption);
      else plain = false;
      return recorder;
    },
  };
  try {
    spec.builder(recorder as unknown as Argv);
  } catch {
    return undefined;
  }
  return plain ? out : undefined;
}

/** yargs's reading of a command string (lib/parse-command.js), for plain ones only. */
function positionalsOf(command: string): Positional[] | undefined {
  const words = command.trim().split(/\s+/).slice(1);
  const out: Positional[] = [];
  for (const [i, w] of words.entries()) {
    const m = /^(<|\[)([a-z][a-z0-9]*)(\.\.)?(>|\])$/.exec(w);
    if (!m || (m[1] === '<') !== (m[4] === '>')) return undefined;
    const variadic = m[3] !== undefined;
    if (variadic && i !== words.length - 1) return undefined;
    out.push({ name: m[2]!, demanded: m[1] === '<', variadic });
  }
  // yargs fills the demanded ones first, then the optional ones: plain only when that is the
  // command string's own order.
  const firstOptional = out.findIndex((p) => !p.demanded);
  if (firstOptional >= 0 && out.slice(firstOptional).some((p) => p.demanded)) return undefined;
  return out;
}

/**
 * The first word that is not an option or an option's value, when only options every command
 * has (`globals`) come before it; else undefined (a command's own option before the command is
 * left to yargs).
 */
function commandWord(args: readonly string[], globals: ReadonlyMap<string, PlainOption>): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) return a;
    const long = a.startsWith('--') ? a.slice(2).split('=')[0]! : undefined;
    const o = long !== undefined ? globals.get(long) : [...globals.values()].find((g) => a.length === 2 && g.alias === a.slice(1));
    if (!o) return undefined;
    if (o.type === 'string' && !a.includes('=')) i++;
  }
  return undefined;
}

/**
 * The command and its arguments for a plain command line, or undefined (yargs then parses it).
 * `globals` are the options the CLI declares for every command (cli.ts), `scriptName` yargs's `$0`.
 */
export function plainCommandLine(
  args: readonly string[],
  commands: readonly CommandSpec[],
  globals: ReadonlyMap<string, PlainOption>,
  scriptName: string,
): { spec: CommandSpec; argv: ParsedArgs } | undefined {
  const typed = commandWord(args, globals);
  if (typed === undefined) return undefined;
  const spec = commands.find((c) => c.command.split(' ')[0] === typed || (c.aliases ?? []).includes(typed));
  if (!spec) return undefined;
  const builder = recordBuilder(spec);
  const positionals = positionalsOf(spec.command);
  if (!builder || !positionals || positionals.some((p) => !builder.strings.has(p.name))) return undefined;

  const options = new Map<string, PlainOption>(globals);
  for (const [k, o] of builder.options) {
    if (options.has(k)) return undefined;
    options.set(k, o);
  }
  const byAlias = new Map<string, string>();
  for (const [k, o] of options) {
    if (o.alias === undefined) continue;
    if (byAlias.has(o.alias) || options.has(o.alias)) return undefined;
    byAlias.set(o.alias, k);
  }

  // The options, in the order given, as yargs-parser sets them: the spelling used first, then
  // the option's other names (its name, its alias, its camel-case form, in that order).
  const set: [string, unknown][] = [];
  const seen = new Set<string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) {
      rest.push(a);
      continue;
    }
    let key: string | undefined;
    let value: string | undefined;
    let spelt: string;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      spelt = eq < 0 ? a.slice(2) : a.slice(2, eq);
      key = options.has(spelt) ? spelt : undefined;
      if (eq >= 0) value = a.slice(eq + 1);
    } else {
      spelt = a.slice(1);
      key = a.length === 2 ? byAlias.get(spelt) : undefined;
    }
    if (key === undefined || seen.has(key)) return undefined;
    seen.add(key);
    const o = options.get(key)!;
    if (o.type === 'boolean') {
      // `--json=false`, `--json false`: yargs-parser reads a value there; leave those to it.
      if (value !== undefined) return undefined;
      const next = args[i + 1];
      if (next === 'true' || next === 'false') return undefined;
    } else if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('-')) return undefined;
      value = next;
      i++;
    }
    const names = [key, ...(o.alias !== undefined ? [o.alias] : []), ...(key.includes('-') ? [camel(key)] : [])];
    const first = names.indexOf(spelt);
    const ordered = [names[first]!, ...names.filter((_n, j) => j !== first)];
    for (const n of ordered) set.push([n, o.type === 'boolean' ? true : value]);
  }

  // The command is the first word; the others fill the positionals, demanded ones first. Words
  // left over, or too few for the demanded ones, are yargs's to refuse.
  if (rest[0] !== typed) return undefined;
  const values = rest.slice(1);
  const filled: [string, unknown][] = [];
  const defaults: [string, unknown][] = [];
  for (const p of positionals) {
    if (p.variadic) {
      if (p.demanded && values.length === 0) return undefined;
      // yargs declares a variadic positional with a default of [], set before `$0`.
      defaults.push([p.name, values.splice(0)]);
    } else if (values.length > 0) {
      filled.push([p.name, values.shift()]);
    } else if (p.demanded) {
      return undefined;
    }
  }
  if (values.length > 0) return undefined;

  const argv: ParsedArgs = { _: [typed] };
  for (const [k, v] of [...set, ...defaults]) argv[k] = v;
  argv.$0 = scriptName;
  for (const [k, v] of filled) argv[k] = v;
  return { spec, argv };
}
