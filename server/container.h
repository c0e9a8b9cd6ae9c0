/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "common/error.h"
#include "common/json.h"
#include "store.h"

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_pod srv_pod_t;

/* A container of a pod: its bundle under <root>/containers/<id>/ (config.json, rootfs mount point, upper and work
 * dirs of its overlay), run by its pod's monitor. Its record, <root>/containers/<id>.json, is written before the
 * monitor creates it and after each change of state, so a daemon killed at any point finds at start what to
 * remove (a create cut short) or to take up again. */

typedef enum srv_ctr_state {
	SRV_CTR_CREATING = 0, /* CreateContainer has not finished: removed at start */
	SRV_CTR_CREATED,
	SRV_CTR_RUNNING,
	SRV_CTR_EXITED,
	SRV_CTR_UNKNOWN,
} srv_ctr_state_t;

#define SRV_CTR_RECORD_VERSION 1

typedef struct srv_ctr {
	srv_obj_t obj;
	pthread_mutex_t op_lock; /* one lifecycle call at a time */
	pthread_mutex_t lock;    /* the fields under "changing" */
	/* Writing the record and removing it: an exit taken in by another thread never writes it back after the
	 * removal took it away. */
	pthread_mutex_t record_lock;
	bool record_gone;
	/* Held from a start's state change to its STARTED event, and by whoever takes an exit in from there to its
	 * STOPPED event: a container that exits at once is still STARTED before it is STOPPED. */
	pthread_mutex_t event_lock;

	/* fixed */
	char pod_id[SRV_ID_LEN + 1];
	char *pod_dir; /* the pod's monitor directory */
	Runtime__V1__ContainerConfig *config;
	char *config_b64;
	char *image_id, *image_ref; /* the image's id (config digest) and the reference that named it */
	char *bundle;
	char *log_path;
	char *cgroup; /* <pod cgroup>/<id> */
	int stop_signal;
	int64_t created_at;
	/* The user as applied (ContainerStatus.user). */
	int64_t uid, gid;
	int64_t groups[64];
	size_t n_groups;

	/* changing */
	srv_ctr_state_t state;
	int64_t started_at, finished_at;
	int exit_code;
	bool oom_killed;
	char *reason, *message;
	/* Limits set by UpdateContainerResources since creation (NULL: the config's), and their packed form. */
	Runtime__V1__LinuxContainerResources *resources;
	char *resources_b64;
	/* The last stats sample, for usage_nano_cores (cpu time over wall time since then). */
	uint64_t last_cpu_ns;
	int64_t last_sample_ns;
	bool removed;
} srv_ctr_t;

int srv_ctr_new(const char *id, const char *name, const srv_pod_t *pod, const Runtime__V1__ContainerConfig *config,
		srv_ctr_t **ret, crl_error_t *err);
srv_ctr_t *srv_ctr_of(srv_obj_t *o);
static inline void srv_ctr_unref(srv_ctr_t *c)
{
	if (c)
		srv_obj_unref(&c->obj);
}
int srv_ctr_get(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err);
/* The same for a container that runs (its exit taken in first); EBUSY "container X is not running" otherwise. */
int srv_ctr_get_running(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err);
/* The pod's containers, each with a reference (free with srv_store_list_free). */
int srv_ctrs_of_pod(srv_daemon_t *d, const char *pod_id, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err);

int srv_ctr_save(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err);
/* The record before the monitor creates the container, without fsync: after a daemon crash it is there to undo
 * the create; after a power loss the container is gone anyway, and a bundle left without a record is removed at
 * start. */
int srv_ctr_save_intent(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err);
int srv_ctr_load(srv_daemon_t *d, const char *file, srv_ctr_t **ret, crl_error_t *err);
/* A running container whose exit the monitor has recorded becomes EXITED (code, reason, finish time). Cheap:
 * one stat while it runs. */
void srv_ctr_refresh(srv_daemon_t *d, srv_ctr_t *c);

/* One request about c to its pod's monitor: op (start, kill with sig, delete, reopen_log ...) and its id. */
int srv_ctr_monitor(srv_ctr_t *c, const char *op, int sig, crl_error_t *err);
/* A request of the monitor protocol about c, begun: {"v", "op", "id"; the caller adds its members and ends the
 * object (crl_json_object_end). */
crl_json_t *srv_ctr_request(const srv_ctr_t *c, const char *op);
/* Stops c: sig (0: its stop signal), then SIGKILL after timeout_s; success when it has exited. Takes op_lock. */
int srv_ctr_stop(srv_daemon_t *d, srv_ctr_t *c, int64_t timeout_s, crl_error_t *err);
/* Stops c at once and removes everything it has (monitor's container, bundle, record, name). */
int srv_ctr_remove(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err);
/* Publishes a CONTAINER_* event with the container's status. */
void srv_ctr_event(srv_daemon_t *d, srv_ctr_t *c, Runtime__V1__ContainerEventType type);

struct srv_arena;
/* The container's ContainerStatus on a (pointing into the container: hold a reference until it is packed). */
int srv_ctr_status_fill(struct srv_arena *a, srv_ctr_t *c, Runtime__V1__ContainerStatus *s);

/* At start, after the pods: every container record read back; creates cut short removed; exits that happened
 * while the daemon was down taken from the exit records. */
int srv_ctrs_restore(srv_daemon_t *d, crl_error_t *err);
