/**
 * `xentool pci-spec [--json] [--xm] [--bdf] SPEC...`: parses PCI specs and prints the devices.
 *
 * - default (xl): `xlu_pci_parse_spec_string` semantics; `--bdf`: `xlu_pci_parse_bdf`
 *   (pci-assignable-add); `--xm`: xm's forms, one spec may give several devices.
 * - text output, one line per device:
 *   `BDF vdevfn=0xNN vfunc_mask=0xN msitranslate=0|1 power_mgmt=0|1 permissive=0|1 seize=0|1 rdm_policy=P`
 *   where BDF is `DDDD:BB:SS.F` (`.*` for every function) or `name=NAME` for the named form;
 *   `--xm` adds `vfunc=N vslot=0xNN|auto`.
 * - `--json`: an array with one object per device: `spec` (the input) and the fields of
 *   libxl_device_pci (domain, bus, dev, func, vdevfn, vfunc_mask, msitranslate, power_mgmt,
 *   permissive, seize, rdm_policy, name); `--xm` adds key, vfunc, vslot.
 * Warnings go to stderr as `warning: ...`. A malformed spec: one line on stderr, exit 2, as xl.
 */
import type { CommandContext } from '../context';
import { write } from '../context';
import { parseBdf, parsePciSpec } from './parse-pci-spec';
import { parseXmPciSpec } from './parse-xm-pci-spec';
import { formatPciSpecBdf, emptyPciSpec } from './pci-spec';
import type { PciSpec } from './pci-spec';

export interface PciSpecArgs {
  specs: string[];
  json: boolean;
  xm: boolean;
  bdf: boolean;
}

interface Row {
  spec: string;
  pci: PciSpec;
  xm?: { key: string; vfunc: number; vslot: number | null };
}

function libxlFields(p: PciSpec): Record<string, unknown> {
  return {
    domain: p.domain,
    bus: p.bus,
    dev: p.dev,
    func: p.func,
    vdevfn: p.vdevfn,
    vfunc_mask: p.vfunc_mask,
    msitranslate: p.msitranslate,
    power_mgmt: p.power_mgmt,
    permissive: p.permissive,
    seize: p.seize,
    rdm_policy: p.rdm_policy,
    name: p.name,
  };
}

const hex = (n: number, w = 1) => '0x' + n.toString(16).padStart(w, '0');
const b = (x: boolean) => (x ? '1' : '0');

function textLine(r: Row): string {
  const p = r.pci;
  const head = p.name !== null ? `name=${p.name}` : formatPciSpecBdf(p);
  let line =
    `${head} vdevfn=${hex(p.vdevfn, 2)} vfunc_mask=${hex(p.vfunc_mask)} msitranslate=${b(p.msitranslate)} ` +
    `power_mgmt=${b(p.power_mgmt)} permissive=${b(p.permissive)} seize=${b(p.seize)} rdm_policy=${p.rdm_policy}`;
  if (r.xm) line += ` vfunc=${r.xm.vfunc} vslot=${r.xm.vslot === null ? 'auto' : hex(r.xm.vslot, 2)}`;
  return line + '\n';
}

export async function runPciSpec(a: PciSpecArgs, ctx: CommandContext): Promise<number> {
  const rows: Row[] = [];
  const warnings: string[] = [];
  for (const spec of a.specs) {
    if (a.xm) {
      const r = parseXmPciSpec(spec);
      warnings.push(...r.warnings);
      for (const d of r.devices) {
        const { vfunc, vslot, ...pci } = d;
        rows.push({ spec, pci, xm: { key: r.key, vfunc, vslot } });
      }
    } else if (a.bdf) {
      const { warnings: w, ...bdf } = parseBdf(spec);
      warnings.push(...w);
      rows.push({ spec, pci: { ...emptyPciSpec(), ...bdf } });
    } else {
      const { warnings: w, ...pci } = parsePciSpec(spec);
      warnings.push(...w);
      rows.push({ spec, pci });
    }
  }
  for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
  if (a.json) {
    const out = rows.map((r) => ({ spec: r.spec, ...(r.xm ? { key: r.xm.key } : {}), ...libxlFields(r.pci), ...(r.xm ? { vfunc: r.xm.vfunc, vslot: r.xm.vslot } : {}) }));
    await write(ctx.stdout, JSON.stringify(out, null, 2) + '\n');
  } else {
    await write(ctx.stdout, rows.map(textLine).join(''));
  }
  return 0;
}
