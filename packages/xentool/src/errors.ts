/**
 * Errors with a stable `code`. The code is the contract (scripts and tests match on it); the
 * message may be reworded. Codes are append-only: never reuse or rename one.
 *
 * `exitCode` follows xl: 1 for a failed operation, 2 for a malformed argument (xl's
 * `malformed PCI_SPEC_STRING` and getopt errors exit 2).
 */
export const ErrorCodes = {
  ERR_USAGE: 'ERR_USAGE',
  ERR_CONFIG_SYNTAX: 'ERR_CONFIG_SYNTAX',
  ERR_CONFIG_PYTHON: 'ERR_CONFIG_PYTHON',
  ERR_CONFIG_VALUE: 'ERR_CONFIG_VALUE',
  ERR_CONFIG_IO: 'ERR_CONFIG_IO',
  ERR_PCI_SPEC: 'ERR_PCI_SPEC',
  ERR_BDF: 'ERR_BDF',
  ERR_INTERNAL: 'ERR_INTERNAL',
  /** `xl list <domid>` for a domain that does not exist. */
  ERR_DOMAIN_NOT_FOUND: 'ERR_DOMAIN_NOT_FOUND',
  /** A domain name that matches no domain (xl: "invalid domain identifier"). */
  ERR_DOMAIN_INVALID: 'ERR_DOMAIN_INVALID',
  /** `pci-hide-line` refused: a device is missing, a bridge, or used by dom0. */
  ERR_PCI_NOT_HIDEABLE: 'ERR_PCI_NOT_HIDEABLE',
  /** `xenstored --socket`: the socket is in use by a live daemon, is not a socket, or cannot be bound. */
  ERR_XENSTORED_SOCKET: 'ERR_XENSTORED_SOCKET',
  /** `xenstored --persist`: the state file cannot be read, parsed or written. */
  ERR_XENSTORED_PERSIST: 'ERR_XENSTORED_PERSIST',
  /** `create`: a domain type this xentool cannot build yet (HVM, PVH), or the host lacks PV. */
  ERR_CREATE_UNSUPPORTED: 'ERR_CREATE_UNSUPPORTED',
  /** `create`: a kernel or ramdisk the config names is missing or unreadable. */
  ERR_CONFIG_FILE: 'ERR_CONFIG_FILE',
  /** `create`: another domain has the name. */
  ERR_DOMAIN_EXISTS: 'ERR_DOMAIN_EXISTS',
  /** `create`: memory= is more than the host has free. */
  ERR_CREATE_NO_MEMORY: 'ERR_CREATE_NO_MEMORY',
  /** Passthrough asked for on a host without an enabled IOMMU. */
  ERR_NO_IOMMU: 'ERR_NO_IOMMU',
  /** `create`: a pci=[...] device is not bound to pciback or is used by another guest. */
  ERR_DEVICE_NOT_ASSIGNABLE: 'ERR_DEVICE_NOT_ASSIGNABLE',
  /** `destroy` after a failed create could not undo everything; the message lists what is left. */
  ERR_DESTROY_INCOMPLETE: 'ERR_DESTROY_INCOMPLETE',
  /** `shutdown`/`reboot` of a guest without the PV control interface. */
  ERR_NO_PARAVIRT: 'ERR_NO_PARAVIRT',
  /** `console`: no tty published for the domain, or its pty cannot be opened. */
  ERR_CONSOLE_UNAVAILABLE: 'ERR_CONSOLE_UNAVAILABLE',
  /** `create` of a PV guest with e820_host: the host memory map cannot be turned into the guest's. */
  ERR_E820_HOST: 'ERR_E820_HOST',
  /** `create`: the config asks for something Xen has removed (libxl's ERROR_FEATURE_REMOVED: tsc_mode="native_paravirt"). */
  ERR_FEATURE_REMOVED: 'ERR_FEATURE_REMOVED',
  /** A wait on the guest ended because the domain shut down, started dying or went away meanwhile. */
  ERR_DOMAIN_ENDED: 'ERR_DOMAIN_ENDED',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | string;

export class XentoolError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XentoolError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A malformed command line: exit 2 as xl's getopt errors do. */
export class UsageError extends XentoolError {
  constructor(message: string) {
    super(ErrorCodes.ERR_USAGE, message, 2);
    this.name = 'UsageError';
  }
}

/**
 * Any error that carries a stable string code (ours, or a leaf package's: `XenstoreError`,
 * `PcibackError`, `XcError`) is an expected failure: print its message, not a stack trace.
 */
export function isCodedError(e: unknown): e is Error & { code: string; exitCode?: number } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}
