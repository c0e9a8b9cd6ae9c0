/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/toml.h"

/* K_BOOL is kept in an int64_t field (0 or 1). */
typedef enum { K_STRING, K_INT, K_STRLIST, K_BOOL } key_type_t;

typedef struct key_def {
	const char *table; /* "" for [crio-lite] itself */
	const char *name;
	key_type_t type;
	size_t offset;
	const char *def_str;
	int64_t def_int;
	const char *const *def_list;
	const char *comment;
} key_def_t;

typedef struct table_def {
	const char *name;
	const char *comment;
} table_def_t;

#define OFF(f) offsetof(srv_config_t, f)

static const char *const default_plugin_dirs[] = { "/opt/cni/bin", "/usr/lib/cni", NULL };

static const table_def_t tables[] = {
	{ "", "Paths of the daemon's state." },
	{ "api", "The CRI gRPC server and the streaming server (exec, attach, port-forward)." },
	{ "runtime", "How containers are run." },
	{ "image", "Pulling and storing images." },
	{ "network", "Pod networking through CNI plugins." },
	{ "metrics", "The daemon's own metrics, in Prometheus's text format at http://ADDRESS:PORT/metrics." },
};

static const key_def_t keys[] = {
	{ "", "root", K_STRING, OFF(root), "/var/lib/crio-lite", 0, NULL,
	  "Persistent state: images, layers, container metadata." },
	{ "", "runroot", K_STRING, OFF(runroot), "/run/crio-lite", 0, NULL,
	  "Volatile state that does not survive a reboot: pod monitors' sockets, pinned namespaces." },
	{ "", "log_dir", K_STRING, OFF(log_dir), "/var/log/crio-lite/pods", 0, NULL,
	  "Where container logs go when kubelet gives no log directory for a pod." },
	{ "api", "listen", K_STRING, OFF(listen), "unix:///run/crio-lite/crio-lite.sock", 0, NULL,
	  "The CRI socket kubelet and crictl connect to (unix:///path or /path). Created with mode 0660." },
	{ "api", "stream_address", K_STRING, OFF(stream_address), "127.0.0.1", 0, NULL,
	  "IP address the streaming server (exec, attach, port-forward) listens on." },
	{ "api", "stream_port", K_STRING, OFF(stream_port), "0", 0, NULL,
	  "Port of the streaming server; \"0\" picks a free port." },
	{ "api", "stream_idle_timeout", K_STRING, OFF(stream_idle_timeout), "4h", 0, NULL,
	  "A streaming session (exec, attach, port-forward) with no traffic for this long is closed (\"0\": never)." },
	{ "api", "grpc_max_send_msg_size", K_INT, OFF(grpc_max_send_msg_size), NULL, 16 * 1024 * 1024, NULL,
	  "Largest gRPC message the daemon sends, in bytes (kubelet's limit is 16 MiB)." },
	{ "api", "grpc_max_recv_msg_size", K_INT, OFF(grpc_max_recv_msg_size), NULL, 16 * 1024 * 1024, NULL,
	  "Largest gRPC message the daemon accepts, in bytes; larger ones fail with RESOURCE_EXHAUSTED." },
	{ "runtime", "log_level", K_STRING, OFF(log_level), "info", 0, NULL,
	  "Daemon log level: fatal, error, warn, info, debug or trace." },
	{ "runtime", "cgroup_manager", K_STRING, OFF(cgroup_manager), "cgroupfs", 0, NULL,
	  "Cgroup driver reported to kubelet and used for containers. Only \"cgroupfs\" is supported." },
	{ "runtime", "monitor_path", K_STRING, OFF(monitor_path), "", 0, NULL,
	  "The pod monitor program (crio-lite-monitor); empty: the one installed beside the crio-lite binary." },
	{ "image", "registries_conf", K_STRING, OFF(registries_conf), "/etc/containers/registries.conf", 0, NULL,
	  "Registries, mirrors and search registries, in containers-registries.conf(5) format." },
	{ "image", "pull_progress_timeout", K_STRING, OFF(pull_progress_timeout), "5m", 0, NULL,
	  "A pull that moves no byte for this long is aborted (a duration such as \"90s\" or \"5m\")." },
	{ "network", "network_dir", K_STRING, OFF(network_dir), "/etc/cni/net.d", 0, NULL,
	  "Directory with CNI network configurations (.conflist, .conf, .json); the first in name order is used." },
	{ "network", "plugin_dirs", K_STRLIST, OFF(plugin_dirs), NULL, 0, default_plugin_dirs,
	  "Directories searched for CNI plugin binaries, in order." },
	{ "network", "cni_default_network", K_STRING, OFF(cni_default_network), "", 0, NULL,
	  "Name of the CNI network to use; empty takes the first configuration found in network_dir." },
	{ "network", "plugin_timeout", K_STRING, OFF(plugin_timeout), "60s", 0, NULL,
	  "How long one CNI plugin may run before it is killed and the pod's network call fails." },
	{ "metrics", "enable_metrics", K_BOOL, OFF(enable_metrics), NULL, 0, NULL,
	  "Serve the metrics endpoint (off by default, as in CRI-O)." },
	{ "metrics", "metrics_address", K_STRING, OFF(metrics_address), "127.0.0.1", 0, NULL,
	  "IP address the metrics endpoint listens on." },
	{ "metrics", "metrics_port", K_INT, OFF(metrics_port), NULL, 9090, NULL,
	  "Port of the metrics endpoint; 0 picks a free one (logged at start)." },
};

