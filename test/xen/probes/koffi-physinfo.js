'use strict';
// Runs in dom0 with the host's node, from the read-only project share: proves that koffi's native
// binary loads there, that libxenctrl.so.4.17 resolves in dom0's library layout, and that
// xc_interface_open + xc_physinfo work. Prints the same JSON shape as physinfo.c, the C reference.
// Usage: node koffi-physinfo.js PROJECT_DIR
const path = require('path');

const project = process.argv[2] || path.resolve(__dirname, '../../..');
const koffi = require(path.join(project, 'node_modules', 'koffi'));

const lib = koffi.load('libxenctrl.so.4.17');
const xc_interface = koffi.opaque('xc_interface');
// xen/sysctl.h, struct xen_sysctl_physinfo (typedef'd as xc_physinfo_t in xenctrl.h)
const xc_physinfo_t = koffi.struct('xc_physinfo_t', {
  threads_per_core: 'uint32_t',
  cores_per_socket: 'uint32_t',
  nr_cpus: 'uint32_t',
  max_cpu_id: 'uint32_t',
  nr_nodes: 'uint32_t',
  max_node_id: 'uint32_t',
  cpu_khz: 'uint32_t',
  capabilities: 'uint32_t',
  arch_capabilities: 'uint32_t',
  pad: 'uint32_t',
  total_pages: 'uint64_t',
  free_pages: 'uint64_t',
  scrub_pages: 'uint64_t',
  outstanding_pages: 'uint64_t',
  max_mfn: 'uint64_t',
  hw_cap: koffi.array('uint32_t', 8),
});
// xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger, unsigned open_flags);
const xc_interface_open = lib.func('xc_interface *xc_interface_open(void *logger, void *dombuild_logger, unsigned int open_flags)');
// int xc_physinfo(xc_interface *xch, xc_physinfo_t *info);
const xc_physinfo = lib.func('int xc_physinfo(xc_interface *xch, _Out_ xc_physinfo_t *info)');
// int xc_interface_close(xc_interface *xch);
const xc_interface_close = lib.func('int xc_interface_close(xc_interface *xch)');

const xch = xc_interface_open(null, null, 0);
if (!xch) {
  process.stderr.write(`xc_interface_open failed: errno ${koffi.errno()}\n`);
  process.exit(2);
}
const info = {};
let rc;
try {
  rc = xc_physinfo(xch, info);
} finally {
  xc_interface_close(xch);
}
process.stdout.write(
  JSON.stringify({
    sizeof: koffi.sizeof(xc_physinfo_t),
    offset_total_pages: koffi.offsetof(xc_physinfo_t, 'total_pages'),
    offset_hw_cap: koffi.offsetof(xc_physinfo_t, 'hw_cap'),
    rc,
    nr_cpus: info.nr_cpus,
    threads_per_core: info.threads_per_core,
    cores_per_socket: info.cores_per_socket,
    nr_nodes: info.nr_nodes,
    cpu_khz: info.cpu_khz,
    capabilities: info.capabilities,
    total_pages: Number(info.total_pages),
    max_mfn: Number(info.max_mfn),
  }) + '\n',
);
process.exit(rc === 0 ? 0 : 1);
