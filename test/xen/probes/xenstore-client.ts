/**
 * Runs in dom0 (bundled by esbuild with packages/xenstore/src into one file, started with the
 * host's node): drives the real xenstored, C or OCaml, through @xentool/xenstore, over the unix
 * socket and over /dev/xen/xenbus, and interleaves the real C tools (xenstore-write, -read) to
 * show both sides see the same store. Prints one JSON object; 07-xenstore-client.test.ts judges it.
 * Usage: node xenstore-client.js ROOT socket|xenbus [async|blocking]
 *   ROOT: a scratch path, removed at the end. The mode is the client's (default async); in
 *   blocking mode the watch steps are replaced by the refusal (ENOTSUP) that mode gives.
 *   Blocking mode loads koffi: run with NODE_PATH pointing at the project's node_modules.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { openXenstore, XenstoreError, type XenstoreClient, type XenstoreMode } from '@xentool/xenstore';

const root = process.argv[2] ?? '/xenvm-probe';
/** XENVM_PROBE_TRACE=1 prints each step on stderr, to find the one that hangs. */
const trace = process.env.XENVM_PROBE_TRACE === '1' ? (s: string) => process.stderr.write(`probe: ${s}\n`) : () => undefined;

function tool(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8' });
}

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (e) {
    return e instanceof XenstoreError ? e.code : `not a XenstoreError: ${String(e)}`;
  }
}

async function transport(xs: XenstoreClient, base: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  trace(`${base}: read`);
  out.dom0Name = await xs.read('/local/domain/0/name');
  out.domainPath0 = await xs.getDomainPath(0);

  await xs.write(`${base}/a`, 'written by xentool');
  out.cToolReadsOurs = tool('xenstore-read', `${base}/a`);
  tool('xenstore-write', `${base}/b`, 'written by the C tool');
  out.weReadTheirs = await xs.read(`${base}/b`);
  out.directory = (await xs.directory(base)).sort();
  out.perms = await xs.getPerms(`${base}/a`);
  out.readMissing = await errorCode(xs.read(`${base}/missing`));
  out.existsMissing = await xs.exists(`${base}/missing`);

  trace(`${base}: transaction`);
  // A transaction's writes appear only at commit.
  const tx = await xs.transactionStart();
  await tx.write(`${base}/tx1`, 'one');
  await tx.write(`${base}/tx2`, 'two');
  out.visibleBeforeCommit = await xs.exists(`${base}/tx1`);
  await xs.transactionEnd(tx, true);
  out.afterCommit = [await xs.read(`${base}/tx1`), await xs.read(`${base}/tx2`)];

  trace(`${base}: conflict`);
  // A conflict: the transaction read a node that someone else then changed.
  const t2 = await xs.transactionStart();
  await t2.read(`${base}/a`);
  tool('xenstore-write', `${base}/a`, 'changed outside');
  await t2.write(`${base}/a`, 'changed inside');
  out.conflictCommit = await errorCode(xs.transactionEnd(t2, true));
  out.afterConflict = await xs.read(`${base}/a`);

  trace(`${base}: retry`);
  // transaction() retries the whole body after EAGAIN.
  let runs = 0;
  await xs.transaction(async (t) => {
    runs += 1;
    const v = await t.read(`${base}/a`);
    if (runs === 1) tool('xenstore-write', `${base}/a`, 'raced');
    await t.write(`${base}/a`, `${v}+1`);
  });
  out.retriedRuns = runs;
  out.afterRetry = await xs.read(`${base}/a`);

  trace(`${base}: watch`);
  if (xs.mode === 'blocking') {
    out.watchRefused = await errorCode(xs.watch(base, 'probe-token').ready);
  } else {
    out.watchEvents = await watchSteps(xs, base);
  }

  trace(`${base}: rm`);
  await xs.rm(base);
  out.removed = !(await xs.exists(base));
  return out;
}

/** A watch fires once on registration, then for a change made by the C tool. */
async function watchSteps(xs: XenstoreClient, base: string): Promise<unknown[]> {
  const w = xs.watch(base, 'probe-token');
  await w.ready;
  const first = await w.next();
  tool('xenstore-write', `${base}/watched`, 'x');
  const events: unknown[] = [first.value];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ev = await Promise.race([w.next(), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
    if (!ev || ev.done) break;
    events.push(ev.value);
    if ((ev.value as { path: string }).path === `${base}/watched`) break;
  }
  await w.close();
  return events;
}

const TRANSPORTS: Record<string, string> = { socket: '/var/run/xenstored/socket', xenbus: '/dev/xen/xenbus' };

async function main(): Promise<void> {
  const transportName = process.argv[3] ?? 'socket';
  const mode = (process.argv[4] ?? 'async') as XenstoreMode;
  const devicePath = TRANSPORTS[transportName];
  if (!devicePath) throw new Error(`unknown transport ${transportName}`);
  if (mode !== 'async' && mode !== 'blocking') throw new Error(`unknown mode ${mode}`);
  trace(`open ${devicePath} (${mode})`);
  const xs = await openXenstore({ path: devicePath, mode, timeoutMs: 20_000 });
  let result: Record<string, unknown>;
  try {
    result = { mode: xs.mode, ...(await transport(xs, `${root}/${transportName}-${mode}`)) };
  } finally {
    xs.close();
  }
  tool('xenstore-rm', root);
  // Synchronous writes: if node cannot exit afterwards (see below), buffered pipe output would be
  // lost with it.
  fs.writeSync(1, JSON.stringify(result) + '\n');
  // Nothing is left to do: node must now exit by itself. Something still holding the event loop
  // after close() (a handle, a pending read) would keep every xentool command from returning.
  setTimeout(() => {
    fs.writeSync(2, 'xenstore-client probe: node still running 5 s after close()\n');
    process.exit(3);
  }, 5000).unref();
}

main().catch((e) => {
  process.stderr.write(`xenstore-client probe: ${e instanceof XenstoreError ? `${e.code}: ` : ''}${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
