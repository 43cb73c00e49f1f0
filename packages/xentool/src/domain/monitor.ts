/**
 * The per-domain monitor, xentool's counterpart of xl's `xl-<name>` daemon: `xl create` forks
 * itself to wait for the guest's death and apply on_poweroff/on_reboot/on_crash; here `create`
 * starts itself again, detached, as `xentool create --monitor DOMID CFG [KEY=VALUE...]`. It logs
 * to /var/log/xen/xentool-<name>.log (xl: xl-<name>.log) and exits when the domain is gone.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import * as path from 'node:path';
import type { CommandContext } from '../context';
import { write } from '../context';
import type { DomainHost } from './open-domain-host';
import { type ActionHooks, applyShutdownAction, readMonitorInfo, waitForDomainEvent } from './lifecycle';

export function monitorLogPath(logDir: string, name: string): string {
  return path.join(logDir, `xentool-${name}.log`);
}

/**
 * The CLI script this process runs (bin/xentool.js); undefined when xentool runs inside
 * another program (tests), where no monitor can be started.
 */
function cliScript(): string | undefined {
  const main = require.main?.filename;
  return main && /xentool(\.js)?$/.test(path.basename(main)) ? main : undefined;
}

export async function spawnMonitor(ctx: CommandContext, domid: number, a: { name: string; config: string; overrides: string[] }): Promise<number | undefined> {
  const script = cliScript();
  if (!script) {
    await write(ctx.stderr, 'warning: xentool is not running as its CLI, so no domain monitor was started: on_poweroff/on_reboot/on_crash will not be applied\n');
    return undefined;
  }
  const logDir = ctx.env.XENTOOL_LOG_DIR ?? '/var/log/xen';
  mkdirSync(logDir, { recursive: true });
  const log = openSync(monitorLogPath(logDir, a.name), 'a');
  try {
    const child = spawn(process.execPath, [script, 'create', '--monitor', String(domid), a.config, ...a.overrides], {
      // Its own session: the monitor outlives the shell that ran `create`, as xl's daemon does.
      detached: true,
      stdio: ['ignore', log, log],
      cwd: ctx.cwd,
      env: { ...ctx.env } as NodeJS.ProcessEnv,
    });
    child.unref();
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** The monitor's loop; resolves when the domain is gone (or preserved) and nothing is left to do. */
export async function runMonitor(h: DomainHost, domid: number, hooks: ActionHooks): Promise<void> {
  const info = await readMonitorInfo(h.ops, domid);
  if (!info) {
    hooks.log(`domain ${domid} has no monitor record (/libxl/${domid}/xentool/monitor): nothing to watch`);
    return;
  }
  hooks.log(`Waiting for domain ${info.name} (domid ${domid}) to die [pid ${process.pid}]`);
  const ev = await waitForDomainEvent(h.ops, domid, { stopAtShutdown: true });
  if (ev.kind === 'death') {
    hooks.log(`Domain ${domid} has been destroyed.`);
    return;
  }
  hooks.log(`Domain ${domid} has been shut down, reason code ${String(ev.reason)}`);
  await applyShutdownAction(domid, info, ev.reason, hooks);
}
