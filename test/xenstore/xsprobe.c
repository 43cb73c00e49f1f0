/*
 * xsprobe: drives the real libxenstore (Xen 4.17) against whatever xenstored XENSTORED_PATH
 * names. Compiled by the tests and the benchmark with gcc against /usr/include/xenstore.h.
 *
 *   xsprobe tx-write PATH VALUE [PATH VALUE...]  one transaction, retried on EAGAIN
 *   xsprobe read PATH                             prints the value, or "ERR <errno>"
 *   xsprobe dir PATH                              one child name per line
 *   xsprobe perms PATH                            "n0 r5"
 *   xsprobe set-perms PATH PERM...                xs_set_permissions
 *   xsprobe conflict PATH                         prints the errno of a commit that must conflict
 *   xsprobe watch PATH TOKEN COUNT                prints "ready" after the first event, then events
 *   xsprobe bench-read N PATH                     N sequential xs_read; prints elapsed seconds
 *                                                 and this process's CPU seconds (user+sys)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

static const char *ename(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EAGAIN: return "EAGAIN";
	case EINVAL: return "EINVAL";
	case EEXIST: return "EEXIST";
	case EPERM: return "EPERM";
	case ENOSPC: return "ENOSPC";
	case E2BIG: return "E2BIG";
	default: return "EOTHER";
	}
}

static int fail(const char *what)
{
	printf("ERR %s\n", ename(errno));
	fprintf(stderr, "xsprobe: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	struct xs_handle *h;
	const char *op;

	if (argc < 3) {
		fprintf(stderr, "usage: xsprobe OP ARGS...\n");
		return 2;
	}
	op = argv[1];
	h = xs_open(0);
	if (!h)
		return fail("xs_open");

	if (!strcmp(op, "tx-write")) {
		for (;;) {
			xs_transaction_t t = xs_transaction_start(h);
			if (t == XBT_NULL)
				return fail("xs_transaction_start");
			for (int i = 2; i + 1 < argc; i += 2)
				if (!xs_write(h, t, argv[i], argv[i + 1], strlen(argv[i + 1])))
					return fail("xs_write");
			if (xs_transaction_end(h, t, false))
				break;
			if (errno != EAGAIN)
				return fail("xs_transaction_end");
		}
		printf("ok\n");
	} else if (!strcmp(op, "read")) {
		unsigned int len;
		char *v = xs_read(h, XBT_NULL, argv[2], &len);
		if (!v)
			return fail("xs_read");
		printf("%.*s\n", (int)len, v);
		free(v);
	} else if (!strcmp(op, "dir")) {
		unsigned int n;
		char **d = xs_directory(h, XBT_NULL, argv[2], &n);
		if (!d)
			return fail("xs_directory");
		for (unsigned int i = 0; i < n; i++)
			printf("%s\n", d[i]);
		free(d);
	} else if (!strcmp(op, "perms")) {
		unsigned int n;
		struct xs_permissions *p = xs_get_permissions(h, XBT_NULL, argv[2], &n);
		if (!p)
			return fail("xs_get_permissions");
		/* xs_perm_to_string is declared in xenstore_lib.h but not exported by
		 * libxenstore.so.4 (4.17): format the letters here. */
		for (unsigned int i = 0; i < n; i++) {
			unsigned int b = p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
			char c = b == (XS_PERM_READ | XS_PERM_WRITE) ? 'b' : b == XS_PERM_READ ? 'r' : b == XS_PERM_WRITE ? 'w' : 'n';
			printf("%s%c%u", i ? " " : "", c, p[i].id);
		}
		printf("\n");
		free(p);
	} else if (!strcmp(op, "set-perms")) {
		unsigned int n = argc - 3;
		struct xs_permissions p[16];
		if (n == 0 || n > 16)
			return 2;
		for (unsigned int i = 0; i < n; i++)
			if (!xs_strings_to_perms(&p[i], 1, argv[3 + i]))
				return fail("xs_strings_to_perms");
		if (!xs_set_permissions(h, XBT_NULL, argv[2], p, n))
			return fail("xs_set_permissions");
		printf("ok\n");
	} else if (!strcmp(op, "conflict")) {
		/* Read in a transaction, change the node outside it, then try to commit. */
		unsigned int len;
		xs_transaction_t t = xs_transaction_start(h);
		char *v;
		if (t == XBT_NULL)
			return fail("xs_transaction_start");
		v = xs_read(h, t, argv[2], &len);
		free(v);
		if (!xs_write(h, XBT_NULL, argv[2], "outside", 7))
			return fail("xs_write outside");
		if (!xs_write(h, t, argv[2], "inside", 6))
			return fail("xs_write inside");
		if (xs_transaction_end(h, t, false)) {
			printf("committed\n");
		} else {
			printf("%s\n", ename(errno));
		}
	} else if (!strcmp(op, "watch")) {
		int count = argc > 4 ? atoi(argv[4]) : 1;
		if (!xs_watch(h, argv[2], argv[3]))
			return fail("xs_watch");
		for (int i = 0; i < count; i++) {
			unsigned int n;
			char **ev = xs_read_watch(h, &n);
			if (!ev)
				return fail("xs_read_watch");
			printf("%s %s\n", ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
			if (i == 0)
				printf("ready\n");
			fflush(stdout);
			free(ev);
		}
		xs_unwatch(h, argv[2], argv[3]);
	} else if (!strcmp(op, "bench-read")) {
		long n = atol(argv[2]);
		struct timespec a, b, ca, cb;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (long i = 0; i < n; i++) {
			unsigned int len;
			char *v = xs_read(h, XBT_NULL, argv[3], &len);
			if (!v)
				return fail("xs_read");
			free(v);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
		printf("%.6f %.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9,
		       (cb.tv_sec - ca.tv_sec) + (cb.tv_nsec - ca.tv_nsec) / 1e9);
	} else {
		fprintf(stderr, "xsprobe: unknown op %s\n", op);
		return 2;
	}
	xs_close(h);
	return 0;
}
