import { runCli } from '../cli';
import { captureContext } from '../testing/capture';

describe('xentool pci-spec', () => {
  it('prints one text line per device, warnings on stderr', async () => {
    const ctx = captureContext();
    expect(await runCli(['pci-spec', '03:00.0@8', 'name=gpu', '04:00.*,permissive=yes'], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe(
      '0000:03:00.0 vdevfn=0x40 vfunc_mask=0x1 msitranslate=0 power_mgmt=0 permissive=0 seize=0 rdm_policy=invalid\n' +
        'name=gpu vdevfn=0x00 vfunc_mask=0x0 msitranslate=0 power_mgmt=0 permissive=0 seize=0 rdm_policy=invalid\n' +
        '0000:04:00.* vdevfn=0x00 vfunc_mask=0xffffffff msitranslate=0 power_mgmt=0 permissive=0 seize=0 rdm_policy=invalid\n',
    );
    expect(ctx.stderr.text).toBe('warning: "04:00.*,permissive=yes": permissive=yes is read as 0 (xl uses atoi); write 0 or 1\n');
  });

  it('--json uses the libxl_device_pci field names', async () => {
    const ctx = captureContext();
    expect(await runCli(['pci-spec', '--json', '0001:03:1f.7,seize=1,rdm_policy=relaxed'], ctx)).toBe(0);
    expect(JSON.parse(ctx.stdout.text)).toEqual([
      {
        spec: '0001:03:1f.7,seize=1,rdm_policy=relaxed',
        domain: 1, bus: 3, dev: 31, func: 7, vdevfn: 0, vfunc_mask: 1,
        msitranslate: false, power_mgmt: false, permissive: false, seize: true, rdm_policy: 'relaxed', name: null,
      },
    ]);
  });

  it('--xm expands function lists', async () => {
    const ctx = captureContext();
    expect(await runCli(['pci-spec', '--xm', '--json', '01:00.0-1@3'], ctx)).toBe(0);
    const out = JSON.parse(ctx.stdout.text);
    expect(out.map((d: { func: number; vdevfn: number; vslot: number }) => [d.func, d.vdevfn, d.vslot])).toEqual([[1, 0x19, 3], [0, 0x18, 3]]);
    expect(out[0].key).toBe('01:00.0-1@3');
  });

  it('--bdf parses as pci-assignable-add does', async () => {
    const ctx = captureContext();
    expect(await runCli(['pci-spec', '--bdf', '03:00.0,junk'], ctx)).toBe(0);
    expect(ctx.stdout.text).toMatch(/^0000:03:00\.0 /);
    expect(ctx.stderr.text).toBe('warning: "03:00.0,junk": trailing ",junk" ignored (as xl does)\n');
  });

  it('exits 2 with one line on a malformed spec, printing nothing on stdout', async () => {
    const ctx = captureContext();
    expect(await runCli(['pci-spec', '03:00.0', '36:00.0,vslot=20'], ctx)).toBe(2);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toBe('malformed PCI_SPEC_STRING "36:00.0,vslot=20": vslot="20": virtual slot 0x20 > 0x1f (vslot is hex)\n');
    const ctx2 = captureContext();
    expect(await runCli(['pci-spec', '--xm', '--bdf', '03:00.0'], ctx2)).toBe(2);
  });
});
