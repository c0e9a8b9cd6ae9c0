/* SPDX-License-Identifier: Apache-2.0 */
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "devices.h"

/* The unit test of the v2 paths builds this file with a root of its own (a tree of plain files standing for a
 * cgroup v2 host, which this machine is not); nothing else changes it. */
#ifndef CRL_CGROUP_ROOT
#define CRL_CGROUP_ROOT "/sys/fs/cgroup"
#endif
#define CG_ROOT CRL_CGROUP_ROOT

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

/* The cgroup v2 hierarchy: /sys/fs/cgroup itself (unified mode) or /sys/fs/cgroup/unified (hybrid); NULL. */
static const char *v2_root(void)
{
	if (access(CG_ROOT "/cgroup.controllers", F_OK) == 0)
		return CG_ROOT;
	if (access(CG_ROOT "/unified/cgroup.controllers", F_OK) == 0)
		return CG_ROOT "/unified";
	return NULL;
}

static bool v2_has(const char *ctrl)
{
	const char *root = v2_root();
	char p[128], buf[512];
	if (!root)
		return false;
	snprintf(p, sizeof(p), "%s/cgroup.controllers", root);
	if (crl_fs_read_small(p, buf, sizeof(buf)) <= 0)
		return false;
	size_t l = strlen(ctrl);
	for (char *t = buf; (t = strstr(t, ctrl)); t += l)
		if ((t == buf || t[-1] == ' ') && (t[l] == ' ' || t[l] == '\n' || t[l] == '\0'))
			return true;
	return false;
}

static int v2_write(const char *path, const char *file, const char *value, crl_error_t *err)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s%s/%s", v2_root(), path, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", p);
	if (write(fd, value, strlen(value)) < 0)
		return crl_error_set_errno(err, errno, "write '%s' to %s", value, p);
	return 0;
}

/* Whether the cgroup has that file (memory.swap.max exists only with swap accounting). */
static bool v2_has_file(const char *path, const char *file)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s%s/%s", v2_root(), path, file);
	return access(p, F_OK) == 0;
}

static int v2_write_int(const char *path, const char *file, int64_t v, crl_error_t *err)
{
	char b[32];
	snprintf(b, sizeof(b), "%lld", (long long)v);
	return v2_write(path, file, b, err);
}

