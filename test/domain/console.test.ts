/**
 * runConsole against a real pty: a python3 helper opens a pty pair (as xenconsoled does for a
 * guest), publishes nothing itself, writes "guest" output into the master and reports what
 * arrives there; the tty path lives in the in-process xenstored, as on a host.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { XenstoredServer } from '../../packages/xenstore/src/index';
import { runConsole, consoleTtyPath } from '../../packages/xentool/src/domain/console';
import { StringSink } from '../../packages/xentool/src/testing/capture';
import { xsFromClient } from '../../packages/xentool/src/xs/xs-client';
import type { Xs } from '../../packages/xentool/src/xs/xs';

const HELPER = `
import os, pty, select, sys, tty
m, s = pty.openpty()
tty.setraw(s)
print(os.ttyname(s), flush=True)
os.write(m, b'guest says hello\\r\\n')
while True:
    r, _, _ = select.select([m, sys.stdin], [], [])
    if m in r:
        print('GOT ' + os.read(m, 1024).hex(), flush=True)
    if sys.stdin in r and not sys.stdin.readline():
        break
`;

const hasPython = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;
if (!hasPython) process.stderr.write('console.test: python3 is missing, the pty tests are skipped\n');

let server: XenstoredServer;
let xs: Xs;
let helper: ChildProcessWithoutNullStreams;
let helperOut = '';
let ptyPath: string;

async function until(cond: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > 5000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeEach(async () => {
  server = new XenstoredServer();
  xs = xsFromClient(server.client({ domid: 0 }));
  if (!hasPython) return;
  helperOut = '';
  helper = spawn('python3', ['-c', HELPER]);
  helper.stdout.on('data', (d: Buffer) => (helperOut += d.toString()));
  await until(() => helperOut.includes('\n'), 'the helper pty');
  ptyPath = helperOut.split('\n')[0]!;
});
afterEach(async () => {
  helper?.stdin.end();
  await xs.close();
  await server.close();
});

const maybe = hasPython ? it : it.skip;

describe('consoleTtyPath', () => {
  it('uses xenconsole’s paths', () => {
    expect(consoleTtyPath(3, 'pv', 0)).toBe('/local/domain/3/console/tty');
    expect(consoleTtyPath(3, 'pv', 2)).toBe('/local/domain/3/device/console/2/tty');
    expect(consoleTtyPath(3, 'serial', 0)).toBe('/local/domain/3/serial/0/tty');
  });
});

describe('runConsole', () => {
  maybe('relays the guest output and the keyboard, and Ctrl-] alone leaves', async () => {
    await xs.write('/local/domain/5/console/tty', ptyPath);
    const input = new PassThrough();
    const output = new StringSink();
    const done = runConsole(xs, '/local/domain/5/console/tty', { input, output });
    await until(() => output.text.includes('guest says hello'), 'the guest output');
    input.write('ls\r');
    await until(() => helperOut.includes('GOT 6c730d'), 'the keystrokes at the guest');
    input.write(Buffer.from([0x1d]));
    await expect(done).resolves.toBe('escape');
  });

  maybe('ends when the domain’s tty node goes away (domain destroyed)', async () => {
    await xs.write('/local/domain/5/console/tty', ptyPath);
    const done = runConsole(xs, '/local/domain/5/console/tty', { input: new PassThrough(), output: new StringSink() });
    await new Promise((r) => setTimeout(r, 200));
    await xs.rm('/local/domain/5');
    await expect(done).resolves.toBe('gone');
  });

  it('fails with one coded line when there is no console', async () => {
    await expect(runConsole(xs, '/local/domain/9/console/tty', { input: new PassThrough(), output: new StringSink() }, { waitMs: 300 })).rejects.toMatchObject({
      code: 'ERR_CONSOLE_UNAVAILABLE',
      message: expect.stringContaining('/local/domain/9/console/tty is missing or empty'),
    });
  });
});
