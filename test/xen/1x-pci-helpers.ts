/**
 * What the xentool PCI scenario files (10-14) share: running xentool and its xm front end in dom0,
 * and many commands in one round trip.
 *
 * Every node start in dom0 costs seconds under TCG (2-5 s idle, a minute on a loaded machine), so
 * each step runs all its commands in one `vm.exec` script that prints
 * `=== NAME` before each command's output and `=== NAME rc=N` after it; `sections()` splits that
 * back into one {out, rc} per command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { xentoolCommand } from './suite';
import type { XenVm } from './xen-vm';

/** The shell commands that run `xentool` and `xm` in dom0 (suite.ts xentoolCommand). */
export function pciCommands(vm: XenVm): { xt: string; xm: string } {
  return { xt: xentoolCommand(vm), xm: xentoolCommand(vm, 'xm') };
}

export interface Section {
  out: string;
  rc: number;
}

/** One script line that runs `cmd` (stdout and stderr together) between the section markers. */
export function step(name: string, cmd: string): string {
  return `echo "=== ${name}"; { ${cmd}; } 2>&1; echo "=== ${name} rc=$?"`;
}

/** Like step(), and the wall clock the command took in dom0 as a line `ms=N` before its end marker. */
export function timed(name: string, cmd: string): string {
  // busybox date has no %N and its sh no floats: dom0's uptime in centiseconds, subtracted by awk.
  return `echo "=== ${name}"; read s _ < /proc/uptime; { ${cmd}; } 2>&1; rc=$?; read e _ < /proc/uptime; awk -v s=$s -v e=$e 'BEGIN { printf "ms=%d\\n", (e - s) * 1000 }'; echo "=== ${name} rc=$rc"`;
}

/** The milliseconds a timed() section measured. */
export function ms(s: Section): number {
  const m = /^ms=(\d+)$/m.exec(s.out);
  if (!m) throw new Error(`no timing in ${JSON.stringify(s.out)}`);
  return Number(m[1]);
}

/** A timed() section's output without its timing line. */
export function withoutTiming(s: Section): Section {
  return { out: s.out.replace(/^ms=\d+\n?/m, ''), rc: s.rc };
}

/** A markdown table of timings (issue 7, scenario 8), printed by the suite and kept as a transcript. */
export function timingTable(title: string, rows: { what: string; seconds: number }[]): string {
  return [`| ${title} | wall clock in dom0 |`, '|---|---|', ...rows.map((t) => `| ${t.what} | ${t.seconds.toFixed(1)} s |`)].join('\n') + '\n';
}

/** Splits a script's output made of step() lines back into sections by name. */
export function sections(text: string): Record<string, Section> {
  const out: Record<string, Section> = {};
  const re = /^=== (\S+)\n([\s\S]*?)^=== \1 rc=(\d+)$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = { out: m[2]!, rc: Number(m[3]) };
  return out;
}

/** Runs the steps in one round trip; the whole output is kept as a transcript file in the share. */
export async function runSteps(vm: XenVm, label: string, steps: string[], timeoutS = 1500): Promise<Record<string, Section>> {
  const r = await vm.exec(steps.join('\n'), { timeoutS });
  fs.mkdirSync(path.join(vm.share, 'transcripts'), { recursive: true });
  fs.writeFileSync(path.join(vm.share, 'transcripts', `${label}.txt`), r.stdout + (r.stderr ? `\n--- stderr\n${r.stderr}` : ''));
  const s = sections(r.stdout);
  if (Object.keys(s).length === 0) throw new Error(`${label}: no section in dom0's output (rc ${r.code}): ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}`);
  return s;
}

/** `xenstore-ls -f` of the host's PCI state plus xl's listings, as steps (for before/after). */
export function hostSnapshotSteps(prefix: string): string[] {
  return [
    step(`${prefix}-backend`, 'xenstore-ls -f /local/domain/0/backend/pci 2>/dev/null || echo none'),
    step(`${prefix}-libxl`, 'xenstore-ls -f /libxl/pci 2>/dev/null || echo none'),
    step(`${prefix}-slots`, 'cat /sys/bus/pci/drivers/pciback/slots'),
    step(`${prefix}-assignable`, 'xl pci-assignable-list'),
    step(`${prefix}-drivers`, 'for d in /sys/bus/pci/devices/*; do l=$(readlink $d/driver); echo "${d##*/} ${l##*/}"; done'),
  ];
}
