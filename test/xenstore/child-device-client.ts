/**
 * A client of a stand-in for /dev/xen/xenbus, run as a child process (bundled by
 * harness.bundleChild) so that the test can see whether node exits by itself after close().
 *
 *   node child-device-client.js FIFO MODE SCENARIO
 *
 * FIFO is a named pipe: opened read-write it is a blocking fd, not a socket, so the client
 * takes the device path, and it reads back its own requests, which are well-formed frames with
 * the request's type and req_id: each request is "answered" with its own payload, and nothing
 * ever arrives after the last one, as on a device whose daemon has nothing more to say.
 * Scenarios: `requests` (a few requests, then close), `watch-closed` (a watch closed before the
 * client), `watch-open` (close() with the watch still registered: a device read waits for
 * its events). Prints one JSON line of what the requests returned, then returns from main.
 */
import * as fs from 'node:fs';
import { openXenstore } from '@xentool/xenstore';
import type { XenstoreMode } from '@xentool/xenstore';

const [fifo, mode, scenario] = process.argv.slice(2) as [string, XenstoreMode, string];

async function main(): Promise<void> {
  const c = await openXenstore({ path: fifo, mode, timeoutMs: 5000 });
  const out: Record<string, unknown> = { mode: c.mode };
  out.read = (await c.readBuffer('/echo')).toString('latin1');
  out.domainPath = await c.getDomainPath(7);
  if (scenario === 'watch-closed' || scenario === 'watch-open') {
    const w = c.watch('/w', 'tok');
    await w.ready;
    if (scenario === 'watch-closed') await w.close();
    else {
      // Wait for an event that never comes, long enough for the client to be reading the
      // device for it (the read starts a turn after the WATCH reply), then give up.
      const next = w.next();
      await new Promise((r) => setTimeout(r, 200));
      next.catch(() => undefined);
    }
    out.watch = 'registered';
  }
  c.close();
  // Synchronous: if node cannot exit, the parent still sees how far the child got.
  fs.writeSync(1, `${JSON.stringify(out)}\n`);
}

main().catch((e: Error & { code?: string }) => {
  fs.writeSync(2, `child-device-client: ${e.code ?? ''} ${e.message}\n`);
  process.exitCode = 1;
});
