/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api.pb-c.h"
#include "common/error.h"
#include "pod_config.h"
#include "store.h"

typedef struct srv_daemon srv_daemon_t;

/* A pod sandbox: its monitor (which holds its namespaces), its network (CNI), its files and cgroup.
 * Its record, <root>/pods/<id>.json, is written before each step that leaves something behind, so a daemon
 * killed at any point finds at start what to undo or to take up again. */

typedef enum srv_pod_state {
	SRV_POD_CREATING = 0, /* RunPodSandbox has not finished: undone at start */
	SRV_POD_READY,
	SRV_POD_NOTREADY,
} srv_pod_state_t;

#define SRV_POD_RECORD_VERSION 1

typedef struct srv_pod {
	srv_obj_t obj;
	/* One lifecycle call (run, stop, remove) at a time on a pod; never held by quick calls. */
	pthread_mutex_t op_lock;
	/* Guards what changes (below "changing"); held only to read or write those fields, never across a
	 * monitor round trip, a CNI exec or a disk write. */
	pthread_mutex_t lock;

	/* fixed once created */
	Runtime__V1__PodSandboxConfig *config;
	char *config_b64; /* the config as it came, packed, for the record */
	char *runtime_handler;
	int64_t created_at; /* ns */
	srv_pod_ns_t ns; /* target_id points into config */
	char *dir;    /* <runroot>/pods/<id>: monitor socket, pinned namespaces, resolv.conf, hostname, shm */
	char *cgroup; /* the pod's cgroup (cgroupfs path), or NULL */

	/* changing */
	srv_pod_state_t state;
	char **ips;        /* NULL-terminated, may be NULL */
	char *cni_cache;   /* what CNI DEL needs (cni_add's cache, or the pending one before ADD ran) */
	bool cni_added;    /* cni_cache has the result of an ADD that finished */
	bool network_down; /* DEL has run since */
	pid_t monitor_pid;
	/* The last stats sample, for usage_nano_cores. */
	uint64_t last_cpu_ns;
	int64_t last_sample_ns;
	bool removed;
} srv_pod_t;

/* A pod from a checked config; config_pb is the packed config (kept for the record). */
int srv_pod_new(const char *id, const char *name, const Runtime__V1__PodSandboxConfig *config,
		const char *runtime_handler, srv_pod_t **ret, crl_error_t *err);
srv_pod_t *srv_pod_of(srv_obj_t *o);
static inline void srv_pod_unref(srv_pod_t *p)
{
	if (p)
		srv_obj_unref(&p->obj);
}
/* The pod by id or unique prefix, with a reference. */
int srv_pod_get(srv_daemon_t *d, const char *id, srv_pod_t **ret, crl_error_t *err);

/* Writes the record atomically (temp file, fsync, rename). */
int srv_pod_save(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err);
/* Reads <root>/pods/<name>; refuses a version it does not know. */
int srv_pod_load(srv_daemon_t *d, const char *file, srv_pod_t **ret, crl_error_t *err);

/* Starts the pod's monitor (namespaces, hostname, sysctls) and waits until it serves. */
int srv_pod_start_monitor(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err);
/* Whether the pod's monitor answers. */
bool srv_pod_monitor_alive(srv_pod_t *p);
/* CNI DEL, once: with the cached result (or, for an ADD cut short, the pending cache). 1 when it ran now, 0 when
 * there was nothing to take down. */
int srv_pod_network_down(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err);
/* Everything the pod holds, undone in reverse; each step tolerates what is already gone. The record goes
 * last, so a teardown cut short is taken up again at start. */
int srv_pod_teardown(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err);
/* The pod's network namespace path ("" on the node's network). */
const char *srv_pod_netns(const srv_pod_t *p, char *buf, size_t size);

struct srv_arena;
/* The pod's PodSandboxStatus on a (pointing into the pod: hold a reference until it is packed). */
int srv_pod_status_fill(struct srv_arena *a, srv_pod_t *p, Runtime__V1__PodSandboxStatus *s);

/* At start: every record read back; pods cut off half way torn down, the rest listed (NOTREADY where their
 * monitor is gone). */
int srv_pods_restore(srv_daemon_t *d, crl_error_t *err);
