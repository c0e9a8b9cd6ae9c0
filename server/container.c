/* SPDX-License-Identifier: Apache-2.0 */
/* Containers: the object, its record, its exit, stop and removal. */
#include "container.h"
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "container_events.h"
#include "daemon.h"
#include "pod.h"
#include "runtime/monitor/client.h"
#include "state.h"

/* A container killed with SIGKILL is gone within this (its exit is the kernel's business, not its own). */
#define KILL_WAIT_MS 10000
#define MONITOR_CALL_MS 30000

static void ctr_free(srv_obj_t *o)
{
	srv_ctr_t *c = srv_ctr_of(o);
	runtime__v1__container_config__free_unpacked(c->config, NULL);
	free(c->config_b64);
	free(c->pod_dir);
	free(c->image_id);
	free(c->image_ref);
	free(c->bundle);
	free(c->log_path);
	free(c->cgroup);
	free(c->reason);
	free(c->message);
	runtime__v1__linux_container_resources__free_unpacked(c->resources, NULL);
	free(c->resources_b64);
	free(c->obj.name);
	pthread_mutex_destroy(&c->op_lock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->record_lock);
	pthread_mutex_destroy(&c->event_lock);
	free(c);
}

srv_ctr_t *srv_ctr_of(srv_obj_t *o)
{
	return (srv_ctr_t *)o;
}

