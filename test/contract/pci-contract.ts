/**
 * The PCI passthrough contract: one set of cases, written once, that both hosts must pass. The
 * simulated host runs it in test/pci/contract.sim.test.ts; real Xen 4.17 (inside the QEMU VM of
 * test/xen) runs it in test/xen/15-contract.test.ts.
 *
 * The cases only assert relationships that hold on any host: a device is listed while it is
 * assignable and not after; pci-list shows each attached device at the slot the backend records;
 * the --json of a read command carries what its text says; a dry run or a refusal leaves the
 * host's state (hostState) exactly as it was; add then remove -r gives dom0 back the driver it
 * had. They never compare bytes that only one host produces (domain ids, driver names, the
 * order pciback's directory happens to list devices in).
 *
 * The cases run in order and share the host: each group starts from and returns to the starting
 * state (the facts' devices neither assignable nor attached). On real Xen every xentool start
 * costs seconds, so each group sends its commands to the driver as one batch.
 */

/** A canonical BDF, `DDDD:BB:DD.F`. */
export type Bdf = string;

/** What the runner tells the cases about its host. */
export interface ContractFacts {
  /**
   * Two devices that no guest has, that dom0 does not need, and that are not assignable when the
   * contract starts (bound to their dom0 driver, or to none).
   */
  devices: [Bdf, Bdf];
  /** Two conventional PCI devices behind one PCI(e)-to-PCI bridge, not assignable at the start. */
  bridgePair: [Bdf, Bdf];
  /** A running PV guest created with passthrough="enabled", its pcifront ready. */
  pvGuest: string;
  /** A second domain created with passthrough="enabled" (it only meets refusals; may be paused). */
  otherGuest: string;
  /** A domain created without passthrough. */
  noPassthroughGuest: string;
  /** A device dom0 itself uses (root disk, default route, console), when the host has a safe one. */
  dom0InUse?: Bdf;
  /** Seconds xentool may wait for a guest (`--timeout`). */
  waitSeconds: number;
}

/** One command of a batch. */
export type ContractCommand =
  | { xentool: string[] }
  | { xm: string[] }
  /** Only when the driver has xl (real Xen). */
  | { xl: string[] }
  /** hostState(): a canonical dump to compare before and after (stdout carries it). */
  | { state: true }
  /** The domain's PCI backend directory as `xenstore-ls -f` lines (empty when it has none). */
  | { backend: string }
  /** The dom0 driver the device is bound to, `''` for none (stdout carries it). */
  | { driverOf: Bdf };

