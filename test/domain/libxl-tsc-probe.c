/*
 * The real libxenlight 4.17 as an oracle for tsc_mode (tsc-mode-libxl.test.ts):
 *
 *   probe names WORD...          one line per WORD: libxl_tsc_mode_from_string's rc, and the
 *                                mode's number and libxl_tsc_mode_to_string name when rc is 0
 *   probe b_info MODE NOMIGRATE  the JSON libxl's generator writes for a small PV build_info
 *                                (the one the test's config gives) with b_info.tsc_mode = MODE
 *                                and disable_migrate set to NOMIGRATE (0/1; -1 leaves it unset)
 *
 * The generator is called directly (libxl_domain_build_info_gen_json), so no libxl context and
 * no hypervisor are needed. yajl's headers are not installed with libxen-dev; the few yajl
 * calls are declared here from yajl 2's API (yajl_gen.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxl.h>

typedef struct yajl_gen_t *yajl_gen;
yajl_gen yajl_gen_alloc(const void *alloc_funcs);
int yajl_gen_config(yajl_gen g, int opt, ...);
int yajl_gen_get_buf(yajl_gen g, const unsigned char **buf, size_t *len);
void yajl_gen_free(yajl_gen g);
#define YAJL_GEN_BEAUTIFY 0x01 /* yajl_gen_beautify */
int libxl_domain_build_info_gen_json(yajl_gen hand, libxl_domain_build_info *p);

static int names(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        libxl_tsc_mode m = 0;
        int rc = libxl_tsc_mode_from_string(argv[i], &m);
        if (rc)
            printf("%d\n", rc);
        else
            printf("0 %d %s\n", (int)m, libxl_tsc_mode_to_string(m));
    }
    return 0;
}

static int b_info(int mode, int nomigrate)
{
    libxl_domain_build_info b;
    libxl_domain_build_info_init(&b);
    libxl_domain_build_info_init_type(&b, LIBXL_DOMAIN_TYPE_PV);
    /* name="g", type="pv", kernel="/k", memory=128, as xl and libxl store them */
    b.max_vcpus = 1;
    b.avail_vcpus.size = 1;
    b.avail_vcpus.map = calloc(1, 1);
    b.avail_vcpus.map[0] = 1;
    b.max_memkb = 131072;
    b.target_memkb = 131072;
    b.video_memkb = 0;
    libxl_defbool_set(&b.claim_mode, true);
    b.kernel = strdup("/k");
    libxl_defbool_set(&b.arch_x86.msr_relaxed, false);
    b.tsc_mode = mode;
    if (nomigrate >= 0)
        libxl_defbool_set(&b.disable_migrate, nomigrate);

    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    yajl_gen_config(g, YAJL_GEN_BEAUTIFY, 1);
    if (libxl_domain_build_info_gen_json(g, &b) != 0 || yajl_gen_get_buf(g, &buf, &len) != 0) {
        fprintf(stderr, "libxl_domain_build_info_gen_json failed\n");
        return 1;
    }
    fwrite(buf, 1, len, stdout);
    yajl_gen_free(g);
    libxl_domain_build_info_dispose(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "names"))
        return names(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "b_info"))
        return b_info(atoi(argv[2]), atoi(argv[3]));
    fprintf(stderr, "usage: probe names WORD... | probe b_info MODE NOMIGRATE\n");
    return 2;
}
