/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The OCI runtime spec (config.json) as the runtime library uses it. Fields the library does not implement are
 * refused with an error naming them rather than silently ignored when ignoring them would weaken isolation
 * (an unknown namespace type, an unknown capability, a seccomp action it cannot express). */

#define RT_SPEC_MAX_BYTES (4 * 1024 * 1024)
#define RT_CAP_SETS 5 /* bounding, effective, inheritable, permitted, ambient */

enum { RT_CAP_BOUNDING, RT_CAP_EFFECTIVE, RT_CAP_INHERITABLE, RT_CAP_PERMITTED, RT_CAP_AMBIENT };

typedef struct rt_mount {
	char *destination;
	char *type;
	char *source;
	char **options; /* NULL-terminated */
} rt_mount_t;

typedef struct rt_namespace {
	int type;   /* CLONE_NEWNS, CLONE_NEWPID, ... */
	char *path; /* join this one instead of making a new one */
} rt_namespace_t;

typedef struct rt_rlimit {
	int resource;
	uint64_t soft, hard;
} rt_rlimit_t;

typedef struct rt_seccomp_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare */
} rt_seccomp_arg_t;

typedef struct rt_seccomp_rule {
	char **names;
	uint32_t action; /* SCMP_ACT_* */
	rt_seccomp_arg_t *args;
	size_t n_args;
} rt_seccomp_rule_t;

typedef struct rt_seccomp {
	uint32_t default_action;
	char **architectures;
	rt_seccomp_rule_t *rules;
	size_t n_rules;
} rt_seccomp_t;

typedef struct rt_idmap {
	uint32_t container_id, host_id, size;
} rt_idmap_t;

struct rt_kv;
typedef struct rt_kv {
	char *key;
	char *value;
} rt_kv_t;

typedef struct rt_hugepage_limit {
	char *page_size; /* "2MB", "1GB" */
	uint64_t limit;
} rt_hugepage_limit_t;

/* linux.devices: a node made in the container's /dev. */
typedef struct rt_device {
	char *path;    /* absolute, below /dev/ */
	unsigned type; /* S_IFCHR, S_IFBLK or S_IFIFO */
	uint32_t major, minor;
	uint32_t mode; /* permission bits, 0666 when the spec gives none */
	uint32_t uid, gid;
} rt_device_t;

/* linux.resources.devices: the device cgroup's rules, in order; the last one that matches an access decides. */
enum { RT_DEV_MKNOD = 1, RT_DEV_READ = 2, RT_DEV_WRITE = 4 };
typedef struct rt_dev_rule {
	bool allow;
	char type;            /* 'a' (both), 'c', 'b' */
	int64_t major, minor; /* -1: any */
	unsigned access;      /* RT_DEV_* bits */
} rt_dev_rule_t;

#define RT_MAX_DEVICES 1024

#define RT_UNSET INT64_MIN

typedef struct rt_resources {
	/* RT_UNSET: not given (left as it is); -1 where OCI means unlimited (memory, swap, quota, pids). */
	int64_t memory_limit, memory_swap; /* swap: memory + swap, as OCI and cgroup v1 count it */
	int64_t cpu_shares, cpu_quota, cpu_period;
	char *cpuset_cpus, *cpuset_mems;
	int64_t pids_limit;
	rt_hugepage_limit_t *hugepages;
	size_t n_hugepages;
	struct rt_kv *unified; /* cgroup v2 files and values, written as they are */
	size_t n_unified;
	rt_dev_rule_t *devices;
	size_t n_devices;
} rt_resources_t;
/* Every figure not given, no list. */
#define RT_RESOURCES_UNSET                                                                                       \
	((rt_resources_t){ .memory_limit = RT_UNSET, .memory_swap = RT_UNSET, .cpu_shares = RT_UNSET,               \
			   .cpu_quota = RT_UNSET, .cpu_period = RT_UNSET, .pids_limit = RT_UNSET })

typedef struct rt_spec {
	char *root_path;
	bool root_readonly;
	char *hostname;
	/* process */
	bool terminal;
	uint32_t uid, gid;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	int umask; /* -1: unset (0022) */
	char **args, **env;
	char *cwd;
	bool has_caps;
	uint64_t caps[RT_CAP_SETS];
	rt_rlimit_t *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	/* mounts and linux */
	rt_mount_t *mounts;
	size_t n_mounts;
	rt_namespace_t *namespaces;
	size_t n_namespaces;
	char *cgroups_path;
	char *rootfs_propagation; /* linux.rootfsPropagation; NULL: rslave */
	rt_idmap_t *uid_mappings, *gid_mappings; /* with a user namespace */
	size_t n_uid_mappings, n_gid_mappings;
	rt_resources_t resources;
	rt_kv_t *sysctl;
	size_t n_sysctl;
	char **masked_paths, **readonly_paths;
	rt_seccomp_t *seccomp;
	char *apparmor_profile; /* process.apparmorProfile; NULL: none */
	rt_device_t *devices;
	size_t n_devices;
	rt_kv_t *annotations;
	size_t n_annotations;
	/* From annotations: the rootfs as an overlay of these layers (top first) and upper/work dirs. */
	char **overlay_lower;
	size_t n_overlay_lower;
	char *overlay_upper, *overlay_work;
} rt_spec_t;

#define RT_ANN_OVERLAY_LOWER "org.crio-lite.overlay.lowerdirs" /* JSON array of absolute paths, top first */
#define RT_ANN_OVERLAY_UPPER "org.crio-lite.overlay.upperdir"
#define RT_ANN_OVERLAY_WORK "org.crio-lite.overlay.workdir"
#define RT_MAX_LAYERS 512
/* "runtime/default": the library's RuntimeDefault seccomp profile (when linux.seccomp is not given). */
#define RT_ANN_SECCOMP_PROFILE "org.crio-lite.seccomp.profile"

int rt_spec_parse(const char *json, rt_spec_t **ret, crl_error_t *err);
/* Replaces the process of s (args, env, cwd, user, capabilities, rlimits, noNewPrivileges, oomScoreAdj,
 * apparmorProfile, terminal) with a process object given as JSON: an exec's own process, as runc's exec
 * --process takes it. */
int rt_spec_parse_process(const char *json, rt_spec_t *s, crl_error_t *err);
/* A LinuxResources object as JSON (runc's update --resources); fields not given are -1 / NULL. */
int rt_resources_parse(const char *json, rt_resources_t *ret, crl_error_t *err);
void rt_resources_free(rt_resources_t *res);
/* Reads <bundle>/config.json. */
int rt_spec_load(const char *bundle, rt_spec_t **ret, crl_error_t *err);
void rt_spec_free(rt_spec_t *s);
/* The namespace of that type, or NULL. */
const rt_namespace_t *rt_spec_namespace(const rt_spec_t *s, int type);
/* "CAP_CHOWN" -> 0 ...; -1 when unknown. */
int rt_cap_from_name(const char *name);
/* "CAP_CHOWN" for 0 ...; NULL past the last one the library knows. */
const char *rt_cap_name(int cap);