export interface Outcome {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ContractDriver {
  /** Runs the commands in order, each to completion, and returns one outcome per command. */
  batch(cmds: ContractCommand[]): Promise<Outcome[]>;
  /**
   * How many passthrough devices the guest itself sees, once it has settled on `expected` (a
   * real guest reports changes on its console some seconds after xentool returns); on a time
   * out, the number it last reported.
   */
  guestDeviceCount(name: string, expected: number): Promise<number>;
}

/** What the runner knows when the cases are defined (before any host exists). */
export interface ContractSetup {
  facts: ContractFacts;
  /** Whether `{ xl: [...] }` commands can run: the real xl is there to compare with. */
  hasXl: boolean;
  /** Per group of commands (a jest hook timeout): real Xen under TCG needs many minutes. */
  timeoutMs: number;
}

/** Builds a batch whose outcomes are looked up by label rather than by position. */
class Batch {
  readonly cmds: ContractCommand[] = [];
  readonly labels: string[] = [];
  add(label: string, cmd: ContractCommand): this {
    if (this.labels.includes(label)) throw new Error(`duplicate label ${label}`);
    this.labels.push(label);
    this.cmds.push(cmd);
    return this;
  }
  /** Adds the command only when `when` holds (xl only where the driver has it). */
  addIf(when: boolean, label: string, cmd: ContractCommand): this {
    return when ? this.add(label, cmd) : this;
  }
  async run(d: ContractDriver): Promise<Record<string, Outcome>> {
    const outs = await d.batch(this.cmds);
    if (outs.length !== this.cmds.length) throw new Error(`the driver returned ${outs.length} outcomes for ${this.cmds.length} commands`);
    return Object.fromEntries(this.labels.map((l, i) => [l, outs[i]!]));
  }
}

const lines = (text: string): string[] => (text === '' ? [] : text.replace(/\n$/, '').split('\n'));

/** `xentool pci-assignable-list [-n]`: xl's `BDF NAME` lines (empty name: the trailing space). */
function parseAssignable(text: string): { bdf: string; name: string }[] {
  return lines(text).map((l) => {
    const m = /^([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) (.*)$/.exec(l);
    if (!m) throw new Error(`not a pci-assignable-list line: ${JSON.stringify(l)}`);
    return { bdf: m[1]!, name: m[2]! };
  });
}

/** `xentool pci-list DOM`: xl's `Vdev Device` table (nothing at all for no device). */
function parsePciList(text: string): { slot: number; func: number; bdf: string }[] {
  const ls = lines(text);
  if (ls.length === 0) return [];
  expect(ls[0]).toBe('Vdev Device');
  return ls.slice(1).map((l) => {
    const m = /^([0-9a-f]{2})\.([0-7]) ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$/.exec(l);
    if (!m) throw new Error(`not a pci-list row: ${JSON.stringify(l)}`);
    return { slot: parseInt(m[1]!, 16), func: Number(m[2]), bdf: m[3]! };
  });
}

/** The backend's devices (`dev-N`, `vdevfn-N`, `num_devs`) from `xenstore-ls -f` lines. */
function parseBackend(text: string): { devs: { bdf: string; vdevfn: number | undefined }[]; numDevs: number | undefined } {
  const dev = new Map<number, string>();
  const vdevfn = new Map<number, number>();
  let numDevs: number | undefined;
  for (const l of lines(text)) {
    let m = /\/dev-(\d+) = "([^"]*)"$/.exec(l);
    if (m) dev.set(Number(m[1]), m[2]!);
    m = /\/vdevfn-(\d+) = "([0-9a-fA-F]+)"$/.exec(l);
    if (m) vdevfn.set(Number(m[1]), parseInt(m[2]!, 16));
    m = /\/num_devs = "(\d+)"$/.exec(l);
    if (m) numDevs = Number(m[1]);
  }
  const devs = [...dev.keys()].sort((a, b) => a - b).map((i) => ({ bdf: dev.get(i)!, vdevfn: vdevfn.get(i) }));
  return { devs, numDevs };
}

/** xm's 3.3 layout (the seed's): the row xend printed for a device at a virtual slot. */
function xm33Row(bdf: string, vslot: number): string {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(bdf)!;
  const col = (s: string) => s.padEnd(3);
  const hex = (v: number, w = 1) => `0x${v.toString(16).padStart(w, '0')}`;
  return (
    `${col(hex(vslot))}    ${col(hex(parseInt(m[1]!, 16)))}  ${col(hex(parseInt(m[2]!, 16), 2))}   ` +
    `${col(hex(parseInt(m[3]!, 16), 2))}    ${col(hex(Number(m[4])))}    `
  );
}

/**
 * A successful change: exit 0 and nothing on stdout, as xl. stderr may carry warnings and notices
 * that differ between hosts (no reset method on QEMU's devices, a driver to rebind or none).
 */
function expectDone(o: Outcome | undefined, what: string): void {
  if (!o || o.code !== 0) throw new Error(`${what}: exit ${o?.code}, stderr: ${o?.stderr}`);
  expect([what, o.stdout]).toEqual([what, '']);
}

