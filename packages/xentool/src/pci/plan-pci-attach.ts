/**
 * Plans `pci-attach`: every check first, then the steps. The order, and why:
 *  1. (seize) bind to pciback — nothing else can happen while dom0's driver owns the device.
 *  2. record `/libxl/pci/<bdf>/domid` — from here xl and other xentool runs see the device as
 *     taken, so a concurrent attach elsewhere is refused instead of racing us.
 *  3. reset — the guest must get the device clean; a failure is a warning (pciback resets on
 *     release too), as in libxl, but it is reported.
 *  4. ioport/iomem/irq permissions — must exist before the guest or QEMU maps BARs.
 *  5. (permissive) pciback permissive.
 *  6. xc_assign_device — the IOMMU context must point at the guest before the guest can see the
 *     device (libxl 4.17 does QEMU device_add first for HVM; a guest could then start DMA before
 *     the IOMMU is programmed).
 *  7. PV: backend nodes + Reconfiguring, then wait until pciback has exported it and pcifront has
 *     reconnected; HVM: QMP device_add (qemu-traditional: `pci-ins` through xenstore, its
 *     answer put back to `running`), then the backend record that `pci-list` reads.
 *     Just before the backend record (libxl writes both in one go, in libxl__device_pci_add_xenstore):
 *     the device goes into the domain's stored config for xl (`pcidevs`, under libxl's userdata
 *     lock), unless the domain is being created (its config is stored whole once creation is
 *     done, as libxl does). By then the guest slot is known (HVM: QEMU's choice).
 */
import { XentoolError } from '../errors';
import type { Plan, Step } from '../plan/plan';
import type { DeviceView, DomainView, TestAssign } from './view';
import type { Bdf } from './types';
import { bdfText, bdfUnpadded, sameBdf } from './types';

export interface AttachRequest {
  bdf: Bdf;
  /** Requested guest slot (0..0x1f), if any. */
  vslot?: number;
  /** Guest function within the slot (multi-function attach); 0 otherwise, as libxl forces it. */
  vfunc?: number;
  /**
   * libxl_device_pci's vfunc_mask as the stored config records it: 1 for one function (what
   * xl's spec parser gives); for one function of a multi-function attach, 1 << func, the value
   * with which libxl's re-create puts the function back at guest function `func`.
   */
  vfuncMask?: number;
  permissive: boolean;
  msitranslate: boolean;
  powerMgmt: boolean;
  seize: boolean;
  rdmPolicy: 'strict' | 'relaxed';
  name?: string;
  /** Attach even if dom0 uses the device (`--force`). */
  force: boolean;
  timeoutMs: number;
  /**
   * The domain is being created and is still paused (`create` with pci=[...]): its pcifront
   * only connects once it boots, so the PV backend is written without waiting for it, as libxl
   * does for devices added at creation (libxl_pci.c, `starting`).
   */
  starting?: boolean;
}

export interface AttachView {
  domain: DomainView;
  device: DeviceView;
  testAssign: TestAssign;
  /** Host IOMMU present (physinfo `hvm_directio`). */
  iommu: boolean;
  /** Co-assignment partners: who uses each one (undefined = nobody). */
  partnersUsedBy: (number | undefined)[];
}

