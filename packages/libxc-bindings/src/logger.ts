/**
 * A xentoollog logger implemented in JS through a koffi callback, handed to
 * xc_interface_open() as both loggers. Without it libxc creates a stdio logger on stderr and
 * prints lines such as `xencall: error: Could not obtain handle on privileged command
 * interface: No such file or directory` behind the CLI's back; with it every message becomes
 * data the caller can attach to an error or show with --verbose.
 */
import type { Libxc } from './native';
import { koffi, structTypes } from './native';
import { errnoName } from './errno';

/** xentoollog_level (xentoollog.h), index = numeric level. */
const LEVEL_NAMES = ['none', 'debug', 'verbose', 'detail', 'progress', 'info', 'notice', 'warning', 'error', 'critical'];
export const XTL_DETAIL = 3;
export const XTL_ERROR = 8;

export interface XcLogMessage {
  level: number;
  levelName: string;
  /** errno libxc attached to the message, or -1. */
  errno: number;
  /** e.g. `xc`, `xencall`; null when libxc passed none. */
  context: string | null;
  message: string;
  /** Formatted as libxc's own stdio logger would, errno shown by name. */
  line: string;
}

export function formatLogLine(level: number, errno: number, context: string | null, message: string): string {
  const levelName = LEVEL_NAMES[level] ?? `level${level}`;
  let line = context ? `${context}: ${levelName}: ${message}` : `${levelName}: ${message}`;
  if (errno >= 0) line += `: ${errnoName(errno)}`;
  return line;
}

/** How many recent messages are kept for attaching to errors. */
const KEEP = 32;

export class CapturingLogger {
  /** The `xentoollog_logger *` to pass to libxc. */
  readonly pointer: bigint;
  private readonly recent: XcLogMessage[] = [];
  private readonly callback: bigint;
  private destroyed = false;

  constructor(
    private readonly api: Libxc,
    private readonly onMessage?: (m: XcLogMessage) => void,
    private readonly minLevel = XTL_DETAIL,
  ) {
    const k = koffi();
    const t = structTypes();
    // A registered (not transient) callback: libxc keeps the logger for the handle's lifetime.
    this.callback = k.register(
      (_logger: unknown, level: number, errnoval: number, context: string | null, format: bigint, al: bigint) =>
        this.vmessage(level, errnoval, context, format, al),
      k.pointer(t.xtl_vmessage_fn),
    );
    const size = k.sizeof(t.xentoollog_logger);
    this.pointer = api.malloc(size) as bigint;
    if (this.pointer === null) {
      k.unregister(this.callback);
      throw new Error('malloc failed for the xentoollog logger');
    }
    // progress and destroy stay NULL: xentoollog.h allows a NULL progress, and libxc only calls
    // destroy on loggers it created itself (xc_interface_open/close free the *_tofree ones).
    k.encode(this.pointer, 0, t.xentoollog_logger, { vmessage: this.callback, progress: null, destroy: null });
  }

  private vmessage(level: number, errnoval: number, context: string | null, format: bigint, al: bigint): void {
    if (level < this.minLevel) return;
    // The va_list may be consumed once, so it goes straight to vsnprintf.
    const buf = Buffer.alloc(1024);
    const n = this.api.vsnprintf(buf, buf.length, format, al) as number;
    const end = Math.max(0, Math.min(n, buf.length - 1));
    const message = buf.toString('utf8', 0, end);
    const m: XcLogMessage = {
      level,
      levelName: LEVEL_NAMES[level] ?? `level${level}`,
      errno: errnoval,
      context,
      message,
      line: formatLogLine(level, errnoval, context, message),
    };
    this.recent.push(m);
    if (this.recent.length > KEEP) this.recent.shift();
    this.onMessage?.(m);
  }

  /** Messages logged since the last drain, oldest first. */
  drain(): XcLogMessage[] {
    return this.recent.splice(0, this.recent.length);
  }

  /** Idempotent. Only call once libxc no longer holds the pointer (after xc_interface_close). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    koffi().unregister(this.callback);
    this.api.free(this.pointer);
  }
}
