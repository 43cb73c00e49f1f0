/*
 * The reference for the koffi probe: calls the same libxenctrl functions from C, against the
 * installed headers, and prints the same JSON shape (plus the struct layout the C compiler chose,
 * which koffi's declaration must reproduce).
 * Build: gcc -O2 -o physinfo physinfo.c -lxenctrl
 */
#include <stddef.h>
#include <stdio.h>
#include <xenctrl.h>

int main(void)
{
    xc_interface *xch = xc_interface_open(NULL, NULL, 0);
    if (!xch) {
        perror("xc_interface_open");
        return 2;
    }
    xc_physinfo_t info = {0};
    int rc = xc_physinfo(xch, &info);
    printf("{\"sizeof\":%zu,\"offset_total_pages\":%zu,\"offset_hw_cap\":%zu,\"rc\":%d,"
           "\"nr_cpus\":%u,\"threads_per_core\":%u,\"cores_per_socket\":%u,\"nr_nodes\":%u,"
           "\"cpu_khz\":%u,\"capabilities\":%u,\"total_pages\":%llu,\"max_mfn\":%llu}\n",
           sizeof(info), offsetof(xc_physinfo_t, total_pages), offsetof(xc_physinfo_t, hw_cap), rc,
           info.nr_cpus, info.threads_per_core, info.cores_per_socket, info.nr_nodes,
           info.cpu_khz, info.capabilities, (unsigned long long)info.total_pages,
           (unsigned long long)info.max_mfn);
    xc_interface_close(xch);
    return rc == 0 ? 0 : 1;
}
