/** The main job: the seed walkthrough on a fresh simulated host. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../packages/xentool/src/cli';
import { captureContext } from '../../packages/xentool/src/testing/capture';

jest.setTimeout(60_000);

it('runs the seed document end to end with the outputs it describes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xentool-demo-test-'));
  try {
    const ctx = captureContext({ env: {}, cwd: dir });
    const code = await runCli(['demo', '--sim-dir', join(dir, 'sim')], ctx);
    expect(ctx.stderr.text).toBe('');
    expect(code).toBe(0);
    const out = ctx.stdout.text;
    expect(out).toContain('$ xentool pci-hide-line -q 01:00.0 03:00.0\nxen-pciback.hide=(0000:01:00.0)(0000:03:00.0)\n');
    expect(out).toContain('$ xm pci-attach HVMDomainVtd 0:3:0.0 7\n$ xm pci-list HVMDomainVtd\nVSlt domain   bus   slot   func\n0x4    0x0  0x01   0x00    0x0    \n0x7    0x0  0x03   0x00    0x0    \n');
    expect(out).toContain('$ xentool pci-list second\nVdev Device\n04.0 0000:03:00.0\n');
    expect(out).toMatch(/\$ xentool pci-attach second 05:01.0\nPCI device 0000:05:01.0 must be assigned to the same domain as 0000:05:00.0, which is attached to domain 1.*\n\(exit 1\)\n/);
    expect(out).toMatch(/The seed walkthrough ran as described.\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
