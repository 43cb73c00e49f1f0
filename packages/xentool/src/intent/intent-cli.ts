/** `pci-recover` and `pci-audit`: argument handling and output; the work is in recover.ts and audit.ts. */
import type { ParsedArgs } from '../command';
import type { CommandContext } from '../context';
import { write } from '../context';
import type { OpenPciHost } from '../pci/pci-cli';
import { opOptions, requireRoot } from '../pci/pci-cli';
import { XentoolError } from '../errors';
import { parseBdf } from '../pci-spec/parse-pci-spec';
import { stepHandlersFor } from '../pci/pci-ops';
import { auditHost, formatAudit } from './audit';
import { takeLock } from './guarded-apply';
import { checkpointFor, intentStoreFor, recoveryEnvFor } from './host-intents';
import { recoverIntents, type RecoveryOutcome } from './recover';

export async function runPciRecover(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  if (args.forget === true) return runForget(open, args, ctx);
  if (args.domain !== undefined) throw new XentoolError('ERR_USAGE', 'pci-recover takes DOMAIN and BDF only with --forget', 2);
  const host = await open(ctx, args);
  try {
    requireRoot(host, ctx, args, 'pci-recover');
    const dryRun = args.dryRun === true;
    const warnings: string[] = [];
    const handlers = stepHandlersFor(host, { warn: (t) => warnings.push(t) });
    // Recovery changes the host like any PCI command, so it takes the same lock.
    const lock = dryRun
      ? undefined
      : await takeLock(
          { pid: process.pid, ...(host.kind === 'real' ? { lock: { timeoutMs: 120_000, onWait: (t: string) => void write(ctx.stderr, `${t}\n`) } } : {}) },
          'pci-recover',
        );
    let outcomes: RecoveryOutcome[];
    try {
      const cp = checkpointFor(host);
      const hooks = ctx.testHooks;
      const kill = hooks?.killAtStep !== undefined && hooks.killSelf ? { at: hooks.killAtStep, now: hooks.killSelf } : undefined;
      outcomes = await recoverIntents(intentStoreFor(host), recoveryEnvFor(host, handlers), {
        dryRun,
        ...(cp ? { checkpoint: cp } : {}),
        // Test-only: XENTOOL_TEST_KILL_AT_STEP=N kills pci-recover before its N-th change.
        ...(kill ? { beforeAction: (i: number) => (i === kill.at ? kill.now() : undefined) } : {}),
      });
    } finally {
      await lock?.release();
    }
    for (const w of warnings) await write(ctx.stderr, `warning: ${w}\n`);
    if (args.json) {
      await write(ctx.stdout, JSON.stringify({ dryRun, operations: outcomes }, null, 2) + '\n');
    } else {
      await write(ctx.stdout, formatOutcomes(outcomes, dryRun));
    }
    return outcomes.some((o) => o.action === 'stuck') ? 1 : 0;
  } finally {
    await host.close();
  }
}

function formatOutcomes(outcomes: RecoveryOutcome[], dryRun: boolean): string {
  if (outcomes.length === 0) return 'pci-recover: no unfinished operations\n';
  const verb: Record<RecoveryOutcome['action'], string> = dryRun
    ? { 'rolled back': 'would roll back', finished: 'would finish', closed: 'would close', stuck: 'would be stuck' }
    : { 'rolled back': 'rolled back', finished: 'finished', closed: 'closed', stuck: 'STUCK' };
  let out = '';
  for (const o of outcomes) {
    out += `${o.command} (intent ${o.id}): ${verb[o.action]}, because ${o.why}\n`;
    for (const a of o.actions) out += `  ${a}\n`;
    for (const f of o.failures) out += `  failed: ${f}\n`;
  }
  return out;
}

export async function runPciAudit(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  const host = await open(ctx, args);
  try {
    const report = await auditHost(host, intentStoreFor(host));
    await write(ctx.stdout, args.json ? JSON.stringify(report, null, 2) + '\n' : formatAudit(report));
    return report.clean ? 0 : 1;
  } finally {
    await host.close();
  }
}

async function runForget(open: OpenPciHost, args: ParsedArgs, ctx: CommandContext): Promise<number> {
  if (typeof args.domain !== 'string' || typeof args.bdf !== 'string') {
    throw new XentoolError('ERR_USAGE', 'pci-recover --forget needs DOMAIN and BDF', 2);
  }
  const p = parseBdf(args.bdf);
  const host = await open(ctx, args);
  try {
    requireRoot(host, ctx, args, 'pci-recover --forget');
    const { forgetDevice } = await import('./forget');
    const o = opOptions(ctx, args, []);
    try {
      await forgetDevice(host, args.domain, { domain: p.domain, bus: p.bus, dev: p.dev, func: p.func }, o);
    } finally {
      await o.finish();
    }
    return 0;
  } finally {
    await host.close();
  }
}
