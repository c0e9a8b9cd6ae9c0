/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define SRV_DEFAULT_CONFIG_PATH "/etc/crio-lite/crio-lite.conf"
/* A config file larger than this is refused rather than read. */
#define SRV_CONFIG_MAX_BYTES (1024 * 1024)

/* A RuntimeClass handler, [crio-lite.runtime.runtimes.NAME]: an external OCI runtime (runc's command line) that
 * the pod monitor runs instead of the embedded runtime library for the pods that name it. */
typedef struct srv_runtime_handler {
	char *name;
	char *runtime_path; /* absolute */
	char *runtime_root; /* its --root; NULL: one per pod, in the pod's directory */
} srv_runtime_handler_t;

#define SRV_MAX_RUNTIMES 32

/* The effective configuration. Every field has a row in the schema in config.c, which drives loading, printing
 * (`crio-lite config`, the shipped crio-lite.conf) and the JSON in verbose Status. */
typedef struct srv_config {
	/* [crio-lite] */
	char *root;
	char *runroot;
	char *log_dir;
	/* [crio-lite.api] */
	char *listen;
	char *stream_address;
	char *stream_port;
	char *stream_idle_timeout;
	int64_t grpc_max_send_msg_size;
	int64_t grpc_max_recv_msg_size;
	/* [crio-lite.runtime] */
	char *log_level;
	char *cgroup_manager;
	char *monitor_path;
	srv_runtime_handler_t *runtimes;
	size_t n_runtimes;
	/* [crio-lite.image] */
	char *registries_conf;
	char *pull_progress_timeout;
	/* [crio-lite.network] */
	char *network_dir;
	char **plugin_dirs; /* NULL-terminated */
	char *cni_default_network;
	char *plugin_timeout;
	/* [crio-lite.metrics] */
	int64_t enable_metrics; /* 0 or 1 */
	char *metrics_address;
	int64_t metrics_port;
} srv_config_t;

/* Command-line overrides; NULL means "not given". */
typedef struct srv_config_flags {
	const char *listen;
	const char *root;
	const char *runroot;
	const char *log_level;
} srv_config_flags_t;

int srv_config_init_defaults(srv_config_t *cfg, crl_error_t *err);
void srv_config_free(srv_config_t *cfg);
/* Merges a TOML document into cfg: unknown keys and wrong types are errors naming file:line. */
int srv_config_load_string(srv_config_t *cfg, const char *text, size_t len, const char *filename, crl_error_t *err);
/* Loads path into cfg; when missing_ok and the file does not exist, cfg is left as it is. */
int srv_config_load_file(srv_config_t *cfg, const char *path, bool missing_ok, crl_error_t *err);
int srv_config_apply_flags(srv_config_t *cfg, const srv_config_flags_t *flags, crl_error_t *err);
/* Checks values that the schema's types cannot (log level, paths absolute, limits in range ...). */
int srv_config_validate(const srv_config_t *cfg, crl_error_t *err);
/* "90s", "5m", "1h30m", "0" (0: no limit of our own) into seconds. */
int srv_parse_duration(const char *s, long *ret_s);
/* The socket's file system path from `listen` ("unix:///x", "unix:/x" or "/x"). */
int srv_config_socket_path(const srv_config_t *cfg, char **ret, crl_error_t *err);
/* The handler named (NULL when none is: "" is the default, the embedded library). */
const srv_runtime_handler_t *srv_config_runtime(const srv_config_t *cfg, const char *name);
/* A valid crio-lite.conf with every key and its comment. */
int srv_config_to_toml(const srv_config_t *cfg, char **ret, crl_error_t *err);
/* {"crio-lite": {"root": ..., "api": {...}, ...}} */
int srv_config_to_json(const srv_config_t *cfg, bool pretty, char **ret, crl_error_t *err);
