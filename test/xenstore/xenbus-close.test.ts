/**
 * Over /dev/xen/xenbus (a character device, read in libuv's thread pool in async mode), close()
 * must leave nothing pending, or node cannot exit: a device read is not cancellable and ends
 * only when a message arrives (found on real Xen: test/xen/07-xenstore-client.test.ts). No Xen
 * here, so a FIFO stands in for the device (see child-device-client.ts), and each scenario
 * runs in a child node process that must exit by itself after close().
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { XenstoreMode } from '@xentool/xenstore';
import { bundleChild, CHILD_NODE_PATH, scratchDir } from './harness';

const dir = scratchDir('xs-xenbus-');
let clientJs: string;

beforeAll(() => {
  clientJs = bundleChild(path.join(__dirname, 'child-device-client.ts'), dir);
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Exit {
  /** The exit code, or 'still running' if the child had not exited when given up on. */
  code: number | 'still running';
  stdout: string;
  stderr: string;
}

/**
 * Runs the child; a child that has not exited after `giveUpMs` is killed and reported as
 * 'still running' (a hang detector with a generous margin, not a measurement).
 */
function runChild(fifo: string, mode: XenstoreMode, scenario: string, giveUpMs = 20000): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [clientJs, fifo, mode, scenario], { env: { ...process.env, NODE_PATH: CHILD_NODE_PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, giveUpMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: hung ? 'still running' : (code ?? -1), stdout, stderr });
    });
  });
}

describe.each<[XenstoreMode]>([['async'], ['blocking']])('mode %s over a device that never answers after the last reply', (mode) => {
  let n = 0;
  const fifo = (): string => {
    const f = path.join(dir, `xenbus-${mode}-${++n}`);
    execFileSync('mkfifo', [f]);
    return f;
  };

  test('requests, then close(): node exits by itself', async () => {
    const r = await runChild(fifo(), mode, 'requests');
    expect(r).toEqual({ code: 0, stdout: `${JSON.stringify({ mode, read: '/echo\0', domainPath: '7' })}\n`, stderr: '' });
  });

  test('a watch closed before close(): node exits by itself', async () => {
    const r = await runChild(fifo(), mode, 'watch-closed');
    if (mode === 'blocking') {
      // Watches need the async mode: the child fails on the watch and still exits.
      expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('ENOTSUP') });
      return;
    }
    expect(r).toEqual({ code: 0, stdout: `${JSON.stringify({ mode, read: '/echo\0', domainPath: '7', watch: 'registered' })}\n`, stderr: '' });
  });

  if (mode === 'async') {
    test('close() with a watch still registered (a device read waiting for its events): node exits by itself', async () => {
      const r = await runChild(fifo(), mode, 'watch-open');
      expect(r).toEqual({ code: 0, stdout: `${JSON.stringify({ mode, read: '/echo\0', domainPath: '7', watch: 'registered' })}\n`, stderr: '' });
    });
  }
});
