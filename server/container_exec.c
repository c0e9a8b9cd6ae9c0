/* SPDX-License-Identifier: Apache-2.0 */
/* Exec, Attach and PortForward: each checks its request and answers a single-use URL on the streaming server
 * (server/stream/), which serves the session when the client comes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"
#include "daemon.h"
#include "grpc.h"
#include "handlers.h"
#include "pod.h"
#include "stream/stream.h"

#define EXEC_ARGS_MAX 4096

/* kubelet's checks of both calls' stream flags (its words: "or" for Exec, "and" for Attach). */
static int check_streams(bool in, bool out, bool err_, bool tty, const char *conj, crl_error_t *err)
{
	if (tty && err_)
		return crl_error_set(err, EINVAL, "tty and stderr cannot both be true");
	if (!in && !out && !err_)
		return crl_error_set(err, EINVAL, "one of stdin, stdout, %s stderr must be set", conj);
	return 0;
}

static int running_ctr(srv_daemon_t *d, const char *id, srv_ctr_t **ret, crl_error_t *err)
{
	if (!id || !*id)
		return crl_error_set(err, EINVAL, "container_id is required");
	return srv_ctr_get_running(d, id, ret, err);
}

static int answer(srv_daemon_t *d, srv_call_t *call, st_request_t *sr, char **url_field, crl_error_t *err)
{
	char *url = NULL;
	int r = srv_stream_url(d->stream, sr, &url, err);
	if (r < 0)
		return r;
	*url_field = srv_call_strdup(call, url);
	free(url);
	return *url_field ? 0 : crl_error_set(err, ENOMEM, "out of memory");
}

static st_request_t *request_of(st_kind_t kind, const srv_ctr_t *c, bool in, bool out, bool err_, bool tty)
{
	st_request_t *sr = calloc(1, sizeof(*sr));
	if (!sr)
		return NULL;
	sr->kind = kind;
	sr->in = in;
	sr->out = out;
	sr->err = err_;
	sr->tty = tty;
	sr->ctr_stdin = c->config->stdin;
	sr->ctr_stdin_once = c->config->stdin_once;
	sr->ctr_tty = c->config->tty;
	if (!(sr->ctr_id = strdup(c->obj.id)) || !(sr->pod_dir = strdup(c->pod_dir))) {
		st_request_free(sr);
		return NULL;
	}
	return sr;
}

int srv_exec(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ExecRequest *r = req;
	Runtime__V1__ExecResponse *out = resp;
	if (r->n_cmd == 0)
		return crl_error_set(err, EINVAL, "cmd is required");
	if (r->n_cmd > EXEC_ARGS_MAX)
		return crl_error_set(err, EINVAL, "cmd: more than %d words", EXEC_ARGS_MAX);
	int ret = check_streams(r->stdin, r->stdout, r->stderr, r->tty, "or", err);
	srv_ctr_t *c = NULL;
	if (ret < 0 || (ret = running_ctr(d, r->container_id, &c, err)) < 0)
		return ret;
	st_request_t *sr = request_of(ST_EXEC, c, r->stdin, r->stdout, r->stderr, r->tty);
	srv_ctr_unref(c);
	if (sr && (sr->cmd = calloc(r->n_cmd + 1, sizeof(char *))))
		for (size_t i = 0; i < r->n_cmd; i++)
			if (!(sr->cmd[i] = strdup(r->cmd[i]))) {
				st_request_free(sr);
				sr = NULL;
				break;
			}
	if (!sr || !sr->cmd) {
		st_request_free(sr);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return answer(d, call, sr, &out->url, err);
}

int srv_attach(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__AttachRequest *r = req;
	Runtime__V1__AttachResponse *out = resp;
	int ret = check_streams(r->stdin, r->stdout, r->stderr, r->tty, "and", err);
	srv_ctr_t *c = NULL;
	if (ret < 0 || (ret = running_ctr(d, r->container_id, &c, err)) < 0)
		return ret;
	st_request_t *sr = request_of(ST_ATTACH, c, r->stdin, r->stdout, r->stderr, r->tty);
	srv_ctr_unref(c);
	if (!sr)
		return crl_error_set(err, ENOMEM, "out of memory");
	return answer(d, call, sr, &out->url, err);
}

int srv_port_forward(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__PortForwardRequest *r = req;
	Runtime__V1__PortForwardResponse *out = resp;
	if (!r->pod_sandbox_id || !*r->pod_sandbox_id)
		return crl_error_set(err, EINVAL, "pod_sandbox_id is required");
	if (r->n_port > ST_MAX_PORTS)
		return crl_error_set(err, EINVAL, "port: more than %d ports", ST_MAX_PORTS);
	for (size_t i = 0; i < r->n_port; i++)
		if (r->port[i] < 1 || r->port[i] > 65535)
			return crl_error_set(err, EINVAL, "port[%zu]: %d is not a port number (1 to 65535)", i, r->port[i]);
	srv_pod_t *p = NULL;
	int ret = srv_pod_get(d, r->pod_sandbox_id, &p, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&p->lock);
	bool ready = p->state == SRV_POD_READY;
	pthread_mutex_unlock(&p->lock);
	if (!ready) {
		ret = crl_error_set(err, EBUSY, "pod sandbox %s is not ready", p->obj.id);
		srv_pod_unref(p);
		return ret;
	}
	st_request_t *sr = calloc(1, sizeof(*sr));
	char nsbuf[4200];
	const char *ns = srv_pod_netns(p, nsbuf, sizeof(nsbuf));
	if (sr) {
		sr->kind = ST_PORTFORWARD;
		sr->n_ports = r->n_port;
		if (r->n_port)
			memcpy(sr->ports, r->port, r->n_port * sizeof(int32_t));
		sr->pod_dir = strdup(p->dir);
		sr->netns = *ns ? strdup(ns) : NULL;
	}
	srv_pod_unref(p);
	if (!sr || !sr->pod_dir || (*ns && !sr->netns)) {
		st_request_free(sr);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return answer(d, call, sr, &out->url, err);
}
