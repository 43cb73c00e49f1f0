/** DomainOps on real Xen: libxenctrl and libxenguest through @xentool/libxc-bindings. */
import { spawn } from 'node:child_process';
import { closeSync, openSync, promises as fs } from 'node:fs';
import type { XcInterface } from '@xentool/libxc-bindings';
import type { XenstoreClient } from '@xentool/xenstore';
import type { DomainRecord } from '../host/host';
import type { Xs } from '../xs/xs';
import type { QmpClient } from '../qmp/qmp-client';
import type { BuildHvmArgs, BuildPreArgs, BuildPvArgs, CreateDomainArgs, DomainOps, HostFacts, ShutdownCode, SpawnDm } from './domain-ops';
import { readableFile } from './readable-file';
import { XEN_LIB_DIR } from './libxl-userdata';
import type { E820Entry } from './e820-host';

export class RealDomainOps implements DomainOps {
  readonly kind = 'real' as const;

  constructor(
    private readonly xc: XcInterface,
    private readonly xenstore: XenstoreClient,
    readonly xs: Xs,
    private readonly listDomains: () => Promise<DomainRecord[]>,
    private readonly qmpOf: (domid: number) => Promise<QmpClient>,
    /** Where QEMU's QMP sockets live (/var/run/xen). */
    private readonly runDir = '/var/run/xen',
    /** libxl's XEN_LIB_DIR (userdata files). */
    readonly xenLibDir = XEN_LIB_DIR,
  ) {}

  async facts(): Promise<HostFacts> {
    const p = this.xc.physinfo();
    const c = p.capabilities;
    return {
      freeKiB: (p.freePages - p.outstandingPages) * 4,
      caps: { pv: c.pv, hvm: c.hvm, directio: c.directio, gnttabV1: c.gnttabV1, gnttabV2: c.gnttabV2 },
    };
  }

  domains(): Promise<DomainRecord[]> {
    return this.listDomains();
  }

  async readable(file: string): Promise<boolean> {
    return readableFile(file);
  }

  async createDomain(a: CreateDomainArgs): Promise<number> {
    return this.xc.createDomain({
      type: a.type,
      uuid: a.uuid,
      maxVcpus: a.maxVcpus,
      passthrough: a.passthrough === 'disabled' ? false : a.passthrough,
      maxGrantVersion: a.maxGrantVersion,
      // libxl: 1023 event channels; -1 grant/maptrack frames = the hypervisor's defaults.
      maxEvtchnPort: 1023,
      maxGrantFrames: -1,
      maxMaptrackFrames: -1,
    });
  }

  async buildPre(domid: number, a: BuildPreArgs): Promise<{ storePort: number; consolePort: number }> {
    const { evtchnAllocUnbound, setMemmapLimit, setTscInfo, cpuidApplyPolicy, hvmParamSet, setPagingMempoolSize, HVM_PARAM } = await import('@xentool/libxc-bindings');
    this.xc.setMaxVcpus(domid, a.maxVcpus);
    this.xc.setMaxMem(domid, a.maxMemKiB);
    // Both ports are unbound in the guest with dom0 as the remote end: xenstored and
    // xenconsoled run in dom0 here (libxl reads /tool/xenstored/domid for stub domains).
    const storePort = evtchnAllocUnbound(this.xc, domid, 0);
    const consolePort = evtchnAllocUnbound(this.xc, domid, 0);
    if (a.hvm) {
      // libxl_x86.c hvm_set_conf_params with xl's defaults (hpet=1, vpt_align=1, timer_mode
      // no_delay_for_missed_ticks, altp2m off); no memmap limit for HVM.
      hvmParamSet(this.xc, domid, HVM_PARAM.HPET_ENABLED, 1);
      hvmParamSet(this.xc, domid, HVM_PARAM.VPT_ALIGN, 1);
      hvmParamSet(this.xc, domid, HVM_PARAM.TIMER_MODE, 1);
      hvmParamSet(this.xc, domid, HVM_PARAM.ALTP2M, 0);
      // libxl__arch_domain_create: the TSC mode after the HVM parameters, before the paging pool.
      setTscInfo(this.xc, domid, a.tscMode);
      setPagingMempoolSize(this.xc, domid, BigInt(a.hvm.pagingMempoolKiB) << 10n);
      // libxl__cpuid_legacy: pae is the config's (xl's default 1; xentool does not read pae=).
      cpuidApplyPolicy(this.xc, domid, { pae: true, itsc: a.itsc, nestedVirt: false });
      return { storePort, consolePort };
    }
    // libxl ignores this call's result (libxl_x86.c libxl__arch_domain_create); so do we.
    try {
      setMemmapLimit(this.xc, domid, a.memmapLimitKiB);
    } catch {
      /* see above */
    }
    setTscInfo(this.xc, domid, a.tscMode);
    // libxl__cpuid_legacy: pae is always true for PV; itsc as the plan worked it out.
    cpuidApplyPolicy(this.xc, domid, { pae: true, itsc: a.itsc, nestedVirt: false });
    return { storePort, consolePort };
  }

