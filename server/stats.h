/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

/* What the stats calls (container_stats.c) and the metrics calls (sandbox_metrics.c) share. */

#include "runtime/cgroup.h"

typedef struct srv_pod srv_pod_t;
typedef struct srv_ctr srv_ctr_t;

/* A cgroup limit at or above this is no limit (the kernel's "max" reads as a huge number). */
#define SRV_NO_LIMIT (1ULL << 62)
/* Interfaces of a pod's network namespace read at most. */
#define SRV_MAX_IFACES 32

/* One line of /proc/net/dev: rx bytes packets errs drop fifo frame compressed multicast, then tx bytes packets
 * errs drop fifo colls carrier compressed. */
typedef struct srv_netdev {
	char name[IF_NAMESIZE + 1];
	uint64_t v[16];
} srv_netdev_t;

/* The interfaces of the pod's network namespace (none for a host-network pod), lo with with_lo, read through its
 * monitor's /proc/<pid>/net/dev: no netns switch, no fork. */
int srv_pod_netdev(srv_pod_t *p, srv_netdev_t *out, size_t max, bool with_lo, size_t *ret_n);
/* One read of the cgroup at path (zeroes when it is gone or NULL). */
void srv_cgroup_sample(const char *path, rt_cgroup_stats_t *st);
/* The writable layer: bytes and inodes of the container's overlay upper dir (zeroes when unreadable). */
void srv_ctr_layer_usage(const srv_ctr_t *c, uint64_t *bytes, uint64_t *inodes);
