/**
 * The standalone daemon behind `xentool xenstored`: a XenstoredServer on a unix socket, its
 * tree optionally loaded from and saved to a JSON file.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { XenstoreError } from './errors';
import { XenstoredServer } from './server';
import type { XenstoreSnapshot } from './server';

export interface DaemonOptions {
  socket: string;
  /** JSON file holding the tree between runs; loaded if present, rewritten after changes. */
  persist?: string;
}

export interface Daemon {
  server: XenstoredServer;
  /** Stops listening, removes the socket and writes the final state. Idempotent. */
  close(): Promise<void>;
}

/**
 * Codes: EADDRINUSE (another daemon answers on the socket), ENOTSOCK (the path exists and is
 * not a socket), EPERSIST (the persist file cannot be read, parsed or written), or the errno
 * of listen().
 */
export async function startXenstored(opts: DaemonOptions): Promise<Daemon> {
  let snapshot: XenstoreSnapshot | undefined;
  if (opts.persist && fs.existsSync(opts.persist)) snapshot = loadSnapshot(opts.persist);
  let server: XenstoredServer;
  try {
    server = new XenstoredServer({ snapshot });
  } catch (e) {
    throw new XenstoreError('EPERSIST', `${opts.persist}: ${(e as Error).message}`);
  }
  await clearStaleSocket(opts.socket);
  try {
    await server.listen(opts.socket);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new XenstoreError(err.code ?? 'EIO', `cannot listen on ${opts.socket}: ${err.code ?? err.message}`);
  }

  let scheduled = false;
  const save = (): void => {
    scheduled = false;
    if (opts.persist) writeSnapshot(opts.persist, server.snapshot());
  };
  // Changes are saved once per event-loop turn: a burst of writes costs one file write, and
  // a daemon killed outright loses at most the changes of its last turn.
  server.on('change', () => {
    if (scheduled || !opts.persist) return;
    scheduled = true;
    setImmediate(save);
  });
  if (opts.persist) writeSnapshot(opts.persist, server.snapshot());

  let closing: Promise<void> | undefined;
  return {
    server,
    close() {
      closing ??= server.close().then(() => {
        if (opts.persist) writeSnapshot(opts.persist, server.snapshot());
      });
      return closing;
    },
  };
}

function loadSnapshot(file: string): XenstoreSnapshot {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as XenstoreSnapshot;
  } catch (e) {
    throw new XenstoreError('EPERSIST', `cannot load xenstore state from ${file}: ${(e as Error).message}`);
  }
}

/** Write-then-rename, so a crash mid-write leaves the previous state, never half a file. */
function writeSnapshot(file: string, snap: XenstoreSnapshot): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(snap));
    fs.renameSync(tmp, file);
  } catch (e) {
    throw new XenstoreError('EPERSIST', `cannot save xenstore state to ${file}: ${(e as Error).message}`);
  }
}

/**
 * A socket file left by a daemon that was killed is removed; one that still answers is
 * another daemon's, and is left alone. (C xenstored unlinks unconditionally — "FIXME: don't
 * mug running daemon" — which is not what two simulated hosts side by side want.)
 */
async function clearStaleSocket(socket: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(socket);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new XenstoreError('ENOTSOCK', `${socket} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new XenstoreError('EADDRINUSE', `another xenstored is answering on ${socket}`);
  fs.unlinkSync(socket);
}
