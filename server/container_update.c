/* SPDX-License-Identifier: Apache-2.0 */
/* UpdateContainerResources: new limits written to a running container's cgroup by its monitor. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "container_spec.h"
#include "daemon.h"
#include "handlers.h"
#include "pod_config.h"
#include "runtime/monitor/client.h"

#define MONITOR_CALL_MS 30000

int srv_update_container_resources(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__UpdateContainerResourcesRequest *r = req;
	if (!r->linux)
		return crl_error_set(err, EINVAL, "linux resources are required");
	int ret = srv_resources_check(r->linux, "linux", err);
	if (ret < 0)
		return ret;
	srv_ctr_t *c = NULL;
	if ((ret = srv_ctr_get(d, r->container_id, &c, err)) < 0)
		return ret;
	/* A copy of our own, packed once for the record. */
	size_t len = runtime__v1__linux_container_resources__get_packed_size(r->linux);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	_cleanup_free_ char *json = srv_resources_json(r->linux), *msg = NULL;
	Runtime__V1__LinuxContainerResources *copy = NULL;
	char *b64 = NULL;
	if (buf) {
		runtime__v1__linux_container_resources__pack(r->linux, buf);
		copy = runtime__v1__linux_container_resources__unpack(NULL, len, buf);
		b64 = crl_base64_encode(buf, len);
	}
	crl_json_t *j = srv_ctr_request(c, "update");
	crl_json_kv_string(j, "resources", json ? json : "{}");
	crl_json_object_end(j);
	msg = crl_json_finish_text(j, NULL);
	pthread_mutex_lock(&c->op_lock);
	srv_ctr_refresh(d, c);
	pthread_mutex_lock(&c->lock);
	srv_ctr_state_t st = c->state;
	pthread_mutex_unlock(&c->lock);
	if (!copy || !b64 || !json || !msg)
		ret = crl_error_set(err, ENOMEM, "out of memory");
	else if (c->removed || (st != SRV_CTR_RUNNING && st != SRV_CTR_CREATED))
		ret = crl_error_set(err, EBUSY, "container %s is not running", c->obj.id);
	else if ((ret = mon_client_call_once(c->pod_dir, msg, MONITOR_CALL_MS, NULL, err)) == 0) {
		pthread_mutex_lock(&c->lock);
		runtime__v1__linux_container_resources__free_unpacked(c->resources, NULL);
		free(c->resources_b64);
		c->resources = TAKE_PTR(copy);
		c->resources_b64 = TAKE_PTR(b64);
		pthread_mutex_unlock(&c->lock);
		ret = srv_ctr_save(d, c, err);
	}
	pthread_mutex_unlock(&c->op_lock);
	if (ret < 0)
		crl_error_wrap(err, "UpdateContainerResources %s", c->obj.id);
	else
		log_info("container %s: resources updated", c->obj.id);
	runtime__v1__linux_container_resources__free_unpacked(copy, NULL);
	free(b64);
	srv_ctr_unref(c);
	return ret;
}
