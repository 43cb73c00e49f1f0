/**
 * A blocking-mode client that is sent signals while it waits (run as a child process, bundled
 * by harness.bundleChild): node handles SIGUSR2 here, as it handles SIGCHLD or the profiler's
 * SIGPROF, and a read(2) on a socket with SO_RCVTIMEO is interrupted by a handled signal
 * (EINTR) instead of being restarted.
 *
 *   node child-signal-client.js SOCKET    (SOCKET: child-daemon.js delay, one second per reply)
 *
 * Prints `waiting` before the request and the value it read after, then exits 0 when its stdin
 * ends; exits 1 with the error's code if the request fails.
 */
import * as fs from 'node:fs';
import { openXenstore, XenstoreError } from '@xentool/xenstore';

async function main(): Promise<void> {
  let signals = 0;
  process.on('SIGUSR2', () => (signals += 1));
  const c = await openXenstore({ path: process.argv[2], mode: 'blocking', timeoutMs: 20000 });
  fs.writeSync(1, 'waiting\n');
  const v = await c.read('/slow');
  c.close();
  // Node runs the handlers from its event loop once the blocking read has returned; that they
  // ran is the proof that signals arrived meanwhile.
  for (let i = 0; i < 200 && signals === 0; i++) await new Promise((r) => setTimeout(r, 10));
  fs.writeSync(1, `${JSON.stringify({ value: v, signalsHandled: signals > 0 })}\n`);
  // Stay (handler installed) until the parent has stopped signalling and closes stdin: a
  // signal arriving while node tears down would otherwise kill it with the default action.
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

main().catch((e: unknown) => {
  fs.writeSync(2, `${e instanceof XenstoreError ? e.code : String(e)}\n`);
  process.exit(1);
});
