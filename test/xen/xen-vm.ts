/**
 * XenVm: real Xen 4.17 + a Debian dom0 under QEMU (TCG), and commands run inside dom0.
 *
 *   const vm = await XenVm.boot({ images, runDir });
 *   const r = await vm.exec('xl info');      // { stdout, stderr, code, ms }
 *   await vm.shutdown();
 *
 * Commands travel over a virtio-9p share (tag host0, /mnt/host in dom0) to the agent in dom0's
 * /init (init-dom0.sh documents the protocol). Because the protocol is only files in the share,
 * another process can drive a VM it did not boot: `XenVm.attach(runDir)` (the jest suite boots
 * once in globalSetup and every test file attaches).
 *
 * The machine is the one xen-in-qemu.md found to work for PV and HVM passthrough: q35 with an
 * emulated AMD IOMMU and cpu qemu64,+svm,+npt. Without an IOMMU Xen 4.17 answers EOPNOTSUPP to
 * xc_assign_device, and CPU models with SMAP (EPYC, Skylake) crash the PV dom0 unless Xen gets
 * smap=0.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export type XenVmErrorCode =
  | 'ERR_XENVM_QEMU_MISSING'
  | 'ERR_XENVM_IMAGES_MISSING'
  | 'ERR_XENVM_BOOT_FAILED'
  | 'ERR_XENVM_BOOT_TIMEOUT'
  | 'ERR_XENVM_EXEC_TIMEOUT'
  | 'ERR_XENVM_NOT_RUNNING'
  | 'ERR_XENVM_COMMAND_FAILED'
  | 'ERR_XENVM_CONSOLE_TIMEOUT';

export class XenVmError extends Error {
  constructor(
    readonly code: XenVmErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'XenVmError';
  }
}

/** A spare PCI device of the test machine, as dom0 sees it. */
export interface SpareDevice {
  bdf: string;
  /** vendor:device as lspci -n prints it */
  id: string;
  what: string;
}

/**
 * The spare devices on the QEMU command line and where dom0 finds them. Slot 02 is the AMD IOMMU,
 * 03 and 08 the two 9p shares; the bridge at 07 gets secondary bus 01.
 */
export const SPARE_DEVICES: readonly SpareDevice[] = [
  { bdf: '0000:00:04.0', id: '8086:100e', what: 'e1000' },
  { bdf: '0000:00:05.0', id: '1234:11e8', what: 'edu' },
  { bdf: '0000:00:06.0', id: '1b36:0005', what: 'pci-testdev' },
  { bdf: '0000:01:01.0', id: '8086:100e', what: 'e1000 behind the pci-bridge' },
  { bdf: '0000:01:02.0', id: '1234:11e8', what: 'edu behind the pci-bridge' },
];

