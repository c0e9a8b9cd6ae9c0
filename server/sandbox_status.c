/* SPDX-License-Identifier: Apache-2.0 */
/* PodSandboxStatus, ListPodSandbox and StreamPodSandboxes: read from memory, never from a monitor or the disk. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "daemon.h"
#include "arena.h"
#include "handlers.h"
#include "listing.h"
#include "pod.h"


static Runtime__V1__PodSandboxState state_of(const srv_pod_t *p)
{
	return p->state == SRV_POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY :
					   RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}


int srv_pod_status_fill(srv_arena_t *a, srv_pod_t *p, Runtime__V1__PodSandboxStatus *s)
{
	const Runtime__V1__PodSandboxConfig *c = p->config;
	s->id = p->obj.id;
	s->metadata = c->metadata;
	s->created_at = p->created_at;
	s->runtime_handler = p->runtime_handler;
	if (SRV_ARENA_COPY_MAP(a, s->labels, s->n_labels, c->labels, c->n_labels, Runtime__V1__PodSandboxStatus__LabelsEntry,
		 runtime__v1__pod_sandbox_status__labels_entry__init) < 0)
		return -ENOMEM;
	if (SRV_ARENA_COPY_MAP(a, s->annotations, s->n_annotations, c->annotations, c->n_annotations,
		 Runtime__V1__PodSandboxStatus__AnnotationsEntry, runtime__v1__pod_sandbox_status__annotations_entry__init) < 0)
		return -ENOMEM;
	Runtime__V1__PodSandboxNetworkStatus *net = srv_arena_alloc(a, sizeof(*net));
	Runtime__V1__LinuxPodSandboxStatus *lin = srv_arena_alloc(a, sizeof(*lin));
	Runtime__V1__Namespace *ns = srv_arena_alloc(a, sizeof(*ns));
	Runtime__V1__NamespaceOption *opt = srv_arena_alloc(a, sizeof(*opt));
	if (!net || !lin || !ns || !opt)
		return -ENOMEM;
	runtime__v1__pod_sandbox_network_status__init(net);
	runtime__v1__linux_pod_sandbox_status__init(lin);
	runtime__v1__namespace__init(ns);
	runtime__v1__namespace_option__init(opt);
	opt->network = p->ns.network;
	opt->pid = p->ns.pid;
	opt->ipc = p->ns.ipc;
	opt->target_id = (char *)p->ns.target_id;
	ns->options = opt;
	lin->namespaces = ns;
	s->linux = lin;
	pthread_mutex_lock(&p->lock);
	s->state = state_of(p);
	size_t n = 0;
	for (char **ip = p->ips; ip && *ip; ip++)
		n++;
	int r = 0;
	if (n > 0) {
		if (!(net->ip = srv_arena_strdup(a, p->ips[0])))
			r = -ENOMEM;
		if (r == 0 && n > 1) {
			net->additional_ips = srv_arena_alloc(a, (n - 1) * sizeof(*net->additional_ips));
			Runtime__V1__PodIP *ips = srv_arena_alloc(a, (n - 1) * sizeof(*ips));
			if (!net->additional_ips || !ips)
				r = -ENOMEM;
			for (size_t i = 1; r == 0 && i < n; i++) {
				runtime__v1__pod_ip__init(&ips[i - 1]);
				if (!(ips[i - 1].ip = srv_arena_strdup(a, p->ips[i])))
					r = -ENOMEM;
				net->additional_ips[i - 1] = &ips[i - 1];
			}
			net->n_additional_ips = r == 0 ? n - 1 : 0;
		}
	}
	pthread_mutex_unlock(&p->lock);
	s->network = net;
	return r;
}

static char *verbose_info(srv_daemon_t *d, srv_pod_t *p)
{
	(void)d;
	char nsbuf[4096];
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	pthread_mutex_lock(&p->lock);
	crl_json_kv_int(j, "pid", p->monitor_pid);
	crl_json_value_t *cache = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (p->cni_added && !p->network_down && p->cni_cache && crl_json_parse(p->cni_cache, &cache, &e) < 0)
		crl_error_clear(&e);
	pthread_mutex_unlock(&p->lock);
	/* The plugins' own result, as they printed it (null when the pod has no network of its own). */
	const crl_json_value_t *result = crl_json_get(cache, "result");
	crl_json_key(j, "cniResult");
	if (result)
		crl_json_value(j, result);
	else
		crl_json_null(j);
	crl_json_value_free(cache);
	crl_json_kv_string(j, "netnsPath", srv_pod_netns(p, nsbuf, sizeof(nsbuf)));
	crl_json_kv_string(j, "monitorDir", p->dir);
	crl_json_kv_string(j, "cgroup", p->cgroup ? p->cgroup : "");
	crl_json_kv_string(j, "runtimeHandler", p->runtime_handler);
	crl_json_kv_string(j, "config", p->config_b64);
	crl_json_object_end(j);
	return crl_json_finish_text(j, NULL);
}

