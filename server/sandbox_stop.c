/* SPDX-License-Identifier: Apache-2.0 */
/* StopPodSandbox and RemovePodSandbox. Both are idempotent: a pod that is stopped, or unknown, is success, as the
 * CRI comments require. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon.h"
#include "handlers.h"
#include "container.h"
#include "pod.h"

/* Looks the pod up; an unknown id is no pod and no error. */
static int find(srv_daemon_t *d, const char *id, srv_pod_t **ret, crl_error_t *err)
{
	*ret = NULL;
	int r = srv_pod_get(d, id, ret, err);
	if (r == -ENOENT) {
		crl_error_clear(err);
		return 0;
	}
	return r;
}

/* Each container of the pod stopped (remove: removed); kubelet has given them their grace period already. */
static int each_container(srv_daemon_t *d, srv_pod_t *p, bool remove, crl_error_t *err)
{
	srv_obj_t **v = NULL;
	size_t n = 0;
	int r = srv_ctrs_of_pod(d, p->obj.id, &v, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = remove ? srv_ctr_remove(d, srv_ctr_of(v[i]), err) : srv_ctr_stop(d, srv_ctr_of(v[i]), 0, err);
	srv_store_list_free(v, n);
	return r;
}

/* Called with the pod's op_lock held. */
static int stop_locked(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err)
{
	/* What runs in the pod first, then the network, once. */
	int r = each_container(d, p, false, err);
	if (r < 0)
		return r;
	r = srv_pod_network_down(d, p, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	bool changed = r == 1 || p->state != SRV_POD_NOTREADY;
	p->state = SRV_POD_NOTREADY;
	pthread_mutex_unlock(&p->lock);
	/* A pod stopped already (kubelet stops again and again) is not written again. */
	return changed ? srv_pod_save(d, p, err) : 0;
}

int srv_stop_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__StopPodSandboxRequest *r = req;
	srv_pod_t *p = NULL;
	int ret = find(d, r->pod_sandbox_id, &p, err);
	if (ret < 0 || !p)
		return ret;
	pthread_mutex_lock(&p->op_lock);
	ret = p->removed ? 0 : stop_locked(d, p, err);
	pthread_mutex_unlock(&p->op_lock);
	if (ret == 0)
		log_info("pod %s stopped", p->obj.id);
	srv_pod_unref(p);
	return ret;
}

int srv_remove_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__RemovePodSandboxRequest *r = req;
	srv_pod_t *p = NULL;
	int ret = find(d, r->pod_sandbox_id, &p, err);
	if (ret < 0 || !p)
		return ret;
	pthread_mutex_lock(&p->op_lock);
	if (!p->removed) {
		ret = stop_locked(d, p, err);
		if (ret == 0)
			ret = each_container(d, p, true, err);
		if (ret == 0)
			ret = srv_pod_teardown(d, p, err);
		if (ret == 0) {
			p->removed = true;
			srv_store_remove(d->pods, &p->obj);
		}
	}
	pthread_mutex_unlock(&p->op_lock);
	if (ret == 0)
		log_info("pod %s removed", p->obj.id);
	srv_pod_unref(p);
	return ret;
}
