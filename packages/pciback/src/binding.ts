/**
 * Moving devices between their dom0 drivers and xen-pciback. Each operation is planned as a
 * list of sysfs writes (so `--dry-run` can print it), applied in order, undone in reverse if a
 * later write fails, and then verified by reading sysfs back: the kernel sometimes accepts a
 * write and does nothing (a probe that declines the device is not an error for drivers_probe).
 *
 * All writes are the canonical BDF without a newline, as libxl writes them.
 */
import { canonicalBdf } from './bdf';
import { PcibackError, PcibackErrorCodes, isPcibackError } from './errors';
import { currentDriverPath } from './inventory';
import type { SysfsFs } from './sysfs';
import { PCIBACK_DIR, devicePath, readAttr } from './sysfs';

export interface SysfsStep {
  op: 'sysfs.write';
  path: string;
  data: string;
  /** Why this write is here and why in this position. */
  why: string;
}

export interface MakeAssignablePlan {
  bdf: string;
  /** Already bound to pciback: nothing to do. */
  alreadyAssignable: boolean;
  /** Driver directory inside sysfs before the change (`/bus/pci/drivers/e1000e`); null when unbound or already pciback. */
  originalDriverPath: string | null;
  steps: SysfsStep[];
}

export interface MakeAssignableOptions {
  /**
   * `slot` (default, what libxl 4.17 does): unbind, `new_slot` unless already listed, `bind`.
   * `override` (what libvirt does on kernels with driver_override): `driver_override=pciback`,
   * unbind, `drivers_probe`.
   */
  method?: 'slot' | 'override';
}

export function isPcibackLoaded(fs: SysfsFs): boolean {
  return fs.isDirectory(PCIBACK_DIR);
}

/** pciback's seize list (`slots`), one canonical BDF per entry (duplicates kept, as the kernel lists them). */
export function pcibackSlots(fs: SysfsFs): string[] {
  const text = readAttr(fs, `${PCIBACK_DIR}/slots`) ?? '';
  return text.split('\n').filter(Boolean).map((l) => l.trim());
}

/** libxl keeps the driver path with the /sys prefix in /libxl/pci/<BDF>/driver_path. */
export function toLibxlDriverPath(sysfsPath: string): string {
  return sysfsPath.startsWith('/sys/') ? sysfsPath : `/sys${sysfsPath}`;
}

/** Accepts what libxl stored (`/sys/bus/pci/drivers/x`) or a sysfs-relative path. */
export function fromLibxlDriverPath(p: string): string {
  return p.startsWith('/sys/bus/') ? p.slice(4) : p;
}

function requireDevice(fs: SysfsFs, bdf: string): void {
  if (!fs.exists(devicePath(bdf)))
    throw new PcibackError(PcibackErrorCodes.ERR_PCI_NO_DEVICE, `no PCI device ${bdf} (${fs.root}${devicePath(bdf)} does not exist)`, {
      path: fs.root + devicePath(bdf),
      errno: 'ENOENT',
      syscall: 'lstat',
    });
}

function requirePciback(fs: SysfsFs): void {
  if (!isPcibackLoaded(fs))
    throw new PcibackError(
      PcibackErrorCodes.ERR_PCIBACK_NOT_LOADED,
      `the xen-pciback driver is not loaded (${fs.root}${PCIBACK_DIR} does not exist); load it with 'modprobe xen-pciback'`,
      { path: fs.root + PCIBACK_DIR, errno: 'ENOENT' },
    );
}

