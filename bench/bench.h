/* bench.h - helpers shared by the C benchmark programs of bench/run.sh
 * (curl_bench.c, po_bench.c): wall-clock and CPU time, die(), the letter
 * count and port arguments, a file read into memory.
 *
 * Define BENCH_PROG (the program's name, a string literal) before
 * including it: die() prefixes its message with it.  Everything is
 * static inline, so a program need not use every helper.
 */
#ifndef BENCH_H
#define BENCH_H

#ifndef BENCH_PROG
#error "define BENCH_PROG before including bench.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Wall-clock seconds (monotonic). */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of the process so far, user + system. */
static inline double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* "PROG: WHAT: DETAIL" on standard error, exit status 1. */
_Noreturn static inline void die(const char *what, const char *detail)
{
	fprintf(stderr, BENCH_PROG ": %s: %s\n", what, detail);
	exit(1);
}

static inline unsigned port_arg(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || v == 0 || v > 65535)
		die("bad port", s);
	return (unsigned)v;
}

static inline long count_arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0)
		die("bad letter count", s);
	return v;
}

/* The whole file in memory (the small letter or body of the loops):
 * malloc'd, *LEN bytes, not NUL-terminated. */
static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0, got;

	if (!f)
		die(path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 4096;
			p = realloc(p, cap);
			if (!p)
				die("memory", "out of memory");
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f))
		die(path, "read error");
	fclose(f);
	*len = n;
	return p;
}

#endif
