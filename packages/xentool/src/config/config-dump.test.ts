import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli';
import { captureContext } from '../testing/capture';

describe('xentool config-dump', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xentool-dump-'));
    writeFileSync(join(dir, 'vm.cfg'), "name = 'vm'\nmemory = 010\nextra = \"a\"\nextra += '\\tb'\npci = [ '03:00.0', [ 1 ] ]\n");
    writeFileSync(join(dir, 'bad.cfg'), 'name = "vm"\nmemory = 512 * 2\n');
    writeFileSync(join(dir, 'pt.cfg'), 'name = "vm"\npci = [ "03:00.0,permissive=yes" ]\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--json prints key → the text libxlutil stores, lists as arrays', async () => {
    const ctx = captureContext({ cwd: dir });
    expect(await runCli(['config-dump', '--json', 'vm.cfg', 'memory=0x20'], ctx)).toBe(0);
    expect(JSON.parse(ctx.stdout.text)).toEqual({ name: 'vm', memory: '0x20', extra: 'a\tb', pci: ['03:00.0', ['1']] });
    expect(ctx.stderr.text).toBe('');
  });

  it('prints the canonical text form by default', async () => {
    const ctx = captureContext({ cwd: dir });
    expect(await runCli(['config-dump', 'vm.cfg'], ctx)).toBe(0);
    expect(ctx.stdout.text).toBe('name = "vm"\nmemory = 010\nextra = "a\\tb"\npci = [ "03:00.0", [ 1 ] ]\n');
  });

  it('exits 1 with one FILE:LINE:COL line on a config error', async () => {
    const ctx = captureContext({ cwd: dir });
    expect(await runCli(['config-dump', 'bad.cfg'], ctx)).toBe(1);
    expect(ctx.stdout.text).toBe('');
    expect(ctx.stderr.text).toMatch(/^bad\.cfg:2:14: lexical error near `\*': this looks like Python[^\n]*\n$/);
  });

  it('--typed prints the model and the warnings on stderr', async () => {
    const ctx = captureContext({ cwd: dir });
    expect(await runCli(['config-dump', '--typed', 'pt.cfg'], ctx)).toBe(0);
    const d = JSON.parse(ctx.stdout.text);
    expect(d.pci[0]).toMatchObject({ bus: 3, permissive: false, rdm_policy: 'invalid', name: null });
    expect(ctx.stderr.text).toBe('warning: pci[0]: "03:00.0,permissive=yes": permissive=yes is read as 0 (xl uses atoi); write 0 or 1\n');
  });
});