export function planMakeAssignable(fs: SysfsFs, bdfText: string, opts: MakeAssignableOptions = {}): MakeAssignablePlan {
  const bdf = canonicalBdf(bdfText);
  requireDevice(fs, bdf);
  requirePciback(fs);
  const driver = currentDriverPath(fs, bdf);
  if (driver === PCIBACK_DIR) return { bdf, alreadyAssignable: true, originalDriverPath: null, steps: [] };
  const steps: SysfsStep[] = [];
  if ((opts.method ?? 'slot') === 'override') {
    steps.push({
      op: 'sysfs.write',
      path: devicePath(bdf, 'driver_override'),
      data: 'pciback',
      why: 'set before unbinding, so that no probe in between (udev, drivers_autoprobe) can hand the device back to its old driver',
    });
    if (driver)
      steps.push({ op: 'sysfs.write', path: `${driver}/unbind`, data: bdf, why: 'driver_override does not unbind by itself' });
    steps.push({
      op: 'sysfs.write',
      path: '/bus/pci/drivers_probe',
      data: bdf,
      why: 'probe now: only pciback matches, and pciback accepts a device whose override names it',
    });
  } else {
    if (driver)
      steps.push({ op: 'sysfs.write', path: `${driver}/unbind`, data: bdf, why: 'a bound device refuses a second driver (EBUSY)' });
    if (!pcibackSlots(fs).includes(bdf))
      steps.push({
        op: 'sysfs.write',
        path: `${PCIBACK_DIR}/new_slot`,
        data: bdf,
        why: "pciback's probe only accepts listed devices; listed once because older kernels keep duplicates",
      });
    steps.push({ op: 'sysfs.write', path: `${PCIBACK_DIR}/bind`, data: bdf, why: 'seize the device' });
  }
  return { bdf, alreadyAssignable: false, originalDriverPath: driver, steps };
}

/** The inverse of one makeAssignable step, for rollback. */
function undoOf(step: SysfsStep, bdf: string, originalDriver: string | null): SysfsStep[] {
  const clearOverride: SysfsStep = { op: 'sysfs.write', path: devicePath(bdf, 'driver_override'), data: '\n', why: 'rollback: clear the override' };
  if (step.path === '/bus/pci/drivers_probe' || step.path === `${PCIBACK_DIR}/bind`)
    return [{ op: 'sysfs.write', path: `${PCIBACK_DIR}/unbind`, data: bdf, why: 'rollback: let go of the device if pciback took it' }];
  if (step.path.endsWith('/unbind') && originalDriver)
    // The override must go before the old driver can match again (pci_match_device).
    return [clearOverride, { op: 'sysfs.write', path: `${originalDriver}/bind`, data: bdf, why: 'rollback: give the device back to its driver' }];
  if (step.path === `${PCIBACK_DIR}/new_slot`)
    return [{ op: 'sysfs.write', path: `${PCIBACK_DIR}/remove_slot`, data: bdf, why: 'rollback: forget the slot entry we added' }];
  if (step.path.endsWith('/driver_override')) return [clearOverride];
  return [];
}

function wrapWrite(e: unknown, what: string): PcibackError {
  if (isPcibackError(e) && e.errno)
    return new PcibackError(e.code, `${what}: ${e.message}`, { errno: e.errno, path: e.path, syscall: e.syscall, cause: e });
  return e as PcibackError;
}

/**
 * Applies a plan; on failure undoes the completed writes in reverse (best effort) and rethrows
 * the first failure, naming the path and errno. Rollback runs in reverse because each undo
 * assumes the state the corresponding step left (rebinding the old driver needs the device to
 * be unbound from pciback first, which undoing the later steps ensures).
 */
export function applySteps(fs: SysfsFs, steps: readonly SysfsStep[], undo: (s: SysfsStep) => SysfsStep[], what: string): void {
  const done: SysfsStep[] = [];
  for (const s of steps) {
    try {
      fs.writeFile(s.path, s.data);
      done.push(s);
    } catch (e) {
      const err = wrapWrite(e, what);
      const failed = rollBack(fs, done, undo);
      if (failed.length > 0) err.message += ` (rollback incomplete: ${failed.join('; ')})`;
      throw err;
    }
  }
}

/** Undoes completed steps in reverse; returns the undo writes that failed. */
export function rollBack(fs: SysfsFs, done: readonly SysfsStep[], undo: (s: SysfsStep) => SysfsStep[]): string[] {
  const failed: string[] = [];
  for (const d of [...done].reverse()) {
    for (const u of undo(d)) {
      try {
        fs.writeFile(u.path, u.data);
      } catch (ue) {
        // An undo of something that did not take effect (unbind of an unbound device) is fine.
        if (isPcibackError(ue) && ue.errno === 'ENODEV' && u.path.endsWith('/unbind')) continue;
        failed.push(`${u.path}: ${isPcibackError(ue) && ue.errno ? ue.errno : String(ue)}`);
      }
    }
  }
  return failed;
}