/** A dry run: exit 0, a plan on stdout (a title, then numbered steps). */
function expectPlan(o: Outcome | undefined, title: string): void {
  expect(o?.code).toBe(0);
  const ls = lines(o!.stdout);
  expect(ls[0]).toBe(`plan: ${title}`);
  expect(ls.length).toBeGreaterThan(1);
  // Numbered steps; a real host adds its warnings (QEMU's devices have no reset method) inside the plan.
  const steps = ls.slice(1).filter((l) => !/^ +warning: /.test(l));
  expect(steps.length).toBeGreaterThan(0);
  for (const l of steps) expect(l).toMatch(/^ +\d+\. \S/);
}

/** A refusal: exit `code`, nothing on stdout, one line on stderr; returns the line. */
function refusal(o: Outcome | undefined, code = 1): string {
  expect(o).toBeDefined();
  expect([o!.code, o!.stdout]).toEqual([code, '']);
  const ls = lines(o!.stderr);
  expect(ls).toHaveLength(1);
  return ls[0]!;
}

/** xm's refusals: `Error: ...` on one stderr line, exit `code` (xm may print its usage on stdout). */
function xmRefusal(o: Outcome | undefined, code: number): string {
  expect(o?.code).toBe(code);
  const ls = lines(o!.stderr).filter((l) => l !== '');
  expect(ls).toHaveLength(1);
  expect(ls[0]).toMatch(/^Error: /);
  return ls[0]!;
}

/** Every row of pci-list sits at the slot the backend records for that device. */
function expectListMatchesBackend(listText: string, backendText: string): void {
  const rows = parsePciList(listText);
  const be = parseBackend(backendText);
  expect(be.numDevs).toBe(be.devs.length);
  // xl's rule: Vdev is vdevfn-N, absent meaning 0 (libxl writes it only when nonzero).
  expect(rows).toEqual(be.devs.map((d) => ({ bdf: d.bdf, slot: (d.vdevfn ?? 0) >> 3, func: (d.vdevfn ?? 0) & 7 })));
}

