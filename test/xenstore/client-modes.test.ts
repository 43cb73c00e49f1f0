/**
 * The client suite in both transports, against xenstored in another process over a real unix
 * socket: mode 'async' (pipelined stream) and mode 'blocking' (blocking fd connected through
 * libc, one write and blocking reads per request). The daemon must be in another process: a
 * blocking client stops this process's event loop while it waits for a reply.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openXenstore, XenstoreError } from '@xentool/xenstore';
import type { XenstoreClient, XenstoreMode } from '@xentool/xenstore';
import { bundleChild, CHILD_NODE_PATH, scratchDir } from './harness';

const dir = scratchDir('xs-modes-');
let daemonJs: string;
let signalClientJs: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  daemonJs = bundleChild(path.join(__dirname, 'child-daemon.ts'), dir);
  signalClientJs = bundleChild(path.join(__dirname, 'child-signal-client.ts'), dir);
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts child-daemon.js in `mode` on a fresh socket; resolves once it listens. */
async function startDaemon(mode: 'server' | 'hold' | 'delay', name: string): Promise<{ sock: string; child: ChildProcess }> {
  const sock = path.join(dir, name);
  const child = spawn(process.execPath, [daemonJs, mode, sock], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_PATH: CHILD_NODE_PATH },
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child-daemon ${mode} exited ${code}`)));
  });
  return { sock, child };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    if (e instanceof XenstoreError) return e.code;
    throw e;
  }
}

describe.each<[XenstoreMode]>([['async'], ['blocking']])('XenstoreClient in mode %s against xenstored in another process', (mode) => {
  let sock: string;
  let c: XenstoreClient;
  /** An async client on the same daemon, to make changes the client under test did not. */
  let other: XenstoreClient;
  const root = `/modes/${mode}`;

  beforeAll(async () => {
    ({ sock } = await startDaemon('server', `socket-${mode}`));
    c = await openXenstore({ path: sock, mode, timeoutMs: 10000 });
    other = await openXenstore({ path: sock });
  });
  afterAll(() => {
    c.close();
    other.close();
  });

  test('the mode asked for is the mode in use', () => {
    expect(c.mode).toBe(mode);
    expect(other.mode).toBe('async');
  });

  test('write, read, readBuffer, mkdir, directory, exists, tryRead, rm', async () => {
    await c.write(`${root}/a/x`, 'one');
    await c.write(`${root}/a/bin`, Buffer.from([0, 1, 255]));
    await c.mkdir(`${root}/a/dir`);
    expect(await c.read(`${root}/a/x`)).toBe('one');
    expect([...(await c.readBuffer(`${root}/a/bin`))]).toEqual([0, 1, 255]);
    expect((await c.directory(`${root}/a`)).sort()).toEqual(['bin', 'dir', 'x']);
    expect(await c.exists(`${root}/a/dir`)).toBe(true);
    expect(await c.tryRead(`${root}/a/missing`)).toBeUndefined();
    // What the other connection sees is what this one wrote.
    expect(await other.read(`${root}/a/x`)).toBe('one');
    await c.rm(`${root}/a`);
    expect(await other.exists(`${root}/a`)).toBe(false);
  });

  test('daemon error names become codes, with the operation', async () => {
    await expect(c.read(`${root}/nothing`)).rejects.toMatchObject({ code: 'ENOENT', op: `READ ${root}/nothing` });
    expect(await codeOf(c.write(`${root}//bad`, '1'))).toBe('EINVAL');
    expect(await codeOf(c.rm('/modes/absent-parent/child'))).toBe('ENOENT');
    // The connection carries on after refusals.
    await c.write(`${root}/after`, 'ok');
    expect(await c.read(`${root}/after`)).toBe('ok');
  });

  test('several requests issued at once all get their own answer', async () => {
    const paths = Array.from({ length: 20 }, (_, i) => `${root}/many/${i}`);
    await Promise.all(paths.map((p) => c.write(p, p)));
    expect(await Promise.all(paths.map((p) => c.read(p)))).toEqual(paths);
  });

  test('permissions: set, get, and a bad one refused', async () => {
    await c.write(`${root}/p`, '');
    await c.setPerms(`${root}/p`, [{ id: 0, perm: 'n' }, { id: 5, perm: 'r' }]);
    expect(await c.getPerms(`${root}/p`)).toEqual([{ id: 0, perm: 'n' }, { id: 5, perm: 'r' }]);
    expect(await codeOf(c.setPerms(`${root}/p`, []))).toBe('EINVAL');
  });

  test('a request over 4096 bytes is refused locally with E2BIG; the connection stays usable', async () => {
    expect(await codeOf(c.write(`${root}/big`, 'x'.repeat(4096)))).toBe('E2BIG');
    expect(await c.exists(`${root}/big`)).toBe(false);
  });

  test('transactions: writes appear at commit; a conflict is EAGAIN; transaction() re-runs the body', async () => {
    await c.write(`${root}/t/n`, '1');
    const tx = await c.transactionStart();
    await tx.write(`${root}/t/n`, '2');
    expect(await other.read(`${root}/t/n`)).toBe('1');
    await c.transactionEnd(tx, true);
    expect(await other.read(`${root}/t/n`)).toBe('2');

    const t2 = await c.transactionStart();
    await t2.read(`${root}/t/n`);
    await other.write(`${root}/t/n`, 'outside');
    await t2.write(`${root}/t/n`, 'inside');
    expect(await codeOf(c.transactionEnd(t2, true))).toBe('EAGAIN');
    expect(await c.read(`${root}/t/n`)).toBe('outside');

    let runs = 0;
    await c.transaction(async (t) => {
      runs += 1;
      const v = await t.read(`${root}/t/n`);
      if (runs === 1) await other.write(`${root}/t/n`, 'raced');
      await t.write(`${root}/t/n`, `${v}+1`);
    });
    expect(runs).toBe(2);
    expect(await c.read(`${root}/t/n`)).toBe('raced+1');
  });

  test('a transaction whose body throws is aborted and the error propagates', async () => {
    await expect(
      c.transaction(async (tx) => {
        await tx.write(`${root}/abort/x`, '1');
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    expect(await c.exists(`${root}/abort/x`)).toBe(false);
    expect(await c.transaction(async (tx) => (await tx.directory('/')).length)).toBeGreaterThan(0);
  });

  test('directory falls back to DIRECTORY_PART for a large directory', async () => {
    const names = Array.from({ length: 300 }, (_, i) => `n${String(i).padStart(20, '0')}`);
    await Promise.all(names.map((n) => other.write(`${root}/big/${n}`, '')));
    const list = await c.directory(`${root}/big`);
    expect(list).toEqual(names);
    expect(Buffer.byteLength(list.join('\0'))).toBeGreaterThan(4096);
  });

  test('domain operations', async () => {
    const domid = mode === 'async' ? 3 : 4;
    expect(await c.isDomainIntroduced(domid)).toBe(false);
    await c.introduceDomain(domid, 0xfeffcn, 5);
    expect(await c.isDomainIntroduced(domid)).toBe(true);
    expect(await c.getDomainPath(domid)).toBe(`/local/domain/${domid}`);
    await c.resumeDomain(domid);
    await c.releaseDomain(domid);
    expect(await codeOf(c.resumeDomain(domid))).toBe('ENOENT');
  });

  if (mode === 'async') {
    test('watch: the immediate event, then a change made by another connection; break unwatches', async () => {
      await c.write(`${root}/w`, '0');
      const seen: string[] = [];
      for await (const ev of c.watch(`${root}/w`, 'tok')) {
        seen.push(ev.path);
        if (seen.length === 1) await other.write(`${root}/w/k`, '1');
        if (seen.length === 2) break;
      }
      expect(seen).toEqual([`${root}/w`, `${root}/w/k`]);
      // Unwatched: the same token can be registered again.
      const again = c.watch(`${root}/w`, 'tok');
      await again.ready;
      await again.close();
    });
  } else {
    test('watch is refused with ENOTSUP, on ready and on the first next(); nothing is registered', async () => {
      const w = c.watch(`${root}/w`, 'tok');
      expect(await codeOf(w.ready)).toBe('ENOTSUP');
      expect(await codeOf(w.next())).toBe('ENOTSUP');
      await w.close();
      // Had a WATCH been sent, this token would now be taken on the daemon's side.
      expect(await codeOf(c.rawRequest(4 /* WATCH */, Buffer.from(`${root}/w\0tok\0`)))).toBe('no error');
      expect(await codeOf(c.rawRequest(5 /* UNWATCH */, Buffer.from(`${root}/w\0tok\0`)))).toBe('no error');
    });
  }

  test('close is idempotent; later requests fail at once with ECONNRESET', async () => {
    const d = await openXenstore({ path: sock, mode });
    expect(await d.read(`${root}/after`)).toBe('ok');
    d.close();
    d.close();
    expect(d.closed).toBe(true);
    expect(await codeOf(d.read(`${root}/after`))).toBe('ECONNRESET');
  });
});

describe.each<[XenstoreMode]>([['async'], ['blocking']])('mode %s: failures of the daemon', (mode) => {
  test('no reply within timeoutMs is ETIMEDOUT; the late reply is not taken for the next request', async () => {
    const { sock } = await startDaemon('hold', `hold-${mode}`);
    const c = await openXenstore({ path: sock, mode, timeoutMs: 300 });
    expect(await codeOf(c.read('/held'))).toBe('ETIMEDOUT');
    // The scripted daemon now sends the held reply ("late") and then this one (its path).
    expect(await c.read('/next')).toBe('/next');
    c.close();
  });

  test('the daemon going away fails the next request with ECONNRESET', async () => {
    const { sock, child } = await startDaemon('server', `dying-${mode}`);
    const c = await openXenstore({ path: sock, mode });
    await c.write('/x', '1');
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
    expect(await codeOf(c.read('/x'))).toBe('ECONNRESET');
    expect(c.closed).toBe(true);
    c.close();
  });

  test('a socket nobody listens on fails to open with the errno', async () => {
    const { sock, child } = await startDaemon('server', `stale-${mode}`);
    const gone = new Promise((r) => child.once('exit', r));
    // SIGKILL: the socket file stays behind, with nobody listening.
    child.kill('SIGKILL');
    await gone;
    expect(await codeOf(openXenstore({ path: sock, mode }))).toBe('ECONNREFUSED');
  });
});

test('blocking mode: signals handled while a read waits do not fail the request (EINTR is retried)', async () => {
  const { sock } = await startDaemon('delay', 'delay-signal');
  const child = spawn(process.execPath, [signalClientJs, sock], { env: { ...process.env, NODE_PATH: CHILD_NODE_PATH } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  let timer: NodeJS.Timeout | undefined;
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    // Once the child is about to block, signal it until it exits (the reply takes a second).
    if (!timer && stdout.includes('waiting\n')) timer = setInterval(() => child.kill('SIGUSR2'), 20);
    if (stdout.split('\n').length > 2) {
      clearInterval(timer);
      child.stdin.end();
    }
  });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearInterval(timer);
  expect({ code, stdout, stderr }).toEqual({ code: 0, stdout: `waiting\n${JSON.stringify({ value: '/slow', signalsHandled: true })}\n`, stderr: '' });
});
