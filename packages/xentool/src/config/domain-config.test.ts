import { ErrorCodes, XentoolError } from '../errors';
import { domainConfigFromFile, strtolBase0 } from './domain-config';
import { parseConfig } from './parse-config';

const model = (text: string) => domainConfigFromFile(parseConfig(text, 'vm.cfg'));
function fails(text: string): XentoolError {
  try {
    model(text);
  } catch (e) {
    expect(e).toBeInstanceOf(XentoolError);
    return e as XentoolError;
  }
  throw new Error('accepted');
}

describe('strtolBase0', () => {
  it('reads numbers as strtol(..., 0) does', () => {
    expect(strtolBase0('010')).toBe(8);
    expect(strtolBase0('0x1f')).toBe(31);
    expect(strtolBase0('-12')).toBe(-12);
    expect(strtolBase0('0')).toBe(0);
    expect(strtolBase0('08')).toBe('is not a valid number');
    expect(strtolBase0('12abc')).toBe('is not a valid number');
    expect(strtolBase0('99999999999999999999')).toMatch(/out of range/);
  });
});

describe('domainConfigFromFile', () => {
  it('reads a PV passthrough guest with xl defaults', () => {
    const d = model(
      [
        'name = "router"',
        'memory = 1024',
        'vcpus = 2',
        "root = '/dev/xvda1 ro'",
        "extra = 'console=hvc0'",
        "pci = [ '03:00.0', '03:00.1@4,permissive=1' ]",
        'pci_msitranslate = 1',
        "disk = [ 'phy:/dev/vg/a,xvda,w' ]",
        '',
      ].join('\n'),
    );
    expect(d).toMatchObject({
      name: 'router',
      type: 'pv',
      memory: 1024,
      maxmem: 1024,
      vcpus: 2,
      cmdline: 'root=/dev/xvda1 ro console=hvc0',
      disk: ['phy:/dev/vg/a,xvda,w'],
      on_poweroff: 'destroy',
      on_reboot: 'restart',
      on_crash: 'destroy',
      passthrough: null,
      e820_host: true,
    });
    expect(d.pci).toHaveLength(2);
    // The global pci_msitranslate is each device's default; the spec's own keys override it.
    expect(d.pci[0]).toMatchObject({ bus: 3, func: 0, msitranslate: true, permissive: false, spec: '03:00.0', line: 6, col: 9 });
    expect(d.pci[1]).toMatchObject({ func: 1, vdevfn: 0x20, msitranslate: true, permissive: true });
  });

  it('names the key and its place in validation errors', () => {
    const e = fails('name = "a"\nmemory = "lots"\n');
    expect(e.code).toBe(ErrorCodes.ERR_CONFIG_VALUE);
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe("vm.cfg:2:1: memory: `lots' is not a valid number");
    expect(fails('name = "a"\npci = [ "03:00.0", "03:00.8" ]\n').message).toMatch(
      /^vm\.cfg:2:20: pci\[1\]: unable to parse PCI_SPEC_STRING for passthrough: malformed PCI_SPEC_STRING "03:00\.8"/,
    );
    expect(fails('name = "a"\non_crash = "reboot"\n').message).toMatch(/^vm\.cfg:2:1: on_crash: unknown value "reboot"/);
    expect(fails('name = [ "a" ]\n').message).toBe('vm.cfg:1:1: name: is a list but should be a single value');
    expect(fails('memory = 512\n').message).toBe('vm.cfg: name: Domain name must be specified');
    expect(fails('name = "a"\nmemory = 512\nmemory += 512\n').message).toBe("vm.cfg:3:1: memory: can't use += with numbers");
    expect(fails('name = "a"\nvcpus = 4\nmaxvcpus = 2\n').message).toMatch(/maxvcpus < vcpus/);
    expect(fails('name = "a"\nvcpus = "0"\n').message).toBe('vm.cfg:2:1: vcpus: 0 is smaller than the minimum 1');
  });

  it('reads type and builder as xl does, prefixes included', () => {
    expect(model('name="a"\ntype="hvm"\n').type).toBe('hvm');
    expect(model('name="a"\ntype="pvh"\n').type).toBe('pvh');
    const p = model('name="a"\ntype="p"\n');
    expect(p.type).toBe('pv');
    expect(p.warnings).toContain('type="p" is read as "pv" (xl accepts prefixes)');
    expect(model('name="a"\nbuilder="hvm"\n').type).toBe('hvm');
    expect(fails('name="a"\ntype="pv"\nbuilder="hvm"\n').message).toMatch(/Contradicting "builder" and "type"/);
    expect(fails('name="a"\ntype="kvm"\n').message).toMatch(/^vm\.cfg:2:1: type: Invalid domain type kvm/);
  });

  it('prefers cmdline over root/extra with xl\'s warning', () => {
    const d = model('name="a"\ncmdline="x=1"\nroot="/dev/sda"\n');
    expect(d.cmdline).toBe('x=1');
    expect(d.warnings).toContain('Warning: ignoring root= and extra= in favour of cmdline=');
  });

  it('ignores rdm= with policy= as xl 4.17 does, and says so', () => {
    const d = model('name="a"\nrdm="strategy=host,policy=relaxed"\n');
    expect(d.rdm).toBeNull();
    expect(d.warnings.join('\n')).toMatch(/xlu_rdm_parse bug/);
    expect(model('name="a"\nrdm="strategy=host"\n').rdm).toEqual({ strategy: 'host', policy: 'invalid' });
  });

  it('collects spec warnings with the entry index', () => {
    const d = model('name="a"\npci=["03:00.0,permissive=yes"]\n');
    expect(d.pci[0].permissive).toBe(false);
    expect(d.warnings).toEqual(['pci[0]: "03:00.0,permissive=yes": permissive=yes is read as 0 (xl uses atoi); write 0 or 1']);
  });

  describe('tsc_mode (xl_parse.c 4.17)', () => {
    it('is null when absent, and each name as written (any case, as libxl__enum_from_string)', () => {
      expect(model('name="a"\n').tsc_mode).toBeNull();
      expect(model('name="a"\ntsc_mode="default"\n').tsc_mode).toBe('default');
      expect(model('name="a"\ntsc_mode="always_emulate"\n').tsc_mode).toBe('always_emulate');
      expect(model('name="a"\ntsc_mode="native"\n').tsc_mode).toBe('native');
      expect(model('name="a"\ntsc_mode="Native"\n').tsc_mode).toBe('native');
      expect(model('name="a"\ntsc_mode="ALWAYS_EMULATE"\n').tsc_mode).toBe('always_emulate');
      // xl parses it; libxl refuses it at create time (plan-create).
      expect(model('name="a"\ntsc_mode="native_paravirt"\n').tsc_mode).toBe('native_paravirt');
      expect(model('name="a"\ntsc_mode="native"\n').warnings).toEqual([]);
    });

    it('takes the deprecated number form (strtol base 0, quoted or not) with a warning naming the mode', () => {
      const d = model('name="a"\ntsc_mode=2\n');
      expect(d.tsc_mode).toBe('native');
      expect(d.warnings).toEqual(['tsc_mode=2: specifying "tsc_mode" as an integer is deprecated; use the name: tsc_mode="native"']);
      expect(model('name="a"\ntsc_mode=0\n').tsc_mode).toBe('default');
      expect(model('name="a"\ntsc_mode="1"\n').tsc_mode).toBe('always_emulate');
      expect(model('name="a"\ntsc_mode=0x3\n').tsc_mode).toBe('native_paravirt');
    });

    it('refuses a number outside 0-3 and an unknown name: one line with file:line:col, exit 1', () => {
      for (const [text, msg] of [
        ['name="a"\ntsc_mode=4\n', 'vm.cfg:2:1: tsc_mode: invalid value 4 (one of: default, always_emulate, native)'],
        ['name="a"\ntsc_mode="-1"\n', 'vm.cfg:2:1: tsc_mode: invalid value -1 (one of: default, always_emulate, native)'],
        ['name="a"\n  tsc_mode = "nativ"\n', 'vm.cfg:2:3: tsc_mode: invalid value "nativ" (one of: default, always_emulate, native)'],
        // Not wholly a number, so xl tries it as a name.
        ['name="a"\ntsc_mode="2x"\n', 'vm.cfg:2:1: tsc_mode: invalid value "2x" (one of: default, always_emulate, native)'],
        // Out of range for a C long: xlu_cfg_get_long fails quietly, then the name lookup.
        ['name="a"\ntsc_mode=99999999999999999999\n', 'vm.cfg:2:1: tsc_mode: invalid value "99999999999999999999" (one of: default, always_emulate, native)'],
        ['name="a"\ntsc_mode=""\n', 'vm.cfg:2:1: tsc_mode: invalid value "" (one of: default, always_emulate, native)'],
      ] as const) {
        const e = fails(text);
        expect({ code: e.code, exitCode: e.exitCode, message: e.message }).toEqual({ code: ErrorCodes.ERR_CONFIG_VALUE, exitCode: 1, message: msg });
      }
      expect(fails('name="a"\ntsc_mode=["native"]\n').message).toBe('vm.cfg:2:1: tsc_mode: is a list but should be a single value');
    });

    it('after +=, is never a number (xlu_cfg_get_long refuses +=): the joined text is looked up as a name', () => {
      expect(model('name="a"\ntsc_mode="nat"\ntsc_mode+="ive"\n').tsc_mode).toBe('native');
      expect(fails('name="a"\ntsc_mode+="2"\n').message).toBe('vm.cfg:2:1: tsc_mode: invalid value "2" (one of: default, always_emulate, native)');
    });
  });

  it('reads nomigrate as a number (null when absent)', () => {
    expect(model('name="a"\n').nomigrate).toBeNull();
    expect(model('name="a"\nnomigrate=1\n').nomigrate).toBe(true);
    expect(model('name="a"\nnomigrate=0\n').nomigrate).toBe(false);
    expect(fails('name="a"\nnomigrate="yes"\n').message).toBe("vm.cfg:2:1: nomigrate: `yes' is not a valid number");
  });

  it('refuses passthrough="disabled" with devices, and nested lists in pci', () => {
    expect(fails('name="a"\npassthrough="disabled"\npci=["03:00.0"]\n').message).toMatch(/passthrough: is "disabled"/);
    expect(fails('name="a"\npci=["03:00.0", ["x"]]\n').message).toBe('vm.cfg:2:17: pci[1]: is a list but should be a single value');
  });
});
