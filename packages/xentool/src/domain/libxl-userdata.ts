/**
 * libxl's per-domain "userdata" files, so that xl can work on a domain xentool created and the
 * other way round (issues 6 and 9). Facts from libxl 4.17 (libxl_dom.c, libxl_internal.c,
 * libxl_create.c, libxl_domain.c, libxl_pci.c):
 *
 * - The name is XEN_LIB_DIR "/userdata-<wh>.<domid>.<uuid>.<userid>" (libxl__userdata_path),
 *   XEN_LIB_DIR being /var/lib/xen; <wh> is "d" for the data, "n" for the file being written
 *   and "l" for the lock file (userid "domain-userdata-lock").
 * - userid "libxl-json" holds the domain's libxl_domain_config as libxl_domain_config_to_json
 *   prints it (yajl, beautified with 4 spaces), stored with its terminating NUL
 *   (libxl__set_domain_configuration: strlen + 1). libxl writes it once creation is complete
 *   (domcreate_complete, before xl unpauses the guest), and every operation that changes the
 *   domain's devices reads it first: a domain without it makes `xl pci-attach` fail with
 *   ERROR_JSON_CONFIG_EMPTY (rc -16; seen on real Xen 4.17 against a xentool-created domain).
 * - libxl__userdata_store writes "n", then rename()s it over "d": a reader sees the old file
 *   or the new one, never half of one. The file is mode 0600.
 * - Destroy (libxl__destroy_domid, after the xenstore nodes and before xc_domain_destroy)
 *   removes every userdata-?.<domid>.<uuid>.* but the lock file (libxl__userdata_destroyall).
 * - Readers and writers hold flock(2) on the "l" file (libxl__lock_domain_userdata); so does
 *   xentool, around create's store, destroy's removal and the PCI commands' pcidevs updates
 *   (libxl/userdata-lock.ts, libxl/stored-pcidevs.ts).
 *
 * The file operations are synchronous: a few small files, written by commands that are slow anyway.
 */
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ShutdownAction } from '../config/domain-config';
import type { PciSpec } from '../pci-spec/pci-spec';
import type { CreateRequest } from './create-request';

/** XEN_LIB_DIR on the real host (Debian's xen-utils-common). */
export const XEN_LIB_DIR = '/var/lib/xen';

/** The userid of the stored domain config. */
export const LIBXL_JSON = 'libxl-json';

/** What libxl writes as c_info.domid: INVALID_DOMID, the domid is not part of the config. */
const INVALID_DOMID = 4294967295;

/** libxl__userdata_path. */
export function userdataPath(dir: string, wh: 'd' | 'n' | 'l', domid: number, uuid: string, userid: string): string {
  return path.join(dir, `userdata-${wh}.${domid}.${uuid}.${userid}`);
}

/** A JSON value whose objects keep their key order (libxl's is the IDL's field order). */
export type LibxlJson = string | number | boolean | LibxlJson[] | { [key: string]: LibxlJson };

/** libxl_defbool_to_json: the strings "True"/"False", not JSON booleans. */
const defbool = (v: boolean): string => (v ? 'True' : 'False');

/** libxl_action_on_shutdown's names, from xl's config spelling. */
const ACTION: Record<ShutdownAction, string> = {
  destroy: 'destroy',
  restart: 'restart',
  'rename-restart': 'restart_rename',
  preserve: 'preserve',
  'coredump-destroy': 'coredump_destroy',
  'coredump-restart': 'coredump_restart',
  'soft-reset': 'soft_reset',
};

/**
 * libxl_device_pci in its IDL order. The generator leaves out every field at its default (0,
 * false, null, the enum's init value), which is why xl's files show only `dev` for 00:05.0.
 */
