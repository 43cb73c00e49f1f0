/** The `xm` drop-in: xm's arguments, output layouts and error conventions, on the simulated host. */
import { SimBench } from './sim-helpers';

let b: SimBench;
beforeEach(async () => {
  b = new SimBench();
  await b.ok(['sim-init']);
  await b.ok(['sim-create', b.config('h.cfg', 'name = "HVMDomainVtd"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n')]);
});
afterEach(() => b.cleanup());

const USAGE_ATTACH = 'Usage: xm pci-attach [-o|--options=<opt>] <Domain> <domain:bus:slot.func> [virtual slot]\n\nInsert a new pass-through pci device.\n';

describe('xm pci-attach / pci-list / pci-detach (the seed walkthrough)', () => {
  it('attaches 0:2:0.0-style BDFs into the requested slot and lists them in the 3.3 layout', async () => {
    expect(await b.xm(['pci-attach', 'HVMDomainVtd', '0:3:0.0', '6'])).toEqual({ code: 0, stdout: '', stderr: '' });
    const list = await b.xm(['pci-list', 'HVMDomainVtd']);
    expect(list).toEqual({ code: 0, stdout: 'VSlt domain   bus   slot   func\n0x6    0x0  0x03   0x00    0x0    \n', stderr: '' });
    expect((await b.xm(['pci-list', 'HVMDomainVtd', '--format=4.0'])).stdout).toBe('VSlt VFn domain bus  slot func\n0x06 0x0 0x0000 0x03 0x00 0x0\n');
    expect((await b.xm(['pci-list', 'HVMDomainVtd', '--format', '4.1'])).stdout).toBe('Vdev Device\n06.0 0000:03:00.0\n');
    // xl sees what xm attached.
    expect((await b.ok(['pci-list', 'HVMDomainVtd'])).stdout).toBe('Vdev Device\n06.0 0000:03:00.0\n');
    expect(await b.xm(['pci-detach', 'HVMDomainVtd', '0:3:0.0'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await b.xm(['pci-list', 'HVMDomainVtd'])).stdout).toBe('');
  });

  it('records msitranslate=1 by default, as xm did (xl defaults to 0), and takes -o', async () => {
    await b.xm(['pci-attach', '-o', 'power_mgmt=1', 'HVMDomainVtd', '0:3:0.0']);
    expect(b.xenstore('/local/domain/0/backend/pci/1/0')['/local/domain/0/backend/pci/1/0/opts-0']).toBe(
      'msitranslate=1,power_mgmt=1,permissive=0,rdm_policy=strict',
    );
  });

  it('lists assignable devices without the ones in use', async () => {
    expect((await b.xm(['pci-list-assignable-devices'])).stdout).toBe('0000:01:00.0\n0000:03:00.0\n');
    await b.xm(['pci-attach', 'HVMDomainVtd', '0:1:0.0']);
    expect((await b.xm(['pci-list-assignable-devices'])).stdout).toBe('0000:03:00.0\n');
  });
});

describe('xm errors', () => {
  it('argument counts: Error line on stderr, usage on stdout, exit 1', async () => {
    expect(await b.xm(['pci-attach', 'HVMDomainVtd'])).toEqual({
      code: 1,
      stderr: "Error: 'xm pci-attach' requires between 2 and 3 arguments.\n\n",
      stdout: USAGE_ATTACH,
    });
    expect(await b.xm(['pci-detach', 'HVMDomainVtd'])).toEqual({
      code: 1,
      stderr: "Error: 'xm pci-detach' requires 2 arguments.\n\n",
      stdout: "Usage: xm pci-detach <Domain> <domain:bus:slot.func>\n\nRemove a domain's pass-through pci device.\n",
    });
    expect(await b.xm(['pci-list'])).toEqual({
      code: 1,
      stderr: '',
      stdout: 'No domain parameter given\nUsage: xm pci-list <Domain>\n\nList pass-through pci devices for a domain.\n',
    });
  });

  it('an unknown domain is exit 3, as xend reported ERROR_INVALID_DOMAIN', async () => {
    expect(await b.xm(['pci-list', 'nosuch'])).toEqual({ code: 3, stdout: '', stderr: "Error: Domain 'nosuch' does not exist.\n" });
    expect((await b.xm(['pci-list', '42'])).code).toBe(3);
  });

  it('a malformed BDF or option, and a refused attach, change nothing', async () => {
    const before = b.snapshot();
    expect(await b.xm(['pci-attach', 'HVMDomainVtd', '0:3:0.9'])).toEqual({ code: 1, stderr: 'Error: Invalid argument: 0:3:0.9 0x0\n', stdout: USAGE_ATTACH });
    expect((await b.xm(['pci-attach', '-o', 'bogus', 'HVMDomainVtd', '0:3:0.0'])).stderr).toBe('Error: Invalid pci attach option: bogus\n');
    const r = await b.xm(['pci-attach', 'HVMDomainVtd', '0:2:0.0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: PCI device 0:2:0.0 is not assignable: it is bound to ahci/);
    expect(b.snapshot()).toEqual(before);
  });

  it('an unknown subcommand', async () => {
    const r = await b.xm(['frob']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: Subcommand frob not found!\n');
    expect(r.stdout).toMatch(/^Usage: xm <subcommand> \[args\]/);
  });
});
