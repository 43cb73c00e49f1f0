/**
 * The `xm` front end: xm's PCI commands with xm's arguments, output and errors, over the same
 * operations as the xl-syntax commands (facts: toolstack-behaviour.md §1; xm/main.py 3.3 and
 * 4.x). Where xm's releases differ, the seed's (3.3) layout is the default and `--format`
 * selects a later one. Additions xm never had, marked as such in the help: `--json`,
 * `-N`/`--dry-run`, `--sim`/`--sim-dir`, `--timeout`.
 *
 * Error conventions copied from xm: `Error: <msg>` on stderr, then the command's usage on stdout,
 * exit 1; an unknown domain is `Error: Domain '<d>' does not exist.` with exit 3
 * (XendClient.ERROR_INVALID_DOMAIN, which xm passed to sys.exit).
 */
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError, isCodedError } from '../errors';
import type { AnyHost } from '../host/open-host';
import { formatXmAssignableList, formatXmPciList, type XmListFormat } from '../pci/format-pci-list';
import * as ops from '../pci/pci-ops';
import { opOptions } from '../pci/pci-cli';
import { parseXmPciSpec } from '../pci-spec/parse-xm-pci-spec';
import type { Bdf } from '../pci/types';
import { bdfText } from '../pci/types';

const HELP: Record<string, [string, string]> = {
  'pci-attach': ['[-o|--options=<opt>] <Domain> <domain:bus:slot.func> [virtual slot]', 'Insert a new pass-through pci device.'],
  'pci-detach': ['<Domain> <domain:bus:slot.func>', "Remove a domain's pass-through pci device."],
  'pci-list': ['<Domain>', 'List pass-through pci devices for a domain.'],
  'pci-list-assignable-devices': ['', 'List all the assignable pci devices'],
};

const USAGE_HELP = 'Usage: xm <subcommand> [args]\n\nControl, list, and manipulate Xen guest instances.\n';
const USAGE_FOOTER =
  "<Domain> can either be the Domain Name or Id.\nFor more help on 'xm' see the xm(1) man page.\nFor more help on 'xm create' see the xmdomain.cfg(5)  man page.\n";

/** xm's `cmdHelp`: `Usage: xm <cmd> <args>`, a blank line, the description. */
export function cmdHelp(cmd: string): string {
  const [args, desc] = HELP[cmd]!;
  return `Usage: xm ${cmd} ${args}\n\n${desc}\n`;
}

function shortHelp(): string {
  let out = `${USAGE_HELP}\nCommon 'xm' commands:\n\n`;
  for (const [cmd, [, desc]] of Object.entries(HELP)) out += ` ${cmd.padEnd(20)} ${desc.padEnd(50)}\n`;
  return `${out}\n${USAGE_FOOTER}For a complete list of subcommands run 'xm help'.\n`;
}

/** An xm error: the message on stderr, then (when xm did) the usage on stdout. */
class XmError extends Error {
  constructor(
    message: string,
    readonly usageOf: string | undefined,
    readonly exitCode = 1,
    /** xm printed some complaints on stdout ("No domain parameter given"). */
    readonly onStdout = false,
  ) {
    super(message);
  }
}

export interface XmGlobal {
  sim: boolean;
  simDir?: string;
  dryRun: boolean;
  json: boolean;
  format: XmListFormat;
  timeoutMs: number;
}

/** Splits xentool's additions out of xm's argument list; what remains is xm's own. */
function takeGlobals(argv: string[]): { g: XmGlobal; rest: string[] } {
  const g: XmGlobal = { sim: false, dryRun: false, json: false, format: '3.3', timeoutMs: 10_000 };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (name: string) => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new XmError(`option ${name} requires an argument`, undefined);
      return v;
    };
    if (a === '--sim') g.sim = true;
    else if (a === '--sim-dir' || a.startsWith('--sim-dir=')) g.simDir = val('--sim-dir');
    else if (a === '-N' || a === '--dry-run') g.dryRun = true;
    else if (a === '--json') g.json = true;
    else if (a === '--verbose' || a === '--no-color' || a === '--color') continue;
    else if (a === '--format' || a.startsWith('--format=')) {
      const f = val('--format');
      if (f !== '3.3' && f !== '4.0' && f !== '4.1') throw new XmError(`--format takes 3.3, 4.0 or 4.1, not '${f}'`, undefined);
      g.format = f;
    } else if (a === '--timeout' || a.startsWith('--timeout=')) {
      const t = Number(val('--timeout'));
      if (!Number.isFinite(t) || t <= 0) throw new XmError(`--timeout takes a number of seconds`, undefined);
      g.timeoutMs = Math.round(t * 1000);
    } else rest.push(a);
  }
  return { g, rest };
}

