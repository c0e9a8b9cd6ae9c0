/* SPDX-License-Identifier: Apache-2.0 */
#include "exec.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "invoke.h"
#include "runtime_config.h"

#define CACHE_VERSION 1
/* bridge and portmap run iptables; nothing else of the daemon's environment is passed on. */
#define PLUGIN_SYSTEM_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* How much of a plugin's own words go in an error message. */
#define MSG_MAX 1024
/* Linux's IFNAMSIZ less the NUL. */
#define IFNAME_MAX 15

enum { ENV_COMMAND, ENV_CONTAINERID, ENV_NETNS, ENV_IFNAME, ENV_ARGS, ENV_CNI_PATH, ENV_PATH, ENV_N };

typedef struct chain {
	const cni_network_t *net;
	crl_json_value_t *doc; /* net->conflist, parsed */
	const crl_json_value_t *plugins;
	size_t n;
	const crl_json_value_t *rc; /* cni_runtime_config_build's object */
	const char *container_id, *ifname, *args;
	char *const *dirs;
	char *env[ENV_N + 1];
	int timeout_ms;
	bool del_prev; /* DEL is given the result as prevResult: from cniVersion 0.4.0, as libcni does */
} chain_t;

static void chain_done(chain_t *c)
{
	crl_json_value_free(c->doc);
	for (int i = ENV_COMMAND + 1; i < ENV_N; i++)
		free(c->env[i]);
	*c = (chain_t){ 0 };
}

