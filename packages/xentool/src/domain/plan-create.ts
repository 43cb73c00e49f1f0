/**
 * The creation plan: a pure function of the request and what was observed of the host. Every
 * check that can fail without touching the host runs here, so a bad config (missing kernel,
 * more memory than is free, a name in use, passthrough without an IOMMU) fails before anything
 * is created. The order of the steps is libxl 4.17's (libxl_create.c initiate_domain_create →
 * libxl__domain_make → libxl__build_pre/_pv/_post → domcreate_launch_dm → attach devices →
 * unpause); the reason for each position is written beside it.
 */
import { XentoolError } from '../errors';
import type { Plan, Step } from '../plan/plan';
import { type CreateRequest, TSC_MODE_NUMBER, cpuidItsc } from './create-request';
import { QEMU_XEN, qemuXenArgv } from './hvm-options';
import { type E820Entry, e820HostMap, e820ToJson } from './e820-host';
import { LIBXL_JSON, libxlDomainConfig } from './libxl-userdata';

export interface CreateObservation {
  /** Names of existing domains. */
  names: string[];
  /** free_memory as `xl info` reports it, KiB. */
  freeKiB: number;
  caps: { pv: boolean; hvm: boolean; directio: boolean; gnttabV1: boolean; gnttabV2: boolean };
  /** Files the config names, and whether each is a readable regular file. */
  files: Record<string, boolean>;
  /** The host's memory map, read when the request has e820_host. */
  machineMemoryMap?: E820Entry[];
}

/** libxl's LIBXL_MAXMEM_CONSTANT: setmaxmem gets target + 1 MiB of slack. */
export const MAXMEM_SLACK_KIB = 1024;

