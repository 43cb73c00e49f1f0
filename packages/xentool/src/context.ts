import type { Writable } from 'node:stream';

/**
 * What a command may touch of the outside world. Commands never use `process.stdout`,
 * `process.env` or `process.exit`: tests build a context with string sinks and call the CLI
 * in-process.
 */
export interface CommandContext {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Whether to colour output; decided once (see config.ts), never by chalk. */
  color: boolean;
  /** Print stack traces for unexpected errors. */
  verbose: boolean;
  /** The program name used in messages: `xentool`, `xm` or `xl`. */
  prog: string;
  /** The effective uid, for the "needs root" check on a real host (undefined: not known). */
  uid?: number;
  /**
   * Test-only hooks, read from XENTOOL_TEST_* variables by config.ts: make step N of a plan fail
   * (failure-injection tests), or kill the process with SIGKILL when step N of a plan is about to
   * start (crash tests; N equal to the step count kills after the last step, before the intent
   * record is closed). Never set by a user flag.
   */
  testHooks?: { failAtStep?: number; killAtStep?: number; killSelf?: () => void };
}

/** Writes a whole string and resolves when it has been handed to the stream. */
export function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (text.length === 0) return resolve();
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
