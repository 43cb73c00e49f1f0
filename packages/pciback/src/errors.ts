/**
 * Errors raised by @xentool/pciback. The string `code` is the contract; messages may change.
 * Sysfs failures keep the kernel's answer as an errno name (`EBUSY`, `ENODEV`) together with the
 * path and the syscall, the way Node's own system errors do, because the errno is usually the
 * only thing the kernel tells us (pciback's probe returns -ENODEV for "not in my slot list").
 */
export const PcibackErrorCodes = {
  /** A read/write/readdir/readlink on sysfs failed; see `errno`, `path`, `syscall`. */
  ERR_SYSFS_IO: 'ERR_SYSFS_IO',
  /** Malformed BDF text. */
  ERR_BDF: 'ERR_BDF',
  /** No such PCI device under <sysfs>/bus/pci/devices. */
  ERR_PCI_NO_DEVICE: 'ERR_PCI_NO_DEVICE',
  /** The pciback driver directory is missing (xen-pciback not loaded). */
  ERR_PCIBACK_NOT_LOADED: 'ERR_PCIBACK_NOT_LOADED',
  /** A write succeeded but reading sysfs back shows the effect did not happen. */
  ERR_PCIBACK_VERIFY: 'ERR_PCIBACK_VERIFY',
  /** The kernel offers no reset for the device. */
  ERR_PCI_NO_RESET: 'ERR_PCI_NO_RESET',
  /** Simulated-sysfs state (JSON) that cannot be loaded. */
  ERR_SIM_STATE: 'ERR_SIM_STATE',
  /** A topology description the builder cannot realise (duplicate BDF, missing parent ...). */
  ERR_TOPOLOGY: 'ERR_TOPOLOGY',
  /** An operator's quirks file (parseQuirksFile) that is not valid: `FILE:LINE:COL: ...`. */
  ERR_QUIRKS_FILE: 'ERR_QUIRKS_FILE',
} as const;
export type PcibackErrorCode = (typeof PcibackErrorCodes)[keyof typeof PcibackErrorCodes];

export class PcibackError extends Error {
  readonly code: PcibackErrorCode;
  readonly exitCode = 1;
  /** errno name from the kernel (or the simulated kernel), when the failure came from sysfs. */
  readonly errno?: string;
  readonly path?: string;
  readonly syscall?: string;
  constructor(
    code: PcibackErrorCode,
    message: string,
    extra: { errno?: string; path?: string; syscall?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'PcibackError';
    this.code = code;
    if (extra.errno !== undefined) this.errno = extra.errno;
    if (extra.path !== undefined) this.path = extra.path;
    if (extra.syscall !== undefined) this.syscall = extra.syscall;
  }
}

/** Linux errno numbers and strerror texts for the names sysfs answers with (asm-generic/errno*.h). */
const ERRNO: Record<string, [number, string]> = {
  EPERM: [1, 'Operation not permitted'],
  ENOENT: [2, 'No such file or directory'],
  EIO: [5, 'Input/output error'],
  ENXIO: [6, 'No such device or address'],
  EACCES: [13, 'Permission denied'],
  EBUSY: [16, 'Device or resource busy'],
  EEXIST: [17, 'File exists'],
  ENODEV: [19, 'No such device'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  EINVAL: [22, 'Invalid argument'],
  ENOTTY: [25, 'Inappropriate ioctl for device'],
  ENOSPC: [28, 'No space left on device'],
  EROFS: [30, 'Read-only file system'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  EOPNOTSUPP: [95, 'Operation not supported'],
};

export function errnoNumber(name: string): number | undefined {
  return ERRNO[name]?.[0];
}

export function strerror(name: string): string {
  return ERRNO[name]?.[1] ?? name;
}

/** The error every SysfsFs implementation throws: errno-shaped, with the full path. */
export function sysfsError(syscall: string, path: string, errno: string, cause?: unknown): PcibackError {
  return new PcibackError(PcibackErrorCodes.ERR_SYSFS_IO, `${syscall} ${path}: ${errno} (${strerror(errno)})`, {
    errno,
    path,
    syscall,
    cause,
  });
}

export function isPcibackError(e: unknown, code?: PcibackErrorCode): e is PcibackError {
  return e instanceof PcibackError && (code === undefined || e.code === code);
}