#define ROOT_TABLE "crio-lite"

static char **field_str(srv_config_t *cfg, const key_def_t *k)
{
	return (char **)((char *)cfg + k->offset);
}

static int64_t *field_int(srv_config_t *cfg, const key_def_t *k)
{
	return (int64_t *)((char *)cfg + k->offset);
}

static char ***field_list(srv_config_t *cfg, const key_def_t *k)
{
	return (char ***)((char *)cfg + k->offset);
}

static char **strv_dup(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **r = calloc(n + 1, sizeof(*r));
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(r[i] = strdup(v[i]))) {
			crl_strv_free(r);
			return NULL;
		}
	return r;
}

void srv_config_free(srv_config_t *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++) {
		const key_def_t *k = &keys[i];
		if (k->type == K_STRING) {
			free(*field_str(cfg, k));
			*field_str(cfg, k) = NULL;
		} else if (k->type == K_STRLIST) {
			crl_strv_free(*field_list(cfg, k));
			*field_list(cfg, k) = NULL;
		}
	}
	for (size_t i = 0; i < cfg->n_runtimes; i++) {
		free(cfg->runtimes[i].name);
		free(cfg->runtimes[i].runtime_path);
		free(cfg->runtimes[i].runtime_root);
	}
	free(cfg->runtimes);
	cfg->runtimes = NULL;
	cfg->n_runtimes = 0;
}

int srv_config_init_defaults(srv_config_t *cfg, crl_error_t *err)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++) {
		const key_def_t *k = &keys[i];
		bool ok = true;
		if (k->type == K_STRING)
			ok = (*field_str(cfg, k) = strdup(k->def_str)) != NULL;
		else if (k->type == K_INT || k->type == K_BOOL)
			*field_int(cfg, k) = k->def_int;
		else
			ok = (*field_list(cfg, k) = strv_dup(k->def_list)) != NULL;
		if (!ok) {
			srv_config_free(cfg);
			return crl_error_set(err, ENOMEM, "out of memory");
		}
	}
	return 0;
}

static const key_def_t *find_key(const char *table, const char *name)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].table, table) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool is_table(const char *name)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(tables); i++)
		if (*tables[i].name && strcmp(tables[i].name, name) == 0)
			return true;
	return false;
}