static int ctr_alloc(const char *id, const char *name, Runtime__V1__ContainerConfig *config, const char *b64,
		     srv_ctr_t **ret, crl_error_t *err)
{
	srv_ctr_t *c = calloc(1, sizeof(*c));
	if (!c) {
		runtime__v1__container_config__free_unpacked(config, NULL);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->op_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->record_lock, NULL);
	pthread_mutex_init(&c->event_lock, NULL);
	c->obj.free = ctr_free;
	atomic_init(&c->obj.refs, 1);
	snprintf(c->obj.id, sizeof(c->obj.id), "%s", id);
	c->config = config;
	c->obj.name = strdup(name);
	c->config_b64 = strdup(b64);
	if (!c->obj.name || !c->config_b64) {
		ctr_free(&c->obj);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = c;
	return 0;
}

int srv_ctr_new(const char *id, const char *name, const srv_pod_t *pod, const Runtime__V1__ContainerConfig *config,
		srv_ctr_t **ret, crl_error_t *err)
{
	size_t len = runtime__v1__container_config__get_packed_size(config);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__container_config__pack(config, buf);
	Runtime__V1__ContainerConfig *copy = runtime__v1__container_config__unpack(NULL, len, buf);
	_cleanup_free_ char *b64 = crl_base64_encode(buf, len);
	if (!copy || !b64) {
		runtime__v1__container_config__free_unpacked(copy, NULL);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	srv_ctr_t *c = NULL;
	int r = ctr_alloc(id, name, copy, b64, &c, err);
	if (r < 0)
		return r;
	snprintf(c->pod_id, sizeof(c->pod_id), "%s", pod->obj.id);
	if (!(c->pod_dir = strdup(pod->dir))) {
		ctr_free(&c->obj);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	c->created_at = crl_now_ns(CLOCK_REALTIME);
	c->state = SRV_CTR_CREATING;
	*ret = c;
	return 0;
}

int srv_ctr_get(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err)
{
	srv_obj_t *o = NULL;
	int r = srv_store_get(d->ctrs, id, &o, err);
	if (r < 0)
		return r;
	*ret = srv_ctr_of(o);
	return 0;
}

int srv_ctr_get_running(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err)
{
	srv_ctr_t *c = NULL;
	int r = srv_ctr_get(d, id, &c, err);
	if (r < 0)
		return r;
	srv_ctr_refresh(d, c);
	pthread_mutex_lock(&c->lock);
	bool running = c->state == SRV_CTR_RUNNING;
	pthread_mutex_unlock(&c->lock);
	if (!running) {
		r = crl_error_set(err, EBUSY, "container %s is not running", c->obj.id);
		srv_ctr_unref(c);
		return r;
	}
	*ret = c;
	return 0;
}

int srv_ctrs_of_pod(srv_daemon_t *d, const char *pod_id, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err)
{
	srv_obj_t **all = NULL;
	size_t n = 0, k = 0;
	int r = srv_store_list(d->ctrs, &all, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(srv_ctr_of(all[i])->pod_id, pod_id) == 0)
			all[k++] = all[i];
		else
			srv_obj_unref(all[i]);
	}
	*ret = all;
	*ret_n = k;
	return 0;
}

/* --- the record --- */

static const char *state_name(srv_ctr_state_t s)
{
	static const char *const names[] = { "creating", "created", "running", "exited", "unknown" };
	return names[s];
}

static int save(srv_daemon_t *d, srv_ctr_t *c, bool durable, crl_error_t *err);

int srv_ctr_save(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err)
{
	return save(d, c, true, err);
}

int srv_ctr_save_intent(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err)
{
	return save(d, c, false, err);
}

static int save(srv_daemon_t *d, srv_ctr_t *c, bool durable, crl_error_t *err)
{
	_cleanup_free_ char *name = srv_record_name(c->obj.id);
	if (!name)
		return crl_error_set(err, ENOMEM, "out of memory");
	/* Snapshot and write under one lock: two saves at once (an exit taken in, an update) land in the order of
	 * their snapshots, never an older state over a newer one. */
	pthread_mutex_lock(&c->record_lock);
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", SRV_CTR_RECORD_VERSION);
	crl_json_kv_string(j, "id", c->obj.id);
	crl_json_kv_string(j, "name", c->obj.name);
	crl_json_kv_string(j, "pod_id", c->pod_id);
	crl_json_kv_string(j, "pod_dir", c->pod_dir);
	crl_json_kv_string(j, "config", c->config_b64);
	crl_json_kv_string(j, "image_id", c->image_id);
	crl_json_kv_string(j, "image_ref", c->image_ref);
	crl_json_kv_string(j, "bundle", c->bundle);
	crl_json_kv_string(j, "log_path", c->log_path);
	crl_json_kv_string(j, "cgroup", c->cgroup);
	crl_json_kv_int(j, "stop_signal", c->stop_signal);
	crl_json_kv_int(j, "uid", c->uid);
	crl_json_kv_int(j, "gid", c->gid);
	crl_json_key(j, "groups");
	crl_json_array_begin(j);
	for (size_t i = 0; i < c->n_groups; i++)
		crl_json_int(j, c->groups[i]);
	crl_json_array_end(j);
	crl_json_kv_int(j, "created_at", c->created_at);
	pthread_mutex_lock(&c->lock);
	crl_json_kv_string(j, "state", state_name(c->state));
	crl_json_kv_int(j, "started_at", c->started_at);
	crl_json_kv_int(j, "finished_at", c->finished_at);
	crl_json_kv_int(j, "exit_code", c->exit_code);
	crl_json_kv_bool(j, "oom_killed", c->oom_killed);
	crl_json_kv_string(j, "reason", c->reason);
	crl_json_kv_string(j, "message", c->message);
	crl_json_kv_string(j, "resources", c->resources_b64);
	pthread_mutex_unlock(&c->lock);
	crl_json_object_end(j);
	int r = 0;
	if (c->record_gone)
		crl_json_free(j);
	else
		r = srv_record_write(d->ctrs_fd, name, j, durable, err);
	pthread_mutex_unlock(&c->record_lock);
	return r < 0 ? crl_error_wrap(err, "save the record of container %s", c->obj.id) : 0;
}

int srv_ctr_load(srv_daemon_t *d, const char *file, srv_ctr_t **ret, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	int r = srv_record_read(d->ctrs_fd, file, SRV_CTR_RECORD_VERSION, &doc, err);
	if (r < 0)
		return r;
	int64_t i64 = 0;
	const char *id = crl_json_get_string(crl_json_get(doc, "id"));
	const char *name = crl_json_get_string(crl_json_get(doc, "name"));
	const char *pod_id = crl_json_get_string(crl_json_get(doc, "pod_id"));
	const char *b64 = crl_json_get_string(crl_json_get(doc, "config"));
	const char *state = crl_json_get_string(crl_json_get(doc, "state"));
	_cleanup_free_ char *raw = NULL;
	size_t rlen = 0;
	Runtime__V1__ContainerConfig *config = NULL;
	srv_ctr_t *c = NULL;
	if (!id || !srv_id_valid(id) || !name || !pod_id || !srv_id_valid(pod_id) || !b64 || !state) {
		r = crl_error_set(err, EINVAL, "the record lacks id, name, pod_id, config or state");
	} else if (crl_base64_decode(b64, &raw, &rlen) < 0 ||
		   !(config = runtime__v1__container_config__unpack(NULL, rlen, (const uint8_t *)raw))) {
		r = crl_error_set(err, EINVAL, "the record's config does not decode");
	} else if ((r = ctr_alloc(id, name, config, b64, &c, err)) == 0) {
		snprintf(c->pod_id, sizeof(c->pod_id), "%s", pod_id);
		c->pod_dir = srv_record_dup(doc, "pod_dir");
		c->image_id = srv_record_dup(doc, "image_id");
		c->image_ref = srv_record_dup(doc, "image_ref");
		c->bundle = srv_record_dup(doc, "bundle");
		c->log_path = srv_record_dup(doc, "log_path");
		c->cgroup = srv_record_dup(doc, "cgroup");
		c->reason = srv_record_dup(doc, "reason");
		c->message = srv_record_dup(doc, "message");
		if (crl_json_get_int(crl_json_get(doc, "stop_signal"), &i64))
			c->stop_signal = (int)i64;
		crl_json_get_int(crl_json_get(doc, "created_at"), &c->created_at);
		crl_json_get_int(crl_json_get(doc, "uid"), &c->uid);
		crl_json_get_int(crl_json_get(doc, "gid"), &c->gid);
		const crl_json_value_t *gs = crl_json_get(doc, "groups");
		for (size_t i = 0; i < crl_json_array_len(gs) && c->n_groups < CRL_ARRAY_SIZE(c->groups); i++)
			if (crl_json_get_int(crl_json_array_at(gs, i), &c->groups[c->n_groups]))
				c->n_groups++;
		crl_json_get_int(crl_json_get(doc, "started_at"), &c->started_at);
		crl_json_get_int(crl_json_get(doc, "finished_at"), &c->finished_at);
		if (crl_json_get_int(crl_json_get(doc, "exit_code"), &i64))
			c->exit_code = (int)i64;
		crl_json_get_bool(crl_json_get(doc, "oom_killed"), &c->oom_killed);
		const char *rb = crl_json_get_string(crl_json_get(doc, "resources"));
		_cleanup_free_ char *rraw = NULL;
		size_t rl = 0;
		if (rb && *rb && crl_base64_decode(rb, &rraw, &rl) == 0 &&
		    (c->resources = runtime__v1__linux_container_resources__unpack(NULL, rl, (const uint8_t *)rraw)))
			c->resources_b64 = strdup(rb);
		c->state = SRV_CTR_CREATING;
		for (int s = SRV_CTR_CREATING; s <= SRV_CTR_UNKNOWN; s++)
			if (strcmp(state, state_name((srv_ctr_state_t)s)) == 0)
				c->state = (srv_ctr_state_t)s;
		if (!c->pod_dir || !c->bundle) {
			ctr_free(&c->obj);
			r = crl_error_set(err, EINVAL, "the record has no pod directory or bundle");
		} else {
			*ret = c;
		}
	}
	crl_json_value_free(doc);
	return r;
}

/* --- exits --- */

static char *exit_file(const srv_ctr_t *c)
{
	char *s = NULL;
	return asprintf(&s, "%s/exits/%s.json", c->pod_dir, c->obj.id) < 0 ? NULL : s;
}

/* Takes the monitor's exit record into c: 1 when this made it EXITED, 0 when it was already, -1 when there is
 * no record (yet). Whoever gets 1 records the exit and tells the subscribers (exited()). */
static int read_exit(srv_ctr_t *c)
{
	_cleanup_free_ char *path = exit_file(c), *text = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (!path || crl_fs_read_file(AT_FDCWD, path, 65536, &text, NULL, &e) < 0) {
		crl_error_clear(&e);
		return -1;
	}
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(text, &doc, &e) < 0) {
		crl_error_clear(&e);
		return -1;
	}
	int64_t code = 0, started = 0, finished = 0;
	bool oom = false;
	crl_json_get_int(crl_json_get(doc, "exit_code"), &code);
	crl_json_get_int(crl_json_get(doc, "started_at_ns"), &started);
	crl_json_get_int(crl_json_get(doc, "finished_at_ns"), &finished);
	crl_json_get_bool(crl_json_get(doc, "oom_killed"), &oom);
	crl_json_value_free(doc);
	pthread_mutex_lock(&c->lock);
	if (c->state == SRV_CTR_EXITED) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	c->state = SRV_CTR_EXITED;
	c->exit_code = (int)code;
	c->oom_killed = oom;
	if (oom)
		srv_metrics_oom_kill();
	if (started)
		c->started_at = started;
	c->finished_at = finished ? finished : crl_now_ns(CLOCK_REALTIME);
	free(c->reason);
	c->reason = strdup(oom ? "OOMKilled" : code == 0 ? "Completed" : "Error");
	pthread_mutex_unlock(&c->lock);
	return 1;
}

/* An exit just taken in: recorded, and published as CONTAINER_STOPPED. */
static void exited(srv_daemon_t *d, srv_ctr_t *c)
{
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_ctr_save(d, c, &e) < 0) {
		log_error("container %s: %s", c->obj.id, crl_error_message(&e));
		crl_error_clear(&e);
	}
	srv_ctr_event(d, c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
}

void srv_ctr_refresh(srv_daemon_t *d, srv_ctr_t *c)
{
	pthread_mutex_lock(&c->lock);
	bool live = c->state == SRV_CTR_RUNNING;
	pthread_mutex_unlock(&c->lock);
	if (!live)
		return;
	_cleanup_free_ char *path = exit_file(c);
	struct stat st;
	if (!path || stat(path, &st) < 0)
		return;
	pthread_mutex_lock(&c->event_lock);
	if (read_exit(c) == 1)
		exited(d, c);
	pthread_mutex_unlock(&c->event_lock);
}

crl_json_t *srv_ctr_request(const srv_ctr_t *c, const char *op)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "v", MON_CLIENT_PROTOCOL);
	crl_json_kv_string(j, "op", op);
	crl_json_kv_string(j, "id", c->obj.id);
	return j;
}

