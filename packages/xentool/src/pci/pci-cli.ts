/**
 * The xl-syntax PCI commands (`xentool pci-*`): argument handling, xl's exact output and exit
 * codes, `--json` for reads and `--dry-run` for changes. The work is in pci-ops.ts.
 */
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import { parseBdf, parsePciSpec } from '../pci-spec/parse-pci-spec';
import { loadPciQuirks } from '../pci-inventory/pci-quirks';
import type { PciHost } from './pci-host';
import { formatXlAssignableList } from './format-pci-list';
import * as ops from './pci-ops';

// In a module of its own, for pci-list's start-up; still exported from here.
export { runPciList } from './pci-list';
import type { Bdf } from './types';
import { bdfText } from './types';

export type OpenPciHost = (ctx: CommandContext, args: ParsedArgs) => Promise<PciHost & { close(): Promise<void> }>;

/** A changing command on a real host needs root: say so before touching anything. */
export function requireRoot(host: PciHost, ctx: CommandContext, args: ParsedArgs, cmd: string): void {
  if (host.kind === 'real' && !args.dryRun && ctx.uid !== undefined && ctx.uid !== 0) {
    throw new XentoolError('ERR_NEEDS_ROOT', `${cmd} changes the host and needs root: run it as root (or with -N to see the plan)`);
  }
}

/** Progress for long waits: an updating line on a TTY, nothing otherwise. */
function progressOn(ctx: CommandContext): { progress: (t: string) => void; done: () => Promise<void> } {
  let shown = false;
  return {
    progress: (t) => {
      if (!ctx.stderr.isTTY) return;
      shown = true;
      ctx.stderr.write(`\r\x1b[K${t}`);
    },
    done: async () => {
      if (shown) await write(ctx.stderr, '\r\x1b[K');
    },
  };
}

export function opOptions(ctx: CommandContext, args: ParsedArgs, out: string[]): ops.OpOptions & { finish(): Promise<void> } {
  const p = progressOn(ctx);
  const warnings: string[] = [];
  return {
    dryRun: args.dryRun === true,
    verbose: ctx.verbose,
    out: (t) => out.push(t),
    warn: (t) => warnings.push(t),
    progress: p.progress,
    notice: (t) => void write(ctx.stderr, `${t}\n`),
    ...(ctx.testHooks?.failAtStep !== undefined ? { failAt: ctx.testHooks.failAtStep } : {}),
    ...(ctx.testHooks?.killAtStep !== undefined && ctx.testHooks.killSelf ? { killAt: { step: ctx.testHooks.killAtStep, kill: ctx.testHooks.killSelf } } : {}),
    finish: async () => {
      await p.done();
      for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
      await write(ctx.stdout, out.join(''));
    },
  };
}

