/**
 * The real host, whole: RealHost (domains and host facts over libxenctrl), the PCI hypervisor
 * calls, xenstored through the wire-protocol client, dom0's /sys, and QMP to each HVM guest's
 * QEMU at /var/run/xen/qmp-libxl-<domid> (where libxl 4.17 puts it).
 */
import { Sysfs, detectDom0Usage, type Dom0Usage } from '@xentool/pciback';
import type { XcInterface } from '@xentool/libxc-bindings';
import type { XenstoreClient } from '@xentool/xenstore';
import type { DomainRecord, Host, HostInfo } from '../host';
import type { PciHost } from '../../pci/pci-host';
import { QmpClient } from '../../qmp/qmp-client';
import type { Xs } from '../../xs/xs';
import { xsFromClient } from '../../xs/xs-client';
import { XEN_LIB_DIR } from '../../domain/libxl-userdata';
import { RealHost } from './real-host';
import { RealPciHypervisor } from './real-pci-hypervisor';

export interface RealXenHostOptions {
  xc: XcInterface;
  xenstore: XenstoreClient;
  sysRoot?: string;
  procRoot?: string;
  runDir?: string;
  /** libxl's XEN_LIB_DIR (the domains' stored configs), default /var/lib/xen. */
  xenLibDir?: string;
}

export class RealXenHost implements Host, PciHost {
  readonly kind = 'real' as const;
  readonly xs: Xs;
  readonly hv: RealPciHypervisor;
  readonly sysfs: Sysfs;
  private readonly proc: Sysfs;
  private readonly base: RealHost;
  private readonly runDir: string;
  private readonly xc: XcInterface;
  readonly xenLibDir: string;

  constructor(o: RealXenHostOptions) {
    this.xc = o.xc;
    this.xs = xsFromClient(o.xenstore);
    this.base = new RealHost({ xc: o.xc, xenstore: { read: (p) => this.xs.read(p), close: () => this.xs.close() } });
    this.hv = new RealPciHypervisor(o.xc);
    this.sysfs = new Sysfs({ root: o.sysRoot ?? '/sys' });
    this.proc = new Sysfs({ root: o.procRoot ?? '/proc' });
    this.runDir = o.runDir ?? '/var/run/xen';
    this.xenLibDir = o.xenLibDir ?? XEN_LIB_DIR;
  }

  info(): Promise<HostInfo> {
    return this.base.info();
  }

  domains(): Promise<DomainRecord[]> {
    return this.base.domains();
  }

  dom0Usage(): Dom0Usage[] {
    return detectDom0Usage(this.sysfs, this.proc);
  }

  async iommuEnabled(): Promise<boolean> {
    return this.xc.physinfo().capabilities.directio;
  }

  qmp(domid: number): Promise<QmpClient> {
    return QmpClient.connect(`${this.runDir}/qmp-libxl-${domid}`);
  }

  close(): Promise<void> {
    return this.base.close();
  }
}
