/* SPDX-License-Identifier: Apache-2.0 */
/* The cgroup v2 paths of runtime/cgroup.c (update and stats) on a host with every controller in the v2
 * hierarchy, which this hybrid machine is not: cgroup.c is built for this test with its root at a tree of plain
 * files laid out as /sys/fs/cgroup is there, and the test reads back what was written and feeds what the
 * kernel would show. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "runtime/cgroup.h"

#define ROOT CRL_CGROUP_ROOT
#define CG "/crio-lite/c1"

static void put(const char *file, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s%s", ROOT, file);
	FILE *f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *get(const char *file)
{
	char p[512];
	snprintf(p, sizeof(p), "%s%s/%s", ROOT, CG, file);
	char *t = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, p, 4096, &t, NULL, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	return t;
}

static void expect_file(const char *file, const char *want)
{
	char *t = get(file);
	assert_string_equal(t, want);
	free(t);
}

static const char *const knobs[] = { "memory.max", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "cpuset.mems",
				     "pids.max", "hugetlb.2MB.max", "io.weight" };

/* Empty knobs (the writes land at offset 0 of a plain file) and the kernel's read-only files. */
static int setup(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	crl_fs_rm_rf(ROOT, &err);
	crl_error_clear(&err);
	char p[512];
	snprintf(p, sizeof(p), "%s%s", ROOT, CG);
	if (crl_fs_mkdir_p(p, 0755, &err) < 0)
		return -1;
	put("/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		char f[128];
		snprintf(f, sizeof(f), CG "/%s", knobs[i]);
		put(f, "");
	}
	put(CG "/memory.current", "12345678\n");
	put(CG "/memory.stat", "anon 11000000\nfile 1000000\nactive_file 654322\ninactive_file 345678\npgfault 777\npgmajfault 7\n");
	put(CG "/memory.swap.current", "4096\n");
	put(CG "/memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n");
	put(CG "/cpu.stat", "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n");
	put(CG "/pids.current", "4\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	int r = crl_fs_rm_rf(ROOT, &err);
	crl_error_clear(&err);
	return r;
}

static void test_update_writes_v2_knobs(void **state)
{
	(void)state;
	rt_hugepage_limit_t hp = { "2MB", 4194304 };
	rt_kv_t uni = { "io.weight", "200" };
	rt_resources_t res = { 64 << 20, 128 << 20, 1024, 50000, 100000, "0-1", "0", 42, &hp, 1, &uni, 1, NULL, 0 };
	rt_cgroup_t *cg = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(rt_cgroup_open(CG, &cg, &err), 0);
	if (rt_cgroup_update(cg, &res, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	expect_file("memory.max", "67108864");
	/* OCI swap counts memory too; v2 counts swap alone. */
	expect_file("memory.swap.max", "67108864");
	/* shares 2..262144 onto weight 1..10000, as runc maps them. */
	expect_file("cpu.weight", "39");
	expect_file("cpu.max", "50000 100000");
	expect_file("cpuset.cpus", "0-1");
	expect_file("cpuset.mems", "0");
	expect_file("pids.max", "42");
	expect_file("hugetlb.2MB.max", "4194304");
	expect_file("io.weight", "200");
	/* Unlimited swap and no quota are written as the kernel spells them. */
	put(CG "/memory.swap.max", "");
	put(CG "/cpu.max", "");
	put(CG "/pids.max", "");
	rt_resources_t res2 = { 64 << 20, -1, RT_UNSET, -1, 100000, NULL, NULL, -1, NULL, 0, NULL, 0, NULL, 0 };
	assert_int_equal(rt_cgroup_update(cg, &res2, &err), 0);
	expect_file("memory.swap.max", "max");
	expect_file("cpu.max", "max 100000");
	expect_file("pids.max", "max");
	/* Not given is left alone: a memory limit alone does not touch swap. */
	put(CG "/memory.swap.max", "");
	put(CG "/memory.max", "");
	rt_resources_t res4 = { 32 << 20, RT_UNSET, RT_UNSET, RT_UNSET, RT_UNSET, NULL, NULL, RT_UNSET, NULL, 0, NULL, 0, NULL, 0 };
	assert_int_equal(rt_cgroup_update(cg, &res4, &err), 0);
	expect_file("memory.max", "33554432");
	expect_file("memory.swap.max", "");
	/* memory+swap below memory cannot be expressed on v2. */
	rt_resources_t res5 = { 32 << 20, 16 << 20, RT_UNSET, RT_UNSET, RT_UNSET, NULL, NULL, RT_UNSET, NULL, 0, NULL, 0, NULL, 0 };
	assert_true(rt_cgroup_update(cg, &res5, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "memory+swap limit"));
	crl_error_clear(&err);
	/* A knob the host lacks is an error naming it. */
	rt_kv_t bad = { "nosuch.knob", "1" };
	rt_resources_t res3 = { RT_UNSET, RT_UNSET, RT_UNSET, RT_UNSET, RT_UNSET, NULL, NULL, RT_UNSET, NULL, 0, &bad, 1, NULL, 0 };
	assert_true(rt_cgroup_update(cg, &res3, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "nosuch.knob"));
	crl_error_clear(&err);
	rt_cgroup_free(cg);
}

static void test_stats_from_v2_files(void **state)
{
	(void)state;
	put(CG "/memory.max", "67108864\n");
	put(CG "/pids.max", "max\n");
	rt_cgroup_t *cg = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(rt_cgroup_open(CG, &cg, &err), 0);
	rt_cgroup_stats_t st;
	assert_int_equal(rt_cgroup_stats(cg, &st, &err), 0);
	assert_int_equal(st.cpu_usage_ns, 5000000);
	assert_int_equal(st.memory_usage, 12345678);
	assert_int_equal(st.memory_working_set, 12345678 - 345678);
	assert_int_equal(st.memory_limit, 67108864);
	assert_int_equal(st.oom_kills, 2);
	assert_int_equal(st.pids_current, 4);
	assert_int_equal(st.pids_limit, 0);
	assert_int_equal(st.memory_rss, 11000000);
	assert_int_equal(st.page_faults, 777);
	assert_int_equal(st.major_page_faults, 7);
	assert_int_equal(st.swap_usage, 4096);
	rt_cgroup_free(cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_writes_v2_knobs),
		cmocka_unit_test(test_stats_from_v2_files),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
