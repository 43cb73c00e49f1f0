import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { openXenstore, resolveXenstorePath, XenstoreClient } from './client';
import { duplexPair } from './duplex-pair';
import { XenstoreError } from './errors';
import { XenstoredServer } from './server';
import type { XsMessage } from './wire';
import { encodeMessage, FrameReader, nulStrings, XsType } from './wire';

/** A scripted daemon on the other end of a stream: records requests and their write chunks. */
function fakeDaemon(): { client: XenstoreClient; peer: Duplex; requests: XsMessage[]; chunks: number[]; next: () => Promise<XsMessage> } {
  const [a, b] = duplexPair();
  const reader = new FrameReader();
  const requests: XsMessage[] = [];
  const chunks: number[] = [];
  const waiters: ((m: XsMessage) => void)[] = [];
  let seen = 0;
  b.on('data', (c: Buffer) => {
    chunks.push(c.length);
    for (const m of reader.push(c)) {
      requests.push(m);
      waiters.shift()?.(m);
    }
  });
  const next = (): Promise<XsMessage> =>
    seen < requests.length ? Promise.resolve(requests[seen++]!) : new Promise((r) => waiters.push((m) => (seen++, r(m))));
  return { client: new XenstoreClient(a, { timeoutMs: 200 }), peer: b, requests, chunks, next };
}

