/*
 * Oracle for the differential tests: feeds inputs to the real libxlutil 4.17 and prints what it
 * stored, one JSON object per input line.
 *
 *   probe cfg|spec|bdf|xlpci < records
 *
 * xlpci parses a config and then reads its PCI devices exactly as xl_parse.c (4.17) does: the
 * global pci_* keys and rdm= policy as defaults, then xlu_pci_parse_spec_string per list item,
 * stopping at the first item that is not a string. It also prints the PV e820_host that follows
 * (xl_parse.c reads the key, then forces it on when pci= lists devices; libxl's setdefault
 * makes an unset one false), or null when xl would have exited on a bad device.
 *
 * A record is "<decimal length>\n<length bytes>", so inputs may hold newlines and any byte.
 * Bytes >= 0x80 are printed as \u00XX (Latin-1), which the tests undo.
 *
 * libxlutil has no public way to list the settings of a parsed file, so the struct layouts of
 * libxlu_internal.h (4.17) are repeated here. They are stable across the 4.x series.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxlutil.h>

typedef struct {
    int first_line, first_column, last_line, last_column;
} probe_loc;

struct XLU_ConfigList {
    int avalues;
    int nvalues;
    XLU_ConfigValue **values;
};

struct XLU_ConfigValue {
    enum XLU_ConfigValueType type;
    union {
        char *string;
        XLU_ConfigList list;
    } u;
    probe_loc loc;
};

typedef struct probe_setting {
    struct probe_setting *next;
    char *name;
    XLU_ConfigValue *value;
    enum XLU_Operation op;
    int lineno;
} probe_setting;

struct XLU_Config {
    probe_setting *settings;
    FILE *report;
    char *config_source;
};

static void put_str(const char *s, size_t n)
{
    size_t i;
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void put_cstr(const char *s)
{
    if (!s) { fputs("null", stdout); return; }
    put_str(s, strlen(s));
}

static void put_value(const XLU_ConfigValue *v)
{
    int i;
    if (v->type == XLU_STRING) { put_cstr(v->u.string); return; }
    putchar('[');
    for (i = 0; i < v->u.list.nvalues; i++) {
        if (i) putchar(',');
        put_value(v->u.list.values[i]);
    }
    putchar(']');
}

/* The settings list is newest-first; print it in file order. */
static void put_settings(const probe_setting *s, int *first)
{
    if (!s) return;
    put_settings(s->next, first);
    if (!*first) putchar(',');
    *first = 0;
    fputs("{\"name\":", stdout);
    put_cstr(s->name);
    printf(",\"op\":\"%s\",\"line\":%d,\"value\":",
           s->op == XLU_OP_ADDITION ? "+=" : "=", s->lineno);
    put_value(s->value);
    putchar('}');
}

static void put_pci(const libxl_device_pci *p)
{
    const char *pol = libxl_rdm_reserve_policy_to_string(p->rdm_policy);
    printf("{\"domain\":%d,\"bus\":%u,\"dev\":%u,\"func\":%u,\"vdevfn\":%u,"
           "\"vfunc_mask\":%u,\"msitranslate\":%s,\"power_mgmt\":%s,"
           "\"permissive\":%s,\"seize\":%s,\"rdm_policy\":",
           p->domain, p->bus, p->dev, p->func, p->vdevfn, p->vfunc_mask,
           p->msitranslate ? "true" : "false", p->power_mgmt ? "true" : "false",
           p->permissive ? "true" : "false", p->seize ? "true" : "false");
    put_cstr(pol ? pol : "?");
    fputs(",\"name\":", stdout);
    put_cstr(p->name);
    putchar('}');
}

