/**
 * Can a device be given to a guest? Not a boolean: every reason, with a severity and a fix,
 * and the co-assignment group (the devices that have to move together). Pure over an
 * inventory snapshot, so the CLI, the planner and the tests all reason about the same data.
 *
 * Sources for the rules: xend's strict checks (toolstack-behaviour §1.8), the VT-d rule quoted
 * in the seed document, libxl's pciback and IGD checks (§2.4, §2.10), libvirt's reset check.
 */
import { canonicalBdf } from './bdf';
import type { Dom0Usage } from './dom0-usage-types';
import type { PciDevice } from './inventory';
import { KNOWN_QUIRKS, matchQuirks } from './quirks';
import type { QuirkEntry } from './quirks';

export type ReasonCode =
  | 'NO_DEVICE'
  | 'HOST_BRIDGE'
  | 'BRIDGE'
  | 'PCIBACK_NOT_LOADED'
  | 'NOT_PCIBACK'
  | 'ALREADY_ASSIGNED'
  | 'IN_USE_BY_DOM0'
  | 'COASSIGN_GROUP'
  | 'COASSIGN_NOT_PCIBACK'
  | 'COASSIGN_ASSIGNED'
  | 'NO_RESET'
  | 'QUIRK'
  | 'NO_ACS'
  | 'IOMMU_GROUP'
  | 'BAR_NOT_PAGE_ALIGNED';

export interface Reason {
  code: ReasonCode;
  severity: 'error' | 'warning';
  message: string;
  /** What to do about it; absent when nothing can be done. */
  fix?: string;
  /** Other devices the reason is about (group members, the holder of a resource). */
  related?: string[];
}

export interface Assessment {
  bdf: string;
  /** No reason of severity `error`. */
  assignable: boolean;
  reasons: Reason[];
  /** The devices that must be assigned to the same guest, this one included, in BDF order. */
  group: string[];
  /** Why the group is larger than the device, if it is. */
  groupRule?: 'behind-pci-bridge' | 'multifunction-without-flr';
}

export interface AssessOptions {
  /** Devices currently assigned to a guest (from xenstore / the toolstack's records): BDF → domid. */
  assigned?: ReadonlyMap<string, number>;
  /** The guest the device is meant for: group members already there are fine. */
  targetDomid?: number;
  dom0Usage?: readonly Dom0Usage[];
  /** Assign even if dom0 uses the device (the reason becomes a warning). */
  force?: boolean;
  /** Whether /bus/pci/drivers/pciback exists. */
  pcibackLoaded?: boolean;
  /** Replaces the built-in table. */
  quirks?: readonly QuirkEntry[];
  /** The command users run to make a device assignable, for fix hints. */
  prog?: string;
}

const CONVENTIONAL_BRIDGES = new Set(['pcie-to-pci-bridge', 'pci-bridge']);

/**
 * The co-assignment group.
 * - A conventional PCI device behind a PCIe-to-PCI (or PCI-PCI) bridge: the IOMMU sees all
 *   of them with the bridge's requester id, so every non-bridge device below the uppermost
 *   conventional bridge goes to the same guest (seed, VT-d spec). xend exempted devices with
 *   AF-FLR; that exemption is about reset, not DMA isolation, so we do not copy it.
 * - A multi-function device where any function lacks FLR: resetting that function means
 *   resetting the slot, so all functions move together (xend `find_all_the_multi_functions`).
 */
