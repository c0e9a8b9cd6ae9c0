/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

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

/* The CPU time (user and system, all its threads, ms) and minor page faults of pid so far; -1 if unreadable. */
static inline int bench_proc_cpu(pid_t pid, double *ret_cpu_ms, long *ret_minflt)
{
	char p[64], buf[1024];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(p, "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	const char *rp = strrchr(buf, ')'); /* after the command name, which may hold anything */
	unsigned long minflt = 0, utime = 0, stime = 0;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (!rp || sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %lu %*u %*u %*u %lu %lu", &minflt, &utime, &stime) != 3)
		return -1;
	*ret_cpu_ms = (double)(utime + stime) * 1e3 / (double)sysconf(_SC_CLK_TCK);
	*ret_minflt = (long)minflt;
	return 0;
}
