/* SPDX-License-Identifier: Apache-2.0 */
/* UpdatePodSandboxResources (KEP-2837, pod-level resources): the pod cgroup's limits become resources plus
 * overhead, as RunPodSandbox set them. */
#include <errno.h>

#include "common/log.h"
#include "daemon.h"
#include "handlers.h"
#include "pod.h"
#include "pod_config.h"
#include "runtime/cgroup.h"

int srv_update_pod_sandbox_resources(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp,
				     crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__UpdatePodSandboxResourcesRequest *r = req;
	if (!r->pod_sandbox_id || !*r->pod_sandbox_id)
		return crl_error_set(err, EINVAL, "pod_sandbox_id is required");
	if (!r->resources)
		return crl_error_set(err, EINVAL, "resources is required (the overhead is added to them)");
	int ret = srv_resources_check(r->resources, "resources", err);
	if (ret < 0 || (ret = srv_resources_check(r->overhead, "overhead", err)) < 0)
		return ret;
	srv_pod_t *p = NULL;
	if ((ret = srv_pod_get(d, r->pod_sandbox_id, &p, err)) < 0)
		return ret;
	pthread_mutex_lock(&p->op_lock);
	pthread_mutex_lock(&p->lock);
	bool ready = p->state == SRV_POD_READY;
	pthread_mutex_unlock(&p->lock);
	rt_resources_t res = RT_RESOURCES_UNSET;
	srv_pod_cgroup_resources(r->resources, r->overhead, true, &res);
	rt_cgroup_t *cg = NULL;
	if (!ready)
		ret = crl_error_set(err, EBUSY, "pod sandbox %s is not ready", p->obj.id);
	else if (!p->cgroup)
		ret = crl_error_set(err, EBUSY, "pod sandbox %s has no cgroup", p->obj.id);
	else if ((ret = rt_cgroup_open(p->cgroup, &cg, err)) == 0)
		ret = rt_cgroup_update(cg, &res, err);
	rt_cgroup_free(cg);
	pthread_mutex_unlock(&p->op_lock);
	if (ret < 0)
		crl_error_wrap(err, "UpdatePodSandboxResources %s", p->obj.id);
	else
		log_info("pod %s: resources updated", p->obj.id);
	srv_pod_unref(p);
	return ret;
}