static int set_key(srv_config_t *cfg, const key_def_t *k, const crl_toml_value_t *v, const char *file,
		   crl_error_t *err)
{
	const char *sep = *k->table ? "." : "";
	switch (k->type) {
	case K_STRING:
		if (v->type != CRL_TOML_STRING)
			return crl_error_set(err, EINVAL, "%s:%d: %s%s%s.%s must be a string, not a %s", file, v->line,
					     ROOT_TABLE, sep, k->table, k->name, crl_toml_type_name(v->type));
		char *s = strdup(v->s);
		if (!s)
			return crl_error_set(err, ENOMEM, "out of memory");
		free(*field_str(cfg, k));
		*field_str(cfg, k) = s;
		return 0;
	case K_INT:
		if (v->type != CRL_TOML_INTEGER)
			return crl_error_set(err, EINVAL, "%s:%d: %s%s%s.%s must be an integer, not a %s", file,
					     v->line, ROOT_TABLE, sep, k->table, k->name, crl_toml_type_name(v->type));
		*field_int(cfg, k) = v->i;
		return 0;
	case K_BOOL:
		if (v->type != CRL_TOML_BOOL)
			return crl_error_set(err, EINVAL, "%s:%d: %s%s%s.%s must be true or false, not a %s", file,
					     v->line, ROOT_TABLE, sep, k->table, k->name, crl_toml_type_name(v->type));
		*field_int(cfg, k) = v->b;
		return 0;
	case K_STRLIST: {
		if (v->type != CRL_TOML_ARRAY)
			return crl_error_set(err, EINVAL, "%s:%d: %s%s%s.%s must be an array of strings, not a %s", file,
					     v->line, ROOT_TABLE, sep, k->table, k->name, crl_toml_type_name(v->type));
		_cleanup_strv_ char **list = calloc(v->n + 1, sizeof(char *));
		if (!list)
			return crl_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < v->n; i++) {
			if (v->items[i]->type != CRL_TOML_STRING)
				return crl_error_set(err, EINVAL, "%s:%d: %s%s%s.%s must be an array of strings; item %zu is a %s",
						     file, v->items[i]->line, ROOT_TABLE, sep, k->table, k->name, i + 1,
						     crl_toml_type_name(v->items[i]->type));
			if (!(list[i] = strdup(v->items[i]->s)))
				return crl_error_set(err, ENOMEM, "out of memory");
		}
		crl_strv_free(*field_list(cfg, k));
		*field_list(cfg, k) = TAKE_PTR(list);
		return 0;
	}
	}
	return crl_error_set(err, EINVAL, "internal: bad key type");
}

static bool handler_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 63)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

