/* SPDX-License-Identifier: Apache-2.0 */
/* StopContainer, RemoveContainer and ExecSync. Stop and Remove are idempotent: a stopped or unknown container is
 * success, as the CRI comments require. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "handlers.h"
#include "runtime/monitor/client.h"

/* ExecSync's output kept at most (each of stdout and stderr), as kubelet's own limit. */
#define EXEC_OUTPUT_MAX (16 * 1024 * 1024)
#define EXEC_ARGS_MAX 4096

static int find(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err)
{
	*ret = NULL;
	int r = srv_ctr_get(d, id, ret, err);
	if (r == -ENOENT) {
		crl_error_clear(err);
		return 0;
	}
	return r;
}

int srv_stop_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__StopContainerRequest *r = req;
	srv_ctr_t *c = NULL;
	int ret = find(d, r->container_id, &c, err);
	if (ret < 0 || !c)
		return ret;
	/* Bounded so that its milliseconds cannot overflow (68 years is no grace period anyone waits out). */
	ret = srv_ctr_stop(d, c, r->timeout < 0 ? 0 : r->timeout > INT32_MAX ? INT32_MAX : r->timeout, err);
	if (ret == 0)
		log_info("container %s stopped", c->obj.id);
	srv_ctr_unref(c);
	return ret;
}

int srv_remove_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__RemoveContainerRequest *r = req;
	srv_ctr_t *c = NULL;
	int ret = find(d, r->container_id, &c, err);
	if (ret < 0 || !c)
		return ret;
	ret = srv_ctr_remove(d, c, err);
	if (ret == 0)
		log_info("container %s removed", c->obj.id);
	srv_ctr_unref(c);
	return ret;
}

static int decode(srv_call_t *call, const crl_json_value_t *v, const char *key, ProtobufCBinaryData *out)
{
	const char *b = crl_json_get_string(crl_json_get(v, key));
	char *raw = NULL;
	size_t n = 0;
	if (!b || crl_base64_decode(b, &raw, &n) < 0)
		return -EPROTO;
	out->data = srv_call_alloc(call, n ? n : 1);
	if (!out->data) {
		free(raw);
		return -ENOMEM;
	}
	memcpy(out->data, raw, n);
	out->len = n;
	free(raw);
	return 0;
}

int srv_exec_sync(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ExecSyncRequest *r = req;
	Runtime__V1__ExecSyncResponse *out = resp;
	if (r->n_cmd == 0)
		return crl_error_set(err, EINVAL, "cmd is required");
	if (r->n_cmd > EXEC_ARGS_MAX)
		return crl_error_set(err, EINVAL, "cmd: more than %d words", EXEC_ARGS_MAX);
	if (r->timeout < 0)
		return crl_error_set(err, EINVAL, "timeout %lld is negative", (long long)r->timeout);
	srv_ctr_t *c = NULL;
	int ret = srv_ctr_get_running(d, r->container_id, &c, err);
	if (ret < 0)
		return ret;
	crl_json_t *j = srv_ctr_request(c, "exec");
	crl_json_key(j, "args");
	crl_json_array_begin(j);
	for (size_t i = 0; i < r->n_cmd; i++)
		crl_json_string(j, r->cmd[i]);
	crl_json_array_end(j);
	if (r->timeout > 0)
		crl_json_kv_int(j, "timeout_s", r->timeout);
	crl_json_kv_int(j, "max_output", EXEC_OUTPUT_MAX);
	crl_json_object_end(j);
	_cleanup_free_ char *msg = crl_json_finish_text(j, NULL);
	crl_json_value_t *v = NULL;
	/* The monitor ends the command at its timeout; the call waits a little longer for the answer. */
	int wait_ms = r->timeout > 0 ? (int)(r->timeout > 86400 ? 86400 : r->timeout) * 1000 + 10000 : -1;
	if (!msg)
		ret = crl_error_set(err, ENOMEM, "out of memory");
	else if ((ret = mon_client_call_once(c->pod_dir, msg, wait_ms, &v, err)) == 0) {
		bool timed_out = false;
		int64_t code = -1;
		crl_json_get_bool(crl_json_get(v, "timed_out"), &timed_out);
		crl_json_get_int(crl_json_get(v, "exit_code"), &code);
		if (timed_out)
			ret = crl_error_set(err, ETIMEDOUT, "command timed out after %lld s in container %s",
					    (long long)r->timeout, c->obj.id);
		else if (decode(call, v, "stdout", &out->stdout) < 0 || decode(call, v, "stderr", &out->stderr) < 0)
			ret = crl_error_set(err, EPROTO, "the pod monitor's exec reply is malformed");
		else
			out->exit_code = (int32_t)code;
		crl_json_value_free(v);
	} else {
		crl_error_wrap(err, "ExecSync in container %s", c->obj.id);
	}
	srv_ctr_unref(c);
	return ret;
}
