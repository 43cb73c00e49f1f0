/**
 * The PCI contract (test/contract/pci-contract.ts) on the simulated host. The same cases run on
 * real Xen in test/xen/15-contract.test.ts.
 *
 * The host is the seed's (`sim-init --no-hidden`: nothing hidden at boot, so the two candidates
 * start on their dom0 drivers, e1000e and r8169, and `-r` has a driver to give back): 01:00.0
 * and 03:00.0 as the two devices, 05:00.0 and 05:01.0 behind the PCIe-to-PCI bridge, 00:19.0
 * (dom0's default route) as the device dom0 uses. The guests have the real runner's names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pciContract, type ContractCommand, type ContractDriver, type ContractFacts, type Outcome } from '../contract/pci-contract';
import { SimBench } from './sim-helpers';

const facts: ContractFacts = {
  devices: ['0000:01:00.0', '0000:03:00.0'],
  bridgePair: ['0000:05:00.0', '0000:05:01.0'],
  pvGuest: 'xtc15a',
  otherGuest: 'xtc15b',
  noPassthroughGuest: 'xtc15c',
  dom0InUse: '0000:00:19.0',
  waitSeconds: 10,
};

const pv = (name: string, passthrough: boolean) =>
  `name = "${name}"\ntype = "pv"\nmemory = 128\nkernel = "/boot/vmlinuz"\n${passthrough ? 'passthrough = "enabled"\n' : ''}`;

interface SimState {
  xenstore: { nodes: { path: string; value: string }[] };
  sysfs: { pciback: { slots: string[] }; devices: { bdf: string; driver: string | null }[] };
  guests: Record<string, { devices: string[] }>;
  hypervisor: unknown;
}

class SimDriver implements ContractDriver {
  constructor(private readonly b: SimBench) {}

  private raw(): SimState {
    return JSON.parse(readFileSync(join(this.b.state, 'state.json'), 'utf8')) as SimState;
  }

  private nodes(): { path: string; value: string }[] {
    return this.raw().xenstore.nodes.map((n) => ({ path: n.path, value: Buffer.from(n.value, 'base64').toString('utf8') }));
  }

  private async domid(name: string): Promise<string> {
    return (await this.b.ok(['domid', name])).stdout.trim();
  }

  /**
   * xenstore's PCI records (every backend, every frontend, /libxl/pci without the empty
   * directories libxl never deletes), pciback's slots, the assignable list, dom0's driver of
   * every device, and, beyond what the real runner can see, the hypervisor's owners and
   * permissions (quarantine counted as dom0's, as SimBench.snapshot does) and each guest's view.
   */
  private async hostState(): Promise<string> {
    const xs = this.nodes()
      .filter((n) => /^\/local\/domain\/0\/backend\/pci(\/|$)|^\/local\/domain\/\d+\/device\/pci(\/|$)/.test(n.path) || (n.path.startsWith('/libxl/pci') && n.value !== ''))
      .map((n) => `${n.path} = "${n.value}"`);
    const st = this.raw();
    const snap = this.b.snapshot() as { hypervisor: unknown };
    return [
      '# xenstore',
      ...xs,
      '# pciback slots',
      ...st.sysfs.pciback.slots,
      '# assignable',
      (await this.b.ok(['pci-assignable-list'])).stdout.trimEnd(),
      '# drivers',
      ...st.sysfs.devices.map((d) => `${d.bdf} ${d.driver ?? ''}`),
      '# hypervisor',
      JSON.stringify(snap.hypervisor),
      '# guests',
      JSON.stringify(st.guests),
    ].join('\n');
  }

  async batch(cmds: ContractCommand[]): Promise<Outcome[]> {
    const out: Outcome[] = [];
    for (const c of cmds) {
      if ('xentool' in c) out.push(await this.b.run(c.xentool));
      else if ('xm' in c) out.push(await this.b.xm(c.xm));
      else if ('state' in c) out.push({ stdout: await this.hostState(), stderr: '', code: 0 });
      else if ('backend' in c) {
        const prefix = `/local/domain/0/backend/pci/${await this.domid(c.backend)}`;
        const ls = this.nodes().filter((n) => n.path === prefix || n.path.startsWith(`${prefix}/`));
        out.push({ stdout: ls.map((n) => `${n.path} = "${n.value}"\n`).join(''), stderr: '', code: 0 });
      } else if ('driverOf' in c) {
        const dev = this.raw().sysfs.devices.find((x) => x.bdf === c.driverOf);
        if (!dev) throw new Error(`no device ${c.driverOf} on the simulated host`);
        out.push({ stdout: dev.driver ?? '', stderr: '', code: 0 });
      } else throw new Error(`the simulated host has no xl: ${JSON.stringify(c)}`);
    }
    return out;
  }

  async guestDeviceCount(name: string): Promise<number> {
    // The simulated pcifront answers within the command, so what it sees now is settled.
    const r = await this.b.ok(['sim-guest', '--json', name]);
    return (JSON.parse(r.stdout) as { devices: unknown[] }).devices.length;
  }
}

let bench: SimBench;
let driver: SimDriver;

beforeAll(async () => {
  bench = new SimBench();
  await bench.ok(['sim-init', '--no-hidden']);
  await bench.ok(['sim-create', bench.config('a.cfg', pv(facts.pvGuest, true))]);
  await bench.ok(['sim-create', bench.config('b.cfg', pv(facts.otherGuest, true))]);
  await bench.ok(['sim-create', bench.config('c.cfg', pv(facts.noPassthroughGuest, false))]);
  driver = new SimDriver(bench);
});

afterAll(() => bench?.cleanup());

describe('PCI contract on the simulated host', () => {
  pciContract({ facts, hasXl: false, timeoutMs: 60_000 }, () => driver);
});
