/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "cni/conf.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "daemon.h"
#include "handlers.h"

static Runtime__V1__RuntimeCondition *condition(srv_call_t *call, const char *type, bool ok, const char *reason,
						const char *message)
{
	Runtime__V1__RuntimeCondition *c = srv_call_alloc(call, sizeof(*c));
	if (!c)
		return NULL;
	runtime__v1__runtime_condition__init(c);
	c->type = (char *)type;
	c->status = ok;
	c->reason = srv_call_strdup(call, reason);
	c->message = srv_call_strdup(call, message);
	if (!c->reason || !c->message)
		return NULL;
	return c;
}

static int add_info(srv_call_t *call, Runtime__V1__StatusResponse *r, size_t cap, const char *key, char *value)
{
	if (r->n_info == cap)
		return -ENOBUFS;
	Runtime__V1__StatusResponse__InfoEntry *e = srv_call_alloc(call, sizeof(*e));
	if (!e)
		return -ENOMEM;
	runtime__v1__status_response__info_entry__init(e);
	e->key = (char *)key;
	e->value = srv_call_strdup(call, value);
	if (!e->value)
		return -ENOMEM;
	r->info[r->n_info++] = e;
	return 0;
}

static char *network_json(const cni_network_t *net, const char *problem, const char *pod_cidr)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	if (net) {
		crl_json_kv_string(j, "name", net->name);
		crl_json_kv_string(j, "cniVersion", net->cni_version);
		crl_json_kv_string(j, "file", net->file);
		crl_json_key(j, "plugins");
		crl_json_array_begin(j);
		for (char **t = net->plugin_types; *t; t++)
			crl_json_string(j, *t);
		crl_json_array_end(j);
	}
	crl_json_kv_bool(j, "ready", problem == NULL);
	if (problem) {
		crl_json_kv_string(j, "error", problem);
	}
	crl_json_kv_string(j, "podCIDR", pod_cidr);
	crl_json_object_end(j);
	return crl_json_finish_text(j, NULL);
}

int srv_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__StatusRequest *rq = req;
	Runtime__V1__StatusResponse *r = resp;

	/* RuntimeReady: the daemon can write its state. */
	bool rt_ok = faccessat(d->root_fd, ".", W_OK, AT_EACCESS) == 0 &&
		     faccessat(d->runroot_fd, ".", W_OK, AT_EACCESS) == 0;
	char rt_msg[512] = "";
	if (!rt_ok)
		snprintf(rt_msg, sizeof(rt_msg), "state directories %s or %s are not writable", d->cfg.root,
			 d->cfg.runroot);

	/* NetworkReady: a valid CNI network exists and all its plugins are installed; looked at on every call so
	 * the answer follows the node's files without a restart. */
	cni_network_t *net = NULL;
	crl_error_t nerr = CRL_ERROR_INIT;
	bool net_ok = cni_conf_load(d->cfg.network_dir, d->cfg.cni_default_network, &net, &nerr) == 0 &&
		      cni_conf_check_plugins(net, d->cfg.plugin_dirs, &nerr) == 0;

	Runtime__V1__RuntimeStatus *st = srv_call_alloc(call, sizeof(*st));
	Runtime__V1__RuntimeCondition **conds = srv_call_alloc(call, 2 * sizeof(*conds));
	int ret = 0;
	if (!st || !conds) {
		ret = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	runtime__v1__runtime_status__init(st);
	conds[0] = condition(call, "RuntimeReady", rt_ok, rt_ok ? "" : "RuntimeStateNotWritable", rt_msg);
	conds[1] = condition(call, "NetworkReady", net_ok, net_ok ? "" : "NetworkPluginNotReady",
			     net_ok ? "" : crl_error_message(&nerr));
	if (!conds[0] || !conds[1]) {
		ret = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	st->conditions = conds;
	st->n_conditions = 2;
	r->status = st;

	/* The default handler ("") and the configured ones; no recursive read-only mounts nor user namespaces yet. */
	size_t nh = 1 + d->cfg.n_runtimes;
	Runtime__V1__RuntimeHandlerFeatures *feat = srv_call_alloc(call, sizeof(*feat));
	Runtime__V1__RuntimeHandler *h = srv_call_alloc(call, nh * sizeof(*h));
	Runtime__V1__RuntimeHandler **hs = srv_call_alloc(call, nh * sizeof(*hs));
	Runtime__V1__RuntimeFeatures *rf = srv_call_alloc(call, sizeof(*rf));
	if (!feat || !h || !hs || !rf) {
		ret = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	runtime__v1__runtime_handler_features__init(feat);
	runtime__v1__runtime_features__init(rf);
	for (size_t i = 0; i < nh; i++) {
		runtime__v1__runtime_handler__init(&h[i]);
		h[i].name = i ? d->cfg.runtimes[i - 1].name : (char *)"";
		h[i].features = feat;
		hs[i] = &h[i];
	}
	r->runtime_handlers = hs;
	r->n_runtime_handlers = nh;
	r->features = rf;

	if (rq->verbose) {
		enum { N_INFO = 2 };
		r->info = srv_call_alloc(call, N_INFO * sizeof(*r->info));
		_cleanup_free_ char *cfg_json = NULL;
		pthread_mutex_lock(&d->lock);
		_cleanup_free_ char *net_json = network_json(net, net_ok ? NULL : crl_error_message(&nerr), d->pod_cidr);
		pthread_mutex_unlock(&d->lock);
		if (!r->info || !net_json) {
			ret = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		if ((ret = srv_config_to_json(&d->cfg, false, &cfg_json, err)) < 0)
			goto out;
		if (add_info(call, r, N_INFO, "config", cfg_json) < 0 ||
		    add_info(call, r, N_INFO, "network", net_json) < 0) {
			ret = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	cni_network_free(net);
	crl_error_clear(&nerr);
	return ret;
}
