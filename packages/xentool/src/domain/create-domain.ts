/**
 * Applying a creation plan. The handlers share one record of what has been made so far (the
 * domid, the event channels, the frames); only the first step has an undo, and it is the whole
 * teardown: once a domain exists, destroying it (and its xenstore nodes, PCI devices and
 * console) is the one correct way back from any later failure.
 */
import { mkdirSync } from 'node:fs';
import { TSC_MODES } from '../config/domain-config';
import { XentoolError } from '../errors';
import { applyPlan } from '../plan/apply-plan';
import type { Plan, Step, StepHandlers } from '../plan/plan';
import type { OpOptions } from '../pci/pci-ops';
import { waitFor } from '../xs/wait-for';
import type { CreateDomainArgs, DomainOps } from './domain-ops';
import { destroyDomain } from './destroy-domain';
import { type HvmOptions, qemuXenArgv } from './hvm-options';
import { type E820Json, e820FromJson, formatE820 } from './e820-host';
import { type LibxlJson, formatLibxlJson, removeUserdata, storeUserdata, userdataPath } from './libxl-userdata';
import { removeDomainNodes, writeBuildPost, writeConsole, writeDeviceModelPre, writeSkeleton } from './xs-domain';

export interface CreateState {
  domid?: number;
  storePort?: number;
  consolePort?: number;
  storeMfn?: bigint;
  consoleMfn?: bigint;
}

export interface CreateHooks {
  /** Attaches one pci=[...] entry (pci-ops' pciAttach on the host). */
  attachPci(domid: number, spec: string): Promise<void>;
  /** Starts the per-domain monitor (on_poweroff & co.). */
  startMonitor(domid: number, step: Step): Promise<void>;
  /** Force-removes the domain's PCI devices during a teardown. */
  detachAllPci?(domid: number): Promise<void>;
  /** Where qemu-dm-<name>.log goes (default /var/log/xen). */
  logDir?: string;
  /** libxenguest progress, for --verbose. */
  onBuildStep?(syscall: string): void;
  /** A line for stderr at once (waiting for libxl's userdata lock). */
  notice?(text: string): void;
  /** How long to wait for libxl's userdata lock (default 120 s). */
  lockTimeoutMs?: number;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new XentoolError('ERR_INTERNAL', `create: ${what} is not known yet (steps out of order)`);
  return v;
}

