/**
 * The contract's driver for real Xen in the test/xen VM (used by test/xen/15-contract.test.ts).
 *
 * A batch is one `vm.exec` round trip (each xentool start costs 5-170 s under TCG): every
 * command writes its stdout, stderr and exit code to files in the run's share, which the host
 * reads back byte for byte. Each batch also leaves a transcript in the share's transcripts/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { guestPciReports } from '../xen/guests';
import type { ExecOptions, ExecResult } from '../xen/xen-vm';
import type { ContractCommand, ContractDriver, Outcome } from './pci-contract';

/** What the driver needs of XenVm (a fake in a test can stand in). */
export interface VmLike {
  readonly share: string;
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  guestConsole(name: string): string;
}

export interface XenVmDriverOptions {
  /** Shell prefixes that run xentool and xm in dom0 (1x-pci-helpers.ts pciCommands). */
  xentool: string;
  xm: string;
  /** The guests whose frontends and pci-list go into hostState. */
  guests: string[];
  /** Per batch, seconds before dom0 kills it. */
  timeoutS: number;
  /** Where the share is mounted in dom0. */
  shareInDom0?: string;
}

const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/**
 * hostState in dom0: every PCI backend, the guests' frontends, /libxl/pci without the empty
 * directories libxl never deletes (test/xen/README.md, facts), pciback's slots, xl's assignable
 * list, every PCI function's dom0 driver, xl's pci-list of each guest.
 *
 * Taken once the guests' pcifronts have settled (up to 120 s): attach waits for the backend only
 * (as libxl), so a slow guest's frontend can still be on its way from Initialised (3) to Connected
 * (4) when the next command runs; seen on 2026-11-24 with two VMs sharing the machine, a snapshot
 * before a refusal said 3 and the one after it 4.
 */
export function stateScript(guests: string[]): string {
  const gs = guests.map(q).join(' ');
  return [
    `i=0; while [ $i -lt 120 ]; do busy=; for g in ${gs}; do d=$(xl domid $g 2>/dev/null) || continue; s=$(xenstore-read /local/domain/$d/device/pci/0/state 2>/dev/null) || continue; b=$(xenstore-read /local/domain/0/backend/pci/$d/0/state 2>/dev/null); [ "$b" = 4 ] && [ "$s" != 4 ] && busy=1; done; [ -z "$busy" ] && break; sleep 1; i=$((i+1)); done`,
    "echo '# backend'; xenstore-ls -f /local/domain/0/backend/pci 2>/dev/null",
    `echo '# frontends'; for g in ${gs}; do i=$(xl domid $g 2>/dev/null) && xenstore-ls -f /local/domain/$i/device/pci 2>/dev/null; done`,
    "echo '# libxl'; xenstore-ls -f /libxl/pci 2>/dev/null | grep -v '= \"\"$'",
    "echo '# slots'; cat /sys/bus/pci/drivers/pciback/slots",
    "echo '# assignable'; xl pci-assignable-list",
    'echo \'# drivers\'; for d in /sys/bus/pci/devices/*; do l=$(readlink $d/driver); echo "${d##*/} ${l##*/}"; done',
    `echo '# pci-list'; for g in ${gs}; do echo "## $g"; xl pci-list $g; done`,
    'true',
  ].join('\n');
}

export class XenVmDriver implements ContractDriver {
  private n = 0;
  constructor(
    private readonly vm: VmLike,
    private readonly o: XenVmDriverOptions,
  ) {}

  /** The shell text of one command (its output goes to files; see batch). */
  shell(c: ContractCommand): string {
    if ('xentool' in c) return `${this.o.xentool} ${c.xentool.map(q).join(' ')}`;
    if ('xm' in c) return `${this.o.xm} ${c.xm.map(q).join(' ')}`;
    if ('xl' in c) return `xl ${c.xl.map(q).join(' ')}`;
    if ('state' in c) return stateScript(this.o.guests);
    if ('backend' in c) return `i=$(xl domid ${q(c.backend)}) && xenstore-ls -f /local/domain/0/backend/pci/$i 2>/dev/null; true`;
    return `l=$(readlink /sys/bus/pci/devices/${q(c.driverOf)}/driver); printf %s "\${l##*/}"`;
  }

  async batch(cmds: ContractCommand[]): Promise<Outcome[]> {
    const label = `15-contract-${++this.n}`;
    const dir = `${this.o.shareInDom0 ?? '/mnt/host'}/c15/${label}`;
    const script = [`rm -rf ${dir}; mkdir -p ${dir}`];
    cmds.forEach((c, i) => script.push(`{\n${this.shell(c)}\n} > ${dir}/${i}.out 2> ${dir}/${i}.err < /dev/null; echo $? > ${dir}/${i}.rc`));
    const r = await this.vm.exec(script.join('\n'), { timeoutS: this.o.timeoutS });
    const local = path.join(this.vm.share, 'c15', label);
    const read = (f: string) => fs.readFileSync(path.join(local, f), 'utf8');
    const outs: Outcome[] = [];
    const transcript: string[] = [];
    cmds.forEach((c, i) => {
      if (!fs.existsSync(path.join(local, `${i}.rc`))) {
        throw new Error(`${label}: dom0 did not finish command ${i} (${JSON.stringify(c)}); exec rc ${r.code}: ${r.stderr.slice(-2000)}`);
      }
      const o = { stdout: read(`${i}.out`), stderr: read(`${i}.err`), code: Number(read(`${i}.rc`).trim()) };
      outs.push(o);
      transcript.push(`=== ${i} ${JSON.stringify(c)} rc=${o.code}\n${o.stdout}${o.stderr ? `--- stderr\n${o.stderr}` : ''}`);
    });
    fs.mkdirSync(path.join(this.vm.share, 'transcripts'), { recursive: true });
    fs.writeFileSync(path.join(this.vm.share, 'transcripts', `${label}.txt`), transcript.join('\n'));
    return outs;
  }

  /** The guest's newest console report of its PCI devices (init-guest.sh prints one per change). */
  async guestDeviceCount(name: string, expected: number, timeoutMs = 180_000): Promise<number> {
    const newest = () => guestPciReports(this.vm.guestConsole(name)).pop()?.devices.length ?? -1;
    const started = Date.now();
    while (newest() !== expected && Date.now() - started < timeoutMs) await new Promise((res) => setTimeout(res, 500));
    return newest();
  }
}
