/**
 * Our xenstored against the real clients: Debian's xenstore-utils 4.17 (found through
 * XENSTORED_PATH) and a C program linked against libxenstore.so.4. The same scenario suite runs
 * through the tools and through our own XenstoreClient, and must give the same answers.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { openXenstore, XenstoredServer, XenstoreError } from '@xentool/xenstore';
import type { XenstoreClient } from '@xentool/xenstore';
import { buildProbe, run, scratchDir } from './harness';

type Outcome<T> = { ok: true; value: T } | { ok: false };

interface Driver {
  name: string;
  write(pairs: [string, string][]): Promise<Outcome<void>>;
  read(p: string): Promise<Outcome<string>>;
  exists(p: string): Promise<boolean>;
  list(p: string): Promise<Outcome<string[]>>;
  rm(p: string): Promise<Outcome<void>>;
  chmod(p: string, perms: string[]): Promise<Outcome<void>>;
  /** The node's own permissions, as strings. */
  perms(p: string): Promise<Outcome<string[]>>;
  /** Watches p, runs trigger after the first (immediate) event, returns the first n event paths. */
  watch(p: string, n: number, trigger: () => Promise<void>): Promise<string[]>;
  close(): Promise<void>;
}

const dir = scratchDir('xs-tools-');
const sock = path.join(dir, 'socket');
const env = { XENSTORED_PATH: sock };
let server: XenstoredServer;
let probe: string;

beforeAll(async () => {
  server = new XenstoredServer();
  await server.listen(sock);
  probe = await buildProbe(dir);
});
afterAll(async () => {
  await server.close();
});

function toolsDriver(): Driver {
  const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
  return {
    name: 'xenstore-utils',
    async write(pairs) {
      const r = await run('xenstore-write', pairs.flat(), env);
      return r.code === 0 ? ok(undefined) : { ok: false };
    },
    async read(p) {
      const r = await run('xenstore-read', [p], env);
      return r.code === 0 ? ok(r.stdout.replace(/\n$/, '')) : { ok: false };
    },
    async exists(p) {
      return (await run('xenstore-exists', [p], env)).code === 0;
    },
    async list(p) {
      const r = await run('xenstore-list', [p], env);
      return r.code === 0 ? ok(r.stdout.split('\n').filter(Boolean)) : { ok: false };
    },
    async rm(p) {
      const r = await run('xenstore-rm', [p], env);
      return r.code === 0 ? ok(undefined) : { ok: false };
    },
    async chmod(p, perms) {
      const r = await run('xenstore-chmod', [p, ...perms], env);
      return r.code === 0 ? ok(undefined) : { ok: false };
    },
    async perms(p) {
      // No tool prints one node's perms; `xenstore-ls -p PARENT` prints each child's as
      // `name = "value" . . . (n0,r5)`, children of children indented.
      const parent = p.slice(0, p.lastIndexOf('/')) || '/';
      const base = p.slice(p.lastIndexOf('/') + 1);
      const r = await run('xenstore-ls', ['-p', parent], env);
      if (r.code !== 0) return { ok: false };
      for (const line of r.stdout.split('\n')) {
        const m = /^(\S+) = ".*"[ .]*\((.*)\)$/.exec(line);
        if (m && m[1] === base) return ok(m[2]!.split(','));
      }
      return { ok: false };
    },
    async watch(p, n, trigger) {
      const child = spawn('xenstore-watch', ['-n', String(n), p], { env: { ...process.env, ...env } });
      const lines: string[] = [];
      let triggered = false;
      let buf = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill();
          reject(new Error(`xenstore-watch: got ${JSON.stringify(lines)}`));
        }, 8000);
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          const parts = buf.split('\n');
          buf = parts.pop()!;
          lines.push(...parts);
          if (lines.length >= 1 && !triggered) {
            triggered = true;
            void trigger();
          }
        });
        child.on('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return lines;
    },
    async close() {},
  };
}

