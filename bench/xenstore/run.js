'use strict';
/**
 * Operations per second of READ against our xenstored (in its own process, on a unix socket):
 *   - the C client: libxenstore's xs_read in a loop (test/xenstore/xsprobe.c, compiled here),
 *   - XenstoreClient, mode 'async', sequential: await each read before the next,
 *   - XenstoreClient, mode 'blocking', sequential: the same loop; each read is a write and a
 *     blocking read on a blocking socket, as libxenstore does,
 *   - a bare Node round trip (write one prebuilt READ frame, await the next 'data'): the floor
 *     any event-loop client pays, to tell client overhead from event-loop cost,
 *   - XenstoreClient, mode 'async', pipelined: WINDOW reads in flight at once.
 * All in one run against the same server; prints ops/s and the ratios to the C client, and the
 * client process's CPU time per read (user+sys; steadier than wall time on a loaded machine).
 *
 *   npx tsc -b packages/xenstore && node bench/xenstore/run.js [N] [WINDOW] [ROUNDS]
 *
 * Many short rounds rather than a few long ones: the clients of one round run within a few
 * seconds of each other, so a per-round ratio compares them under nearly the same machine load.
 */
const { execFileSync, spawn } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const N = Number(process.argv[2] || 10000);
const WINDOW = Number(process.argv[3] || 64);
const ROUNDS = Number(process.argv[4] || 9);

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

/** Runs `loop` and returns [ops/s, client CPU microseconds per op]. */
async function measure(loop) {
  const cpu = process.cpuUsage();
  const t = process.hrtime.bigint();
  await loop();
  const secs = Number(process.hrtime.bigint() - t) / 1e9;
  const c = process.cpuUsage(cpu);
  return [N / secs, (c.user + c.system) / N];
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
  const blocking = await xs.openXenstore({ path: sock, mode: 'blocking' });
  if (client.mode !== 'async' || blocking.mode !== 'blocking') throw new Error('client modes are not what was asked for');
  const key = '/bench/value';
  await client.write(key, 'x'.repeat(32));

  const bare = net.connect(sock);
  await new Promise((r) => bare.once('connect', r));
  let onReply = null;
  bare.on('data', () => onReply && onReply());
  const frame = xs.encodeMessage(xs.XsType.READ, 1, 0, Buffer.from(`${key}\0`));

  const r = { c: [], seq: [], blk: [], raw: [], pipe: [] };
  const cpu = { c: [], seq: [], blk: [] };
  // Round 0 warms up the server's JIT and is not counted: the first C round otherwise pays it.
  for (let i = 0; i <= ROUNDS; i++) {
    const keep = (k, [ops, us]) => {
      if (i === 0) return;
      r[k].push(ops);
      if (cpu[k]) cpu[k].push(us);
    };
    // C: the probe times its own loop (xs_open is outside the timing) and its own CPU time.
    const [secs, cpuSecs] = execFileSync(probe, ['bench-read', String(N), key], { env }).toString().trim().split(' ').map(Number);
    keep('c', [N / secs, (cpuSecs * 1e6) / N]);

    keep('seq', await measure(async () => {
      for (let j = 0; j < N; j++) await client.read(key);
    }));

    keep('blk', await measure(async () => {
      for (let j = 0; j < N; j++) await blocking.read(key);
    }));

    // Replies are small and answered one at a time, so one 'data' event is one reply.
    keep('raw', await measure(async () => {
      for (let j = 0; j < N; j++) await new Promise((res) => { onReply = res; bare.write(frame); });
    }));

    keep('pipe', await measure(async () => {
      let next = 0;
      const worker = async () => {
        while (next < N) {
          next++;
          await client.read(key);
        }
      };
      await Promise.all(Array.from({ length: WINDOW }, worker));
    }));
  }
  client.close();
  blocking.close();
  bare.destroy();
  srv.kill('SIGTERM');

  const fmt = (x) => Math.round(x).toString().padStart(8);
  const rounds = (a) => a.map(Math.round).join(', ');
  // Each round measures every client back to back, so a per-round ratio compares measurements
  // taken under the same machine load; its median is reported.
  const ratio = (k, base = 'c') => median(r[k].map((x, j) => x / r[base][j])).toFixed(2);
  console.log(`xenstore READ, ${N} ops x ${ROUNDS} rounds (median), server: XenstoredServer in its own process`);
  console.log(`  C libxenstore (xs_read loop)              ${fmt(median(r.c))} ops/s   (rounds: ${rounds(r.c)})`);
  console.log(`  XenstoreClient async, sequential          ${fmt(median(r.seq))} ops/s   (rounds: ${rounds(r.seq)})`);
  console.log(`  XenstoreClient blocking, sequential       ${fmt(median(r.blk))} ops/s   (rounds: ${rounds(r.blk)})`);
  console.log(`  bare Node round trip (event-loop floor)   ${fmt(median(r.raw))} ops/s   (rounds: ${rounds(r.raw)})`);
  console.log(`  XenstoreClient async, pipelined (${String(WINDOW).padStart(3)})   ${fmt(median(r.pipe))} ops/s   (rounds: ${rounds(r.pipe)})`);
  console.log(`  ratio async sequential    / C: ${ratio('seq')}x   (median of per-round ratios; goal >= 0.8x)`);
  console.log(`  ratio blocking sequential / C: ${ratio('blk')}x   (median of per-round ratios; goal >= 0.8x)`);
  console.log(`  ratio async pipelined     / C: ${ratio('pipe')}x   (median of per-round ratios; goal >= 2x)`);
  console.log(`  ratio bare Node           / C: ${ratio('raw')}x   (what any event-loop client could reach sequentially)`);
  const us = (k) => median(cpu[k]).toFixed(1);
  console.log(`  client CPU per read (user+sys, median): C ${us('c')} us, async ${us('seq')} us, blocking ${us('blk')} us`);
  console.log(`  load average during the run: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(`bench/xenstore: ${e.message}`);
  process.exit(1);
});
