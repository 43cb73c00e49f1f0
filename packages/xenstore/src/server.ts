/**
 * An in-memory xenstored with the semantics of C xenstored 4.17 (tools/xenstore/xenstored_*.c):
 * per-domain permissions, transactions with generation-based conflict detection, watches
 * (including @introduceDomain/@releaseDomain), the payload limit and the path rules.
 *
 * Connections are byte streams speaking the wire protocol: unix-socket clients are dom0
 * (privileged), in-process streams from `openStream({domid})` act as that domain. Each
 * connection's requests are handled one at a time, in order, as xenstored does; replies to a
 * burst of pipelined requests go out in one write.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { XenstoreClient } from './client';
import type { ClientOptions } from './client';
import { duplexPair } from './duplex-pair';
import { XenstoreError } from './errors';
import { canonicalize, domainPath, isAtOrBelow, isValidNodeName } from './paths';
import type { Accessor, Perm } from './perms';
import { formatPerm, parsePerm, PERM_READ, permFor } from './perms';
import type { ChangeEvent, NodeRec, View } from './store';
import {
  BaseView, checkName, opDirectory, opGetPerms, opMkdir, opRead, opRm, opSetPerms, opWrite, QUOTA,
  removeSubtree, TxView, walk,
} from './store';
import type { XsMessage } from './wire';
import {
  encodeMessage, FrameReader, FrameTooLargeError, nulStrings, PAYLOAD_MAX, REL_PATH_MAX, splitStrings,
  XS_ERROR_NAMES, XS_TYPE_COUNT, XsType,
} from './wire';

/** DOMID_FIRST_RESERVED: ids at or above are not domains. */
const DOMID_FIRST_RESERVED = 0x7ff0;

export const SPECIAL_INTRODUCE = '@introduceDomain';
export const SPECIAL_RELEASE = '@releaseDomain';

interface Watch {
  /** Canonical (absolute or `@`) path. */
  path: string;
  token: string;
  /** For a watch registered with a relative path: the prefix stripped from event paths. */
  relativeTo?: string;
}

interface Conn {
  id: number;
  domid: number;
  stream: Duplex;
  reader: FrameReader;
  watches: Watch[];
  txs: Map<number, TxView>;
  nextTxId: number;
  out: Buffer[];
  closed: boolean;
}

interface DomainRec {
  gfn: string;
  evtchn: string;
  target?: number;
}

export interface SnapshotNode {
  path: string;
  /** base64 */
  value: string;
  perms: string[];
}
/** The whole state, JSON-serialisable, for persisting between CLI invocations. */
export interface XenstoreSnapshot {
  version: 1;
  nodes: SnapshotNode[];
  domains: { domid: number; gfn: string; evtchn: string; target?: number }[];
  specialPerms: Record<string, string[]>;
}

export interface ServerOptions {
  snapshot?: XenstoreSnapshot;
}

const OK = nulStrings('OK');

/** XS_FLAG_PRIV in xenstored's wire_funcs table: EACCES for any other domain. */
const PRIVILEGED_ONLY = new Set<number>([
  XsType.CONTROL, XsType.INTRODUCE, XsType.RELEASE, XsType.IS_DOMAIN_INTRODUCED, XsType.RESUME, XsType.SET_TARGET,
]);

function defaultPerms(): Perm[] {
  return [{ id: 0, perm: 'n' }];
}

export class XenstoredServer extends EventEmitter {
  private readonly base = new BaseView(new Map<string, NodeRec>());
  private readonly conns = new Set<Conn>();
  private readonly domains = new Map<number, DomainRec>();
  private readonly specialPerms = new Map<string, Perm[]>();
  private readonly dirty = new Set<Conn>();
  private readonly servers: net.Server[] = [];
  private readonly socketPaths: string[] = [];
  private nextConnId = 1;

  constructor(opts: ServerOptions = {}) {
    super();
    if (opts.snapshot) this.restore(opts.snapshot);
    else this.reset();
  }