int srv_ctr_monitor(srv_ctr_t *c, const char *op, int sig, crl_error_t *err)
{
	crl_json_t *j = srv_ctr_request(c, op);
	if (sig)
		crl_json_kv_int(j, "signal", sig);
	/* SIGKILL ends whatever the container started too: in the pod's PID namespace its init's children would
	 * outlive it. */
	if (sig == SIGKILL)
		crl_json_kv_bool(j, "all", true);
	if (strcmp(op, "delete") == 0)
		crl_json_kv_bool(j, "force", true);
	crl_json_object_end(j);
	_cleanup_free_ char *req = crl_json_finish_text(j, NULL);
	if (!req)
		return crl_error_set(err, ENOMEM, "out of memory");
	return mon_client_call_once(c->pod_dir, req, MONITOR_CALL_MS, NULL, err);
}

/* Waits up to ms for the exit record (read_exit's answer; -1 when none came). Polled, from 0.5 ms apart growing
 * to 20 ms, so a quick exit is seen at once. */
static int wait_exit(srv_ctr_t *c, int64_t ms)
{
	_cleanup_free_ char *path = exit_file(c);
	int64_t deadline = crl_mono_ms() + ms;
	useconds_t nap = 500;
	struct stat st;
	while (path) {
		if (stat(path, &st) == 0) {
			int r = read_exit(c);
			if (r >= 0)
				return r;
		}
		if (crl_mono_ms() >= deadline)
			return -1;
		usleep(nap);
		if (nap < 20000)
			nap *= 2;
	}
	return -1;
}

