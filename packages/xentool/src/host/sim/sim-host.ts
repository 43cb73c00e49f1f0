/**
 * The simulated host: an in-memory Xen 4.17 (SimHypervisor), the in-process xenstored
 * (packages/xenstore), the simulated kernel sysfs (packages/pciback), simulated guests — a PV
 * guest's pcifront, an HVM guest's QEMU on a real QMP socket — and dom0's pciback driver. State
 * lives in one directory between CLI invocations; an invocation holds the directory's lock from
 * open to close, so concurrent invocations take turns.
 *
 * It never stands in for a test that says "real": it exists for unit tests, demos and
 * rehearsals, and it refuses what the real system refuses.
 */
import * as path from 'node:path';
import { promises as fs, mkdirSync } from 'node:fs';
import type { Dom0Usage, SimSysfs, SimSysfsState } from '@xentool/pciback';
import type { XenstoredServer, XenstoreSnapshot } from '@xentool/xenstore';
import { XentoolError } from '../../errors';
import type { DomainRecord, Host, HostInfo } from '../host';
import type { PciHost } from '../../pci/pci-host';
import type { QmpClient } from '../../qmp/qmp-client';
import type { Xs } from '../../xs/xs';
import { xsFromClient } from '../../xs/xs-client';
import { SimHypervisor, emptyHypervisorState, type SimHypervisorState } from './sim-hypervisor';
import { SimPciback, SimPcifront, type GuestPciState } from './sim-pv-drivers';
import type { SimQemu, SimQemuState } from './sim-qemu';
import { readStateFile, writeStateFile } from './state-dir';
import type { HostLock } from '../../intent/host-lock';

/*
 * Loaded when first needed, not when this module is: a read-only open (pci-list) uses none of
 * them, and loading them was about a quarter of `xentool --sim pci-list`'s own start-up
 * (bench/cli-startup, node --cpu-prof): the pciback package (~3.5 ms for its thirteen modules),
 * and node:net with the stream modules under the QMP client, the simulated QEMU and the lock.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const pciback = (): typeof import('@xentool/pciback') => require('@xentool/pciback') as typeof import('@xentool/pciback');
const qmpClient = (): typeof import('../../qmp/qmp-client') => require('../../qmp/qmp-client') as typeof import('../../qmp/qmp-client');
const simQemu = (): typeof import('./sim-qemu') => require('./sim-qemu') as typeof import('./sim-qemu');
const hostLock = (): typeof import('../../intent/host-lock') => require('../../intent/host-lock') as typeof import('../../intent/host-lock');
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * One invocation at a time in a simulated host, through the same kernel-released lock as the real
 * host's (intent/host-lock.ts). A pid-file lock (the first version) was racy under contention: a waiter
 * that saw a dead holder could remove the lock a third process had just taken, letting two
 * invocations work on one state (found by test/recovery/sim-concurrency.test.ts).
 */
function lockSimDir(dir: string, timeoutMs: number, onWait?: (holderPid: number) => void): Promise<HostLock> {
  return hostLock().acquireHostLock({
    file: path.join(dir, 'lock'),
    timeoutMs,
    what: 'xentool --sim',
    name: `the simulated host lock (${path.join(dir, 'lock')})`,
    ...(onWait ? { onWait: (h: { pid: number }) => onWait(h.pid) } : {}),
  });
}

/** Per-domain facts the hypervisor keeps that `xl list` shows. */
export interface SimDomainMeta {
  domid: number;
  uuid: string;
  hvm: boolean;
  memKiB: number;
  maxMemKiB: number;
  vcpus: number;
  paused: boolean;
  /** When the domain was created (ms since the epoch); its CPU time is derived from it. */
  createdAtMs: number;
  /** What create's build-pre gave xc_domain_set_tsc_info and the CPUID policy's itsc (absent: not built by create). */
  tsc?: { mode: 0 | 1 | 2; itsc: boolean };
  /** Set when the guest has shut down (Xen's shutdown code, as `xl list` would show it); tests set it. */
  shutdownReason?: 'poweroff' | 'reboot' | 'crash';
}

