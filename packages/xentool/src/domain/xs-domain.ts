/**
 * The xenstore nodes of a domain, as libxl 4.17 writes and removes them
 * (libxl_create.c libxl__domain_make, libxl_dom.c libxl__build_post, libxl_console.c,
 * libxl_domain.c destroy). Same code on the real and the simulated host.
 *
 * Permissions: a node written by dom0 without explicit perms inherits its parent's list
 * (xenstored_core.c), so only the roots and the guest-writable nodes get SET_PERMS.
 */
import type { XsOps, XsPerm } from '../xs/xs';

const ro = (domid: number): XsPerm[] => [
  { domid: 0, perm: 'n' },
  { domid, perm: 'r' },
];
/** Owned by the guest: it may write there, dom0 keeps full access as the privileged domain. */
const rw = (domid: number): XsPerm[] => [{ domid, perm: 'n' }];
const none: XsPerm[] = [{ domid: 0, perm: 'n' }];

async function mknod(tx: XsOps, path: string, perms: XsPerm[]): Promise<void> {
  await tx.write(path, '');
  await tx.setPerms(path, perms);
}

/** libxl__domain_make's transaction (domain-build.md §1.2), for a PV guest. */
export async function writeSkeleton(tx: XsOps, domid: number, a: { name: string; uuid: string; type: 'pv' | 'hvm' | 'pvh' }): Promise<void> {
  const dom = `/local/domain/${domid}`;
  const vm = `/vm/${a.uuid}`;
  // rm first: a crash can leave a stale tree under a domid Xen hands out again.
  await tx.rm(dom);
  await mknod(tx, dom, ro(domid));
  await tx.rm(vm);
  await mknod(tx, vm, ro(domid));
  await tx.rm(`/libxl/${domid}`);
  await mknod(tx, `/libxl/${domid}`, none);
  await mknod(tx, `/libxl/${domid}/device`, none);
  await tx.write(`${dom}/vm`, vm);
  await tx.write(`${dom}/name`, a.name);
  await tx.write(`${vm}/name`, a.name);
  await tx.write(`${vm}/uuid`, a.uuid);
  for (const n of ['cpu', 'memory', 'device', 'control']) await mknod(tx, `${dom}/${n}`, ro(domid));
  await mknod(tx, `${dom}/device/suspend`, ro(domid));
  await mknod(tx, `${dom}/device/suspend/event-channel`, rw(domid));
  for (const n of ['shutdown', 'feature-poweroff', 'feature-reboot', 'feature-suspend', 'sysrq']) await mknod(tx, `${dom}/control/${n}`, rw(domid));
  for (const n of ['data', 'drivers', 'feature', 'attr', 'error']) await mknod(tx, `${dom}/${n}`, rw(domid));
  if (a.type === 'hvm') {
    // HVM only (libxl__domain_make): hvmloader's directory, and the ACPI sleep features the guest may report.
    await mknod(tx, `${dom}/hvmloader`, ro(domid));
    for (const n of ['feature-s3', 'feature-s4']) await mknod(tx, `${dom}/control/${n}`, rw(domid));
  }
  await tx.write(`${dom}/control/platform-feature-multiprocessor-suspend`, '1');
  await tx.write(`${dom}/control/platform-feature-xs_reset_watches`, '1');
  await tx.write(`/libxl/${domid}/type`, a.type);
  // store_libxl_entry: PV's default device model version is qemu-xen too.
  await tx.write(`/libxl/${domid}/dm-version`, 'qemu_xen');
}

export interface BuildPost {
  name: string;
  uuid: string;
  targetMemKiB: number;
  maxMemKiB: number;
  vcpus: number;
  maxVcpus: number;
  storePort: number;
  storeMfn: bigint;
  kernel: string | null;
  ramdisk: string | null;
  cmdline: string | null;
  /** Seconds since the epoch. */
  now: number;
  /** HVM: libxl's video_memkb (memory/target excludes it, memory/videoram shows it). */
  hvm?: { videoMemKiB: number };
}