export function pciContract(setup: ContractSetup, getDriver: () => ContractDriver): void {
  const T = setup.timeoutMs;
  const f = setup.facts;
  const hasXl = setup.hasXl;
  const W = ['--timeout', String(f.waitSeconds)];
  /** Comparisons with xl: skipped (and reported as skipped) where there is no xl. */
  const xlTest = hasXl ? test : test.skip;
  let d: ContractDriver;

  beforeAll(() => {
    d = getDriver();
  });

  describe('pci-assignable-add, -list, -remove -r', () => {
    let r: Record<string, Outcome>;
    beforeAll(async () => {
      const [A, B] = f.devices;
      const b = new Batch()
        .add('list0', { xentool: ['pci-assignable-list'] })
        .add('drv0A', { driverOf: A })
        .add('drv0B', { driverOf: B })
        .add('s0', { state: true })
        .add('dryAdd', { xentool: ['-N', 'pci-assignable-add', A] })
        .add('s1', { state: true })
        .add('addA', { xentool: ['pci-assignable-add', A] })
        .add('addB', { xentool: ['pci-assignable-add', '-n', 'ctname', B] })
        .add('list', { xentool: ['pci-assignable-list'] })
        .add('listN', { xentool: ['pci-assignable-list', '-n'] })
        .add('json', { xentool: ['pci-assignable-list', '--json'] })
        .add('xm', { xm: ['pci-list-assignable-devices'] })
        .addIf(hasXl, 'xl', { xl: ['pci-assignable-list'] })
        .addIf(hasXl, 'xlN', { xl: ['pci-assignable-list', '-n'] })
        .add('drvA', { driverOf: A })
        .add('s2', { state: true })
        .add('dryRemove', { xentool: ['-N', 'pci-assignable-remove', '-r', A] })
        .add('s3', { state: true })
        .add('removeA', { xentool: ['pci-assignable-remove', '-r', A] })
        .add('removeB', { xentool: ['pci-assignable-remove', '-r', 'ctname'] })
        .add('list2', { xentool: ['pci-assignable-list'] })
        .add('drv2A', { driverOf: A })
        .add('drv2B', { driverOf: B })
        .add('s4', { state: true });
      r = await b.run(d);
    }, T);

    test('-N pci-assignable-add prints a plan and changes nothing', () => {
      expectPlan(r.dryAdd, `pci-assignable-add ${f.devices[0]}`);
      expect(r.s1!.stdout).toBe(r.s0!.stdout);
    });

    test("the added devices are listed in xl's layout; -n shows the name; --json and xm agree", () => {
      const [A, B] = f.devices;
      expectDone(r.addA, 'add A');
      expectDone(r.addB, 'add -n B');
      const before = parseAssignable(r.list0!.stdout).map((x) => x.bdf);
      expect(before).not.toContain(A);
      expect(before).not.toContain(B);
      const list = parseAssignable(r.list!.stdout);
      expect(list.map((x) => x.name)).toEqual(list.map(() => ''));
      expect(list.map((x) => x.bdf).sort()).toEqual([...before, A, B].sort());
      // -n: the same devices in the same order, B with its name.
      const named = parseAssignable(r.listN!.stdout);
      expect(named.map((x) => x.bdf)).toEqual(list.map((x) => x.bdf));
      expect(named.find((x) => x.bdf === B)?.name).toBe('ctname');
      expect(named.find((x) => x.bdf === A)?.name).toBe('');
      // --json: the text's devices, order and names.
      expect(r.json!.code).toBe(0);
      const json = JSON.parse(r.json!.stdout) as { bdf: string; name?: string }[];
      expect(json.map((x) => [x.bdf, x.name ?? ''])).toEqual(named.map((x) => [x.bdf, x.name]));
      // xm: one bare BDF a line; both devices (xend drops only groups with a device in use).
      expect(r.xm!.code).toBe(0);
      const xm = lines(r.xm!.stdout);
      for (const l of xm) expect(l).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
      expect(xm).toEqual(expect.arrayContaining([A, B]));
      expect(list.map((x) => x.bdf)).toEqual(expect.arrayContaining(xm));
    });

    test('while assignable the device is bound to pciback, and hostState shows the change', () => {
      expect(r.drvA!.stdout).toBe('pciback');
      expect(r.s2!.stdout).not.toBe(r.s0!.stdout);
    });

    xlTest('xl lists the same bytes as xentool, with and without -n', () => {
      expect(r.xl).toEqual({ stdout: r.list!.stdout, stderr: '', code: 0 });
      expect(r.xlN).toEqual({ stdout: r.listN!.stdout, stderr: '', code: 0 });
    });

    test('-N pci-assignable-remove prints a plan and changes nothing', () => {
      expectPlan(r.dryRemove, `pci-assignable-remove -r ${f.devices[0]}`);
      expect(r.s3!.stdout).toBe(r.s2!.stdout);
    });

    test('remove -r (by BDF and by name) gives dom0 back the driver each had; the host ends as it began', () => {
      expectDone(r.removeA, 'remove -r A');
      expectDone(r.removeB, 'remove -r NAME');
      expect(r.list2!.stdout).toBe(r.list0!.stdout);
      expect(r.drv2A!.stdout).toBe(r.drv0A!.stdout);
      expect(r.drv2B!.stdout).toBe(r.drv0B!.stdout);
      expect(r.s4!.stdout).toBe(r.s0!.stdout);
    });
  });

  describe('PV attach (xl spec, @slot) and the listings', () => {
    let r: Record<string, Outcome>;
    let sees: number;
    beforeAll(async () => {
      const [A, B] = f.devices;
      const G = f.pvGuest;
      const b = new Batch()
        .add('s0', { state: true })
        .add('addA', { xentool: ['pci-assignable-add', A] })
        .add('addB', { xentool: ['pci-assignable-add', B] })
        .add('s1', { state: true })
        .add('dryAttach', { xentool: ['-N', 'pci-attach', G, A] })
        .add('s2', { state: true })
        .add('attachA', { xentool: ['pci-attach', ...W, G, A] })
        .add('attachB', { xentool: ['pci-attach', ...W, G, `${B}@5`] })
        .add('list', { xentool: ['pci-list', G] })
        .add('json', { xentool: ['pci-list', '--json', G] })
        .add('xm', { xm: ['pci-list', G] })
        .add('backend', { backend: G })
        .add('assignable', { xentool: ['pci-assignable-list'] })
        .add('xmAssignable', { xm: ['pci-list-assignable-devices'] });
      b.addIf(hasXl, 'xl', { xl: ['pci-list', G] });
      r = await b.run(d);
      sees = await d.guestDeviceCount(G, 2);
    }, T);

    test('-N pci-attach prints a plan and changes nothing', () => {
      const A = f.devices[0];
      expectPlan(r.dryAttach, `pci-attach ${f.pvGuest} ${A}`);
      // The device is pciback's already, so claiming it comes first; the IOMMU assignment is a step.
      const plan = lines(r.dryAttach!.stdout).filter((l) => !/^ +warning: /.test(l));
      expect(plan[1]).toMatch(new RegExp(`^ +1\\. record ${A.replace(/\./g, '\\.')} as used by domain \\d+ `));
      expect(plan.some((l) => new RegExp(`\\. assign ${A.replace(/\./g, '\\.')} to domain \\d+ in the IOMMU$`).test(l))).toBe(true);
      expect(r.s2!.stdout).toBe(r.s1!.stdout);
    });

    test('both attach; the guest sees both', () => {
      expectDone(r.addA, 'add A');
      expectDone(r.addB, 'add B');
      expectDone(r.attachA, 'attach A');
      expectDone(r.attachB, 'attach B@5');
      expect(sees).toBe(2);
    });

    test('pci-list shows each device at the slot the backend records; B at the slot asked for', () => {
      const [A, B] = f.devices;
      expectListMatchesBackend(r.list!.stdout, r.backend!.stdout);
      const rows = parsePciList(r.list!.stdout);
      expect(rows.map((x) => x.bdf)).toEqual([A, B]);
      expect(rows[1]).toEqual({ bdf: B, slot: 5, func: 0 });
    });

    test('pci-list --json carries the rows of the text', () => {
      expect(r.json!.code).toBe(0);
      const json = JSON.parse(r.json!.stdout) as { bdf: string; vslot: number | null; vdevfn: number | null }[];
      const rows = parsePciList(r.list!.stdout);
      expect(json.map((x) => [x.bdf, x.vslot ?? 0, (x.vdevfn ?? 0) & 7])).toEqual(rows.map((x) => [x.bdf, x.slot, x.func]));
    });

    test("xm pci-list prints the same devices in xm 3.3's layout", () => {
      expect(r.xm!.code).toBe(0);
      const rows = parsePciList(r.list!.stdout);
      expect(r.xm!.stdout).toBe(['VSlt domain   bus   slot   func', ...rows.map((x) => xm33Row(x.bdf, x.slot))].join('\n') + '\n');
    });

    xlTest('xl pci-list prints the same bytes as xentool', () => {
      expect(r.xl).toEqual(r.list);
    });

    test('attached devices leave the assignable lists (xentool and xm)', () => {
      const [A, B] = f.devices;
      const listed = parseAssignable(r.assignable!.stdout).map((x) => x.bdf);
      expect(listed).not.toContain(A);
      expect(listed).not.toContain(B);
      expect(r.xmAssignable!.code).toBe(0);
      expect(lines(r.xmAssignable!.stdout)).not.toContain(A);
      expect(lines(r.xmAssignable!.stdout)).not.toContain(B);
    });

    describe('detach (xentool, xm)', () => {
      let t: Record<string, Outcome>;
      let seesAfter: number;
      beforeAll(async () => {
        const [A, B] = f.devices;
        const G = f.pvGuest;
        t = await new Batch()
          .add('s0', { state: true })
          .add('dryDetach', { xentool: ['-N', 'pci-detach', G, A] })
          .add('s1', { state: true })
          .add('detachA', { xentool: ['pci-detach', ...W, G, A] })
          .add('listOne', { xentool: ['pci-list', G] })
          .add('backendOne', { backend: G })
          .addIf(hasXl, 'xlOne', { xl: ['pci-list', G] })
          .add('detachB', { xm: [...W, 'pci-detach', G, B] })
          .add('list', { xentool: ['pci-list', G] })
          .add('backend', { backend: G })
          .add('assignable', { xentool: ['pci-assignable-list'] })
          .add('removeA', { xentool: ['pci-assignable-remove', '-r', A] })
          .add('removeB', { xentool: ['pci-assignable-remove', '-r', B] })
          .add('s2', { state: true })
          .run(d);
        seesAfter = await d.guestDeviceCount(G, 0);
      }, T);

      test('-N pci-detach prints a plan and changes nothing', () => {
        expectPlan(t.dryDetach, `pci-detach ${f.pvGuest} ${f.devices[0]}`);
        expect(t.s1!.stdout).toBe(t.s0!.stdout);
      });

      test('after one detach, the other device stays listed where the backend says', () => {
        expectDone(t.detachA, 'detach A');
        expect(parsePciList(t.listOne!.stdout).map((x) => x.bdf)).toEqual([f.devices[1]]);
        expectListMatchesBackend(t.listOne!.stdout, t.backendOne!.stdout);
      });

      xlTest('xl pci-list prints the same bytes as xentool after the first detach', () => {
        expect(t.xlOne).toEqual(t.listOne);
      });

      test('after both, the guest sees none, nothing is listed, no backend is left', () => {
        expectDone(t.detachB, 'xm pci-detach B');
        expect(seesAfter).toBe(0);
        expect(t.list).toEqual({ stdout: '', stderr: '', code: 0 });
        expect(parseBackend(t.backend!.stdout).devs).toEqual([]);
      });

      test('detach returns both devices to the assignable list; remove -r ends where the group began', () => {
        const listed = parseAssignable(t.assignable!.stdout).map((x) => x.bdf);
        expect(listed).toEqual(expect.arrayContaining(f.devices));
        expectDone(t.removeA, 'remove -r A');
        expectDone(t.removeB, 'remove -r B');
        expect(t.s2!.stdout).toBe(r.s0!.stdout);
      });
    });
  });

  describe('refusals change nothing', () => {
    let r: Record<string, Outcome>;
    beforeAll(async () => {
      const [A, B] = f.devices;
      const [P, Q] = f.bridgePair;
      const G = f.pvGuest;
      const N = 'xtc-no-such-domain';
      r = await new Batch()
        .add('s0', { state: true })
        .add('addA', { xentool: ['pci-assignable-add', A] })
        // Both devices behind the bridge: xentool attaches one only when its whole
        // co-assignment group is assignable.
        .add('addP', { xentool: ['pci-assignable-add', P] })
        .add('addQ', { xentool: ['pci-assignable-add', Q] })
        .add('attachA', { xentool: ['pci-attach', ...W, G, `${A}@5`] })
        .add('s1', { state: true })
        .add('noPassthrough', { xentool: ['pci-attach', f.noPassthroughGuest, P] })
        .add('notAssignable', { xentool: ['pci-attach', G, B] })
        .add('takenSlot', { xentool: ['pci-attach', G, `${P}@5`] })
        .add('xmTakenSlot', { xm: ['pci-attach', G, P, '5'] })
        .add('badSpec', { xentool: ['pci-attach', G, '00:1g.0'] })
        .add('badBdf', { xentool: ['pci-assignable-add', '00:1g.0'] })
        .add('badBdfRemove', { xentool: ['pci-assignable-remove', '00:1g.0'] })
        .add('noDomainList', { xentool: ['pci-list', N] })
        .add('noDomainAttach', { xentool: ['pci-attach', N, P] })
        .add('xmNoDomain', { xm: ['pci-list', N] })
        .addIf(f.dom0InUse !== undefined, 'dom0InUse', { xentool: ['pci-assignable-add', f.dom0InUse ?? ''] })
        .addIf(hasXl, 'xlBadSpec', { xl: ['pci-attach', G, '00:1g.0'] })
        .addIf(hasXl, 'xlBadBdf', { xl: ['pci-assignable-add', '00:1g.0'] })
        .addIf(hasXl, 'xlBadBdfRemove', { xl: ['pci-assignable-remove', '00:1g.0'] })
        .addIf(hasXl, 'xlNoDomainList', { xl: ['pci-list', N] })
        .add('s2', { state: true })
        .add('listG', { xentool: ['pci-list', G] })
        // The bridge: P goes to the guest (through xm), Q (its partner behind the bridge) to
        // another domain.
        .add('attachP', { xm: [...W, 'pci-attach', G, P] })
        .add('listGP', { xentool: ['pci-list', G] })
        .add('s3', { state: true })
        .add('bridge', { xentool: ['pci-attach', f.otherGuest, Q] })
        .add('listOther', { xentool: ['pci-list', f.otherGuest] })
        .add('s4', { state: true })
        .add('detachP', { xentool: ['pci-detach', ...W, G, P] })
        .add('detachA', { xentool: ['pci-detach', ...W, G, A] })
        .add('removeA', { xentool: ['pci-assignable-remove', '-r', A] })
        .add('removeP', { xentool: ['pci-assignable-remove', '-r', P] })
        .add('removeQ', { xentool: ['pci-assignable-remove', '-r', Q] })
        .add('s5', { state: true })
        .run(d);
    }, T);

    test('the setting: A attached at slot 5, P and Q assignable', () => {
      expectDone(r.addA, 'add A');
      expectDone(r.addP, 'add P');
      expectDone(r.addQ, 'add Q');
      expectDone(r.attachA, 'attach A@5');
      expect(parsePciList(r.listG!.stdout)).toEqual([{ bdf: f.devices[0], slot: 5, func: 0 }]);
      // hostState sees what the setting changed (so "equal" below means something).
      expect(r.s1!.stdout).not.toBe(r.s0!.stdout);
    });

    test('a domain created without passthrough', () => {
      expect(refusal(r.noPassthrough)).toMatch(/passthrough/);
    });

    test('a device not made assignable', () => {
      expect(refusal(r.notAssignable)).toContain(`pci-assignable-add ${f.devices[1]}`);
    });

    test('a taken virtual slot (xentool and xm)', () => {
      expect(refusal(r.takenSlot)).toMatch(/slot 0x5 .*already in use/);
      expect(xmRefusal(r.xmTakenSlot, 1)).toMatch(/slot/);
    });

    test("malformed specs and BDFs: xl's line, exit 2", () => {
      expect(refusal(r.badSpec, 2)).toBe('pci-attach: malformed PCI_SPEC_STRING "00:1g.0"');
      expect(refusal(r.badBdf, 2)).toBe('pci-assignable-add: malformed BDF "00:1g.0"');
      // xl quotes differently here (xl_pci.c 4.17), after trying the argument as a name.
      expect(refusal(r.badBdfRemove, 2)).toBe("pci-assignable-remove: malformed BDF '00:1g.0'");
    });

    xlTest('xl says the same of them', () => {
      // xl 4.17 itself dies on malformed specs and BDFs (seen in the VM on 2026-11-24: SIGSEGV,
      // once SIGBUS, exit 139/135, for pci-attach and pci-assignable-add): there is no line of
      // xl's to compare then; xentool prints the one xl_pci.c means to print.
      const crashed = (o: Outcome | undefined) => o!.code > 128 && /^(Segmentation fault|Bus error)/.test(o!.stderr);
      if (!crashed(r.xlBadSpec)) expect(r.xlBadSpec).toEqual(r.badSpec);
      if (!crashed(r.xlBadBdf)) expect(r.xlBadBdf).toEqual(r.badBdf);
      // The name lookup may log on its own first; the code and the last line are the contract.
      // xl 4.17's pci-assignable-remove reads '00:1g.0' as 0000:00:01.0 (its parse stops at the
      // 'g') and acts on that other device: seen in the VM, it tried to de-quarantine 0000:00:01.0
      // and exited 1. xentool refuses the malformed BDF instead (the test above).
      if (!crashed(r.xlBadBdfRemove)) {
        const xlRemove = [r.xlBadBdfRemove!.code, lines(r.xlBadBdfRemove!.stderr).pop()];
        const ours = [2, lines(r.badBdfRemove!.stderr).pop()];
        if (JSON.stringify(xlRemove) !== JSON.stringify(ours)) expect(xlRemove).toEqual([1, expect.stringMatching(/0000:00:01\.0$/)]);
      }
    });

    test("an unknown domain: xl's line, exit 1 (xm: exit 3)", () => {
      expect(refusal(r.noDomainList)).toBe('xtc-no-such-domain is an invalid domain identifier (rc=-6)');
      expect(refusal(r.noDomainAttach)).toBe('xtc-no-such-domain is an invalid domain identifier (rc=-6)');
      expect(xmRefusal(r.xmNoDomain, 3)).toBe("Error: Domain 'xtc-no-such-domain' does not exist.");
    });

    xlTest('xl says the same of an unknown domain', () => {
      expect(r.xlNoDomainList).toEqual(r.noDomainList);
    });

    (f.dom0InUse ? test : test.skip)('a device dom0 uses is not made assignable', () => {
      expect(refusal(r.dom0InUse)).toContain(f.dom0InUse);
    });

    test('the host state after the refusals is the state before them', () => {
      expect(r.s2!.stdout).toBe(r.s1!.stdout);
    });

    test('the partner of a device behind the bridge is refused to a second domain, naming the first', () => {
      expectDone(r.attachP, 'xm pci-attach P');
      expect(parsePciList(r.listGP!.stdout).map((x) => x.bdf)).toEqual([f.devices[0], f.bridgePair[0]]);
      const line = refusal(r.bridge);
      expect(line).toContain(f.bridgePair[0]);
      expect(line).toContain(f.bridgePair[1]);
      expect(r.listOther).toEqual({ stdout: '', stderr: '', code: 0 });
      expect(r.s4!.stdout).toBe(r.s3!.stdout);
    });

    test('detaching and removing everything ends where the group began', () => {
      for (const k of ['detachP', 'detachA', 'removeA', 'removeP', 'removeQ']) expectDone(r[k], k);
      expect(r.s5!.stdout).toBe(r.s0!.stdout);
    });
  });

  describe('pci-assignable-remove without -r', () => {
    let r: Record<string, Outcome>;
    beforeAll(async () => {
      const [A] = f.devices;
      r = await new Batch()
        .add('add', { xentool: ['pci-assignable-add', A] })
        .add('remove', { xentool: ['pci-assignable-remove', A] })
        .add('list', { xentool: ['pci-assignable-list'] })
        .add('driver', { driverOf: A })
        .run(d);
    }, T);

    test('leaves the device unlisted and bound to no driver', () => {
      expectDone(r.add, 'add');
      expectDone(r.remove, 'remove');
      expect(parseAssignable(r.list!.stdout).map((x) => x.bdf)).not.toContain(f.devices[0]);
      expect(r.driver!.stdout).toBe('');
    });
  });
}
