/**
 * The oracle is C: xl 4.17's own format strings (tools/xl/xl_info.c output_nodeinfo,
 * output_physinfo, output_xeninfo) compiled with gcc and fed the same values.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostInfo } from '../host/host';
import { formatXlInfo } from './xl-info';

function runC(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'xl-info-'));
  try {
    writeFileSync(join(dir, 'p.c'), `#include <stdio.h>\n#include <stdint.h>\n#include <inttypes.h>\nint main(void) {\n${body}\nreturn 0;\n}\n`);
    execFileSync('gcc', ['-O0', '-o', join(dir, 'p'), join(dir, 'p.c')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'p'), { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const info: HostInfo = {
  hostname: 'dom0',
  release: '6.1.0-27-amd64',
  kernelVersion: '#1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)',
  machine: 'x86_64',
  nrCpus: 8,
  maxCpuId: 15,
  nrNodes: 1,
  coresPerSocket: 4,
  threadsPerCore: 2,
  cpuKhz: 2_893_004,
  hwCaps: [0xbfebfbff, 0x77fafbff, 0x2c100800, 0x00000121, 0x0000000f, 0x029c6fbf, 0, 0x00000100],
  caps: { pv: true, hvm: true, directio: true, hap: true, shadow: true, iommuHapPtShare: false, vmtrace: false, vpmu: false, gnttabV1: true, gnttabV2: false },
  totalPages: 4_194_166,
  freePages: 3_000_123,
  outstandingPages: 1_000,
  sharingFreedPages: 0,
  sharingUsedFrames: 0,
  freeCpus: 0,
  xenMajor: 4,
  xenMinor: 17,
  xenExtra: '.5',
  xenCaps: 'xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64',
  xenScheduler: 'credit2',
  xenPagesize: 4096,
  virtStart: 0xffff800000000000n,
  xenChangeset: '',
  xenCommandline: 'placeholder dom0_mem=4096M,max:4096M iommu=1',
  ccCompiler: 'x86_64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0',
  ccCompileBy: 'pkg-xen-devel',
  ccCompileDomain: 'lists.alioth.debian.org',
  ccCompileDate: 'Fri Oct 11 10:51:00 UTC 2024',
  buildId: '8b2a4f1c0e7d',
};

function cProgram(i: HostInfo): string {
  const s = (v: string) => JSON.stringify(v);
  const c = i.caps;
  return `
  unsigned int pg = ${i.xenPagesize}, per = (1 << 20) / pg;
  uint64_t total = ${i.totalPages}ULL, freep = ${i.freePages}ULL, outst = ${i.outstandingPages}ULL;
  printf("host                   : %s\\n", ${s(i.hostname)});
  printf("release                : %s\\n", ${s(i.release)});
  printf("version                : %s\\n", ${s(i.kernelVersion)});
  printf("machine                : %s\\n", ${s(i.machine)});
  printf("nr_cpus                : %d\\n", ${i.nrCpus});
  printf("max_cpu_id             : %d\\n", ${i.maxCpuId});
  printf("nr_nodes               : %d\\n", ${i.nrNodes});
  printf("cores_per_socket       : %d\\n", ${i.coresPerSocket});
  printf("threads_per_core       : %d\\n", ${i.threadsPerCore});
  printf("cpu_mhz                : %d.%03d\\n", ${i.cpuKhz}u / 1000, ${i.cpuKhz}u % 1000);
  printf("hw_caps                : %08x:%08x:%08x:%08x:%08x:%08x:%08x:%08x\\n", ${i.hwCaps.map((v) => `${v}u`).join(', ')});
  printf("virt_caps              :%s%s%s%s%s%s%s%s%s%s%s\\n",
    ${+c.pv} ? " pv" : "", ${+c.hvm} ? " hvm" : "", ${+c.hvm} && ${+c.directio} ? " hvm_directio" : "",
    ${+c.pv} && ${+c.directio} ? " pv_directio" : "", ${+c.hap} ? " hap" : "", ${+c.shadow} ? " shadow" : "",
    ${+c.iommuHapPtShare} ? " iommu_hap_pt_share" : "", ${+c.vmtrace} ? " vmtrace" : "", ${+c.vpmu} ? " vpmu" : "",
    ${+c.gnttabV1} ? " gnttab-v1" : "", ${+c.gnttabV2} ? " gnttab-v2" : "");
  printf("total_memory           : %"PRIu64"\\n", total / per);
  printf("free_memory            : %"PRIu64"\\n", (freep - outst) / per);
  printf("sharing_freed_memory   : %"PRIu64"\\n", (uint64_t)${i.sharingFreedPages} / per);
  printf("sharing_used_memory    : %"PRIu64"\\n", (uint64_t)${i.sharingUsedFrames} / per);
  printf("outstanding_claims     : %"PRIu64"\\n", outst / per);
  ${i.freeCpus === undefined ? '' : `printf("free_cpus              : %d\\n", ${i.freeCpus});`}
  printf("xen_major              : %d\\n", ${i.xenMajor});
  printf("xen_minor              : %d\\n", ${i.xenMinor});
  printf("xen_extra              : %s\\n", ${s(i.xenExtra)});
  printf("xen_version            : %d.%d%s\\n", ${i.xenMajor}, ${i.xenMinor}, ${s(i.xenExtra)});
  printf("xen_caps               : %s\\n", ${s(i.xenCaps)});
  printf("xen_scheduler          : %s\\n", ${i.xenScheduler === undefined ? '(char *)0' : s(i.xenScheduler)});
  printf("xen_pagesize           : %u\\n", pg);
  printf("platform_params        : virt_start=0x%"PRIx64"\\n", (uint64_t)${i.virtStart}ULL);
  printf("xen_changeset          : %s\\n", ${s(i.xenChangeset)});
  printf("xen_commandline        : %s\\n", ${s(i.xenCommandline)});
  printf("cc_compiler            : %s\\n", ${s(i.ccCompiler)});
  printf("cc_compile_by          : %s\\n", ${s(i.ccCompileBy)});
  printf("cc_compile_domain      : %s\\n", ${s(i.ccCompileDomain)});
  printf("cc_compile_date        : %s\\n", ${s(i.ccCompileDate)});
  printf("build_id               : %s\\n", ${s(i.buildId)});
  printf("xend_config_format     : 4\\n");`;
}

describe('xl info', () => {
  it('matches xl 4.17 printf output byte for byte', () => {
    expect(formatXlInfo(info)).toBe(runC(cProgram(info)));
  });

  it('matches with no capabilities, no free_cpus line, an unknown scheduler and claims above free memory', () => {
    const odd: HostInfo = {
      ...info,
      caps: { pv: false, hvm: false, directio: true, hap: false, shadow: false, iommuHapPtShare: true, vmtrace: true, vpmu: true, gnttabV1: false, gnttabV2: true },
      freeCpus: undefined,
      xenScheduler: undefined,
      freePages: 10,
      outstandingPages: 300,
      cpuKhz: 1_000_007,
    };
    const text = formatXlInfo(odd);
    expect(text).toBe(runC(cProgram(odd)));
    expect(text).not.toMatch(/free_cpus/);
    expect(text).toContain('virt_caps              : iommu_hap_pt_share vmtrace vpmu gnttab-v2\n');
    expect(text).toContain('xen_scheduler          : (null)\n');
  });

  it('selects by name prefix and prints values only, as `xl info <name>`', () => {
    expect(formatXlInfo(info, 'nr_cpus')).toBe('8\n');
    expect(formatXlInfo(info, 'xen_c')).toBe(`${info.xenCaps}\n\n${info.xenCommandline}\n`);
    expect(formatXlInfo(info, 'virt_caps')).toBe('pv hvm hvm_directio pv_directio hap shadow gnttab-v1\n');
    expect(formatXlInfo(info, 'free_memory')).toBe('11715\n'); // (3000123 - 1000) / 256
    expect(formatXlInfo(info, 'no_such_field')).toBe('');
    const none = { ...info, caps: { ...info.caps, pv: false, hvm: false, hap: false, shadow: false, gnttabV1: false } };
    // "virt_caps              :\n": no space after the colon, so xl prints nothing for it.
    expect(formatXlInfo(none, 'virt_caps')).toBe('');
  });
});