/* xl_parse.c parse_config_data, the pci part. Returns the number of devices, -1 if xl exits. */
static int put_xl_pcis(XLU_Config *cfg)
{
    long l;
    int msi = 0, pm = 0, perm = 0, seize = 0, i, e;
    libxl_rdm_reserve_policy policy = LIBXL_RDM_RESERVE_POLICY_INVALID;
    const char *buf;
    XLU_ConfigList *pcis;

    if (!xlu_cfg_get_long(cfg, "pci_msitranslate", &l, 0)) msi = l;
    if (!xlu_cfg_get_long(cfg, "pci_power_mgmt", &l, 0)) pm = l;
    if (!xlu_cfg_get_long(cfg, "pci_permissive", &l, 0)) perm = l;
    if (!xlu_cfg_get_long(cfg, "pci_seize", &l, 0)) seize = l;
    if (!xlu_cfg_get_string(cfg, "rdm", &buf, 0)) {
        /* xl leaves this struct uninitialised (so the policy of "strategy=host" is stack
         * garbage there); initialised here, which is what xentool assumes. */
        libxl_rdm_reserve rdm;
        libxl_rdm_reserve_init(&rdm);
        if (!xlu_rdm_parse(cfg, &rdm, buf)) policy = rdm.policy;
    }
    if (xlu_cfg_get_list(cfg, "pci", &pcis, 0, 0)) return 0;
    for (i = 0; (buf = xlu_cfg_get_listitem(pcis, i)) != NULL; i++) {
        libxl_device_pci pci;
        libxl_device_pci_init(&pci);
        pci.msitranslate = msi;
        pci.power_mgmt = pm;
        pci.permissive = perm;
        pci.seize = seize;
        pci.rdm_policy = policy;
        e = xlu_pci_parse_spec_string(cfg, &pci, buf);
        if (i) putchar(',');
        printf("{\"rc\":%d,\"pci\":", e);
        put_pci(&pci);
        putchar('}');
        libxl_device_pci_dispose(&pci);
        if (e) return -1; /* xl exits here */
    }
    return i;
}

/* b_info->u.pv.e820_host as a PV guest ends up with it. */
static int xl_pv_e820_host(XLU_Config *cfg, int num_pcidevs)
{
    libxl_defbool b;
    memset(&b, 0, sizeof(b));
    xlu_cfg_get_defbool(cfg, "e820_host", &b, 0);
    if (num_pcidevs > 0) libxl_defbool_set(&b, true);
    libxl_defbool_setdefault(&b, false);
    return libxl_defbool_val(b);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    long len;

    if (strcmp(mode, "cfg") && strcmp(mode, "spec") && strcmp(mode, "bdf") && strcmp(mode, "xlpci")) {
        fprintf(stderr, "usage: probe cfg|spec|bdf|xlpci < records\n");
        return 2;
    }
    while (scanf("%ld", &len) == 1) {
        char *buf, *report = NULL;
        size_t report_len = 0;
        FILE *rep;
        XLU_Config *cfg;
        int rc;

        if (getchar() != '\n' || len < 0) return 3;
        buf = calloc(len + 1, 1);
        if (!buf || fread(buf, 1, len, stdin) != (size_t)len) return 3;
        rep = open_memstream(&report, &report_len);
        cfg = xlu_cfg_init(rep, "SRC");
        if (!cfg) return 4;

        if (!strcmp(mode, "cfg")) {
            int first = 1;
            rc = xlu_cfg_readdata(cfg, buf, (int)len);
            printf("{\"rc\":%d,\"settings\":[", rc);
            put_settings(((struct XLU_Config *)cfg)->settings, &first);
            putchar(']');
        } else if (!strcmp(mode, "xlpci")) {
            rc = xlu_cfg_readdata(cfg, buf, (int)len);
            int n = -1;
            printf("{\"rc\":%d,\"pci\":[", rc);
            if (!rc) n = put_xl_pcis(cfg);
            putchar(']');
            if (n < 0) fputs(",\"e820_host\":null", stdout);
            else printf(",\"e820_host\":%s", xl_pv_e820_host(cfg, n) ? "true" : "false");
        } else {
            libxl_device_pci pci;
            libxl_device_pci_init(&pci);
            rc = !strcmp(mode, "spec") ? xlu_pci_parse_spec_string(cfg, &pci, buf)
                                       : xlu_pci_parse_bdf(cfg, &pci, buf);
            printf("{\"rc\":%d,\"pci\":", rc);
            put_pci(&pci);
            libxl_device_pci_dispose(&pci);
        }
        fflush(rep);
        fputs(",\"report\":", stdout);
        put_str(report, report_len);
        puts("}");
        fflush(stdout);
        xlu_cfg_destroy(cfg);
        fclose(rep);
        free(report);
        free(buf);
    }
    return 0;
}