static bool ascii_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* libcni's rule for container ids and network names (the network name becomes a directory of host-local). */
static bool valid_id(const char *s)
{
	if (!s || !ascii_alnum(*s))
		return false;
	for (; *s; s++)
		if (!ascii_alnum(*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static int check_id(const char *what, const char *s, crl_error_t *err)
{
	if (valid_id(s))
		return 0;
	return crl_error_set(err, EINVAL, "%s '%s' is not made of letters, digits, '_', '.', '-'", what, s ? s : "");
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IFNAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	return strcspn(s, "/: \t\n\v\f\r") == n;
}

static bool version_at_least(const char *v, unsigned major, unsigned minor)
{
	unsigned a = 0, b = 0;
	if (!v || sscanf(v, "%u.%u", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

/* NULL when out of memory. */
static char *env_entry(const char *key, const char *value)
{
	char *s = NULL;
	return asprintf(&s, "%s=%s", key, value) < 0 ? NULL : s;
}

static int chain_init(chain_t *c, const cni_network_t *net, char *const *dirs, const char *container_id,
		      const char *netns, const char *ifname, const char *args, const crl_json_value_t *rc,
		      int timeout_ms, crl_error_t *err)
{
	*c = (chain_t){ .net = net, .rc = rc, .container_id = container_id, .ifname = ifname, .args = args,
			.dirs = dirs, .timeout_ms = timeout_ms > 0 ? timeout_ms : CNI_DEFAULT_TIMEOUT_MS,
			.del_prev = version_at_least(net->cni_version, 0, 4) };
	int r = check_id("network name", net->name, err);
	if (r >= 0)
		r = check_id("container id", container_id, err);
	if (r < 0)
		return r;
	if (!valid_ifname(ifname))
		return crl_error_set(err, EINVAL, "interface name '%s' is not valid", ifname);
	r = crl_json_parse(net->conflist ? net->conflist : "", &c->doc, err);
	if (r < 0)
		return crl_error_wrap(err, "%s", net->file);
	c->plugins = crl_json_get(c->doc, "plugins");
	c->n = crl_json_array_len(c->plugins);
	size_t types = 0;
	while (net->plugin_types && net->plugin_types[types])
		types++;
	if (c->n == 0 || c->n != types)
		return crl_error_set(err, EINVAL, "%s: the plugin list does not match the network's", net->file);
	_cleanup_free_ char *cni_path = cni_conf_join_dirs(dirs);
	if (!cni_path || !(c->env[ENV_CONTAINERID] = env_entry("CNI_CONTAINERID", container_id)) ||
	    !(c->env[ENV_NETNS] = env_entry("CNI_NETNS", netns)) ||
	    !(c->env[ENV_IFNAME] = env_entry("CNI_IFNAME", ifname)) ||
	    !(c->env[ENV_ARGS] = env_entry("CNI_ARGS", args)) ||
	    !(c->env[ENV_CNI_PATH] = env_entry("CNI_PATH", cni_path)) ||
	    !(c->env[ENV_PATH] = strdup(PLUGIN_SYSTEM_PATH)))
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* The plugin's object with the network's name and version, prevResult and runtimeConfig, as libcni's
 * buildOneConfig makes it. */
static int build_stdin(const chain_t *c, const crl_json_value_t *plugin, const crl_json_value_t *prev,
		       char **ret, size_t *ret_len, crl_error_t *err)
{
	static const char *const set_here[] = { "name", "cniVersion", "prevResult", "runtimeConfig" };
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	for (size_t k = 0; k < crl_json_object_len(plugin); k++) {
		const char *key = crl_json_object_key(plugin, k);
		bool skip = false;
		for (size_t s = 0; s < CRL_ARRAY_SIZE(set_here); s++)
			skip |= strcmp(key, set_here[s]) == 0;
		if (!skip) {
			crl_json_key(j, key);
			crl_json_value(j, crl_json_object_value(plugin, k));
		}
	}
	crl_json_kv_string(j, "cniVersion", c->net->cni_version);
	crl_json_kv_string(j, "name", c->net->name);
	if (prev) {
		crl_json_key(j, "prevResult");
		crl_json_value(j, prev);
	}
	/* The runtime's capability arguments replace a runtimeConfig written in the file; without any, the
	 * file's stays (libcni's injectRuntimeConfig). */
	const crl_json_value_t *own = crl_json_get(plugin, "runtimeConfig");
	if (!cni_runtime_config_write(j, plugin, c->rc) && own) {
		crl_json_key(j, "runtimeConfig");
		crl_json_value(j, own);
	}
	crl_json_object_end(j);
	return crl_json_finish(j, ret, ret_len, err);
}

static void trimmed(const char *s, const char **ret, size_t *ret_len)
{
	while (*s && strchr(" \t\r\n", *s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1]))
		n--;
	*ret = s;
	*ret_len = n;
}

/* The plugin's error: its CNI error object on stdout, or else what it wrote (stderr first), bounded. */
static int plugin_error(const cni_output_t *o, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	crl_error_t perr = CRL_ERROR_INIT;
	int64_t code = 0;
	if (crl_json_parse(o->out, &doc, &perr) == 0 && crl_json_is_object(doc)) {
		bool has_code = crl_json_get_int(crl_json_get(doc, "code"), &code);
		const char *msg = crl_json_get_string(crl_json_get(doc, "msg"));
		const char *details = crl_json_get_string(crl_json_get(doc, "details"));
		if (has_code || (msg && *msg)) {
			if (!has_code)
				crl_error_set(err, EIO, "%.*s", MSG_MAX, msg);
			else if (msg && *msg)
				crl_error_set(err, EIO, "code %lld: %.*s", (long long)code, MSG_MAX, msg);
			else
				crl_error_set(err, EIO, "code %lld", (long long)code);
			if (details && *details)
				crl_error_set(err, EIO, "%s: %.*s", crl_error_message(err), MSG_MAX, details);
			crl_json_value_free(doc);
			return -EIO;
		}
	}
	crl_json_value_free(doc);
	crl_error_clear(&perr);
	const char *text;
	size_t len;
	trimmed(o->err, &text, &len);
	if (len == 0)
		trimmed(o->out, &text, &len);
	bool sig = WIFSIGNALED(o->status);
	return crl_error_set(err, EIO, "%s %d%s%.*s%s", sig ? "killed by signal" : "exit status",
			     sig ? WTERMSIG(o->status) : WEXITSTATUS(o->status), len ? ": " : " and no message",
			     (int)(len > MSG_MAX ? MSG_MAX : len), text, len > MSG_MAX ? "..." : "");
}

static _Atomic(cni_observer_fn) observer;

void cni_set_observer(cni_observer_fn fn)
{
	atomic_store(&observer, fn);
}

/* Plugin i with cmd; its stdout in *ret_out when that is not NULL. */
static int run(chain_t *c, size_t i, bool add, const crl_json_value_t *prev, char **ret_out, crl_error_t *err)
{
	const char *type = c->net->plugin_types[i];
	_cleanup_free_ char *path = NULL, *in = NULL;
	size_t in_len = 0;
	cni_output_t o = { 0 };
	int r = cni_conf_find_plugin(c->dirs, type, &path, err);
	if (r == -ENOENT)
		r = crl_error_set(err, ENOENT, "not found in %s", c->env[ENV_CNI_PATH] + strlen("CNI_PATH="));
	if (r >= 0)
		r = build_stdin(c, crl_json_array_at(c->plugins, i), prev, &in, &in_len, err);
	int64_t t0 = crl_now_ns(CLOCK_MONOTONIC);
	bool ran = false;
	if (r >= 0) {
		c->env[ENV_COMMAND] = add ? (char *)"CNI_COMMAND=ADD" : (char *)"CNI_COMMAND=DEL";
		r = cni_invoke(path, c->env, in, in_len, c->timeout_ms, CNI_MAX_OUTPUT, &o, err);
		ran = true;
	}
	if (r >= 0 && (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0))
		r = plugin_error(&o, err);
	cni_observer_fn obs = atomic_load(&observer);
	if (ran && obs)
		obs(type, add ? "ADD" : "DEL", crl_now_ns(CLOCK_MONOTONIC) - t0, r >= 0);
	if (r >= 0 && o.err_len)
		log_debug("CNI plugin %s %s for %s wrote on stderr: %.*s", type, add ? "ADD" : "DEL", c->container_id,
			  MSG_MAX, o.err);
	if (r >= 0 && ret_out)
		*ret_out = TAKE_PTR(o.out);
	cni_output_done(&o);
	if (r < 0)
		return crl_error_wrap(err, "CNI plugin %s (network %s, %s) %s failed", type, c->net->name,
				      c->net->file, add ? "ADD" : "DEL");
	return 0;
}

static int parse_result(const chain_t *c, size_t i, const char *out, crl_json_value_t **ret, crl_error_t *err)
{
	const char *text;
	size_t len;
	trimmed(out, &text, &len);
	int r = len ? crl_json_parse(out, ret, err) : crl_error_set(err, EINVAL, "it printed no result");
	if (r >= 0 && !crl_json_is_object(*ret)) {
		crl_json_value_free(TAKE_PTR(*ret));
		r = crl_error_set(err, EINVAL, "its result is not a JSON object");
	}
	if (r < 0)
		return crl_error_wrap(err, "CNI plugin %s (network %s, %s) ADD failed", c->net->plugin_types[i],
				      c->net->name, c->net->file);
	return 0;
}

/* DEL of plugins [0, count) in reverse, every one of them even when one fails; the first failure is returned. */
static int del_chain(chain_t *c, size_t count, const crl_json_value_t *result, crl_error_t *err)
{
	int ret = 0;
	for (size_t k = count; k-- > 0;) {
		crl_error_t e = CRL_ERROR_INIT;
		int r = run(c, k, false, c->del_prev ? result : NULL, NULL, &e);
		if (r < 0 && ret == 0) {
			ret = r;
			crl_error_clear(err);
			*err = e;
		} else {
			crl_error_clear(&e);
		}
	}
	return ret;
}

static int make_cache(const chain_t *c, const crl_json_value_t *result, char **ret, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", CACHE_VERSION);
	crl_json_kv_string(j, "file", c->net->file);
	crl_json_key(j, "conflist");
	crl_json_value(j, c->doc);
	crl_json_kv_string(j, "container_id", c->container_id);
	crl_json_kv_string(j, "ifname", c->ifname);
	crl_json_kv_string(j, "args", c->args);
	crl_json_key(j, "runtime_config");
	crl_json_value(j, c->rc);
	crl_json_key(j, "result");
	if (result)
		crl_json_value(j, result);
	else
		crl_json_null(j);
	crl_json_object_end(j);
	size_t len = 0;
	int r = crl_json_finish(j, ret, &len, err);
	if (r >= 0 && len > CNI_MAX_CACHE) {
		free(TAKE_PTR(*ret));
		r = crl_error_set(err, EMSGSIZE, "the result cache would be larger than %d bytes", CNI_MAX_CACHE);
	}
	return r;
}

static int cni_args(const cni_pod_t *pod, char **ret, crl_error_t *err)
{
	const char *ns = pod->pod_namespace ? pod->pod_namespace : "", *name = pod->pod_name ? pod->pod_name : "";
	const char *uid = pod->pod_uid ? pod->pod_uid : "";
	const char *vals[] = { ns, name, uid };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(vals); i++)
		if (strpbrk(vals[i], ";="))
			return crl_error_set(err, EINVAL, "pod field '%s' cannot go in CNI_ARGS (';' or '=')", vals[i]);
	if (asprintf(ret, "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;"
			  "K8S_POD_UID=%s", ns, name, pod->container_id, uid) < 0) {
		*ret = NULL;
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* The chain for pod's ADD: its arguments and runtimeConfig checked and built (*ret_rc is the caller's). */
static int add_chain(const cni_network_t *net, char *const *plugin_dirs, const cni_pod_t *pod, int timeout_ms,
		     chain_t *c, crl_json_value_t **ret_rc, char **ret_args, crl_error_t *err)
{
	/* The chain points at args and rc: both go to the caller, to free after the chain. */
	_cleanup_free_ char *args = NULL, *rc_text = NULL;
	crl_json_value_t *rc = NULL;
	int r = 0;
	if (!pod->netns || !*pod->netns)
		r = crl_error_set(err, EINVAL, "no network namespace");
	if (r >= 0)
		r = cni_args(pod, &args, err); /* the container id is checked by chain_init */
	if (r >= 0)
		r = cni_runtime_config_build(pod, &rc_text, err);
	if (r >= 0)
		r = crl_json_parse(rc_text, &rc, err);
	if (r >= 0)
		r = chain_init(c, net, plugin_dirs, pod->container_id, pod->netns, pod->ifname && *pod->ifname ? pod->ifname : "eth0",
			       args, rc, timeout_ms, err);
	if (r < 0) {
		chain_done(c);
		crl_json_value_free(rc);
		return crl_error_wrap(err, "CNI ADD of network %s (%s)", net->name, net->file);
	}
	*ret_rc = rc;
	*ret_args = TAKE_PTR(args);
	return 0;
}

int cni_cache_prepare(const cni_network_t *net, const cni_pod_t *pod, char **ret_cache, crl_error_t *err)
{
	/* The plugin directories only matter to running it: none are looked in here. */
	static char *const no_dirs[] = { NULL };
	chain_t c = { 0 };
	crl_json_value_t *rc = NULL;
	_cleanup_free_ char *args = NULL;
	int r = add_chain(net, no_dirs, pod, 0, &c, &rc, &args, err);
	if (r < 0)
		return r;
	r = make_cache(&c, NULL, ret_cache, err);
	chain_done(&c);
	crl_json_value_free(rc);
	return r;
}

int cni_add(const cni_network_t *net, char *const *plugin_dirs, const cni_pod_t *pod, int timeout_ms,
	    cni_result_t **ret_result, char **ret_cache, crl_error_t *err)
{
	crl_json_value_t *rc = NULL;
	_cleanup_free_ char *args = NULL;
	chain_t c = { 0 };
	int r = add_chain(net, plugin_dirs, pod, timeout_ms, &c, &rc, &args, err);
	if (r < 0)
		return r;

	crl_json_value_t *prev = NULL;
	_cleanup_free_ char *prev_text = NULL;
	size_t i = 0, undo = 0;
	for (; i < c.n; i++) {
		_cleanup_free_ char *out = NULL;
		crl_json_value_t *v = NULL;
		if ((r = run(&c, i, true, prev, &out, err)) < 0 || (r = parse_result(&c, i, out, &v, err)) < 0) {
			/* A plugin that failed is deleted too (DEL must cope with what a failed ADD left), unless it
			 * hung: its DEL would most likely hang as long again. */
			undo = r == -ETIMEDOUT ? i : i + 1;
			break;
		}
		crl_json_value_free(prev);
		prev = v;
		free(prev_text);
		prev_text = TAKE_PTR(out);
	}
	cni_result_t *res = NULL;
	_cleanup_free_ char *cache = NULL;
	if (r >= 0 && (r = cni_result_from_value(prev, prev_text, &res, err)) < 0)
		crl_error_wrap(err, "CNI plugin %s (network %s, %s) ADD failed", net->plugin_types[c.n - 1], net->name,
			       net->file);
	if (r >= 0)
		r = make_cache(&c, prev, &cache, err);
	if (r < 0 && i == c.n)
		undo = c.n;
	if (r < 0) {
		crl_error_t e = CRL_ERROR_INIT;
		if (del_chain(&c, undo, prev, &e) < 0)
			crl_error_set(err, err->errnum, "%s; and undoing the ADD: %s", crl_error_message(err),
				      crl_error_message(&e));
		crl_error_clear(&e);
		cni_result_free(res);
	} else {
		*ret_result = res;
		*ret_cache = TAKE_PTR(cache);
	}
	crl_json_value_free(prev);
	chain_done(&c);
	crl_json_value_free(rc);
	return r;
}

/* The network as it was at ADD, from the cache's conflist. */
static int cached_network(const crl_json_value_t *doc, cni_network_t **ret, crl_error_t *err)
{
	const char *file = crl_json_get_string(crl_json_get(doc, "file"));
	crl_json_t *j = crl_json_new(false);
	crl_json_value(j, crl_json_get(doc, "conflist"));
	_cleanup_free_ char *text = NULL;
	int r = crl_json_finish(j, &text, NULL, err);
	return r < 0 ? r : cni_conf_parse(text, file ? file : "(cached)", true, ret, err);
}

int cni_del_cached(const char *cache, char *const *plugin_dirs, const char *netns, int timeout_ms,
		   crl_error_t *err)
{
	if (!cache || strlen(cache) > CNI_MAX_CACHE)
		return crl_error_set(err, EINVAL, "CNI cache: missing or larger than %d bytes", CNI_MAX_CACHE);
	crl_json_value_t *doc = NULL;
	int r = crl_json_parse(cache, &doc, err);
	if (r < 0)
		return crl_error_wrap(err, "CNI cache");
	int64_t version = 0;
	const char *cid = crl_json_get_string(crl_json_get(doc, "container_id"));
	const char *ifname = crl_json_get_string(crl_json_get(doc, "ifname"));
	const char *args = crl_json_get_string(crl_json_get(doc, "args"));
	const crl_json_value_t *rc = crl_json_get(doc, "runtime_config"), *result = crl_json_get(doc, "result");
	cni_network_t *net = NULL;
	chain_t c = { 0 };
	if (!crl_json_get_int(crl_json_get(doc, "version"), &version) || version != CACHE_VERSION)
		r = crl_error_set(err, EINVAL, "CNI cache: version not understood (this build reads %d)",
				  CACHE_VERSION);
	else if (!crl_json_is_object(crl_json_get(doc, "conflist")) || !crl_json_is_object(rc) ||
		 !(crl_json_is_object(result) || crl_json_is_null(result)) || !cid || !ifname || !args)
		r = crl_error_set(err, EINVAL, "CNI cache: conflist, runtime_config, result, container_id, ifname "
					       "or args missing");
	else if ((r = cached_network(doc, &net, err)) >= 0)
		r = chain_init(&c, net, plugin_dirs, cid, netns ? netns : "", ifname, args, rc, timeout_ms, err);
	if (r < 0)
		crl_error_wrap(err, "CNI DEL");
	else
		r = del_chain(&c, c.n, crl_json_is_null(result) ? NULL : result, err);
	chain_done(&c);
	cni_network_free(net);
	crl_json_value_free(doc);
	return r;
}