/* Kills and waits; called with op_lock held. */
static int stop_locked(srv_daemon_t *d, srv_ctr_t *c, int64_t timeout_s, crl_error_t *err)
{
	srv_ctr_refresh(d, c);
	pthread_mutex_lock(&c->lock);
	srv_ctr_state_t st = c->state;
	pthread_mutex_unlock(&c->lock);
	if (st != SRV_CTR_RUNNING && st != SRV_CTR_CREATED)
		return 0;
	int r;
	if (st == SRV_CTR_RUNNING && timeout_s > 0) {
		r = srv_ctr_monitor(c, "kill", c->stop_signal ? c->stop_signal : SIGTERM, err);
		if (r < 0 && r != -ESRCH)
			return crl_error_wrap(err, "stop container %s", c->obj.id);
		crl_error_clear(err);
		if ((r = wait_exit(c, timeout_s * 1000)) >= 0)
			goto done;
	}
	r = srv_ctr_monitor(c, "kill", SIGKILL, err);
	if (r < 0 && r != -ESRCH)
		return crl_error_wrap(err, "kill container %s", c->obj.id);
	crl_error_clear(err);
	if ((r = wait_exit(c, KILL_WAIT_MS)) < 0)
		return crl_error_set(err, ETIMEDOUT, "container %s did not exit %d ms after SIGKILL", c->obj.id, KILL_WAIT_MS);
done:
	/* 0: another call took the exit in (and told about it) first. */
	if (r == 1)
		exited(d, c);
	return 0;
}

