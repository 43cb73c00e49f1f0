/**
 * The one module that reads `process.env` and `process.argv`. Everything else receives what it
 * needs through a CommandContext or explicit parameters.
 */
import * as path from 'node:path';
import type { CommandContext } from './context';
import { lazyStdio } from './lazy-stdio';

export interface ProcessInputs {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
}

export function readProcessInputs(): ProcessInputs {
  return { argv: process.argv.slice(2), env: { ...process.env }, cwd: process.cwd() };
}

/** Where an operator lists devices known to be unsuitable for passthrough (see parseQuirksFile). */
export const DEFAULT_PCI_QUIRKS_FILE = '/etc/xentool/pci-quirks.json';

/**
 * The operator's PCI quirks file: XENTOOL_PCI_QUIRKS, else DEFAULT_PCI_QUIRKS_FILE. `explicit`:
 * named by the variable, so a missing file is an error rather than "no operator quirks".
 */
export function pciQuirksFile(env: ProcessInputs['env'], cwd: string): { path: string; explicit: boolean } {
  const named = env.XENTOOL_PCI_QUIRKS;
  if (named !== undefined && named !== '') return { path: path.resolve(cwd, named), explicit: true };
  return { path: DEFAULT_PCI_QUIRKS_FILE, explicit: false };
}

/**
 * Colour precedence: `--no-color` > `NO_COLOR` > `FORCE_COLOR` > whether stdout is a TTY.
 * Decided here because chalk ignores NO_COLOR.
 */
export function decideColor(argv: readonly string[], env: ProcessInputs['env'], isTTY: boolean): boolean {
  if (argv.includes('--no-color')) return false;
  if (argv.includes('--color')) return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return isTTY;
}

/**
 * The context of the running process. Its stdout and stderr write straight to file descriptors
 * 1 and 2 and create process.stdout/stderr only when something needs more (see lazy-stdio.ts),
 * and `color` is decided when first read: a command that never asks neither builds a stream nor
 * loads node:tty (about 5 ms of a short command's start-up, bench/cli-startup).
 */
export function makeProcessContext(inputs: ProcessInputs, prog: string): CommandContext {
  const stdout = lazyStdio(1, () => process.stdout);
  let color: boolean | undefined;
  return {
    stdout,
    stderr: lazyStdio(2, () => process.stderr),
    env: inputs.env,
    cwd: inputs.cwd,
    get color() {
      return (color ??= decideColor(inputs.argv, inputs.env, Boolean(stdout.isTTY)));
    },
    verbose: inputs.argv.includes('--verbose'),
    prog,
    ...(typeof process.getuid === 'function' ? { uid: process.getuid() } : {}),
    ...testHooks(inputs.env),
  };
}

function testHooks(env: ProcessInputs['env']): Pick<CommandContext, 'testHooks'> {
  const hooks: NonNullable<CommandContext['testHooks']> = {};
  const failAt = env.XENTOOL_TEST_FAIL_AT_STEP;
  if (failAt !== undefined && /^[0-9]+$/.test(failAt)) hooks.failAtStep = Number.parseInt(failAt, 10);
  const killAt = env.XENTOOL_TEST_KILL_AT_STEP;
  if (killAt !== undefined && /^[0-9]+$/.test(killAt)) {
    hooks.killAtStep = Number.parseInt(killAt, 10);
    // SIGKILL, not an exception or exit: nothing runs after it (no finally, no close(), no
    // exit handlers), which is what a crash, an OOM kill or `kill -9` by an operator does.
    hooks.killSelf = () => process.kill(process.pid, 'SIGKILL');
  }
  return Object.keys(hooks).length === 0 ? {} : { testHooks: hooks };
}