/* Creates path in the v2 hierarchy, enabling every available controller down its ancestors. */
static int v2_create(const char *path, crl_error_t *err)
{
	const char *root = v2_root();
	char ctrls[512] = "", buf[4096];
	snprintf(buf, sizeof(buf), "%s/cgroup.controllers", root);
	crl_fs_read_small(buf, ctrls, sizeof(ctrls)); /* none readable: no controller to enable */
	char *names[32];
	size_t nn = 0;
	for (char *save = NULL, *t = strtok_r(ctrls, " \n", &save); t && nn < 32; t = strtok_r(NULL, " \n", &save))
		names[nn++] = t;
	char cur[4096] = "";
	for (const char *p = path; *p;) {
		const char *next = strchr(p + 1, '/');
		size_t len = next ? (size_t)(next - path) : strlen(path);
		/* Enable in the parent before making the child, one controller at a time: one the kernel refuses
		 * (cpu while a realtime task sits in the parent, say) must not keep the others off. */
		for (size_t i = 0; i < nn; i++) {
			char plus[40];
			snprintf(plus, sizeof(plus), "+%s", names[i]);
			v2_write(cur, "cgroup.subtree_control", plus, err);
			crl_error_clear(err);
		}
		snprintf(cur, sizeof(cur), "%.*s", (int)len, path);
		snprintf(buf, sizeof(buf), "%s%s", root, cur);
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create cgroup %s", buf);
		if (!next)
			break;
		p = next;
	}
	return 0;
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

/* A file of the cgroup: in the v1 hierarchy of ctrl, or in the v2 hierarchy when ctrl is NULL. */
static void file_path(char *p, size_t n, const char *ctrl, const char *path, const char *file)
{
	if (ctrl)
		snprintf(p, n, CG_ROOT "/%s%s/%s", ctrl, path, file);
	else
		snprintf(p, n, "%s%s/%s", v2_root() ? v2_root() : CG_ROOT, path, file);
}

int rt_cgroup_read(const rt_cgroup_t *cg, const char *ctrl, const char *file, char *buf, size_t n, crl_error_t *err)
{
	char p[4096];
	file_path(p, sizeof(p), ctrl, cg->path, file);
	ssize_t r = crl_fs_read_small(p, buf, n);
	if (r < 0)
		return crl_error_set_errno(err, (int)-r, "read %s", p);
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
			if (crl_fs_read_small(pp, val, sizeof(val)) <= 0)
				continue;
			char have_val[1024];
			snprintf(pp, sizeof(pp), CG_ROOT "/cpuset%s/%s", cur, files[i]);
			if (crl_fs_read_small(pp, have_val, sizeof(have_val)) > 1)
				continue; /* already set */
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

static int v1_device_line(void *ctx, bool allow, const char *line)
{
	void **c = ctx;
	return write_file("devices", c[0], allow ? "devices.allow" : "devices.deny", line, c[1]);
}

/* The devices a container may use: the default set and what the spec allows, nothing else (CAP_MKNOD alone
 * must not open a disk). The v1 controller where there is one; on the v2 hierarchy a BPF program, required on
 * a cgroup v2 host and added on a hybrid one (where v1 already decides, so failing to attach is not fatal). */
static int devices_apply(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	rt_dev_rule_t *rules = NULL;
	size_t n = 0;
	int r = rt_devices_rules(res, &rules, &n, err);
	if (r < 0)
		return r;
	if (have("devices")) {
		void *ctx[2] = { (void *)path, err };
		r = write_file("devices", path, "devices.deny", "a", err);
		if (r == 0)
			r = rt_devices_v1(rules, n, v1_device_line, ctx);
	}
	if (r == 0 && v2_root()) {
		char p[1200];
		snprintf(p, sizeof(p), "%s%s", v2_root(), path);
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		crl_error_t e = CRL_ERROR_INIT;
		int a = fd < 0 ? crl_error_set_errno(&e, errno, "open %s", p) : rt_devices_bpf_attach(fd, rules, n, &e);
		if (fd >= 0)
			close(fd);
		if (a < 0 && !have("devices")) {
			*err = e;
			r = a;
		} else {
			crl_error_clear(&e);
		}
	}
	free(rules);
	return r;
}

/* Resources whose v1 controller this machine lacks go to the v2 hierarchy. */
/* memory.max and memory.swap.max from OCI's memory and memory+swap, as runc converts them: swap -1 (or memory -1
 * with swap not given) is unlimited; v2 counts swap alone, so memory+swap below memory is an error. */
static int v2_memory(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	int64_t mem = res->memory_limit, sw = res->memory_swap;
	int r = 0;
	if (mem != RT_UNSET)
		r = mem == -1 ? v2_write(path, "memory.max", "max", err) : v2_write_int(path, "memory.max", mem, err);
	if (r < 0 || !v2_has_file(path, "memory.swap.max"))
		return r;
	if (sw == -1 || (sw == RT_UNSET && mem == -1))
		return v2_write(path, "memory.swap.max", "max", err);
	if (sw == RT_UNSET)
		return 0;
	if (mem == RT_UNSET || mem == -1 || sw < mem)
		return crl_error_set(err, EINVAL, "memory+swap limit %lld needs a memory limit at most as large", (long long)sw);
	return v2_write_int(path, "memory.swap.max", sw - mem, err);
}

static int apply_v2(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	int r = 0;
	if (!have("memory") && v2_has("memory"))
		r = v2_memory(res, path, err);
	if (r == 0 && !have("cpu") && v2_has("cpu")) {
		if (res->cpu_shares != RT_UNSET && res->cpu_shares > 0)
			r = v2_write_int(path, "cpu.weight", 1 + ((res->cpu_shares - 2) * 9999) / 262142, err);
		if (r == 0 && (res->cpu_quota != RT_UNSET || res->cpu_period != RT_UNSET)) {
			char b[64];
			long long period = res->cpu_period != RT_UNSET && res->cpu_period > 0 ? res->cpu_period : 100000;
			if (res->cpu_quota != RT_UNSET && res->cpu_quota > 0)
				snprintf(b, sizeof(b), "%lld %lld", (long long)res->cpu_quota, period);
			else
				snprintf(b, sizeof(b), "max %lld", period);
			r = v2_write(path, "cpu.max", b, err);
		}
	}
	if (r == 0 && !have("cpuset") && v2_has("cpuset")) {
		if (res->cpuset_cpus && *res->cpuset_cpus)
			r = v2_write(path, "cpuset.cpus", res->cpuset_cpus, err);
		if (r == 0 && res->cpuset_mems && *res->cpuset_mems)
			r = v2_write(path, "cpuset.mems", res->cpuset_mems, err);
	}
	if (r == 0 && !have("pids") && v2_has("pids") && res->pids_limit != RT_UNSET)
		r = res->pids_limit > 0 ? v2_write_int(path, "pids.max", res->pids_limit, err) : v2_write(path, "pids.max", "max", err);
	for (size_t i = 0; r == 0 && i < res->n_hugepages; i++) {
		char f[64];
		if (have("hugetlb")) {
			snprintf(f, sizeof(f), "hugetlb.%s.limit_in_bytes", res->hugepages[i].page_size);
			r = write_int("hugetlb", path, f, (int64_t)res->hugepages[i].limit, err);
		} else if (v2_has("hugetlb")) {
			snprintf(f, sizeof(f), "hugetlb.%s.max", res->hugepages[i].page_size);
			r = v2_write_int(path, f, (int64_t)res->hugepages[i].limit, err);
		} else {
			r = crl_error_set(err, EOPNOTSUPP, "hugepage limits: no hugetlb controller on this machine");
		}
	}
	for (size_t i = 0; r == 0 && i < res->n_unified; i++) {
		if (!v2_root())
			r = crl_error_set(err, EOPNOTSUPP, "linux.resources.unified needs a cgroup v2 hierarchy");
		else
			r = v2_write(path, res->unified[i].key, res->unified[i].value, err);
	}
	return r;
}

/* memory.limit_in_bytes and memory.memsw.limit_in_bytes (memory + swap) in the order the kernel takes them, as
 * runc writes them: the kernel refuses a memory limit above memsw, so when memsw grows (or goes unlimited) it
 * goes first. Memory -1 with swap not given makes both unlimited. */
static int v1_memory(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	int64_t mem = res->memory_limit, sw = res->memory_swap;
	char p[4200];
	snprintf(p, sizeof(p), CG_ROOT "/memory%s/memory.memsw.limit_in_bytes", path);
	bool has_sw = access(p, F_OK) == 0;
	if (mem == -1 && sw == RT_UNSET)
		sw = -1;
	if (!has_sw)
		sw = RT_UNSET;
	bool swap_first = false;
	if (mem != RT_UNSET && sw != RT_UNSET) {
		char cur[32] = "";
		crl_error_t e = CRL_ERROR_INIT;
		rt_cgroup_t cg = { (char *)path };
		if (rt_cgroup_read(&cg, "memory", "memory.limit_in_bytes", cur, sizeof(cur), &e) < 0)
			crl_error_clear(&e);
		swap_first = sw == -1 || strtoull(cur, NULL, 10) < (uint64_t)sw;
	}
	int r = 0;
	if (swap_first)
		r = write_int("memory", path, "memory.memsw.limit_in_bytes", sw, err);
	if (r == 0 && mem != RT_UNSET)
		r = write_int("memory", path, "memory.limit_in_bytes", mem, err);
	if (r == 0 && !swap_first && sw != RT_UNSET)
		r = write_int("memory", path, "memory.memsw.limit_in_bytes", sw, err);
	return r;
}

static int apply_resources(const rt_resources_t *res, const char *path, crl_error_t *err)
{
	int r = have("memory") ? v1_memory(res, path, err) : 0;
	if (r == 0 && have("cpu") && res->cpu_shares != RT_UNSET && res->cpu_shares > 0)
		r = write_int("cpu", path, "cpu.shares", res->cpu_shares, err);
	if (r == 0 && have("cpu") && res->cpu_period != RT_UNSET && res->cpu_period > 0)
		r = write_int("cpu", path, "cpu.cfs_period_us", res->cpu_period, err);
	if (r == 0 && have("cpu") && res->cpu_quota != RT_UNSET && res->cpu_quota != 0)
		r = write_int("cpu", path, "cpu.cfs_quota_us", res->cpu_quota > 0 ? res->cpu_quota : -1, err);
	if (r == 0 && have("cpuset"))
		r = cpuset_inherit(path, err);
	if (r == 0 && have("cpuset") && res->cpuset_cpus && *res->cpuset_cpus)
		r = write_file("cpuset", path, "cpuset.cpus", res->cpuset_cpus, err);
	if (r == 0 && have("cpuset") && res->cpuset_mems && *res->cpuset_mems)
		r = write_file("cpuset", path, "cpuset.mems", res->cpuset_mems, err);
	if (r == 0 && have("pids") && res->pids_limit != RT_UNSET)
		r = res->pids_limit > 0 ? write_int("pids", path, "pids.max", res->pids_limit, err)
					: write_file("pids", path, "pids.max", "max", err);
	if (r == 0 && v2_root())
		r = apply_v2(res, path, err);
	return r;
}

static int apply(const rt_spec_t *s, const char *path, crl_error_t *err)
{
	int r = apply_resources(&s->resources, path, err);
	if (r == 0)
		r = devices_apply(&s->resources, path, err);
	return r;
}

int rt_cgroup_update(rt_cgroup_t *cg, const rt_resources_t *res, crl_error_t *err)
{
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

/* "key value" lines of a stat file: keys[i]'s value into *vals[i] (0 when it has none), in one read. */
static void read_keys(const rt_cgroup_t *cg, const char *ctrl, const char *file, const char *const keys[],
		      uint64_t *const vals[], size_t n)
{
	char p[4096], line[256];
	file_path(p, sizeof(p), ctrl, cg->path, file);
	for (size_t i = 0; i < n; i++)
		*vals[i] = 0;
	FILE *f = fopen(p, "re");
	size_t found = 0;
	while (f && found < n && fgets(line, sizeof(line), f))
		for (size_t i = 0; i < n; i++) {
			size_t kl = strlen(keys[i]);
			if (strncmp(line, keys[i], kl) == 0 && line[kl] == ' ') {
				*vals[i] = strtoull(line + kl + 1, NULL, 10);
				found++;
				break;
			}
		}
	if (f)
		fclose(f);
}

static uint64_t read_keyed(const rt_cgroup_t *cg, const char *ctrl, const char *file, const char *key)
{
	uint64_t v = 0;
	read_keys(cg, ctrl, file, &key, (uint64_t *const[]){ &v }, 1);
	return v;
}

int rt_cgroup_stats(const rt_cgroup_t *cg, rt_cgroup_stats_t *st, crl_error_t *err)
{
	(void)err;
	memset(st, 0, sizeof(*st));
	/* Each figure from the v1 controller where it is mounted, else from the v2 hierarchy. */
	if (have("cpuacct"))
		st->cpu_usage_ns = read_u64(cg, "cpuacct", "cpuacct.usage");
	else
		st->cpu_usage_ns = read_keyed(cg, NULL, "cpu.stat", "usage_usec") * 1000;
	uint64_t inactive;
	if (have("memory")) {
		st->memory_usage = read_u64(cg, "memory", "memory.usage_in_bytes");
		read_keys(cg, "memory", "memory.stat",
			  (const char *const[]){ "total_inactive_file", "total_rss", "total_pgfault", "total_pgmajfault" },
			  (uint64_t *const[]){ &inactive, &st->memory_rss, &st->page_faults, &st->major_page_faults }, 4);
		st->memory_limit = read_u64(cg, "memory", "memory.limit_in_bytes");
		st->oom_kills = read_keyed(cg, "memory", "memory.oom_control", "oom_kill");
		/* memsw counts memory and swap together (where swap accounting is on). */
		uint64_t memsw = read_u64(cg, "memory", "memory.memsw.usage_in_bytes");
		st->swap_usage = memsw > st->memory_usage ? memsw - st->memory_usage : 0;
	} else {
		st->memory_usage = read_u64(cg, NULL, "memory.current");
		read_keys(cg, NULL, "memory.stat", (const char *const[]){ "inactive_file", "anon", "pgfault", "pgmajfault" },
			  (uint64_t *const[]){ &inactive, &st->memory_rss, &st->page_faults, &st->major_page_faults }, 4);
		st->memory_limit = read_u64(cg, NULL, "memory.max"); /* "max" reads as 0 */
		st->oom_kills = read_keyed(cg, NULL, "memory.events", "oom_kill");
		st->swap_usage = read_u64(cg, NULL, "memory.swap.current");
	}
	st->memory_working_set = st->memory_usage > inactive ? st->memory_usage - inactive : 0;
	const char *pids = have("pids") ? "pids" : NULL;
	st->pids_current = read_u64(cg, pids, "pids.current");
	st->pids_limit = read_u64(cg, pids, "pids.max"); /* "max" reads as 0 */
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

/* The cgroup's directory in every hierarchy. */
static int make_dirs(const char *path, rt_cgroup_t **ret, crl_error_t *err)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(controllers); i++) {
		if (!have(controllers[i]))
			continue;
		char p[1200];
		snprintf(p, sizeof(p), CG_ROOT "/%s%s", controllers[i], path);
		int r = crl_fs_mkdir_p(p, 0755, err);
		if (r < 0)
			return r;
	}
	if (v2_root()) {
		int r = v2_create(path, err);
		if (r < 0)
			return r;
	}
	return rt_cgroup_open(path, ret, err);
}

/* A cgroup just made: handed over when r (what applying its settings gave) is 0, else removed again. */
static int made(rt_cgroup_t *cg, int r, rt_cgroup_t **ret)
{
	if (r == 0) {
		*ret = cg;
		return 0;
	}
	crl_error_t e = CRL_ERROR_INIT;
	rt_cgroup_destroy(cg, &e);
	crl_error_clear(&e);
	rt_cgroup_free(cg);
	return r;
}

int rt_cgroup_create_parent(const char *path, const rt_resources_t *res, rt_cgroup_t **ret, crl_error_t *err)
{
	if (!path_ok(path))
		return crl_error_set(err, EINVAL, "cgroup path '%s' is not a clean absolute path", path ? path : "");
	rt_cgroup_t *cg = NULL;
	int r = make_dirs(path, &cg, err);
	if (r < 0)
		return r;
	/* cpuset children need cpus and mems before anything joins them, whatever res says. */
	return made(cg, apply_resources(res, path, err), ret);
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
	/* Devices are restricted by the v1 controller or a BPF program on the v2 hierarchy: one of them must exist. */
	if (!have("devices") && !v2_root())
		return crl_error_set(err, EOPNOTSUPP, "neither a cgroup v1 devices controller nor a cgroup v2 hierarchy: "
						      "devices cannot be restricted");
	rt_cgroup_t *cg = NULL;
	int r = make_dirs(path, &cg, err);
	if (r < 0)
		return r;
	return made(cg, apply(s, path, err), ret);
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
	if (v2_root())
		return v2_write_int(cg->path, "cgroup.procs", pid, err);
	return 0;
}

int rt_cgroup_pids(const rt_cgroup_t *cg, pid_t **ret, size_t *ret_n, crl_error_t *err)
{
	/* Any hierarchy the container is in lists all its processes; pids is in every container's set. */
	static const char *const order[] = { "pids", "memory", "cpu", "devices", "freezer" };
	char p[4096];
	p[0] = '\0';
	for (size_t i = 0; i < CRL_ARRAY_SIZE(order) && !p[0]; i++)
		if (have(order[i]))
			file_path(p, sizeof(p), order[i], cg->path, "cgroup.procs");
	if (!p[0])
		file_path(p, sizeof(p), NULL, cg->path, "cgroup.procs");
	_cleanup_free_ char *text = NULL;
	if (crl_fs_read_file(AT_FDCWD, p, 1 << 22, &text, NULL, err) < 0)
		return crl_error_wrap(err, "processes of cgroup %s", cg->path);
	size_t n = 0, cap = 16;
	pid_t *pids = malloc(cap * sizeof(*pids));
	for (char *save = NULL, *t = strtok_r(text, "\n", &save); pids && t; t = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			pid_t *np = realloc(pids, (cap *= 2) * sizeof(*pids));
			if (!np) {
				free(pids);
				pids = NULL;
				break;
			}
			pids = np;
		}
		pids[n++] = (pid_t)strtol(t, NULL, 10);
	}
	if (!pids)
		return crl_error_set(err, ENOMEM, "out of memory");
	*ret = pids;
	*ret_n = n;
	return 0;
}

/* Calls fn for each cgroup directly below p. */
static void each_child(const char *p, void (*fn)(const char *sub, int depth, void *arg), int depth, void *arg)
{
	DIR *d = opendir(p);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		char sub[4096];
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name) < sizeof(sub))
			fn(sub, depth + 1, arg);
	}
	if (d)
		closedir(d);
}

