'use strict';
/**
 * Operations per second of READ against our xenstored (in its own process, on a unix socket):
 *   - the C client: libxenstore's xs_read in a loop (test/xenstore/xsprobe.c, compiled here),
 *   - XenstoreClient sequential: await each read before the next,
 *   - XenstoreClient pipelined: WINDOW reads in flight at once,
 *   - a bare Node round trip (write one prebuilt READ frame, await the next 'data'): the floor
 *     any Node client pays, to tell client overhead from event-loop cost.
 * All three in one run against the same server; prints ops/s and the ratios to the C client.
 *
 *   npx tsc -b packages/xenstore && node bench/xenstore/run.js [N] [WINDOW]
 */
const { execFileSync, spawn } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const N = Number(process.argv[2] || 20000);
const WINDOW = Number(process.argv[3] || 64);
const ROUNDS = 5;

const root = path.resolve(__dirname, '../..');
let xs;
try {
  xs = require(path.join(root, 'packages/xenstore/dist'));
} catch {
  console.error('bench/xenstore: build first: npx tsc -b packages/xenstore');
  process.exit(1);
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xs-bench-'));
  const sock = path.join(dir, 'socket');
  const probe = path.join(dir, 'xsprobe');
  execFileSync('gcc', ['-O2', '-o', probe, path.join(root, 'test/xenstore/xsprobe.c'), '-lxenstore']);

  const srv = spawn(process.execPath, [path.join(__dirname, 'server.js'), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    srv.stdout.once('data', resolve);
    srv.once('exit', () => reject(new Error('server exited')));
  });

  const env = { ...process.env, XENSTORED_PATH: sock };
  const client = await xs.openXenstore({ path: sock });
  const key = '/bench/value';
  await client.write(key, 'x'.repeat(32));

  const bare = net.connect(sock);
  await new Promise((r) => bare.once('connect', r));
  let onReply = null;
  bare.on('data', () => onReply && onReply());
  const frame = xs.encodeMessage(xs.XsType.READ, 1, 0, Buffer.from(`${key}\0`));

  const c = [], seq = [], pipe = [], raw = [];
  // Round 0 warms up the server's JIT and is not counted: the first C round otherwise pays it.
  for (let r = 0; r <= ROUNDS; r++) {
    const keep = r > 0;
    // C: the probe times its own loop (xs_open is outside the timing).
    const secs = Number(execFileSync(probe, ['bench-read', String(N), key], { env }).toString());
    if (keep) c.push(N / secs);

    let t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await client.read(key);
    if (keep) seq.push(N / (Number(process.hrtime.bigint() - t) / 1e9));

    // Replies are small and answered one at a time, so one 'data' event is one reply.
    t = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await new Promise((res) => { onReply = res; bare.write(frame); });
    if (keep) raw.push(N / (Number(process.hrtime.bigint() - t) / 1e9));

    t = process.hrtime.bigint();
    let next = 0;
    const worker = async () => {
      while (next < N) {
        next++;
        await client.read(key);
      }
    };
    await Promise.all(Array.from({ length: WINDOW }, worker));
    if (keep) pipe.push(N / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  client.close();
  bare.destroy();
  srv.kill('SIGTERM');

  const fmt = (x) => Math.round(x).toString().padStart(8);
  const cm = median(c), sm = median(seq), pm = median(pipe);
  console.log(`xenstore READ, ${N} ops x ${ROUNDS} rounds (median), server: XenstoredServer in its own process`);
  console.log(`  C libxenstore (xs_read loop)        ${fmt(cm)} ops/s   (rounds: ${c.map(Math.round).join(', ')})`);
  console.log(`  XenstoreClient sequential           ${fmt(sm)} ops/s   (rounds: ${seq.map(Math.round).join(', ')})`);
  console.log(`  bare Node round trip (floor)        ${fmt(median(raw))} ops/s   (rounds: ${raw.map(Math.round).join(', ')})`);
  console.log(`  XenstoreClient pipelined (window ${WINDOW}) ${fmt(pm)} ops/s   (rounds: ${pipe.map(Math.round).join(', ')})`);
  // Each round measures C, then sequential, then pipelined back to back, so a per-round
  // ratio compares measurements taken under the same machine load; its median is reported.
  const rs = median(seq.map((x, i) => x / c[i]));
  const rp = median(pipe.map((x, i) => x / c[i]));
  console.log(`  ratio sequential / C: ${rs.toFixed(2)}x   (median of per-round ratios; goal >= 0.8x)`);
  console.log(`  ratio pipelined  / C: ${rp.toFixed(2)}x   (median of per-round ratios; goal >= 2x)`);
  console.log(`  ratio bare Node  / C: ${median(raw.map((x, i) => x / c[i])).toFixed(2)}x   (what any Node client could reach sequentially)`);
  console.log(`  ratio sequential / bare Node: ${median(seq.map((x, i) => x / raw[i])).toFixed(2)}x   (the client's own overhead)`);
  console.log(`  load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`bench/xenstore: ${e.message}`);
  process.exit(1);
});
