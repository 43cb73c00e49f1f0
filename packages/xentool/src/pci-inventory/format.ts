/**
 * Text and JSON for `pci-devices`, `pci-check` and `pci-hide-line`. The JSON objects are built
 * field by field: they are a contract for scripts, so internal fields never leak into them and
 * 64-bit addresses are hex strings (JSON numbers lose precision above 2^53).
 */
import { displayName } from '@xentool/pciback';
import type { Assessment, PciDevice, Reason } from '@xentool/pciback';

export { displayName };

const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
const hx = (n: bigint) => '0x' + n.toString(16);

export interface DeviceRow {
  device: PciDevice;
  assessment: Assessment;
}


/** One short phrase for the table: why not, or `yes`. */
export function verdict(row: DeviceRow): string {
  const errors = row.assessment.reasons.filter((r) => r.severity === 'error');
  if (errors.length === 0) {
    const warn = row.assessment.reasons.filter((r) => r.severity === 'warning').map(shortReason);
    return warn.length ? `yes (${[...new Set(warn)].join(', ')})` : 'yes';
  }
  return `no: ${[...new Set(errors.map(shortReason))].join(', ')}`;
}

function shortReason(r: Reason): string {
  switch (r.code) {
    case 'NO_DEVICE':
      return 'no such device';
    case 'HOST_BRIDGE':
      return 'host bridge';
    case 'BRIDGE':
      return 'bridge';
    case 'PCIBACK_NOT_LOADED':
      return 'pciback not loaded';
    case 'NOT_PCIBACK': {
      const m = / is bound to (\S+),/.exec(r.message);
      return m ? `bound to ${m[1]}` : 'unbound';
    }
    case 'ALREADY_ASSIGNED':
      return `assigned to domain ${/domain (\d+)/.exec(r.message)?.[1] ?? '?'}`;
    case 'IN_USE_BY_DOM0':
      return /block device/.test(r.message) ? 'dom0 disk' : /route/.test(r.message) ? 'dom0 network' : 'dom0 console';
    case 'COASSIGN_GROUP':
      return 'group';
    case 'COASSIGN_NOT_PCIBACK':
      return 'group member not in pciback';
    case 'COASSIGN_ASSIGNED':
      return 'group member assigned';
    case 'NO_RESET':
      return 'no reset';
    case 'QUIRK':
      return 'quirk';
    case 'NO_ACS':
      return 'no ACS';
    case 'IOMMU_GROUP':
      return 'IOMMU group';
    case 'BAR_NOT_PAGE_ALIGNED':
      return 'unaligned BAR';
    default:
      return String(r.code);
  }
}

const shortBdf = (b: string) => (b.startsWith('0000:') ? b.slice(5) : b);