/* [crio-lite.runtime.runtimes.NAME] tables: runtime_path (required), runtime_root, runtime_type ("oci"). */
static int load_runtimes(srv_config_t *cfg, const crl_toml_value_t *t, const char *file, crl_error_t *err)
{
	if (t->type != CRL_TOML_TABLE)
		return crl_error_set(err, EINVAL, "%s:%d: %s.runtime.runtimes must be a table of tables", file, t->line,
				     ROOT_TABLE);
	for (size_t i = 0; i < t->n; i++) {
		const char *name = t->keys[i];
		const crl_toml_value_t *h = t->items[i];
		if (h->type != CRL_TOML_TABLE)
			return crl_error_set(err, EINVAL, "%s:%d: %s.runtime.runtimes.%s must be a table", file, h->line,
					     ROOT_TABLE, name);
		if (!handler_name_ok(name))
			return crl_error_set(err, EINVAL, "%s:%d: runtime handler name '%s' is not a RuntimeClass handler "
							  "name (a-z, 0-9, '-', '_', '.'; at most 63)",
					     file, h->line, name);
		if (cfg->n_runtimes >= SRV_MAX_RUNTIMES)
			return crl_error_set(err, EINVAL, "%s:%d: more than %d runtime handlers", file, h->line,
					     SRV_MAX_RUNTIMES);
		srv_runtime_handler_t rh = { 0 };
		int r = 0;
		for (size_t k = 0; k < h->n && r == 0; k++) {
			const crl_toml_value_t *v = h->items[k];
			const char *key = h->keys[k];
			if (strcmp(key, "runtime_path") != 0 && strcmp(key, "runtime_root") != 0 &&
			    strcmp(key, "runtime_type") != 0) {
				r = crl_error_set(err, EINVAL, "%s:%d: unknown key '%s.runtime.runtimes.%s.%s'", file, v->line,
						  ROOT_TABLE, name, key);
			} else if (v->type != CRL_TOML_STRING) {
				r = crl_error_set(err, EINVAL, "%s:%d: %s.runtime.runtimes.%s.%s must be a string", file,
						  v->line, ROOT_TABLE, name, key);
			} else if (strcmp(key, "runtime_type") == 0) {
				if (strcmp(v->s, "oci") != 0)
					r = crl_error_set(err, EINVAL, "%s:%d: runtime_type '%s' is not supported (\"oci\")",
							  file, v->line, v->s);
			} else if (v->s[0] != '/') {
				r = crl_error_set(err, EINVAL, "%s:%d: %s.runtime.runtimes.%s.%s '%s' is not an absolute path",
						  file, v->line, ROOT_TABLE, name, key, v->s);
			} else {
				char **dst = strcmp(key, "runtime_path") == 0 ? &rh.runtime_path : &rh.runtime_root;
				free(*dst);
				if (!(*dst = strdup(v->s)))
					r = crl_error_set(err, ENOMEM, "out of memory");
			}
		}
		if (r == 0 && !rh.runtime_path)
			r = crl_error_set(err, EINVAL, "%s:%d: %s.runtime.runtimes.%s needs runtime_path", file, h->line,
					  ROOT_TABLE, name);
		if (r == 0 && srv_config_runtime(cfg, name))
			r = crl_error_set(err, EINVAL, "%s:%d: runtime handler '%s' is defined twice", file, h->line, name);
		srv_runtime_handler_t *n = r == 0 ? realloc(cfg->runtimes, (cfg->n_runtimes + 1) * sizeof(*n)) : NULL;
		if (r == 0 && (!n || !(rh.name = strdup(name))))
			r = crl_error_set(err, ENOMEM, "out of memory");
		if (r < 0) {
			if (n)
				cfg->runtimes = n;
			free(rh.runtime_path);
			free(rh.runtime_root);
			return r;
		}
		cfg->runtimes = n;
		cfg->runtimes[cfg->n_runtimes++] = rh;
	}
	return 0;
}

const srv_runtime_handler_t *srv_config_runtime(const srv_config_t *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->n_runtimes; i++)
		if (strcmp(cfg->runtimes[i].name, name) == 0)
			return &cfg->runtimes[i];
	return NULL;
}

/* Applies the keys of one table (the root [crio-lite] when table is ""). */
static int load_table(srv_config_t *cfg, const char *table, const crl_toml_value_t *t, const char *file,
		      crl_error_t *err)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *name = t->keys[i];
		const crl_toml_value_t *v = t->items[i];
		if (!*table && is_table(name)) {
			if (v->type != CRL_TOML_TABLE)
				return crl_error_set(err, EINVAL, "%s:%d: %s.%s must be a table, not a %s", file, v->line,
						     ROOT_TABLE, name, crl_toml_type_name(v->type));
			int r = load_table(cfg, name, v, file, err);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(table, "runtime") == 0 && strcmp(name, "runtimes") == 0) {
			int r = load_runtimes(cfg, v, file, err);
			if (r < 0)
				return r;
			continue;
		}
		const key_def_t *k = find_key(table, name);
		if (!k)
			return crl_error_set(err, EINVAL, "%s:%d: unknown key '%s%s%s.%s'", file, v->line, ROOT_TABLE,
					     *table ? "." : "", table, name);
		int r = set_key(cfg, k, v, file, err);
		if (r < 0)
			return r;
	}
	return 0;
}