export function coAssignmentGroup(inv: readonly PciDevice[], bdfText: string): { group: string[]; rule?: Assessment['groupRule'] } {
  const bdf = canonicalBdf(bdfText);
  const byBdf = new Map(inv.map((d) => [d.bdf, d]));
  const d = byBdf.get(bdf);
  if (!d || d.isBridge) return { group: [bdf] };
  const members = new Set([bdf]);
  let rule: Assessment['groupRule'];
  if (d.pcie === null) {
    let top: string | undefined;
    for (let i = d.parents.length - 1; i >= 0; i--) {
      const p = byBdf.get(d.parents[i]!);
      if (!p || !CONVENTIONAL_BRIDGES.has(p.kind)) break;
      top = p.bdf;
      // A PCIe-to-PCI bridge is where requester ids get aliased; nothing above it matters.
      if (p.kind === 'pcie-to-pci-bridge') break;
    }
    if (top !== undefined) {
      for (const o of inv) if (!o.isBridge && o.parents.includes(top)) members.add(o.bdf);
      if (members.size > 1) rule = 'behind-pci-bridge';
    }
  }
  // Symmetric on purpose: the function without FLR is reset through the bus, which resets its
  // FLR-capable siblings too, so they belong to its group as much as it belongs to theirs.
  const slotLacksFlr = !d.flr || d.siblings.some((s) => byBdf.get(s)?.flr === false);
  if (d.siblings.length > 0 && slotLacksFlr) {
    const before = members.size;
    for (const s of d.siblings) if (!byBdf.get(s)?.isBridge) members.add(s);
    if (members.size > before && rule === undefined) rule = 'multifunction-without-flr';
  }
  const out: { group: string[]; rule?: Assessment['groupRule'] } = { group: [...members].sort() };
  if (rule) out.rule = rule;
  return out;
}