async function withHost<T>(open: OpenPciHost, ctx: CommandContext, args: ParsedArgs, fn: (h: PciHost) => Promise<T>): Promise<T> {
  const host = await open(ctx, args);
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

function timeoutMs(args: ParsedArgs): number {
  const t = args.timeout === undefined ? 10 : Number(args.timeout);
  if (!Number.isFinite(t) || t <= 0) throw new XentoolError('ERR_USAGE', `--timeout takes a number of seconds, not '${String(args.timeout)}'`, 2);
  return Math.round(t * 1000);
}

/** xl's PCI_SPEC_STRING, with xl's exact complaint (exit 2) when malformed. */
function parseSpec(cmd: string, text: string, ctx: CommandContext, warnings: string[]) {
  try {
    const spec = parsePciSpec(text);
    warnings.push(...spec.warnings);
    return spec;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new XentoolError('ERR_PCI_SPEC', `${cmd}: malformed PCI_SPEC_STRING "${text}"${ctx.verbose ? ` (${reason})` : ''}`, 2);
  }
}

async function specBdf(host: PciHost, spec: { name: string | null; domain: number; bus: number; dev: number; func: number }): Promise<Bdf> {
  return spec.name !== null ? ops.bdfForName(host, spec.name) : { domain: spec.domain, bus: spec.bus, dev: spec.dev, func: spec.func };
}

export async function runPciAttach(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const warnings: string[] = [];
  const spec = parseSpec('pci-attach', String(args.spec), ctx, warnings);
  return withHost(open, ctx, args, async (host) => {
    requireRoot(host, ctx, args, 'pci-attach');
    for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
    const bdf = await specBdf(host, spec);
    const o = opOptions(ctx, args, []);
    const attach = spec.vfunc_mask === 0xffffffff ? ops.pciAttachAllFunctions : ops.pciAttach;
    try {
      await attach(
        host,
        String(args.domain),
        {
          bdf,
          ...(spec.vdevfn ? { vslot: spec.vdevfn >> 3 } : {}),
          permissive: spec.permissive,
          msitranslate: spec.msitranslate,
          powerMgmt: spec.power_mgmt,
          seize: spec.seize,
          rdmPolicy: spec.rdm_policy === 'relaxed' ? 'relaxed' : 'strict',
          ...(spec.name !== null ? { name: spec.name } : {}),
          force: args.force === true,
          timeoutMs: timeoutMs(args),
        },
        o,
      );
    } finally {
      await o.finish();
    }
    return 0;
  });
}

export async function runPciDetach(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const spec = parseSpec('pci-detach', String(args.spec), ctx, []);
  return withHost(open, ctx, args, async (host) => {
    requireRoot(host, ctx, args, 'pci-detach');
    const bdf = await specBdf(host, spec);
    const o = opOptions(ctx, args, []);
    try {
      await ops.pciDetach(host, String(args.domain), bdf, { force: args.force === true, timeoutMs: timeoutMs(args) }, o);
    } finally {
      await o.finish();
    }
    return 0;
  });
}

export async function runAssignableList(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  return withHost(open, ctx, args, async (host) => {
    let devs: ops.AssignableDevice[];
    try {
      devs = await ops.assignableList(host);
    } catch (e) {
      // xl logs the error and still exits 0.
      if ((e as { code?: string }).code === 'ERR_PCIBACK_NOT_LOADED') {
        await write(ctx.stderr, `${(e as Error).message}\n`);
        return 0;
      }
      throw e;
    }
    if (args.json) {
      await write(ctx.stdout, JSON.stringify(devs.map((d) => ({ bdf: bdfText(d), ...(d.name !== undefined ? { name: d.name } : {}) })), null, 2) + '\n');
    } else {
      await write(ctx.stdout, formatXlAssignableList(devs, args.showNames === true));
    }
    return 0;
  });
}

/**
 * A BDF argument, with xl 4.17's exact complaint (exit 2) when malformed: xl_pci.c quotes it
 * with double quotes for pci-assignable-add and single quotes for pci-assignable-remove.
 */
function bdfArg(cmd: string, text: string, ctx: CommandContext): { bdf: Bdf; warnings: string[] } {
  let b: ReturnType<typeof parseBdf>;
  try {
    b = parseBdf(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const quoted = cmd === 'pci-assignable-remove' ? `'${text}'` : `"${text}"`;
    throw new XentoolError('ERR_BDF', `${cmd}: malformed BDF ${quoted}${ctx.verbose ? ` (${reason})` : ''}`, 2);
  }
  return { bdf: { domain: b.domain, bus: b.bus, dev: b.dev, func: b.func }, warnings: b.warnings };
}

export async function runAssignableAdd(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const { bdf, warnings } = bdfArg('pci-assignable-add', String(args.bdf), ctx);
  // Before the host is opened: a malformed operator quirks file stops the command untouched.
  const quirks = loadPciQuirks(ctx);
  return withHost(open, ctx, args, async (host) => {
    requireRoot(host, ctx, args, 'pci-assignable-add');
    for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
    const o = { ...opOptions(ctx, args, []), quirks };
    try {
      await ops.assignableAdd(host, bdf, { ...(typeof args.name === 'string' ? { name: args.name } : {}), force: args.force === true }, o);
    } finally {
      await o.finish();
    }
    return 0;
  });
}

export async function runAssignableRemove(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const text = String(args.device);
  return withHost(open, ctx, args, async (host) => {
    requireRoot(host, ctx, args, 'pci-assignable-remove');
    // xl tries the argument as a name first, then as a BDF.
    let bdf: Bdf;
    try {
      bdf = await ops.bdfForName(host, text);
    } catch {
      const parsed = bdfArg('pci-assignable-remove', text, ctx);
      for (const w of parsed.warnings) await write(ctx.stderr, `warning: ${w}\n`);
      bdf = parsed.bdf;
    }
    const o = opOptions(ctx, args, []);
    try {
      await ops.assignableRemove(host, bdf, { rebind: args.rebind === true }, o);
    } finally {
      await o.finish();
    }
    return 0;
  });
}