static int remove_dir(const char *p, bool tree, int depth);

static void remove_child(const char *sub, int depth, void *arg)
{
	(void)arg;
	(void)remove_dir(sub, true, depth);
}

/* Removes the cgroup directory p, and with tree the empty cgroups below it first (depth first, bounded). */
static int remove_dir(const char *p, bool tree, int depth)
{
	if (tree && depth < 16)
		each_child(p, remove_child, depth, NULL);
	return rmdir(p) < 0 && errno != ENOENT ? -errno : 0;
}

static size_t kill_dir(const char *p, int depth);

static void kill_child(const char *sub, int depth, void *arg)
{
	*(size_t *)arg += kill_dir(sub, depth);
}

/* SIGKILL to every process listed in p/cgroup.procs and below; the number signalled. */
static size_t kill_dir(const char *p, int depth)
{
	size_t n = 0;
	char f[4200];
	snprintf(f, sizeof(f), "%s/cgroup.procs", p);
	FILE *in = fopen(f, "re");
	int pid;
	while (in && fscanf(in, "%d", &pid) == 1)
		if (pid > 1 && kill(pid, SIGKILL) == 0)
			n++;
	if (in)
		fclose(in);
	if (depth < 16)
		each_child(p, kill_child, depth, &n);
	return n;
}

