/* SPDX-License-Identifier: Apache-2.0 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

#define CG_ROOT "/sys/fs/cgroup"

static const char *const controllers[] = { "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer" };

struct rt_cgroup {
	char *path; /* below each hierarchy's root, starts with '/' */
};

const char *rt_cgroup_path(const rt_cgroup_t *cg)
{
	return cg->path;
}

void rt_cgroup_free(rt_cgroup_t *cg)
{
	if (!cg)
		return;
	free(cg->path);
	free(cg);
}

static bool have(const char *ctrl)
{
	char p[128];
	snprintf(p, sizeof(p), CG_ROOT "/%s", ctrl);
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int write_file(const char *ctrl, const char *path, const char *file, const char *value, crl_error_t *err)
{
	char p[4096];
	snprintf(p, sizeof(p), CG_ROOT "/%s%s/%s", ctrl, path, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", p);
	ssize_t n = write(fd, value, strlen(value));
	if (n < 0)
		return crl_error_set_errno(err, errno, "write '%s' to %s", value, p);
	return 0;
}

int rt_cgroup_read(const rt_cgroup_t *cg, const char *ctrl, const char *file, char *buf, size_t n, crl_error_t *err)
{
	char p[4096];
	snprintf(p, sizeof(p), CG_ROOT "/%s%s/%s", ctrl, cg->path, file);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", p);
	ssize_t r = read(fd, buf, n - 1);
	if (r < 0)
		return crl_error_set_errno(err, errno, "read %s", p);
	buf[r] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int write_int(const char *ctrl, const char *path, const char *file, int64_t v, crl_error_t *err)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	return write_file(ctrl, path, file, b, err);
}

/* cpuset children start empty: copy the parent's cpus and mems down every level. */
static int cpuset_inherit(const char *path, crl_error_t *err)
{
	char parent[4096], cur[4096] = "";
	const char *files[] = { "cpuset.cpus", "cpuset.mems" };
	for (const char *p = path; *p;) {
		const char *next = strchr(p + 1, '/');
		size_t len = next ? (size_t)(next - path) : strlen(path);
		snprintf(parent, sizeof(parent), "%s", cur);
		snprintf(cur, sizeof(cur), "%.*s", (int)len, path);
		for (size_t i = 0; i < 2; i++) {
			char val[1024] = "", pp[4200];
			snprintf(pp, sizeof(pp), CG_ROOT "/cpuset%s/%s", parent, files[i]);
			int fd = open(pp, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, val, sizeof(val) - 1);
			close(fd);
			if (n <= 0)
				continue;
			val[n] = '\0';
			char have_val[1024] = "";
			snprintf(pp, sizeof(pp), CG_ROOT "/cpuset%s/%s", cur, files[i]);
			fd = open(pp, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				ssize_t m = read(fd, have_val, sizeof(have_val) - 1);
				close(fd);
				if (m > 1)
					continue; /* already set */
			}
			int r = write_file("cpuset", cur, files[i], val, err);
			if (r < 0)
				return r;
		}
		if (!next)
			break;
		p = next;
	}
	return 0;
}

/* The devices a container may use: the default set, nothing else (CAP_MKNOD alone must not open a disk). */
static int devices_allowlist(const char *path, crl_error_t *err)
{
	static const char *const allow[] = {
		"c *:* m",  "b *:* m",  "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
	};
	int r = write_file("devices", path, "devices.deny", "a", err);
	for (size_t i = 0; r == 0 && i < CRL_ARRAY_SIZE(allow); i++)
		r = write_file("devices", path, "devices.allow", allow[i], err);
	return r;
}

static int apply_resources(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	int r = 0;
	if (have("memory") && res->memory_limit > 0)
		r = write_int("memory", path, "memory.limit_in_bytes", res->memory_limit, err);
	if (r == 0 && have("memory") && res->memory_swap > 0) {
		char p[4200];
		snprintf(p, sizeof(p), CG_ROOT "/memory%s/memory.memsw.limit_in_bytes", path);
		if (access(p, F_OK) == 0)
			r = write_int("memory", path, "memory.memsw.limit_in_bytes", res->memory_swap, err);
	}
	if (r == 0 && have("cpu") && res->cpu_shares > 0)
		r = write_int("cpu", path, "cpu.shares", res->cpu_shares, err);
	if (r == 0 && have("cpu") && res->cpu_period > 0)
		r = write_int("cpu", path, "cpu.cfs_period_us", res->cpu_period, err);
	if (r == 0 && have("cpu") && res->cpu_quota != -1 && res->cpu_quota != 0)
		r = write_int("cpu", path, "cpu.cfs_quota_us", res->cpu_quota, err);
	if (r == 0 && have("cpuset"))
		r = cpuset_inherit(path, err);
	if (r == 0 && have("cpuset") && res->cpuset_cpus && *res->cpuset_cpus)
		r = write_file("cpuset", path, "cpuset.cpus", res->cpuset_cpus, err);
	if (r == 0 && have("cpuset") && res->cpuset_mems && *res->cpuset_mems)
		r = write_file("cpuset", path, "cpuset.mems", res->cpuset_mems, err);
	if (r == 0 && have("pids") && res->pids_limit > 0)
		r = write_int("pids", path, "pids.max", res->pids_limit, err);
	return r;
}

static int apply(const rt_spec_t *s, const char *path, crl_error_t *err)
{
	int r = apply_resources(&s->resources, path, err);
	if (r == 0 && have("devices"))
		r = devices_allowlist(path, err);
	return r;
}

int rt_cgroup_update(rt_cgroup_t *cg, const rt_resources_t *res, crl_error_t *err)
{
	/* A memory limit below the swap limit is refused by the kernel: raise swap first when it grows. */
	return apply_resources(res, cg->path, err);
}

static uint64_t read_u64(const rt_cgroup_t *cg, const char *ctrl, const char *file)
{
	char buf[64];
	crl_error_t e = CRL_ERROR_INIT;
	if (rt_cgroup_read(cg, ctrl, file, buf, sizeof(buf), &e) < 0) {
		crl_error_clear(&e);
		return 0;
	}
	return strtoull(buf, NULL, 10);
}

/* A "key value" line of a stat file. */
static uint64_t read_keyed(const rt_cgroup_t *cg, const char *ctrl, const char *file, const char *key)
{
	char p[4096], line[256];
	snprintf(p, sizeof(p), CG_ROOT "/%s%s/%s", ctrl, cg->path, file);
	FILE *f = fopen(p, "re");
	uint64_t v = 0;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

int rt_cgroup_stats(const rt_cgroup_t *cg, rt_cgroup_stats_t *st, crl_error_t *err)
{
	(void)err;
	memset(st, 0, sizeof(*st));
	st->cpu_usage_ns = read_u64(cg, "cpuacct", "cpuacct.usage");
	st->memory_usage = read_u64(cg, "memory", "memory.usage_in_bytes");
	uint64_t inactive = read_keyed(cg, "memory", "memory.stat", "total_inactive_file");
	st->memory_working_set = st->memory_usage > inactive ? st->memory_usage - inactive : 0;
	st->memory_limit = read_u64(cg, "memory", "memory.limit_in_bytes");
	st->oom_kills = read_keyed(cg, "memory", "memory.oom_control", "oom_kill");
	st->pids_current = read_u64(cg, "pids", "pids.current");
	st->pids_limit = read_u64(cg, "pids", "pids.max"); /* "max" reads as 0 */
	return 0;
}

static bool path_ok(const char *p)
{
	if (!p || p[0] != '/' || strstr(p, "/../") || strstr(p, "/./") || strlen(p) > 1024)
		return false;
	size_t n = strlen(p);
	return !(n >= 3 && strcmp(p + n - 3, "/..") == 0);
}

int rt_cgroup_open(const char *path, rt_cgroup_t **ret, crl_error_t *err)
{
	if (!path_ok(path))
		return crl_error_set(err, EINVAL, "bad cgroup path '%s'", path ? path : "");
	rt_cgroup_t *cg = calloc(1, sizeof(*cg));
	if (!cg || !(cg->path = strdup(path))) {
		free(cg);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = cg;
	return 0;
}

int rt_cgroup_create(const rt_spec_t *s, const char *id, rt_cgroup_t **ret, crl_error_t *err)
{
	char path[1100];
	if (s->cgroups_path && *s->cgroups_path)
		snprintf(path, sizeof(path), "%s%s", s->cgroups_path[0] == '/' ? "" : "/crio-lite/", s->cgroups_path);
	else
		snprintf(path, sizeof(path), "/crio-lite/%s", id);
	if (!path_ok(path))
		return crl_error_set(err, EINVAL, "linux.cgroupsPath '%s' is not a clean path", s->cgroups_path);
	for (size_t i = 0; i < CRL_ARRAY_SIZE(controllers); i++) {
		if (!have(controllers[i]))
			continue;
		char p[1200];
		snprintf(p, sizeof(p), CG_ROOT "/%s%s", controllers[i], path);
		int r = crl_fs_mkdir_p(p, 0755, err);
		if (r < 0)
			return r;
	}
	rt_cgroup_t *cg = NULL;
	int r = rt_cgroup_open(path, &cg, err);
	if (r < 0)
		return r;
	if ((r = apply(s, path, err)) < 0) {
		crl_error_t e = CRL_ERROR_INIT;
		rt_cgroup_destroy(cg, &e);
		crl_error_clear(&e);
		rt_cgroup_free(cg);
		return r;
	}
	*ret = cg;
	return 0;
}

int rt_cgroup_add(rt_cgroup_t *cg, pid_t pid, crl_error_t *err)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(controllers); i++) {
		if (!have(controllers[i]))
			continue;
		int r = write_int(controllers[i], cg->path, "cgroup.procs", pid, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int rt_cgroup_destroy(rt_cgroup_t *cg, crl_error_t *err)
{
	int ret = 0;
	for (size_t i = 0; i < CRL_ARRAY_SIZE(controllers); i++) {
		char p[1200];
		snprintf(p, sizeof(p), CG_ROOT "/%s%s", controllers[i], cg->path);
		if (rmdir(p) < 0 && errno != ENOENT && ret == 0)
			ret = crl_error_set_errno(err, errno, "remove cgroup %s", p);
	}
	return ret;
}
