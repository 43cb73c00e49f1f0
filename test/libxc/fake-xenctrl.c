/*
 * A stand-in libxenctrl.so.4.17 (plus the few libxenstore calls xl makes) for machines without
 * Xen. It is compiled against the real Xen 4.17 headers and fills every struct by field name,
 * so whatever the TypeScript bindings decode from it was laid out by the C compiler, not by us.
 *
 * Used two ways by fake-xenctrl.test.ts:
 *  - loaded by @xentool/libxc-bindings through `libraryPath` (it carries the 4.17 soname);
 *  - LD_PRELOADed under Debian's real /usr/lib/xen-4.17/bin/xl, so that `xl info` and
 *    `xl list` print the same canned host and become the byte-exact oracle for xentool.
 *
 * The canned host comes from fixture.h, which the test generates. Every call is appended to a
 * log that the test reads back with fake_calls().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>
#include <xen/version.h>

#include "fixture.h"

struct fake_handle { xentoollog_logger *lg; };

static char calls[65536];
static size_t calls_len;

static void record(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(calls + calls_len, sizeof(calls) - calls_len, fmt, ap);
    va_end(ap);
    if (n > 0 && calls_len + n + 1 < sizeof(calls)) { calls_len += n; calls[calls_len++] = '\n'; calls[calls_len] = 0; }
}

const char *fake_calls(void) { return calls; }
void fake_calls_reset(void) { calls_len = 0; calls[0] = 0; }

/* Fails like libxc: log through the handle's logger (errno kept), set errno, return -1. */
static int fail(xc_interface *xch, int err, const char *what, unsigned domid) {
    struct fake_handle *h = (struct fake_handle *)xch;
    if (h && h->lg) xtl_log(h->lg, XTL_ERROR, err, "xc", "%s failed for domain %u (fake)", what, domid);
    errno = err;
    return -1;
}

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger, unsigned open_flags) {
    (void)dombuild_logger;
    const char *e = getenv("FAKE_XC_OPEN_ERRNO");
    record("xc_interface_open %u", open_flags);
    if (e) {
        int err = atoi(e);
        if (logger) xtl_log(logger, XTL_ERROR, err, "xencall", "Could not obtain handle on privileged command interface");
        errno = err;
        return NULL;
    }
    struct fake_handle *h = calloc(1, sizeof(*h));
    h->lg = logger;
    return (xc_interface *)h;
}

int xc_interface_close(xc_interface *xch) { record("xc_interface_close"); free(xch); return 0; }

const char *xc_strerror(xc_interface *xch, int code) { (void)xch; return strerror(code); }

int xc_physinfo(xc_interface *xch, xc_physinfo_t *info) { (void)xch; *info = FIX_PHYSINFO; return 0; }

int xc_get_max_cpus(xc_interface *xch) { (void)xch; return FIX_PHYSINFO.max_cpu_id + 1; }
int xc_get_cpumap_size(xc_interface *xch) { return (xc_get_max_cpus(xch) + 7) / 8; }

xc_cpumap_t xc_cpupool_freeinfo(xc_interface *xch) {
    int size = xc_get_cpumap_size(xch);
    uint8_t *map = calloc(size, 1);
    for (unsigned i = 0; i < sizeof(FIX_FREE_CPUS) / sizeof(FIX_FREE_CPUS[0]); i++) map[FIX_FREE_CPUS[i] / 8] |= 1u << (FIX_FREE_CPUS[i] % 8);
    return map;
}

int xc_sched_id(xc_interface *xch, int *sched_id) { (void)xch; *sched_id = FIX_SCHED_ID; return 0; }

long xc_sharing_freed_pages(xc_interface *xch) { (void)xch; errno = ENOSYS; return -1; }
long xc_sharing_used_frames(xc_interface *xch) { (void)xch; errno = ENOSYS; return -1; }

int xc_flask_sid_to_context(xc_interface *xch, int sid, char *buf, uint32_t size) {
    (void)xch; (void)sid; (void)buf; (void)size; errno = ENOSYS; return -1;
}

