/**
 * tsc_mode against the real libxenlight 4.17 (libxl-tsc-probe.c, built with gcc against
 * Debian's libxen-dev): the names libxl accepts and the numbers they stand for, and the JSON
 * libxl's own generator writes into the stored domain config for each mode and nomigrate
 * setting, compared byte for byte with what xentool writes for the same config. No fixture
 * captured from xl has a tsc_mode (the VM's guests use the default), so libxl's generator is
 * the oracle here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../packages/xentool/src/config/parse-config';
import { domainConfigFromFile, TSC_MODES } from '../../packages/xentool/src/config/domain-config';
import { resolveCreate, TSC_MODE_NUMBER } from '../../packages/xentool/src/domain/create-request';
import { formatLibxlJson, type LibxlJson, libxlDomainConfig } from '../../packages/xentool/src/domain/libxl-userdata';

const HEADER = '/usr/include/libxl.h';
const unavailable = existsSync(HEADER) ? undefined : `${HEADER} is absent (install Debian's libxen-dev): libxenlight oracle skipped`;
if (unavailable) console.warn(unavailable);
const d = unavailable ? describe.skip : describe;

d('tsc_mode against libxenlight 4.17', () => {
  let dir: string;
  let probe: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'xentool-libxl-tsc-'));
    probe = join(dir, 'probe');
    // libyajl2 comes with libxenlight; its headers (libyajl-dev) are not needed (see the probe).
    execFileSync('gcc', ['-O2', '-Wall', '-o', probe, join(__dirname, 'libxl-tsc-probe.c'), '-lxenlight', '-l:libyajl.so.2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const model = (text: string) => domainConfigFromFile(parseConfig(text, 'g.cfg'));

  it('accepts the same names as libxl_tsc_mode_from_string, with the same numbers', () => {
    const words = ['default', 'always_emulate', 'native', 'native_paravirt', 'Native', 'ALWAYS_EMULATE', 'Default', 'nativ', 'native ', 'pvrdtscp', 'emulate', ''];
    const libxl = execFileSync(probe, ['names', ...words], { encoding: 'utf8' }).trimEnd().split('\n');
    const ours = words.map((w) => {
      try {
        const m = model(`name="g"\ntsc_mode="${w}"\n`).tsc_mode!;
        return `0 ${TSC_MODES.indexOf(m)} ${m}`;
      } catch {
        return 'refused';
      }
    });
    // libxl answers an unknown name with ERROR_FAIL (-3).
    expect(ours).toEqual(libxl.map((l) => (l === '-3' ? 'refused' : l)));
    // And the numbers planCreate hands xc_domain_set_tsc_info are libxl's enum values
    // (libxl__arch_domain_create maps them one to one).
    for (const m of ['default', 'always_emulate', 'native'] as const) expect(TSC_MODE_NUMBER[m]).toBe(TSC_MODES.indexOf(m));
  });

  it.each([
    ['', 0, -1],
    ['tsc_mode="default"\n', 0, -1],
    ['tsc_mode="always_emulate"\n', 1, -1],
    ['tsc_mode="native"\n', 2, -1],
    ['tsc_mode="NATIVE"\n', 2, -1],
    ['tsc_mode=1\n', 1, -1],
    ['nomigrate=1\n', 0, 1],
    ['nomigrate=0\n', 0, 0],
    ['tsc_mode="native"\nnomigrate=7\n', 2, 1],
    ['tsc_mode="always_emulate"\nnomigrate=0\n', 1, 0],
  ])('%j: b_info is byte for byte what libxl generates (tsc_mode %i, disable_migrate %i)', (extra, mode, nomigrate) => {
    const cfg = model(`name="g"\ntype="pv"\nkernel="/k"\nmemory=128\n${extra}`);
    const b_info = libxlDomainConfig(resolveCreate(cfg, { uuid: '11111111-2222-4333-8444-555555555555', paused: false })).b_info as LibxlJson;
    const libxl = execFileSync(probe, ['b_info', String(mode), String(nomigrate)], { encoding: 'utf8' });
    // yajl ends a beautified document with a newline, as formatLibxlJson does.
    expect(formatLibxlJson(b_info)).toBe(libxl);
  });
});