export interface SimHostState {
  format: 'xentool-sim-host/1';
  hostname: string;
  totalMemKiB: number;
  /** Host IOMMU (physinfo directio); false models a host without VT-d/AMD-Vi. */
  iommu: boolean;
  nextDomid: number;
  domains: SimDomainMeta[];
  hypervisor: SimHypervisorState;
  xenstore: XenstoreSnapshot;
  sysfs: SimSysfsState;
  qemu: Record<string, SimQemuState>;
  guests: Record<string, GuestPciState>;
  /**
   * True when starting the simulated drivers on this state would change nothing (close() finds
   * out by giving each driver the event a fresh start gives it), so a read-only open may skip
   * them. Absent in states written before it existed, false in a checkpoint taken mid-operation.
   */
  settled?: boolean;
}

export interface OpenSimOptions {
  dir: string;
  lockTimeoutMs?: number;
  onWait?: (holderPid: number) => void;
  /**
   * The command only reads (pci-list). If the saved state is `settled`, the host is opened from
   * it without the lock, without starting the simulated drivers or guests, and is never written
   * back: what the command reads is exactly what a full open would show it, at a fraction of
   * the start-up (bench/cli-startup). Its xenstore connection refuses changes. Otherwise (a state
   * from before `settled`, or one checkpointed by an operation in progress) the open is the
   * ordinary one.
   *
   * Not taking the lock means a read does not wait for an operation in progress: like xl reading
   * xenstore on a real host, it sees the state the host was last left in.
   */
  readOnly?: boolean;
}

/**
 * The in-process xenstored's package, loaded when a host first needs its server: a read-only
 * open never does, and loading the package was a tenth of `pci-list`'s own start-up.
 */
function newXenstored(snapshot?: XenstoreSnapshot): XenstoredServer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { XenstoredServer: Server } = require('@xentool/xenstore') as typeof import('@xentool/xenstore');
  return new Server(snapshot ? { snapshot } : {});
}

/** Plain absolute node paths, which name a node in the snapshot exactly as xenstored would. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_@-]+)+$/;

/**
 * The xenstore connection of a read-only simulated host. A read of a plain absolute path is
 * answered from the saved snapshot, which is what the in-process xenstored restored from it
 * would answer dom0 (every node readable, the value decoded from the same base64), without
 * restoring the whole tree and encoding, queueing and decoding a request per read (that was
 * most of what pci-list did). Anything else goes over a wire client to the restored server,
 * made when first needed. Mutating a read-only host is a bug in the command that asked for
 * one, so changes are refused.
 */
function readOnlyXs(snapshot: XenstoreSnapshot, server: () => XenstoredServer): Xs {
  const values = new Map(snapshot.nodes.map((n) => [n.path, n.value]));
  let client: Xs | undefined;
  const wire = (): Xs => (client ??= xsFromClient(server().client({ domid: 0 })));
  const error = (what: string) => new XentoolError('ERR_SIM_READ_ONLY', `internal: ${what} on a simulated host opened read-only`);
  const refuse = (what: string) => (): Promise<never> => Promise.reject(error(what));
  return {
    read: async (p) => {
      if (!PLAIN_PATH.test(p)) return wire().read(p);
      const v = values.get(p);
      return v === undefined ? undefined : Buffer.from(String(v), 'base64').toString('utf8');
    },
    directory: (p) => wire().directory(p),
    getPerms: (p) => wire().getPerms(p),
    write: refuse('xenstore write'),
    mkdir: refuse('xenstore mkdir'),
    rm: refuse('xenstore rm'),
    setPerms: refuse('xenstore setPerms'),
    transaction: refuse('xenstore transaction'),
    watch: () => {
      throw error('xenstore watch');
    },
    close: async () => client?.close(),
  };
}

export class SimHost implements Host, PciHost {
  readonly kind = 'sim' as const;
  readonly xs: Xs;
  readonly hv: SimHypervisor;
  private sysfsModel: SimSysfs | undefined;
  private readonly pciback: SimPciback;
  private readonly fronts = new Map<number, SimPcifront>();
  private readonly qemus = new Map<number, SimQemu>();
  private closed = false;

  /** The state as loaded, to skip rewriting it when a command changed nothing. */
  private loadedText = '';

  private xenstored: XenstoredServer | undefined;

  private constructor(
    readonly dir: string,
    readonly state: SimHostState,
    server: XenstoredServer | undefined,
    private readonly lock: HostLock | undefined,
    private readonly readOnly = false,
  ) {
    this.xenstored = server;
    this.xs = readOnly ? readOnlyXs(state.xenstore, () => this.server) : xsFromClient(this.server.client({ domid: 0 }));
    this.hv = new SimHypervisor(state.hypervisor);
    this.pciback = new SimPciback(this.xs, {
      ownedByPciback: (bdf) => this.sysfs.device(bdf)?.driver === 'pciback',
      resetOnRelease: (bdf) => {
        const d = this.sysfs.device(bdf);
        if (d && d.supportedResetMethods.length > 0) d.resetCount++;
      },
    });
  }

