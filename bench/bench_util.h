/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

static inline double bench_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v; the caller reads percentiles as v[n / 2], v[n * 9 / 10], v[n * 99 / 100]. */
static inline void bench_sort(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
}

/* A "Key: N kB" line of /proc/<pid>/<file> (status: VmRSS:, RssAnon: ...; smaps_rollup: Pss:), in KiB; -1 if absent. */
static inline long bench_proc_kib(pid_t pid, const char *file, const char *key)
{
	char p[64], line[256];
	snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
	FILE *f = fopen(p, "re");
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0)
			v = atol(line + kl);
	if (f)
		fclose(f);
	return v;
}
