/**
 * Errors of the libxenctrl binding. Every class carries a stable string `code` (the contract;
 * messages may be reworded). Failed C calls are errno-shaped like Node's system errors:
 * `{syscall: 'xc_assign_device', errno: 16, code: 'EBUSY'}`.
 */
import { errnoName } from './errno';

/** Common base so callers can test `instanceof LibxcError`. */
export class LibxcError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LibxcError';
    this.code = code;
  }
}

/** A libxenctrl call returned failure; `code` is the errno name (`EBUSY`, `ESRCH`, ...). */
export class XcError extends LibxcError {
  readonly syscall: string;
  readonly errno: number;
  /** What libxc logged during the failed call (its xentoollog lines), oldest first. */
  readonly log: readonly string[];
  constructor(syscall: string, errno: number, detail: string, log: readonly string[] = []) {
    const name = errnoName(errno);
    super(name, `${syscall}: ${detail} (${name})`);
    this.name = 'XcError';
    this.syscall = syscall;
    this.errno = errno;
    this.log = log;
  }
}

/**
 * No usable hypervisor interface: not running under Xen, xen-privcmd not loaded, or not root.
 * Raised by `openXc` when `xc_interface_open` fails; `errno` is the one from libxc's last open().
 */
export class HostUnavailableError extends LibxcError {
  readonly syscall = 'xc_interface_open';
  readonly errno: number;
  readonly errnoCode: string;
  readonly log: readonly string[];
  constructor(message: string, errno: number, log: readonly string[] = []) {
    super('ERR_HOST_UNAVAILABLE', message);
    this.name = 'HostUnavailableError';
    this.errno = errno;
    this.errnoCode = errnoName(errno);
    this.log = log;
  }
}

/** libxenctrl could not be loaded, or the file found is not the 4.17 ABI. */
export class LibraryLoadError extends LibxcError {
  readonly libraryPath: string;
  constructor(code: 'ERR_LIBXC_LOAD' | 'ERR_LIBXC_VERSION', libraryPath: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'LibraryLoadError';
    this.libraryPath = libraryPath;
  }
}

/** An argument was refused before any hypercall was made. */
export class XcArgumentError extends LibxcError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super('ERR_XC_INVALID_ARGUMENT', message);
    this.name = 'XcArgumentError';
    this.argument = argument;
  }
}

/** A call that needs the hypervisor was made on a handle opened with `dummy: true`. */
export class XcDummyHandleError extends LibxcError {
  constructor(syscall: string) {
    super('ERR_XC_DUMMY_HANDLE', `${syscall}: the interface was opened in dummy mode (no hypervisor access)`);
    this.name = 'XcDummyHandleError';
  }
}

/** Used after close(). */
export class XcClosedError extends LibxcError {
  constructor(syscall: string) {
    super('ERR_XC_CLOSED', `${syscall}: the libxenctrl interface is closed`);
    this.name = 'XcClosedError';
  }
}