async function clientDriver(): Promise<Driver> {
  const c: XenstoreClient = await openXenstore({ env, timeoutMs: 5000 });
  const wrap = async <T>(f: () => Promise<T>): Promise<Outcome<T>> => {
    try {
      return { ok: true, value: await f() };
    } catch (e) {
      if (e instanceof XenstoreError) return { ok: false };
      throw e;
    }
  };
  return {
    name: 'XenstoreClient',
    write: (pairs) =>
      wrap(async () => {
        if (pairs.length === 1) return c.write(pairs[0]![0], pairs[0]![1]);
        // Several pairs: one transaction, as xenstore-write does.
        await c.transaction(async (tx) => {
          for (const [p, v] of pairs) await tx.write(p, v);
        });
      }),
    read: (p) => wrap(() => c.read(p)),
    exists: (p) => c.exists(p),
    list: (p) => wrap(() => c.directory(p)),
    rm: (p) => wrap(() => c.rm(p)),
    chmod: (p, perms) => wrap(() => c.setPerms(p, perms.map((s) => ({ id: Number(s.slice(1)), perm: s[0] as 'n' })))),
    perms: (p) => wrap(async () => (await c.getPerms(p)).map((x) => `${x.perm}${x.id}`)),
    async watch(p, n, trigger) {
      const out: string[] = [];
      for await (const ev of c.watch(p)) {
        out.push(ev.path);
        if (out.length === 1) void trigger();
        if (out.length >= n) break;
      }
      return out;
    },
    async close() {
      c.close();
    },
  };
}

describe.each([['xenstore-utils'], ['XenstoreClient']])('the shared scenario suite through %s', (which) => {
  let d: Driver;
  // Each driver works in its own subtree so the two runs cannot see each other's nodes.
  const root = `/suite/${which === 'xenstore-utils' ? 'tools' : 'client'}`;
  beforeAll(async () => {
    d = which === 'xenstore-utils' ? toolsDriver() : await clientDriver();
  });
  afterAll(async () => {
    await d.close();
  });

  test('write then read one pair', async () => {
    expect(await d.write([[`${root}/a`, 'v1']])).toEqual({ ok: true, value: undefined });
    expect(await d.read(`${root}/a`)).toEqual({ ok: true, value: 'v1' });
  });

  test('several pairs in one go', async () => {
    expect((await d.write([[`${root}/m/x`, '1'], [`${root}/m/y`, '2']])).ok).toBe(true);
    expect(await d.read(`${root}/m/y`)).toEqual({ ok: true, value: '2' });
    expect(await d.list(`${root}/m`)).toEqual({ ok: true, value: ['x', 'y'] });
  });

  test('empty value, missing node, exists', async () => {
    expect((await d.write([[`${root}/empty`, '']])).ok).toBe(true);
    expect(await d.read(`${root}/empty`)).toEqual({ ok: true, value: '' });
    expect(await d.read(`${root}/missing`)).toEqual({ ok: false });
    expect(await d.exists(`${root}/empty`)).toBe(true);
    expect(await d.exists(`${root}/missing`)).toBe(false);
  });

  test('rm removes a subtree; rm of an absent child of an existing parent succeeds', async () => {
    await d.write([[`${root}/r/a/b`, '1']]);
    expect((await d.rm(`${root}/r/a`)).ok).toBe(true);
    expect(await d.list(`${root}/r`)).toEqual({ ok: true, value: [] });
    expect((await d.rm(`${root}/r/ghost`)).ok).toBe(true);
    expect((await d.rm(`${root}/nothere/ghost`)).ok).toBe(false);
  });

  test('chmod sets the node’s perms, children keep theirs', async () => {
    await d.write([[`${root}/p/child`, '1']]);
    expect((await d.chmod(`${root}/p`, ['n0', 'r5']))).toEqual({ ok: true, value: undefined });
    expect(await d.perms(`${root}/p`)).toEqual({ ok: true, value: ['n0', 'r5'] });
    expect(await d.perms(`${root}/p/child`)).toEqual({ ok: true, value: ['n0'] });
  });

  test('relative paths resolve under /local/domain/0 for the socket', async () => {
    const rel = `rel-${which === 'xenstore-utils' ? 'tools' : 'client'}`;
    await d.write([[`${rel}/x`, 'r']]);
    expect(await d.read(`/local/domain/0/${rel}/x`)).toEqual({ ok: true, value: 'r' });
  });

  test('invalid paths fail', async () => {
    expect((await d.write([[`${root}//bad`, '1']])).ok).toBe(false);
    expect((await d.read(`${root}/bad path`)).ok).toBe(false);
  });

  test('watch: the immediate event, then the change', async () => {
    await d.write([[`${root}/w`, '0']]);
    const events = await d.watch(`${root}/w`, 2, async () => {
      await d.write([[`${root}/w/k`, '1']]);
    });
    expect(events).toEqual([`${root}/w`, `${root}/w/k`]);
  });
});

