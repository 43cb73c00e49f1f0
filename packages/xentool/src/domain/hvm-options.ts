/**
 * The HVM settings a creation needs that the typed domain config does not carry (serial, vnc,
 * vga), read from the parsed file with libxl 4.17's defaults (libxl_create.c
 * libxl__domain_build_info_setdefault, xl_parse.c). Only what xentool's qemu-xen command line
 * supports is accepted; anything else is refused with one line rather than silently dropped.
 */
import type { ConfigFile } from '../config/index';
import { plainValue } from '../config/index';
import { XentoolError } from '../errors';

export interface HvmOptions {
  /** `serial="pty"` → `-serial pty`; null: no serial port. */
  serial: 'pty' | null;
  /** vnc=1 (libxl's default) → `-vnc 127.0.0.1:0,to=99`; vnc=0 → `-vnc none`. */
  vnc: boolean;
  /** Whether the config set vnc= and sdl= (libxl's stored config has them only then). */
  vncSet?: boolean;
  sdlSet?: boolean;
  /** The emulated VGA: cirrus (default), stdvga, or none. */
  vga: 'cirrus' | 'stdvga' | 'none';
  /** libxl's video_memkb: 8 MiB for cirrus, 16 MiB for stdvga, 0 without a VGA. */
  videoMemKiB: number;
  /** `boot=` (default "cda"). */
  boot: string;
  /** hvmloader and the BIOS it loads (bios="seabios", the qemu-xen default). */
  firmware: string;
  systemFirmware: string;
}

/** Where Debian's xen-utils-4.17 and seabios put them (libxl__domain_firmware). */
export const HVMLOADER = '/usr/lib/xen-4.17/boot/hvmloader';
export const SEABIOS = '/usr/share/seabios/bios-256k.bin';

/** libxl's defaults, for an HVM config that sets none of the keys above. */
export const DEFAULT_HVM_OPTIONS: HvmOptions = {
  serial: null,
  vnc: true,
  vga: 'cirrus',
  videoMemKiB: 8 * 1024,
  boot: 'cda',
  firmware: HVMLOADER,
  systemFirmware: SEABIOS,
};

export function readHvmOptions(file: ConfigFile): HvmOptions {
  const at = file.source;
  const str = (key: string): string | undefined => {
    const s = file.get(key);
    if (!s) return undefined;
    const v = plainValue(s.value);
    if (typeof v !== 'string') throw new XentoolError('ERR_CONFIG_VALUE', `${at}: ${key}= must be a string or number here`);
    return v;
  };
  const bool = (key: string, dflt: boolean): boolean => {
    const v = str(key);
    return v === undefined ? dflt : Number.parseInt(v, 10) !== 0;
  };
  const serialText = str('serial');
  let serial: HvmOptions['serial'] = null;
  if (serialText !== undefined && serialText !== 'none') {
    if (serialText !== 'pty') throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: serial="${serialText}": only "pty" is supported`);
    serial = 'pty';
  }
  let vga: HvmOptions['vga'] = bool('stdvga', false) ? 'stdvga' : 'cirrus';
  const vgaText = str('vga');
  if (vgaText !== undefined) {
    if (vgaText !== 'none' && vgaText !== 'cirrus' && vgaText !== 'stdvga') throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: vga="${vgaText}": only cirrus, stdvga and none are supported`);
    vga = vgaText;
  }
  const bios = str('bios');
  if (bios !== undefined && bios !== 'seabios') throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: bios="${bios}": only seabios is supported`);
  if (bool('sdl', false)) throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: sdl=1 is not supported`);
  return {
    serial,
    vnc: bool('vnc', true),
    ...(str('vnc') !== undefined ? { vncSet: true } : {}),
    ...(str('sdl') !== undefined ? { sdlSet: true } : {}),
    vga,
    videoMemKiB: vga === 'none' ? 0 : vga === 'stdvga' ? 16 * 1024 : 8 * 1024,
    boot: str('boot') ?? 'cda',
    firmware: HVMLOADER,
    systemFirmware: SEABIOS,
  };
}

/**
 * qemu-xen's command line as libxl 4.17 builds it (libxl_dm.c
 * libxl__build_device_model_args_new; domain-build.md §3.6) for the settings above, with direct
 * kernel boot when kernel= is given. `memMiB` is (max_memkb - video_memkb) / 1024.
 */
export function qemuXenArgv(a: {
  domid: number;
  name: string;
  hvm: HvmOptions;
  kernel: string | null;
  ramdisk: string | null;
  cmdline: string | null;
  maxVcpus: number;
  vcpus: number;
  memMiB: number;
}): string[] {
  const argv = [
    '-xen-domid', String(a.domid),
    '-no-shutdown',
    '-chardev', `socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-${a.domid},server=on,wait=off`,
    '-mon', 'chardev=libxl-cmd,mode=control',
    '-chardev', `socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-${a.domid},server=on,wait=off`,
    '-mon', 'chardev=libxenstat-cmd,mode=control',
    '-nodefaults', '-no-user-config',
    '-name', a.name,
    '-vnc', a.hvm.vnc ? '127.0.0.1:0,to=99' : 'none',
    '-display', 'none',
  ];
  if (a.kernel !== null) argv.push('-kernel', a.kernel);
  if (a.ramdisk !== null) argv.push('-initrd', a.ramdisk);
  if (a.cmdline !== null) argv.push('-append', a.cmdline);
  if (a.hvm.serial === 'pty') argv.push('-serial', 'pty');
  if (a.hvm.vga === 'cirrus') argv.push('-device', 'cirrus-vga,vgamem_mb=8');
  if (a.hvm.vga === 'stdvga') argv.push('-device', 'VGA,vgamem_mb=16');
  argv.push('-boot', `order=${a.hvm.boot}`);
  // xl always fills avail_vcpus, so libxl writes the N,maxcpus=M form.
  if (a.maxVcpus > 1) argv.push('-smp', `${a.vcpus},maxcpus=${a.maxVcpus}`);
  argv.push('-net', 'none');
  argv.push('-machine', 'xenfv,suppress-vmdesc=on');
  argv.push('-m', String(a.memMiB));
  return argv;
}

/** The device model binary libxl runs for qemu-xen on Debian. */
export const QEMU_XEN = '/usr/libexec/xen-qemu-system-i386';