export function createHandlers(ops: DomainOps, state: CreateState, hooks: CreateHooks): StepHandlers {
  const domid = () => need(state.domid, 'the domid');
  const userdataLocked = async (d: number, uuid: string, fn: () => unknown) => {
    const { withDomainUserdataLock } = await import('../libxl/userdata-lock');
    await withDomainUserdataLock(ops.xenLibDir, d, uuid, { timeoutMs: hooks.lockTimeoutMs ?? 120_000, ...(hooks.notice ? { onWait: hooks.notice } : {}) }, fn);
  };
  // Both builders take the event channels build-pre made and hand back the store and console
  // frames the later steps need.
  type BuildPorts = { storePort: number; consolePort: number; onStep?: (syscall: string) => void };
  const buildImage = async (build: (d: number, ports: BuildPorts) => Promise<{ storeMfn: bigint; consoleMfn: bigint }>): Promise<Step[]> => {
    const r = await build(domid(), {
      storePort: need(state.storePort, 'the store port'),
      consolePort: need(state.consolePort, 'the console port'),
      ...(hooks.onBuildStep ? { onStep: hooks.onBuildStep } : {}),
    });
    state.storeMfn = r.storeMfn;
    state.consoleMfn = r.consoleMfn;
    return [];
  };
  return {
    'domain.create': {
      describe: (s) =>
        `create a paused ${String(s.type).toUpperCase()} domain (uuid ${String(s.uuid)}, ${String(s.maxVcpus)} vcpus max, passthrough ${String(s.passthrough)})`,
      apply: async (s) => {
        state.domid = await ops.createDomain(s as unknown as CreateDomainArgs);
        return [{ op: 'domain.teardown' }];
      },
    },
    'domain.teardown': {
      describe: () => `destroy the half-built domain ${state.domid ?? '?'} and remove its xenstore nodes`,
      apply: async () => {
        if (state.domid !== undefined) {
          await destroyDomain(ops, state.domid, {
            force: true,
            ...(hooks.detachAllPci ? { detachAllPci: (d) => hooks.detachAllPci!(d) } : {}),
            ...(hooks.notice ? { notice: hooks.notice } : {}),
            ...(hooks.lockTimeoutMs !== undefined ? { lockTimeoutMs: hooks.lockTimeoutMs } : {}),
          });
        }
        return [];
      },
    },
    'xs.skeleton': {
      describe: (s) => `write the xenstore skeleton (/local/domain/<domid>, /vm/${String(s.uuid)}, /libxl/<domid>) with name ${String(s.name)}`,
      apply: async (s) => {
        const d = domid();
        // The name check is repeated inside the transaction: another create may have claimed
        // it since the plan was made, and the transaction makes the check and the claim atomic.
        await ops.xs.transaction(async (tx) => {
          for (const other of await tx.directory('/local/domain')) {
            if (other !== String(d) && (await tx.read(`/local/domain/${other}/name`)) === s.name) {
              throw new XentoolError('ERR_DOMAIN_EXISTS', `domain with name "${String(s.name)}" already exists.`);
            }
          }
          await writeSkeleton(tx, d, { name: String(s.name), uuid: String(s.uuid), type: s.type as 'pv' | 'hvm' });
        });
        return [];
      },
    },
    'domain.build-pre': {
      describe: (s) =>
        `set max_vcpus ${String(s.maxVcpus)}, maxmem ${String(s.maxMemKiB)} KiB, allocate the store and console event channels, ` +
        `TSC mode ${String(s.tscMode)} (${TSC_MODES[Number(s.tscMode)] ?? '?'}), CPUID ${s.itsc ? 'with' : 'without'} invariant TSC`,
      apply: async (s) => {
        const tscMode = Number(s.tscMode);
        if (tscMode !== 0 && tscMode !== 1 && tscMode !== 2) throw new XentoolError('ERR_INTERNAL', `create: build-pre without a TSC mode (${String(s.tscMode)})`);
        const r = await ops.buildPre(domid(), {
          maxVcpus: Number(s.maxVcpus),
          maxMemKiB: Number(s.maxMemKiB),
          memmapLimitKiB: Number(s.memmapLimitKiB),
          tscMode,
          itsc: s.itsc === true,
          ...(s.hvm ? { hvm: { pagingMempoolKiB: Number(s.pagingMempoolKiB) } } : {}),
        });
        state.storePort = r.storePort;
        state.consolePort = r.consolePort;
        return [];
      },
    },
    'domain.e820-host': {
      describe: (s) => `give the guest a memory map derived from the host's: ${formatE820(e820FromJson(s.map as E820Json[])).join(', ')}`,
      apply: async (s) => {
        await ops.setMemoryMap(domid(), e820FromJson(s.map as E820Json[]));
        return [];
      },
    },
    'domain.build-pv': {
      describe: (s) => `build the PV image: kernel ${String(s.kernel)}${s.ramdisk ? `, ramdisk ${String(s.ramdisk)}` : ''}, ${String(s.memMiB)} MiB`,
      apply: (s) =>
        buildImage((d, ports) =>
          ops.buildPv(d, {
            kernel: String(s.kernel),
            ramdisk: (s.ramdisk as string | null) ?? null,
            cmdline: (s.cmdline as string | null) ?? null,
            memMiB: Number(s.memMiB),
            maxVcpus: Number(s.maxVcpus),
            ...ports,
          }),
        ),
    },
    'domain.build-hvm': {
      describe: (s) => `build the HVM image: ${String(s.firmware)} with ${String(s.systemFirmware)}, ${Number(s.memKiB) / 1024} MiB`,
      apply: (s) =>
        buildImage((d, ports) =>
          ops.buildHvm(d, {
            firmware: String(s.firmware),
            systemFirmware: String(s.systemFirmware),
            memKiB: Number(s.memKiB),
            targetKiB: Number(s.targetKiB),
            memInitMiB: Number(s.memInitMiB),
            maxVcpus: Number(s.maxVcpus),
            vcpus: Number(s.vcpus),
            ...ports,
          }),
        ),
    },
    'dm.spawn': {
      describe: (s) => `start qemu-xen (${String(s.binary)}) and wait up to ${Number(s.timeoutMs) / 1000} s for it to run`,
      apply: async (s) => {
        const d = domid();
        await ops.xs.transaction((tx) => writeDeviceModelPre(tx, d));
        const argv = qemuXenArgv({
          domid: d,
          name: String(s.name),
          hvm: s.hvmOptions as unknown as HvmOptions,
          kernel: (s.kernel as string | null) ?? null,
          ramdisk: (s.ramdisk as string | null) ?? null,
          cmdline: (s.cmdline as string | null) ?? null,
          maxVcpus: Number(s.maxVcpus),
          vcpus: Number(s.vcpus),
          memMiB: Number(s.memMiB),
        });
        const pid = await ops.spawnDeviceModel(d, {
          binary: String(s.binary),
          argv,
          env: { XEN_QEMU_CONSOLE_LIMIT: '1048576', XEN_DOMAIN_ID: String(d) },
          logFile: `${hooks.logDir ?? '/var/log/xen'}/qemu-dm-${String(s.name)}.log`,
        });
        // libxl__spawn_record_pid: destroy finds the process here.
        await ops.xs.write(`/local/domain/${d}/image/device-model-pid`, String(pid));
        // QEMU writes "running" from its VM state handler (xen_change_state_handler).
        const st = `/local/domain/0/device-model/${d}/state`;
        await waitFor(ops.xs, st, async () => ((await ops.xs.read(st)) === 'running' ? true : undefined), {
          timeoutMs: Number(s.timeoutMs),
          what: `qemu-xen (pid ${pid}) to report ${st} = running (see /var/log/xen/qemu-dm-${String(s.name)}.log)`,
        });
        // libxl's post-config: the serial ports' ptys go to xenstore, where `console -t serial` finds them.
        const q = await ops.qmp(d);
        try {
          const chardevs = (await q.execute('query-chardev')) as { label: string; filename: string }[];
          for (const c of chardevs) {
            const m = /^serial(\d+)$/.exec(c.label);
            if (m && c.filename.startsWith('pty:')) await ops.xs.write(`/local/domain/${d}/serial/${m[1]}/tty`, c.filename.slice(4));
          }
        } finally {
          q.close();
        }
        return [];
      },
    },
    'xs.build-post': {
      describe: () => 'write memory/, store/, cpu/ and the /vm image nodes',
      apply: async (s) => {
        const d = domid();
        await ops.xs.transaction((tx) =>
          writeBuildPost(tx, d, {
            name: String(s.name),
            uuid: String(s.uuid),
            targetMemKiB: Number(s.targetMemKiB),
            maxMemKiB: Number(s.maxMemKiB),
            vcpus: Number(s.vcpus),
            maxVcpus: Number(s.maxVcpus),
            storePort: need(state.storePort, 'the store port'),
            storeMfn: need(state.storeMfn, 'the store frame'),
            kernel: (s.kernel as string | null) ?? null,
            ramdisk: (s.ramdisk as string | null) ?? null,
            cmdline: (s.cmdline as string | null) ?? null,
            now: Date.now() / 1000,
            ...(s.videoMemKiB !== undefined ? { hvm: { videoMemKiB: Number(s.videoMemKiB) } } : {}),
          }),
        );
        return [];
      },
    },
    'xs.introduce': {
      describe: () => 'introduce the domain to xenstored (store frame and event channel)',
      apply: async () => {
        await ops.introduce(domid(), need(state.storeMfn, 'the store frame'), need(state.storePort, 'the store port'));
        return [];
      },
    },
    'console.add': {
      describe: (s) => `add console 0 and wait up to ${Number(s.timeoutMs) / 1000} s for xenconsoled to publish its tty`,
      apply: async (s) => {
        const d = domid();
        await ops.xs.transaction((tx) => writeConsole(tx, d, { port: need(state.consolePort, 'the console port'), mfn: need(state.consoleMfn, 'the console frame') }));
        await ops.consoleNodesWritten(d);
        const tty = `/local/domain/${d}/console/tty`;
        await waitFor(ops.xs, tty, async () => ((await ops.xs.read(tty)) || undefined), {
          timeoutMs: Number(s.timeoutMs),
          what: `xenconsoled to publish ${tty} (is xenconsoled running?)`,
        });
        return [];
      },
    },
    'libxl.store-config': {
      describe: (s) => `store the domain config for xl and libxl: ${ops.xenLibDir}/userdata-d.<domid>.${String(s.uuid)}.${String(s.userid)} (written, then renamed into place)`,
      apply: async (s) => {
        const d = domid();
        // Under libxl's userdata lock, as domcreate_complete stores it (the simulated host's
        // directory is made on first use; the lock file lives in it).
        mkdirSync(ops.xenLibDir, { recursive: true });
        await userdataLocked(d, String(s.uuid), () => storeUserdata(ops.xenLibDir, d, String(s.uuid), String(s.userid), formatLibxlJson(s.config as LibxlJson)));
        return [{ op: 'libxl.remove-config', uuid: s.uuid, userid: s.userid }];
      },
    },
    'libxl.remove-config': {
      describe: (s) => `remove the stored domain config ${userdataPath(ops.xenLibDir, 'd', domid(), String(s.uuid), String(s.userid))}`,
      apply: async (s) => {
        await userdataLocked(domid(), String(s.uuid), () => removeUserdata(ops.xenLibDir, domid(), String(s.uuid), String(s.userid)));
        return [];
      },
    },
    'pci.attach': {
      describe: (s) => `attach PCI device ${String(s.spec)}`,
      apply: async (s) => {
        await hooks.attachPci(domid(), String(s.spec));
        return [];
      },
    },
    'domain.unpause': {
      describe: (s) => (s.hvm ? 'resume the device model (QMP cont) and unpause the domain' : 'unpause the domain'),
      apply: async (s) => {
        if (s.hvm) {
          const q = await ops.qmp(domid());
          try {
            await q.execute('cont');
          } finally {
            q.close();
          }
        }
        await ops.unpause(domid());
        return [];
      },
    },
    'monitor.start': {
      describe: (s) => `start the domain monitor (on_poweroff=${String(s.onPoweroff)}, on_reboot=${String(s.onReboot)}, on_crash=${String(s.onCrash)})`,
      apply: async (s) => {
        await hooks.startMonitor(domid(), s);
        return [];
      },
    },
    'xs.remove-nodes': {
      describe: () => 'remove the domain’s xenstore nodes',
      apply: async () => {
        await ops.xs.transaction((tx) => removeDomainNodes(tx, domid()));
        return [];
      },
    },
  };
}

export async function applyCreate(
  plan: Plan,
  ops: DomainOps,
  hooks: CreateHooks,
  o: Pick<OpOptions, 'failAt' | 'observer'>,
): Promise<number> {
  const state: CreateState = {};
  await applyPlan(plan, createHandlers(ops, state, hooks), { ...(o.failAt !== undefined ? { failAt: o.failAt } : {}), ...(o.observer ?? {}) });
  return need(state.domid, 'the domid');
}
