import { XenstoreClient } from './client';
import { XenstoreError } from './errors';
import { XenstoredServer } from './server';
import { encodeMessage, FrameReader, nulStrings, XsType } from './wire';
import type { Duplex } from 'node:stream';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XenstoreError) return e.code;
    throw e;
  }
  return 'OK';
}

/** Sends raw frames on a fresh stream and collects replies until `n` arrived. */
function rawExchange(stream: Duplex, frames: Buffer[], n: number): Promise<{ type: number; reqId: number; txId: number; payload: string }[]> {
  return new Promise((resolve) => {
    const reader = new FrameReader();
    const got: { type: number; reqId: number; txId: number; payload: string }[] = [];
    stream.on('data', (c: Buffer) => {
      for (const m of reader.push(c)) got.push({ type: m.type, reqId: m.reqId, txId: m.txId, payload: m.payload.toString('latin1') });
      if (got.length >= n) resolve(got);
    });
    stream.on('close', () => resolve(got));
    for (const f of frames) stream.write(f);
  });
}

describe('XenstoredServer', () => {
  let server: XenstoredServer;
  let dom0: XenstoreClient;
  const clients: XenstoreClient[] = [];
  const open = (domid: number): XenstoreClient => {
    const c = server.client({ domid, timeoutMs: 2000 });
    clients.push(c);
    return c;
  };

  beforeEach(() => {
    server = new XenstoredServer();
    dom0 = open(0);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server.close();
  });

  test('starts with the tree of setup_structure', async () => {
    expect(await dom0.directory('/')).toEqual(['tool']);
    expect(await dom0.directory('/tool')).toEqual(['xenstored']);
    expect(await dom0.getPerms('/')).toEqual([{ id: 0, perm: 'n' }]);
  });

  test('write creates parents; read returns the raw bytes; directory keeps creation order', async () => {
    await dom0.write('/a/b/c', 'v');
    await dom0.write('/a/a', Buffer.from([1, 2, 0, 3]));
    expect(await dom0.read('/a/b/c')).toBe('v');
    expect(await dom0.read('/a/b')).toBe('');
    expect([...(await dom0.readBuffer('/a/a'))]).toEqual([1, 2, 0, 3]);
    expect(await dom0.directory('/a')).toEqual(['b', 'a']);
  });

  test('rm is recursive, tolerates an absent node under an existing parent, refuses a missing parent', async () => {
    await dom0.write('/a/b/c', 'v');
    await dom0.rm('/a/b');
    expect(await code(dom0.read('/a/b/c'))).toBe('ENOENT');
    expect(await dom0.directory('/a')).toEqual([]);
    expect(await code(dom0.rm('/a/nothing'))).toBe('OK');
    expect(await code(dom0.rm('/nope/nothing'))).toBe('ENOENT');
    expect(await code(dom0.rm('/'))).toBe('EINVAL');
  });

  test('mkdir is a no-op on an existing node and keeps its value', async () => {
    await dom0.write('/m', 'keep');
    await dom0.mkdir('/m');
    expect(await dom0.read('/m')).toBe('keep');
  });

  test('path rules: invalid names are EINVAL, relative names resolve to /local/domain/<id>', async () => {
    for (const bad of ['/a//b', '/a/', '/a b', '/a/ü', '/' + 'x'.repeat(3072)]) {
      expect(await code(dom0.write(bad, '1'))).toBe('EINVAL');
    }
    await dom0.write('rel/x', '1');
    expect(await dom0.read('/local/domain/0/rel/x')).toBe('1');
    await dom0.introduceDomain(3, 100, 1);
    const d3 = open(3);
    await dom0.mkdir('/local/domain/3');
    await dom0.setPerms('/local/domain/3', [{ id: 3, perm: 'n' }]);
    // Created after the chmod, so it inherits owner 3 (children keep the perms they had).
    await dom0.write('/local/domain/3/name', 'guest');
    expect(await d3.read('name')).toBe('guest');
    // The per-domain path quota: 2048 characters after /local/domain/3/.
    expect(await code(d3.write('x'.repeat(2049), '1'))).toBe('EINVAL');
    const deep = 'ab/'.repeat(682) + 'ab';
    expect(deep.length).toBe(2048);
    expect(await code(d3.write(deep, '1'))).toBe('OK');
    // A 2048-character single name passes the path rule but not the entry-size quota of
    // the parent, whose child list it would join.
    expect(await code(d3.write('x'.repeat(2048), '1'))).toBe('ENOSPC');
  });

  describe('permissions', () => {
    beforeEach(async () => {
      await dom0.introduceDomain(5, 1, 1);
      await dom0.introduceDomain(6, 2, 2);
      await dom0.write('/local/domain/5/x', '1');
      await dom0.setPerms('/local/domain/5', [{ id: 5, perm: 'n' }]);
      await dom0.setPerms('/local/domain/5/x', [{ id: 5, perm: 'n' }]);
      await dom0.write('/backend/pci/5/0/num_devs', '1');
      await dom0.setPerms('/backend/pci/5/0', [{ id: 0, perm: 'n' }, { id: 5, perm: 'r' }]);
    });

    test('the owner has full access; other domains get the default letter', async () => {
      const d5 = open(5);
      const d6 = open(6);
      expect(await d5.read('/local/domain/5/x')).toBe('1');
      await d5.write('/local/domain/5/x', '2');
      expect(await code(d6.read('/local/domain/5/x'))).toBe('EACCES');
      expect(await code(d6.write('/local/domain/5/x', '3'))).toBe('EACCES');
    });

    test('per-domain ACL entries: r5 reads but may not write', async () => {
      const d5 = open(5);
      const d6 = open(6);
      expect(await d5.directory('/backend/pci/5/0')).toEqual(['num_devs']);
      expect(await code(d5.write('/backend/pci/5/0/state', '1'))).toBe('EACCES');
      expect(await code(d6.directory('/backend/pci/5/0'))).toBe('EACCES');
    });

    test('existence is hidden: ENOENT only when the nearest ancestor is readable', async () => {
      const d5 = open(5);
      const d6 = open(6);
      expect(await code(d5.read('/backend/pci/5/0/missing'))).toBe('ENOENT');
      expect(await code(d6.read('/backend/pci/5/0/missing'))).toBe('EACCES');
      expect(await code(d6.read('/backend/pci/5/0/num_devs'))).toBe('EACCES');
    });

    test('a node created by a domain inherits the parent perms with the domain as owner', async () => {
      await dom0.setPerms('/local/domain/5', [{ id: 5, perm: 'n' }, { id: 6, perm: 'r' }]);
      const d5 = open(5);
      await d5.write('/local/domain/5/device/pci/0/state', '1');
      expect(await dom0.getPerms('/local/domain/5/device/pci/0/state')).toEqual([{ id: 5, perm: 'n' }, { id: 6, perm: 'r' }]);
      // dom0 creating under the same parent keeps the parent's owner.
      await dom0.write('/backend/pci/5/0/state', '1');
      expect(await dom0.getPerms('/backend/pci/5/0/state')).toEqual([{ id: 0, perm: 'n' }, { id: 5, perm: 'r' }]);
    });

    test('creating needs write on the nearest existing ancestor', async () => {
      const d5 = open(5);
      expect(await code(d5.write('/backend/pci/5/0/new/deep', '1'))).toBe('EACCES');
      expect(await code(d5.write('/elsewhere', '1'))).toBe('EACCES');
      expect(await code(dom0.read('/backend/pci/5/0/new'))).toBe('ENOENT');
    });

    test('only the owner sets perms and only dom0 changes the owner', async () => {
      const d5 = open(5);
      const d6 = open(6);
      await d5.setPerms('/local/domain/5/x', [{ id: 5, perm: 'n' }, { id: 6, perm: 'b' }]);
      expect(await d6.read('/local/domain/5/x')).toBe('1');
      await d6.write('/local/domain/5/x', 'by6');
      expect(await code(d6.setPerms('/local/domain/5/x', [{ id: 5, perm: 'b' }]))).toBe('EACCES');
      expect(await code(d5.setPerms('/local/domain/5/x', [{ id: 6, perm: 'n' }]))).toBe('EPERM');
      await dom0.setPerms('/local/domain/5/x', [{ id: 6, perm: 'n' }]);
      expect(await dom0.getPerms('/local/domain/5/x')).toEqual([{ id: 6, perm: 'n' }]);
    });

    test('privileged-only operations are EACCES for a domain', async () => {
      const d5 = open(5);
      expect(await code(d5.introduceDomain(9, 1, 1))).toBe('EACCES');
      expect(await code(d5.releaseDomain(6))).toBe('EACCES');
      expect(await code(d5.isDomainIntroduced(6))).toBe('EACCES');
      expect(await code(d5.setTarget(5, 6))).toBe('EACCES');
      expect(await d5.getDomainPath(7)).toBe('/local/domain/7');
    });

    test('SET_TARGET gives a stub domain its target’s rights', async () => {
      const d6 = open(6);
      expect(await code(d6.read('/local/domain/5/x'))).toBe('EACCES');
      await dom0.setTarget(6, 5);
      expect(await d6.read('/local/domain/5/x')).toBe('1');
    });

    test('size, entry and perms quotas apply to domains, not dom0', async () => {
      const d5 = open(5);
      expect(await code(d5.write('/local/domain/5/big', 'x'.repeat(2100)))).toBe('ENOSPC');
      expect(await code(dom0.write('/local/domain/5/big', 'x'.repeat(2100)))).toBe('OK');
      // The refused write left nothing behind: big exists once, created by dom0.
      expect((await d5.directory('/local/domain/5')).filter((n) => n === 'big')).toEqual(['big']);
      // 1000 entries per domain, counting what it owns already (its home, x, and big, which
      // dom0 created under a node owned by 5 and so inherited owner 5).
      expect(server.snapshot().nodes.filter((n) => n.perms[0] === 'n5').length).toBe(3);
      // Spread over ten directories (10 more entries): a single directory holding ~400 names
      // would itself pass the 2048-byte entry size first.
      await Promise.all(Array.from({ length: 987 }, (_, i) => d5.write(`/local/domain/5/d${i % 10}/n${i}`, '')));
      expect(server.snapshot().nodes.filter((n) => n.perms[0] === 'n5').length).toBe(1000);
      expect(await code(d5.write('/local/domain/5/one-more', ''))).toBe('ENOSPC');
      const tx = await d5.transactionStart();
      expect(await code(tx.write('/local/domain/5/in-tx', ''))).toBe('ENOSPC');
      await d5.transactionEnd(tx, false);
      await d5.rm('/local/domain/5/d0/n0');
      expect(await code(d5.write('/local/domain/5/one-more', ''))).toBe('OK');
      const six = Array.from({ length: 6 }, (_, i) => ({ id: 5 + i, perm: 'r' as const }));
      expect(await code(d5.setPerms('/local/domain/5/x', six))).toBe('ENOSPC');
    });
  });

  describe('transactions', () => {
    test('writes are invisible outside until commit, then visible', async () => {
      const other = open(0);
      const tx = await dom0.transactionStart();
      await tx.write('/t/a', '1');
      expect(await tx.read('/t/a')).toBe('1');
      expect(await code(other.read('/t/a'))).toBe('ENOENT');
      await dom0.transactionEnd(tx, true);
      expect(await other.read('/t/a')).toBe('1');
    });

    test('abort discards', async () => {
      const tx = await dom0.transactionStart();
      await tx.write('/t/a', '1');
      await dom0.transactionEnd(tx, false);
      expect(await code(dom0.read('/t/a'))).toBe('ENOENT');
    });

    test('a node read in the transaction and changed meanwhile makes the commit EAGAIN', async () => {
      await dom0.write('/t/a', '1');
      const other = open(0);
      const tx = await dom0.transactionStart();
      expect(await tx.read('/t/a')).toBe('1');
      await tx.write('/t/b', 'x');
      await other.write('/t/a', '2');
      expect(await code(dom0.transactionEnd(tx, true))).toBe('EAGAIN');
      expect(await code(dom0.read('/t/b'))).toBe('ENOENT');
      // The id is gone after END, whatever the outcome.
      expect(await code(tx.read('/t/a'))).toBe('ENOENT');
    });

    test('a node found absent and created meanwhile also conflicts', async () => {
      const other = open(0);
      const tx = await dom0.transactionStart();
      expect(await code(tx.read('/t/new'))).toBe('ENOENT');
      await other.write('/t/new', '1');
      expect(await code(dom0.transactionEnd(tx, true))).toBe('EAGAIN');
    });

    test('unrelated changes do not conflict', async () => {
      await dom0.write('/t/a', '1');
      await dom0.write('/u/z', '1');
      const other = open(0);
      const tx = await dom0.transactionStart();
      await tx.read('/t/a');
      await other.write('/u/z', '2');
      expect(await code(dom0.transactionEnd(tx, true))).toBe('OK');
    });

    test('transaction() re-runs the body on EAGAIN and gives up after the retry bound', async () => {
      await dom0.write('/cnt', '0');
      const other = open(0);
      let runs = 0;
      const out = await dom0.transaction(async (tx) => {
        runs++;
        const v = Number(await tx.read('/cnt'));
        if (runs < 3) await other.write('/cnt', String(v + 100));
        await tx.write('/cnt', String(v + 1));
        return v;
      });
      expect(runs).toBe(3);
      expect(out).toBe(200);
      expect(await dom0.read('/cnt')).toBe('201');

      let tries = 0;
      const always = dom0.transaction(async (tx) => {
        tries++;
        await tx.read('/cnt');
        await other.write('/cnt', String(tries));
      }, { retries: 2 });
      expect(await code(always)).toBe('EAGAIN');
      expect(tries).toBe(3);
    });

    test('bad and nested transaction ids', async () => {
      expect(await code(dom0.rawRequest(XsType.READ, nulStrings('/'), 77))).toBe('ENOENT');
      const tx = await dom0.transactionStart();
      expect(await code(dom0.rawRequest(XsType.TRANSACTION_START, nulStrings(''), tx.txId))).toBe('EBUSY');
      expect(await code(dom0.rawRequest(XsType.TRANSACTION_END, nulStrings('X'), tx.txId))).toBe('EINVAL');
    });

    test('watches fire only on commit', async () => {
      const w = dom0.watch('/t', 'tok');
      const it = w[Symbol.asyncIterator]();
      expect((await it.next()).value).toEqual({ path: '/t', token: 'tok' });
      const tx = await dom0.transactionStart();
      await tx.write('/t/a', '1');
      await new Promise((r) => setTimeout(r, 20));
      const early = Promise.race([it.next(), new Promise((r) => setTimeout(() => r('none'), 30))]);
      expect(await early).toBe('none');
      await dom0.transactionEnd(tx, true);
      await w.close();
    });
  });

  describe('watches', () => {
    test('first event is immediate, then one per change at or below the path, relative paths stay relative', async () => {
      const events: string[] = [];
      const w = dom0.watch('/w', 't1');
      const rel = dom0.watch('data', 't2');
      await w.ready;
      await rel.ready;
      await dom0.write('/w/a', '1');
      await dom0.write('/wx', 'not below');
      await dom0.write('/local/domain/0/data/x', '1');
      for await (const ev of w) {
        events.push(ev.path);
        if (events.length === 2) break;
      }
      const relEvents: string[] = [];
      for await (const ev of rel) {
        relEvents.push(ev.path);
        if (relEvents.length === 2) break;
      }
      expect(events).toEqual(['/w', '/w/a']);
      expect(relEvents).toEqual(['data', 'data/x']);
      expect(server.watchCount(0)).toBe(0);
    });

    test('duplicate (path, token) is EEXIST; UNWATCH of an unknown watch is ENOENT', async () => {
      await dom0.rawRequest(XsType.WATCH, nulStrings('/d', 'k'));
      expect(await code(dom0.rawRequest(XsType.WATCH, nulStrings('/d', 'k')))).toBe('EEXIST');
      expect(await code(dom0.rawRequest(XsType.UNWATCH, nulStrings('/d', 'other')))).toBe('ENOENT');
    });

    test('rm fires for the removed node and exactly-watched descendants', async () => {
      await dom0.write('/r/a/b', '1');
      const top = dom0.watch('/r', 'top');
      const deep = dom0.watch('/r/a/b', 'deep');
      const topIt = top[Symbol.asyncIterator]();
      const deepIt = deep[Symbol.asyncIterator]();
      await topIt.next();
      await deepIt.next();
      await dom0.rm('/r/a');
      expect((await topIt.next()).value.path).toBe('/r/a');
      expect((await deepIt.next()).value.path).toBe('/r/a/b');
      await top.close();
      await deep.close();
    });

    test('a domain only hears about nodes it may read', async () => {
      await dom0.introduceDomain(5, 1, 1);
      await dom0.write('/p/secret', '0');
      await dom0.write('/p/open', '0');
      await dom0.setPerms('/p', [{ id: 0, perm: 'r' }]);
      await dom0.setPerms('/p/open', [{ id: 0, perm: 'r' }]);
      const d5 = open(5);
      const w = d5.watch('/p', 'x');
      const it = w[Symbol.asyncIterator]();
      expect((await it.next()).value.path).toBe('/p');
      await dom0.write('/p/secret', '1');
      await dom0.write('/p/open', '1');
      expect((await it.next()).value.path).toBe('/p/open');
      await w.close();
    });

    test('@introduceDomain and @releaseDomain fire; release removes the domain’s nodes and connections', async () => {
      const intro = dom0.watch('@introduceDomain', 'i');
      const rel = dom0.watch('@releaseDomain', 'r');
      const ii = intro[Symbol.asyncIterator]();
      const ri = rel[Symbol.asyncIterator]();
      expect((await ii.next()).value).toEqual({ path: '@introduceDomain', token: 'i' });
      expect((await ri.next()).value).toEqual({ path: '@releaseDomain', token: 'r' });
      await dom0.introduceDomain(7, 123, 4);
      expect((await ii.next()).value).toEqual({ path: '@introduceDomain', token: 'i' });
      expect(await dom0.isDomainIntroduced(7)).toBe(true);
      // Same ring page again: accepted quietly; another page: EINVAL.
      expect(await code(dom0.introduceDomain(7, 123, 5))).toBe('OK');
      expect(await code(dom0.introduceDomain(7, 999, 5))).toBe('EINVAL');

      await dom0.mkdir('/local/domain/7');
      await dom0.setPerms('/local/domain/7', [{ id: 7, perm: 'n' }]);
      await dom0.write('/local/domain/7/x', '1');
      await dom0.write('/keep', 'dom0');
      const d7 = open(7);
      expect(await d7.read('x')).toBe('1');
      await dom0.releaseDomain(7);
      expect((await ri.next()).value).toEqual({ path: '@releaseDomain', token: 'r' });
      expect(await dom0.isDomainIntroduced(7)).toBe(false);
      expect(await code(dom0.read('/local/domain/7'))).toBe('ENOENT');
      expect(await dom0.read('/keep')).toBe('dom0');
      expect(await code(d7.read('x'))).toBe('ECONNRESET');
      expect(await code(dom0.releaseDomain(7))).toBe('ENOENT');
      expect(() => server.openStream({ domid: 7 })).toThrow(XenstoreError);
      await intro.close();
      await rel.close();
    });
  });

  test('a domain hears @releaseDomain only once dom0 grants it read on the special node', async () => {
    await dom0.introduceDomain(5, 1, 1);
    await dom0.introduceDomain(6, 2, 1);
    await dom0.introduceDomain(8, 3, 1);
    const d5 = open(5);
    const w = d5.watch('@releaseDomain', 'rel');
    const it = w[Symbol.asyncIterator]();
    // The registration event is sent regardless of permissions.
    expect((await it.next()).value.path).toBe('@releaseDomain');
    await dom0.releaseDomain(6);
    const pending = it.next();
    expect(await Promise.race([pending, new Promise((r) => setTimeout(() => r('none'), 30))])).toBe('none');
    expect(await code(d5.setPerms('@releaseDomain', [{ id: 0, perm: 'r' }]))).toBe('EACCES');
    await dom0.setPerms('@releaseDomain', [{ id: 0, perm: 'n' }, { id: 5, perm: 'r' }]);
    await dom0.releaseDomain(8);
    expect((await pending).value).toEqual({ path: '@releaseDomain', token: 'rel' });
    await w.close();
  });

  describe('DIRECTORY_PART', () => {
    test('chunks a large directory, the last chunk ending with an extra NUL; DIRECTORY says E2BIG', async () => {
      const names = Array.from({ length: 400 }, (_, i) => `child-with-a-long-name-${i}`);
      await dom0.transaction(async (tx) => {
        for (const n of names) await tx.write(`/big/${n}`, '');
      });
      expect(await code(dom0.rawRequest(XsType.DIRECTORY, nulStrings('/big')))).toBe('E2BIG');
      const first = await dom0.rawRequest(XsType.DIRECTORY_PART, nulStrings('/big', '0'));
      expect(first.length).toBeLessThanOrEqual(4096);
      expect(first[first.length - 1]).toBe(0);
      expect(first[first.length - 2]).not.toBe(0);
      expect(await dom0.directory('/big')).toEqual(names);
      const past = await dom0.rawRequest(XsType.DIRECTORY_PART, nulStrings('/big', '999999'));
      expect(past.toString('latin1')).toMatch(/^\d+\0\0$/);
    });
  });

  describe('protocol errors', () => {
    test('unknown and server-only types are ENOSYS; malformed arguments EINVAL', async () => {
      for (const t of [15, 16, 20, 23, 999]) expect(await code(dom0.rawRequest(t, nulStrings('/')))).toBe('ENOSYS');
      expect(await code(dom0.rawRequest(XsType.READ, Buffer.from('/tool')))).toBe('EINVAL');
      expect(await code(dom0.rawRequest(XsType.READ, Buffer.from('/tool\0x\0')))).toBe('EINVAL');
      expect(await code(dom0.rawRequest(XsType.WATCH, nulStrings('/only-one')))).toBe('EINVAL');
      expect(await code(dom0.rawRequest(XsType.SET_PERMS, nulStrings('/tool', 'q9')))).toBe('EINVAL');
      expect(await code(dom0.rawRequest(XsType.INTRODUCE, nulStrings('x', '1', '1')))).toBe('EINVAL');
    });

    test('an over-long frame closes that connection only; errors echo req_id and tx_id', async () => {
      const s = server.openStream({ domid: 0 });
      const big = Buffer.alloc(16);
      big.writeUInt32LE(XsType.READ, 0);
      big.writeUInt32LE(4097, 12);
      const replies = await rawExchange(s, [encodeMessage(XsType.READ, 42, 0, nulStrings('/nope')), big], 5);
      expect(replies).toEqual([{ type: XsType.ERROR, reqId: 42, txId: 0, payload: 'ENOENT\0' }]);
      expect(s.destroyed || s.readableEnded).toBe(true);
      expect(await dom0.directory('/')).toEqual(['tool']);
    });

    test('replies to pipelined requests come back in order with their req_ids', async () => {
      const s = server.openStream({ domid: 0 });
      const frames = [
        encodeMessage(XsType.WRITE, 7, 0, Buffer.concat([nulStrings('/p/q'), Buffer.from('v')])),
        encodeMessage(XsType.READ, 8, 0, nulStrings('/p/q')),
        encodeMessage(XsType.GET_DOMAIN_PATH, 9, 0, nulStrings('4')),
      ];
      // One write holding all three, split at an odd offset to exercise reassembly.
      const all = Buffer.concat(frames);
      const replies = await rawExchange(s, [all.subarray(0, 21), all.subarray(21)], 3);
      expect(replies).toEqual([
        { type: XsType.WRITE, reqId: 7, txId: 0, payload: 'OK\0' },
        { type: XsType.READ, reqId: 8, txId: 0, payload: 'v' },
        { type: XsType.GET_DOMAIN_PATH, reqId: 9, txId: 0, payload: '/local/domain/4\0' },
      ]);
      s.destroy();
    });
  });

  describe('snapshot/restore', () => {
    test('round-trips nodes, perms, binary values and domains', async () => {
      await dom0.introduceDomain(4, 77, 2);
      await dom0.write('/s/bin', Buffer.from([0, 255, 10]));
      await dom0.setPerms('/s', [{ id: 4, perm: 'r' }, { id: 0, perm: 'b' }]);
      const snap = JSON.parse(JSON.stringify(server.snapshot()));
      const again = new XenstoredServer({ snapshot: snap });
      const c = again.client({ domid: 0 });
      expect([...(await c.readBuffer('/s/bin'))]).toEqual([0, 255, 10]);
      expect(await c.getPerms('/s')).toEqual([{ id: 4, perm: 'r' }, { id: 0, perm: 'b' }]);
      expect(await c.isDomainIntroduced(4)).toBe(true);
      expect(again.dump()).toEqual(server.dump());
      c.close();
      await again.close();
    });

    test('a bad snapshot is refused and the tree is untouched', async () => {
      await dom0.write('/x', '1');
      expect(() => server.restore({ version: 1, nodes: [{ path: '/a', value: '', perms: ['n0'] }], domains: [], specialPerms: {} })).toThrow(/no root/);
      expect(() => server.restore({ version: 1, nodes: [{ path: '/', value: '', perms: ['n0'] }, { path: '/a/b', value: '', perms: ['n0'] }], domains: [], specialPerms: {} })).toThrow(/no parent/);
      expect(await dom0.read('/x')).toBe('1');
    });
  });
});