int srv_config_load_string(srv_config_t *cfg, const char *text, size_t len, const char *filename, crl_error_t *err)
{
	crl_toml_value_t *doc = NULL;
	int r = crl_toml_parse(text, len, filename, &doc, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < doc->n && r >= 0; i++) {
		const crl_toml_value_t *v = doc->items[i];
		if (strcmp(doc->keys[i], ROOT_TABLE) != 0)
			r = crl_error_set(err, EINVAL, "%s:%d: unknown key '%s' (settings live in the [%s] table)",
					  filename, v->line, doc->keys[i], ROOT_TABLE);
		else if (v->type != CRL_TOML_TABLE)
			r = crl_error_set(err, EINVAL, "%s:%d: %s must be a table, not a %s", filename, v->line,
					  ROOT_TABLE, crl_toml_type_name(v->type));
		else
			r = load_table(cfg, "", v, filename, err);
	}
	crl_toml_free(doc);
	return r;
}

int srv_config_load_file(srv_config_t *cfg, const char *path, bool missing_ok, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return 0;
		return crl_error_set_errno(err, errno, "cannot open config file %s", path);
	}
	int r = crl_fs_read_fd(fd, SRV_CONFIG_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return crl_error_wrap(err, "config file %s", path);
	return srv_config_load_string(cfg, text, len, path, err);
}

static int replace(char **field, const char *v, crl_error_t *err)
{
	char *s = strdup(v);
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	free(*field);
	*field = s;
	return 0;
}

int srv_config_apply_flags(srv_config_t *cfg, const srv_config_flags_t *f, crl_error_t *err)
{
	int r = 0;
	if (f->listen && (r = replace(&cfg->listen, f->listen, err)) < 0)
		return r;
	if (f->root && (r = replace(&cfg->root, f->root, err)) < 0)
		return r;
	if (f->runroot && (r = replace(&cfg->runroot, f->runroot, err)) < 0)
		return r;
	if (f->log_level && (r = replace(&cfg->log_level, f->log_level, err)) < 0)
		return r;
	return 0;
}

int srv_parse_duration(const char *s, long *ret_s)
{
	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "0") == 0) {
		*ret_s = 0;
		return 0;
	}
	long total = 0;
	const char *p = s;
	while (*p) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		long v = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (v > 100000000)
				return -ERANGE;
		}
		long unit;
		switch (*p++) {
		case 'h':
			unit = 3600;
			break;
		case 'm':
			unit = 60;
			break;
		case 's':
			unit = 1;
			break;
		default:
			return -EINVAL;
		}
		total += v * unit;
		if (total > 100000000)
			return -ERANGE;
	}
	*ret_s = total;
	return 0;
}

int srv_config_socket_path(const srv_config_t *cfg, char **ret, crl_error_t *err)
{
	const char *l = cfg->listen;
	const char *path;
	if (strncmp(l, "unix://", 7) == 0)
		path = l + 7;
	else if (strncmp(l, "unix:", 5) == 0)
		path = l + 5;
	else if (strstr(l, "://"))
		return crl_error_set(err, EINVAL, "listen: only unix sockets are supported, not '%s'", l);
	else
		path = l;
	if (path[0] != '/')
		return crl_error_set(err, EINVAL, "listen: socket path must be absolute: '%s'", l);
	/* sun_path holds 108 bytes including the NUL. */
	if (strlen(path) > 107)
		return crl_error_set(err, ENAMETOOLONG, "listen: socket path is longer than 107 bytes: '%s'", path);
	char *s = strdup(path);
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	*ret = s;
	return 0;
}

