/**
 * A QMP client for the device model of an HVM guest (QEMU's JSON monitor; facts:
 * ../shared/reference/xen-interfaces.md §6.1). A chardev socket serves one client at a time, so
 * callers connect per operation and close when done, as libxl does.
 *
 * Protocol: QEMU greets with `{"QMP": {...}}`; nothing but `qmp_capabilities` is accepted until
 * it has been sent; then `{"execute", "arguments", "id"}` lines, each answered by a `return` or
 * `error` object carrying the same id; asynchronous `{"event": ...}` lines may come in between.
 */
import { createConnection, type Socket } from 'node:net';
import { XentoolError } from '../errors';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends XentoolError {
  readonly qmpClass: string;
  constructor(cmd: string, qmpClass: string, desc: string) {
    super('ERR_QMP_COMMAND', `QMP ${cmd} failed: ${desc}`, 1);
    this.name = 'QmpError';
    this.qmpClass = qmpClass;
  }
}

interface Pending {
  cmd: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export class QmpClient {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events: QmpEvent[] = [];
  private eventWaiters: ((e: QmpEvent) => void)[] = [];
  private greeting: Promise<Record<string, unknown>>;
  private closed = false;

  private constructor(private readonly sock: Socket, private readonly timeoutMs: number) {
    let greet!: (v: Record<string, unknown>) => void;
    let fail!: (e: Error) => void;
    this.greeting = new Promise((res, rej) => {
      greet = res;
      fail = rej;
    });
    // connect() reports a failed connection itself; the greeting promise must not also surface
    // as an unhandled rejection.
    this.greeting.catch(() => undefined);
    let greeted = false;
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.failAll(new XentoolError('ERR_QMP_PROTOCOL', `QMP: unparsable line from QEMU: ${line.slice(0, 80)}`));
          sock.destroy();
          return;
        }
        if (!greeted && 'QMP' in msg) {
          greeted = true;
          greet(msg.QMP as Record<string, unknown>);
        } else if ('event' in msg) {
          this.pushEvent(msg as unknown as QmpEvent);
        } else if (typeof msg.id === 'number' && this.pending.has(msg.id)) {
          const p = this.pending.get(msg.id)!;
          this.pending.delete(msg.id);
          if ('error' in msg) {
            const e = msg.error as { class?: string; desc?: string };
            p.reject(new QmpError(p.cmd, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
          } else p.resolve(msg.return);
        }
      }
    });
    const onGone = (err?: Error) => {
      const e = new XentoolError('ERR_QMP_CLOSED', `QMP connection closed${err ? `: ${err.message}` : ''}`);
      if (!greeted) fail(e);
      this.failAll(e);
    };
    sock.on('error', onGone);
    sock.on('close', () => onGone());
  }

  /** Connects, waits for the greeting and negotiates capabilities. */
  static async connect(path: string, opts: { timeoutMs?: number } = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const sock = createConnection(path);
    const client = new QmpClient(sock, timeoutMs);
    try {
      await withTimeout(
        new Promise<void>((res, rej) => {
          sock.once('connect', res);
          sock.once('error', rej);
        }),
        timeoutMs,
        `connecting to QMP socket ${path}`,
      );
      await withTimeout(client.greeting, timeoutMs, `waiting for the QMP greeting on ${path}`);
      await client.execute('qmp_capabilities');
      return client;
    } catch (e) {
      client.close();
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        throw new XentoolError('ERR_QMP_UNAVAILABLE', `no device model listening on ${path} (${err.code})`);
      }
      throw e;
    }
  }

  execute<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new XentoolError('ERR_QMP_CLOSED', 'QMP connection closed'));
    const id = this.nextId++;
    const msg: Record<string, unknown> = { execute: cmd, id };
    if (args) msg.arguments = args;
    const p = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { cmd, resolve: resolve as (v: unknown) => void, reject });
    });
    this.sock.write(JSON.stringify(msg) + '\r\n');
    return withTimeout(p, this.timeoutMs, `QMP ${cmd}`);
  }

  /** The next event with this name (buffered ones first), or undefined after `timeoutMs`. */
  async nextEvent(name: string, timeoutMs: number): Promise<QmpEvent | undefined> {
    const i = this.events.findIndex((e) => e.event === name);
    if (i >= 0) return this.events.splice(i, 1)[0];
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.eventWaiters = this.eventWaiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (e: QmpEvent) => {
        if (e.event !== name) return;
        clearTimeout(t);
        this.eventWaiters = this.eventWaiters.filter((w) => w !== waiter);
        resolve(e);
      };
      this.eventWaiters.push(waiter);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.destroy();
  }

  private pushEvent(e: QmpEvent): void {
    if (this.eventWaiters.length === 0) {
      this.events.push(e);
      return;
    }
    for (const w of [...this.eventWaiters]) w(e);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new XentoolError('ERR_QMP_TIMEOUT', `timed out after ${ms} ms ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** One device of `query-pci`'s answer. */
export interface QueryPciDevice {
  bus: number;
  slot: number;
  function: number;
  qdev_id: string;
  class_info?: { class: number; desc?: string };
  id?: { device: number; vendor: number };
}

/** Flattens `query-pci` (a list of buses, each with devices) into devices. */
export function queryPciDevices(reply: unknown): QueryPciDevice[] {
  if (!Array.isArray(reply)) throw new XentoolError('ERR_QMP_PROTOCOL', `Unexpected response to QMP cmd 'query-pci', received:\n${JSON.stringify(reply)}`);
  const out: QueryPciDevice[] = [];
  for (const bus of reply as { devices?: QueryPciDevice[] }[]) out.push(...(bus.devices ?? []));
  return out;
}