export function planPciAttach(req: AttachRequest, v: AttachView): Plan {
  const { domain: d, device: dev } = v;
  const b = bdfText(req.bdf);
  const title = `pci-attach ${d.name ?? d.domid} ${b}`;
  const refuse = (code: string, msg: string): never => {
    throw new XentoolError(code, msg);
  };

  if (!dev.exists) refuse('ERR_DEVICE_NOT_FOUND', `PCI device ${b} does not exist on this host`);
  if (d.dying) refuse('ERR_DOMAIN_DYING', `domain ${d.domid} is being destroyed`);
  if (d.domid === 0) refuse('ERR_DOMAIN_IS_DOM0', `cannot pass a device through to dom0`);
  if (!v.iommu) refuse('ERR_NO_IOMMU', `PCI device ${b} cannot be assigned: this host has no IOMMU enabled (Xen reports no hvm_directio)`);
  if (d.attached.some((a) => sameBdf(a, req.bdf))) refuse('ERR_ALREADY_ATTACHED', `PCI device ${b} is already attached to domain ${d.domid}`);
  if (dev.usedBy !== undefined) {
    refuse('ERR_DEVICE_IN_USE', `PCI device ${bdfUnpadded(req.bdf)} is not assignable: it is attached to domain ${dev.usedBy}`);
  }
  if (dev.driver !== 'pciback' && !req.seize) {
    refuse(
      'ERR_DEVICE_NOT_ASSIGNABLE',
      `PCI device ${bdfUnpadded(req.bdf)} is not assignable: it is ${dev.driver ? `bound to ${dev.driver}` : 'not bound to pciback'}; run 'xentool pci-assignable-add ${b}' first, or pass seize=1`,
    );
  }
  const blocker = dev.blockers.find((x) => !(req.force && x.code === 'IN_USE_BY_DOM0'));
  if (blocker) refuse('ERR_DEVICE_NOT_ASSIGNABLE', `PCI device ${b} cannot be assigned: ${blocker.message}`);
  dev.coAssign.forEach((p, i) => {
    const user = v.partnersUsedBy[i];
    if (user !== undefined && user !== d.domid) {
      refuse(
        'ERR_CO_ASSIGNMENT',
        `PCI device ${b} must be assigned to the same domain as ${bdfText(p)}, which is attached to domain ${user} (conventional PCI devices behind one PCIe-to-PCI bridge, or functions of a device without FLR, share one IOMMU context)`,
      );
    }
  });
  if (!v.testAssign.ok) {
    if (v.testAssign.code === 'EOPNOTSUPP') {
      refuse(
        'ERR_PASSTHROUGH_DISABLED',
        `PCI device ${b} cannot be assigned to domain ${d.domid}: the domain was created without an IOMMU context (set passthrough="enabled" in its config and recreate it)`,
      );
    }
    refuse('ERR_DEVICE_NOT_ASSIGNABLE', `PCI device ${b} cannot be assigned: Xen reports it already assigned, or non-existent (${v.testAssign.code})`);
  }
  if (req.vslot !== undefined) {
    const taken = d.hvm
      ? (d.usedSlots ?? []).includes(req.vslot)
      : d.attached.some((a) => a.vdevfn !== undefined && a.vdevfn >> 3 === req.vslot);
    if (taken) refuse('ERR_SLOT_TAKEN', `virtual slot 0x${req.vslot.toString(16)} of domain ${d.domid} is already in use`);
  }
  refuseUnsupportedDm(d);

  const steps: Step[] = [];
  if (dev.driver !== 'pciback') {
    steps.push({ op: 'pciback.seize', bdf: b, why: 'seize=1: dom0 must let go before anything else' });
  }
  steps.push({ op: 'libxl.setDomid', bdf: b, domid: d.domid, why: 'claims the device early so xl and other xentool runs see it taken' });
  steps.push({ op: 'pci.reset', bdf: b, why: 'the guest gets the device in a clean state' });
  steps.push(...permissionSteps(d.domid, dev, true));
  if (req.permissive) steps.push({ op: 'pciback.permissive', bdf: b, why: 'permissive=1 asked for' });
  steps.push({
    op: 'xc.assign',
    domid: d.domid,
    bdf: b,
    relaxed: req.rdmPolicy === 'relaxed',
    why: 'the IOMMU must map the device to the guest before the guest can see it',
  });
  const opts = `msitranslate=${+req.msitranslate},power_mgmt=${+req.powerMgmt},permissive=${+req.permissive},rdm_policy=${req.rdmPolicy}`;
  const vdevfn = req.vslot === undefined ? undefined : (req.vslot << 3) | (req.vfunc ?? 0);
  const stored: Step[] = req.starting
    ? []
    : [
        {
          op: 'libxl.pcidevAdd',
          domid: d.domid,
          bdf: b,
          hvm: d.hvm,
          ...(d.hvm && d.deviceModel === 'qemu-xen-traditional' ? { dm: 'qemu-xen-traditional' } : {}),
          ...(!d.hvm && vdevfn !== undefined ? { vdevfn } : {}),
          vfuncMask: req.vfuncMask ?? 1,
          msitranslate: req.msitranslate,
          powerMgmt: req.powerMgmt,
          permissive: req.permissive,
          seize: req.seize,
          rdmPolicy: req.rdmPolicy,
          ...(req.name ? { name: req.name } : {}),
          why: "xl's later commands on this domain (save, migrate, its reboot) work from libxl's stored config, which libxl updates with the backend record; a domain being created gets its config stored whole at the end of creation",
        },
      ];
  if (d.hvm && d.deviceModel === 'qemu-xen-traditional') {
    steps.push({
      op: 'qemuTrad.pciIns',
      domid: d.domid,
      bdf: b,
      ...(vdevfn !== undefined ? { vdevfn } : {}),
      msitranslate: req.msitranslate,
      powerMgmt: req.powerMgmt,
      timeoutMs: req.timeoutMs,
      why: 'qemu-dm exposes the device to the guest (ACPI hot-plug) and answers with the guest devfn it used',
    });
    steps.push({ op: 'qemuTrad.resume', domid: d.domid, why: "qemu-dm's answer is put back to running, as libxl does, so that the next command finds it idle" });
    steps.push(...stored);
    steps.push({
      op: 'backend.add',
      domid: d.domid,
      bdf: b,
      hvm: true,
      dm: 'qemu-xen-traditional',
      opts,
      ...(req.name ? { name: req.name } : {}),
      why: 'the record pci-list and xl read, with the devfn qemu-dm reported',
    });
  } else if (d.hvm) {
    steps.push({
      op: 'hvm.deviceAdd',
      domid: d.domid,
      bdf: b,
      ...(vdevfn !== undefined ? { vdevfn } : {}),
      permissive: req.permissive,
      timeoutMs: req.timeoutMs,
      why: 'QEMU exposes the device to the guest (ACPI hot-plug)',
    });
    steps.push(...stored);
    steps.push({ op: 'backend.add', domid: d.domid, bdf: b, hvm: true, opts, ...(req.name ? { name: req.name } : {}), why: 'the record pci-list and xl read' });
  } else {
    steps.push(...stored);
    steps.push({
      op: 'backend.add',
      domid: d.domid,
      bdf: b,
      hvm: false,
      opts,
      ...(vdevfn !== undefined ? { vdevfn } : {}),
      ...(req.name ? { name: req.name } : {}),
      timeoutMs: req.timeoutMs,
      ...(req.starting ? { starting: true } : {}),
      why: req.starting
        ? 'pciback exports the device when pcifront connects at boot (the domain is still paused)'
        : 'pciback exports the device and pcifront rescans (Reconfiguring dance)',
    });
  }
  return { title, steps, warnings: [...dev.warnings] };
}