describe('Debian xenstore-utils 4.17 find the daemon through XENSTORED_PATH', () => {
  test('a path that does not exist fails in xs_open with ENOENT', async () => {
    const r = await run('xenstore-read', ['/tool'], { XENSTORED_PATH: path.join(dir, 'nothing') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('xenstore-read: xs_open: No such file or directory\n');
  });

  test('xenstore-ls prints the whole tree our server holds', async () => {
    const r = await run('xenstore-ls', ['/tool'], env);
    expect(r).toEqual({ code: 0, stdout: 'xenstored = ""\n', stderr: '' });
  });
});

describe('a C program linked against libxenstore', () => {
  const probeRun = (...args: string[]) => run(probe, args, env);

  test('transaction writes, reads, directory', async () => {
    expect((await probeRun('tx-write', '/c/a', '1', '/c/b', '2')).stdout).toBe('ok\n');
    expect((await probeRun('read', '/c/b')).stdout).toBe('2\n');
    expect((await probeRun('dir', '/c')).stdout).toBe('a\nb\n');
    expect(await probeRun('read', '/c/none')).toMatchObject({ code: 1, stdout: 'ERR ENOENT\n' });
  });

  test('a commit after a conflicting change fails with EAGAIN and leaves the outside write', async () => {
    await probeRun('tx-write', '/c/k', 'start');
    expect((await probeRun('conflict', '/c/k')).stdout).toBe('EAGAIN\n');
    expect((await probeRun('read', '/c/k')).stdout).toBe('outside\n');
  });

  test('permissions set through libxenstore govern in-process domains', async () => {
    await probeRun('tx-write', '/shared/x', 'hello');
    expect((await probeRun('set-perms', '/shared', 'n0', 'r5')).stdout).toBe('ok\n');
    expect((await probeRun('set-perms', '/shared/x', 'n0', 'r5')).stdout).toBe('ok\n');
    expect((await probeRun('perms', '/shared/x')).stdout).toBe('n0 r5\n');
    server.introduceDomain(5, 10, 1);
    server.introduceDomain(6, 11, 1);
    const d5 = server.client({ domid: 5 });
    const d6 = server.client({ domid: 6 });
    try {
      expect(await d5.read('/shared/x')).toBe('hello');
      await expect(d5.write('/shared/x', 'no')).rejects.toMatchObject({ code: 'EACCES' });
      await expect(d6.read('/shared/x')).rejects.toMatchObject({ code: 'EACCES' });
    } finally {
      d5.close();
      d6.close();
      server.releaseDomain(5);
      server.releaseDomain(6);
    }
  });

  test('watches: libxenstore gets the immediate event and a change made by our client', async () => {
    const child = spawn(probe, ['watch', '/cw', 'tok', '2'], { env: { ...process.env, ...env } });
    let out = '';
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('ready\n')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await ready;
    const c = await openXenstore({ env });
    await c.write('/cw/sub', 'x');
    c.close();
    expect(await exited).toBe(0);
    expect(out).toBe('/cw tok\nready\n/cw/sub tok\n');
  });
});
