/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "spec.h"

/* cgroupfs driver for v1, v2 and hybrid hosts behind one interface: each resource goes to its v1 controller
 * where one is mounted, else to the v2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host);
 * devices to the v1 controller and, on the v2 hierarchy, a BPF device program (devices.h). A container's cgroup
 * is spec cgroupsPath (absolute below each hierarchy's root; a relative path is placed below /crio-lite), or
 * /crio-lite/<id>. This machine is hybrid (v2 holds only hugetlb): the pure v2 memory, cpu and pids paths are
 * checked by tests/unit/test_cgroup_v2.c against a v2 host's file layout. */

typedef struct rt_cgroup rt_cgroup_t;

/* Creates the cgroup in every controller and applies the spec's resources and the devices allowlist. */
int rt_cgroup_create(const rt_spec_t *s, const char *id, rt_cgroup_t **ret, crl_error_t *err);
/* A cgroup that holds others (a pod's): created in every controller with res applied (RT_UNSET fields left as
 * they are) and no device rules, so the containers below it keep their own. */
int rt_cgroup_create_parent(const char *path, const rt_resources_t *res, rt_cgroup_t **ret, crl_error_t *err);
/* Reopens an existing container's cgroup (state, delete). */
int rt_cgroup_open(const char *path, rt_cgroup_t **ret, crl_error_t *err);
int rt_cgroup_add(rt_cgroup_t *cg, pid_t pid, crl_error_t *err);
/* Applies new resource limits (the spec's fields that are set) to an existing cgroup. */
int rt_cgroup_update(rt_cgroup_t *cg, const rt_resources_t *res, crl_error_t *err);

typedef struct rt_cgroup_stats {
	uint64_t cpu_usage_ns;
	uint64_t memory_usage;
	uint64_t memory_working_set; /* usage minus inactive file pages, as kubelet counts it */
	uint64_t memory_rss;         /* anonymous memory */
	uint64_t page_faults, major_page_faults;
	uint64_t swap_usage;
	uint64_t memory_limit;
	uint64_t oom_kills;
	uint64_t pids_current;
	uint64_t pids_limit; /* 0: none */
} rt_cgroup_stats_t;

int rt_cgroup_stats(const rt_cgroup_t *cg, rt_cgroup_stats_t *ret, crl_error_t *err);
/* The processes in the cgroup (cgroup.procs of a v1 hierarchy that has it, else the v2 one). */
int rt_cgroup_pids(const rt_cgroup_t *cg, pid_t **ret, size_t *ret_n, crl_error_t *err);
/* Removes the cgroup directories (they must hold no process), in every hierarchy that has one, named ones too. */
int rt_cgroup_destroy(rt_cgroup_t *cg, crl_error_t *err);
/* The same with the empty cgroups below it (a pod's, whose containers' a crash may have left). */
int rt_cgroup_destroy_tree(rt_cgroup_t *cg, crl_error_t *err);
/* SIGKILL to every process in the cgroup and below it (what a pod's containers left, before the pod goes); the
 * number of signals sent (a process listed in several hierarchies counts in each). */
size_t rt_cgroup_kill_tree(const rt_cgroup_t *cg);
void rt_cgroup_free(rt_cgroup_t *cg);
const char *rt_cgroup_path(const rt_cgroup_t *cg);
/* Reads a value from controller/file, e.g. ("memory", "memory.limit_in_bytes"); controller NULL: the v2
 * hierarchy. */
int rt_cgroup_read(const rt_cgroup_t *cg, const char *controller, const char *file, char *buf, size_t n,
		   crl_error_t *err);
