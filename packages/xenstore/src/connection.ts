/**
 * What a client and its transactions need from a connection to xenstored, whichever transport
 * carries it: the asynchronous one (client.ts: any byte stream, many requests in flight) or the
 * blocking one (blocking-connection.ts: one write and one blocking read per request, as
 * libxenstore does).
 */
import type { XsMessage } from './wire';

export type XenstoreMode = 'async' | 'blocking';

export interface WatchEvent {
  path: string;
  token: string;
}

/** One watch registered on a connection, fed by its token. */
export interface Subscriber {
  path: string;
  queue: WatchEvent[];
  wake?: () => void;
  error?: Error;
  done: boolean;
}

export interface XsConnection {
  readonly mode: XenstoreMode;
  /** Watches by token (always empty on a blocking connection, which refuses watches). */
  readonly subscribers: Map<string, Subscriber>;
  readonly closed: boolean;
  /** Requests sent and not yet answered. */
  readonly inFlight: number;
  /**
   * Resolves with the reply, or rejects with a XenstoreError (the daemon's error name as code).
   * A string payload is text with its NULs in place, encoded as UTF-8.
   */
  request(type: number, txId: number, payload: Buffer | string, op: string): Promise<XsMessage>;
  /** Idempotent. */
  close(): void;
}