export interface MakeAssignableResult {
  bdf: string;
  alreadyAssignable: boolean;
  /** Store this (see toLibxlDriverPath) to rebind on release; null when there was nothing to remember. */
  originalDriverPath: string | null;
  steps: SysfsStep[];
}

/** Binds the device to pciback. Idempotent: a device already held by pciback is left alone. */
export function makeAssignable(fs: SysfsFs, bdfText: string, opts: MakeAssignableOptions = {}): MakeAssignableResult {
  const plan = planMakeAssignable(fs, bdfText, opts);
  const { bdf } = plan;
  const withUndo = (s: SysfsStep) => undoOf(s, bdf, plan.originalDriverPath);
  if (!plan.alreadyAssignable) applySteps(fs, plan.steps, withUndo, `cannot make ${bdf} assignable`);
  const now = currentDriverPath(fs, bdf);
  if (now !== PCIBACK_DIR) {
    // drivers_probe succeeds even when every driver declines the device: only reading the
    // driver link back tells. Leave the device as we found it.
    const failed = rollBack(fs, plan.steps, withUndo);
    throw new PcibackError(
      PcibackErrorCodes.ERR_PCIBACK_VERIFY,
      `cannot make ${bdf} assignable: after binding, ${fs.root}${devicePath(bdf, 'driver')} ${now ? `points to ${now}` : 'is absent'}, not to pciback` +
        (failed.length > 0 ? ` (rollback incomplete: ${failed.join('; ')})` : ''),
      { path: fs.root + devicePath(bdf, 'driver') },
    );
  }
  return { bdf, alreadyAssignable: plan.alreadyAssignable, originalDriverPath: plan.originalDriverPath, steps: plan.steps };
}

export interface ReleaseOptions {
  /** The driver recorded by makeAssignable (sysfs-relative or libxl's /sys/... form); rebinds when given (`-r`). */
  rebindTo?: string | null;
}

export interface ReleasePlan {
  bdf: string;
  /** False when the device was not bound to pciback (libxl warns "Not bound to pciback"). */
  wasPciback: boolean;
  steps: SysfsStep[];
}

export function planRelease(fs: SysfsFs, bdfText: string, opts: ReleaseOptions = {}): ReleasePlan {
  const bdf = canonicalBdf(bdfText);
  requireDevice(fs, bdf);
  const driver = currentDriverPath(fs, bdf);
  const wasPciback = driver === PCIBACK_DIR;
  const steps: SysfsStep[] = [];
  if (wasPciback) steps.push({ op: 'sysfs.write', path: `${PCIBACK_DIR}/unbind`, data: bdf, why: 'release the device (pciback resets it on the way out)' });
  if (isPcibackLoaded(fs) && pcibackSlots(fs).includes(bdf))
    steps.push({
      op: 'sysfs.write',
      path: `${PCIBACK_DIR}/remove_slot`,
      data: bdf,
      why: 'after the unbind: while listed, any later probe would hand the device straight back to pciback',
    });
  if (readAttr(fs, devicePath(bdf, 'driver_override')) === 'pciback')
    steps.push({ op: 'sysfs.write', path: devicePath(bdf, 'driver_override'), data: '\n', why: 'an override naming pciback would block every other driver' });
  if (opts.rebindTo && (wasPciback || driver === null))
    steps.push({
      op: 'sysfs.write',
      path: `${fromLibxlDriverPath(opts.rebindTo)}/bind`,
      data: bdf,
      why: 'last: the device must be unbound, out of the slot list and without an override for its own driver to match',
    });
  return { bdf, wasPciback, steps };
}

export interface ReleaseResult {
  bdf: string;
  wasPciback: boolean;
  /** Driver directory the device is bound to afterwards, if any. */
  driverPath: string | null;
  steps: SysfsStep[];
}

