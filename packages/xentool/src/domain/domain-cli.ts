/**
 * The lifecycle commands with xl's syntax and output: create, destroy, shutdown, reboot, pause,
 * unpause, domid, domname. Each opens the host (real or `--sim`), does its work through
 * DomainOps and the host's xenstore, and returns xl's exit code.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';
import type { DomainRecord } from '../host/host';
import { bdfText } from '../pci/types';
import type { PciConfigEntry } from '../config/domain-config';
import { type CreateRequest, resolveCreate } from './create-request';
import { applyCreate } from './create-domain';
import { destroyDomain } from './destroy-domain';
import type { DomainOps } from './domain-ops';
import { type DomainHost, openDomainHost } from './open-domain-host';
import { type ActionHooks, applyShutdownAction, readMonitorInfo, recordMonitorInfo, requestShutdown, waitForDomainEvent } from './lifecycle';
import { runMonitor, spawnMonitor } from './monitor';
import type { ConsoleIo } from './console';
import { type CreateObservation, planCreate } from './plan-create';
import { QEMU_XEN, readHvmOptions } from './hvm-options';

export type OpenDomainHost = (ctx: CommandContext, args: ParsedArgs) => Promise<DomainHost>;

async function withDomainHost<T>(open: OpenDomainHost, ctx: CommandContext, args: ParsedArgs, fn: (h: DomainHost) => Promise<T>): Promise<T> {
  const h = await open(ctx, args);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
}

function requireRoot(h: DomainHost, ctx: CommandContext, args: ParsedArgs, cmd: string): void {
  if (h.ops.kind === 'real' && !args.dryRun && ctx.uid !== undefined && ctx.uid !== 0) {
    throw new XentoolError('ERR_NEEDS_ROOT', `${cmd} changes the host and needs root: run it as root`);
  }
}

/** xl's find_domain: digits are a domid (which must exist here), anything else a name. */
export function findDomain(domains: readonly DomainRecord[], arg: string): DomainRecord {
  if (/^[0-9]+$/.test(arg)) {
    const d = domains.find((x) => x.domid === Number.parseInt(arg, 10));
    if (!d) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `Domain ${arg} does not exist.`);
    return d;
  }
  const d = domains.find((x) => x.name === arg);
  if (!d) throw new XentoolError('ERR_DOMAIN_INVALID', `${arg} is an invalid domain identifier (rc=-6)`);
  return d;
}

/** What planCreate needs to know of the host. */
export async function observeCreate(ops: DomainOps, req: CreateRequest): Promise<CreateObservation> {
  const [domains, facts] = await Promise.all([ops.domains(), ops.facts()]);
  const files: Record<string, boolean> = {};
  const hvmFiles = req.hvm ? [req.hvm.firmware, req.hvm.systemFirmware, QEMU_XEN] : [];
  for (const f of [req.kernel, req.ramdisk, ...hvmFiles]) if (f !== null) files[f] = await ops.readable(f);
  return {
    names: domains.map((d) => d.name).filter((n): n is string => n !== undefined),
    freeKiB: facts.freeKiB,
    caps: facts.caps,
    files,
    ...(req.e820Host ? { machineMemoryMap: await ops.machineMemoryMap() } : {}),
  };
}

/** pci=[...] devices must be assignable before anything is created (issue 9: nothing left behind). */
async function checkPciAssignable(h: DomainHost, pci: PciConfigEntry[], source: string): Promise<void> {
  if (pci.length === 0) return;
  const { assignableList } = await import('../pci/pci-ops');
  const free = new Set((await assignableList(h.host)).map((b) => bdfText(b)));
  for (const p of pci) {
    if (p.name !== null) continue;
    const b = bdfText({ domain: p.domain, bus: p.bus, dev: p.dev, func: p.func });
    if (!free.has(b)) {
      throw new XentoolError('ERR_DEVICE_NOT_ASSIGNABLE', `${source}: pci device ${b} is not assignable (bind it with pci-assignable-add; see pci-assignable-list)`);
    }
  }
}

