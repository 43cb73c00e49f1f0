/**
 * Implementations of `pci-devices`, `pci-check` and `pci-hide-line`. They only read sysfs, so
 * they work on any Linux machine, with or without Xen.
 */
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import type { PciSource } from './source';
import { deviceJson, displayName, formatCheck, formatHideInstructions, formatTable, hideParameter, reasonJson } from './format';
import type { DeviceRow } from './format';
import { loadPciQuirks } from './pci-quirks';

type Pciback = typeof import('@xentool/pciback');

async function pciback(): Promise<Pciback> {
  return import('@xentool/pciback');
}

function rowsFor(pb: Pciback, src: PciSource, force: boolean, ctx: CommandContext): DeviceRow[] {
  const inv = pb.readInventory(src.sysfs, { pciIds: src.pciIds });
  const pcibackLoaded = pb.isPcibackLoaded(src.sysfs);
  const quirks = loadPciQuirks(ctx);
  return inv.map((device) => ({
    device,
    assessment: pb.assessAssignability(inv, device.bdf, {
      assigned: src.assigned,
      dom0Usage: src.dom0Usage,
      pcibackLoaded,
      force,
      quirks,
    }),
  }));
}

/** BDF arguments in canonical form; a malformed one is a usage error (exit 2, as xl). */
function parseBdfArgs(pb: Pciback, args: ParsedArgs): string[] {
  const raw = ((args.bdf as unknown[] | undefined) ?? []).map(String);
  const out: string[] = [];
  for (const r of raw) {
    let bdf: string;
    try {
      bdf = pb.canonicalBdf(r);
    } catch {
      throw new XentoolError('ERR_BDF', `malformed PCI address '${r}' (expected [DDDD:]BB:DD.F)`, 2);
    }
    if (!out.includes(bdf)) out.push(bdf);
  }
  return out;
}

export async function runPciDevices(src: PciSource, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const pb = await pciback();
  const rows = rowsFor(pb, src, false, ctx).filter((r) => args.all || !r.device.isBridge);
  if (args.json) {
    await write(ctx.stdout, JSON.stringify(rows.map(deviceJson), null, 2) + '\n');
    return 0;
  }
  if (rows.length === 0) {
    await write(ctx.stderr, `${ctx.prog}: no PCI devices${args.all ? '' : ' (other than bridges; --all lists those)'}\n`);
    return 0;
  }
  await write(ctx.stdout, formatTable(rows));
  return 0;
}

export async function runPciCheck(src: PciSource, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const pb = await pciback();
  const bdfs = parseBdfArgs(pb, args);
  const inv = pb.readInventory(src.sysfs, { pciIds: src.pciIds });
  const pcibackLoaded = pb.isPcibackLoaded(src.sysfs);
  const quirks = loadPciQuirks(ctx);
  const results = bdfs.map((bdf) => ({
    device: inv.find((d) => d.bdf === bdf),
    assessment: pb.assessAssignability(inv, bdf, {
      assigned: src.assigned,
      dom0Usage: src.dom0Usage,
      pcibackLoaded,
      force: Boolean(args.force),
      prog: ctx.prog,
      quirks,
    }),
  }));
  if (args.json) {
    const out = results.map((r) =>
      r.device
        ? deviceJson({ device: r.device, assessment: r.assessment })
        : { bdf: r.assessment.bdf, assignable: false, reasons: r.assessment.reasons.map(reasonJson), group: r.assessment.group },
    );
    await write(ctx.stdout, JSON.stringify(out, null, 2) + '\n');
  } else {
    await write(ctx.stdout, results.map((r) => formatCheck(r.assessment, r.device)).join(''));
  }
  return results.every((r) => r.assessment.assignable) ? 0 : 1;
}

/** Refusals that make hiding a device wrong, not merely premature (NOT_PCIBACK is the point of hiding). */
const HIDE_FATAL = new Set(['NO_DEVICE', 'HOST_BRIDGE', 'BRIDGE', 'IN_USE_BY_DOM0']);

export async function runPciHideLine(src: PciSource, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const pb = await pciback();
  const bdfs = parseBdfArgs(pb, args);
  const inv = pb.readInventory(src.sysfs, { pciIds: src.pciIds });
  const force = Boolean(args.force);
  const quirks = loadPciQuirks(ctx);
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const bdf of bdfs) {
    const a = pb.assessAssignability(inv, bdf, { dom0Usage: src.dom0Usage, force, prog: ctx.prog, quirks });
    for (const r of a.reasons) {
      if (r.severity === 'error' && HIDE_FATAL.has(r.code)) problems.push(`${r.message}${r.fix ? ` (${r.fix})` : ''}`);
    }
    const missing = a.group.filter((g) => !bdfs.includes(g));
    if (missing.length > 0)
      warnings.push(`${bdf} must be assigned together with ${missing.join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} not in the list: hide ${missing.length > 1 ? 'them' : 'it'} too`);
    for (const r of a.reasons)
      if (r.severity === 'warning' && r.code !== 'COASSIGN_GROUP') warnings.push(r.message);
  }
  if (problems.length > 0) {
    await write(ctx.stderr, problems.map((p) => `${ctx.prog}: ${p}\n`).join(''));
    throw new XentoolError('ERR_PCI_NOT_HIDEABLE', `${ctx.prog}: not printing a hide line: ${problems.length} problem(s) above`, 1);
  }
  await write(ctx.stderr, warnings.map((w) => `warning: ${w}\n`).join(''));
  const value = hideParameter(bdfs);
  if (args.quiet) {
    await write(ctx.stdout, `xen-pciback.hide=${value}\n`);
    return 0;
  }
  const nativeDrivers = [
    ...new Set(inv.filter((d) => bdfs.includes(d.bdf) && d.driver && d.driver !== 'pciback').map((d) => d.driver!)),
  ].sort();
  // Built-in modules have a /sys/module/<name> directory without `initstate`.
  const modDir = '/module/xen_pciback';
  const builtin = src.sysfs.exists(modDir) ? !src.sysfs.exists(`${modDir}/initstate`) : undefined;
  await write(ctx.stdout, formatHideInstructions(value, { builtin, nativeDrivers }));
  const names = bdfs.map((b) => {
    const d = inv.find((x) => x.bdf === b);
    return `  ${b}  ${d ? displayName(d) : ''}`.trimEnd();
  });
  await write(ctx.stdout, `\nDevices:\n${names.join('\n')}\n`);
  return 0;
}
