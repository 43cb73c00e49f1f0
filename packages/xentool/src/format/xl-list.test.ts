/**
 * The oracle is C: the rows are printed by gcc-compiled code using xl 4.17's own format string
 * and arithmetic (list_domains in tools/xl/xl_info.c), including the `(float)` cast of the cpu
 * time, and compared byte for byte.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainRecord } from '../host/host';
import { XL_LIST_HEADER, formatXlList, formatXlListJson, printfFixed, u64ToFloat32, xlStateString } from './xl-list';

function runC(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xl-list-'));
  try {
    writeFileSync(join(dir, 'p.c'), `#include <stdio.h>\n#include <stdint.h>\n#include <inttypes.h>\nint main(void) {\n${body}\nreturn 0;\n}\n`);
    execFileSync('gcc', ['-O0', '-o', join(dir, 'p'), join(dir, 'p.c')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'p'), { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base: DomainRecord = {
  domid: 0,
  name: 'Domain-0',
  uuid: '00000000-0000-0000-0000-000000000000',
  memKiB: 0,
  maxMemKiB: 0,
  vcpus: 1,
  maxVcpus: 1,
  cpuTimeNs: 0n,
  hvm: false,
  dying: false,
  shutdown: false,
  paused: false,
  blocked: false,
  running: false,
};

const REASONS = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 } as const;

const domains: DomainRecord[] = [
  { ...base, memKiB: 4_193_280, vcpus: 8, running: true, cpuTimeNs: 1_234_567_890_123n },
  { ...base, domid: 3, name: 'guest-hvm', memKiB: 1_047_552, outstandingMemKiB: 2048, blocked: true, cpuTimeNs: 250_000_000n },
  { ...base, domid: 17, name: 'a-name-that-is-longer-than-forty-characters-long', paused: true, cpuTimeNs: 50_000_000n },
  { ...base, domid: 18, name: undefined, shutdown: true, shutdownReason: 'poweroff', cpuTimeNs: 150_000_000n },
  { ...base, domid: 19, name: 'crashed', shutdown: true, shutdownReason: 'crash', dying: true, cpuTimeNs: (1n << 60n) + 12345n },
  { ...base, domid: 20, name: 'odd-reason', shutdown: true, shutdownReason: 7, cpuTimeNs: 9_007_199_254_740_993n },
  { ...base, domid: 32751, name: 'w', shutdown: true, shutdownReason: 'watchdog', vcpus: 128, memKiB: 1023, cpuTimeNs: 999_950_000n },
  { ...base, domid: 21, name: 'soft', shutdown: true, shutdownReason: 'soft_reset', running: true, blocked: true, cpuTimeNs: 16_777_217_000_000_000n },
  { ...base, domid: 22, name: 'not-shut-down-but-reason-set', shutdownReason: 'reboot', cpuTimeNs: 123_456_789n },
];

function cRow(d: DomainRecord): string {
  const reason = d.shutdown ? (typeof d.shutdownReason === 'number' ? d.shutdownReason : REASONS[d.shutdownReason ?? 'poweroff']) : 0;
  const name = d.name === undefined ? 'NULL' : JSON.stringify(d.name);
  return `{ const char *name = ${name}; int reason = ${reason};
  printf("%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f\\n", name, ${d.domid},
    (unsigned long)((${d.memKiB}ULL + ${d.outstandingMemKiB ?? 0}ULL) / 1024), ${d.vcpus},
    ${d.running ? 1 : 0} ? 'r' : '-', ${d.blocked ? 1 : 0} ? 'b' : '-', ${d.paused ? 1 : 0} ? 'p' : '-',
    ${d.shutdown ? 1 : 0} ? 's' : '-',
    (reason >= 0 && reason < sizeof(letters) - 1 ? letters[reason] : '?'),
    ${d.dying ? 1 : 0} ? 'd' : '-', ((float)${d.cpuTimeNs}ULL / 1e9)); }`;
}

describe('xl list', () => {
  it('matches xl 4.17 printf output byte for byte', () => {
    const c = runC(
      `static const char letters[] = "-rscwS";\nprintf("Name                                        ID   Mem VCPUs\\tState\\tTime(s)\\n");\n` +
        domains.map(cRow).join('\n'),
    );
    expect(formatXlList(domains)).toBe(c);
  });

  it('has xl header', () => {
    expect(formatXlList([])).toBe(XL_LIST_HEADER);
    expect(XL_LIST_HEADER).toBe('Name                                        ID   Mem VCPUs\tState\tTime(s)\n');
  });

  it('shows a poweroff shutdown as "s-" and a crash as "sc"', () => {
    expect(xlStateString({ ...base, shutdown: true, shutdownReason: 'poweroff' })).toBe('---s--');
    expect(xlStateString({ ...base, shutdown: true, shutdownReason: 'crash', dying: true })).toBe('---scd');
    expect(xlStateString({ ...base, running: true, paused: true })).toBe('r-p---');
  });
});

describe('printf helpers', () => {
  it('rounds ties to even like glibc %.1f, unlike toFixed', () => {
    const xs = [0.25, 0.75, 1.25, 2.5, 0.05, 0.15, 1e-300, 123456789.25, 2 ** 70, 0, 999.95];
    const c = runC(xs.map((x) => `printf("%.1f|%.0f\\n", ${x.toPrecision(17)}, ${x.toPrecision(17)});`).join('\n'));
    expect(xs.map((x) => `${printfFixed(x, 1)}|${printfFixed(x, 0)}\n`).join('')).toBe(c);
    expect((0.25).toFixed(1)).toBe('0.3');
    expect(printfFixed(0.25, 1)).toBe('0.2');
  });

  it('converts uint64 to float with one rounding, as the C cast does', () => {
    const vs = [0n, 1n, 16_777_217n, (1n << 53n) + 1n, (1n << 60n) + (1n << 36n), (1n << 60n) + (1n << 36n) + 1n, (1n << 64n) - 1n];
    const c = runC(vs.map((v) => `printf("%.1f\\n", (double)(float)${v}ULL);`).join('\n'));
    expect(vs.map((v) => `${printfFixed(u64ToFloat32(v), 1)}\n`).join('')).toBe(c);
  });
});

describe('xl list --json', () => {
  it('prints the explicit contract objects with 4-space indentation and exact cpu_time', () => {
    const text = formatXlListJson([domains[0]!, domains[4]!]);
    expect(text.endsWith(']\n')).toBe(true);
    expect(text).toContain('\n    {\n        "domid": 0,\n        "name": "Domain-0",');
    expect(text).toContain(`"cpu_time": ${(1n << 60n) + 12345n}\n`);
    const parsed = JSON.parse(text) as Record<string, unknown>[];
    expect(parsed[1]).toEqual({
      domid: 19,
      name: 'crashed',
      uuid: '00000000-0000-0000-0000-000000000000',
      domain_type: 'pv',
      state: '---scd',
      running: false,
      blocked: false,
      paused: false,
      shutdown: true,
      dying: true,
      shutdown_reason: 'crash',
      current_memkb: 0,
      outstanding_memkb: 0,
      max_memkb: 0,
      vcpu_online: 1,
      vcpu_max: 1,
      cpu_time: Number((1n << 60n) + 12345n),
    });
    expect(parsed[0]).toMatchObject({ domid: 0, state: 'r-----', shutdown_reason: null, current_memkb: 4_193_280 });
  });
});
