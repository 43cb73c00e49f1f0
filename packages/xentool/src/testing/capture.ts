/** Test helpers: a CommandContext whose streams collect into strings. */
import { Writable } from 'node:stream';
import type { CommandContext } from '../context';

export class StringSink extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    cb();
  }
}

export function captureContext(over: Partial<CommandContext> = {}): CommandContext & { stdout: StringSink; stderr: StringSink } {
  return {
    stdout: new StringSink(),
    stderr: new StringSink(),
    env: {},
    cwd: process.cwd(),
    color: false,
    verbose: false,
    prog: 'xentool',
    ...over,
  } as CommandContext & { stdout: StringSink; stderr: StringSink };
}
