/**
 * The xenstore wire format (xen/include/public/io/xs_wire.h, Xen 4.17): a 16-byte header of
 * four little-endian u32s (type, req_id, tx_id, len) followed by `len` payload bytes, in both
 * directions. xenstored is always local, so "native order" is little-endian on every host we
 * run on; we fix it to LE rather than follow `os.endianness()`.
 */

export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  /** XS_RESTRICT: removed from Xen; the number stays reserved and answers ENOSYS. */
  RESTRICT: 20,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsTypeNumber = (typeof XsType)[keyof typeof XsType];

/** XS_TYPE_COUNT in 4.17: anything at or above is unknown (ENOSYS). */
export const XS_TYPE_COUNT = 23;

export const HEADER_SIZE = 16;
/** XENSTORE_PAYLOAD_MAX: both directions. xenstored kills a connection that announces more. */
export const PAYLOAD_MAX = 4096;
export const ABS_PATH_MAX = 3072;
export const REL_PATH_MAX = 2048;

/** `xsd_errors[]` in array order; transmitted as `"<NAME>\0"` in an XS_ERROR reply. */
export const XS_ERROR_NAMES = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO', 'ENOTEMPTY',
  'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
] as const;
export type XsErrorName = (typeof XS_ERROR_NAMES)[number];

export interface XsHeader {
  type: number;
  reqId: number;
  txId: number;
  len: number;
}

export interface XsMessage {
  type: number;
  reqId: number;
  txId: number;
  payload: Buffer;
}

/**
 * One frame. A string payload (text with its NULs already in place, e.g. `path + '\0'`) is
 * encoded straight into the frame, which saves the client an allocation and a copy per request.
 */
export function encodeMessage(type: number, reqId: number, txId: number, payload: Buffer | string): Buffer {
  const len = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  const buf = Buffer.allocUnsafe(HEADER_SIZE + len);
  buf.writeUInt32LE(type >>> 0, 0);
  buf.writeUInt32LE(reqId >>> 0, 4);
  buf.writeUInt32LE(txId >>> 0, 8);
  buf.writeUInt32LE(len, 12);
  if (typeof payload === 'string') buf.write(payload, HEADER_SIZE, 'utf8');
  else payload.copy(buf, HEADER_SIZE);
  return buf;
}

/** Strings as xenstore sends them: each followed by one NUL. */
export function nulStrings(...parts: string[]): Buffer {
  if (parts.length === 1) return Buffer.from(`${parts[0]}\0`, 'utf8');
  return Buffer.from(parts.map((p) => p + '\0').join(''), 'utf8');
}

/**
 * Splits a payload into its NUL-terminated strings. Bytes after the last NUL are not a string
 * (xenstored's get_strings ignores them too); `count` is the number of NULs, which is what
 * xenstored's argument checks compare against.
 */
export function splitStrings(payload: Buffer): { strings: string[]; count: number } {
  const strings: string[] = [];
  let start = 0;
  for (;;) {
    const nul = payload.indexOf(0, start);
    if (nul < 0) break;
    strings.push(payload.toString('utf8', start, nul));
    start = nul + 1;
  }
  return { strings, count: strings.length };
}

export class FrameTooLargeError extends Error {
  constructor(readonly len: number) {
    super(`xenstore frame announces ${len} payload bytes (max ${PAYLOAD_MAX})`);
  }
}

/**
 * Incremental frame parser for a byte stream. Chunks may split headers and payloads anywhere.
 * A header announcing more than PAYLOAD_MAX throws FrameTooLargeError: the stream cannot be
 * resynchronised after that, so the owner must drop the connection (as xenstored does).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): XsMessage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: XsMessage[] = [];
    if (this.buffered < HEADER_SIZE) return out;
    let buf = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    let off = 0;
    while (buf.length - off >= HEADER_SIZE) {
      const len = buf.readUInt32LE(off + 12);
      if (len > PAYLOAD_MAX) throw new FrameTooLargeError(len);
      if (buf.length - off < HEADER_SIZE + len) break;
      const whole = off === 0 && buf.length === HEADER_SIZE + len;
      out.push({
        type: buf.readUInt32LE(off),
        reqId: buf.readUInt32LE(off + 4),
        txId: buf.readUInt32LE(off + 8),
        // A frame that is the whole chunk (the usual reply to one request) keeps the chunk,
        // which pins nothing else; otherwise a copy, so that a retained payload does not pin
        // the whole read buffer.
        payload: whole ? buf.subarray(HEADER_SIZE) : Buffer.from(buf.subarray(off + HEADER_SIZE, off + HEADER_SIZE + len)),
      });
      off += HEADER_SIZE + len;
    }
    buf = off === 0 ? buf : buf.subarray(off);
    this.chunks = buf.length ? [buf] : [];
    this.buffered = buf.length;
    return out;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pending(): number {
    return this.buffered;
  }
}
