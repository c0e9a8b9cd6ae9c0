/* SPDX-License-Identifier: Apache-2.0 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "security.h"

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

const char *rt_cap_name(int cap)
{
	return cap >= 0 && (size_t)cap < CRL_ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int rt_cap_from_name(const char *name)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(cap_names); i++)
		if (strcmp(cap_names[i], name) == 0)
			return (int)i;
	return -1;
}

static void kv_free(rt_kv_t *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void strv_free(char **v)
{
	crl_strv_free(v);
}

/* Frees the process fields of s, for a new process object to take their place. */
static void clear_process(rt_spec_t *s)
{
	strv_free(s->args);
	strv_free(s->env);
	free(s->cwd);
	free(s->additional_gids);
	free(s->rlimits);
	free(s->apparmor_profile);
	s->args = s->env = NULL;
	s->cwd = s->apparmor_profile = NULL;
	s->additional_gids = NULL;
	s->rlimits = NULL;
	s->n_additional_gids = s->n_rlimits = 0;
	s->terminal = s->has_caps = s->no_new_privileges = s->has_oom_score_adj = false;
	memset(s->caps, 0, sizeof(s->caps));
	s->uid = s->gid = 0;
	s->umask = -1;
	s->oom_score_adj = 0;
}

void rt_spec_free(rt_spec_t *s)
{
	if (!s)
		return;
	clear_process(s);
	free(s->root_path);
	free(s->hostname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		strv_free(s->mounts[i].options);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->n_namespaces; i++)
		free(s->namespaces[i].path);
	free(s->namespaces);
	free(s->cgroups_path);
	free(s->rootfs_propagation);
	free(s->uid_mappings);
	free(s->gid_mappings);
	rt_resources_free(&s->resources);
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	kv_free(s->sysctl, s->n_sysctl);
	kv_free(s->annotations, s->n_annotations);
	strv_free(s->overlay_lower);
	free(s->overlay_upper);
	free(s->overlay_work);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	if (s->seccomp) {
		strv_free(s->seccomp->architectures);
		for (size_t i = 0; i < s->seccomp->n_rules; i++) {
			strv_free(s->seccomp->rules[i].names);
			free(s->seccomp->rules[i].args);
		}
		free(s->seccomp->rules);
		free(s->seccomp);
	}
	free(s);
}

const rt_namespace_t *rt_spec_namespace(const rt_spec_t *s, int type)
{
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (s->namespaces[i].type == type)
			return &s->namespaces[i];
	return NULL;
}

/* --- helpers over the JSON tree --- */

typedef const crl_json_value_t jv;

static int get_str(jv *o, const char *key, const char *where, bool required, char **out, crl_error_t *err)
{
	jv *v = crl_json_get(o, key);
	if (!v) {
		if (required)
			return crl_error_set(err, EINVAL, "config.json: %s.%s is required", where, key);
		return 0;
	}
	const char *s = crl_json_get_string(v);
	if (!s)
		return crl_error_set(err, EINVAL, "config.json: %s.%s must be a string", where, key);
	if (!(*out = strdup(s)))
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int get_bool(jv *o, const char *key, const char *where, bool *out, crl_error_t *err)
{
	jv *v = crl_json_get(o, key);
	if (!v)
		return 0;
	if (!crl_json_get_bool(v, out))
		return crl_error_set(err, EINVAL, "config.json: %s.%s must be a boolean", where, key);
	return 0;
}

static int get_int(jv *o, const char *key, const char *where, int64_t *out, crl_error_t *err)
{
	jv *v = crl_json_get(o, key);
	if (!v)
		return 0;
	if (!crl_json_get_int(v, out))
		return crl_error_set(err, EINVAL, "config.json: %s.%s must be an integer", where, key);
	return 0;
}

static int get_strv(jv *o, const char *key, const char *where, char ***out, crl_error_t *err)
{
	jv *v = crl_json_get(o, key);
	if (!v)
		return 0;
	if (!crl_json_is_array(v))
		return crl_error_set(err, EINVAL, "config.json: %s.%s must be an array of strings", where, key);
	size_t n = crl_json_array_len(v);
	char **list = calloc(n + 1, sizeof(char *));
	if (!list)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *s = crl_json_get_string(crl_json_array_at(v, i));
		if (!s || !(list[i] = strdup(s))) {
			crl_strv_free(list);
			return s ? crl_error_set(err, ENOMEM, "out of memory")
				 : crl_error_set(err, EINVAL, "config.json: %s.%s[%zu] must be a string", where, key, i);
		}
	}
	*out = list;
	return 0;
}