/* fn on the cgroup's directory in every hierarchy it may have one in: on a cgroup v2 host the one hierarchy, else
 * each one mounted below the root, the v2 one of a hybrid host and named ones too (runc makes its cgroups in
 * name=systemd as well, and the pod's with them). */
static void each_dir(const char *path, void (*fn)(const char *dir, void *arg), void *arg)
{
	char p[4096];
	const char *v2 = v2_root();
	if (v2 && strcmp(v2, CG_ROOT) == 0) {
		snprintf(p, sizeof(p), "%s%s", v2, path);
		fn(p, arg);
		return;
	}
	DIR *d = opendir(CG_ROOT);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_type == DT_DIR && de->d_name[0] != '.' &&
		    (size_t)snprintf(p, sizeof(p), CG_ROOT "/%s%s", de->d_name, path) < sizeof(p))
			fn(p, arg);
	if (d)
		closedir(d);
}

static void kill_one(const char *dir, void *arg)
{
	*(size_t *)arg += kill_dir(dir, 0);
}

size_t rt_cgroup_kill_tree(const rt_cgroup_t *cg)
{
	size_t n = 0;
	each_dir(cg->path, kill_one, &n);
	return n;
}

typedef struct {
	bool tree;
	int ret;
	crl_error_t *err;
} destroy_t;

static void destroy_one(const char *dir, void *arg)
{
	destroy_t *x = arg;
	int e = remove_dir(dir, x->tree, 0);
	if (e < 0 && x->ret == 0)
		x->ret = crl_error_set_errno(x->err, -e, "remove cgroup %s", dir);
}

static int destroy(rt_cgroup_t *cg, bool tree, crl_error_t *err)
{
	destroy_t x = { .tree = tree, .err = err };
	each_dir(cg->path, destroy_one, &x);
	return x.ret;
}

int rt_cgroup_destroy(rt_cgroup_t *cg, crl_error_t *err)
{
	return destroy(cg, false, err);
}

int rt_cgroup_destroy_tree(rt_cgroup_t *cg, crl_error_t *err)
{
	return destroy(cg, true, err);
}
