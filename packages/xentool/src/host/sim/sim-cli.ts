/** The simulated host's own commands: sim-init, sim-create, sim-destroy, sim-guest. */
import * as path from 'node:path';
import { seedTopology } from '@xentool/pciback';
import type { ParsedArgs } from '../../command';
import type { CommandContext } from '../../context';
import { write } from '../../context';
import { XentoolError } from '../../errors';
import { opOptions } from '../../pci/pci-cli';
import { resolveDomain } from '../../pci/pci-ops';
import { simDir } from '../open-host';
import { SimHost } from './sim-host';
import { createSimDomain, destroySimDomain } from './sim-domains';

function requireSim(ctx: CommandContext, args: ParsedArgs, cmd: string): void {
  if (args.sim !== true && ctx.env.XENTOOL_HOST !== 'sim') {
    throw new XentoolError('ERR_USAGE', `${cmd} works on the simulated host only: add --sim`, 2);
  }
}

async function withSim<T>(ctx: CommandContext, args: ParsedArgs, fn: (h: SimHost) => Promise<T>): Promise<T> {
  const host = await SimHost.open({ dir: simDir(ctx, args), onWait: (pid) => void write(ctx.stderr, `waiting for the simulated host, in use by process ${pid}...\n`) });
  try {
    return await fn(host);
  } finally {
    await host.close();
  }
}

export async function runSimInit(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  requireSim(ctx, args, 'sim-init');
  const dir = simDir(ctx, args);
  if (args.dryRun) {
    await write(ctx.stdout, `plan: sim-init\n  1. create the seed host in ${dir}\n`);
    return 0;
  }
  await SimHost.create(dir, seedTopology({ hidden: args.hidden !== false }), { iommu: args.noIommu !== true });
  await write(ctx.stdout, `simulated host created in ${dir}\n`);
  return 0;
}

export async function runSimCreate(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  requireSim(ctx, args, 'sim-create');
  const { readConfigFile, domainConfigFromFile } = await import('../../config/index');
  const overrides = ((args.overrides as string[] | undefined) ?? []).map(String);
  const file = String(args.config);
  const cfg = domainConfigFromFile(await readConfigFile(path.resolve(ctx.cwd, file), overrides, file));
  for (const w of cfg.warnings) await write(ctx.stderr, `warning: ${w}\n`);
  return withSim(ctx, args, async (host) => {
    const o = opOptions(ctx, args, []);
    try {
      const domid = await createSimDomain(host, cfg, o);
      if (domid >= 0) o.out(`created domain ${cfg.name} (id ${domid})\n`);
    } finally {
      await o.finish();
    }
    return 0;
  });
}

export async function runSimDestroy(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  requireSim(ctx, args, 'sim-destroy');
  return withSim(ctx, args, async (host) => {
    const domid = await resolveDomain(host, String(args.domain));
    const o = opOptions(ctx, args, []);
    try {
      if (args.dryRun) o.out(`plan: sim-destroy ${String(args.domain)}\n  1. force-remove its PCI devices and destroy domain ${domid}\n`);
      else await destroySimDomain(host, domid, o);
    } finally {
      await o.finish();
    }
    return 0;
  });
}

export async function runSimGuest(args: ParsedArgs, ctx: CommandContext): Promise<number> {
  requireSim(ctx, args, 'sim-guest');
  return withSim(ctx, args, async (host) => {
    const domid = await resolveDomain(host, String(args.domain));
    const meta = host.state.domains.find((d) => d.domid === domid);
    if (!meta || domid === 0) throw new XentoolError('ERR_DOMAIN_NOT_FOUND', `domain ${String(args.domain)} does not exist`);
    const key = String(domid);
    if (args.ignoreUnplug !== undefined) {
      if (!meta.hvm) throw new XentoolError('ERR_USAGE', '--ignore-unplug applies to HVM guests (ACPI hot-unplug)', 2);
      host.state.qemu[key]!.ignoreUnplug = args.ignoreUnplug === true;
    }
    if (args.hung !== undefined) {
      if (meta.hvm) throw new XentoolError('ERR_USAGE', '--hung applies to PV guests (pcifront)', 2);
      host.state.guests[key]!.hung = args.hung === true;
    }
    // What the guest itself sees: pcifront's devices (PV), or the passthrough devices in QEMU's bus (HVM).
    const seen = meta.hvm
      ? host.state.qemu[key]!.devices.filter((d) => d.driver === 'xen-pci-passthrough').map((d) => ({
          address: `0000:00:${d.slot.toString(16).padStart(2, '0')}.${d.function}`,
          host: d.hostaddr,
        }))
      : host.state.guests[key]!.devices.map((v) => ({ address: v }));
    if (args.json) {
      await write(ctx.stdout, JSON.stringify({ domid, hvm: meta.hvm, devices: seen }, null, 2) + '\n');
    } else {
      await write(ctx.stdout, seen.length === 0 ? 'the guest sees no passthrough PCI device\n' : seen.map((s) => `guest sees ${s.address}${'host' in s && s.host ? ` (host ${s.host})` : ''}\n`).join(''));
    }
    return 0;
  });
}
