/**
 * A xenstored for the cross-process client tests, run as a child process (bundled by
 * harness.bundleChild): a client in blocking mode stops its own event loop while it waits, so
 * the daemon it talks to must not share that loop.
 *
 *   node child-daemon.js server SOCKET   our XenstoredServer, as `xentool xenstored` runs it
 *   node child-daemon.js hold SOCKET     a scripted daemon that answers every request but
 *       READ /held only when the next request arrives (then both, the held one first): the
 *       client's timeout fires and the late reply must not be taken for the next request's.
 *   node child-daemon.js delay SOCKET    answers every request with its path, one second late,
 *       so that a client is certainly still waiting when something else happens to it.
 *
 * Prints `ready` on stdout once listening; stops on SIGTERM.
 */
import * as net from 'node:net';
import { encodeMessage, FrameReader, XenstoredServer, XsType } from '@xentool/xenstore';
import type { XsMessage } from '@xentool/xenstore';

const [mode, socket] = process.argv.slice(2) as [string, string];

function delayDaemon(): net.Server {
  return net.createServer((conn) => {
    const reader = new FrameReader();
    conn.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        const path = m.payload.toString('latin1').replace(/\0$/, '');
        setTimeout(() => conn.write(encodeMessage(m.type, m.reqId, m.txId, Buffer.from(path))), 1000);
      }
    });
    conn.on('error', () => undefined);
  });
}

function holdDaemon(): net.Server {
  return net.createServer((conn) => {
    const reader = new FrameReader();
    let held: XsMessage | undefined;
    conn.on('data', (chunk: Buffer) => {
      for (const m of reader.push(chunk)) {
        const path = m.payload.toString('latin1').replace(/\0$/, '');
        if (m.type === XsType.READ && path === '/held' && !held) {
          held = m;
          continue;
        }
        const out: Buffer[] = [];
        if (held) out.push(encodeMessage(held.type, held.reqId, held.txId, Buffer.from('late')));
        held = undefined;
        // Every other request: its path back as the value.
        out.push(encodeMessage(m.type, m.reqId, m.txId, Buffer.from(path)));
        conn.write(Buffer.concat(out));
      }
    });
    conn.on('error', () => undefined);
  });
}

async function main(): Promise<void> {
  let stop: () => Promise<void>;
  if (mode === 'server') {
    const server = new XenstoredServer();
    await server.listen(socket);
    stop = () => server.close();
  } else if (mode === 'hold' || mode === 'delay') {
    const server = mode === 'hold' ? holdDaemon() : delayDaemon();
    await new Promise<void>((r) => server.listen(socket, r));
    // Its connections stay open until the process ends: nothing to wait for.
    stop = () => Promise.resolve();
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
  process.stdout.write('ready\n');
}

main().catch((e: Error) => {
  process.stderr.write(`child-daemon: ${e.message}\n`);
  process.exit(1);
});