export interface XenVmOptions {
  /** Directory with xen, vmlinuz, dom0.cpio.gz (build-initramfs.sh's OUT). */
  images: string;
  /** Fresh directory for this VM: share/, serial.log, qemu.log. Kept after shutdown. */
  runDir: string;
  /** Mounted read-only at /mnt/proj in dom0. */
  projectDir?: string;
  /** 'xenstored' (C, default) or 'oxenstored'. */
  xenstored?: 'xenstored' | 'oxenstored';
  /** dom0 memory in MiB (node in the initramfs needs at least 1024). */
  dom0MemMiB?: number;
  memMiB?: number;
  bootTimeoutMs?: number;
  qemu?: string;
  /** Called with progress lines (boot, shutdown). */
  log?: (line: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
  /** wall-clock time from submitting to seeing the result, including the agent's polling */
  ms: number;
}

export interface ExecOptions {
  /** Seconds before dom0 kills the command (rc 137) and the host gives up a little later. */
  timeoutS?: number;
  /** Working directory inside dom0 (default /root). */
  cwd?: string;
}

const DEFAULT_EXEC_TIMEOUT_S = 120;
const POLL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Lines in the serial log that mean dom0 will never come up. */
const FATAL_SERIAL = [
  /Hardware Dom0 crashed/,
  /Kernel panic/,
  /xenvm-init: FATAL/,
  /Panic on CPU/,
];

/** Builds QEMU's argument list (exported for the unit test and for humans reading it). */
export function qemuArgs(o: XenVmOptions, share: string, serialLog: string): string[] {
  const dom0Mem = o.dom0MemMiB ?? 2048;
  const xenArgs = [
    'console=com1',
    'com1=115200,8n1',
    'loglvl=all',
    'guest_loglvl=all',
    'console_timestamps=boot',
    'noreboot',
    `dom0_mem=${dom0Mem}M,max:${dom0Mem}M`,
    'dom0_max_vcpus=2',
    // For experiments by hand (test/xen/README.md, HVM): more Xen options, e.g. `asid=0`.
    ...(process.env.XENVM_XEN_ARGS ?? '').split(' ').filter(Boolean),
  ];
  const dom0Args = ['console=hvc0', 'earlyprintk=xen', 'loglevel=6'];
  if (o.xenstored) dom0Args.push(`xenvm.xenstored=${o.xenstored}`);
  // QEMU splits option values (and the multiboot module list) on commas; a literal comma is ",,".
  const q = (v: string) => v.replace(/,/g, ',,');
  const modules = [q(`${path.join(o.images, 'vmlinuz')} ${dom0Args.join(' ')}`), q(path.join(o.images, 'dom0.cpio.gz'))].join(',');
  const args = [
    // XENVM_QEMU_ACCEL / XENVM_QEMU_CPU: for experiments by hand, as XENVM_XEN_ARGS above.
    '-accel', process.env.XENVM_QEMU_ACCEL ?? 'tcg,thread=multi',
    '-machine', 'q35',
    '-cpu', process.env.XENVM_QEMU_CPU ?? 'qemu64,+svm,+npt',
    '-smp', '2',
    '-m', `${o.memMiB ?? 3072}M`,
    '-display', 'none',
    '-monitor', 'none',
    '-no-reboot',
    '-nic', 'none',
    '-chardev', `file,id=s0,path=${q(serialLog)}`,
    '-serial', 'chardev:s0',
    '-device', 'amd-iommu',
    // Fixed slots: with -virtfs QEMU picks the first free slot and then refuses addr=04.0.
    '-fsdev', `local,id=fs0,path=${q(share)},security_model=none`,
    '-device', 'virtio-9p-pci,fsdev=fs0,mount_tag=host0,addr=03.0',
  ];
  if (o.projectDir) {
    args.push(
      '-fsdev', `local,id=fs1,path=${q(o.projectDir)},security_model=none,readonly=on`,
      '-device', 'virtio-9p-pci,fsdev=fs1,mount_tag=proj,addr=08.0',
    );
  }
  args.push(
    '-device', 'e1000,addr=04.0',
    '-device', 'edu,addr=05.0',
    '-device', 'pci-testdev,addr=06.0',
    '-device', 'pci-bridge,id=b1,chassis_nr=1,addr=07.0',
    '-device', 'e1000,bus=b1,addr=01.0',
    '-device', 'edu,bus=b1,addr=02.0',
    '-kernel', path.join(o.images, 'xen'),
    '-append', xenArgs.join(' '),
    '-initrd', modules,
  );
  return args;
}

export class XenVm {
  readonly share: string;
  readonly serialLog: string;
  private seq = 0;
  private qemu: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  private constructor(readonly runDir: string) {
    this.share = path.join(runDir, 'share');
    this.serialLog = path.join(runDir, 'serial.log');
  }