export async function runCreate(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const file = String(args.config);
  const overrides = ((args.overrides as unknown[] | undefined) ?? []).map(String);
  if (args.monitor !== undefined) return runMonitorMode(open, args, ctx, Number(args.monitor));
  const dryRun = args.dryRun === true;
  if (!dryRun) await write(ctx.stderr, `Parsing config from ${file}\n`);
  return withDomainHost(open, ctx, args, async (h) => {
    requireRoot(h, ctx, args, 'create');
    await createFromConfig(h, ctx, { file, overrides, paused: args.paused === true, dryRun });
    return 0;
  });
}

interface CreateCall {
  file: string;
  overrides: string[];
  paused: boolean;
  dryRun: boolean;
  /** A restart keeps the domain's uuid (xl re-creates from the same libxl_domain_config). */
  uuid?: string;
}

/** Reads the config, plans, and applies (or prints the plan for -N). Returns the new domid, or -1 for -N. */
export async function createFromConfig(h: DomainHost, ctx: CommandContext, c: CreateCall): Promise<number> {
  const { readConfigFile, domainConfigFromFile } = await import('../config/index');
  const file = await readConfigFile(c.file, c.overrides);
  const cfg = domainConfigFromFile(file);
  for (const w of cfg.warnings) await write(ctx.stderr, `warning: ${w}\n`);
  const hvm = cfg.type === 'hvm' ? readHvmOptions(file) : undefined;
  const req = resolveCreate(c.uuid ? { ...cfg, uuid: cfg.uuid ?? c.uuid } : cfg, { uuid: c.uuid ?? randomUUID(), paused: c.paused, ...(hvm ? { hvm } : {}) });
  const plan = planCreate(req, await observeCreate(h.ops, req));
  await checkPciAssignable(h, req.pci, req.source);
  if (c.dryRun) {
    await write(ctx.stdout, JSON.stringify({ plan, config: req }, null, 2) + '\n');
    return -1;
  }
  const { pciAttach } = await import('../pci/pci-ops');
  const { parsePciSpec } = await import('../pci-spec/parse-pci-spec');
  const warnings: string[] = [];
  const pciOpts = { dryRun: false, verbose: ctx.verbose, out: () => undefined, warn: (t: string) => void warnings.push(t) };
  const domid = await applyCreate(
    plan,
    h.ops,
    {
      attachPci: async (d, spec) => {
        const p = parsePciSpec(spec);
        await pciAttach(
          h.host,
          String(d),
          {
            bdf: { domain: p.domain, bus: p.bus, dev: p.dev, func: p.func },
            ...(p.vdevfn ? { vslot: p.vdevfn >> 3 } : {}),
            permissive: p.permissive || cfg.pci_permissive,
            msitranslate: p.msitranslate || cfg.pci_msitranslate,
            powerMgmt: p.power_mgmt || cfg.pci_power_mgmt,
            seize: p.seize || cfg.pci_seize,
            rdmPolicy: p.rdm_policy === 'relaxed' ? 'relaxed' : 'strict',
            force: false,
            timeoutMs: 10_000,
            starting: true,
          },
          pciOpts,
        );
      },
      startMonitor: async (d) => {
        await recordMonitorInfo(h.ops, d, {
          name: req.name,
          uuid: req.uuid,
          onPoweroff: req.onPoweroff,
          onReboot: req.onReboot,
          onCrash: req.onCrash,
          config: path.resolve(ctx.cwd, c.file),
          overrides: c.overrides,
        });
        // The simulated host has no processes of its own: its shutdown command plays the monitor.
        if (h.ops.kind === 'real') await spawnMonitor(ctx, d, { name: req.name, config: path.resolve(ctx.cwd, c.file), overrides: c.overrides });
      },
      ...(ctx.verbose ? { onBuildStep: (sc: string) => void write(ctx.stderr, `  ${sc}\n`) } : {}),
      ...(ctx.env.XENTOOL_LOG_DIR ? { logDir: ctx.env.XENTOOL_LOG_DIR } : {}),
      detachAllPci: (d: number) => detachAll(h, d, ctx),
      notice: (t: string) => void write(ctx.stderr, `${t}\n`),
    },
    ctx.testHooks?.failAtStep !== undefined ? { failAt: ctx.testHooks.failAtStep } : {},
  );
  for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
  if (ctx.verbose) await write(ctx.stderr, `created domain ${req.name} (domid ${domid})\n`);
  return domid;
}

