/**
 * Malformed input never crashes the server nor corrupts its tree: random bytes, truncated
 * headers, oversized lengths, unknown types, bad transaction ids, and plausible requests
 * with garbage arguments, from an unprivileged domain and from dom0.
 */
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { XenstoredServer } from './server';
import { encodeMessage, nulStrings, XsType } from './wire';

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2));

const pathish = fc.oneof(
  fc.constantFrom('/', '/protected', '/protected/a', '/local/domain/5', '/local/domain/5/x', 'rel', '@releaseDomain', '', '//', '/a/'),
  fc.string({ maxLength: 40 }),
);

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.array(pathish, { maxLength: 4 }).map((parts) => nulStrings(...parts)),
  fc.tuple(pathish, fc.string({ maxLength: 20 })).map(([p, v]) => Buffer.concat([nulStrings(p), Buffer.from(v)])),
  fc.constantFrom(nulStrings('T'), nulStrings('F'), nulStrings(''), nulStrings('5', '1', '1'), nulStrings('/protected', 'b5')),
);

/** Well-formed requests that would change the tree if permissions allowed it. */
const mutating = fc.tuple(
  fc.constantFrom(XsType.WRITE, XsType.MKDIR, XsType.RM, XsType.SET_PERMS, XsType.TRANSACTION_START, XsType.TRANSACTION_END),
  fc.constantFrom(0, 0, 0, 1, 2),
  fc.constantFrom('/protected', '/protected/a', '/protected/b/c', '/protected/new', '/local/domain/5/x', '/local/domain/5/n/m', '/local', '/'),
  // A value over the 2048-byte entry quota makes a domain's create fail part-way.
  fc.constantFrom('', 'v', 'n5', 'b5', 'x'.repeat(2100)),
).map(([t, tx, p, v]) => {
  const body = t === XsType.WRITE ? Buffer.concat([nulStrings(p), Buffer.from(v)])
    : t === XsType.SET_PERMS ? nulStrings(p, v === 'b5' ? 'b5' : 'n5')
      : t === XsType.TRANSACTION_START ? nulStrings('')
        : t === XsType.TRANSACTION_END ? nulStrings('T')
          : nulStrings(p);
  return encodeMessage(t, 4, tx, body);
});

/** One chunk of bytes a hostile or broken client might send. */
const chunk = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.nat(30), fc.nat(4), payload).map(([t, tx, p]) => encodeMessage(t, 1, tx, p)) },
  { weight: 4, arbitrary: mutating },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.nat(15).map((n) => encodeMessage(XsType.READ, 2, 0, nulStrings('/protected')).subarray(0, n)) },
  { weight: 1, arbitrary: fc.integer({ min: 4097, max: 0xffffffff }).map((len) => {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(XsType.WRITE, 0);
    h.writeUInt32LE(len, 12);
    return h;
  }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffffffff }).map((tx) => encodeMessage(XsType.WRITE, 3, tx, Buffer.concat([nulStrings('/protected/a'), Buffer.from('bad')]))) },
);

async function seeded(): Promise<XenstoredServer> {
  const server = new XenstoredServer();
  const c = server.client({ domid: 0 });
  await c.write('/protected/a', 'A');
  await c.write('/protected/b/c', 'C');
  await c.introduceDomain(5, 1, 1);
  await c.mkdir('/local/domain/5');
  await c.setPerms('/local/domain/5', [{ id: 5, perm: 'n' }]);
  await c.write('/local/domain/5/x', 'X');
  c.close();
  return server;
}

function outside5(dump: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(dump).filter(([p]) => !p.startsWith('/local/domain/5')));
}

describe('fuzzing XenstoredServer with malformed frames', () => {
  test('an unprivileged domain cannot crash the server or touch anything outside its home', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { minLength: 1, maxLength: 12 }), async (chunks) => {
        const server = await seeded();
        const internal: unknown[] = [];
        server.on('internal-error', (e) => internal.push(e));
        const before = outside5(server.dump());
        const s = server.openStream({ domid: 5 });
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        for (const c of chunks) if (!s.destroyed) s.write(c);
        await settle();
        expect(internal).toEqual([]);
        expect(server.checkTree()).toEqual([]);
        expect(outside5(server.dump())).toEqual(before);
        const dom0 = server.client({ domid: 0, timeoutMs: 1000 });
        expect(await dom0.read('/protected/a')).toBe('A');
        dom0.close();
        s.destroy();
        await server.close();
      }),
      { numRuns: 300 },
    );
  });

  test('dom0 garbage may change the tree but never breaks its structure or the server', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(chunk, { minLength: 1, maxLength: 12 }), async (chunks) => {
        const server = await seeded();
        const internal: unknown[] = [];
        server.on('internal-error', (e) => internal.push(e));
        const s = server.openStream({ domid: 0 });
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        for (const c of chunks) if (!s.destroyed) s.write(c);
        await settle();
        expect(internal).toEqual([]);
        expect(server.checkTree()).toEqual([]);
        // What it holds can be saved and loaded again.
        const copy = new XenstoredServer({ snapshot: JSON.parse(JSON.stringify(server.snapshot())) });
        expect(copy.dump()).toEqual(server.dump());
        const other = server.client({ domid: 0, timeoutMs: 1000 });
        await other.write('/after', 'ok');
        expect(await other.read('/after')).toBe('ok');
        other.close();
        s.destroy();
        await server.close();
        await copy.close();
      }),
      { numRuns: 300 },
    );
  });

  test('garbage on the unix socket drops that connection while another client carries on', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xs-fuzz-'));
    const sock = path.join(dir, 'socket');
    const server = await seeded();
    await server.listen(sock);
    const good = server.client({ domid: 0, timeoutMs: 2000 });
    const rng = fc.sample(fc.array(chunk, { minLength: 1, maxLength: 8 }), { numRuns: 40, seed: 42 });
    for (const chunks of rng) {
      const bad = net.connect(sock);
      bad.on('error', () => undefined);
      bad.on('data', () => undefined);
      await new Promise((r) => bad.once('connect', r));
      for (const c of chunks) bad.write(c);
      // 0xff bytes complete whatever partial frame the garbage left open, then read as a
      // header announcing 0xffffffff bytes: the server must drop the connection.
      const closed = new Promise((r) => bad.once('close', () => r('closed')));
      bad.write(Buffer.alloc(16 + 4096 + 16, 0xff));
      const t = new Promise((r) => setTimeout(() => r('still open'), 3000).unref());
      expect(await Promise.race([closed, t])).toBe('closed');
      expect(await good.read('/protected/a')).toBe('A');
    }
    expect(server.connectionCount).toBe(1);
    expect(server.checkTree()).toEqual([]);
    good.close();
    await server.close();
  });
});