  /** Boots a VM and resolves once dom0's agent is ready. */
  static async boot(o: XenVmOptions): Promise<XenVm> {
    const log = o.log ?? (() => undefined);
    for (const f of ['xen', 'vmlinuz', 'dom0.cpio.gz']) {
      if (!fs.existsSync(path.join(o.images, f))) {
        throw new XenVmError('ERR_XENVM_IMAGES_MISSING', `${path.join(o.images, f)} is missing; run test/xen/build-initramfs.sh`);
      }
    }
    fs.mkdirSync(o.runDir, { recursive: true });
    const vm = new XenVm(path.resolve(o.runDir));
    fs.mkdirSync(vm.share, { recursive: true });
    const qemuLog = fs.openSync(path.join(vm.runDir, 'qemu.log'), 'w');
    const args = qemuArgs(o, vm.share, vm.serialLog);
    fs.writeFileSync(path.join(vm.runDir, 'qemu.cmdline'), [o.qemu ?? 'qemu-system-x86_64', ...args].join('\n') + '\n');
    const started = Date.now();
    const child = spawn(o.qemu ?? 'qemu-system-x86_64', args, { stdio: ['ignore', qemuLog, qemuLog] });
    fs.closeSync(qemuLog);
    vm.qemu = child;
    vm.exited = new Promise((resolve) => {
      child.on('exit', (code) => resolve(code));
      child.on('error', () => resolve(null));
    });
    fs.writeFileSync(path.join(vm.runDir, 'qemu.pid'), `${child.pid ?? ''}\n`);
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    let exitCode: number | null | undefined;
    void vm.exited.then((c) => (exitCode = c));

    const timeout = o.bootTimeoutMs ?? 240_000;
    const readyFile = path.join(vm.share, 'ready');
    log(`xenvm: booting (run dir ${vm.runDir})`);
    for (;;) {
      if (fs.existsSync(readyFile)) break;
      if (spawnError) {
        throw new XenVmError('ERR_XENVM_QEMU_MISSING', `cannot start ${o.qemu ?? 'qemu-system-x86_64'}: ${spawnError.message} (run test/xen/setup.sh)`);
      }
      if (exitCode !== undefined) {
        throw new XenVmError('ERR_XENVM_BOOT_FAILED', `QEMU exited (${exitCode}) before dom0 was ready; see ${vm.runDir}/qemu.log and serial.log:\n${tail(readIfExists(path.join(vm.runDir, 'qemu.log')), 5)}\n${tail(readIfExists(vm.serialLog), 15)}`);
      }
      const serial = readIfExists(vm.serialLog);
      const fatal = FATAL_SERIAL.find((re) => re.test(serial));
      if (fatal) {
        await vm.kill();
        throw new XenVmError('ERR_XENVM_BOOT_FAILED', `dom0 did not come up (${fatal.source}); see ${vm.serialLog}:\n${tail(serial, 15)}`);
      }
      if (Date.now() - started > timeout) {
        await vm.kill();
        throw new XenVmError('ERR_XENVM_BOOT_TIMEOUT', `dom0 not ready after ${timeout / 1000} s; see ${vm.serialLog}:\n${tail(serial, 15)}`);
      }
      await sleep(200);
    }
    log(`xenvm: dom0 ready after ${((Date.now() - started) / 1000).toFixed(1)} s (${readIfExists(readyFile).trim()})`);
    return vm;
  }

  /** Drives a VM booted by another process (the protocol is only files in runDir/share). */
  static attach(runDir: string): XenVm {
    const vm = new XenVm(path.resolve(runDir));
    if (!fs.existsSync(path.join(vm.share, 'ready'))) {
      throw new XenVmError('ERR_XENVM_NOT_RUNNING', `no ready VM in ${runDir}`);
    }
    return vm;
  }

  /** The text of dom0's boot file: uptime, xenstored flavour, kernel and Xen versions. */
  readyInfo(): string {
    return readIfExists(path.join(this.share, 'ready')).trim();
  }