/** What a shut-down domain's action needs: destroy as `destroy` does, re-create as `create` does. */
function actionHooks(h: DomainHost, ctx: CommandContext, log: (l: string) => void): ActionHooks {
  return {
    destroy: (d) => destroyDomain(h.ops, d, { detachAllPci: (id) => detachAll(h, id, ctx) }),
    recreate: async (m) => {
      await createFromConfig(h, ctx, { file: m.config, overrides: m.overrides, paused: false, dryRun: false, uuid: m.uuid });
    },
    log,
  };
}

/** `create --monitor DOMID CFG`: the detached per-domain monitor (see monitor.ts). */
async function runMonitorMode(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext, domid: number): Promise<number> {
  const stamp = () => new Date().toISOString();
  const log = (l: string) => void write(ctx.stderr, `${stamp()} ${l}\n`);
  return withDomainHost(open, ctx, args, async (h) => {
    await runMonitor(h, domid, actionHooks(h, ctx, log));
    return 0;
  });
}

export async function runShutdown(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext, what: 'poweroff' | 'reboot'): Promise<number> {
  return withDomainHost(open, ctx, args, async (h) => {
    requireRoot(h, ctx, args, what === 'poweroff' ? 'shutdown' : 'reboot');
    const d = findDomain(await h.ops.domains(), String(args.domain));
    if (d.domid === 0) throw new XentoolError('ERR_DOMAIN_INVALID', 'Cannot shut down domain 0 from here.');
    await write(ctx.stderr, `${what === 'poweroff' ? 'Shutting down' : 'Rebooting'} domain ${d.domid}\n`);
    await requestShutdown(h.ops, d, what);
    if (h.ops.kind === 'sim') await simulateGuestShutdown(h, ctx, d.domid, what);
    if (args.wait === true) {
      await write(ctx.stderr, 'Waiting for 1 domains\n');
      const timeoutMs = args.timeout === undefined ? undefined : Number(args.timeout) * 1000;
      const ev = await waitForDomainEvent(h.ops, d.domid, { stopAtShutdown: false, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      if (ev.kind === 'death') await write(ctx.stderr, `Domain ${d.domid} has been destroyed\n`);
    }
    return 0;
  });
}

/**
 * The simulated guest: its xenbus driver acknowledges control/shutdown by clearing it and
 * calls SCHEDOP_shutdown; the simulated host then does at once what the monitor would do.
 */
async function simulateGuestShutdown(h: DomainHost, ctx: CommandContext, domid: number, what: 'poweroff' | 'reboot'): Promise<void> {
  await h.ops.xs.write(`/local/domain/${domid}/control/shutdown`, '');
  await h.ops.remoteShutdown(domid, what);
  const info = await readMonitorInfo(h.ops, domid);
  if (!info) return;
  await applyShutdownAction(domid, info, what, { ...actionHooks(h, ctx, () => undefined) });
}

/** Force-removes a domain's PCI devices through the PCI commands' code (xl destroy does the same). */
async function detachAll(h: DomainHost, domid: number, ctx: CommandContext): Promise<void> {
  const { pciDetach } = await import('../pci/pci-ops');
  const { readAttached } = await import('../pci/backend-xs');
  for (const a of await readAttached(h.host.xs, domid)) {
    await pciDetach(h.host, String(domid), a, { force: true, timeoutMs: 1000 }, { dryRun: false, verbose: ctx.verbose, out: () => undefined, warn: () => undefined });
  }
}

export async function runDestroy(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  return withDomainHost(open, ctx, args, async (h) => {
    requireRoot(h, ctx, args, 'destroy');
    const d = findDomain(await h.ops.domains(), String(args.domain));
    if (d.domid === 0) throw new XentoolError('ERR_DOMAIN_INVALID', 'Cannot destroy privileged domain 0.');
    if (args.dryRun) {
      await write(ctx.stdout, `plan: destroy ${String(args.domain)}\n  1. remove its PCI devices\n  2. pause domain ${d.domid}\n  3. remove its xenstore nodes\n  4. remove its libxl userdata files (${h.ops.xenLibDir}/userdata-?.${d.domid}.${d.uuid}.*)\n  5. xc_domain_destroy ${d.domid}\n`);
      return 0;
    }
    await destroyDomain(h.ops, d.domid, { detachAllPci: (id) => detachAll(h, id, ctx), notice: (t) => void write(ctx.stderr, `${t}\n`) });
    return 0;
  });
}

export async function runPause(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext, pause: boolean): Promise<number> {
  return withDomainHost(open, ctx, args, async (h) => {
    requireRoot(h, ctx, args, pause ? 'pause' : 'unpause');
    const d = findDomain(await h.ops.domains(), String(args.domain));
    if (pause) await h.ops.pause(d.domid);
    else await h.ops.unpause(d.domid);
    return 0;
  });
}

export async function runDomid(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  return withDomainHost(open, ctx, args, async (h) => {
    const name = String(args.name);
    const d = (await h.ops.domains()).find((x) => x.name === name);
    // xl domid: libxl_name_to_domid fails with ERROR_INVAL.
    if (!d) throw new XentoolError('ERR_DOMAIN_INVALID', `Can't get domid of domain name '${name}', maybe this domain does not exist.`);
    await write(ctx.stdout, `${d.domid}\n`);
    return 0;
  });
}

export async function runDomname(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  return withDomainHost(open, ctx, args, async (h) => {
    const arg = String(args.domid);
    if (!/^[0-9]+$/.test(arg)) throw new XentoolError('ERR_USAGE', `Invalid domain id.`, 1);
    const d = (await h.ops.domains()).find((x) => x.domid === Number.parseInt(arg, 10));
    if (!d || d.name === undefined) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `Can't get domain name of domain id '${arg}', maybe this domain does not exist.`);
    await write(ctx.stdout, `${d.name}\n`);
    return 0;
  });
}

export const defaultOpen: OpenDomainHost = openDomainHost;

/**
 * `console [-t pv|serial] [-n N] DOMAIN`. The keyboard side is `input` (the CLI's stdin): the
 * command context carries only output streams, so bin/ passes stdin in when it exists.
 */
export async function runConsoleCommand(open: OpenDomainHost, args: ParsedArgs, ctx: CommandContext, input: ConsoleIo['input']): Promise<number> {
  const type = args.type === undefined ? undefined : String(args.type);
  if (type !== undefined && type !== 'pv' && type !== 'serial') throw new XentoolError('ERR_USAGE', `console type must be pv or serial, got ${type}`, 2);
  const num = args.num === undefined ? 0 : Number(args.num);
  return withDomainHost(open, ctx, args, async (h) => {
    const d = findDomain(await h.ops.domains(), String(args.domain));
    if (h.ops.kind === 'sim') throw new XentoolError('ERR_UNSUPPORTED', 'the simulated host has no consoles to connect to');
    // libxl: serial is the default for HVM guests, PV for the others.
    const t = (type ?? (d.hvm ? 'serial' : 'pv')) as 'pv' | 'serial';
    const { runConsole, consoleTtyPath } = await import('./console');
    const ac = new AbortController();
    const stop = () => ac.abort();
    process.once('SIGTERM', stop);
    try {
      await runConsole(h.ops.xs, consoleTtyPath(d.domid, t, num), { input, output: ctx.stdout }, { signal: ac.signal });
    } finally {
      process.off('SIGTERM', stop);
    }
    return 0;
  });
}