/** Unbinds from pciback, removes the slot entry, optionally rebinds the original driver; verified. */
export function release(fs: SysfsFs, bdfText: string, opts: ReleaseOptions = {}): ReleaseResult {
  const plan = planRelease(fs, bdfText, opts);
  const { bdf } = plan;
  // Undoing a release means giving the device back to pciback; the slot entry must come first.
  const undo = (s: SysfsStep): SysfsStep[] =>
    s.path === `${PCIBACK_DIR}/unbind`
      ? [{ op: 'sysfs.write', path: `${PCIBACK_DIR}/bind`, data: bdf, why: 'rollback' }]
      : s.path === `${PCIBACK_DIR}/remove_slot`
        ? [{ op: 'sysfs.write', path: `${PCIBACK_DIR}/new_slot`, data: bdf, why: 'rollback' }]
        : [];
  applySteps(fs, plan.steps, undo, `cannot release ${bdf}`);
  const now = currentDriverPath(fs, bdf);
  if (now === PCIBACK_DIR)
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `cannot release ${bdf}: it is still bound to pciback`, {
      path: fs.root + devicePath(bdf, 'driver'),
    });
  if (opts.rebindTo && now !== fromLibxlDriverPath(opts.rebindTo) && (plan.wasPciback || now === null))
    throw new PcibackError(
      PcibackErrorCodes.ERR_PCIBACK_VERIFY,
      `released ${bdf}, but it is ${now ? `bound to ${now}` : 'unbound'} instead of ${fromLibxlDriverPath(opts.rebindTo)}`,
      { path: fs.root + devicePath(bdf, 'driver') },
    );
  return { bdf, wasPciback: plan.wasPciback, driverPath: now, steps: plan.steps };
}

/**
 * Resets one function the way libxl does: pciback's `do_flr` where a (Citrix) kernel has it,
 * else the generic `reset` attribute, which runs the kernel's `reset_method` list.
 */
export function resetDevice(fs: SysfsFs, bdfText: string): { bdf: string; via: 'do_flr' | 'reset' } {
  const bdf = canonicalBdf(bdfText);
  requireDevice(fs, bdf);
  const doFlr = `${PCIBACK_DIR}/do_flr`;
  let via: 'do_flr' | 'reset';
  if (fs.exists(doFlr)) {
    via = 'do_flr';
    applySteps(fs, [{ op: 'sysfs.write', path: doFlr, data: bdf, why: 'pciback FLR' }], () => [], `cannot reset ${bdf}`);
  } else if (fs.exists(devicePath(bdf, 'reset'))) {
    via = 'reset';
    applySteps(fs, [{ op: 'sysfs.write', path: devicePath(bdf, 'reset'), data: '1', why: 'kernel reset' }], () => [], `cannot reset ${bdf}`);
  } else {
    throw new PcibackError(
      PcibackErrorCodes.ERR_PCI_NO_RESET,
      `the kernel doesn't support reset from sysfs for PCI device ${bdf} (no ${fs.root}${devicePath(bdf, 'reset')})`,
      { path: fs.root + devicePath(bdf, 'reset'), errno: 'ENOENT' },
    );
  }
  // A reset that lost the device shows as all-ones config reads.
  const cfg = fs.readFile(devicePath(bdf, 'config'));
  if (cfg.length >= 2 && cfg.readUInt16LE(0) === 0xffff)
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `${bdf} does not answer config reads after reset (vendor id 0xffff)`, {
      path: fs.root + devicePath(bdf, 'config'),
    });
  return { bdf, via };
}

function requireHeld(fs: SysfsFs, bdf: string, what: string): void {
  requireDevice(fs, bdf);
  requirePciback(fs);
  if (currentDriverPath(fs, bdf) !== PCIBACK_DIR)
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `cannot ${what} for ${bdf}: it is not bound to pciback`, {
      path: fs.root + devicePath(bdf, 'driver'),
      errno: 'ENODEV',
      syscall: 'write',
    });
}

/**
 * Per-device permissive config-space writes. The kernel offers no way to clear it except
 * unbinding the device from pciback.
 */
