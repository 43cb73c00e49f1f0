import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildConfigSpace, parseConfigSpace, ACS_REQUIRED } from './config-space';
import { readInventory } from './inventory';
import { seedTopology, TopologyBuilder } from './topology';

const haveLspci = (() => {
  try {
    execFileSync('lspci', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

/** Config bytes in the `lspci -xxxx` dump format, which `lspci -F` reads back. */
function dump(devs: Array<{ bdf: string; bytes: Buffer }>): string {
  let out = '';
  for (const d of devs) {
    out += `${d.bdf.slice(5)} device\n`;
    for (let o = 0; o < d.bytes.length; o += 16)
      out += `${o.toString(16).padStart(o >= 256 ? 3 : 2, '0')}: ${[...d.bytes.subarray(o, o + 16)].map((x) => x.toString(16).padStart(2, '0')).join(' ')}\n`;
    out += '\n';
  }
  return out;
}

describe('built config space, decoded by the real lspci (-F dump file)', () => {
  const sim = new TopologyBuilder()
    .pciePort('00:01.0', { vendorId: 0x8086, deviceId: 0x1901, secondaryBus: 1 })
    .pciePort('01:00.0', { parent: '00:01.0', vendorId: 0x10b5, deviceId: 0x8747, secondaryBus: 2, portType: 5 })
    .pciePort('02:08.0', { parent: '01:00.0', vendorId: 0x10b5, deviceId: 0x8747, secondaryBus: 3, portType: 6, acs: ACS_REQUIRED })
    .pcieEndpoint('03:00.0', { parent: '02:08.0', vendorId: 0x8086, deviceId: 0x10fb, classCode: 0x020000, flr: true, msix: 64, driver: 'ixgbe',
      bars: [{ kind: 'mem', size: 0x80000, is64: true, prefetchable: true }, { kind: 'io', size: 0x20 }, { kind: 'mem', size: 0x4000, is64: true, prefetchable: true }] })
    .build();
  const seed = seedTopology();
  const all = [...readInventory(seed).map((d) => ({ d, fs: seed })), ...readInventory(sim).map((d) => ({ d, fs: sim }))].filter(
    (x) => x.d.kind !== 'host-bridge' && x.d.bdf !== '0000:00:1f.0',
  );

  (haveLspci ? it : it.skip)('lspci sees the capabilities, port types, FLR, MSI-X size, ACS and BAR addresses we built', () => {
    for (const { d, fs: sys } of all) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lspci-F-'));
      try {
        const file = path.join(dir, 'dump');
        fs.writeFileSync(file, dump([{ bdf: d.bdf, bytes: sys.readFile(`/bus/pci/devices/${d.bdf}/config`) }]));
        const text = execFileSync('lspci', ['-F', file, '-vvv'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        const where = `${d.bdf}:\n${text}`;
        if (d.pcie) {
          const names: Record<string, string> = {
            endpoint: 'Endpoint',
            'root-port': 'Root Port',
            'upstream-port': 'Upstream Port',
            'downstream-port': 'Downstream Port',
            'pcie-to-pci-bridge': 'PCI-Express to PCI/PCI-X Bridge',
          };
          expect([where, text.includes(`Express (v2) ${names[d.pcie.portTypeName]}`)]).toEqual([where, true]);
          expect([where, /DevCap:[^]*?FLReset\+/.test(text)]).toEqual([where, d.pcie.flr]);
        } else {
          expect([where, /Capabilities: \[[0-9a-f]+\] Express/.test(text)]).toEqual([where, false]);
        }
        expect([where, /MSI-X: Enable- Count=(\d+)/.exec(text)?.[1]]).toEqual([where, d.msix ? String(d.msix.tableSize) : undefined]);
        expect([where, /NoSoftRst\+/.test(text)]).toEqual([where, d.pm?.noSoftReset ?? false]);
        expect([where, text.includes('Access Control Services')]).toEqual([where, d.acs !== null]);
        if (d.acs) expect(text).toMatch(/ACSCtl:\s+SrcValid\+ TransBlk- ReqRedir\+ CmpltRedir\+ UpstreamFwd\+/);
        // Every BAR register holds the address sysfs `resource` reports.
        for (const b of d.bars.filter((x) => x.kind !== 'rom')) {
          const addr = b.start.toString(16);
          const re = b.kind === 'io' ? new RegExp(`Region ${b.index}: I/O ports at ${addr}\\b`) : new RegExp(`Region ${b.index}: Memory at ${addr} \\(${b.is64 ? '64' : '32'}-bit, ${b.prefetchable ? 'prefetchable' : 'non-prefetchable'}\\)`);
          expect([where, re.test(text)]).toEqual([where, true]);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

describe('parseConfigSpace', () => {
  it('stops on a capability list that loops, and reads only 64 bytes as incomplete', () => {
    const b = buildConfigSpace({ vendorId: 0x1234, deviceId: 0x5678, classCode: 0x020000, caps: [{ id: 'pm' }, { id: 'msi' }] });
    b[0x41] = 0x40; // PM's next pointer back to itself
    const p = parseConfigSpace(b);
    expect(p.capabilities).toEqual([{ id: 0x01, offset: 0x40 }]);
    expect(parseConfigSpace(b.subarray(0, 64))).toMatchObject({ vendorId: 0x1234, complete: false, capabilities: [] });
  });

  it('decodes AF FLR and 64-bit multi-vector MSI', () => {
    const p = parseConfigSpace(buildConfigSpace({ vendorId: 1, deviceId: 2, classCode: 0x0c0300, caps: [{ id: 'af', flr: true }, { id: 'msi', maxVectors: 8 }] }));
    expect(p.af).toEqual({ offset: 0x40, flr: true, transactionsPending: true });
    expect(p.msi).toMatchObject({ is64: true, maxVectors: 8, enabled: false });
  });
});
