/**
 * The stored domain config against the files xl 4.17 wrote in the Xen VM (fixtures/, copied
 * byte for byte from /var/lib/xen/userdata-d.<domid>.<uuid>.libxl-json: PV without and with
 * pci=, HVM with pci=). The configs below are the ones those guests were created from; the
 * uuid is the one thing normalised (given to the request as xl generated it; c_info.domid is
 * INVALID_DOMID in every stored file, so there is no domid to normalise).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { domainConfigFromFile } from '../config/domain-config';
import { parseConfig } from '../config/parse-config';
import { resolveCreate } from './create-request';
import { readHvmOptions } from './hvm-options';
import { destroyAllUserdata, formatLibxlJson, libxlDomainConfig, storeUserdata, userdataPath } from './libxl-userdata';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

function stored(text: string, uuid: string): string {
  const file = parseConfig(text, 'guest.cfg');
  const cfg = domainConfigFromFile(file);
  const hvm = cfg.type === 'hvm' ? readHvmOptions(file) : undefined;
  const req = resolveCreate(cfg, { uuid, paused: true, ...(hvm ? { hvm } : {}) });
  // What storeUserdata writes: the text and libxl's terminating NUL.
  return formatLibxlJson(libxlDomainConfig(req)) + '\0';
}

const PV = ['name = "xtdpv"', 'type = "pv"', 'kernel = "/guest/vmlinuz"', 'ramdisk = "/guest/domU.cpio.gz"', 'extra = "console=hvc0 loglevel=7"', 'memory = 128', 'vcpus = 1'];

describe('the stored libxl domain config is byte for byte what xl 4.17 writes', () => {
  it('PV guest without devices', () => {
    expect(stored(PV.join('\n') + '\n', '0cb34f61-416c-4ec9-b988-e80c90e36421')).toBe(fixture('xl-4.17-pv.libxl-json'));
  });

  it('PV guest with pci= (passthrough, e820_host forced on, the device with rdm_policy strict)', () => {
    const text = [...PV.map((l) => l.replace('xtdpv', 'jpv').replace(' loglevel=7', '')), 'passthrough = "enabled"', 'pci = [ "00:05.0" ]'].join('\n') + '\n';
    expect(stored(text, 'ace501b5-df58-4db1-8a60-286e211902f2')).toBe(fixture('xl-4.17-pv-pci.libxl-json'));
  });

  it('HVM guest with pci= (video memory, vnc/sdl/serial as set, on_crash)', () => {
    const text = [
      'name = "jhvm"',
      'type = "hvm"',
      'kernel = "/guest/vmlinuz"',
      'ramdisk = "/guest/domU.cpio.gz"',
      'extra = "console=ttyS0 quiet loglevel=4"',
      'memory = 256',
      'vcpus = 1',
      'serial = "pty"',
      'vnc = 0',
      'sdl = 0',
      'passthrough = "enabled"',
      'on_crash = "preserve"',
      'pci = [ "00:06.0" ]',
    ].join('\n') + '\n';
    expect(stored(text, '685c6cb3-cf11-4380-9a83-772b002839de')).toBe(fixture('xl-4.17-hvm-pci.libxl-json'));
  });

  it('the dom0 file xen-init-dom0 writes has the same layout (empty objects, final newline, NUL)', () => {
    const dom0 = { c_info: { type: 'pv' }, b_info: { sched_params: {}, 'type.pv': {}, arch_arm: {}, arch_x86: {} } };
    expect(formatLibxlJson(dom0) + '\0').toBe(fixture('xl-4.17-dom0.libxl-json'));
  });

  it('actions other than destroy, several vcpus, maxmem and a vslot are written as libxl names them', () => {
    const text = [...PV, 'vcpus = 3', 'maxvcpus = 4', 'maxmem = 256', 'on_poweroff = "preserve"', 'on_reboot = "rename-restart"', 'on_crash = "coredump-restart"', 'pci = [ "01:02.3@07,permissive=1" ]'].join('\n') + '\n';
    const j = JSON.parse(stored(text, '0cb34f61-416c-4ec9-b988-e80c90e36421').slice(0, -1)) as Record<string, Record<string, unknown> & unknown[]>;
    expect(j.b_info).toMatchObject({ max_vcpus: 4, avail_vcpus: [0, 1, 2], max_memkb: 262144, target_memkb: 131072 });
    expect(j.pcidevs).toEqual([{ func: 3, dev: 2, bus: 1, vdevfn: 0x38, vfunc_mask: 1, permissive: true, rdm_policy: 'strict' }]);
    expect([j.on_poweroff, j.on_reboot, j.on_crash, j.on_soft_reset]).toEqual(['preserve', 'restart_rename', 'coredump_restart', 'soft_reset']);
  });
});

describe('the files on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'xentool-xenlib-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const U = '0cb34f61-416c-4ec9-b988-e80c90e36421';

  it('store writes userdata-d.<domid>.<uuid>.<userid>, mode 0600, with no temporary file left', () => {
    const file = storeUserdata(dir, 7, U, 'libxl-json', '{}\n');
    expect(file).toBe(join(dir, `userdata-d.7.${U}.libxl-json`));
    expect(readFileSync(file, 'utf8')).toBe('{}\n\0');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([`userdata-d.7.${U}.libxl-json`]);
  });

  it('destroyall removes that domain’s files only, and never the lock file', () => {
    const other = 'ace501b5-df58-4db1-8a60-286e211902f2';
    const names = [
      `userdata-d.2.${U}.libxl-json`,
      `userdata-n.2.${U}.libxl-json`,
      `userdata-d.2.${U}.xl`,
      `userdata-l.2.${U}.domain-userdata-lock`,
      `userdata-d.22.${U}.libxl-json`,
      `userdata-d.2.${other}.libxl-json`,
      'domid-history',
    ];
    for (const n of names) writeFileSync(join(dir, n), 'x');
    const removed = destroyAllUserdata(dir, 2, U);
    expect(removed.sort()).toEqual([`userdata-d.2.${U}.libxl-json`, `userdata-d.2.${U}.xl`, `userdata-n.2.${U}.libxl-json`].map((n) => join(dir, n)).sort());
    expect(readdirSync(dir).sort()).toEqual([`userdata-l.2.${U}.domain-userdata-lock`, `userdata-d.22.${U}.libxl-json`, `userdata-d.2.${other}.libxl-json`, 'domid-history'].sort());
  });

  it('destroyall on a missing directory removes nothing', () => {
    expect(destroyAllUserdata(join(dir, 'absent'), 2, U)).toEqual([]);
  });

  it('userdataPath is libxl__userdata_path', () => {
    expect(userdataPath('/var/lib/xen', 'l', 3, U, 'domain-userdata-lock')).toBe(`/var/lib/xen/userdata-l.3.${U}.domain-userdata-lock`);
  });
});
