/**
 * The domain builder's steps that make no hypercall, run for real: libxenguest.so.4.17 on a
 * dummy libxc handle, parsing the installed Debian kernel and initrd. The hypercall-heavy steps
 * (boot_xen_init onwards) are proven in the Xen VM (test/xen/20-create-pv.test.ts).
 */
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomImage, SIF_VIRT_P2M_4TOOLS, cpuidApplyPolicy, evtchnAllocUnbound, setMemmapLimit, setTscInfo } from './dom-image';
import { XcError } from './errors';
import { openXc } from './xc-interface';
import type { XcInterface } from './xc-interface';

/** The Debian kernel on this machine (linux-image-amd64), newest first. */
function findKernel(): { kernel: string; initrd: string } | undefined {
  let names: string[];
  try {
    names = readdirSync('/boot');
  } catch {
    return undefined;
  }
  for (const v of names.filter((n) => n.startsWith('vmlinuz-')).sort().reverse()) {
    const release = v.slice('vmlinuz-'.length);
    if (names.includes(`initrd.img-${release}`)) return { kernel: `/boot/${v}`, initrd: `/boot/initrd.img-${release}` };
  }
  return undefined;
}

const boot = findKernel();
if (!boot) process.stderr.write('dom-image.test: no /boot/vmlinuz-* with an initrd: the parsing tests are skipped\n');
const XEN_CAPS = 'xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64';

