/**
 * The intent record's two copies (xenstore and file): permissions, size, which copy wins, and
 * what is left once a record is closed.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XenstoredServer } from '@xentool/xenstore';
import { IntentStore, type IntentRecord } from '../../packages/xentool/src/intent/intent-store';
import { xsFromClient } from '../../packages/xentool/src/xs/xs-client';
import type { Xs } from '../../packages/xentool/src/xs/xs';

let dir: string;
let server: XenstoredServer;
let xs: Xs;
let store: IntentStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xentool-intents-'));
  server = new XenstoredServer();
  xs = xsFromClient(server.client({ domid: 0 }));
  store = new IntentStore(xs, dir);
});
afterEach(async () => {
  await xs.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

function record(id: string, over: Partial<IntentRecord> = {}): IntentRecord {
  return {
    format: 'xentool-intent/1',
    id,
    seq: 0,
    pid: 4242,
    startedAt: '2026-11-23T00:00:00.000Z',
    command: 'pci-attach pv 0000:01:00.0',
    devices: ['0000:01:00.0'],
    domains: [1],
    steps: [{ op: 'libxl.setDomid', bdf: '0000:01:00.0', domid: 1 }],
    recovery: { mode: 'rollback', why: 'test' },
    completed: [],
    status: 'applying',
    ...over,
  };
}

it('writes a large record in parts a guest cannot read, and reads it back whole', async () => {
  // A record with captured trees easily passes xenstore's 4096-byte value limit.
  const big = record('a', { steps: [...Array(200).keys()].map((i) => ({ op: 'xs.set', path: `/libxl/pci/x${i}`, value: 'é'.repeat(20) })) });
  await store.write(big);
  const parts = await xs.directory('/xentool/intents/a');
  expect(parts.length).toBeGreaterThan(4);
  for (const p of parts) expect(Buffer.byteLength((await xs.read(`/xentool/intents/a/${p}`))!)).toBeLessThanOrEqual(4096);
  expect(await xs.getPerms('/xentool')).toEqual([{ domid: 0, perm: 'n' }]);
  expect(await xs.getPerms('/xentool/intents')).toEqual([{ domid: 0, perm: 'n' }]);
  // A guest's connection gets EACCES on the records.
  server.introduceDomain(5, 0xfeff0, 1);
  const guest = xsFromClient(server.client({ domid: 5 }));
  await expect(guest.read('/xentool/intents/a/part-0')).rejects.toMatchObject({ code: 'EACCES' });
  await guest.close();
  const back = await store.read('a');
  expect(back).toEqual({ ...big, seq: 1 });
  expect(JSON.parse(readFileSync(join(dir, 'a.json'), 'utf8'))).toEqual(back);
});

it('takes the copy with the higher seq, and either copy alone', async () => {
  const r = record('b');
  await store.write(r);
  r.completed.push({ index: 0, undo: [] });
  await store.write(r);
  // The file one boundary behind (killed between the two writes of a later boundary) ...
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...r, seq: 1, completed: [] }));
  expect((await store.read('b'))!.completed).toEqual([{ index: 0, undo: [] }]);
  // ... or xenstore lost (xenstored restarted without its database): the file alone.
  await xs.rm('/xentool');
  expect((await store.read('b'))!.seq).toBe(1);
  expect((await store.list()).map((x) => x.id)).toEqual(['b']);
  // A torn or foreign file is ignored rather than trusted.
  writeFileSync(join(dir, 'b.json'), '{"format":"xentool-intent/1", "id"');
  expect(await store.read('b')).toBeUndefined();
});

it('closing leaves no node, no empty /xentool, and no file; a done tombstone beats an older open copy', async () => {
  const r = record('c');
  await store.write(r);
  const r2 = record('d');
  await store.write(r2);
  await store.remove(r);
  expect(await xs.directory('/xentool/intents')).toEqual(['d']);
  await store.remove(r2);
  expect(await xs.read('/xentool')).toBeUndefined();
  expect(readdirSync(dir)).toEqual([]);
  // Killed between the tombstone and the deletions: the tombstone (higher seq) says done.
  const e = record('e');
  await store.write(e);
  writeFileSync(join(dir, 'e.json'), JSON.stringify({ ...e, seq: e.seq + 1, status: 'done' }));
  expect((await store.read('e'))!.status).toBe('done');
  await store.purge('e');
  expect(await store.list()).toEqual([]);
});