export function planCreate(req: CreateRequest, obs: CreateObservation): Plan {
  const at = req.source;
  if (req.type === 'hvm') return planCreateHvm(req, obs);
  if (req.type !== 'pv') {
    throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: type="${req.type}": only PV and HVM guests can be created (PVH is not implemented yet)`);
  }
  if (!obs.caps.pv) throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: this hypervisor does not support PV guests`);
  if (req.kernel === null) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${at}: a PV guest needs kernel= (bootloaders such as pygrub are not supported)`);
  }
  checkFiles(req, obs, []);
  commonChecks(req, obs);

  const steps: Step[] = [
    ...headSteps(req, obs, 'claims the name at once (a second create of the same name now fails) and gives the guest its own nodes, as libxl__domain_make does before building'),
    buildPreStep(req, {}, 'max_vcpus must equal createdomain, setmaxmem must precede populating memory, and the store/console event channels must exist before the image records them in start_info'),
    ...(req.e820Host ? [e820HostStep(req, obs)] : []),
    {
      op: 'domain.build-pv',
      kernel: req.kernel,
      ramdisk: req.ramdisk,
      cmdline: req.cmdline,
      memMiB: Math.floor(req.targetMemKiB / 1024),
      maxVcpus: req.maxVcpus,
      why: 'libxenguest loads the kernel and initrd, builds the page tables and start_info, and seeds grants 0 (console) and 1 (xenstore)',
    },
    buildPostStep(req, { kernel: req.kernel, ramdisk: req.ramdisk, cmdline: req.cmdline }, {}, 'memory/, store/ and cpu/ nodes must exist before the guest connects to xenstore'),
    {
      op: 'xs.introduce',
      why: 'xenstored maps the store ring (oxenstored by its MFN, C xenstored by grant 1) and fires @introduceDomain, which is also what makes xenconsoled look at the guest',
    },
    {
      op: 'console.add',
      timeoutMs: 10_000,
      why: 'xenconsoled needs console/ring-ref and port; libxl waits up to 10 s for it to publish console/tty and fails the creation otherwise',
    },
    ...tailSteps(req, {
      attachWhy: 'devices are attached while the guest is still paused, so pcifront finds them at boot',
      unpause: { why: 'last: the guest runs only once everything it reads at boot exists' },
    }),
  ];
  return { title: `create ${req.name}`, steps };
}

/**
 * e820_host (e820-host.ts): the guest's memory map from the host's, computed here so that -N
 * shows it. No undo of its own: the map lives and dies with the domain (domain.create's undo).
 */
function e820HostStep(req: CreateRequest, obs: CreateObservation): Step {
  if (!obs.machineMemoryMap) throw new XentoolError('ERR_INTERNAL', `${req.source}: the host memory map was not read`);
  const map = e820HostMap(obs.machineMemoryMap, { targetKiB: req.targetMemKiB, maxKiB: req.maxMemKiB }, req.source);
  return {
    op: 'domain.e820-host',
    map: e820ToJson(map),
    why: 'e820_host (xl turns it on for a PV guest with pci=): the guest must see the host’s reserved and ACPI regions, or it may take a hole below 4 GiB for free PCI space and place a BAR there; after build-pre, whose memmap limit wrote the one-entry map this replaces (libxl__arch_domain_create does the same), and before the guest first runs and reads it',
  };
}

/** Every file the guest needs (kernel, ramdisk, and the type's own) must be readable. */
function checkFiles(req: CreateRequest, obs: CreateObservation, more: readonly (readonly [string, string | null])[]): void {
  const files: (readonly [string, string | null])[] = [['kernel', req.kernel], ['ramdisk', req.ramdisk], ...more];
  for (const [key, file] of files) {
    if (file !== null && !obs.files[file]) throw new XentoolError('ERR_CONFIG_FILE', `${req.source}: ${key} file ${file} does not exist or is not readable`);
  }
}

/** The checks every type shares: name, free memory, IOMMU. */
function commonChecks(req: CreateRequest, obs: CreateObservation): void {
  const at = req.source;
  if (obs.names.includes(req.name)) throw new XentoolError('ERR_DOMAIN_EXISTS', `domain with name "${req.name}" already exists.`);
  // The guest gets target pages now; the rest of maxmem is only a limit.
  if (req.targetMemKiB > obs.freeKiB) {
    throw new XentoolError(
      'ERR_CREATE_NO_MEMORY',
      `${at}: memory=${req.targetMemKiB / 1024} MiB is more than the host has free (${Math.floor(obs.freeKiB / 1024)} MiB)`,
    );
  }
  if (req.passthrough !== 'disabled' && !obs.caps.directio) {
    throw new XentoolError('ERR_NO_IOMMU', `${at}: passthrough needs an IOMMU, and this host has none enabled (xl info virt_caps lacks directio)`);
  }
  // xl parses it, then libxl__arch_domain_create fails the creation with ERROR_FEATURE_REMOVED
  // once the domain exists (and destroys it again); refused here, nothing is created at all.
  if (req.tscMode === 'native_paravirt') {
    throw new XentoolError(
      'ERR_FEATURE_REMOVED',
      `${at}: tsc_mode="native_paravirt": TSC mode native_paravirt (a.k.a. PVRDTSCP) has been removed from Xen; use default, always_emulate or native`,
    );
  }
}

/** domain.create and xs.skeleton, the same for every type but for the type and the skeleton's reason. */
function headSteps(req: CreateRequest, obs: CreateObservation, skeletonWhy: string): Step[] {
  return [
    {
      op: 'domain.create',
      type: req.type,
      uuid: req.uuid,
      maxVcpus: req.maxVcpus,
      passthrough: req.passthrough,
      // libxl: version 2 if the hypervisor offers it, else 1.
      maxGrantVersion: obs.caps.gnttabV2 ? 2 : 1,
      why: 'every later step needs the domid; the domain starts paused with no memory, so nothing runs until the unpause step',
    },
    { op: 'xs.skeleton', name: req.name, uuid: req.uuid, type: req.type, why: skeletonWhy },
  ];
}

/**
 * domain.build-pre: setmaxmem gets target + libxl's slack; the TSC mode as the number
 * xc_domain_set_tsc_info takes and the CPUID policy's invariant-TSC flag (commonChecks has
 * refused native_paravirt); `extra` holds the type's own fields.
 */
function buildPreStep(req: CreateRequest, extra: Record<string, unknown>, why: string): Step {
  if (req.tscMode === 'native_paravirt') throw new XentoolError('ERR_INTERNAL', `${req.source}: tsc_mode native_paravirt reached the plan`);
  return {
    op: 'domain.build-pre',
    maxVcpus: req.maxVcpus,
    maxMemKiB: req.targetMemKiB + MAXMEM_SLACK_KIB,
    memmapLimitKiB: req.maxMemKiB,
    tscMode: TSC_MODE_NUMBER[req.tscMode],
    itsc: cpuidItsc(req),
    ...extra,
    why,
  };
}

function buildPostStep(
  req: CreateRequest,
  files: { kernel: string | null; ramdisk: string | null; cmdline: string | null },
  extra: Record<string, unknown>,
  why: string,
): Step {
  return {
    op: 'xs.build-post',
    name: req.name,
    uuid: req.uuid,
    targetMemKiB: req.targetMemKiB,
    maxMemKiB: req.maxMemKiB,
    vcpus: req.vcpus,
    maxVcpus: req.maxVcpus,
    ...files,
    ...extra,
    why,
  };
}

/** pci.attach per device, the unpause (unless -p), and the monitor. */
function tailSteps(req: CreateRequest, o: { attachWhy: string; unpause: Record<string, unknown> & { why: string } }): Step[] {
  const steps: Step[] = req.pci.map((p) => ({ op: 'pci.attach', spec: p.spec, why: o.attachWhy }));
  steps.push({
    op: 'libxl.store-config',
    uuid: req.uuid,
    userid: LIBXL_JSON,
    config: libxlDomainConfig(req),
    why: 'libxl stores the domain config once creation is complete and before xl unpauses (domcreate_complete); xl reads it for every later device change (without it `xl pci-attach` fails with ERROR_JSON_CONFIG_EMPTY), so it is written after the create-time devices (libxl does not add those again) and before the guest runs',
  });
  if (!req.paused) steps.push({ op: 'domain.unpause', ...o.unpause });
  steps.push({
    op: 'monitor.start',
    name: req.name,
    onPoweroff: req.onPoweroff,
    onReboot: req.onReboot,
    onCrash: req.onCrash,
    why: 'Xen leaves a guest that shut itself down as a zombie; the monitor applies on_poweroff/on_reboot/on_crash as xl’s per-domain daemon does',
  });
  return steps;
}

/**
 * HVM with qemu-xen (domain-build.md §3): hvmloader + SeaBIOS built by libxenguest, QEMU started
 * by us while the domain is paused, devices attached through QMP, then QMP `cont` and unpause.
 * `-N` shows the QEMU command line with a placeholder domid (the real one is known at step 1).
 */
function planCreateHvm(req: CreateRequest, obs: CreateObservation): Plan {
  const at = req.source;
  const hvm = req.hvm;
  if (!hvm) throw new XentoolError('ERR_INTERNAL', `${at}: HVM settings were not read`);
  if (!obs.caps.hvm) throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: this hypervisor does not support HVM guests (no VT-x/SVM, or Xen built without HVM)`);
  if (req.device_model_version === 'qemu-xen-traditional') {
    throw new XentoolError('ERR_CREATE_UNSUPPORTED', `${at}: device_model_version="qemu-xen-traditional": only qemu-xen is supported for creation`);
  }
  checkFiles(req, obs, [
    ['firmware (hvmloader)', hvm.firmware],
    ['BIOS (SeaBIOS)', hvm.systemFirmware],
    ['device model', QEMU_XEN],
  ]);
  commonChecks(req, obs);
  if (req.targetMemKiB <= hvm.videoMemKiB) {
    throw new XentoolError('ERR_CONFIG_VALUE', `${at}: memory=${req.targetMemKiB / 1024} MiB leaves nothing beside ${hvm.videoMemKiB / 1024} MiB of video memory`);
  }
  const maxMiB = req.maxMemKiB / 1024;
  const qemuMemMiB = (req.maxMemKiB - hvm.videoMemKiB) / 1024;
  const steps: Step[] = [
    ...headSteps(req, obs, 'claims the name at once and gives the guest its own nodes (HVM adds hvmloader/ and the S3/S4 features)'),
    buildPreStep(
      req,
      // libxl__get_required_paging_memory with HAP: 4 * (256 * vcpus + maxmem in MiB) KiB.
      { pagingMempoolKiB: 4 * (256 * req.maxVcpus + maxMiB), hvm: true },
      'HVM parameters (HPET, timer mode, ...) and the HAP pool must be set before any memory is populated; the event channels before the builder records them',
    ),
    {
      op: 'domain.build-hvm',
      firmware: hvm.firmware,
      systemFirmware: hvm.systemFirmware,
      memKiB: req.maxMemKiB - hvm.videoMemKiB,
      targetKiB: req.targetMemKiB - hvm.videoMemKiB,
      // meminit_hvm refuses a total (xc_dom_mem_init) that differs from the low + high memory
      // it lays out ("vNUMA memory pages mismatch"): both are max_memkb - video_memkb (seen
      // on real Xen 4.17: target_memkb / 1024 fails with "can't allocate low memory").
      memInitMiB: Math.floor((req.maxMemKiB - hvm.videoMemKiB) / 1024),
      maxVcpus: req.maxVcpus,
      vcpus: req.vcpus,
      why: 'libxenguest loads hvmloader with SeaBIOS, populates memory below the MMIO hole, writes the E820 and hvm_info, and sets the store/console parameters',
    },
    buildPostStep(
      req,
      { kernel: null, ramdisk: null, cmdline: null },
      { videoMemKiB: hvm.videoMemKiB },
      'hvmloader reads platform/* and the guest its memory/ and store/ nodes before it runs',
    ),
    {
      op: 'xs.introduce',
      why: 'hvmloader talks to xenstored through the store page; introduce fires @introduceDomain for xenconsoled too',
    },
    {
      op: 'console.add',
      timeoutMs: 10_000,
      why: 'the PV console exists for HVM guests too (xenconsoled serves it)',
    },
    {
      op: 'dm.spawn',
      name: req.name,
      binary: QEMU_XEN,
      argv: qemuXenArgv({ domid: -1, name: req.name, hvm, kernel: req.kernel, ramdisk: req.ramdisk, cmdline: req.cmdline, maxVcpus: req.maxVcpus, vcpus: req.vcpus, memMiB: qemuMemMiB }),
      hvmOptions: hvm as unknown as Record<string, unknown>,
      kernel: req.kernel,
      ramdisk: req.ramdisk,
      cmdline: req.cmdline,
      maxVcpus: req.maxVcpus,
      vcpus: req.vcpus,
      memMiB: qemuMemMiB,
      timeoutMs: 120_000,
      why: 'QEMU emulates the platform hvmloader boots on; it must be running (device-model state "running") before devices are added over QMP and before the guest runs',
    },
    ...tailSteps(req, {
      attachWhy: 'QMP device_add while the guest is paused: the device is on the bus when the guest first scans it',
      unpause: { hvm: true, why: 'last: QMP cont, then the vCPUs run (libxl__dm_resume, then xc_domain_unpause)' },
    }),
  ];
  return { title: `create ${req.name}`, steps };
}
