import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCodes } from '../errors';
import { readConfigFile, withOverrides } from './read-config-file';

describe('readConfigFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xentool-cfg-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('appends overrides as xl create does, so they win', async () => {
    const p = join(dir, 'vm.cfg');
    writeFileSync(p, 'name = "a"\nmemory = 512'); // no final newline: the "\n" xl adds matters
    const cfg = await readConfigFile(p, ['memory=1024', 'name="b"', "pci=['03:00.0']"]);
    expect(cfg.toPlain()).toEqual({ name: 'b', memory: '1024', pci: ['03:00.0'] });
    expect(withOverrides(Buffer.from('x=1'), ['a=2']).bytes.toString()).toBe('x=1\na=2\n\n');
  });

  it('names the override that fails to parse', async () => {
    const p = join(dir, 'vm.cfg');
    writeFileSync(p, 'name = "a"\n');
    await expect(readConfigFile(p, ['memory=1', 'name=vm2'], 'vm.cfg')).rejects.toThrow(
      'vm.cfg (override "name=vm2"):1:6: syntax error: unexpected name `vm2\', expecting a value (string, number or [list])',
    );
    await expect(readConfigFile(p, ['memory'])).rejects.toMatchObject({ code: ErrorCodes.ERR_USAGE, exitCode: 2 });
  });

  it('reports a missing file with ERR_CONFIG_IO, exit 1', async () => {
    await expect(readConfigFile(join(dir, 'nope.cfg'), [], 'nope.cfg')).rejects.toMatchObject({
      code: ErrorCodes.ERR_CONFIG_IO,
      exitCode: 1,
      message: 'Failed to read config file: nope.cfg: ENOENT',
    });
  });
});