export function formatTable(rows: DeviceRow[]): string {
  const head = ['BDF', 'DEVICE', 'DRIVER', 'ASSIGNABLE', 'GROUP'];
  const body = rows.map((r) => [
    r.device.bdf,
    truncate(displayName(r.device), 52),
    r.device.driver ?? '-',
    verdict(r),
    r.assessment.group.length > 1 ? r.assessment.group.map(shortBdf).join(' ') : '-',
  ]);
  const widths = head.map((_, i) => Math.max(head[i]!.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  return line(head) + body.map(line).join('');
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

export function deviceJson(row: DeviceRow): Record<string, unknown> {
  const d = row.device;
  const a = row.assessment;
  return {
    bdf: d.bdf,
    vendor: h(d.vendorId, 4),
    device: h(d.deviceId, 4),
    subsystemVendor: h(d.subVendorId, 4),
    subsystemDevice: h(d.subDeviceId, 4),
    class: h(d.classCode, 6),
    revision: h(d.revision, 2),
    vendorName: d.vendorName ?? null,
    deviceName: d.deviceName ?? null,
    className: d.className ?? null,
    kind: d.kind,
    driver: d.driver,
    iommuGroup: d.iommuGroup,
    numaNode: d.numaNode,
    irq: d.irq,
    bars: d.bars.map((b) => ({
      index: b.index,
      type: b.kind,
      start: hx(b.start),
      end: hx(b.end),
      size: hx(b.size),
      is64: b.is64,
      prefetchable: b.prefetchable,
    })),
    msi: d.msi ? { enabled: d.msi.enabled, maxVectors: d.msi.maxVectors } : null,
    msix: d.msix ? { enabled: d.msix.enabled, tableSize: d.msix.tableSize } : null,
    pcie: d.pcie ? { portType: d.pcie.portTypeName, flr: d.pcie.flr } : null,
    flr: d.flr,
    resetMethods: d.resetMethods,
    resetAvailable: d.resetAvailable,
    acs: d.acs ? { capability: h(d.acs.capability, 4), control: h(d.acs.control, 4), enabled: d.acs.required } : null,
    siblings: d.siblings,
    parents: d.parents,
    assignable: a.assignable,
    reasons: a.reasons.map(reasonJson),
    group: a.group,
  };
}

export function reasonJson(r: Reason): Record<string, unknown> {
  return { code: r.code, severity: r.severity, message: r.message, fix: r.fix ?? null };
}

/** `pci-check` text for one device: verdict line, then every reason with its fix. */
export function formatCheck(a: Assessment, d: PciDevice | undefined): string {
  const name = d ? ` ${displayName(d)}` : '';
  let out = `${a.bdf}${name}: ${a.assignable ? 'assignable' : 'NOT assignable'}\n`;
  for (const r of a.reasons) {
    out += `  ${r.severity.padEnd(7)} ${r.code}: ${r.message}\n`;
    if (r.fix) out += `  ${''.padEnd(7)} fix: ${r.fix}\n`;
  }
  if (a.group.length > 1) out += `  co-assignment group: ${a.group.join(' ')}\n`;
  return out;
}

/** The boot parameter: pcistub_init parses `(DDDD:BB:DD.F)` groups with no separator. */
export function hideParameter(bdfs: string[]): string {
  return bdfs.map((b) => `(${b})`).join('');
}

/**
 * Where the parameter goes. Both ways are given because sysfs cannot always tell whether
 * pciback is built in (/sys/module/xen_pciback without `initstate`) or a module.
 */
export function formatHideInstructions(value: string, opts: { builtin: boolean | undefined; nativeDrivers: string[] }): string {
  const lines: string[] = [];
  lines.push(`xen-pciback.hide=${value}`, '');
  lines.push('Where it goes:');
  const cmdline = [
    '  dom0 kernel command line (works whether xen-pciback is built in or a module: modprobe reads',
    '  xen-pciback.* options from /proc/cmdline). On Debian, in /etc/default/grub append it to',
    `  GRUB_CMDLINE_LINUX (the dom0 kernel's line; GRUB_CMDLINE_XEN is the hypervisor's), e.g.`,
    `    GRUB_CMDLINE_LINUX="... xen-pciback.hide=${value}"`,
    '  then run update-grub and reboot.',
  ];
  const modprobe = [
    '  As a module option: /etc/modprobe.d/xen-pciback.conf with',
    `    options xen-pciback hide=${value}`,
    ...opts.nativeDrivers.map((d) => `    softdep ${d} pre: xen-pciback`),
    '  (the softdep lines make xen-pciback load before the drivers that would otherwise claim the',
    '  devices first), then run update-initramfs -u and reboot.',
  ];
  if (opts.builtin === true) lines.push('  xen-pciback is built into this kernel:', ...cmdline);
  else if (opts.builtin === false) lines.push('  xen-pciback is a module here. Either:', ...cmdline, '  or:', ...modprobe);
  else lines.push('  Either:', ...cmdline, '  or, if xen-pciback is a module:', ...modprobe);
  lines.push('', 'XenLinux 2.6.18 kernels (the era of the VT-d HOWTO) named the module pciback: pciback.hide=' + value);
  return lines.join('\n') + '\n';
}