int srv_config_validate(const srv_config_t *cfg, crl_error_t *err)
{
	const struct {
		const char *name;
		const char *v;
	} paths[] = {
		{ "root", cfg->root },
		{ "runroot", cfg->runroot },
		{ "log_dir", cfg->log_dir },
		{ "image.registries_conf", cfg->registries_conf },
		{ "network.network_dir", cfg->network_dir },
	};
	for (size_t i = 0; i < CRL_ARRAY_SIZE(paths); i++)
		if (paths[i].v[0] != '/')
			return crl_error_set(err, EINVAL, "%s must be an absolute path, not '%s'", paths[i].name,
					     paths[i].v);
	for (char **d = cfg->plugin_dirs; *d; d++)
		if ((*d)[0] != '/')
			return crl_error_set(err, EINVAL, "network.plugin_dirs: '%s' is not an absolute path", *d);
	if (crl_log_parse_level(cfg->log_level) < 0)
		return crl_error_set(err, EINVAL,
				     "runtime.log_level: unknown level '%s' (fatal, error, warn, info, debug, trace)",
				     cfg->log_level);
	if (strcmp(cfg->cgroup_manager, "cgroupfs") != 0)
		return crl_error_set(err, EINVAL, "runtime.cgroup_manager: '%s' is not supported; use \"cgroupfs\"",
				     cfg->cgroup_manager);
	const int64_t min_msg = 4096, max_msg = 1LL << 30;
	if (cfg->grpc_max_send_msg_size < min_msg || cfg->grpc_max_send_msg_size > max_msg)
		return crl_error_set(err, EINVAL, "api.grpc_max_send_msg_size must be between %lld and %lld bytes",
				     (long long)min_msg, (long long)max_msg);
	if (cfg->grpc_max_recv_msg_size < min_msg || cfg->grpc_max_recv_msg_size > max_msg)
		return crl_error_set(err, EINVAL, "api.grpc_max_recv_msg_size must be between %lld and %lld bytes",
				     (long long)min_msg, (long long)max_msg);
	long secs;
	if (srv_parse_duration(cfg->pull_progress_timeout, &secs) < 0)
		return crl_error_set(err, EINVAL, "image.pull_progress_timeout: '%s' is not a duration like \"90s\", \"5m\" or \"1h\"",
				     cfg->pull_progress_timeout);
	if (srv_parse_duration(cfg->plugin_timeout, &secs) < 0 || secs <= 0)
		return crl_error_set(err, EINVAL, "network.plugin_timeout: '%s' is not a positive duration like \"30s\" or \"2m\"",
				     cfg->plugin_timeout);
	if (cfg->monitor_path[0] && cfg->monitor_path[0] != '/')
		return crl_error_set(err, EINVAL, "runtime.monitor_path: '%s' is not an absolute path", cfg->monitor_path);
	if (cfg->metrics_port < 0 || cfg->metrics_port > 65535)
		return crl_error_set(err, EINVAL, "metrics.metrics_port must be a port number from 0 to 65535, not %lld",
				     (long long)cfg->metrics_port);
	if (srv_parse_duration(cfg->stream_idle_timeout, &secs) < 0 || secs < 0)
		return crl_error_set(err, EINVAL, "api.stream_idle_timeout: '%s' is not a duration like \"4h\" or \"30m\"",
				     cfg->stream_idle_timeout);
	char *end = NULL;
	errno = 0;
	long port = strtol(cfg->stream_port, &end, 10);
	if (!*cfg->stream_port || *end || errno || port < 0 || port > 65535)
		return crl_error_set(err, EINVAL, "api.stream_port must be a port number from 0 to 65535, not '%s'",
				     cfg->stream_port);
	_cleanup_free_ char *sock = NULL;
	return srv_config_socket_path(cfg, &sock, err);
}

/* --- printing --- */

static void toml_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