int srv_ctr_stop(srv_daemon_t *d, srv_ctr_t *c, int64_t timeout_s, crl_error_t *err)
{
	pthread_mutex_lock(&c->op_lock);
	int r = c->removed ? 0 : stop_locked(d, c, timeout_s, err);
	pthread_mutex_unlock(&c->op_lock);
	return r;
}

/* Everything c has, gone; its record last, so a removal cut short is taken up again at start. */
static int remove_files(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err)
{
	int r = srv_ctr_monitor(c, "delete", 0, err);
	/* A container the monitor does not know, or a monitor that is gone: nothing left there. */
	if (r < 0 && r != -ENOENT && r != -ECONNREFUSED)
		return crl_error_wrap(err, "remove container %s", c->obj.id);
	crl_error_clear(err);
	r = 0;
	if (c->bundle) {
		/* The rootfs an external runtime was given is mounted on the node: off before anything is removed. */
		_cleanup_free_ char *rootfs = NULL;
		if (asprintf(&rootfs, "%s/rootfs", c->bundle) >= 0 && umount2(rootfs, MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT)
			return crl_error_set_errno(err, errno, "unmount %s", rootfs);
		if ((r = crl_fs_rm_rf(c->bundle, err)) < 0)
			return r;
	}
	_cleanup_free_ char *name = srv_record_name(c->obj.id);
	if (!name)
		return crl_error_set(err, ENOMEM, "out of memory");
	pthread_mutex_lock(&c->record_lock);
	if (unlinkat(d->ctrs_fd, name, 0) < 0 && errno != ENOENT)
		r = crl_error_set_errno(err, errno, "remove the record of container %s", c->obj.id);
	else
		c->record_gone = true;
	pthread_mutex_unlock(&c->record_lock);
	return r;
}

int srv_ctr_remove(srv_daemon_t *d, srv_ctr_t *c, crl_error_t *err)
{
	pthread_mutex_lock(&c->op_lock);
	int r = 0;
	if (!c->removed) {
		r = stop_locked(d, c, 0, err);
		if (r == 0)
			r = remove_files(d, c, err);
		if (r == 0) {
			c->removed = true;
			/* A CreateContainer undone was never in the store, nor told about. */
			if (srv_store_remove(d->ctrs, &c->obj))
				srv_ctr_event(d, c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
		}
	}
	pthread_mutex_unlock(&c->op_lock);
	return r;
}

void srv_ctr_event(srv_daemon_t *d, srv_ctr_t *c, Runtime__V1__ContainerEventType type)
{
	if (srv_events_count(d->events) == 0)
		return;
	/* With the pod's status and those of all its containers, as kubelet's evented PLEG takes them. */
	Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
	ev.container_id = c->obj.id;
	ev.container_event_type = type;
	ev.created_at = crl_now_ns(CLOCK_REALTIME);
	srv_arena_t a = SRV_ARENA_INIT;
	srv_pod_t *p = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_pod_get(d, c->pod_id, &p, &e) == 0) {
		Runtime__V1__PodSandboxStatus *ps = srv_arena_alloc(&a, sizeof(*ps));
		if (ps) {
			runtime__v1__pod_sandbox_status__init(ps);
			if (srv_pod_status_fill(&a, p, ps) == 0)
				ev.pod_sandbox_status = ps;
		}
	}
	crl_error_clear(&e);
	srv_obj_t **v = NULL;
	size_t n = 0;
	if (srv_ctrs_of_pod(d, c->pod_id, &v, &n, &e) == 0) {
		ev.containers_statuses = srv_arena_alloc(&a, (n + 1) * sizeof(*ev.containers_statuses));
		for (size_t i = 0; ev.containers_statuses && i < n; i++) {
			srv_ctr_t *k = srv_ctr_of(v[i]);
			Runtime__V1__ContainerStatus *cs = srv_arena_alloc(&a, sizeof(*cs));
			if (!cs)
				break;
			runtime__v1__container_status__init(cs);
			/* As known now: an exit not taken in yet comes as an event of its own. */
			if (srv_ctr_status_fill(&a, k, cs) == 0)
				ev.containers_statuses[ev.n_containers_statuses++] = cs;
		}
	}
	crl_error_clear(&e);
	srv_events_publish(d->events, &ev);
	srv_store_list_free(v, n);
	srv_pod_unref(p);
	srv_arena_done(&a);
}

/* --- restore --- */

static void restore_one(srv_daemon_t *d, const char *file)
{
	crl_error_t e = CRL_ERROR_INIT;
	srv_ctr_t *c = NULL;
	if (srv_ctr_load(d, file, &c, &e) < 0) {
		log_error("container record %s/containers/%s: %s; left alone", d->cfg.root, file, crl_error_message(&e));
		crl_error_clear(&e);
		return;
	}
	srv_pod_t *p = NULL;
	bool have_pod = srv_pod_get(d, c->pod_id, &p, &e) == 0;
	crl_error_clear(&e);
	if (c->state == SRV_CTR_CREATING || !have_pod) {
		log_warn("container %s (%s): %s; removing it", c->obj.id, c->obj.name,
			 have_pod ? "CreateContainer was cut off" : "its pod is gone");
		if (remove_files(d, c, &e) < 0) {
			log_error("container %s: %s", c->obj.id, crl_error_message(&e));
			crl_error_clear(&e);
		}
		srv_pod_unref(p);
		srv_ctr_unref(c);
		return;
	}
	if (c->state == SRV_CTR_RUNNING || c->state == SRV_CTR_CREATED) {
		/* An exit while we were away is in the monitor's record; a monitor that is gone took the container
		 * with it (a reboot). Before the container is in the store, where the exit watcher may take it. */
		if (read_exit(c) < 0 && !srv_pod_monitor_alive(p)) {
			c->state = SRV_CTR_EXITED;
			c->exit_code = 255;
			c->finished_at = crl_now_ns(CLOCK_REALTIME);
			free(c->reason);
			c->reason = strdup("Error");
			free(c->message);
			c->message = strdup("the pod's monitor is gone (the node rebooted?)");
		}
		if (c->state == SRV_CTR_EXITED && srv_ctr_save(d, c, &e) < 0) {
			log_error("container %s: %s", c->obj.id, crl_error_message(&e));
			crl_error_clear(&e);
		}
	}
	if (srv_store_insert(d->ctrs, &c->obj, &e) < 0) {
		log_error("container %s: %s", c->obj.id, crl_error_message(&e));
		crl_error_clear(&e);
		srv_pod_unref(p);
		srv_ctr_unref(c);
		return;
	}
	/* An exit after the look above, before the watcher could find the container. */
	srv_ctr_refresh(d, c);
	log_info("container %s (%s) restored: %s", c->obj.id, c->obj.name, state_name(c->state));
	srv_pod_unref(p);
	srv_ctr_unref(c);
}

int srv_ctrs_restore(srv_daemon_t *d, crl_error_t *err)
{
	int fd = fcntl(d->ctrs_fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return crl_error_set_errno(err, errno, "read %s/containers", d->cfg.root);
	}
	rewinddir(dir);
	struct dirent *de;
	char id[SRV_ID_LEN + 1];
	while ((de = readdir(dir)))
		if (srv_record_id(de->d_name, id))
			restore_one(d, de->d_name);
	/* A bundle without a record: a create cut off before its record was written (or a record a power loss
	 * took). Its rootfs mount first, then the bundle. */
	rewinddir(dir);
	while ((de = readdir(dir))) {
		if (!srv_id_valid(de->d_name))
			continue;
		/* A record restore left alone (one this crio-lite cannot read) keeps its bundle too. */
		_cleanup_free_ char *record = srv_record_name(de->d_name);
		if (!record || faccessat(d->ctrs_fd, record, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		crl_error_t e = CRL_ERROR_INIT;
		_cleanup_free_ char *bundle = NULL, *rootfs = NULL;
		if (asprintf(&bundle, "%s/%s", d->ctrs_dir, de->d_name) < 0 || asprintf(&rootfs, "%s/rootfs", bundle) < 0)
			continue;
		(void)umount2(rootfs, MNT_DETACH);
		log_warn("container bundle %s has no record; removing it", bundle);
		if (crl_fs_rm_rf(bundle, &e) < 0) {
			log_error("%s", crl_error_message(&e));
			crl_error_clear(&e);
		}
	}
	closedir(dir);
	return 0;
}