  /** The initial tree of setup_structure(): `/`, `/tool`, `/tool/xenstored`, all `n0`. */
  private reset(): void {
    this.base.clear();
    this.base.put('/', { value: Buffer.alloc(0), perms: defaultPerms(), children: ['tool'] });
    this.base.put('/tool', { value: Buffer.alloc(0), perms: defaultPerms(), children: ['xenstored'] });
    this.base.put('/tool/xenstored', { value: Buffer.alloc(0), perms: defaultPerms(), children: [] });
    this.domains.clear();
    this.specialPerms.clear();
    this.specialPerms.set(SPECIAL_INTRODUCE, defaultPerms());
    this.specialPerms.set(SPECIAL_RELEASE, defaultPerms());
  }

  // ---- transports ------------------------------------------------------------------------

  /** Listens on a unix socket; every connection on it is dom0, as on xenstored's socket. */
  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer((sock) => this.attach(sock, 0));
      srv.once('error', reject);
      srv.listen(socketPath, () => {
        srv.off('error', reject);
        // xenstored makes its socket 0600: only root (the toolstack) may talk to it.
        try {
          fs.chmodSync(socketPath, 0o600);
        } catch {
          // A path we could bind but not chmod is still usable by its owner.
        }
        this.servers.push(srv);
        this.socketPaths.push(socketPath);
        resolve();
      });
    });
  }

  /**
   * An in-process connection acting as `domid`, as a simulated guest's xenbus ring would be.
   * A domain other than 0 must have been introduced first: on a real host a guest has no
   * xenstore connection before INTRODUCE.
   */
  openStream(opts: { domid: number }): Duplex {
    const { domid } = opts;
    if (domid !== 0 && !this.domains.has(domid)) {
      throw new XenstoreError('ENOENT', `domain ${domid} has not been introduced to xenstored`);
    }
    const [serverEnd, clientEnd] = duplexPair();
    this.attach(serverEnd, domid);
    return clientEnd;
  }

  /** A client over an in-process connection. */
  client(opts: { domid: number } & ClientOptions): XenstoreClient {
    const { domid, ...rest } = opts;
    return new XenstoreClient(this.openStream({ domid }), rest);
  }

  /** Stops listening, drops every connection and removes the socket files. */
  async close(): Promise<void> {
    for (const c of [...this.conns]) this.drop(c);
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.length = 0;
    for (const p of this.socketPaths.splice(0)) {
      try {
        fs.unlinkSync(p);
      } catch {
        // already gone
      }
    }
  }

  /** Number of open connections (tests and diagnostics). */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Number of watches registered by connections of `domid` (tests and diagnostics). */
  watchCount(domid?: number): number {
    let n = 0;
    for (const c of this.conns) if (domid === undefined || c.domid === domid) n += c.watches.length;
    return n;
  }

  private attach(stream: Duplex, domid: number): Conn {
    const conn: Conn = {
      id: this.nextConnId++, domid, stream, reader: new FrameReader(), watches: [], txs: new Map(),
      nextTxId: 1, out: [], closed: false,
    };
    this.conns.add(conn);
    stream.on('data', (chunk: Buffer) => this.onData(conn, chunk));
    stream.on('end', () => this.drop(conn));
    stream.on('close', () => this.drop(conn));
    // A client that vanishes mid-write must not take the server down.
    stream.on('error', () => this.drop(conn));
    return conn;
  }

  private drop(conn: Conn): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.watches.length = 0;
    conn.txs.clear();
    this.conns.delete(conn);
    this.dirty.delete(conn);
    if (!conn.stream.destroyed) conn.stream.destroy();
  }

  private onData(conn: Conn, chunk: Buffer): void {
    if (conn.closed) return;
    let msgs: XsMessage[];
    try {
      msgs = conn.reader.push(chunk);
    } catch (e) {
      // An over-long frame leaves the stream unparseable; xenstored ignores such a
      // connection from then on (ignore_connection). Frames before it were complete and
      // are answered first.
      if (e instanceof FrameTooLargeError) {
        this.flush();
        this.drop(conn);
        return;
      }
      throw e;
    }
    for (const m of msgs) {
      if (conn.closed) break;
      this.handle(conn, m);
    }
    this.flush();
  }

  private send(conn: Conn, type: number, reqId: number, txId: number, payload: Buffer): void {
    if (conn.closed) return;
    if (payload.length > PAYLOAD_MAX) {
      type = XsType.ERROR;
      payload = nulStrings('E2BIG');
    }
    conn.out.push(encodeMessage(type, reqId, txId, payload));
    this.dirty.add(conn);
  }

  private flush(): void {
    for (const c of this.dirty) {
      if (!c.closed && c.out.length) {
        const data = c.out.length === 1 ? c.out[0]! : Buffer.concat(c.out);
        c.out = [];
        c.stream.write(data);
      }
    }
    this.dirty.clear();
  }

  private accessor(conn: { domid: number }): Accessor {
    return { domid: conn.domid, privileged: conn.domid === 0, target: this.domains.get(conn.domid)?.target };
  }

  // ---- dispatch --------------------------------------------------------------------------

  private handle(conn: Conn, m: XsMessage): void {
    try {
      const reply = this.dispatch(conn, m);
      if (reply) this.send(conn, m.type, m.reqId, m.txId, reply);
    } catch (e) {
      const code = e instanceof XenstoreError && (XS_ERROR_NAMES as readonly string[]).includes(e.code) ? e.code : 'EINVAL';
      if (!(e instanceof XenstoreError)) this.emit('internal-error', e);
      this.send(conn, XsType.ERROR, m.reqId, m.txId, nulStrings(code));
    }
  }

  /** Returns the success payload, or undefined when the reply was already sent. */
  private dispatch(conn: Conn, m: XsMessage): Buffer | undefined {
    const type = m.type;
    const who = this.accessor(conn);
    if (type >= XS_TYPE_COUNT || type === XsType.WATCH_EVENT || type === XsType.ERROR || type === XsType.RESTRICT) {
      throw new XenstoreError('ENOSYS', `unknown message type ${type}`);
    }
    if (PRIVILEGED_ONLY.has(type) && !who.privileged) throw new XenstoreError('EACCES', 'privileged operation');

    // WATCH and UNWATCH ignore tx_id (XS_FLAG_NOTID); everything else must name a live one.
    let tx: TxView | undefined;
    if (type !== XsType.WATCH && type !== XsType.UNWATCH && m.txId !== 0) {
      tx = conn.txs.get(m.txId);
      if (!tx) throw new XenstoreError('ENOENT', `no transaction ${m.txId}`);
    }
    const view: View = tx ?? this.base;
    const events: ChangeEvent[] = [];
    const path = (): string => canonicalize(conn.domid, oneArg(m.payload));

    switch (type) {
      case XsType.READ:
        return opRead(view, who, path());
      case XsType.DIRECTORY:
        return nulStrings(...opDirectory(view, who, path()).children);
      case XsType.DIRECTORY_PART:
        return this.directoryPart(view, who, conn.domid, m.payload);
      case XsType.GET_PERMS:
        return nulStrings(...opGetPerms(view, who, path()).map(formatPerm));
      case XsType.WRITE: {
        const nul = m.payload.indexOf(0);
        if (nul < 0) throw new XenstoreError('EINVAL', 'WRITE without a path');
        const name = canonicalize(conn.domid, m.payload.toString('utf8', 0, nul));
        opWrite(view, who, name, Buffer.from(m.payload.subarray(nul + 1)), events);
        this.changed(tx, events);
        return OK;
      }
      case XsType.MKDIR:
        opMkdir(view, who, path(), events);
        this.changed(tx, events);
        return OK;
      case XsType.RM:
        opRm(view, who, path(), events);
        this.changed(tx, events);
        return OK;
      case XsType.SET_PERMS: {
        const { strings, count } = splitStrings(m.payload);
        if (count < 2) throw new XenstoreError('EINVAL', 'SET_PERMS needs a path and perms');
        const perms = strings.slice(1).map(parsePerm);
        if (perms.some((p) => !p)) throw new XenstoreError('EINVAL', 'bad permission string');
        if (!who.privileged && perms.length > QUOTA.permsPerNode) throw new XenstoreError('ENOSPC', 'too many perms');
        const name = canonicalize(conn.domid, strings[0]!);
        if (name.startsWith('@')) {
          // Special watch nodes have permissions too (who may watch them); tools only.
          if (!this.specialPerms.has(name)) throw new XenstoreError('ENOENT', name);
          if (!who.privileged) throw new XenstoreError('EACCES', name);
          this.specialPerms.set(name, perms as Perm[]);
          this.emit('change');
          return OK;
        }
        opSetPerms(view, who, name, perms as Perm[], events);
        this.changed(tx, events);
        return OK;
      }
      case XsType.WATCH:
        return this.watch(conn, who, m);
      case XsType.UNWATCH: {
        const [wpath, token] = twoArgs(m.payload);
        const canon = canonicalize(conn.domid, wpath);
        const i = conn.watches.findIndex((w) => w.path === canon && w.token === token);
        if (i < 0) throw new XenstoreError('ENOENT', `no watch ${wpath} ${token}`);
        conn.watches.splice(i, 1);
        return OK;
      }
      case XsType.TRANSACTION_START: {
        oneArg(m.payload);
        if (tx) throw new XenstoreError('EBUSY', 'nested transaction');
        if (!who.privileged && conn.txs.size >= QUOTA.transactions) throw new XenstoreError('ENOSPC', 'transaction quota');
        let id = conn.nextTxId;
        while (id === 0 || conn.txs.has(id)) id = (id + 1) >>> 0;
        conn.nextTxId = (id + 1) >>> 0;
        conn.txs.set(id, new TxView(this.base));
        return nulStrings(String(id));
      }
      case XsType.TRANSACTION_END: {
        const arg = oneArg(m.payload);
        if (arg !== 'T' && arg !== 'F') throw new XenstoreError('EINVAL', 'TRANSACTION_END takes T or F');
        if (!tx) throw new XenstoreError('ENOENT', 'not in a transaction');
        // The id is gone whatever the outcome: after EAGAIN the client starts afresh.
        conn.txs.delete(m.txId);
        if (arg === 'T') {
          tx.commit();
          this.fire(tx.events);
          if (tx.overlay.size) this.emit('change');
        }
        return OK;
      }
      case XsType.GET_DOMAIN_PATH:
        return nulStrings(domainPath(parseDomid(oneArg(m.payload))));
      case XsType.INTRODUCE: {
        const { strings, count } = splitStrings(m.payload);
        if (count !== 3) throw new XenstoreError('EINVAL', 'INTRODUCE takes domid, gfn, evtchn');
        this.introduceDomain(parseDomid(strings[0]!), strings[1]!, strings[2]!);
        return OK;
      }
      case XsType.RELEASE:
        this.releaseDomain(parseDomid(oneArg(m.payload)));
        return OK;
      case XsType.IS_DOMAIN_INTRODUCED: {
        const domid = parseDomid(oneArg(m.payload));
        return nulStrings(this.isDomainIntroduced(domid) ? 'T' : 'F');
      }
      case XsType.RESUME: {
        const domid = parseDomid(oneArg(m.payload));
        if (!this.domains.has(domid)) throw new XenstoreError('ENOENT', `domain ${domid}`);
        return OK;
      }
      case XsType.SET_TARGET: {
        const { strings, count } = splitStrings(m.payload);
        if (count !== 2) throw new XenstoreError('EINVAL', 'SET_TARGET takes domid and target');
        this.setTarget(parseDomid(strings[0]!), parseDomid(strings[1]!));
        return OK;
      }
      case XsType.RESET_WATCHES:
        conn.watches.length = 0;
        conn.txs.clear();
        return OK;
      case XsType.CONTROL: {
        const { strings } = splitStrings(m.payload);
        // Only the harmless commands; xenstored's log/memreport/live-update have no meaning here.
        if (strings[0] === 'check') return OK;
        if (strings[0] === 'help') return nulStrings('Available commands:\ncheck\nhelp\n');
        throw new XenstoreError('EINVAL', `CONTROL ${strings[0] ?? ''}`);
      }
      default:
        throw new XenstoreError('ENOSYS', `unknown message type ${type}`);
    }
  }

  private directoryPart(view: View, who: Accessor, domid: number, payload: Buffer): Buffer {
    const { strings, count } = splitStrings(payload);
    if (count !== 2) throw new XenstoreError('EINVAL', 'DIRECTORY_PART takes path and offset');
    const rec = opDirectory(view, who, canonicalize(domid, strings[0]!));
    // xenstored uses atoi(): a non-number is offset 0.
    const off = Number.parseInt(strings[1]!, 10) || 0;
    const children = Buffer.from(rec.children.map((c) => c + '\0').join(''), 'utf8');
    const gen = Buffer.from(`${rec.generation}\0`);
    if (off >= children.length) return Buffer.concat([gen, Buffer.from([0])]);
    // Whole names only, as many as fit with the generation and the final extra NUL.
    const maxlen = PAYLOAD_MAX - gen.length - 1;
    let len = 0;
    while (off + len < children.length) {
      const nul = children.indexOf(0, off + len);
      const next = nul + 1 - off;
      if (next > maxlen) break;
      len = next;
    }
    const parts = [gen, children.subarray(off, off + len)];
    if (off + len === children.length) parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
  }

  private watch(conn: Conn, who: Accessor, m: XsMessage): undefined {
    const [wpath, token] = twoArgs(m.payload);
    let canon: string;
    let relativeTo: string | undefined;
    if (wpath.startsWith('@')) {
      if (wpath.length > REL_PATH_MAX) throw new XenstoreError('EINVAL', 'watch path too long');
      canon = wpath;
    } else {
      canon = canonicalize(conn.domid, wpath);
      if (!wpath.startsWith('/')) relativeTo = domainPath(conn.domid);
      if (!isValidNodeName(canon, !who.privileged)) throw new XenstoreError('EINVAL', `invalid path ${wpath}`);
    }
    if (conn.watches.some((w) => w.path === canon && w.token === token)) throw new XenstoreError('EEXIST', 'duplicate watch');
    if (!who.privileged && conn.watches.length >= QUOTA.watches) throw new XenstoreError('E2BIG', 'watch quota');
    conn.watches.push({ path: canon, token, relativeTo });
    this.send(conn, XsType.WATCH, m.reqId, m.txId, OK);
    // "We fire once up front: simplifies clients and restart" (do_watch): right after the ack.
    this.sendEvent(conn, wpath, token);
    return undefined;
  }

  private sendEvent(conn: Conn, path: string, token: string): void {
    const payload = nulStrings(path, token);
    // Over-long events are dropped, not truncated (send_event).
    if (payload.length > PAYLOAD_MAX) return;
    this.send(conn, XsType.WATCH_EVENT, 0, 0, payload);
  }

  /** Outside a transaction changes fire now; inside, they wait for the commit. */
  private changed(tx: TxView | undefined, events: ChangeEvent[]): void {
    if (tx) tx.events.push(...events);
    else {
      this.fire(events);
      this.emit('change');
    }
  }

  private fire(events: readonly ChangeEvent[]): void {
    for (const ev of events) {
      for (const c of this.conns) {
        if (!c.watches.length) continue;
        const who = this.accessor(c);
        // A watcher only hears about nodes it may read (watch_permitted); for a permission
        // change, the old or the new permissions will do.
        if (!who.privileged && !(permFor(who, ev.perms) & PERM_READ) && !(ev.oldPerms && permFor(who, ev.oldPerms) & PERM_READ)) {
          continue;
        }
        for (const w of c.watches) {
          const hit = ev.exact ? w.path === ev.path : isAtOrBelow(ev.path, w.path);
          if (!hit) continue;
          const p = w.relativeTo && ev.path.startsWith(w.relativeTo + '/') ? ev.path.slice(w.relativeTo.length + 1) : ev.path;
          this.sendEvent(c, p, w.token);
        }
      }
    }
  }

  private fireSpecial(name: string): void {
    const perms = this.specialPerms.get(name) ?? defaultPerms();
    for (const c of this.conns) {
      const who = this.accessor(c);
      if (!who.privileged && !(permFor(who, perms) & PERM_READ)) continue;
      for (const w of c.watches) if (w.path === name) this.sendEvent(c, name, w.token);
    }
  }

  // ---- domains ---------------------------------------------------------------------------

  isDomainIntroduced(domid: number): boolean {
    return domid === 0 || this.domains.has(domid);
  }

  /**
   * INTRODUCE: fires @introduceDomain for a new domain. Introducing an existing domain again
   * with the same ring page is accepted silently (xenstored uses it to rebind the event
   * channel); with another page it is EINVAL.
   */
  introduceDomain(domid: number, gfn: string | number, evtchn: string | number): void {
    if (domid === 0 || domid >= DOMID_FIRST_RESERVED) throw new XenstoreError('EINVAL', `cannot introduce domain ${domid}`);
    const existing = this.domains.get(domid);
    if (existing) {
      if (existing.gfn !== String(gfn)) throw new XenstoreError('EINVAL', `domain ${domid} already introduced`);
      existing.evtchn = String(evtchn);
      return;
    }
    this.domains.set(domid, { gfn: String(gfn), evtchn: String(evtchn) });
    this.fireSpecial(SPECIAL_INTRODUCE);
    this.emit('change');
    this.flush();
  }

  /**
   * RELEASE: forgets the domain, drops its connections, deletes the nodes it owns (4.17
   * removes a dead domain's nodes unless xenstored runs with --keep-orphans) and fires
   * @releaseDomain. The event carries no domid in 4.17: watchers re-scan.
   */
  releaseDomain(domid: number): void {
    if (domid === 0 || domid >= DOMID_FIRST_RESERVED) throw new XenstoreError('EINVAL', `cannot release domain ${domid}`);
    if (!this.domains.has(domid)) throw new XenstoreError('ENOENT', `domain ${domid} is not introduced`);
    this.domains.delete(domid);
    for (const d of this.domains.values()) if (d.target === domid) delete d.target;
    for (const c of [...this.conns]) if (c.domid === domid) this.drop(c);
    const events: ChangeEvent[] = [];
    for (const p of walk(this.base)) {
      const rec = this.base.get(p);
      if (rec && p !== '/' && rec.perms[0]!.id === domid) removeSubtree(this.base, p, events);
    }
    this.fire(events);
    this.fireSpecial(SPECIAL_RELEASE);
    this.emit('change');
    this.flush();
  }

  setTarget(domid: number, target: number): void {
    const d = this.domains.get(domid);
    if (!d || !this.domains.has(target)) throw new XenstoreError('ENOENT', `domain ${d ? target : domid} is not introduced`);
    d.target = target;
    this.emit('change');
  }

  // ---- state -----------------------------------------------------------------------------

  snapshot(): XenstoreSnapshot {
    const nodes: SnapshotNode[] = walk(this.base).map((p) => {
      const rec = this.base.get(p)!;
      return { path: p, value: rec.value.toString('base64'), perms: rec.perms.map(formatPerm) };
    });
    const domains = [...this.domains].map(([domid, d]) => ({ domid, gfn: d.gfn, evtchn: d.evtchn, ...(d.target !== undefined ? { target: d.target } : {}) }));
    const specialPerms: Record<string, string[]> = {};
    for (const [k, v] of this.specialPerms) specialPerms[k] = v.map(formatPerm);
    return { version: 1, nodes, domains, specialPerms };
  }

  /**
   * Replaces the whole state. Validates everything first, so a bad snapshot leaves the
   * current tree untouched; open transactions are dropped (their base is gone).
   */
  restore(snap: XenstoreSnapshot): void {
    const bad = (why: string): never => {
      throw new XenstoreError('EINVAL', `bad xenstore snapshot: ${why}`);
    };
    if (!snap || snap.version !== 1 || !Array.isArray(snap.nodes)) bad('not a version 1 snapshot');
    const parsed = new Map<string, { value: Buffer; perms: Perm[] }>();
    for (const n of snap.nodes) {
      if (typeof n.path !== 'string' || !isValidNodeName(n.path, false)) bad(`path ${JSON.stringify(n.path)}`);
      const perms = (n.perms ?? []).map(parsePerm);
      if (!perms.length || perms.some((p) => !p)) bad(`perms of ${n.path}`);
      if (parsed.has(n.path)) bad(`duplicate ${n.path}`);
      parsed.set(n.path, { value: Buffer.from(String(n.value ?? ''), 'base64'), perms: perms as Perm[] });
    }
    if (!parsed.has('/')) bad('no root');
    const children = new Map<string, string[]>();
    for (const p of parsed.keys()) {
      if (p === '/') continue;
      const slash = p.lastIndexOf('/');
      const parent = slash === 0 ? '/' : p.slice(0, slash);
      if (!parsed.has(parent)) bad(`${p} has no parent`);
      const list = children.get(parent) ?? [];
      list.push(p.slice(slash + 1));
      children.set(parent, list);
    }
    for (const c of this.conns) c.txs.clear();
    this.reset();
    this.base.clear();
    for (const [p, n] of parsed) this.base.put(p, { ...n, children: children.get(p) ?? [] });
    for (const d of snap.domains ?? []) this.domains.set(d.domid, { gfn: d.gfn, evtchn: d.evtchn, target: d.target });
    for (const [k, v] of Object.entries(snap.specialPerms ?? {})) {
      const perms = v.map(parsePerm);
      if (perms.length && perms.every(Boolean)) this.specialPerms.set(k, perms as Perm[]);
    }
  }

  /** `{path: value}` for every node, values as UTF-8 (tests, the simulated host's dumps). */
  dump(from = '/'): Record<string, string> {
    const out: Record<string, string> = {};
    for (const p of walk(this.base, from)) out[p] = this.base.get(p)!.value.toString('utf8');
    return out;
  }

  /**
   * Checks the tree's structure: every child listed exists, every node is listed by its
   * parent exactly once, every node has an owner. Returns the problems found (none = sound).
   */
  checkTree(): string[] {
    const problems: string[] = [];
    const reached = new Set(walk(this.base));
    for (const [p, rec] of this.base.map) {
      if (!reached.has(p)) problems.push(`${p} unreachable`);
      if (!rec.perms.length) problems.push(`${p} has no perms`);
      if (new Set(rec.children).size !== rec.children.length) problems.push(`${p} lists a child twice`);
      for (const c of rec.children) if (!this.base.map.has(p === '/' ? `/${c}` : `${p}/${c}`)) problems.push(`${p}/${c} missing`);
    }
    return problems;
  }

  /** Direct read, as dom0, for the simulated host and tests. */
  read(path: string): Buffer | undefined {
    checkName(path, { domid: 0, privileged: true });
    return this.base.get(path)?.value;
  }
}

/** Requests with one argument must carry exactly one NUL, at the end (xenstored's onearg). */
function oneArg(payload: Buffer): string {
  if (!payload.length || payload.indexOf(0) !== payload.length - 1) throw new XenstoreError('EINVAL', 'malformed argument');
  return payload.toString('utf8', 0, payload.length - 1);
}

function twoArgs(payload: Buffer): [string, string] {
  const { strings, count } = splitStrings(payload);
  if (count !== 2) throw new XenstoreError('EINVAL', 'expected two arguments');
  return [strings[0]!, strings[1]!];
}

function parseDomid(s: string): number {
  if (!/^\d{1,10}$/.test(s)) throw new XenstoreError('EINVAL', `bad domid ${JSON.stringify(s)}`);
  const n = Number(s);
  if (n > 0xffff) throw new XenstoreError('EINVAL', `bad domid ${s}`);
  return n;
}
