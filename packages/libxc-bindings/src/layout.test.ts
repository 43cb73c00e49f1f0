/**
 * Layout proof: a C program compiled against the installed Xen 4.17 headers (Debian
 * libxen-dev) prints sizeof/alignof/offsetof of every struct the binding declares; each must
 * equal koffi's layout. A field added to a koffi struct is checked automatically, because the
 * C program is generated from the koffi declarations.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeLayouts } from './native';
import { describeXenguestLayouts } from './native-xenguest';

type Layout = ReturnType<typeof describeLayouts>;

function cLayouts(layouts: Layout): Layout {
  const lines: string[] = [];
  for (const [key, l] of Object.entries(layouts)) {
    lines.push(`  printf("S %s %zu %zu\\n", ${JSON.stringify(key)}, sizeof(${l.cName}), _Alignof(${l.cName}));`);
    for (const m of Object.keys(l.offsets)) {
      lines.push(`  printf("F %s %s %zu\\n", ${JSON.stringify(key)}, ${JSON.stringify(m)}, offsetof(${l.cName}, ${m}));`);
    }
  }
  const src = `#include <stddef.h>
#include <stdio.h>
#include <xenctrl.h>
#include <xentoollog.h>
#include <xenguest.h>
#include <xen/version.h>
#include <xen/hvm/hvm_info_table.h>
int main(void) {
${lines.join('\n')}
  return 0;
}
`;
  const dir = mkdtempSync(join(tmpdir(), 'xc-layout-'));
  try {
    writeFileSync(join(dir, 'layout.c'), src);
    execFileSync('gcc', ['-std=gnu11', '-Wall', '-Werror', '-o', join(dir, 'layout'), join(dir, 'layout.c')], { stdio: 'pipe' });
    const out = execFileSync(join(dir, 'layout'), { encoding: 'utf8' });
    const res: Layout = {};
    for (const line of out.trim().split('\n')) {
      const [kind, key, a, b] = line.split(' ') as [string, string, string, string];
      if (kind === 'S') res[key] = { cName: layouts[key]!.cName, size: Number(a), align: Number(b), offsets: {} };
      else res[key]!.offsets[a] = Number(b);
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('struct layouts against the installed headers', () => {
  const ours = { ...describeLayouts(), ...describeXenguestLayouts() };
  const c = cLayouts(ours);

  it('declares the structs the calls need', () => {
    expect(Object.keys(ours).sort()).toEqual(
      [
        'xc_domaininfo_t',
        'xc_physinfo_t',
        'xen_arch_domainconfig',
        'xen_compile_info_t',
        'xen_domctl_createdomain',
        'xen_platform_parameters_t',
        'xentoollog_logger',
        'xc_dom_seg',
        'xc_dom_module',
        'xc_hvm_firmware_module',
        'xc_dom_image',
        'e820entry',
        'hvm_info_table',
      ].sort(),
    );
  });

  it.each(Object.keys(ours))('%s: size, alignment and every offset match C', (key) => {
    expect(ours[key]).toEqual(c[key]);
  });

  it('matches the reference numbers (xen-interfaces.md §1.3-1.5)', () => {
    expect(c.xc_domaininfo_t!.size).toBe(112);
    expect(c.xc_domaininfo_t!.offsets.handle).toBe(76);
    expect(c.xc_domaininfo_t!.offsets.arch_config).toBe(104);
    expect(c.xc_physinfo_t!.size).toBe(112);
    expect(c.xen_domctl_createdomain!.size).toBe(64);
  });

  it('matches the reference numbers for struct xc_dom_image (domain-build.md §2.1)', () => {
    const d = c.xc_dom_image!;
    expect(d.size).toBe(1952);
    expect(d.offsets.console_pfn).toBe(384);
    expect(d.offsets.xenstore_pfn).toBe(392);
    expect(d.offsets.pv_p2m).toBe(480);
    expect(d.offsets.total_pages).toBe(504);
    expect(d.offsets.flags).toBe(560);
    expect(d.offsets.console_evtchn).toBe(568);
    expect(d.offsets.xch).toBe(592);
    expect(d.offsets.xen_caps).toBe(612);
    expect(d.offsets.container_type).toBe(1712);
    expect(d.offsets.max_vcpus).toBe(1944);
    expect(c.xc_dom_module!.size).toBe(56);
    expect(c.e820entry!.size).toBe(20);
    expect(c.hvm_info_table!.size).toBe(48);
  });
});
