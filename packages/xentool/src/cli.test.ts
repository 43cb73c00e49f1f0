import yargs from 'yargs';
import { commandsFor, runCli } from './cli';
import { allCommands } from './commands/index';
import type { CommandSpec } from './command';
import { XentoolError, UsageError } from './errors';
import { captureContext } from './testing/capture';
import { write } from './context';

const echo: CommandSpec = {
  command: 'echo [words..]',
  describe: 'print words',
  builder: (y) => y.option('upper', { type: 'boolean' }),
  run: async (args, ctx) => {
    const words = (args.words as string[] | undefined) ?? [];
    const text = words.join(' ');
    await write(ctx.stdout, (args.upper ? text.toUpperCase() : text) + '\n');
    return words.length === 0 ? 3 : 0;
  },
};
const fails: CommandSpec = {
  command: 'fails',
  describe: 'always fails',
  run: async () => {
    throw new XentoolError('ERR_TEST', 'cfg:1:2: something is wrong');
  },
};
const usage: CommandSpec = {
  command: 'usage',
  describe: 'bad usage',
  run: async () => {
    throw new UsageError("'xl usage' requires at least 1 argument(s).");
  },
};
const crashes: CommandSpec = {
  command: 'crashes',
  describe: 'a bug',
  run: async () => {
    throw new TypeError('undefined is not a function');
  },
};
const commands = [echo, fails, usage, crashes];

describe('runCli', () => {
  it('dispatches to the command and returns its exit code', async () => {
    const ctx = captureContext();
    expect(await runCli(['echo', 'a', 'b', '--upper'], ctx, { commands })).toBe(0);
    expect(ctx.stdout.text).toBe('A B\n');
    const ctx2 = captureContext();
    expect(await runCli(['echo'], ctx2, { commands })).toBe(3);
  });

  it('prints a coded error as one line and exits with its code', async () => {
    const ctx = captureContext();
    expect(await runCli(['fails'], ctx, { commands })).toBe(1);
    expect(ctx.stderr.text).toBe('cfg:1:2: something is wrong\n');
    expect(ctx.stdout.text).toBe('');
  });

  it('exits 2 on usage errors and unknown commands', async () => {
    const ctx = captureContext();
    expect(await runCli(['usage'], ctx, { commands })).toBe(2);
    expect(ctx.stderr.text).toBe("'xl usage' requires at least 1 argument(s).\n");
    const ctx2 = captureContext();
    expect(await runCli(['no-such-command'], ctx2, { commands })).toBe(2);
    expect(ctx2.stderr.text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(ctx2.stderr.text).toMatch(/no-such-command/);
  });

  it('refuses an unknown option with one line and exit 2, before running anything', async () => {
    const ctx = captureContext();
    expect(await runCli(['echo', 'a', '--uper'], ctx, { commands })).toBe(2);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toBe('Unknown argument: uper\n');
  });

  it('never prints a stack trace for an unexpected error unless --verbose', async () => {
    const ctx = captureContext();
    expect(await runCli(['crashes'], ctx, { commands })).toBe(1);
    expect(ctx.stderr.text).toBe('xentool: internal error: undefined is not a function\n');
    const ctx2 = captureContext({ verbose: true });
    await runCli(['crashes'], ctx2, { commands });
    expect(ctx2.stderr.text).toMatch(/at /);
  });

  it('prints help to the context stdout, not the process', async () => {
    const ctx = captureContext();
    expect(await runCli(['--help'], ctx, { commands })).toBe(0);
    expect(ctx.stdout.text).toMatch(/echo \[words\.\.\]/);
  });
});

describe('commandsFor (start-up: yargs is shown only the commands the arguments name)', () => {
  const all = allCommands();
  const names = (cs: CommandSpec[]) => cs.map((c) => c.command.split(' ')[0]);

  it('keeps every command whose name occurs, wherever it occurs (an option value may be one)', () => {
    expect(names(commandsFor(['--sim', 'pci-list', 'guest1'], all))).toEqual(['pci-list']);
    expect(names(commandsFor(['--sim-dir', 'pci-list', 'list'], all))).toEqual(['list', 'pci-list']);
  });

  it('keeps all of them when none is named or help is asked for', () => {
    expect(commandsFor(['no-such-command'], all)).toHaveLength(all.length);
    expect(commandsFor([], all)).toHaveLength(all.length);
    expect(commandsFor(['pci-list', '--help'], all)).toHaveLength(all.length);
  });

  it('dispatches and refuses exactly as with every command registered', async () => {
    const argvs = [['echo', 'a'], ['fails', 'echo'], ['bogus', 'echo'], ['echo', '--uper'], ['usage'], []];
    for (const argv of argvs) {
      const full = captureContext();
      const fullCode = await runCli(argv, full, { commands });
      const cut = captureContext();
      const cutCode = await runCli(argv, cut, { commands: commandsFor(argv, commands) });
      expect({ argv, code: cutCode, out: cut.stdout.text, err: cut.stderr.text }).toEqual({ argv, code: fullCode, out: full.stdout.text, err: full.stderr.text });
    }
  });

  it('relies on a yargs internal that is still there (usage.cacheHelpMessage, skipped at start-up)', () => {
    const y = yargs() as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage: unknown } } };
    expect(typeof y.getInternalMethods().getUsageInstance().cacheHelpMessage).toBe('function');
  });
});