static int parse_caps(jv *caps, uint64_t out[RT_CAP_SETS], crl_error_t *err)
{
	static const char *const sets[RT_CAP_SETS] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
	for (int k = 0; k < RT_CAP_SETS; k++) {
		jv *list = crl_json_get(caps, sets[k]);
		for (size_t i = 0; i < crl_json_array_len(list); i++) {
			const char *name = crl_json_get_string(crl_json_array_at(list, i));
			int c = name ? rt_cap_from_name(name) : -1;
			if (c < 0)
				return crl_error_set(err, EINVAL, "config.json: process.capabilities.%s: unknown capability '%s'",
						     sets[k], name ? name : "(not a string)");
			out[k] |= 1ULL << c;
		}
	}
	return 0;
}

static int parse_rlimits(jv *list, rt_spec_t *s, crl_error_t *err)
{
	static const struct {
		const char *name;
		int res;
	} map[] = {
		{ "RLIMIT_AS", RLIMIT_AS },           { "RLIMIT_CORE", RLIMIT_CORE },       { "RLIMIT_CPU", RLIMIT_CPU },
		{ "RLIMIT_DATA", RLIMIT_DATA },       { "RLIMIT_FSIZE", RLIMIT_FSIZE },     { "RLIMIT_LOCKS", RLIMIT_LOCKS },
		{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },   { "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_RSS", RLIMIT_RSS },
		{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },   { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
		{ "RLIMIT_STACK", RLIMIT_STACK },
	};
	size_t n = crl_json_array_len(list);
	s->rlimits = calloc(n ? n : 1, sizeof(*s->rlimits));
	if (!s->rlimits)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		jv *r = crl_json_array_at(list, i);
		const char *type = crl_json_get_string(crl_json_get(r, "type"));
		int64_t soft = 0, hard = 0;
		int res = -1;
		for (size_t k = 0; type && k < CRL_ARRAY_SIZE(map); k++)
			if (strcmp(type, map[k].name) == 0)
				res = map[k].res;
		if (res < 0)
			return crl_error_set(err, EINVAL, "config.json: process.rlimits[%zu]: unknown type '%s'", i, type ? type : "");
		if (!crl_json_get_int(crl_json_get(r, "soft"), &soft) || !crl_json_get_int(crl_json_get(r, "hard"), &hard))
			return crl_error_set(err, EINVAL, "config.json: process.rlimits[%zu] (%s) needs soft and hard", i, type);
		s->rlimits[s->n_rlimits++] = (rt_rlimit_t){ res, (uint64_t)soft, (uint64_t)hard };
	}
	return 0;
}

static int parse_mounts(jv *list, rt_spec_t *s, crl_error_t *err)
{
	size_t n = crl_json_array_len(list);
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		jv *m = crl_json_array_at(list, i);
		rt_mount_t *o = &s->mounts[s->n_mounts++];
		int r;
		if ((r = get_str(m, "destination", "mounts[]", true, &o->destination, err)) < 0 ||
		    (r = get_str(m, "type", "mounts[]", false, &o->type, err)) < 0 ||
		    (r = get_str(m, "source", "mounts[]", false, &o->source, err)) < 0 ||
		    (r = get_strv(m, "options", "mounts[]", &o->options, err)) < 0)
			return r;
		if (o->destination[0] != '/')
			return crl_error_set(err, EINVAL, "config.json: mounts[%zu].destination '%s' is not absolute", i, o->destination);
	}
	return 0;
}

static int ns_type(const char *t)
{
	static const struct {
		const char *name;
		int flag;
	} map[] = {
		{ "pid", CLONE_NEWPID },     { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS }, { "ipc", CLONE_NEWIPC },
		{ "uts", CLONE_NEWUTS },     { "user", CLONE_NEWUSER },   { "cgroup", CLONE_NEWCGROUP },
	};
	for (size_t i = 0; t && i < CRL_ARRAY_SIZE(map); i++)
		if (strcmp(t, map[i].name) == 0)
			return map[i].flag;
	return 0;
}