int xc_version(xc_interface *xch, int cmd, void *arg) {
    (void)xch;
    switch (cmd) {
    case XENVER_version: return (FIX_XEN_MAJOR << 16) | FIX_XEN_MINOR;
    case XENVER_extraversion: strncpy(arg, FIX_XEN_EXTRA, sizeof(xen_extraversion_t)); return 0;
    case XENVER_compile_info: {
        xen_compile_info_t *c = arg;
        memset(c, 0, sizeof(*c));
        strncpy(c->compiler, FIX_CC_COMPILER, sizeof(c->compiler) - 1);
        strncpy(c->compile_by, FIX_CC_BY, sizeof(c->compile_by) - 1);
        strncpy(c->compile_domain, FIX_CC_DOMAIN, sizeof(c->compile_domain) - 1);
        strncpy(c->compile_date, FIX_CC_DATE, sizeof(c->compile_date) - 1);
        return 0;
    }
    case XENVER_capabilities: strncpy(arg, FIX_XEN_CAPS, sizeof(xen_capabilities_info_t)); return 0;
    case XENVER_changeset: strncpy(arg, FIX_XEN_CHANGESET, sizeof(xen_changeset_info_t)); return 0;
    case XENVER_platform_parameters: ((xen_platform_parameters_t *)arg)->virt_start = FIX_VIRT_START; return 0;
    case XENVER_pagesize: return 4096;
    case XENVER_commandline: strncpy(arg, FIX_XEN_CMDLINE, sizeof(xen_commandline_t)); return 0;
    case XENVER_build_id: {
        xen_build_id_t *b = arg;
        if (sizeof(FIX_BUILD_ID) > b->len) { errno = ENOBUFS; return -1; }
        memcpy(b->buf, FIX_BUILD_ID, sizeof(FIX_BUILD_ID));
        return sizeof(FIX_BUILD_ID);
    }
    default: return -EINVAL;
    }
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains, xc_domaininfo_t *info) {
    (void)xch;
    unsigned n = 0;
    record("xc_domain_getinfolist %u %u", first_domain, max_domains);
    for (unsigned i = 0; i < sizeof(FIX_DOMAINS) / sizeof(FIX_DOMAINS[0]) && n < max_domains; i++)
        if (FIX_DOMAINS[i].domain >= first_domain) info[n++] = FIX_DOMAINS[i];
    return n;
}

int xc_domain_create(xc_interface *xch, uint32_t *pdomid, struct xen_domctl_createdomain *config) {
    (void)xch;
    record("xc_domain_create %u ssidref=%u flags=%#x iommu_opts=%u max_vcpus=%u max_evtchn_port=%u max_grant_frames=%d "
           "max_maptrack_frames=%d grant_opts=%u vmtrace_size=%u cpupool_id=%u emulation_flags=%#x misc_flags=%#x handle=%02x..%02x",
           *pdomid, config->ssidref, config->flags, config->iommu_opts, config->max_vcpus, config->max_evtchn_port,
           config->max_grant_frames, config->max_maptrack_frames, config->grant_opts, config->vmtrace_size,
           config->cpupool_id, config->arch.emulation_flags, config->arch.misc_flags, config->handle[0], config->handle[15]);
    *pdomid = *pdomid ? *pdomid : 42;
    return 0;
}

#define DOMCTL(name, ...) record(#name " " __VA_ARGS__); if (domid == FIX_MISSING_DOMID) return fail(xch, ESRCH, #name, domid); return 0;