/**
 * HVM device models xentool drives: qemu-xen over QMP, and qemu-traditional through its xenstore
 * commands when it runs in dom0. A stub-domain device model would need the device passed to the
 * stub domain first (libxl's do_pci_add recursion), which is not done.
 */
export function refuseUnsupportedDm(d: DomainView): void {
  if (!d.hvm) return;
  if (d.deviceModel !== 'qemu-xen' && d.deviceModel !== 'qemu-xen-traditional') {
    throw new XentoolError('ERR_UNSUPPORTED_DM', `domain ${d.domid} uses ${d.deviceModel}; only qemu-xen and qemu-xen-traditional device models are supported for hot-plug`);
  }
  if (d.stubdomId !== undefined) {
    throw new XentoolError('ERR_UNSUPPORTED_DM', `domain ${d.domid}'s device model runs in stub domain ${d.stubdomId}; PCI hot-plug through a stub domain is not supported`);
  }
}

/**
 * ioport/iomem grants (or revocations) for every BAR and the ROM, and the IRQ. Classified by the
 * IORESOURCE_IO (0x100) / IORESOURCE_MEM (0x200) bits, not libxl's `flags & 1`, which takes an
 * enabled ROM for an I/O range. Frames cover every page the range touches, 64-bit exact (libxl
 * 4.17 truncated 64-bit BARs on PV detach: XSA-476).
 */
export function permissionSteps(domid: number, dev: DeviceView, allow: boolean): Step[] {
  const steps: Step[] = [];
  for (const r of dev.resources) {
    if (r.start === 0n && r.end === 0n) continue;
    if (r.flags & 0x100n) {
      steps.push({ op: 'xc.ioport', domid, first: Number(r.start), nr: Number(r.end - r.start + 1n), allow });
    } else if (r.flags & 0x200n) {
      const first = r.start >> 12n;
      const nr = (r.end >> 12n) - first + 1n;
      steps.push({ op: 'xc.iomem', domid, first: first.toString(), nr: nr.toString(), allow });
    }
  }
  if (dev.irq > 0) steps.push({ op: allow ? 'xc.grantIrq' : 'xc.revokeIrq', domid, irq: dev.irq });
  return steps;
}