static int parse_idmaps(jv *list, const char *what, rt_idmap_t **ret, size_t *ret_n, crl_error_t *err)
{
	size_t n = crl_json_array_len(list);
	if (n > 340)
		return crl_error_set(err, EINVAL, "config.json: linux.%s has more than 340 entries", what);
	rt_idmap_t *m = calloc(n ? n : 1, sizeof(*m));
	if (!m)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		jv *e = crl_json_array_at(list, i);
		int64_t c = -1, h = -1, sz = -1;
		crl_json_get_int(crl_json_get(e, "containerID"), &c);
		crl_json_get_int(crl_json_get(e, "hostID"), &h);
		crl_json_get_int(crl_json_get(e, "size"), &sz);
		if (c < 0 || h < 0 || sz <= 0 || c > 0xFFFFFFFFLL || h > 0xFFFFFFFFLL || sz > 0xFFFFFFFFLL) {
			free(m);
			return crl_error_set(err, EINVAL, "config.json: linux.%s[%zu] needs containerID, hostID and a positive size", what, i);
		}
		m[i] = (rt_idmap_t){ (uint32_t)c, (uint32_t)h, (uint32_t)sz };
	}
	*ret = m;
	*ret_n = n;
	return 0;
}

static int parse_seccomp(jv *sc, rt_spec_t *s, crl_error_t *err)
{
	static const struct {
		const char *name;
		uint32_t act;
	} acts[] = {
		{ "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD }, { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
		{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS }, { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
		{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW }, { "SCMP_ACT_LOG", SCMP_ACT_LOG },
	};
	static const struct {
		const char *name;
		int op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
		{ "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};
	rt_seccomp_t *c = calloc(1, sizeof(*c));
	if (!c)
		return crl_error_set(err, ENOMEM, "out of memory");
	s->seccomp = c;
	/* Actions with an errno: "SCMP_ACT_ERRNO" with errnoRet (default EPERM). */
#define ACTION(obj, what, out)                                                                                        \
	do {                                                                                                          \
		const char *an = crl_json_get_string(crl_json_get(obj, what));                                        \
		int64_t en = EPERM;                                                                                   \
		crl_json_get_int(crl_json_get(obj, "errnoRet"), &en);                                                 \
		if (!an)                                                                                              \
			return crl_error_set(err, EINVAL, "config.json: linux.seccomp: %s is required", what);        \
		if (strcmp(an, "SCMP_ACT_ERRNO") == 0)                                                                \
			out = SCMP_ACT_ERRNO((uint32_t)en);                                                           \
		else {                                                                                                \
			bool found = false;                                                                           \
			for (size_t k = 0; k < CRL_ARRAY_SIZE(acts); k++)                                             \
				if (strcmp(an, acts[k].name) == 0) {                                                  \
					out = acts[k].act;                                                            \
					found = true;                                                                 \
				}                                                                                     \
			if (!found)                                                                                   \
				return crl_error_set(err, EINVAL, "config.json: linux.seccomp: unsupported action '%s'", an); \
		}                                                                                                     \
	} while (0)
	ACTION(sc, "defaultAction", c->default_action);
	int r = get_strv(sc, "architectures", "linux.seccomp", &c->architectures, err);
	if (r < 0)
		return r;
	jv *rules = crl_json_get(sc, "syscalls");
	size_t n = crl_json_array_len(rules);
	c->rules = calloc(n ? n : 1, sizeof(*c->rules));
	if (!c->rules)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		jv *rule = crl_json_array_at(rules, i);
		rt_seccomp_rule_t *o = &c->rules[c->n_rules++];
		if ((r = get_strv(rule, "names", "linux.seccomp.syscalls[]", &o->names, err)) < 0)
			return r;
		if (!o->names)
			return crl_error_set(err, EINVAL, "config.json: linux.seccomp.syscalls[%zu] has no names", i);
		ACTION(rule, "action", o->action);
		jv *args = crl_json_get(rule, "args");
		size_t na = crl_json_array_len(args);
		if (na > 6)
			return crl_error_set(err, EINVAL, "config.json: linux.seccomp.syscalls[%zu]: more than 6 args", i);
		o->args = calloc(na ? na : 1, sizeof(*o->args));
		if (!o->args)
			return crl_error_set(err, ENOMEM, "out of memory");
		for (size_t k = 0; k < na; k++) {
			jv *a = crl_json_array_at(args, k);
			int64_t idx = -1, v = 0, v2 = 0;
			const char *op = crl_json_get_string(crl_json_get(a, "op"));
			crl_json_get_int(crl_json_get(a, "index"), &idx);
			crl_json_get_int(crl_json_get(a, "value"), &v);
			crl_json_get_int(crl_json_get(a, "valueTwo"), &v2);
			int opv = -1;
			for (size_t q = 0; op && q < CRL_ARRAY_SIZE(ops); q++)
				if (strcmp(op, ops[q].name) == 0)
					opv = ops[q].op;
			if (idx < 0 || idx > 5 || opv < 0)
				return crl_error_set(err, EINVAL, "config.json: linux.seccomp.syscalls[%zu].args[%zu] is malformed", i, k);
			o->args[o->n_args++] = (rt_seccomp_arg_t){ (unsigned)idx, (uint64_t)v, (uint64_t)v2, opv };
		}
	}
#undef ACTION
	return 0;
}

/* An optional array of at most RT_MAX_DEVICES entries: its length, and zeroed room for that many elements. */
static int array_room(jv *list, const char *what, size_t elem, void **ret, size_t *ret_n, crl_error_t *err)
{
	if (list && !crl_json_is_array(list))
		return crl_error_set(err, EINVAL, "config.json: %s must be an array", what);
	size_t n = crl_json_array_len(list);
	if (n > RT_MAX_DEVICES)
		return crl_error_set(err, EINVAL, "config.json: %s has %zu entries (at most %d)", what, n, RT_MAX_DEVICES);
	if (!(*ret = calloc(n ? n : 1, elem)))
		return crl_error_set(err, ENOMEM, "out of memory");
	*ret_n = n;
	return 0;
}

/* linux.devices: nodes below /dev only (as runc), each a real device type with its numbers. */
static int parse_devices(jv *list, rt_spec_t *s, crl_error_t *err)
{
	size_t n = 0;
	void *room = NULL;
	int r = array_room(list, "linux.devices", sizeof(*s->devices), &room, &n, err);
	if (r < 0)
		return r;
	s->devices = room;
	for (size_t i = 0; i < n; i++) {
		jv *d = crl_json_array_at(list, i);
		rt_device_t *o = &s->devices[s->n_devices];
		char *type = NULL;
		r = get_str(d, "path", "linux.devices[]", true, &o->path, err);
		if (r == 0)
			s->n_devices++;
		if (r == 0)
			r = get_str(d, "type", "linux.devices[]", true, &type, err);
		if (r < 0) {
			free(type);
			return r;
		}
		bool fifo = strcmp(type, "p") == 0;
		o->type = fifo ? S_IFIFO : strcmp(type, "b") == 0 ? S_IFBLK : strcmp(type, "c") == 0 || strcmp(type, "u") == 0 ? S_IFCHR : 0;
		free(type);
		const char *p = o->path;
		if (strncmp(p, "/dev/", 5) != 0 || !p[5] || strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
		    strlen(p) > 1024 || (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0) || p[strlen(p) - 1] == '/')
			return crl_error_set(err, EINVAL, "config.json: linux.devices[%zu].path '%s' is not a clean path below /dev/", i, p);
		if (!o->type)
			return crl_error_set(err, EINVAL, "config.json: linux.devices[%zu] (%s): type must be c, b, u or p", i, p);
		int64_t major = fifo ? 0 : -1, minor = fifo ? 0 : -1, mode = 0666, uid = 0, gid = 0;
		if ((r = get_int(d, "major", "linux.devices[]", &major, err)) < 0 ||
		    (r = get_int(d, "minor", "linux.devices[]", &minor, err)) < 0 ||
		    (r = get_int(d, "fileMode", "linux.devices[]", &mode, err)) < 0 ||
		    (r = get_int(d, "uid", "linux.devices[]", &uid, err)) < 0 || (r = get_int(d, "gid", "linux.devices[]", &gid, err)) < 0)
			return r;
		if (major < 0 || minor < 0 || major > 0xFFFFFFFFLL || minor > 0xFFFFFFFFLL)
			return crl_error_set(err, EINVAL, "config.json: linux.devices[%zu] (%s) needs a major and a minor number", i, p);
		if (mode < 0 || mode > 07777 || uid < 0 || uid > 0xFFFFFFFFLL || gid < 0 || gid > 0xFFFFFFFFLL)
			return crl_error_set(err, EINVAL, "config.json: linux.devices[%zu] (%s): bad fileMode, uid or gid", i, p);
		o->major = (uint32_t)major;
		o->minor = (uint32_t)minor;
		o->mode = (uint32_t)mode & 07777;
		o->uid = (uint32_t)uid;
		o->gid = (uint32_t)gid;
	}
	return 0;
}

/* linux.resources.devices: allow is required; type a/c/b (default a); access a subset of "rwm" (default all). */
static int parse_dev_rules(jv *list, rt_resources_t *res, crl_error_t *err)
{
	size_t n = 0;
	void *room = NULL;
	int r = array_room(list, "linux.resources.devices", sizeof(*res->devices), &room, &n, err);
	if (r < 0)
		return r;
	res->devices = room;
	for (size_t i = 0; i < n; i++) {
		jv *d = crl_json_array_at(list, i);
		rt_dev_rule_t *o = &res->devices[i];
		if (!crl_json_get_bool(crl_json_get(d, "allow"), &o->allow))
			return crl_error_set(err, EINVAL, "config.json: linux.resources.devices[%zu].allow must be a boolean", i);
		const char *t = crl_json_get_string(crl_json_get(d, "type"));
		const char *acc = crl_json_get_string(crl_json_get(d, "access"));
		if ((crl_json_get(d, "type") && !t) || (crl_json_get(d, "access") && !acc))
			return crl_error_set(err, EINVAL, "config.json: linux.resources.devices[%zu]: type and access must be strings", i);
		o->type = t && *t ? t[0] : 'a';
		if ((t && strlen(t) > 1) || (o->type != 'a' && o->type != 'c' && o->type != 'b'))
			return crl_error_set(err, EINVAL, "config.json: linux.resources.devices[%zu].type '%s' (a, c or b)", i, t);
		o->access = acc && *acc ? 0 : RT_DEV_MKNOD | RT_DEV_READ | RT_DEV_WRITE;
		for (const char *c = acc; c && *c; c++) {
			unsigned bit = *c == 'r' ? RT_DEV_READ : *c == 'w' ? RT_DEV_WRITE : *c == 'm' ? RT_DEV_MKNOD : 0;
			if (!bit)
				return crl_error_set(err, EINVAL, "config.json: linux.resources.devices[%zu].access '%s' (r, w, m)", i, acc);
			o->access |= bit;
		}
		o->major = o->minor = -1;
		jv *mj = crl_json_get(d, "major"), *mn = crl_json_get(d, "minor");
		if ((mj && !crl_json_is_null(mj) && (!crl_json_get_int(mj, &o->major) || o->major < -1 || o->major > 0xFFFFFFFFLL)) ||
		    (mn && !crl_json_is_null(mn) && (!crl_json_get_int(mn, &o->minor) || o->minor < -1 || o->minor > 0xFFFFFFFFLL)))
			return crl_error_set(err, EINVAL, "config.json: linux.resources.devices[%zu]: major and minor are numbers (-1: any)", i);
		res->n_devices++;
	}
	return 0;
}

/* An object of strings as key-value pairs (at most 4096); key_ok (NULL: any key) vets each key. */
static int parse_kv(jv *obj, const char *where, bool (*key_ok)(const char *), rt_kv_t **ret, size_t *ret_n, crl_error_t *err)
{
	if (obj && !crl_json_is_object(obj))
		return crl_error_set(err, EINVAL, "config.json: %s must be an object", where);
	size_t n = crl_json_object_len(obj);
	if (n > 4096)
		return crl_error_set(err, EINVAL, "config.json: %s has %zu entries (at most 4096)", where, n);
	if (!(*ret = calloc(n ? n : 1, sizeof(**ret))))
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *key = crl_json_object_key(obj, i);
		const char *val = crl_json_get_string(crl_json_object_value(obj, i));
		if (!val)
			return crl_error_set(err, EINVAL, "config.json: %s.%s must be a string", where, key);
		if (key_ok && !key_ok(key))
			return crl_error_set(err, EINVAL, "config.json: %s.%s: not a controller file", where, key);
		if (!((*ret)[i].key = strdup(key)) || !((*ret)[i].value = strdup(val)))
			return crl_error_set(err, ENOMEM, "out of memory");
		(*ret_n)++;
	}
	return 0;
}

/* A file of the container's own cgroup: a plain "controller.knob" name. */
static bool cgroup_file_name(const char *k)
{
	return *k && !strchr(k, '/') && !strstr(k, "..") && strchr(k, '.') && strncmp(k, "cgroup.", 7) != 0;
}

/* linux.resources (also what runc's update --resources reads). Fields not given stay unset (-1). */
static int parse_resources(jv *j, rt_resources_t *res, crl_error_t *err)
{
	*res = RT_RESOURCES_UNSET;
	if (j && !crl_json_is_object(j))
		return crl_error_set(err, EINVAL, "config.json: linux.resources must be an object");
	jv *mem = crl_json_get(j, "memory"), *cpu = crl_json_get(j, "cpu"), *pids = crl_json_get(j, "pids");
	int r;
	if ((r = get_int(mem, "limit", "linux.resources.memory", &res->memory_limit, err)) < 0 ||
	    (r = get_int(mem, "swap", "linux.resources.memory", &res->memory_swap, err)) < 0 ||
	    (r = get_int(cpu, "shares", "linux.resources.cpu", &res->cpu_shares, err)) < 0 ||
	    (r = get_int(cpu, "quota", "linux.resources.cpu", &res->cpu_quota, err)) < 0 ||
	    (r = get_int(cpu, "period", "linux.resources.cpu", &res->cpu_period, err)) < 0 ||
	    (r = get_str(cpu, "cpus", "linux.resources.cpu", false, &res->cpuset_cpus, err)) < 0 ||
	    (r = get_str(cpu, "mems", "linux.resources.cpu", false, &res->cpuset_mems, err)) < 0 ||
	    (r = get_int(pids, "limit", "linux.resources.pids", &res->pids_limit, err)) < 0 ||
	    (r = parse_dev_rules(crl_json_get(j, "devices"), res, err)) < 0)
		return r;
	jv *hp = crl_json_get(j, "hugepageLimits");
	size_t nhp = 0;
	void *room = NULL;
	if ((r = array_room(hp, "linux.resources.hugepageLimits", sizeof(*res->hugepages), &room, &nhp, err)) < 0)
		return r;
	res->hugepages = room;
	for (size_t i = 0; i < nhp; i++) {
		jv *e = crl_json_array_at(hp, i);
		const char *ps = crl_json_get_string(crl_json_get(e, "pageSize"));
		int64_t lim = -1;
		crl_json_get_int(crl_json_get(e, "limit"), &lim);
		if (!ps || !*ps || strchr(ps, '/') || strchr(ps, '.') || strlen(ps) > 16 || lim < 0)
			return crl_error_set(err, EINVAL, "config.json: linux.resources.hugepageLimits[%zu] needs a pageSize and a limit", i);
		res->hugepages[i] = (rt_hugepage_limit_t){ strdup(ps), (uint64_t)lim };
		res->n_hugepages++;
	}
	if ((r = parse_kv(crl_json_get(j, "unified"), "linux.resources.unified", cgroup_file_name, &res->unified,
			  &res->n_unified, err)) < 0)
		return r;
	return 0;
}

void rt_resources_free(rt_resources_t *res)
{
	free(res->cpuset_cpus);
	free(res->cpuset_mems);
	for (size_t i = 0; i < res->n_hugepages; i++)
		free(res->hugepages[i].page_size);
	free(res->hugepages);
	kv_free(res->unified, res->n_unified);
	free(res->devices);
	memset(res, 0, sizeof(*res));
}

int rt_resources_parse(const char *json, rt_resources_t *ret, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(json, &doc, err) < 0)
		return crl_error_wrap(err, "resources");
	int r = parse_resources(doc, ret, err);
	crl_json_value_free(doc);
	if (r < 0)
		rt_resources_free(ret);
	return r;
}


/* The process object: what runs, as whom, with which privileges. Also an exec's own process (runc's
 * exec --process). */
static int parse_process(jv *proc, rt_spec_t *s, crl_error_t *err)
{
	if (!crl_json_is_object(proc))
		return crl_error_set(err, EINVAL, "config.json: process is required (an object)");
	jv *user = crl_json_get(proc, "user");
	int64_t v;
	int r;
	if ((r = get_bool(proc, "terminal", "process", &s->terminal, err)) < 0 ||
	    (r = get_strv(proc, "args", "process", &s->args, err)) < 0 || (r = get_strv(proc, "env", "process", &s->env, err)) < 0 ||
	    (r = get_str(proc, "cwd", "process", true, &s->cwd, err)) < 0 ||
	    (r = get_bool(proc, "noNewPrivileges", "process", &s->no_new_privileges, err)) < 0)
		return r;
	if (!s->args || !s->args[0])
		return crl_error_set(err, EINVAL, "config.json: process.args must name a program");
	if (s->cwd[0] != '/')
		return crl_error_set(err, EINVAL, "config.json: process.cwd '%s' is not absolute", s->cwd);
	if (!s->env && !(s->env = calloc(1, sizeof(char *))))
		return crl_error_set(err, ENOMEM, "out of memory");
	v = 0;
	if ((r = get_int(user, "uid", "process.user", &v, err)) < 0)
		return r;
	s->uid = (uint32_t)v;
	v = 0;
	if ((r = get_int(user, "gid", "process.user", &v, err)) < 0)
		return r;
	s->gid = (uint32_t)v;
	v = -1;
	if ((r = get_int(user, "umask", "process.user", &v, err)) < 0)
		return r;
	s->umask = (int)v;
	jv *gids = crl_json_get(user, "additionalGids");
	size_t ng = crl_json_array_len(gids);
	if (ng > 65536)
		return crl_error_set(err, EINVAL, "config.json: too many additionalGids");
	s->additional_gids = calloc(ng ? ng : 1, sizeof(uint32_t));
	for (size_t i = 0; s->additional_gids && i < ng; i++) {
		int64_t g;
		if (!crl_json_get_int(crl_json_array_at(gids, i), &g) || g < 0 || g > 0xFFFFFFFFLL)
			return crl_error_set(err, EINVAL, "config.json: process.user.additionalGids[%zu] is not a gid", i);
		s->additional_gids[s->n_additional_gids++] = (uint32_t)g;
	}
	jv *caps = crl_json_get(proc, "capabilities");
	if (caps) {
		s->has_caps = true;
		if ((r = parse_caps(caps, s->caps, err)) < 0)
			return r;
	}
	if ((r = parse_rlimits(crl_json_get(proc, "rlimits"), s, err)) < 0)
		return r;
	if (crl_json_get(proc, "oomScoreAdj")) {
		int64_t o = 0;
		if ((r = get_int(proc, "oomScoreAdj", "process", &o, err)) < 0)
			return r;
		if (o < -1000 || o > 1000)
			return crl_error_set(err, EINVAL, "config.json: process.oomScoreAdj %lld is outside -1000..1000", (long long)o);
		s->has_oom_score_adj = true;
		s->oom_score_adj = (int)o;
	}
	if ((r = get_str(proc, "apparmorProfile", "process", false, &s->apparmor_profile, err)) < 0)
		return r;
	return 0;
}

int rt_spec_parse_process(const char *json, rt_spec_t *s, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(json, &doc, err) < 0)
		return crl_error_wrap(err, "process.json");
	clear_process(s);
	int r = parse_process(doc, s, err);
	crl_json_value_free(doc);
	return r;
}

