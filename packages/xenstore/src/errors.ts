/**
 * A failed xenstore operation. `code` is the contract: for refusals by the daemon it is the
 * name xenstored sent (`ENOENT`, `EACCES`, `EAGAIN`, ...), unchanged; failures detected on
 * this side use errno-style names too:
 *   ETIMEDOUT  no reply within the client's timeout
 *   ECONNRESET the connection closed (or was closed) with the request outstanding
 *   EPROTO     the daemon sent something that is not xenstore protocol
 *   E2BIG      the request would exceed XENSTORE_PAYLOAD_MAX (refused locally, as libxenstore does)
 *   EEXIST     a watch token already in use on this client
 *   ENOTSUP    a watch on a client in blocking mode (watches need the async mode), or the
 *              blocking mode without the koffi package
 * Opening also passes the errno name of stat/open/socket/connect through (ENOENT,
 * ECONNREFUSED, EACCES, ENAMETOOLONG, ...).
 */
export class XenstoreError extends Error {
  readonly code: string;
  /** The operation, e.g. `READ /local/domain/0/name`. */
  readonly op?: string;
  readonly exitCode = 1;
  constructor(code: string, message: string, op?: string) {
    super(message);
    this.name = 'XenstoreError';
    this.code = code;
    this.op = op;
  }
}
