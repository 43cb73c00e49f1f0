/** DomainOps on real Xen: libxenctrl and libxenguest through @xentool/libxc-bindings. */
import { constants as fsc, promises as fs } from 'node:fs';
import type { XcInterface } from '@xentool/libxc-bindings';
import type { XenstoreClient } from '@xentool/xenstore';
import type { DomainRecord } from '../host/host';
import type { Xs } from '../xs/xs';
import type { BuildPvArgs, CreateDomainArgs, DomainOps, HostFacts, ShutdownCode } from './domain-ops';

export class RealDomainOps implements DomainOps {
  readonly kind = 'real' as const;

  constructor(
    private readonly xc: XcInterface,
    private readonly xenstore: XenstoreClient,
    readonly xs: Xs,
    private readonly listDomains: () => Promise<DomainRecord[]>,
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
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) return false;
      await fs.access(file, fsc.R_OK);
      return true;
    } catch {
      return false;
    }
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

  async buildPre(domid: number, a: { maxVcpus: number; maxMemKiB: number; memmapLimitKiB: number }): Promise<{ storePort: number; consolePort: number }> {
    const { evtchnAllocUnbound, setMemmapLimit, setTscInfo, cpuidApplyPolicy } = await import('@xentool/libxc-bindings');
    this.xc.setMaxVcpus(domid, a.maxVcpus);
    this.xc.setMaxMem(domid, a.maxMemKiB);
    // Both ports are unbound in the guest with dom0 as the remote end: xenstored and
    // xenconsoled run in dom0 here (libxl reads /tool/xenstored/domid for stub domains).
    const storePort = evtchnAllocUnbound(this.xc, domid, 0);
    const consolePort = evtchnAllocUnbound(this.xc, domid, 0);
    // libxl ignores this call's result (libxl_x86.c libxl__arch_domain_create); so do we.
    try {
      setMemmapLimit(this.xc, domid, a.memmapLimitKiB);
    } catch {
      /* see above */
    }
    setTscInfo(this.xc, domid, 0);
    // libxl__cpuid_legacy: pae is always true for PV; itsc follows tsc_mode (default: off).
    cpuidApplyPolicy(this.xc, domid, { pae: true, itsc: false, nestedVirt: false });
    return { storePort, consolePort };
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