export function libxlPciJson(p: PciSpec, type: CreateRequest['type']): { [key: string]: LibxlJson } {
  const o: { [key: string]: LibxlJson } = {};
  if (p.func) o.func = p.func;
  if (p.dev) o.dev = p.dev;
  if (p.bus) o.bus = p.bus;
  if (p.domain) o.domain = p.domain;
  if (p.vdevfn) o.vdevfn = p.vdevfn;
  if (p.vfunc_mask) o.vfunc_mask = p.vfunc_mask;
  if (p.msitranslate) o.msitranslate = true;
  if (p.power_mgmt) o.power_mgmt = true;
  if (p.permissive) o.permissive = true;
  if (p.seize) o.seize = true;
  // xl 4.17 copies b_info->u.hvm.rdm.policy into every device before parsing the spec, for PV
  // guests too, where that union member overlaps u.pv and reads as 0 = STRICT: the captured PV
  // file has "rdm_policy": "strict", the HVM one (policy still INVALID, the default) none.
  const rdm = p.rdm_policy === 'invalid' && type === 'pv' ? 'strict' : p.rdm_policy;
  if (rdm !== 'invalid') o.rdm_policy = rdm;
  if (p.name !== null) o.name = p.name;
  return o;
}

/**
 * The libxl_domain_config xl 4.17 stores for a config (captured in the Xen VM: PV with and
 * without pci=, HVM with pci=), from what our request knows. Fields xl leaves at their
 * defaults are absent, as libxl's generator leaves them out. Where xl's value comes from
 * /etc/xen/xl.conf (run_hotplug_scripts, claim_mode) xl's defaults are written, so libxl sees
 * the same config for our domain as for xl's; keys xentool does not model (disks, vifs, vfbs,
 * on_watchdog, the HVM platform options) are left out rather than guessed.
 */
export function libxlDomainConfig(req: CreateRequest): { [key: string]: LibxlJson } {
  const c_info: { [key: string]: LibxlJson } = {
    type: req.type,
    name: req.name,
    domid: INVALID_DOMID,
    uuid: req.uuid,
    // xl.conf run_hotplug_scripts, default 1.
    run_hotplug_scripts: defbool(true),
  };
  // The config's passthrough= as written: libxl stores the copy of the config xl handed it
  // (libxl_domain_create_new), made before setdefault resolves it to sync_pt/share_pt.
  if (req.passthroughAsked !== null) c_info.passthrough = req.passthroughAsked;

  const b_info: { [key: string]: LibxlJson } = {
    max_vcpus: req.maxVcpus,
    // libxl_bitmap: the numbers of the set bits.
    avail_vcpus: Array.from({ length: req.vcpus }, (_, i) => i),
  };
  // An enum without an init value is left out at 0, its first name: tsc_mode "default" (as
  // xl's file for a config without the key), the others by name, lower case whatever the
  // config's case (libxl_tsc_mode_to_string).
  if (req.tscMode !== 'default') b_info.tsc_mode = req.tscMode;
  b_info.max_memkb = req.maxMemKiB;
  b_info.target_memkb = req.targetMemKiB;
  b_info.video_memkb = req.hvm ? req.hvm.videoMemKiB : 0;
  // A defbool appears once set, false included (nomigrate=0 gives "False").
  if (req.disableMigrate !== null) b_info.disable_migrate = defbool(req.disableMigrate);
  b_info.sched_params = {};
  // xl.conf claim_mode, default 1.
  b_info.claim_mode = defbool(true);
  if (req.kernel !== null) b_info.kernel = req.kernel;
  if (req.cmdline !== null) b_info.cmdline = req.cmdline;
  if (req.ramdisk !== null) b_info.ramdisk = req.ramdisk;
  if (req.type === 'hvm' && req.hvm) {
    const h = req.hvm;
    const vga: { [key: string]: LibxlJson } = {};
    if (h.vga !== 'cirrus') vga.kind = h.vga === 'stdvga' ? 'std' : 'none';
    const hvm: { [key: string]: LibxlJson } = { vga };
    // vnc and sdl appear only when the config set them (xl reads them as defbools).
    hvm.vnc = h.vncSet ? { enable: defbool(h.vnc) } : {};
    hvm.sdl = h.sdlSet ? { enable: defbool(false) } : {};
    hvm.spice = {};
    if (h.serial !== null) hvm.serial = h.serial;
    hvm.rdm = {};
    b_info['type.hvm'] = hvm;
  } else {
    b_info['type.pv'] = req.e820Host ? { e820_host: defbool(true) } : {};
  }
  b_info.arch_arm = {};
  // libxl__arch_update_domain_config defaults msr_relaxed to false in the stored copy.
  b_info.arch_x86 = { msr_relaxed: defbool(false) };

  const out: { [key: string]: LibxlJson } = { c_info, b_info };
  if (req.pci.length > 0) out.pcidevs = req.pci.map((p) => libxlPciJson(p, req.type));
  // LIBXL_ACTION_ON_SHUTDOWN_DESTROY is the enum's init value: left out like every default.
  const action = (key: string, a: ShutdownAction) => {
    if (a !== 'destroy') out[key] = ACTION[a];
  };
  action('on_poweroff', req.onPoweroff);
  action('on_reboot', req.onReboot);
  action('on_crash', req.onCrash);
  // xl's default for on_soft_reset (xentool's config model does not read the key).
  out.on_soft_reset = ACTION['soft-reset'];
  return out;
}