int srv_pod_sandbox_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__PodSandboxStatusRequest *r = req;
	Runtime__V1__PodSandboxStatusResponse *out = resp;
	srv_pod_t *p = NULL;
	int ret = srv_pod_get(d, r->pod_sandbox_id, &p, err);
	if (ret < 0)
		return ret;
	/* The call keeps the pod alive until its answer is packed: the answer points into the pod. */
	if ((ret = srv_call_hold(call, &p->obj, err)) < 0)
		return ret;
	Runtime__V1__PodSandboxStatus *s = srv_call_alloc(call, sizeof(*s));
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__pod_sandbox_status__init(s);
	if (srv_pod_status_fill(srv_call_arena(call), p, s) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	out->status = s;
	out->timestamp = 0;
	if (r->verbose) {
		_cleanup_free_ char *info = verbose_info(d, p);
		Runtime__V1__PodSandboxStatusResponse__InfoEntry *e = srv_call_alloc(call, sizeof(*e));
		out->info = srv_call_alloc(call, sizeof(*out->info));
		if (!info || !e || !out->info)
			return crl_error_set(err, ENOMEM, "out of memory");
		runtime__v1__pod_sandbox_status_response__info_entry__init(e);
		e->key = (char *)"info";
		e->value = srv_call_strdup(call, info);
		out->info[0] = e;
		out->n_info = 1;
	}
	return 0;
}

static bool matches(srv_pod_t *p, const Runtime__V1__PodSandboxFilter *f)
{
	if (!f)
		return true;
	if (!srv_id_prefix_match(p->obj.id, f->id))
		return false;
	if (f->state) {
		pthread_mutex_lock(&p->lock);
		Runtime__V1__PodSandboxState s = state_of(p);
		pthread_mutex_unlock(&p->lock);
		if (s != f->state->state)
			return false;
	}
	return SRV_LABELS_MATCH(p->config->labels, p->config->n_labels, f->label_selector, f->n_label_selector);
}

static int fill_item(srv_arena_t *a, srv_pod_t *p, Runtime__V1__PodSandbox *it)
{
	const Runtime__V1__PodSandboxConfig *c = p->config;
	runtime__v1__pod_sandbox__init(it);
	it->id = p->obj.id;
	it->metadata = c->metadata;
	it->created_at = p->created_at;
	it->runtime_handler = p->runtime_handler;
	pthread_mutex_lock(&p->lock);
	it->state = state_of(p);
	pthread_mutex_unlock(&p->lock);
	if (SRV_ARENA_COPY_MAP(a, it->labels, it->n_labels, c->labels, c->n_labels, Runtime__V1__PodSandbox__LabelsEntry,
		 runtime__v1__pod_sandbox__labels_entry__init) < 0)
		return -ENOMEM;
	if (SRV_ARENA_COPY_MAP(a, it->annotations, it->n_annotations, c->annotations, c->n_annotations,
		 Runtime__V1__PodSandbox__AnnotationsEntry, runtime__v1__pod_sandbox__annotations_entry__init) < 0)
		return -ENOMEM;
	return 0;
}

/* The pods the filter selects, as items on the call (which holds their references until it ends). */
static bool keep_pod(srv_daemon_t *d, srv_obj_t *o, const void *filter)
{
	(void)d;
	return matches(srv_pod_of(o), filter);
}

static int fill_pod_item(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item)
{
	(void)d;
	return fill_item(srv_call_arena(call), srv_pod_of(o), item);
}

int srv_list_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ListPodSandboxRequest *r = req;
	Runtime__V1__ListPodSandboxResponse *out = resp;
	void **items = NULL;
	int ret = srv_select(d, d->pods, call, r->filter, keep_pod, fill_pod_item, sizeof(Runtime__V1__PodSandbox), &items,
			     &out->n_items, err);
	/* protobuf-c's repeated fields are arrays of pointers to the item type. */
	out->items = (Runtime__V1__PodSandbox **)items;
	return ret;
}

int srv_stream_pod_sandboxes(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	const Runtime__V1__StreamPodSandboxesRequest *r = req;
	void **items = NULL;
	size_t n = 0;
	int ret = srv_select(d, d->pods, call, r->filter, keep_pod, fill_pod_item, sizeof(Runtime__V1__PodSandbox),
			     &items, &n, err);
	return ret < 0 ? ret : srv_stream_list(call, &runtime__v1__stream_pod_sandboxes_response__descriptor, items, n, err);
}
