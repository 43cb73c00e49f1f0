/**
 * One file-system abstraction for everything pciback touches, so the same code runs against the
 * real `/sys` and against the simulated kernel sysfs (sim-sysfs.ts). Paths are absolute *inside*
 * the tree (`/bus/pci/devices/0000:01:00.0/vendor`); the implementation decides the root. The
 * same class rooted at `/proc` serves the dom0-usage probes.
 *
 * Synchronous on purpose: sysfs attributes are tiny, every call is a syscall that does not
 * block on I/O, and sequences such as unbind→new_slot→bind read more clearly without awaits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { sysfsError } from './errors';

export interface SysfsFs {
  /** Human-readable root, used in messages (`/sys`, `sim:/sys`). */
  readonly root: string;
  readFile(p: string): Buffer;
  /** One `write()` of `data`; libxl writes BDFs without a trailing newline and so do we. */
  writeFile(p: string, data: string): void;
  readdir(p: string): string[];
  /** The link text as the kernel reports it (usually relative, `../../../bus/pci/drivers/x`). */
  readlink(p: string): string;
  /** All links resolved, inside the tree. */
  realpath(p: string): string;
  /** lstat semantics: true for a link even if its target is missing. */
  exists(p: string): boolean;
  isDirectory(p: string): boolean;
}

/** A real directory tree (normally `/sys` or `/proc`). */
export class Sysfs implements SysfsFs {
  readonly root: string;
  constructor(opts: { root: string }) {
    this.root = path.resolve(opts.root);
  }

  private abs(p: string): string {
    return path.join(this.root, p);
  }

  private wrap<T>(syscall: string, p: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw sysfsError(syscall, this.abs(p), typeof code === 'string' ? code : 'EIO', e);
    }
  }

  readFile(p: string): Buffer {
    return this.wrap('read', p, () => fs.readFileSync(this.abs(p)));
  }

  writeFile(p: string, data: string): void {
    // open(O_WRONLY) without O_CREAT: a sysfs attribute that does not exist must fail with
    // ENOENT, not be created (which matters when the root is a plain directory in tests).
    const abs = this.abs(p);
    const fd = this.wrap('open', p, () => fs.openSync(abs, fs.constants.O_WRONLY));
    try {
      this.wrap('write', p, () => fs.writeSync(fd, data));
    } finally {
      fs.closeSync(fd);
    }
  }

  readdir(p: string): string[] {
    return this.wrap('readdir', p, () => fs.readdirSync(this.abs(p))).sort();
  }

  readlink(p: string): string {
    return this.wrap('readlink', p, () => fs.readlinkSync(this.abs(p)));
  }

  realpath(p: string): string {
    const real = this.wrap('realpath', p, () => fs.realpathSync(this.abs(p)));
    const rel = path.relative(this.root, real);
    // A link that leaves the tree (e.g. /sys/class/... -> /dev) is reported in host terms.
    return rel.startsWith('..') ? real : '/' + rel;
  }

  exists(p: string): boolean {
    try {
      fs.lstatSync(this.abs(p));
      return true;
    } catch {
      return false;
    }
  }

  isDirectory(p: string): boolean {
    try {
      return fs.statSync(this.abs(p)).isDirectory();
    } catch {
      return false;
    }
  }
}

/** Reads an attribute as text without the trailing newline; undefined when it does not exist. */
export function readAttr(fs_: SysfsFs, p: string): string | undefined {
  if (!fs_.exists(p)) return undefined;
  return fs_.readFile(p).toString('utf8').replace(/\n$/, '');
}

/** `0x1af4`-style attributes (vendor, device, class ...). */
export function readHexAttr(fs_: SysfsFs, p: string): number | undefined {
  const t = readAttr(fs_, p);
  if (t === undefined) return undefined;
  const n = parseInt(t.trim(), 16);
  return Number.isNaN(n) ? undefined : n;
}

export function readIntAttr(fs_: SysfsFs, p: string): number | undefined {
  const t = readAttr(fs_, p);
  if (t === undefined) return undefined;
  const n = parseInt(t.trim(), 10);
  return Number.isNaN(n) ? undefined : n;
}

export const PCI_DEVICES = '/bus/pci/devices';
export const PCI_DRIVERS = '/bus/pci/drivers';
export const PCIBACK_DIR = '/bus/pci/drivers/pciback';

export function devicePath(bdf: string, attr?: string): string {
  return attr ? `${PCI_DEVICES}/${bdf}/${attr}` : `${PCI_DEVICES}/${bdf}`;
}