let xc: XcInterface;
let tmp: string;
beforeAll(() => {
  xc = openXc({ dummy: true });
  tmp = mkdtempSync(join(tmpdir(), 'dom-image-'));
});
afterAll(() => {
  xc.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('DomImage on a dummy handle', () => {
  it('allocates an image that passes the 4.17 layout self-check and keeps the cmdline', () => {
    const img = DomImage.allocate(xc, { cmdline: 'console=hvc0 root=/dev/xvda' });
    try {
      const i = img.info();
      expect(i.flags).toBe(SIF_VIRT_P2M_4TOOLS);
      expect(i.cmdline).toBe('console=hvc0 root=/dev/xvda');
      expect(i.xchMatchesHandle).toBe(true);
      expect(i.containerType).toBe('pv');
      expect(i.guestType).toBeUndefined();
    } finally {
      img.release();
    }
  });

  it('writes the HVM fields and the system firmware module where libxenguest reads them', () => {
    const img = DomImage.allocate(xc);
    try {
      img.setFields({
        containerType: 'hvm',
        targetPages: 0x3e000n,
        mmioStart: 0xf0000000n,
        mmioSize: 0x10000000n,
        lowmemEnd: 0xf800000n,
        highmemEnd: 0n,
        vgaHoleSize: 0x20n,
        deviceModel: true,
        maxVcpus: 2,
      });
      img.setSystemFirmware(Buffer.from('seabios image bytes'));
      const i = img.info();
      expect(i).toMatchObject({
        containerType: 'hvm',
        targetPages: 0x3e000n,
        mmioStart: 0xf0000000n,
        mmioSize: 0x10000000n,
        lowmemEnd: 0xf800000n,
        highmemEnd: 0n,
        vgaHoleSize: 0x20n,
        deviceModel: true,
        maxVcpus: 2,
        systemFirmwareLength: 19,
      });
      // Writes of neighbouring fields did not spill over the self-checked ones.
      expect(i.xchMatchesHandle).toBe(true);
      expect(i.flags).toBe(SIF_VIRT_P2M_4TOOLS);
    } finally {
      img.release();
    }
  });

  it('writes single fields where libxenguest reads them', () => {
    const img = DomImage.allocate(xc);
    try {
      img.setFields({ flags: 0, consoleEvtchn: 3, xenstoreEvtchn: 2, consoleDomid: 0, xenstoreDomid: 7, maxVcpus: 4, containerType: 'pv' });
      const i = img.info();
      expect({ f: i.flags, c: i.consoleEvtchn, s: i.xenstoreEvtchn, cd: i.consoleDomid, sd: i.xenstoreDomid, v: i.maxVcpus }).toEqual({
        f: 0,
        c: 3,
        s: 2,
        cd: 0,
        sd: 7,
        v: 4,
      });
      // Neighbouring library-owned fields are untouched by the writes.
      expect(i.xchMatchesHandle).toBe(true);
      expect(i.cmdline).toBeUndefined();
    } finally {
      img.release();
    }
  });

  (boot ? it : it.skip)('parses the Debian kernel and initrd and sizes the guest memory', () => {
    const img = DomImage.allocate(xc, { cmdline: 'console=hvc0' });
    try {
      img.kernelFile(boot!.kernel);
      img.moduleFile(boot!.initrd);
      img.setXenCapsForTest(XEN_CAPS);
      img.parseImage();
      img.memInit(256);
      const i = img.info();
      expect(i.guestType).toBe('xen-3.0-x86_64');
      // parse decompresses the bzImage payload: the kernel is bigger than its file.
      expect(i.kernelSize).toBeGreaterThan(statSync(boot!.kernel).size);
      expect(i.numModules).toBe(1);
      expect(i.moduleSizes).toEqual([statSync(boot!.initrd).size]);
      expect(i.totalPages).toBe(256 * 256);
      expect(i.xenCaps).toBe(XEN_CAPS);
      // No p2m before boot_mem_init populates it: every frame is INVALID_MFN, never garbage.
      expect(img.p2m(0n)).toBe(0xffffffffffffffffn);
    } finally {
      img.release();
    }
  });

  it('looks frames up in pv_p2m as xc_dom_p2m does (index × 8 bytes; INVALID_MFN past total_pages)', () => {
    const img = DomImage.allocate(xc);
    try {
      img.setP2mForTest([0x1000n, 0x13a601n, 0x13a602n, 0xffffffffffn]);
      expect(img.p2m(0n)).toBe(0x1000n);
      expect(img.p2m(1n)).toBe(0x13a601n);
      expect(img.p2m(2n)).toBe(0x13a602n);
      expect(img.p2m(3n)).toBe(0xffffffffffn);
      expect(img.p2m(4n)).toBe(0xffffffffffffffffn);
    } finally {
      img.release();
    }
  });

  it('names the step and carries libxenguest log lines when a kernel file is missing', () => {
    const img = DomImage.allocate(xc);
    try {
      let err: unknown;
      try {
        img.kernelFile(join(tmp, 'no-such-kernel'));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(XcError);
      expect((err as XcError).syscall).toBe('xc_dom_kernel_file');
      expect((err as XcError).log.join('\n')).toContain('no-such-kernel');
    } finally {
      img.release();
    }
  });

  it('refuses a file that is no kernel at parse time', () => {
    const junk = join(tmp, 'junk');
    writeFileSync(junk, Buffer.alloc(8192, 0x5a));
    const img = DomImage.allocate(xc);
    try {
      img.kernelFile(junk);
      img.setXenCapsForTest(XEN_CAPS);
      expect(() => img.parseImage()).toThrow(expect.objectContaining({ syscall: 'xc_dom_parse_image' }));
    } finally {
      img.release();
    }
  });

  it('refuses the hypercall steps on a dummy handle instead of crashing', async () => {
    const img = DomImage.allocate(xc);
    try {
      expect(() => img.bootXenInit(1)).toThrow(expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }));
      await expect(img.bootMemInit()).rejects.toMatchObject({ code: 'ERR_XC_DUMMY_HANDLE' });
      expect(() => evtchnAllocUnbound(xc, 1, 0)).toThrow(expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }));
      expect(() => setMemmapLimit(xc, 1, 1024)).toThrow(expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }));
      expect(() => setTscInfo(xc, 1, 0)).toThrow(expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }));
      expect(() => cpuidApplyPolicy(xc, 1, { pae: true, itsc: false, nestedVirt: false })).toThrow(
        expect.objectContaining({ code: 'ERR_XC_DUMMY_HANDLE' }),
      );
    } finally {
      img.release();
    }
  });

  it('release is idempotent and later steps refuse to run', () => {
    const img = DomImage.allocate(xc);
    img.release();
    img.release();
    expect(() => img.parseImage()).toThrow(/already released/);
    expect(() => img.info()).toThrow(/already released/);
  });

  it('validates arguments before touching the image', () => {
    const img = DomImage.allocate(xc);
    try {
      expect(() => img.setFields({ consoleDomid: 0x7ff0 })).toThrow(expect.objectContaining({ code: 'ERR_XC_INVALID_ARGUMENT' }));
      expect(() => evtchnAllocUnbound(xc, -1, 0)).toThrow(expect.objectContaining({ code: 'ERR_XC_INVALID_ARGUMENT' }));
    } finally {
      img.release();
    }
  });
});