int xc_domain_max_vcpus(xc_interface *xch, uint32_t domid, unsigned int max) { DOMCTL(xc_domain_max_vcpus, "%u %u", domid, max) }
int xc_domain_setmaxmem(xc_interface *xch, uint32_t domid, uint64_t max_memkb) { DOMCTL(xc_domain_setmaxmem, "%u %#" PRIx64, domid, max_memkb) }
int xc_domain_pause(xc_interface *xch, uint32_t domid) { DOMCTL(xc_domain_pause, "%u", domid) }
int xc_domain_unpause(xc_interface *xch, uint32_t domid) { DOMCTL(xc_domain_unpause, "%u", domid) }
int xc_domain_shutdown(xc_interface *xch, uint32_t domid, int reason) { DOMCTL(xc_domain_shutdown, "%u %d", domid, reason) }
int xc_domain_destroy(xc_interface *xch, uint32_t domid) {
    usleep(200 * 1000); /* long enough for the test to see the event loop keep running */
    DOMCTL(xc_domain_destroy, "%u", domid)
}
int xc_assign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf, uint32_t flag) {
    record("xc_assign_device %u %#x %u", domid, machine_sbdf, flag);
    if (machine_sbdf == FIX_BUSY_SBDF) return fail(xch, EBUSY, "xc_assign_device", domid);
    return 0;
}
int xc_test_assign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf) { DOMCTL(xc_test_assign_device, "%u %#x", domid, machine_sbdf) }
int xc_deassign_device(xc_interface *xch, uint32_t domid, uint32_t machine_sbdf) { DOMCTL(xc_deassign_device, "%u %#x", domid, machine_sbdf) }
int xc_domain_irq_permission(xc_interface *xch, uint32_t domid, uint32_t pirq, bool allow_access) { DOMCTL(xc_domain_irq_permission, "%u %u %d", domid, pirq, (int)allow_access) }
int xc_domain_iomem_permission(xc_interface *xch, uint32_t domid, unsigned long first_mfn, unsigned long nr_mfns, uint8_t allow_access) {
    DOMCTL(xc_domain_iomem_permission, "%u %#lx %#lx %u", domid, first_mfn, nr_mfns, allow_access)
}
int xc_domain_ioport_permission(xc_interface *xch, uint32_t domid, uint32_t first_port, uint32_t nr_ports, uint32_t allow_access) {
    DOMCTL(xc_domain_ioport_permission, "%u %#x %u %u", domid, first_port, nr_ports, allow_access)
}
int xc_physdev_map_pirq(xc_interface *xch, uint32_t domid, int index, int *pirq) {
    record("xc_physdev_map_pirq %u %d %d", domid, index, *pirq);
    if (domid == FIX_MISSING_DOMID) return fail(xch, ESRCH, "xc_physdev_map_pirq", domid);
    if (*pirq < 0) *pirq = index;
    return 0;
}
int xc_physdev_unmap_pirq(xc_interface *xch, uint32_t domid, int pirq) { DOMCTL(xc_physdev_unmap_pirq, "%u %d", domid, pirq) }
int xc_domain_bind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq, uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx, uint8_t isa_irq) {
    DOMCTL(xc_domain_bind_pt_irq, "%u %u %u %u %u %u %u", domid, machine_irq, irq_type, bus, device, intx, isa_irq)
}
int xc_domain_unbind_pt_irq(xc_interface *xch, uint32_t domid, uint8_t machine_irq, uint8_t irq_type, uint8_t bus, uint8_t device, uint8_t intx, uint8_t isa_irq) {
    DOMCTL(xc_domain_unbind_pt_irq, "%u %u %u %u %u %u %u", domid, machine_irq, irq_type, bus, device, intx, isa_irq)
}

/*
 * Memory maps. The host map is a server's shape with entries above 4 GiB and one past 2^53
 * (64-bit fields must survive the trip); like Xen, the call refuses a table with no room for
 * one more entry than it has (EINVAL).
 */
static const struct e820entry FAKE_HOST_MAP[] = {
    { 0x0, 0x9fc00, E820_RAM },
    { 0x100000, 0x7fedf000, E820_RAM },
    { 0x7ffdf000, 0x21000, E820_RESERVED },
    { 0x7f000000ULL, 0x10000, E820_ACPI },
    { 0xfec00000, 0x1000, E820_RESERVED },
    { 0x100000000ULL, 0x40000000ULL, E820_RAM },
    { 0x3ff0000000000000ULL, 0x123456789ULL, E820_NVS },
};
int xc_get_machine_memory_map(xc_interface *xch, struct e820entry entries[], uint32_t max_entries) {
    unsigned n = sizeof(FAKE_HOST_MAP) / sizeof(FAKE_HOST_MAP[0]);
    record("xc_get_machine_memory_map %u", max_entries);
    if (max_entries < n + 1) return fail(xch, EINVAL, "xc_get_machine_memory_map", 0);
    memcpy(entries, FAKE_HOST_MAP, sizeof(FAKE_HOST_MAP));
    return (int)n;
}
int xc_domain_set_memory_map(xc_interface *xch, uint32_t domid, struct e820entry entries[], uint32_t nr_entries) {
    record("xc_domain_set_memory_map %u %u", domid, nr_entries);
    for (uint32_t i = 0; i < nr_entries; i++) record("  %#" PRIx64 " %#" PRIx64 " %u", entries[i].addr, entries[i].size, entries[i].type);
    if (domid == FIX_MISSING_DOMID) return fail(xch, ESRCH, "xc_domain_set_memory_map", domid);
    return 0;
}

/* libxenstore, for xl: domain names. */
struct xs_handle *xs_open(unsigned long flags) { (void)flags; return (struct xs_handle *)calloc(1, 16); }
void xs_close(struct xs_handle *h) { free(h); }
void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len) {
    (void)h; (void)t;
    for (unsigned i = 0; i < sizeof(FIX_XS) / sizeof(FIX_XS[0]); i++) {
        if (strcmp(FIX_XS[i][0], path) == 0) {
            if (len) *len = strlen(FIX_XS[i][1]);
            return strdup(FIX_XS[i][1]);
        }
    }
    errno = ENOENT;
    return NULL;
}
