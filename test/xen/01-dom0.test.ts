/**
 * The VM itself: dom0 is up on real Xen with an IOMMU, the Xen tools and xenstored work, the spare
 * devices are where the scenarios expect them, and node + koffi reach libxenctrl from dom0.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { IMAGES_DIR, PROJECT_IN_DOM0, saveTranscript, suiteVm, XEN_DIR } from './suite';
import { SPARE_DEVICES, type XenVm } from './xen-vm';

let vm: XenVm;
beforeAll(() => {
  vm = suiteVm();
});

function buildInfo(key: string): string {
  const text = fs.readFileSync(path.join(IMAGES_DIR, 'build-info'), 'utf8');
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(text);
  if (!m) throw new Error(`build-info has no ${key}`);
  return m[1];
}

/** `xl info` as key → value. */
function parseXlInfo(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s*: ?(.*)$/.exec(line);
    if (m) map.set(m[1], m[2]);
  }
  return map;
}

describe('dom0 on real Xen', () => {
  test('xl info: the installed Xen, with passthrough capabilities from the emulated AMD IOMMU', async () => {
    const r = await vm.execOk('xl info');
    saveTranscript('dom0/xl-info.txt', r.stdout);
    const info = parseXlInfo(r.stdout);
    const caps = (info.get('virt_caps') ?? '').split(/\s+/);
    expect(caps).toEqual(expect.arrayContaining(['pv', 'hvm', 'hvm_directio', 'pv_directio', 'hap']));
    // build-initramfs.sh took Xen from /boot/xen-X.Y-amd64.gz; the running one must be that X.Y.
    expect(info.get('xen_version')).toMatch(new RegExp(`^${buildInfo('xen').replace(/\./g, '\\.')}\\.`));
    expect(info.get('release')).toBe(buildInfo('kernel'));
    expect(info.get('nr_cpus')).toBe('2');
  });

  test('xl list: Domain-0 alone, id 0, with the dom0_mem the VM was booted with', async () => {
    const r = await vm.execOk('xl list');
    saveTranscript('dom0/xl-list.txt', r.stdout);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)$/);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(/^Domain-0\s+0\s+2048\s+2\s+r-----\s+\d+\.\d$/);
  });

  test('the C xenstored answers the real xenstore tools', async () => {
    const r = await vm.execOk(
      'xenstore-ls /local/domain/0 && xenstore-write /xenvm/probe "a b" && xenstore-read /xenvm/probe && xenstore-rm /xenvm && xenstore-exists /xenvm; echo "exists=$?"',
    );
    expect(r.stdout).toMatch(/^name = "Domain-0"$/m);
    expect(r.stdout).toMatch(/^domid = "0"$/m);
    expect(r.stdout).toMatch(/^a b$/m);
    expect(r.stdout).toMatch(/^exists=1$/m);
    expect(vm.readyInfo()).toMatch(/xenstored=xenstored/);
  });

  test('the spare PCI devices are in dom0 where the scenarios expect them, bound to no driver', async () => {
    const r = await vm.execOk('lspci -Dn');
    saveTranscript('dom0/lspci-Dn.txt', r.stdout);
    for (const dev of SPARE_DEVICES) {
      expect(r.stdout).toMatch(new RegExp(`^${dev.bdf.replace(/[.]/g, '\\.')} [0-9a-f]{4}: ${dev.id}\\b`, 'm'));
    }
    // The two devices behind the bridge share the bridge's secondary bus.
    expect(r.stdout).toMatch(/^0000:00:07\.0 0604: 1b36:0001/m);
    const drivers = await vm.execOk(
      SPARE_DEVICES.map((d) => `echo "${d.bdf} $(readlink /sys/bus/pci/devices/${d.bdf}/driver)"`).join('\n'),
    );
    for (const dev of SPARE_DEVICES) expect(drivers.stdout).toContain(`${dev.bdf} \n`);
  });

  test('node runs in dom0 and koffi calls libxenctrl.so.4.17 like the C library does', async () => {
    // The reference: the same two calls compiled against the installed headers and library.
    const cBinary = path.join(vm.share, 'physinfo');
    execFileSync('gcc', ['-O2', '-Wall', '-o', cBinary, path.join(XEN_DIR, 'probes', 'physinfo.c'), '-lxenctrl']);
    const c = await vm.execOk('/mnt/host/physinfo');
    const js = await vm.execOk(`node ${PROJECT_IN_DOM0}/test/xen/probes/koffi-physinfo.js ${PROJECT_IN_DOM0}`);
    const fromC = JSON.parse(c.stdout) as Record<string, number>;
    const fromKoffi = JSON.parse(js.stdout) as Record<string, number>;
    expect(fromC.rc).toBe(0);
    expect(fromKoffi.rc).toBe(0);
    // Layout first (a wrong struct would read garbage that might still look plausible).
    expect(fromKoffi.sizeof).toBe(fromC.sizeof);
    expect(fromKoffi.offset_total_pages).toBe(fromC.offset_total_pages);
    expect(fromKoffi.offset_hw_cap).toBe(fromC.offset_hw_cap);
    for (const k of ['nr_cpus', 'threads_per_core', 'cores_per_socket', 'nr_nodes', 'cpu_khz', 'capabilities', 'total_pages', 'max_mfn']) {
      expect([k, fromKoffi[k]]).toEqual([k, fromC[k]]);
    }
    expect(fromKoffi.nr_cpus).toBe(2);
    // XEN_SYSCTL_PHYSCAP_pv (1<<1) and _directio (1<<2): what xl prints as pv / *_directio.
    expect(fromKoffi.capabilities & 0b110).toBe(0b110);
  });
});