  /** The in-process xenstored, restored from the state when first used (a read-only open may never). */
  get server(): XenstoredServer {
    return (this.xenstored ??= newXenstored(this.state.xenstore));
  }

  /** The simulated kernel sysfs, built from the state when first used (pci-list never does). */
  get sysfs(): SimSysfs {
    return (this.sysfsModel ??= pciback().SimSysfs.fromJSON(this.state.sysfs));
  }

  /** Opens an existing simulated host (made by `sim-init`). */
  static async open(opts: OpenSimOptions): Promise<SimHost> {
    if (opts.readOnly) {
      // Read without the lock: state.json is only ever replaced whole (rename), so this is one
      // consistent state, the last one a command left (or a checkpoint, which is not settled).
      const state = await readStateFile<SimHostState>(opts.dir);
      if (state?.format === 'xentool-sim-host/1' && state.settled === true) {
        return new SimHost(opts.dir, state, undefined, undefined, true);
      }
    }
    const lock = await lockSimDir(opts.dir, opts.lockTimeoutMs ?? 30_000, opts.onWait);
    try {
      const state = await readStateFile<SimHostState>(opts.dir);
      if (!state) {
        throw new XentoolError('ERR_SIM_NOT_INITIALISED', `no simulated host in ${opts.dir}; create one with 'xentool --sim sim-init'`);
      }
      if (state.format !== 'xentool-sim-host/1') throw new XentoolError('ERR_SIM_STATE', `${opts.dir}: unknown simulated host format`);
      const host = new SimHost(opts.dir, state, newXenstored(state.xenstore), lock);
      host.loadedText = JSON.stringify(state);
      // Until close() has found the drivers at rest, what is on disk (a checkpoint) is not.
      state.settled = false;
      await host.start();
      return host;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  /** Creates a fresh simulated host in `dir` (replacing any), from a sysfs topology. */
  static async create(dir: string, sysfs: SimSysfs, opts: { iommu?: boolean; hostname?: string } = {}): Promise<void> {
    const lock = await lockSimDir(dir, 30_000);
    try {
      await fs.rm(path.join(dir, 'run'), { recursive: true, force: true });
      const hv = new SimHypervisor(emptyHypervisorState());
      for (const d of pciback().readInventory(sysfs)) hv.addPciDevice(((d.domain << 16) | (d.bus << 8) | (d.dev << 3) | d.fn) >>> 0);
      const server = newXenstored();
      const xs = xsFromClient(server.client({ domid: 0 }));
      // What xenstored and xl leave for dom0 on a real host.
      await xs.write('/local/domain/0/name', 'Domain-0');
      await xs.write('/local/domain/0/domid', '0');
      await xs.mkdir('/local/domain/0/backend');
      await xs.mkdir('/vm');
      await xs.mkdir('/libxl');
      await xs.close();
      const state: SimHostState = {
        format: 'xentool-sim-host/1',
        hostname: opts.hostname ?? 'sim-host',
        totalMemKiB: 16 * 1024 * 1024,
        iommu: opts.iommu ?? true,
        nextDomid: 1,
        domains: [{ domid: 0, uuid: '00000000-0000-0000-0000-000000000000', hvm: false, memKiB: 2048 * 1024, maxMemKiB: 2048 * 1024, vcpus: 2, paused: false, createdAtMs: Date.now() }],
        hypervisor: hv.state,
        xenstore: server.snapshot(),
        sysfs: sysfs.toJSON(),
        qemu: {},
        guests: {},
        // No domain, so no backend: the drivers have nothing to do on it.
        settled: true,
      };
      await server.close();
      await writeStateFile(dir, state);
    } finally {
      await lock.release();
    }
  }

  private qmpPath(domid: number): string {
    return path.join(this.dir, 'run', `qmp-libxl-${domid}`);
  }

  private async start(): Promise<void> {
    this.pciback.start();
    // Synchronous, as the lock and the state read: see readStateFile.
    mkdirSync(path.join(this.dir, 'run'), { recursive: true });
    for (const d of this.state.domains) if (d.domid !== 0) await this.startGuest(d);
    await this.settle();
  }

  /** Brings up the simulated guest side of a domain: pcifront (PV) or QEMU (HVM). */
  async startGuest(d: SimDomainMeta): Promise<void> {
    const key = String(d.domid);
    if (d.hvm) {
      const { SimQemu: Qemu, defaultQemuState } = simQemu();
      this.state.qemu[key] ??= defaultQemuState();
      const q = new Qemu(d.domid, this.state.qemu[key]!, (hostaddr) => {
        const dev = this.sysfs.device(hostaddr);
        return dev ? { vendor: dev.vendorId, device: dev.deviceId, class: dev.classCode >> 8 } : undefined;
      }, (hostaddr) => {
        // As qemu-xen does once the guest has ejected the device: its pirq leaves the domain.
        const irq = this.sysfs.device(hostaddr)?.irq;
        if (irq) void this.hv.unmapPirq(d.domid, irq).catch(() => undefined);
      }, (hostaddr) => {
        const irq = this.sysfs.device(hostaddr)?.irq;
        if (irq) void this.hv.mapPirq(d.domid, irq).catch(() => undefined);
      });
      // qemu-traditional has no QMP: it takes its commands through xenstore, as dom0's qemu-dm.
      if ((await this.xs.read(`/libxl/${d.domid}/dm-version`)) === 'qemu_xen_traditional') {
        await q.serveDmCommands(xsFromClient(this.server.client({ domid: 0 })));
      } else {
        await q.listen(this.qmpPath(d.domid));
      }
      this.qemus.set(d.domid, q);
    } else {
      this.state.guests[key] ??= { devices: [], hung: false };
      const front = new SimPcifront(xsFromClient(this.server.client({ domid: d.domid })), d.domid, this.state.guests[key]!);
      front.start();
      this.fronts.set(d.domid, front);
    }
  }

  async stopGuest(domid: number): Promise<void> {
    await this.fronts.get(domid)?.stop();
    this.fronts.delete(domid);
    await this.qemus.get(domid)?.close();
    this.qemus.delete(domid);
  }

  /** Lets the simulated drivers finish reacting to what has been written so far. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      await this.pciback.idle();
      for (const f of this.fronts.values()) await f.idle();
      for (const q of this.qemus.values()) await q.idle();
    }
  }

  async info(): Promise<HostInfo> {
    const used = this.state.domains.reduce((a, d) => a + d.memKiB, 0);
    const pages = (kib: number) => Math.floor(kib / 4);
    return {
      hostname: this.state.hostname,
      release: '6.1.0-sim-amd64',
      kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.0 (xentool simulated host)',
      machine: 'x86_64',
      nrCpus: 4,
      maxCpuId: 3,
      nrNodes: 1,
      coresPerSocket: 4,
      threadsPerCore: 1,
      cpuKhz: 2400000,
      hwCaps: [0x178bfbff, 0xf6d8320b, 0x2c100800, 0x000007ab, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
      caps: {
        pv: true,
        hvm: true,
        directio: this.state.iommu,
        hap: true,
        shadow: true,
        iommuHapPtShare: false,
        vmtrace: false,
        vpmu: false,
        gnttabV1: true,
        gnttabV2: true,
      },
      totalPages: pages(this.state.totalMemKiB),
      freePages: pages(this.state.totalMemKiB - used),
      outstandingPages: 0,
      sharingFreedPages: 0,
      sharingUsedFrames: 0,
      freeCpus: 0,
      xenMajor: 4,
      xenMinor: 17,
      xenExtra: '.7-sim',
      xenCaps: 'xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64',
      xenScheduler: 'credit2',
      xenPagesize: 4096,
      virtStart: 0xffff800000000000n,
      xenChangeset: '',
      xenCommandline: 'placeholder dom0_mem=2048M,max:2048M iommu=1',
      ccCompiler: 'gcc (Debian 12.2.0-14+deb12u1) 12.2.0',
      ccCompileBy: 'xentool',
      ccCompileDomain: 'simulated',
      ccCompileDate: 'Mon Nov 23 00:00:00 UTC 2026',
      buildId: '',
    };
  }

  async domains(): Promise<DomainRecord[]> {
    const out: DomainRecord[] = [];
    for (const d of [...this.state.domains].sort((a, b) => a.domid - b.domid)) {
      out.push({
        domid: d.domid,
        name: await this.xs.read(`/local/domain/${d.domid}/name`),
        uuid: d.uuid,
        memKiB: d.memKiB,
        maxMemKiB: d.maxMemKiB,
        vcpus: d.vcpus,
        maxVcpus: d.vcpus,
        // A mostly idle guest: 1% of a CPU since creation.
        // (A state written before createdAtMs existed reads as no CPU time.)
        cpuTimeNs: BigInt(Number.isFinite(d.createdAtMs) ? Math.max(0, Date.now() - d.createdAtMs) : 0) * 10_000n,
        hvm: d.hvm,
        dying: false,
        shutdown: d.shutdownReason !== undefined,
        ...(d.shutdownReason !== undefined ? { shutdownReason: d.shutdownReason } : {}),
        paused: d.paused,
        blocked: !d.paused && d.domid !== 0,
        running: d.domid === 0,
      });
    }
    return out;
  }

  dom0Usage(): Dom0Usage[] {
    return this.sysfs.dom0Usage;
  }

  async iommuEnabled(): Promise<boolean> {
    return this.state.iommu;
  }

  qmp(domid: number): Promise<QmpClient> {
    return qmpClient().QmpClient.connect(this.qmpPath(domid), { timeoutMs: 5000 });
  }

  /** Where this host keeps its intent records (crash safety), beside the state. */
  get intentDir(): string {
    return path.join(this.dir, 'intents');
  }

  /** The simulated /var/lib/xen (libxl's userdata files), beside the state. */
  get xenLibDir(): string {
    return path.join(this.dir, 'var', 'lib', 'xen');
  }

  /**
   * Persists the whole state now (atomically: temp file, fsync, rename), without stopping
   * anything. The state is otherwise written only by close(), so a process killed while an
   * intent is open would lose every change it made and the intent record with them (the record
   * lives in the simulated xenstore too); the intent log calls this at every step boundary so that
   * what is on disk is always a state the real host could have been in at that moment.
   */
  async checkpoint(): Promise<void> {
    if (this.closed) return;
    if (this.readOnly) throw new XentoolError('ERR_SIM_READ_ONLY', 'internal: checkpoint of a simulated host opened read-only');
    await this.settle();
    this.state.xenstore = this.server.snapshot();
    this.state.sysfs = this.sysfs.toJSON();
    this.state.hypervisor = this.hv.state;
    await writeStateFile(this.dir, this.state);
    // What is on disk is now this checkpoint, not the state as loaded: close() must write even
    // when the command ends where it started (a failed step rolled back after a checkpoint).
    this.loadedText = '';
  }

  /**
   * Whether the drivers, started afresh on the state as it is now, would change nothing: each is
   * given the event a fresh start gives it (its watch firing once) and nothing may move. They are
   * deterministic functions of the saved state, so what these do now a fresh start would do
   * again. If something did move, that is simply the reaction the next start would have had,
   * done now; the state is then not called settled (the next full open settles it).
   * qemu-traditional's command server is not kicked this way, so a host with such a domain is
   * never called settled and its reads take the ordinary path.
   */
  private async atRest(): Promise<boolean> {
    for (const d of this.state.domains) {
      if (d.hvm && (await this.xs.read(`/libxl/${d.domid}/dm-version`)) === 'qemu_xen_traditional') return false;
    }
    const look = () => JSON.stringify([this.server.snapshot(), this.sysfs.toJSON(), this.hv.state, this.state.guests, this.state.domains]);
    const before = look();
    this.pciback.kick();
    for (const f of this.fronts.values()) f.kick();
    await this.settle();
    return look() === before;
  }

  /** Saves the whole state and releases the directory. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.readOnly) {
      // Nothing was started and nothing may have changed: nothing to save, no lock to release.
      await this.xs.close();
      // Only if something needed it (the snapshot answered every read otherwise).
      await this.xenstored?.close();
      return;
    }
    try {
      await this.settle();
      this.state.settled = await this.atRest();
      for (const f of this.fronts.values()) await f.stop();
      for (const q of this.qemus.values()) await q.close();
      await this.pciback.stop();
      await this.xs.close();
      this.state.xenstore = this.server.snapshot();
      this.state.sysfs = this.sysfs.toJSON();
      this.state.hypervisor = this.hv.state;
      await this.server.close();
      if (JSON.stringify(this.state) !== this.loadedText) await writeStateFile(this.dir, this.state);
    } finally {
      await this.lock?.release();
    }
  }
}