export function setPermissive(fs: SysfsFs, bdfText: string): void {
  const bdf = canonicalBdf(bdfText);
  requireHeld(fs, bdf, 'set permissive');
  const p = `${PCIBACK_DIR}/permissive`;
  applySteps(fs, [{ op: 'sysfs.write', path: p, data: bdf, why: 'permissive' }], () => [], `cannot set permissive for ${bdf}`);
  const list = (readAttr(fs, p) ?? '').split('\n').map((s) => s.trim());
  if (!list.includes(bdf))
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `wrote ${bdf} to ${fs.root}${p} but it is not listed there`, { path: fs.root + p });
}

export function isPermissive(fs: SysfsFs, bdf: string): boolean {
  return (readAttr(fs, `${PCIBACK_DIR}/permissive`) ?? '').split('\n').includes(canonicalBdf(bdf));
}

/** Makes one config register guest-writable (`quirks`, `DDDD:BB:DD.F-REG:SIZE:MASK`). */
export function addConfigQuirk(fs: SysfsFs, bdfText: string, reg: number, size: 1 | 2 | 4, mask: number): void {
  const bdf = canonicalBdf(bdfText);
  requireHeld(fs, bdf, 'add a config quirk');
  const p = `${PCIBACK_DIR}/quirks`;
  const data = `${bdf}-${reg.toString(16)}:${size}:${(mask >>> 0).toString(16)}`;
  applySteps(fs, [{ op: 'sysfs.write', path: p, data, why: 'quirk' }], () => [], `cannot add a config quirk for ${bdf}`);
  const want = `\t\t${reg.toString(16).padStart(8, '0')}:${size}:${(mask >>> 0).toString(16).padStart(8, '0')}`;
  const text = readAttr(fs, p) ?? '';
  const block = text.split(/\n(?=[0-9a-f]{2}:)/).find((b) => b.startsWith(bdf.slice(5)));
  if (!block || !block.split('\n').includes(want))
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `wrote ${data} to ${fs.root}${p} but the quirk is not listed there`, {
      path: fs.root + p,
    });
}


/**
 * Binds an unbound device to a driver (the `-r` half of release when done separately), then
 * checks the `driver` link. Accepts libxl's `/sys/bus/pci/drivers/<name>` form.
 */
export function bindDriver(fs: SysfsFs, bdfText: string, driverPath: string): void {
  const bdf = canonicalBdf(bdfText);
  requireDevice(fs, bdf);
  const dir = fromLibxlDriverPath(driverPath);
  applySteps(fs, [{ op: 'sysfs.write', path: `${dir}/bind`, data: bdf, why: 'rebind' }], () => [], `couldn't bind ${bdf} to ${dir}`);
  const now = currentDriverPath(fs, bdf);
  if (now !== dir)
    throw new PcibackError(PcibackErrorCodes.ERR_PCIBACK_VERIFY, `bound ${bdf} to ${dir}, but its driver link ${now ? `points to ${now}` : 'is absent'}`, {
      path: fs.root + devicePath(bdf, 'driver'),
    });
}

/**
 * The dom0-side operations in the shape the toolstack's step handlers use (async, driver paths
 * in libxl's `/sys/...` form so they can go straight into /libxl/pci/<BDF>/driver_path).
 */
export function pcibackOps(fs: SysfsFs) {
  return {
    async seize(bdf: string): Promise<{ originalDriverPath: string | undefined }> {
      const r = makeAssignable(fs, bdf);
      return { originalDriverPath: r.originalDriverPath ? toLibxlDriverPath(r.originalDriverPath) : undefined };
    },
    async release(bdf: string): Promise<void> {
      release(fs, bdf);
    },
    async bindDriver(bdf: string, driverPath: string): Promise<void> {
      bindDriver(fs, bdf, driverPath);
    },
    /** Resolves to a warning (libxl never aborts on a failed reset) or undefined. */
    async reset(bdf: string): Promise<string | undefined> {
      try {
        resetDevice(fs, bdf);
        return undefined;
      } catch (e) {
        if (isPcibackError(e)) return e.message;
        throw e;
      }
    },
    async setPermissive(bdf: string): Promise<void> {
      setPermissive(fs, bdf);
    },
    async currentDriverPath(bdf: string): Promise<string | undefined> {
      const p = currentDriverPath(fs, canonicalBdf(bdf));
      return p ? toLibxlDriverPath(p) : undefined;
    },
  };
}
