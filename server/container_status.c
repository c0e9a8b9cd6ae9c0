/* SPDX-License-Identifier: Apache-2.0 */
/* ContainerStatus, ListContainers and StreamContainers: from memory, plus one stat of the exit record of each
 * running container (the monitor writes it when the container exits). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "container.h"
#include "daemon.h"
#include "arena.h"
#include "handlers.h"
#include "listing.h"


static Runtime__V1__ContainerState state_of(const srv_ctr_t *c)
{
	switch (c->state) {
	case SRV_CTR_CREATED:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
	case SRV_CTR_RUNNING:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	case SRV_CTR_EXITED:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	default:
		return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
	}
}


int srv_ctr_status_fill(srv_arena_t *a, srv_ctr_t *c, Runtime__V1__ContainerStatus *s)
{
	const Runtime__V1__ContainerConfig *cfg = c->config;
	s->id = c->obj.id;
	s->metadata = cfg->metadata;
	s->created_at = c->created_at;
	s->image = cfg->image;
	s->image_ref = c->image_ref;
	s->image_id = c->image_id;
	s->log_path = c->log_path;
	s->stop_signal = cfg->stop_signal;
	if (SRV_ARENA_COPY_MAP(a, s->labels, s->n_labels, cfg->labels, cfg->n_labels, Runtime__V1__ContainerStatus__LabelsEntry,
		 runtime__v1__container_status__labels_entry__init) < 0)
		return -ENOMEM;
	if (SRV_ARENA_COPY_MAP(a, s->annotations, s->n_annotations, cfg->annotations, cfg->n_annotations,
		 Runtime__V1__ContainerStatus__AnnotationsEntry, runtime__v1__container_status__annotations_entry__init) < 0)
		return -ENOMEM;
	s->mounts = cfg->mounts;
	s->n_mounts = cfg->n_mounts;
	Runtime__V1__ContainerResources *res = srv_arena_alloc(a, sizeof(*res));
	Runtime__V1__ContainerUser *user = srv_arena_alloc(a, sizeof(*user));
	Runtime__V1__LinuxContainerUser *lu = srv_arena_alloc(a, sizeof(*lu));
	int64_t *groups = srv_arena_alloc(a, (c->n_groups + 1) * sizeof(*groups));
	if (!res || !user || !lu || !groups)
		return -ENOMEM;
	runtime__v1__container_user__init(user);
	runtime__v1__linux_container_user__init(lu);
	lu->uid = c->uid;
	lu->gid = c->gid;
	memcpy(groups, c->groups, c->n_groups * sizeof(*groups));
	lu->supplemental_groups = groups;
	lu->n_supplemental_groups = c->n_groups;
	user->linux = lu;
	s->user = user;
	runtime__v1__container_resources__init(res);
	pthread_mutex_lock(&c->lock);
	res->linux = c->resources ? c->resources : cfg->linux ? cfg->linux->resources : NULL;
	s->resources = res->linux ? res : NULL;
	s->state = state_of(c);
	s->started_at = c->started_at;
	s->finished_at = c->finished_at;
	s->exit_code = c->exit_code;
	s->reason = srv_arena_strdup(a, c->reason ? c->reason : "");
	s->message = srv_arena_strdup(a, c->message ? c->message : "");
	pthread_mutex_unlock(&c->lock);
	return s->reason && s->message ? 0 : -ENOMEM;
}

int srv_container_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ContainerStatusRequest *r = req;
	Runtime__V1__ContainerStatusResponse *out = resp;
	srv_ctr_t *c = NULL;
	int ret = srv_ctr_get(d, r->container_id, &c, err);
	if (ret < 0)
		return ret;
	if ((ret = srv_call_hold(call, &c->obj, err)) < 0)
		return ret;
	srv_ctr_refresh(d, c);
	Runtime__V1__ContainerStatus *s = srv_call_alloc(call, sizeof(*s));
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__container_status__init(s);
	if (srv_ctr_status_fill(srv_call_arena(call), c, s) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	out->status = s;
	if (r->verbose) {
		crl_json_t *j = crl_json_new(false);
		crl_json_object_begin(j);
		crl_json_kv_string(j, "sandboxID", c->pod_id);
		crl_json_kv_string(j, "bundle", c->bundle);
		crl_json_kv_int(j, "stopSignal", c->stop_signal);
		crl_json_object_end(j);
		_cleanup_free_ char *info = crl_json_finish_text(j, NULL);
		Runtime__V1__ContainerStatusResponse__InfoEntry *e = srv_call_alloc(call, sizeof(*e));
		out->info = srv_call_alloc(call, sizeof(*out->info));
		if (!info || !e || !out->info)
			return crl_error_set(err, ENOMEM, "out of memory");
		runtime__v1__container_status_response__info_entry__init(e);
		e->key = (char *)"info";
		e->value = srv_call_strdup(call, info);
		out->info[0] = e;
		out->n_info = 1;
	}
	return 0;
}

static bool matches(srv_ctr_t *c, const Runtime__V1__ContainerFilter *f)
{
	if (!f)
		return true;
	if (!srv_id_prefix_match(c->obj.id, f->id))
		return false;
	if (!srv_id_prefix_match(c->pod_id, f->pod_sandbox_id))
		return false;
	if (f->state) {
		pthread_mutex_lock(&c->lock);
		Runtime__V1__ContainerState s = state_of(c);
		pthread_mutex_unlock(&c->lock);
		if (s != f->state->state)
			return false;
	}
	return SRV_LABELS_MATCH(c->config->labels, c->config->n_labels, f->label_selector, f->n_label_selector);
}

static int fill_item(srv_arena_t *a, srv_ctr_t *c, Runtime__V1__Container *it)
{
	const Runtime__V1__ContainerConfig *cfg = c->config;
	runtime__v1__container__init(it);
	it->id = c->obj.id;
	it->pod_sandbox_id = c->pod_id;
	it->metadata = cfg->metadata;
	it->image = cfg->image;
	it->image_ref = c->image_ref;
	it->image_id = c->image_id;
	it->created_at = c->created_at;
	pthread_mutex_lock(&c->lock);
	it->state = state_of(c);
	pthread_mutex_unlock(&c->lock);
	if (SRV_ARENA_COPY_MAP(a, it->labels, it->n_labels, cfg->labels, cfg->n_labels, Runtime__V1__Container__LabelsEntry,
		 runtime__v1__container__labels_entry__init) < 0)
		return -ENOMEM;
	if (SRV_ARENA_COPY_MAP(a, it->annotations, it->n_annotations, cfg->annotations, cfg->n_annotations,
		 Runtime__V1__Container__AnnotationsEntry, runtime__v1__container__annotations_entry__init) < 0)
		return -ENOMEM;
	return 0;
}

static bool keep_ctr(srv_daemon_t *d, srv_obj_t *o, const void *filter)
{
	srv_ctr_t *c = srv_ctr_of(o);
	srv_ctr_refresh(d, c);
	return matches(c, filter);
}

static int fill_ctr_item(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item)
{
	(void)d;
	return fill_item(srv_call_arena(call), srv_ctr_of(o), item);
}

int srv_list_containers(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ListContainersRequest *r = req;
	Runtime__V1__ListContainersResponse *out = resp;
	void **items = NULL;
	int ret = srv_select(d, d->ctrs, call, r->filter, keep_ctr, fill_ctr_item, sizeof(Runtime__V1__Container), &items,
			     &out->n_containers, err);
	/* protobuf-c's repeated fields are arrays of pointers to the item type. */
	out->containers = (Runtime__V1__Container **)items;
	return ret;
}

int srv_stream_containers(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	const Runtime__V1__StreamContainersRequest *r = req;
	void **items = NULL;
	size_t n = 0;
	int ret = srv_select(d, d->ctrs, call, r->filter, keep_ctr, fill_ctr_item, sizeof(Runtime__V1__Container), &items,
			     &n, err);
	return ret < 0 ? ret : srv_stream_list(call, &runtime__v1__stream_containers_response__descriptor, items, n, err);
}