  async machineMemoryMap(): Promise<E820Entry[]> {
    return this.xc.machineMemoryMap();
  }

  async setMemoryMap(domid: number, map: readonly E820Entry[]): Promise<void> {
    this.xc.setMemoryMap(domid, map);
  }

  async buildPv(domid: number, a: BuildPvArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }> {
    const { buildPvImage } = await import('@xentool/libxc-bindings');
    const r = await buildPvImage(this.xc, {
      domid,
      kernel: a.kernel,
      ...(a.ramdisk !== null ? { ramdisk: a.ramdisk } : {}),
      ...(a.cmdline !== null ? { cmdline: a.cmdline } : {}),
      memMiB: a.memMiB,
      maxVcpus: a.maxVcpus,
      consoleEvtchn: a.consolePort,
      xenstoreEvtchn: a.storePort,
      ...(a.onStep ? { onStep: a.onStep } : {}),
    });
    return { storeMfn: r.storeMfn, consoleMfn: r.consoleMfn };
  }

  async buildHvm(domid: number, a: BuildHvmArgs): Promise<{ storeMfn: bigint; consoleMfn: bigint }> {
    const { buildHvmImage } = await import('@xentool/libxc-bindings');
    const r = await buildHvmImage(this.xc, {
      domid,
      firmware: a.firmware,
      systemFirmware: await fs.readFile(a.systemFirmware),
      memKiB: a.memKiB,
      targetKiB: a.targetKiB,
      memInitMiB: a.memInitMiB,
      maxVcpus: a.maxVcpus,
      vcpus: a.vcpus,
      consoleEvtchn: a.consolePort,
      xenstoreEvtchn: a.storePort,
      ...(a.onStep ? { onStep: a.onStep } : {}),
    });
    return { storeMfn: r.xenstorePfn, consoleMfn: r.consolePfn };
  }

  /**
   * libxl__spawn_local_dm: stdin /dev/null, stdout and stderr to the log (appended), its own
   * session, XEN_QEMU_CONSOLE_LIMIT and XEN_DOMAIN_ID in the environment.
   */
  async spawnDeviceModel(_domid: number, a: SpawnDm): Promise<number> {
    await fs.mkdir(this.runDir, { recursive: true });
    const log = openSync(a.logFile, 'a');
    try {
      const child = spawn(a.binary, a.argv, { detached: true, stdio: ['ignore', log, log], env: { ...process.env, ...a.env } });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('spawn', () => resolve(child.pid!));
      });
      child.unref();
      return pid;
    } finally {
      closeSync(log);
    }
  }

  async killDeviceModel(domid: number, pid: number | undefined): Promise<void> {
    if (pid !== undefined && pid > 1) {
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const deadline = Date.now() + 10_000;
      while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (alive()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone meanwhile */
        }
      }
    }
    // libxl__qmp_cleanup: QEMU leaves its sockets behind.
    for (const f of [`qmp-libxl-${domid}`, `qmp-libxenstat-${domid}`]) await fs.rm(`${this.runDir}/${f}`, { force: true });
  }

  async pvControlAvailable(domid: number): Promise<boolean> {
    const { hvmParamGet, HVM_PARAM } = await import('@xentool/libxc-bindings');
    return hvmParamGet(this.xc, domid, HVM_PARAM.CALLBACK_IRQ) !== 0n;
  }

  qmp(domid: number): Promise<QmpClient> {
    return this.qmpOf(domid);
  }

  introduce(domid: number, storeMfn: bigint, storePort: number): Promise<void> {
    return this.xenstore.introduceDomain(domid, storeMfn, storePort);
  }

  async consoleNodesWritten(): Promise<void> {}

  async pause(domid: number): Promise<void> {
    this.xc.pause(domid);
  }

  async unpause(domid: number): Promise<void> {
    this.xc.unpause(domid);
  }

  async remoteShutdown(domid: number, code: ShutdownCode): Promise<void> {
    this.xc.shutdown(domid, code);
  }

  destroyDomain(domid: number): Promise<void> {
    return this.xc.destroy(domid);
  }

  async close(): Promise<void> {}
}
