/**
 * `xl info` text, byte-exact with xl 4.17 (tools/xl/xl_info.c: output_nodeinfo,
 * output_physinfo, output_xeninfo, then `xend_config_format`). Pure: HostInfo in, bytes out.
 */
import type { HostInfo } from '../host/host';

const hex8 = (v: number) => (v >>> 0).toString(16).padStart(8, '0');

/** `%-23s: %s` as xl's format strings spell it (the names are padded to 23 columns). */
const line = (name: string, value: string) => `${name.padEnd(23)}: ${value}\n`;

/** The lines of `xl info` (without `-n`), in xl's order. */
export function xlInfoLines(info: HostInfo): string[] {
  const out: string[] = [];
  out.push(line('host', info.hostname));
  out.push(line('release', info.release));
  out.push(line('version', info.kernelVersion));
  out.push(line('machine', info.machine));

  out.push(line('nr_cpus', String(info.nrCpus)));
  out.push(line('max_cpu_id', String(info.maxCpuId)));
  out.push(line('nr_nodes', String(info.nrNodes)));
  out.push(line('cores_per_socket', String(info.coresPerSocket)));
  out.push(line('threads_per_core', String(info.threadsPerCore)));
  out.push(line('cpu_mhz', `${Math.trunc(info.cpuKhz / 1000)}.${String(info.cpuKhz % 1000).padStart(3, '0')}`));
  out.push(line('hw_caps', Array.from({ length: 8 }, (_, i) => hex8(info.hwCaps[i] ?? 0)).join(':')));
  // xl glues each capability on with a leading space right after the colon ("virt_caps
  // :%s%s..."), so the line has no space after ':' when no capability is set. hvm_directio
  // and pv_directio are both derived from the one directio bit.
  const c = info.caps;
  const caps = [
    c.pv ? ' pv' : '',
    c.hvm ? ' hvm' : '',
    c.hvm && c.directio ? ' hvm_directio' : '',
    c.pv && c.directio ? ' pv_directio' : '',
    c.hap ? ' hap' : '',
    c.shadow ? ' shadow' : '',
    c.iommuHapPtShare ? ' iommu_hap_pt_share' : '',
    c.vmtrace ? ' vmtrace' : '',
    c.vpmu ? ' vpmu' : '',
    c.gnttabV1 ? ' gnttab-v1' : '',
    c.gnttabV2 ? ' gnttab-v2' : '',
  ].join('');
  out.push(`${'virt_caps'.padEnd(23)}:${caps}\n`);

  // MiB = pages / ((1 << 20) / pagesize), in uint64 arithmetic as xl does (free − outstanding
  // wraps rather than going negative).
  const perMiB = BigInt(Math.trunc((1 << 20) / info.xenPagesize));
  const mib = (pages: bigint) => String(BigInt.asUintN(64, pages) / perMiB);
  out.push(line('total_memory', mib(BigInt(info.totalPages))));
  out.push(line('free_memory', mib(BigInt(info.freePages) - BigInt(info.outstandingPages))));
  out.push(line('sharing_freed_memory', mib(BigInt(info.sharingFreedPages))));
  out.push(line('sharing_used_memory', mib(BigInt(info.sharingUsedFrames))));
  out.push(line('outstanding_claims', mib(BigInt(info.outstandingPages))));
  if (info.freeCpus !== undefined) out.push(line('free_cpus', String(info.freeCpus)));

  out.push(line('xen_major', String(info.xenMajor)));
  out.push(line('xen_minor', String(info.xenMinor)));
  out.push(line('xen_extra', info.xenExtra));
  out.push(line('xen_version', `${info.xenMajor}.${info.xenMinor}${info.xenExtra}`));
  out.push(line('xen_caps', info.xenCaps));
  // glibc prints a NULL %s as "(null)": what xl shows for a scheduler libxl cannot name.
  out.push(line('xen_scheduler', info.xenScheduler ?? '(null)'));
  out.push(line('xen_pagesize', String(info.xenPagesize)));
  out.push(line('platform_params', `virt_start=0x${info.virtStart.toString(16)}`));
  out.push(line('xen_changeset', info.xenChangeset));
  out.push(line('xen_commandline', info.xenCommandline));
  out.push(line('cc_compiler', info.ccCompiler));
  out.push(line('cc_compile_by', info.ccCompileBy));
  out.push(line('cc_compile_domain', info.ccCompileDomain));
  out.push(line('cc_compile_date', info.ccCompileDate));
  out.push(line('build_id', info.buildId));
  out.push(line('xend_config_format', '4'));
  return out;
}

/**
 * `xl info [name]`. With a name, xl's maybe_printf keeps every line whose text *starts with*
 * the name (a prefix, so `xen_c` matches xen_caps, xen_changeset and xen_commandline) and
 * whose first ':' is followed by a space, and prints only what follows ": ".
 */
export function formatXlInfo(info: HostInfo, name?: string): string {
  const lines = xlInfoLines(info);
  if (name === undefined) return lines.join('');
  let out = '';
  for (const l of lines) {
    if (!l.startsWith(name)) continue;
    const colon = l.indexOf(':');
    if (colon >= 0 && l[colon + 1] === ' ') out += l.slice(colon + 2);
  }
  return out;
}
