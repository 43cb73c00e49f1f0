/**
 * `xentool --sim demo`: the seed document's walkthrough (a Xen 3.3-era VT-d how-to), run for
 * real on the simulated host, each command printed with its output and exit code: hide two
 * devices, start a guest with `pci = [ '01:00.0', '03:00.0' ]`, `xm pci-list`, hot-remove one,
 * hot-add it to slot 7, move a device to a second guest without a shutdown, and watch a
 * co-assignment violation be refused with its reason.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import type { CommandContext } from '../context';
import { write } from '../context';
import { XentoolError } from '../errors';

type Runner = (argv: string[], ctx: CommandContext) => Promise<number>;

class Collect extends Writable {
  text = '';
  override _write(c: Buffer | string, _e: BufferEncoding, cb: () => void): void {
    this.text += c.toString();
    cb();
  }
}

export async function runSeedDemo(ctx: CommandContext, opts: { simDir?: string }): Promise<number> {
  const dir = opts.simDir ?? path.join(mkdtempSync(path.join(tmpdir(), 'xentool-demo-')), 'sim');
  const work = path.dirname(dir);
  const { runCli } = await import('../cli');
  const { runXm } = await import('../xm/xm-cli');
  const { openHost } = await import('../host/open-host');
  const env = { ...ctx.env, XENTOOL_HOST: 'sim', XENTOOL_SIM_DIR: dir };
  const xentool: Runner = (argv, c) => runCli(['--sim', '--sim-dir', dir, ...argv], c);
  const xm: Runner = (argv, c) => runXm(argv, c, () => openHost(c, { _: [], sim: true, simDir: dir }));

  let failures = 0;
  const say = (t: string) => write(ctx.stdout, t);
  const step = async (title: string) => say(`\n== ${title}\n`);
  const run = async (prog: 'xentool' | 'xm', argv: string[], expect: 'ok' | 'fail' = 'ok') => {
    const out = new Collect();
    const err = new Collect();
    const c: CommandContext = { ...ctx, stdout: out, stderr: err, env, cwd: work, prog };
    const code = await (prog === 'xm' ? xm : xentool)(argv, c);
    await say(`$ ${prog} ${argv.join(' ')}\n${out.text}${err.text}`);
    if (code !== 0) await say(`(exit ${code})\n`);
    if ((code === 0) !== (expect === 'ok')) failures++;
  };
  const file = async (name: string, text: string) => {
    writeFileSync(path.join(work, name), text);
    await say(`$ cat ${name}\n${text}`);
  };

  await say(`Simulated host in ${dir} (nothing on this machine is touched).\n`);
  await run('xentool', ['sim-init', '--no-hidden']);

  await step('Step 10: lspci - select the PCI devices to give to a guest');
  await run('xentool', ['pci-devices']);

  await step('Step 11: hide 01:00.0 and 03:00.0 from dom0 (the boot line, or at runtime)');
  await run('xentool', ['pci-hide-line', '-q', '01:00.0', '03:00.0']);
  await run('xentool', ['pci-assignable-add', '01:00.0']);
  await run('xentool', ['pci-assignable-add', '03:00.0']);
  await run('xentool', ['pci-assignable-list']);

  await step("Step 13-15: add the pci line to the guest's config and start it");
  await file('hvm.conf', `name = "HVMDomainVtd"\ntype = "hvm"\nmemory = 1024\npci = [ '01:00.0', '03:00.0' ]\n`);
  await run('xentool', ['sim-create', 'hvm.conf']);
  await run('xm', ['pci-list', 'HVMDomainVtd']);
  await run('xentool', ['sim-guest', 'HVMDomainVtd']);

  await step('Hotplug 2: detach by the physical BDF; the guest receives a hot-removal event');
  await run('xm', ['pci-detach', 'HVMDomainVtd', '0:3:0.0']);
  await run('xentool', ['sim-guest', 'HVMDomainVtd']);

  await step('Hotplug 3: attach it again, into virtual slot 7');
  await run('xm', ['pci-attach', 'HVMDomainVtd', '0:3:0.0', '7']);
  await run('xm', ['pci-list', 'HVMDomainVtd']);

  await step('Device switch: move 03:00.0 to a second guest without shutting either down');
  await file('second.conf', `name = "second"\ntype = "hvm"\nmemory = 1024\npassthrough = "enabled"\n`);
  await run('xentool', ['sim-create', 'second.conf']);
  await run('xentool', ['pci-detach', 'HVMDomainVtd', '03:00.0']);
  await run('xentool', ['pci-attach', 'second', '03:00.0']);
  await run('xentool', ['pci-list', 'second']);
  await run('xentool', ['sim-guest', 'second']);

  await step('Caveat: conventional PCI devices behind a PCIe-to-PCI bridge go to the same domain');
  await run('xentool', ['pci-assignable-add', '05:00.0']);
  await run('xentool', ['pci-assignable-add', '05:01.0']);
  await run('xentool', ['pci-attach', 'HVMDomainVtd', '05:00.0']);
  await run('xentool', ['pci-attach', 'second', '05:01.0'], 'fail');
  await run('xentool', ['pci-attach', 'HVMDomainVtd', '05:01.0']);
  await run('xm', ['pci-list', 'HVMDomainVtd']);

  if (failures > 0) throw new XentoolError('ERR_DEMO', `the demo did not go as the seed describes (${failures} unexpected result(s))`);
  await say('\nThe seed walkthrough ran as described.\n');
  return 0;
}
