import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectDom0Usage } from './dom0-usage';
import { Sysfs } from './sysfs';

/** A temporary tree from a {path: content | {link}} map, as the real /sys and /proc lay it out. */
function tree(spec: Record<string, string | { link: string }>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dom0-usage-'));
  for (const [p, v] of Object.entries(spec)) {
    const abs = path.join(root, p);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    if (typeof v === 'string') fs.writeFileSync(abs, v);
    else fs.symlinkSync(v.link, abs);
  }
  return root;
}

const ROUTE_HDR = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';

describe('detectDom0Usage on synthetic /sys and /proc trees', () => {
  const root = tree({
    // NVMe root behind LVM (dm-0 on nvme0n1p2), a swap partition on a SATA disk.
    'sys/devices/pci0000:00/0000:00:1d.0/0000:3a:00.0/nvme/nvme0/nvme0n1/nvme0n1p2/x': '',
    'sys/devices/virtual/block/dm-0/dm/name': 'vg-root\n',
    'sys/devices/virtual/block/dm-0/slaves/nvme0n1p2': { link: '../../../../pci0000:00/0000:00:1d.0/0000:3a:00.0/nvme/nvme0/nvme0n1/nvme0n1p2' },
    'sys/class/block/dm-0': { link: '../../devices/virtual/block/dm-0' },
    'sys/class/block/nvme0n1p2': { link: '../../devices/pci0000:00/0000:00:1d.0/0000:3a:00.0/nvme/nvme0/nvme0n1/nvme0n1p2' },
    'sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3/x': '',
    'sys/class/block/sda3': { link: '../../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda/sda3' },
    // bond0 (default route) over eth1 on 00:19.0.
    'sys/devices/pci0000:00/0000:00:19.0/net/eth1/x': '',
    'sys/devices/virtual/net/bond0/lower_eth1': { link: '../../../pci0000:00/0000:00:19.0/net/eth1' },
    'sys/class/net/bond0': { link: '../../devices/virtual/net/bond0' },
    'sys/class/net/eth1': { link: '../../devices/pci0000:00/0000:00:19.0/net/eth1' },
    // Console on tty0 (no framebuffer driver yet: boot VGA) and on a PCI serial card's ttyS4.
    'sys/class/tty/console/active': 'tty0 ttyS4\n',
    'sys/devices/pci0000:00/0000:00:02.0/boot_vga': '1\n',
    'sys/devices/pci0000:00/0000:05:00.0/boot_vga': '0\n',
    'sys/bus/pci/devices/0000:00:02.0': { link: '../../../devices/pci0000:00/0000:00:02.0' },
    'sys/bus/pci/devices/0000:05:00.0': { link: '../../../devices/pci0000:00/0000:05:00.0' },
    'sys/devices/pci0000:00/0000:00:16.3/tty/ttyS4/x': '',
    'sys/class/tty/ttyS4': { link: '../../devices/pci0000:00/0000:00:16.3/tty/ttyS4' },
    'proc/mounts': 'sysfs /sys sysfs rw 0 0\n/dev/mapper/vg-root / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\n',
    'proc/swaps': 'Filename\tType\tSize\tUsed\tPriority\n/dev/sda3 partition 1000 0 -2\n',
    'proc/net/route': ROUTE_HDR + 'bond0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' + 'eth9\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n',
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('follows dm slaves, bond lower devices, swap, boot VGA and PCI serial consoles', () => {
    const usage = detectDom0Usage(new Sysfs({ root: path.join(root, 'sys') }), new Sysfs({ root: path.join(root, 'proc') }));
    expect(usage).toEqual([
      { bdf: '0000:3a:00.0', kind: 'block', detail: '/dev/mapper/vg-root mounted on /' },
      { bdf: '0000:00:17.0', kind: 'block', detail: '/dev/sda3 is active swap' },
      { bdf: '0000:00:19.0', kind: 'network', detail: 'eth1 (under bond0) carries the default route' },
      { bdf: '0000:00:02.0', kind: 'console', detail: 'tty0 on the boot VGA device' },
      { bdf: '0000:00:16.3', kind: 'console', detail: 'console ttyS4' },
    ]);
  });

  it('answers with nothing rather than failing when /proc is unreadable', () => {
    expect(detectDom0Usage(new Sysfs({ root: path.join(root, 'sys') }), new Sysfs({ root: path.join(root, 'nowhere') }))).toEqual([
      { bdf: '0000:00:02.0', kind: 'console', detail: 'tty0 on the boot VGA device' },
      { bdf: '0000:00:16.3', kind: 'console', detail: 'console ttyS4' },
    ]);
  });
});