export type OpenHostFn = (g: XmGlobal) => Promise<AnyHost>;

export async function runXm(argv: string[], ctx: CommandContext, openHost: OpenHostFn): Promise<number> {
  let cmd: string | undefined;
  try {
    const { g, rest } = takeGlobals(argv);
    cmd = rest[0];
    if (cmd === undefined) {
      await write(ctx.stdout, shortHelp());
      return 1;
    }
    if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
      const which = rest[1];
      await write(ctx.stdout, which && HELP[which] ? cmdHelp(which) : shortHelp());
      return 0;
    }
    if (!HELP[cmd]) throw new XmError(`Subcommand ${cmd} not found!`, '', 1);
    if (rest.slice(1).some((a) => a === '--help' || a === '-h')) {
      await write(ctx.stdout, cmdHelp(cmd));
      return 1;
    }
    return await dispatch(cmd, rest.slice(1), g, ctx, openHost);
  } catch (e) {
    return reportXm(e, cmd, ctx);
  }
}

async function reportXm(e: unknown, cmd: string | undefined, ctx: CommandContext): Promise<number> {
  if (e instanceof XmError) {
    await write(e.onStdout ? ctx.stdout : ctx.stderr, e.onStdout ? `${e.message}\n` : `Error: ${e.message}\n`);
    if (e.usageOf !== undefined) await write(ctx.stdout, e.usageOf === '' ? shortHelp() : cmdHelp(e.usageOf));
    return e.exitCode;
  }
  if (isCodedError(e)) {
    if (e.code === 'ERR_DOMAIN_NOT_FOUND') return reportXm(new XmError(e.message, undefined, 3), cmd, ctx);
    // xm printed xend's complaint, then the command's usage.
    return reportXm(new XmError(e.message, cmd && HELP[cmd] ? cmd : undefined, 1), cmd, ctx);
  }
  await write(ctx.stderr, `Error: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}

async function withHost<T>(openHost: OpenHostFn, g: XmGlobal, fn: (h: AnyHost) => Promise<T>): Promise<T> {
  const host = await openHost(g);
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

/** xend looked domains up by name or id and refused unknown ones (unlike xl, even numeric ids). */
async function xmDomain(host: AnyHost, arg: string): Promise<number> {
  const doms = await host.domains();
  const d = doms.find((x) => x.name === arg) ?? (/^[0-9]+$/.test(arg) ? doms.find((x) => x.domid === Number(arg)) : undefined);
  if (!d) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `Domain '${arg}' does not exist.`);
  return d.domid;
}

function xmBdf(cmd: string, text: string, vslot: string): { bdf: Bdf; vslot?: number; opts: [string, string][] } {
  let parsed;
  try {
    parsed = parseXmPciSpec(text);
  } catch {
    throw new XmError(`Invalid argument: ${text} ${vslot}`, cmd);
  }
  if (parsed.devices.length !== 1 || parsed.devices[0]!.vfunc_mask === 0xffffffff) {
    throw new XmError(`Invalid argument: ${text} ${vslot} (one function at a time)`, cmd);
  }
  const d = parsed.devices[0]!;
  const slot = d.vslot ?? (vslot === '0x0' ? undefined : parseInt(vslot, 16));
  if (slot !== undefined && (!Number.isFinite(slot) || slot < 0 || slot > 0x1f)) throw new XmError(`Invalid argument: ${text} ${vslot}`, cmd);
  return { bdf: { domain: d.domain, bus: d.bus, dev: d.dev, func: d.func }, ...(slot ? { vslot: slot } : {}), opts: parsed.opts };
}

async function dispatch(cmd: string, args: string[], g: XmGlobal, ctx: CommandContext, openHost: OpenHostFn): Promise<number> {
  const dry = { dryRun: g.dryRun, _: [] };
  switch (cmd) {
    case 'pci-list': {
      const params = args.filter((a) => a !== '-l' && a !== '--long');
      if (params.length === 0) throw new XmError('No domain parameter given', cmd, 1, true);
      if (params.length > 1) throw new XmError('No multiple domain parameters allowed', cmd, 1, true);
      return withHost(openHost, g, async (host) => {
        const domid = await xmDomain(host, params[0]!);
        const devs = await ops.pciList(host, String(domid));
        if (g.json) {
          await write(ctx.stdout, JSON.stringify(devs.map((d) => ({ bdf: bdfText(d), vslot: d.vdevfn === undefined ? null : d.vdevfn >> 3, vfunc: d.vdevfn === undefined ? null : d.vdevfn & 7 })), null, 2) + '\n');
        } else await write(ctx.stdout, formatXmPciList(devs, g.format));
        return 0;
      });
    }
    case 'pci-list-assignable-devices': {
      if (args.length !== 0) throw new XmError("'xm pci-list-assignable-devices' requires 0 arguments.\n", cmd);
      return withHost(openHost, g, async (host) => {
        const groups = await assignableGroups(host);
        if (g.json) await write(ctx.stdout, JSON.stringify(groups.map((gr) => gr.map(bdfText)), null, 2) + '\n');
        else await write(ctx.stdout, formatXmAssignableList(groups, g.format));
        return 0;
      });
    }
    case 'pci-attach': {
      const opts: [string, string][] = [];
      const pos: string[] = [];
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        let v: string | undefined;
        if (a === '-o' || a === '--options') v = args[++i];
        else if (a.startsWith('--options=')) v = a.slice('--options='.length);
        else if (a.startsWith('-o') && a.length > 2) v = a.slice(2);
        else {
          pos.push(a);
          continue;
        }
        const kv = (v ?? '').split('=');
        if (kv.length !== 2) throw new XmError(`Invalid pci attach option: ${v ?? ''}`, cmd);
        if (!['msitranslate', 'power_mgmt'].includes(kv[0]!) || !['0', '1', 'yes', 'no'].includes(kv[1]!.toLowerCase())) {
          throw new XmError(`Invalid pci option ${v}: `, cmd);
        }
        opts.push([kv[0]!, kv[1]!]);
      }
      if (pos.length < 2 || pos.length > 3) throw new XmError("'xm pci-attach' requires between 2 and 3 arguments.\n", cmd);
      const spec = xmBdf(cmd, pos[1]!, pos[2] ?? '0x0');
      const on = (k: string) => {
        const v = [...spec.opts, ...opts].filter(([kk]) => kk === k).pop()?.[1]?.toLowerCase();
        return v === undefined ? undefined : v === '1' || v === 'yes';
      };
      return withHost(openHost, g, async (host) => {
        const domid = await xmDomain(host, pos[0]!);
        const o = opOptions(ctx, dry, []);
        try {
          await ops.pciAttach(
            host,
            String(domid),
            {
              bdf: spec.bdf,
              ...(spec.vslot !== undefined ? { vslot: spec.vslot } : {}),
              permissive: false,
              // xm defaulted msitranslate to 1 (xl later flipped it to 0).
              msitranslate: on('msitranslate') ?? true,
              powerMgmt: on('power_mgmt') ?? false,
              seize: false,
              rdmPolicy: 'strict',
              force: false,
              timeoutMs: g.timeoutMs,
            },
            o,
          );
        } finally {
          await o.finish();
        }
        return 0;
      });
    }
    case 'pci-detach': {
      if (args.length !== 2) throw new XmError("'xm pci-detach' requires 2 arguments.\n", cmd);
      const spec = xmBdf(cmd, args[1]!, '0x0');
      return withHost(openHost, g, async (host) => {
        const domid = await xmDomain(host, args[0]!);
        const o = opOptions(ctx, dry, []);
        try {
          await ops.pciDetach(host, String(domid), spec.bdf, { force: false, timeoutMs: g.timeoutMs }, o);
        } finally {
          await o.finish();
        }
        return 0;
      });
    }
    default:
      throw new XmError(`Subcommand ${cmd} not found!`, '');
  }
}

/**
 * xend's `pciinfo`: every device owned by pciback, grouped with its co-assignment partners,
 * groups with any member in use by a guest dropped.
 */
async function assignableGroups(host: AnyHost): Promise<Bdf[][]> {
  const { readInventory, coAssignmentGroup } = await import('@xentool/pciback');
  const inv = readInventory(host.sysfs);
  const used = await ops.usedDevices(host);
  const held = inv.filter((d) => d.driver === 'pciback').map((d) => d.bdf);
  const seen = new Set<string>();
  const groups: Bdf[][] = [];
  for (const b of held) {
    if (seen.has(b)) continue;
    const group = coAssignmentGroup(inv, b).group.filter((m) => held.includes(m));
    for (const m of group) seen.add(m);
    if (group.some((m) => used.has(m))) continue;
    groups.push(
      group.map((m) => {
        const d = inv.find((x) => x.bdf === m)!;
        return { domain: d.domain, bus: d.bus, dev: d.dev, func: d.fn };
      }),
    );
  }
  return groups;
}