/**
 * yajl's beautified output as libxl configures it (indent of 4 spaces): an empty object is
 * "{", an empty line and "}"; the document ends with a newline.
 */
export function formatLibxlJson(v: LibxlJson): string {
  return gen(v, 0) + '\n';
}

/** One value as it appears at `depth` inside such a document (its first line unindented). */
export function formatLibxlJsonValue(v: LibxlJson, depth: number): string {
  return gen(v, depth);
}

function gen(v: LibxlJson, depth: number): string {
  const pad = '    '.repeat(depth + 1);
  const close = '    '.repeat(depth);
  if (Array.isArray(v)) {
    if (v.length === 0) return `[\n\n${close}]`;
    return `[\n${v.map((x) => pad + gen(x, depth + 1)).join(',\n')}\n${close}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return `{\n\n${close}}`;
    return `{\n${keys.map((k) => `${pad}${JSON.stringify(k)}: ${gen(v[k]!, depth + 1)}`).join(',\n')}\n${close}}`;
  }
  return JSON.stringify(v);
}

/** libxl__userdata_store: write "n", rename over "d"; the stored bytes end with a NUL as libxl's. */
export function storeUserdata(dir: string, domid: number, uuid: string, userid: string, text: string | Buffer): string {
  const file = userdataPath(dir, 'd', domid, uuid, userid);
  const tmp = userdataPath(dir, 'n', domid, uuid, userid);
  // The real /var/lib/xen exists (xen-utils-common); the simulated host's is made on first use.
  mkdirSync(dir, { recursive: true });
  writeFileSync(tmp, Buffer.concat([typeof text === 'string' ? Buffer.from(text, 'utf8') : text, Buffer.from([0])]), { mode: 0o600 });
  try {
    renameSync(tmp, file);
  } catch (e) {
    removeIfThere(tmp);
    throw e;
  }
  return file;
}

/** Removes one userdata file (the undo of a store); absent is fine. */
export function removeUserdata(dir: string, domid: number, uuid: string, userid: string): void {
  removeIfThere(userdataPath(dir, 'd', domid, uuid, userid));
}

/**
 * libxl__userdata_destroyall: every userdata-?.<domid>.<uuid>.* file but the lock file. Only
 * that domid and uuid (the "." after each keeps domid 2 from matching 22). Returns what it removed.
 */
export function destroyAllUserdata(dir: string, domid: number, uuid: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = /^userdata-(.)\.(\d+)\.([^.]+)\./.exec(n);
    if (!m || m[2] !== String(domid) || m[3] !== uuid) continue;
    if (n.includes('domain-userdata-lock')) continue;
    removeIfThere(path.join(dir, n));
    removed.push(path.join(dir, n));
  }
  return removed;
}

function removeIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