/** libxl__build_post's transaction (domain-build.md §1.5). */
export async function writeBuildPost(tx: XsOps, domid: number, b: BuildPost): Promise<void> {
  const dom = `/local/domain/${domid}`;
  const vm = `/vm/${b.uuid}`;
  const video = b.hvm?.videoMemKiB ?? 0;
  await tx.write(`${dom}/memory/static-max`, String(b.maxMemKiB));
  await tx.write(`${dom}/memory/target`, String(b.targetMemKiB - video));
  await tx.write(`${dom}/memory/videoram`, String(video));
  await tx.write(`${dom}/domid`, String(domid));
  await tx.write(`${dom}/store/port`, String(b.storePort));
  await tx.write(`${dom}/store/ring-ref`, b.storeMfn.toString());
  for (let i = 0; i < b.maxVcpus; i++) await tx.write(`${dom}/cpu/${i}/availability`, i < b.vcpus ? 'online' : 'offline');
  if (b.hvm) {
    // libxl_create.c libxl__domain_build (HVM): the vm entries and the platform keys hvmloader
    // reads (acpi*, and device-model, which picks the qemu-xen DSDT).
    await tx.write(`${dom}/hvmloader/generation-id-address`, '0x0');
    await tx.write(`${vm}/rtc/timeoffset`, '');
    await tx.write(`${vm}/image/ostype`, 'hvm');
    await tx.write(`${dom}/platform/acpi`, '1');
    await tx.write(`${dom}/platform/acpi_s3`, '1');
    await tx.write(`${dom}/platform/acpi_s4`, '1');
    await tx.write(`${dom}/platform/acpi_laptop_slate`, '0');
    await tx.write(`${dom}/platform/device-model`, 'qemu_xen');
  } else {
    await tx.write(`${vm}/image/ostype`, 'linux');
    if (b.kernel !== null) await tx.write(`${vm}/image/kernel`, b.kernel);
    if (b.ramdisk !== null) await tx.write(`${vm}/image/ramdisk`, b.ramdisk);
    if (b.cmdline !== null) await tx.write(`${vm}/image/cmdline`, b.cmdline);
  }
  await tx.write(`${vm}/start_time`, b.now.toFixed(2));
}

/**
 * Before qemu-xen starts (libxl_dm.c libxl__spawn_local_dm): the BIOS hvmloader loads, no
 * memory relocation (qemu-xen), and the directory QEMU reports its state in.
 */
export async function writeDeviceModelPre(tx: XsOps, domid: number): Promise<void> {
  await tx.write(`/local/domain/${domid}/hvmloader/bios`, 'seabios');
  await tx.write(`/local/domain/${domid}/hvmloader/allow-memory-relocate`, '0');
  await tx.mkdir(`/local/domain/0/device-model/${domid}`);
}

/**
 * Console 0 (libxl__device_console_add): its frontend is /local/domain/N/console itself, and
 * xenconsoled serves it because `type` is xenconsoled.
 */
export async function writeConsole(tx: XsOps, domid: number, c: { port: number; mfn: bigint }): Promise<void> {
  const be = `/local/domain/0/backend/console/${domid}/0`;
  const fe = `/local/domain/${domid}/console`;
  await mknod(tx, be, ro(domid));
  await tx.write(`${be}/frontend`, fe);
  await tx.write(`${be}/frontend-id`, String(domid));
  await tx.write(`${be}/online`, '1');
  await tx.write(`${be}/state`, '1');
  await tx.write(`${be}/protocol`, 'vt100');
  await mknod(tx, fe, ro(domid));
  await tx.write(`${fe}/backend`, be);
  await tx.write(`${fe}/backend-id`, '0');
  await tx.write(`${fe}/limit`, '1048576');
  await tx.write(`${fe}/type`, 'xenconsoled');
  await tx.write(`${fe}/output`, 'pty');
  await tx.write(`${fe}/tty`, '');
  await tx.write(`${fe}/port`, String(c.port));
  await tx.write(`${fe}/ring-ref`, c.mfn.toString());
  const lx = `/libxl/${domid}/device/console/0`;
  await tx.write(`${lx}/frontend`, fe);
  await tx.write(`${lx}/backend`, be);
}

/**
 * Everything libxl removes at destroy (libxl_domain.c devices_destroy + destroy_domid): the
 * console backend, the vm and domain trees, /libxl/N. Nodes the guest owned are gone already
 * when xenstored noticed its death; removing a missing node is not an error here.
 */
export async function removeDomainNodes(tx: XsOps, domid: number): Promise<void> {
  const vm = await tx.read(`/local/domain/${domid}/vm`);
  await tx.rm(`/local/domain/0/backend/console/${domid}`);
  await tx.rm(`/local/domain/0/backend/vkbd/${domid}`);
  await tx.rm(`/local/domain/0/device-model/${domid}`);
  if (vm && /^\/vm\/[0-9a-f-]+$/.test(vm)) await tx.rm(vm);
  await tx.rm(`/local/domain/${domid}`);
  await tx.rm(`/libxl/${domid}`);
  // Empty parents libxl leaves no trace of either.
  if ((await tx.directory('/local/domain/0/backend/console')).length === 0) await tx.rm('/local/domain/0/backend/console');
  if ((await tx.directory('/local/domain/0/device-model')).length === 0) await tx.rm('/local/domain/0/device-model');
}