export function assessAssignability(inv: readonly PciDevice[], bdfText: string, opts: AssessOptions = {}): Assessment {
  const bdf = canonicalBdf(bdfText);
  const prog = opts.prog ?? 'xentool';
  const reasons: Reason[] = [];
  const d = inv.find((x) => x.bdf === bdf);
  if (!d) {
    reasons.push({
      code: 'NO_DEVICE',
      severity: 'error',
      message: `no PCI device ${bdf} on this host`,
      fix: `list the devices with \`${prog} pci-devices\``,
    });
    return { bdf, assignable: false, reasons, group: [bdf] };
  }
  const assigned = opts.assigned ?? new Map<string, number>();
  const byBdf = new Map(inv.map((x) => [x.bdf, x]));

  if (d.kind === 'host-bridge') {
    reasons.push({ code: 'HOST_BRIDGE', severity: 'error', message: `${bdf} is a host bridge: it is the root complex itself` });
  } else if (d.isBridge) {
    reasons.push({
      code: 'BRIDGE',
      severity: 'error',
      message: `${bdf} is a bridge (${d.kind}): assign the devices behind it instead`,
    });
  }

  const owner = d.driver;
  // Who drives a bridge is beside the point: it cannot be assigned at all.
  if (owner !== 'pciback' && !d.isBridge) {
    const how = `make it assignable with \`${prog} pci-assignable-add ${bdf}\`, or hide it at boot (\`${prog} pci-hide-line ${bdf}\`)`;
    if (opts.pcibackLoaded === false) {
      reasons.push({
        code: 'PCIBACK_NOT_LOADED',
        severity: 'error',
        message: 'the xen-pciback driver is not loaded (no /sys/bus/pci/drivers/pciback)',
        fix: 'load it with `modprobe xen-pciback` (dom0 kernel with CONFIG_XEN_PCIDEV_BACKEND)',
      });
    }
    reasons.push({
      code: 'NOT_PCIBACK',
      severity: 'error',
      message: owner === null ? `${bdf} is not bound to any driver, so not to pciback` : `${bdf} is bound to ${owner}, not to pciback`,
      fix: how,
    });
  }

  const domid = assigned.get(bdf);
  if (domid !== undefined) {
    reasons.push({
      code: 'ALREADY_ASSIGNED',
      severity: 'error',
      message: `${bdf} is already assigned to domain ${domid}`,
      fix: `detach it from domain ${domid} first (\`${prog} pci-detach ${domid} ${bdf}\`)`,
    });
  }

  for (const u of (opts.dom0Usage ?? []).filter((x) => x.bdf === bdf)) {
    const what = u.kind === 'block' ? 'backs a block device dom0 uses' : u.kind === 'network' ? 'carries dom0\'s default route' : 'drives dom0\'s active console';
    reasons.push({
      code: 'IN_USE_BY_DOM0',
      severity: opts.force ? 'warning' : 'error',
      message: `${bdf} ${what}: ${u.detail}${opts.force ? ' (forced: dom0 will lose it)' : ''}`,
      ...(opts.force ? {} : { fix: 'move dom0 off the device first; assign it anyway only with --force' }),
    });
  }

  const { group, rule } = coAssignmentGroup(inv, bdf);
  const others = group.filter((g) => g !== bdf);
  if (others.length > 0) {
    const why =
      rule === 'behind-pci-bridge'
        ? `conventional PCI devices behind the same PCIe-to-PCI bridge share one requester id, so they must go to the same guest`
        : `it is a multi-function device without FLR, so its functions can only be reset together`;
    reasons.push({
      code: 'COASSIGN_GROUP',
      severity: 'warning',
      message: `${bdf} must be assigned together with ${others.join(', ')}: ${why}`,
      fix: `assign all of ${group.join(' ')} to the same guest`,
      related: others,
    });
    for (const o of others) {
      const od = byBdf.get(o)!;
      if (od.driver !== 'pciback') {
        reasons.push({
          code: 'COASSIGN_NOT_PCIBACK',
          severity: 'error',
          message: `${o} must be co-assigned with ${bdf}, but it is ${od.driver ? `bound to ${od.driver}` : 'not bound to any driver'}, not to pciback`,
          fix: `\`${prog} pci-assignable-add ${o}\``,
          related: [o],
        });
      }
      const od2 = assigned.get(o);
      if (od2 !== undefined && od2 !== opts.targetDomid) {
        reasons.push({
          code: 'COASSIGN_ASSIGNED',
          severity: 'error',
          message: `${o} must be co-assigned with ${bdf}, but it is assigned to domain ${od2}`,
          fix: `assign ${bdf} to domain ${od2}, or detach ${o} from it first`,
          related: [o],
        });
      }
    }
  }

  if (!d.isBridge) {
    const noReset = !d.resetAvailable || (d.resetMethods !== null && d.resetMethods.length === 0);
    if (noReset) {
      reasons.push({
        code: 'NO_RESET',
        severity: 'warning',
        message: `the kernel has no reset method for ${bdf} (no FLR, no usable PM reset, no bus reset): state may leak between dom0 and guests`,
        ...(others.length > 0 && rule === 'multifunction-without-flr'
          ? { fix: 'assign all functions to one guest and do not move them between guests without a host reboot' }
          : {}),
      });
    }

    for (const q of matchQuirks(d, opts.quirks ?? KNOWN_QUIRKS)) {
      reasons.push({ code: 'QUIRK', severity: 'warning', message: `${bdf}: ${q.reason}`, fix: `source: ${q.source}` });
    }

    // xend's strict check: every PCIe downstream switch port above the device must have ACS
    // source validation, request/completion redirect and upstream forwarding enabled, or
    // peer-to-peer traffic can bypass the IOMMU.
    const leaky = d.parents
      .map((p) => byBdf.get(p))
      .filter((p): p is PciDevice => p !== undefined && p.pcie?.portType === 0x6 && !(p.acs?.required ?? false))
      .map((p) => p.bdf);
    if (leaky.length > 0) {
      reasons.push({
        code: 'NO_ACS',
        severity: 'warning',
        message: `${bdf} is behind PCIe switch port(s) ${leaky.join(', ')} without ACS enabled: devices behind the switch can reach each other without the IOMMU`,
        related: leaky,
      });
    }

    if (d.iommuGroup !== null) {
      const peers = inv.filter((x) => x.bdf !== bdf && !x.isBridge && x.iommuGroup === d.iommuGroup).map((x) => x.bdf);
      if (peers.length > 0) {
        reasons.push({
          code: 'IOMMU_GROUP',
          severity: 'warning',
          message: `${bdf} shares IOMMU group ${d.iommuGroup} with ${peers.join(', ')}`,
          fix: 'keep every device of the group away from dom0 drivers',
          related: peers,
        });
      }
    }

    const unaligned = d.bars.filter((b) => b.kind === 'mem' && (b.start & 0xfffn) !== 0n).map((b) => `BAR${b.index}`);
    if (unaligned.length > 0) {
      reasons.push({
        code: 'BAR_NOT_PAGE_ALIGNED',
        severity: 'warning',
        message: `${bdf}: non-page-aligned MMIO ${unaligned.join(', ')}: the guest gets access to the whole 4 KiB page, shared with another device`,
        fix: 'boot dom0 with pci=resource_alignment=<bdf> so the kernel page-aligns it',
      });
    }
  }

  const out: Assessment = { bdf, assignable: !reasons.some((r) => r.severity === 'error'), reasons, group };
  if (rule && others.length > 0) out.groupRule = rule;
  return out;
}
