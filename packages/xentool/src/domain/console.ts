/**
 * `xentool console`: what Debian's xenconsole does for `xl console` (tools/console/client/
 * main.c), in-process: find the pty xenconsoled (or QEMU) published in xenstore, relay bytes
 * both ways, and leave on Ctrl-] (0x1d). The user's terminal goes to raw mode so that keys
 * reach the guest unchanged; a pty that goes away (guest rebooting) is waited for again, and an
 * empty or vanished tty path (domain gone) ends the session.
 */
import { promises as fs } from 'node:fs';
import * as tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import { XentoolError } from '../errors';
import { waitFor } from '../xs/wait-for';
import type { Xs } from '../xs/xs';

export const ESCAPE = 0x1d;

/** xenconsole's paths: PV console 0 is special; other PV consoles are devices; serial from QEMU. */
export function consoleTtyPath(domid: number, type: 'pv' | 'serial', num: number): string {
  if (type === 'serial') return `/local/domain/${domid}/serial/${num}/tty`;
  return num === 0 ? `/local/domain/${domid}/console/tty` : `/local/domain/${domid}/device/console/${num}/tty`;
}

export interface ConsoleIo {
  input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  output: Writable;
}

/**
 * Relays until Ctrl-] on the input, the domain's tty node disappears, or `signal` aborts.
 * Resolves with why it ended.
 */
export async function runConsole(xs: Xs, path: string, io: ConsoleIo, o: { signal?: AbortSignal; waitMs?: number } = {}): Promise<'escape' | 'gone' | 'aborted'> {
  // xenconsole waits up to 5 s for a tty to appear (a just-created guest).
  const ptyPath = await waitFor(xs, path, async () => (await xs.read(path)) || undefined, { timeoutMs: o.waitMs ?? 5000, what: path }).catch(() => {
    throw new XentoolError('ERR_CONSOLE_UNAVAILABLE', `no console: ${path} is missing or empty (is xenconsoled running, and the domain alive?)`);
  });
  const handle = await fs.open(ptyPath, 'r+').catch((e: NodeJS.ErrnoException) => {
    throw new XentoolError('ERR_CONSOLE_UNAVAILABLE', `cannot open the console pty ${ptyPath}: ${e.code ?? e.message}`);
  });
  // The pty itself must pass bytes untouched, as xenconsole's cfmakeraw on it.
  const pty = new tty.ReadStream(handle.fd);
  pty.setRawMode(true);
  const raw = io.input.isTTY && typeof io.input.setRawMode === 'function';
  if (raw) io.input.setRawMode!(true);
  const watch = xs.watch(path, `xentool-console-${process.pid}`);
  let onInput: ((chunk: Buffer) => void) | undefined;
  try {
    return await new Promise<'escape' | 'gone' | 'aborted'>((resolve, reject) => {
      onInput = (chunk: Buffer) => {
        // As xenconsole: the escape byte alone in a read ends the session.
        if (chunk.length === 1 && chunk[0] === ESCAPE) return resolve('escape');
        pty.write(chunk);
      };
      io.input.on('data', onInput);
      pty.on('data', (chunk: Buffer) => io.output.write(chunk));
      pty.on('error', (e: NodeJS.ErrnoException) => {
        // EIO: the other side closed (xenconsoled dropped the pty as the domain died).
        if (e.code === 'EIO') resolve('gone');
        else reject(e);
      });
      o.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
      void (async () => {
        for await (const _ of watch) {
          if (!(await xs.read(path))) return resolve('gone');
        }
      })().catch(reject);
    });
  } finally {
    if (onInput) io.input.off('data', onInput);
    if (raw) io.input.setRawMode!(false);
    io.input.pause();
    await watch.close();
    pty.destroy();
  }
}