  /** Runs a shell script (busybox sh) in dom0 and returns its output and exit code. */
  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (fs.existsSync(path.join(this.share, 'POWEROFF'))) {
      throw new XenVmError('ERR_XENVM_NOT_RUNNING', `the VM in ${this.runDir} is powered off`);
    }
    const timeoutS = opts.timeoutS ?? DEFAULT_EXEC_TIMEOUT_S;
    const id = `${process.pid}-${++this.seq}-${Date.now()}`;
    const q = path.join(this.share, 'q');
    const body = `# timeout=${timeoutS}\n${opts.cwd ? `cd '${opts.cwd.replace(/'/g, `'\\''`)}' || exit 126\n` : ''}${script}\n`;
    const started = Date.now();
    fs.writeFileSync(path.join(q, `${id}.tmp`), body);
    fs.renameSync(path.join(q, `${id}.tmp`), path.join(q, `${id}.sh`));
    const rcFile = path.join(q, `${id}.rc`);
    // dom0 kills the script at timeoutS; the extra margin covers the agent's polling and 9p.
    const deadline = started + timeoutS * 1000 + 15_000;
    while (!fs.existsSync(rcFile)) {
      if (Date.now() > deadline) {
        throw new XenVmError('ERR_XENVM_EXEC_TIMEOUT', `no answer from dom0 after ${timeoutS} s for: ${script.split('\n')[0]}`);
      }
      if (this.qemu && this.qemu.exitCode !== null) {
        throw new XenVmError('ERR_XENVM_NOT_RUNNING', `QEMU exited while running: ${script.split('\n')[0]}; see ${this.serialLog}`);
      }
      await sleep(POLL_MS);
    }
    const result: ExecResult = {
      stdout: readIfExists(path.join(q, `${id}.out`)),
      stderr: readIfExists(path.join(q, `${id}.err`)),
      code: Number(readIfExists(rcFile).trim()),
      ms: Date.now() - started,
    };
    for (const ext of ['run', 'out', 'err', 'rc']) fs.rmSync(path.join(q, `${id}.${ext}`), { force: true });
    return result;
  }

  /** Like exec, but a non-zero exit code is an error that quotes stderr. */
  async execOk(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(script, opts);
    if (r.code !== 0) {
      throw new XenVmError('ERR_XENVM_COMMAND_FAILED', `dom0: \`${script.split('\n')[0]}\` exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    }
    return r;
  }

  /** A guest's console as xenconsoled logged it (dom0's /var/log/xen/console lives in the share). */
  guestConsole(name: string): string {
    return readIfExists(path.join(this.share, 'consoles', `guest-${name}.log`));
  }

  /** Waits until a guest's console matches `re`, and returns the console text at that moment. */
  async waitForConsole(name: string, re: RegExp, timeoutMs = 60_000): Promise<string> {
    const started = Date.now();
    for (;;) {
      const text = this.guestConsole(name);
      if (re.test(text)) return text;
      if (Date.now() - started > timeoutMs) {
        throw new XenVmError('ERR_XENVM_CONSOLE_TIMEOUT', `guest ${name}: no ${re} on its console after ${timeoutMs / 1000} s; last lines:\n${tail(text, 10)}`);
      }
      await sleep(250);
    }
  }

  /** Powers dom0 off (ACPI S5 makes QEMU exit 0); kills QEMU if that does not happen in time. */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    fs.writeFileSync(path.join(this.share, 'POWEROFF'), '');
    const pid = this.qemuPid();
    const started = Date.now();
    while (pid && alive(pid)) {
      if (Date.now() - started > timeoutMs) {
        await this.kill();
        return;
      }
      await sleep(200);
    }
  }

  private qemuPid(): number | undefined {
    if (this.qemu?.pid) return this.qemu.pid;
    const n = Number(readIfExists(path.join(this.runDir, 'qemu.pid')).trim());
    return n > 0 ? n : undefined;
  }

  private async kill(): Promise<void> {
    const pid = this.qemuPid();
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGKILL');
      if (this.exited) await this.exited;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
