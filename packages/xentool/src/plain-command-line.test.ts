import fc from 'fast-check';
import { commandsFor, GLOBAL_OPTIONS, runCli } from './cli';
import type { CliOptions } from './cli';
import type { CommandSpec } from './command';
import { allCommands } from './commands/index';
import { plainCommandLine } from './plain-command-line';
import { captureContext } from './testing/capture';

/** Every xentool command, its `run` replaced by one that records what it was given. */
function recordingCommands(): { commands: CommandSpec[]; calls: string[] } {
  const calls: string[] = [];
  const commands = allCommands().map((c) => ({
    ...c,
    run: async (args: Record<string, unknown>) => {
      // Key order included: nothing should tell the two paths apart.
      calls.push(`${c.command.split(' ')[0]} ${JSON.stringify(args)}`);
      return 0;
    },
  }));
  return { commands, calls };
}

/** What runCli did with a command line: exit code, output, and the command run with what. */
async function outcome(args: string[], opts: CliOptions) {
  const { commands, calls } = recordingCommands();
  const ctx = captureContext();
  const code = await runCli(args, ctx, { ...opts, commands });
  return { code, stdout: ctx.stdout.text, stderr: ctx.stderr.text, calls };
}

const plain = (args: string[]) => plainCommandLine(args, commandsFor(args, allCommands()), GLOBAL_OPTIONS, 'xentool');

// Words a command line is made of: every command name, every option spelling the CLI and the
// commands declare (long, short, with `=`, negated), values that yargs-parser reads specially
// (true/false, numbers, empty, dashes), and things no command knows.
const names = allCommands().map((c) => c.command.split(' ')[0]!);
const optionWords = [
  ...[...GLOBAL_OPTIONS.keys()].flatMap((k) => [`--${k}`, `--no-${k}`, `--${k}=x`]),
  '-v', '-N', '-vN', '--json', '--json=false', '--no-json', '-n', '--name', '--name=dev', '-r', '-l', '--long', '-f', '--force',
  '--show-names', '--sysfs-root', '--pci-ids=/p', '--ignore-unplug', '--hung', '--all', '-q', '--timeout', '--help', '-h', '--version', '--bogus', '--', '-1',
];
const valueWords = ['guest1', '7', '0', '', 'true', 'false', '01:00.0', '0000:03:00.0', 'a=1', '/tmp/x', 'x y', 'pci-list', 'list'];
const option = fc.constantFrom(...optionWords);
const value = fc.oneof(fc.constantFrom(...valueWords), fc.constantFrom(...names));
// Options mostly followed by a word, as a value or not: that is where yargs-parser's reading of
// `--json false` or `--sim-dir pci-list` matters.
const words = fc.array(fc.oneof(fc.tuple(option, value), fc.tuple(value), fc.tuple(option)), { maxLength: 4 }).map((ws) => ws.flat());
const commandLine = fc
  .tuple(fc.array(fc.constantFrom('--sim', '--sim-dir', '/tmp/s', '-v', '--color', '-N'), { maxLength: 3 }), fc.constantFrom(...names), words)
  .map(([before, cmd, after]) => [...before, cmd, ...after]);

describe('plainCommandLine: the known-command path, checked against yargs', () => {
  it('gives a command exactly the arguments yargs would, and runCli behaves the same with and without it', async () => {
    let plainLines = 0;
    await fc.assert(
      fc.asyncProperty(commandLine, async (args) => {
        const viaYargs = await outcome(args, { viaYargs: true });
        const p = plain(args);
        if (p) {
          plainLines++;
          expect(viaYargs).toEqual({ code: 0, stdout: '', stderr: '', calls: [`${p.spec.command.split(' ')[0]} ${JSON.stringify(p.argv)}`] });
        }
        expect(await outcome(args, {})).toEqual(viaYargs);
      }),
      { numRuns: 600 },
    );
    // The generator reaches the path at all (else the property above says nothing about it).
    expect(plainLines).toBeGreaterThan(20);
  });

  it('takes the command lines start-up is measured with and the common PCI ones', () => {
    for (const args of [
      ['--sim', '--sim-dir', '/tmp/s', 'pci-list', 'guest1'],
      ['pci-list', 'guest1', '--json'],
      ['pci-assignable-list', '-n'],
      ['--sim', 'pci-assignable-add', '-n', 'nic', '01:00.0'],
      ['pci-assignable-remove', '-r', '01:00.0'],
      ['list', '-l'],
      ['pci-check', '01:00.0', '03:00.0', '--json'],
    ]) {
      expect({ args, plain: plain(args) !== undefined }).toEqual({ args, plain: true });
    }
  });

  it('leaves help, errors and less plain lines to yargs', () => {
    for (const args of [
      [],
      ['--help'],
      ['pci-list', '--help'],
      ['pci-list'], // a demanded positional missing
      ['pci-list', 'a', 'b'], // one too many
      ['pci-list', 'a', '--bogus'],
      ['pci-list', 'a', '--no-json'],
      ['pci-list', 'a', '--json=false'],
      ['pci-list', 'a', '--json', 'false'],
      ['pci-list', 'a', '--json', '--json'],
      ['pci-list', '-vN', 'a'],
      ['pci-list', 'a', '--', 'b'],
      ['pci-list', 'a', '--sim-dir'], // a string option without its value
      ['--json', 'pci-list', 'a'], // a command's option before the command
      ['bogus', 'pci-list', 'a'],
      ['pci-attach', 'g', '01:00.0'], // a number option with a default
      ['pci-spec', '01:00.0'], // conflicts
      ['sim-init'], // choices
    ]) {
      expect({ args, plain: plain(args) !== undefined }).toEqual({ args, plain: false });
    }
  });

  it('treats a command typed by one of its aliases as yargs does', async () => {
    const calls: string[] = [];
    const spec: CommandSpec = {
      command: 'pci-ls <domain> [more..]',
      aliases: ['pls'],
      describe: 'an aliased command',
      builder: (y) => y.positional('domain', { type: 'string' }).positional('more', { type: 'string', array: true }).option('json', { type: 'boolean' }),
      run: async (args) => {
        calls.push(JSON.stringify(args));
        return 0;
      },
    };
    for (const args of [['pls', 'g'], ['-N', 'pls', '--json', 'g', 'x'], ['pci-ls', 'g', '--json']]) {
      const p = plainCommandLine(args, [spec], GLOBAL_OPTIONS, 'xl');
      calls.length = 0;
      expect(await runCli(args, captureContext(), { commands: [spec], scriptName: 'xl', viaYargs: true })).toBe(0);
      expect({ args, plain: p && JSON.stringify(p.argv) }).toEqual({ args, plain: calls[0] });
    }
  });

  it('does not load yargs for a plain command line', async () => {
    let loaded = false;
    await jest.isolateModulesAsync(async () => {
      jest.doMock('yargs', () => {
        loaded = true;
        return jest.requireActual('yargs');
      });
      const cli = (await import('./cli')) as typeof import('./cli');
      const { commands, calls } = recordingCommands();
      expect(await cli.runCli(['--sim', 'pci-list', 'guest1'], captureContext(), { commands })).toBe(0);
      expect({ loaded, calls: calls.length }).toEqual({ loaded: false, calls: 1 });
      expect(await cli.runCli(['pci-list', 'guest1', '--no-json'], captureContext(), { commands })).toBe(0);
      expect({ loaded, calls: calls.length }).toEqual({ loaded: true, calls: 2 });
    });
  });
});
