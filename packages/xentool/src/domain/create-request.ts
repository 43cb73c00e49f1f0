/**
 * From the typed config to what a creation needs, with libxl 4.17's defaults filled in
 * (libxl__domain_build_info_setdefault, libxl__domain_create_info_setdefault, xl_parse.c), so
 * that `create -N` shows the values that will really be used. Pure.
 */
import type { DomainConfig, PciConfigEntry, ShutdownAction, TscMode } from '../config/domain-config';
import { XentoolError } from '../errors';
import { DEFAULT_HVM_OPTIONS, type HvmOptions } from './hvm-options';

export interface CreateRequest {
  source: string;
  name: string;
  uuid: string;
  type: 'pv' | 'hvm' | 'pvh';
  /** libxl's target_memkb and max_memkb. */
  targetMemKiB: number;
  maxMemKiB: number;
  /** Online vcpus at boot, and the most the domain can ever have (createdomain max_vcpus). */
  vcpus: number;
  maxVcpus: number;
  kernel: string | null;
  ramdisk: string | null;
  cmdline: string | null;
  /** What createdomain gets: sync_pt for PV (libxl: PV passthrough is always sync_pt). */
  passthrough: 'disabled' | 'sync_pt' | 'share_pt';
  /** The config's passthrough= as written (null: not set), which libxl's stored config keeps. */
  passthroughAsked: DomainConfig['passthrough'];
  onPoweroff: ShutdownAction;
  onReboot: ShutdownAction;
  onCrash: ShutdownAction;
  pci: PciConfigEntry[];
  /** Start paused (`create -p`). */
  paused: boolean;
  /** HVM: device model settings (null for PV). */
  hvm: HvmOptions | null;
  device_model_version: DomainConfig['device_model_version'];
  /** PV: give the guest a memory map derived from the host's (xl's e820_host; on with pci=). */
  e820Host: boolean;
  /** libxl's b_info.tsc_mode ("default" when the config has none). */
  tscMode: TscMode;
  /** `nomigrate` as written (null: not set; libxl's default is false), which the stored config keeps. */
  disableMigrate: boolean | null;
}

/**
 * What libxl__arch_domain_create (libxl_x86.c, 4.17) hands xc_domain_set_tsc_info for each
 * mode: Xen's TSC_MODE_DEFAULT, _ALWAYS_EMULATE and _NEVER_EMULATE. native_paravirt has no
 * number: libxl refuses it (planCreate does the same, before anything is created).
 */
export const TSC_MODE_NUMBER: Readonly<Record<Exclude<TscMode, 'native_paravirt'>, 0 | 1 | 2>> = {
  default: 0,
  always_emulate: 1,
  native: 2,
};

/**
 * xc_cpuid_apply_policy's itsc (advertise an invariant TSC) as libxl__cpuid_legacy (libxl_cpuid.c,
 * 4.17) decides it: when the domain will not migrate (its TSC only has to be invariant on this
 * host), or when its TSC is always emulated (an emulated TSC is invariant wherever it runs).
 */
export function cpuidItsc(req: Pick<CreateRequest, 'tscMode' | 'disableMigrate'>): boolean {
  return req.disableMigrate === true || req.tscMode === 'always_emulate';
}

/** libxl's LIBXL_MEMKB_DEFAULT resolution: 32 MiB when neither memory nor maxmem is set. */
const DEFAULT_MEM_MIB = 32;

export function resolveCreate(cfg: DomainConfig, opts: { uuid: string; paused: boolean; hvm?: HvmOptions }): CreateRequest {
  const where = cfg.source;
  const targetMiB = cfg.memory ?? cfg.maxmem ?? DEFAULT_MEM_MIB;
  const maxMiB = cfg.maxmem ?? targetMiB;
  if (maxMiB < targetMiB) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${where}: maxmem (${maxMiB} MiB) is smaller than memory (${targetMiB} MiB)`);
  }
  const maxVcpus = cfg.maxvcpus ?? cfg.vcpus;
  if (cfg.vcpus > maxVcpus) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${where}: vcpus (${cfg.vcpus}) is larger than maxvcpus (${maxVcpus})`);
  }
  const wantsPci = cfg.pci.length > 0;
  // libxl__domain_config_setdefault: passthrough defaults to enabled iff there are devices;
  // "enabled" becomes sync_pt for PV (libxl_x86.c libxl__arch_passthrough_mode_setdefault).
  const requested = cfg.passthrough ?? (wantsPci ? 'enabled' : 'disabled');
  if (requested === 'disabled' && wantsPci) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${where}: passthrough="disabled" but pci=[...] lists devices`);
  }
  let passthrough: CreateRequest['passthrough'];
  if (requested === 'disabled') passthrough = 'disabled';
  else if (cfg.type === 'pv') {
    if (requested === 'share_pt') throw new XentoolError('ERR_CONFIG_VALUE', `${where}: passthrough="share_pt" is not supported for PV guests`);
    passthrough = 'sync_pt';
  } else passthrough = requested === 'enabled' ? 'share_pt' : requested;
  return {
    source: where,
    name: cfg.name,
    uuid: cfg.uuid ?? opts.uuid,
    type: cfg.type,
    targetMemKiB: targetMiB * 1024,
    maxMemKiB: maxMiB * 1024,
    vcpus: cfg.vcpus,
    maxVcpus,
    kernel: cfg.kernel,
    ramdisk: cfg.ramdisk,
    cmdline: cfg.cmdline,
    passthrough,
    passthroughAsked: cfg.passthrough,
    onPoweroff: cfg.on_poweroff,
    onReboot: cfg.on_reboot,
    onCrash: cfg.on_crash,
    pci: cfg.pci,
    paused: opts.paused,
    hvm: cfg.type === 'hvm' ? (opts.hvm ?? DEFAULT_HVM_OPTIONS) : null,
    device_model_version: cfg.device_model_version,
    // libxl reads u.pv.e820_host for PV guests only.
    e820Host: cfg.type === 'pv' && cfg.e820_host,
    tscMode: cfg.tsc_mode ?? 'default',
    disableMigrate: cfg.nomigrate,
  };
}