int srv_config_to_toml(const srv_config_t *cfg, char **ret, crl_error_t *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return crl_error_set_errno(err, errno, "open_memstream");
	fprintf(f, "# crio-lite configuration (TOML). Tables and keys follow CRI-O's crio.conf where the concept is "
		   "the same.\n# Command-line flags (--listen, --root, --runroot, --log-level) override this file.\n");
	for (size_t t = 0; t < CRL_ARRAY_SIZE(tables); t++) {
		const char *tn = tables[t].name;
		fprintf(f, "\n# %s\n[%s%s%s]\n", tables[t].comment, ROOT_TABLE, *tn ? "." : "", tn);
		for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++) {
			const key_def_t *k = &keys[i];
			if (strcmp(k->table, tn) != 0)
				continue;
			fprintf(f, "\n# %s\n%s = ", k->comment, k->name);
			srv_config_t *c = (srv_config_t *)cfg;
			if (k->type == K_STRING)
				toml_string(f, *field_str(c, k));
			else if (k->type == K_INT)
				fprintf(f, "%lld", (long long)*field_int(c, k));
			else if (k->type == K_BOOL)
				fputs(*field_int(c, k) ? "true" : "false", f);
			else {
				fputc('[', f);
				for (char **s = *field_list(c, k); *s; s++) {
					if (s != *field_list(c, k))
						fputs(", ", f);
					toml_string(f, *s);
				}
				fputc(']', f);
			}
			fputc('\n', f);
		}
		if (strcmp(tn, "runtime") != 0)
			continue;
		fprintf(f, "\n# RuntimeClass handlers: [%s.runtime.runtimes.NAME] with runtime_path (an OCI runtime with runc's "
			   "command line,\n# such as runc or crun) and optionally runtime_root (its --root). Pods naming "
			   "no handler use the embedded runtime.\n",
			ROOT_TABLE);
		for (size_t i = 0; i < cfg->n_runtimes; i++) {
			const srv_runtime_handler_t *h = &cfg->runtimes[i];
			fprintf(f, "\n[%s.runtime.runtimes.%s]\nruntime_path = ", ROOT_TABLE, h->name);
			toml_string(f, h->runtime_path);
			fputc('\n', f);
			if (h->runtime_root) {
				fputs("runtime_root = ", f);
				toml_string(f, h->runtime_root);
				fputc('\n', f);
			}
		}
	}
	if (fclose(f) != 0) {
		free(buf);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = buf;
	return 0;
}

int srv_config_to_json(const srv_config_t *cfg, bool pretty, char **ret, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(pretty);
	srv_config_t *c = (srv_config_t *)cfg;
	crl_json_object_begin(j);
	crl_json_key(j, ROOT_TABLE);
	crl_json_object_begin(j);
	for (size_t t = 0; t < CRL_ARRAY_SIZE(tables); t++) {
		const char *tn = tables[t].name;
		if (*tn) {
			crl_json_key(j, tn);
			crl_json_object_begin(j);
		}
		for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++) {
			const key_def_t *k = &keys[i];
			if (strcmp(k->table, tn) != 0)
				continue;
			crl_json_key(j, k->name);
			if (k->type == K_STRING)
				crl_json_string(j, *field_str(c, k));
			else if (k->type == K_INT)
				crl_json_int(j, *field_int(c, k));
			else if (k->type == K_BOOL)
				crl_json_bool(j, *field_int(c, k) != 0);
			else {
				crl_json_array_begin(j);
				for (char **s = *field_list(c, k); *s; s++)
					crl_json_string(j, *s);
				crl_json_array_end(j);
			}
		}
		if (strcmp(tn, "runtime") == 0) {
			crl_json_key(j, "runtimes");
			crl_json_object_begin(j);
			for (size_t i = 0; i < cfg->n_runtimes; i++) {
				crl_json_key(j, cfg->runtimes[i].name);
				crl_json_object_begin(j);
				crl_json_kv_string(j, "runtime_path", cfg->runtimes[i].runtime_path);
				if (cfg->runtimes[i].runtime_root)
					crl_json_kv_string(j, "runtime_root", cfg->runtimes[i].runtime_root);
				crl_json_object_end(j);
			}
			crl_json_object_end(j);
		}
		if (*tn)
			crl_json_object_end(j);
	}
	crl_json_object_end(j);
	crl_json_object_end(j);
	int r = crl_json_finish(j, ret, NULL, err);
	return r;
}
