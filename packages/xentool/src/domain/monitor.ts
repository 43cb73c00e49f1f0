/**
 * Starting the per-domain monitor: a detached node process (monitor-main.js) that applies
 * on_poweroff/on_reboot/on_crash when the guest shuts down, as xl's `xl-<name>` daemon does.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import type { CommandContext } from '../context';
import { write } from '../context';

export interface MonitorArgs {
  name: string;
  onPoweroff: string;
  onReboot: string;
  onCrash: string;
  config: string;
  overrides: string[];
}

/** Where xl keeps its monitor's log: /var/log/xen/xl-<name>.log; ours sits beside it. */
export function monitorLogPath(logDir: string, name: string): string {
  return path.join(logDir, `xentool-${name}.log`);
}

export async function spawnMonitor(ctx: CommandContext, domid: number, a: MonitorArgs): Promise<void> {
  const main = path.join(__dirname, 'monitor-main.js');
  // Under ts-jest the sources run untranspiled to disk: there is no monitor-main.js to start.
  if (!existsSync(main)) {
    await write(ctx.stderr, `warning: no domain monitor (${main} is not built): on_poweroff/on_reboot/on_crash will not be applied\n`);
    return;
  }
  const logDir = ctx.env.XENTOOL_LOG_DIR ?? '/var/log/xen';
  mkdirSync(logDir, { recursive: true });
  const log = openSync(monitorLogPath(logDir, a.name), 'a');
  try {
    const child = spawn(process.execPath, [main, JSON.stringify({ domid, ...a, cwd: ctx.cwd })], {
      detached: true,
      stdio: ['ignore', log, log],
      cwd: ctx.cwd,
      env: { ...ctx.env } as NodeJS.ProcessEnv,
    });
    child.unref();
  } finally {
    closeSync(log);
  }
}
