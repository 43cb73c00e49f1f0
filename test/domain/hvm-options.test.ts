/**
 * The HVM settings and qemu-xen's command line against what xl really ran in the Xen VM
 * (test/xen/fixtures/hvm-xl: hvm1.cfg and the qemu-xen-cmdline.txt recorded for domid 1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { domainConfigFromFile, parseConfigBytes } from '../../packages/xentool/src/config/index';
import { qemuXenArgv, QEMU_XEN, readHvmOptions } from '../../packages/xentool/src/domain/hvm-options';
import { resolveCreate } from '../../packages/xentool/src/domain/create-request';

const FIXTURES = join(__dirname, '..', 'xen', 'fixtures', 'hvm-xl');

function parse(text: string) {
  return parseConfigBytes(Buffer.from(text), 'test.cfg');
}

describe('readHvmOptions', () => {
  it('applies libxl defaults: vnc on, cirrus with 8 MiB of video memory, no serial, boot cda', () => {
    expect(readHvmOptions(parse('name="h"\ntype="hvm"\n'))).toMatchObject({ vnc: true, vga: 'cirrus', videoMemKiB: 8192, serial: null, boot: 'cda' });
  });

  it('reads serial, vnc, stdvga and vga=none', () => {
    expect(readHvmOptions(parse('serial="pty"\nvnc=0\nstdvga=1\n'))).toMatchObject({ serial: 'pty', vnc: false, vga: 'stdvga', videoMemKiB: 16384 });
    expect(readHvmOptions(parse('vga="none"\n'))).toMatchObject({ vga: 'none', videoMemKiB: 0 });
  });

  it.each([
    ['serial="/dev/ttyS0"', /serial="\/dev\/ttyS0": only "pty" is supported/],
    ['vga="qxl"', /vga="qxl": only cirrus, stdvga and none are supported/],
    ['bios="ovmf"', /bios="ovmf": only seabios is supported/],
    ['sdl=1', /sdl=1 is not supported/],
  ])('refuses %s with one line', (line, message) => {
    expect(() => readHvmOptions(parse(`${line}\n`))).toThrow(message);
  });
});

describe('qemuXenArgv', () => {
  it('is the command line xl 4.17 ran for fixtures/hvm-xl/hvm1.cfg (domid 1), byte for byte', () => {
    const file = parse(readFileSync(join(FIXTURES, 'hvm1.cfg'), 'utf8'));
    const cfg = domainConfigFromFile(file);
    const hvm = readHvmOptions(file);
    const req = resolveCreate(cfg, { uuid: '00000000-0000-0000-0000-000000000001', paused: false });
    const argv = qemuXenArgv({
      domid: 1,
      name: req.name,
      hvm,
      kernel: req.kernel,
      ramdisk: req.ramdisk,
      cmdline: req.cmdline,
      maxVcpus: req.maxVcpus,
      vcpus: req.vcpus,
      memMiB: (req.maxMemKiB - hvm.videoMemKiB) / 1024,
    });
    // The recorded line is argv joined with spaces (it came from /proc/PID/cmdline).
    const recorded = readFileSync(join(FIXTURES, '0-created', 'qemu-xen-cmdline.txt'), 'utf8').trim();
    expect([QEMU_XEN, ...argv].join(' ')).toBe(recorded);
  });

  it('adds -smp N,maxcpus=M only with more than one vcpu, and vnc on 127.0.0.1:0 by default', () => {
    const hvm = readHvmOptions(parse(''));
    const argv = qemuXenArgv({ domid: 7, name: 'g', hvm, kernel: null, ramdisk: null, cmdline: null, maxVcpus: 4, vcpus: 2, memMiB: 504 });
    expect(argv.slice(argv.indexOf('-smp'), argv.indexOf('-smp') + 2)).toEqual(['-smp', '2,maxcpus=4']);
    expect(argv.slice(argv.indexOf('-vnc'), argv.indexOf('-vnc') + 2)).toEqual(['-vnc', '127.0.0.1:0,to=99']);
    expect(argv).not.toContain('-kernel');
    expect(argv.slice(-2)).toEqual(['-m', '504']);
  });
});