const reply = (m: XsMessage, payload: Buffer, type = m.type): Buffer => encodeMessage(type, m.reqId, m.txId, payload);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('XenstoreClient', () => {
  test('pipelines: many requests in one write, distinct req_ids, replies matched out of order', async () => {
    const { client, peer, requests, chunks } = fakeDaemon();
    const paths = Array.from({ length: 50 }, (_, i) => `/p/${i}`);
    const reads = paths.map((p) => client.read(p));
    await tick();
    expect(client.inFlight).toBe(50);
    expect(requests).toHaveLength(50);
    expect(chunks).toHaveLength(1);
    expect(new Set(requests.map((r) => r.reqId)).size).toBe(50);
    // Answer in reverse order, each with its own path as the value.
    for (const r of [...requests].reverse()) peer.write(reply(r, Buffer.from(r.payload.toString().replace('\0', ''))));
    expect(await Promise.all(reads)).toEqual(paths);
    client.close();
  });

  test('a watch event between a request and its reply goes to the watch, not the request', async () => {
    const { client, peer, next } = fakeDaemon();
    const w = client.watch('/w', 'tk');
    const it = w[Symbol.asyncIterator]();
    const wreq = await next();
    peer.write(reply(wreq, nulStrings('OK')));
    peer.write(encodeMessage(XsType.WATCH_EVENT, 0, 0, nulStrings('/w', 'tk')));
    expect((await it.next()).value).toEqual({ path: '/w', token: 'tk' });
    const read = client.read('/x');
    const rreq = await next();
    peer.write(Buffer.concat([encodeMessage(XsType.WATCH_EVENT, 0, 0, nulStrings('/w/1', 'tk')), reply(rreq, Buffer.from('val'))]));
    expect(await read).toBe('val');
    expect((await it.next()).value).toEqual({ path: '/w/1', token: 'tk' });
    // Leaving the loop sends UNWATCH with the same path and token.
    const done = it.return!();
    const un = await next();
    expect(un.type).toBe(XsType.UNWATCH);
    expect(un.payload.toString('latin1')).toBe('/w\0tk\0');
    peer.write(reply(un, nulStrings('OK')));
    await done;
    client.close();
  });

  test('timeouts reject with ETIMEDOUT; a late reply is ignored; the connection stays usable', async () => {
    const { client, peer, next } = fakeDaemon();
    const slow = client.read('/slow');
    const req = await next();
    await expect(slow).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    const fast = client.read('/fast');
    const req2 = await next();
    expect(req2.reqId).not.toBe(req.reqId);
    peer.write(reply(req, Buffer.from('late')));
    peer.write(reply(req2, Buffer.from('fast')));
    expect(await fast).toBe('fast');
    client.close();
  });

  test('daemon error names become codes unchanged, even unknown ones', async () => {
    const { client, peer, next } = fakeDaemon();
    const a = client.read('/a');
    peer.write(reply(await next(), nulStrings('EACCES'), XsType.ERROR));
    await expect(a).rejects.toMatchObject({ code: 'EACCES', op: 'READ /a' });
    const b = client.read('/b');
    peer.write(reply(await next(), nulStrings('EWEIRD'), XsType.ERROR));
    await expect(b).rejects.toMatchObject({ code: 'EWEIRD' });
    client.close();
  });

  test('close is idempotent and fails what is outstanding; later requests fail at once', async () => {
    const { client } = fakeDaemon();
    const p = client.read('/x');
    client.close();
    client.close();
    await expect(p).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(client.read('/y')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(client.closed).toBe(true);
  });

  test('the daemon hanging up fails outstanding requests and ends watches with an error', async () => {
    const { client, peer, next } = fakeDaemon();
    const w = client.watch('/w', 't');
    peer.write(reply(await next(), nulStrings('OK')));
    await w.ready;
    const p = client.read('/x');
    await next();
    peer.end();
    await expect(p).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(w.next()).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  test('a request over 4096 bytes is refused locally with E2BIG, as libxenstore does', async () => {
    const { client, requests } = fakeDaemon();
    await expect(client.write('/big', 'x'.repeat(4096))).rejects.toMatchObject({ code: 'E2BIG' });
    await tick();
    expect(requests).toHaveLength(0);
    client.close();
  });

  test('a frame over 4096 from the daemon is a protocol error', async () => {
    const { client, peer, next } = fakeDaemon();
    const p = client.read('/x');
    await next();
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(5000, 12);
    peer.write(hdr);
    await expect(p).rejects.toMatchObject({ code: 'EPROTO' });
  });

  describe('against XenstoredServer', () => {
    let server: XenstoredServer;
    let c: XenstoreClient;
    beforeEach(() => {
      server = new XenstoredServer();
      c = server.client({ domid: 0 });
    });
    afterEach(async () => {
      c.close();
      await server.close();
    });

    test('a rejected WATCH surfaces on the first next(); a token in use is EEXIST locally', async () => {
      const bad = c.watch('/bad//path', 'x');
      await expect(bad.next()).rejects.toMatchObject({ code: 'EINVAL' });
      const ok = c.watch('/fine', 'same');
      await ok.ready;
      const dup = c.watch('/other', 'same');
      await expect(dup.next()).rejects.toMatchObject({ code: 'EEXIST' });
      expect(server.watchCount()).toBe(1);
      await ok.close();
      expect(server.watchCount()).toBe(0);
    });

    test('concurrent next() calls each get their own event, in order', async () => {
      const w = c.watch('/cc', 'cc');
      const first = w.next();
      const second = w.next();
      const third = w.next();
      await w.ready;
      await c.write('/cc/a', '1');
      await c.write('/cc/b', '1');
      expect((await Promise.all([first, second, third])).map((r) => r.value.path)).toEqual(['/cc', '/cc/a', '/cc/b']);
      await w.close();
    });

    test('for-await break unwatches', async () => {
      for await (const ev of c.watch('/loop')) {
        expect(ev.path).toBe('/loop');
        break;
      }
      expect(server.watchCount()).toBe(0);
    });

    test('a transaction whose body throws is aborted and the error propagates', async () => {
      await expect(
        c.transaction(async (tx) => {
          await tx.write('/t/x', '1');
          throw new Error('body failed');
        }),
      ).rejects.toThrow('body failed');
      expect(await c.exists('/t/x')).toBe(false);
      // The aborted transaction is gone from the server: a fresh one works.
      expect(await c.transaction(async (tx) => (await tx.directory('/')).length)).toBe(1);
    });

    test('directory falls back to DIRECTORY_PART for a large directory', async () => {
      const names = Array.from({ length: 300 }, (_, i) => `n${String(i).padStart(20, '0')}`);
      await Promise.all(names.map((n) => c.write(`/big/${n}`, '')));
      const list = await c.directory('/big');
      expect(list).toEqual(names);
      expect(Buffer.byteLength(list.join('\0'))).toBeGreaterThan(4096);
    });

    test('domain operations', async () => {
      expect(await c.isDomainIntroduced(3)).toBe(false);
      await c.introduceDomain(3, 0xfeffcn, 5);
      expect(await c.isDomainIntroduced(3)).toBe(true);
      expect(await c.getDomainPath(3)).toBe('/local/domain/3');
      await c.resumeDomain(3);
      await c.releaseDomain(3);
      await expect(c.resumeDomain(3)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });
});

describe('finding the daemon', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xs-open-'));

  test('XENSTORED_PATH wins, then XENSTORED_RUNDIR/socket if it exists, else /dev/xen/xenbus', () => {
    expect(resolveXenstorePath({ env: { XENSTORED_PATH: '/x/y' } })).toBe('/x/y');
    expect(resolveXenstorePath({ path: '/explicit', env: { XENSTORED_PATH: '/x/y' } })).toBe('/explicit');
    fs.writeFileSync(path.join(dir, 'socket'), '');
    expect(resolveXenstorePath({ env: { XENSTORED_RUNDIR: dir } })).toBe(path.join(dir, 'socket'));
    expect(resolveXenstorePath({ env: { XENSTORED_RUNDIR: path.join(dir, 'none') } })).toBe('/dev/xen/xenbus');
  });

  test('a missing path is ENOENT; a live socket connects as dom0', async () => {
    await expect(openXenstore({ path: path.join(dir, 'missing') })).rejects.toMatchObject({ code: 'ENOENT' });
    const server = new XenstoredServer();
    const sock = path.join(dir, 'live.sock');
    await server.listen(sock);
    const c = await openXenstore({ env: { XENSTORED_PATH: sock } });
    await c.introduceDomain(9, 1, 1);
    expect(await c.isDomainIntroduced(9)).toBe(true);
    c.close();
    await server.close();
    expect(fs.existsSync(sock)).toBe(false);
    await expect(openXenstore({ path: sock })).rejects.toBeInstanceOf(XenstoreError);
  });
});

describe('a non-socket path (the /dev/xen/xenbus case)', () => {
  test('is opened read-write and carries whole frames both ways', async () => {
    // No xenbus device here; a FIFO stands in for it. Opened read-write, the client reads back
    // its own request, which is a well-formed frame with the request's type and req_id, so
    // it resolves with the request's payload: proof that framing works over a plain fd.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xs-fifo-'));
    const fifo = path.join(dir, 'xenbus');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [fifo]);
    const c = await openXenstore({ path: fifo, timeoutMs: 2000 });
    expect((await c.readBuffer('/echo')).toString('latin1')).toBe('/echo\0');
    const [a, b] = await Promise.all([c.getDomainPath(7), c.readBuffer('/two')]);
    expect([a, b.toString('latin1')]).toEqual(['7', '/two\0']);
    // The device is read only while a reply is awaited, so nothing is left blocked after
    // close() (test/xenstore/xenbus-close.test.ts proves node then exits by itself).
    c.close();
  });
});