int rt_spec_parse(const char *json, rt_spec_t **ret, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(json, &doc, err) < 0)
		return crl_error_wrap(err, "config.json");
	rt_spec_t *s = calloc(1, sizeof(*s));
	int r = 0;
	if (!s) {
		crl_json_value_free(doc);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	s->umask = -1;
	jv *root = crl_json_get(doc, "root");
	jv *proc = crl_json_get(doc, "process");
	jv *linux_ = crl_json_get(doc, "linux");
	if (!crl_json_is_object(doc)) {
		r = crl_error_set(err, EINVAL, "config.json is not a JSON object");
		goto out;
	}
	if ((r = get_str(root, "path", "root", true, &s->root_path, err)) < 0 ||
	    (r = get_bool(root, "readonly", "root", &s->root_readonly, err)) < 0 ||
	    (r = get_str(doc, "hostname", "", false, &s->hostname, err)) < 0 || (r = parse_process(proc, s, err)) < 0)
		goto out;
	if ((r = parse_mounts(crl_json_get(doc, "mounts"), s, err)) < 0)
		goto out;
	jv *nss = crl_json_get(linux_, "namespaces");
	size_t nn = 0;
	void *room = NULL;
	if ((r = array_room(nss, "linux.namespaces", sizeof(*s->namespaces), &room, &nn, err)) < 0)
		goto out;
	s->namespaces = room;
	for (size_t i = 0; i < nn; i++) {
		jv *ns = crl_json_array_at(nss, i);
		const char *t = crl_json_get_string(crl_json_get(ns, "type"));
		int flag = ns_type(t);
		if (!flag) {
			r = crl_error_set(err, EINVAL, "config.json: linux.namespaces[%zu]: unsupported type '%s'", i, t ? t : "");
			goto out;
		}
		if (rt_spec_namespace(s, flag)) {
			r = crl_error_set(err, EINVAL, "config.json: linux.namespaces: '%s' listed twice", t);
			goto out;
		}
		rt_namespace_t *o = &s->namespaces[s->n_namespaces++];
		o->type = flag;
		if ((r = get_str(ns, "path", "linux.namespaces[]", false, &o->path, err)) < 0)
			goto out;
	}
	if ((r = get_str(linux_, "cgroupsPath", "linux", false, &s->cgroups_path, err)) < 0 ||
	    (r = get_str(linux_, "rootfsPropagation", "linux", false, &s->rootfs_propagation, err)) < 0 ||
	    (r = get_strv(linux_, "maskedPaths", "linux", &s->masked_paths, err)) < 0 ||
	    (r = get_strv(linux_, "readonlyPaths", "linux", &s->readonly_paths, err)) < 0)
		goto out;
	if ((r = parse_resources(crl_json_get(linux_, "resources"), &s->resources, err)) < 0)
		goto out;
	if ((r = parse_idmaps(crl_json_get(linux_, "uidMappings"), "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err)) < 0 ||
	    (r = parse_idmaps(crl_json_get(linux_, "gidMappings"), "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err)) < 0)
		goto out;
	const rt_namespace_t *userns = rt_spec_namespace(s, CLONE_NEWUSER);
	if (userns && !userns->path && (!s->n_uid_mappings || !s->n_gid_mappings)) {
		r = crl_error_set(err, EINVAL, "config.json: a new user namespace needs linux.uidMappings and linux.gidMappings");
		goto out;
	}
	if ((r = parse_devices(crl_json_get(linux_, "devices"), s, err)) < 0)
		goto out;
	if ((r = parse_kv(crl_json_get(linux_, "sysctl"), "linux.sysctl", NULL, &s->sysctl, &s->n_sysctl, err)) < 0 ||
	    (r = parse_kv(crl_json_get(doc, "annotations"), "annotations", NULL, &s->annotations, &s->n_annotations, err)) < 0)
		goto out;
	for (size_t i = 0; i < s->n_annotations; i++) {
		const char *key = s->annotations[i].key, *val = s->annotations[i].value;
		if (strcmp(key, RT_ANN_OVERLAY_UPPER) == 0)
			s->overlay_upper = strdup(val);
		else if (strcmp(key, RT_ANN_OVERLAY_WORK) == 0)
			s->overlay_work = strdup(val);
		else if (strcmp(key, RT_ANN_OVERLAY_LOWER) == 0) {
			crl_json_value_t *list = NULL;
			if (crl_json_parse(val, &list, err) < 0) {
				r = crl_error_wrap(err, "config.json: annotation %s", key);
				goto out;
			}
			size_t nl = crl_json_array_len(list);
			if (nl == 0 || nl > RT_MAX_LAYERS) {
				crl_json_value_free(list);
				r = crl_error_set(err, EINVAL, "config.json: annotation %s must list 1 to %d layers", key, RT_MAX_LAYERS);
				goto out;
			}
			s->overlay_lower = calloc(nl + 1, sizeof(char *));
			for (size_t k = 0; s->overlay_lower && k < nl; k++) {
				const char *l = crl_json_get_string(crl_json_array_at(list, k));
				if (!l || l[0] != '/') {
					crl_json_value_free(list);
					r = crl_error_set(err, EINVAL, "config.json: annotation %s: layer %zu is not an absolute path", key, k);
					goto out;
				}
				s->overlay_lower[k] = strdup(l);
				s->n_overlay_lower++;
			}
			crl_json_value_free(list);
		}
	}
	jv *sc = crl_json_get(linux_, "seccomp");
	if (sc && (r = parse_seccomp(sc, s, err)) < 0)
		goto out;
	for (size_t i = 0; !sc && i < s->n_annotations; i++) {
		if (strcmp(s->annotations[i].key, RT_ANN_SECCOMP_PROFILE) != 0)
			continue;
		if (strcmp(s->annotations[i].value, "runtime/default") != 0) {
			r = crl_error_set(err, EINVAL, "config.json: annotation %s: unknown profile '%s' (runtime/default)",
					  RT_ANN_SECCOMP_PROFILE, s->annotations[i].value);
			goto out;
		}
		uint64_t bounding = s->has_caps ? s->caps[RT_CAP_BOUNDING] : ~0ULL;
		if ((r = rt_seccomp_runtime_default(bounding, &s->seccomp, err)) < 0)
			goto out;
	}
out:
	crl_json_value_free(doc);
	if (r < 0) {
		rt_spec_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

int rt_spec_load(const char *bundle, rt_spec_t **ret, crl_error_t *err)
{
	_cleanup_close_ int dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return crl_error_set_errno(err, errno, "bundle %s", bundle);
	_cleanup_free_ char *text = NULL;
	int r = crl_fs_read_file(dfd, "config.json", RT_SPEC_MAX_BYTES, &text, NULL, err);
	if (r < 0)
		return crl_error_wrap(err, "bundle %s", bundle);
	return rt_spec_parse(text, ret, err);
}
