/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "common/error.h"
#include "common/json.h"
#include "conf.h"

/* Running a network's plugin chain for a pod, as the CNI 1.0.0 spec and libcni do: each plugin of the conflist
 * is executed from the plugin directories with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and
 * CNI_PATH in its environment and its configuration on stdin (the plugin's own object plus the network's name and
 * cniVersion, prevResult chained through the list, runtimeConfig for the capabilities the plugin declares). */

/* Per plugin exec, when the caller gives 0. */
#define CNI_DEFAULT_TIMEOUT_MS 60000
/* What a plugin may print on stdout before it is refused. */
#define CNI_MAX_OUTPUT (1024 * 1024)
/* The largest cache cni_add makes and cni_del_cached reads (conflist, runtime arguments, result). */
#define CNI_MAX_CACHE (4 * 1024 * 1024)

typedef struct cni_port_mapping {
	int host_port;
	int container_port;
	const char *protocol; /* "tcp", "udp", "sctp" */
	const char *host_ip;  /* "" or NULL: every address */
} cni_port_mapping_t;

/* What the runtime knows of the pod, for CNI_ARGS and runtimeConfig. */
typedef struct cni_pod {
	const char *container_id; /* the pod sandbox id */
	const char *netns;        /* path of the pinned network namespace */
	const char *ifname;       /* NULL or "": "eth0" */
	const char *pod_name, *pod_namespace, *pod_uid;
	const cni_port_mapping_t *ports; /* runtimeConfig.portMappings, for plugins with capability portMappings */
	size_t n_ports;
	/* runtimeConfig.bandwidth, for plugins with capability bandwidth: the kubernetes.io/ingress-bandwidth and
	 * egress-bandwidth annotations as given ("10M", "1G"...), NULL when absent. */
	const char *ingress_bandwidth, *egress_bandwidth;
	/* runtimeConfig.dns, for plugins with capability dns (NULL-terminated, may be NULL). */
	char *const *dns_servers, *const *dns_searches, *const *dns_options;
} cni_pod_t;

typedef struct cni_result {
	char **ips;        /* the pod's addresses without prefix length, NULL-terminated, in the order given */
	char *json;        /* the final result, as the last plugin printed it */
} cni_result_t;

void cni_result_free(cni_result_t *r);

/* Told of every plugin exec (its type, "ADD" or "DEL", how long, whether it succeeded), for metrics; set once,
 * before pods are made (NULL: nobody). */
typedef void (*cni_observer_fn)(const char *plugin, const char *command, int64_t ns, bool ok);
void cni_set_observer(cni_observer_fn fn);

/* ADD through the chain. On failure the plugins already added are deleted again (in reverse) and nothing is
 * left behind; the message names the plugin, the file and the plugin's error (code, msg, details).
 * On success: the parsed result, and in *ret_cache a JSON document holding all DEL needs (the conflist as it
 * was, the runtime's arguments, the result) for the caller to keep on disk. */
int cni_add(const cni_network_t *net, char *const *plugin_dirs, const cni_pod_t *pod, int timeout_ms,
	    cni_result_t **ret_result, char **ret_cache, crl_error_t *err);

/* DEL through the chain kept in a cache from cni_add, in reverse order, with the cached result as prevResult.
 * netns may be NULL or "" when the namespace is gone (allowed by the spec). Every plugin is called even when one
 * fails; the first failure is returned. */
int cni_del_cached(const char *cache, char *const *plugin_dirs, const char *netns, int timeout_ms,
		   crl_error_t *err);

/* Parses a result of version 0.1.0 to 1.0.0 (ips / ip4 / ip6, interfaces, routes); pure, for tests. */
int cni_result_parse(const char *json, cni_result_t **ret, crl_error_t *err);
/* The same from the result already parsed (doc), json being its text. */
int cni_result_from_value(const crl_json_value_t *doc, const char *json, cni_result_t **ret, crl_error_t *err);

/* The cache DEL needs, made before ADD runs (no result yet): recorded first, it lets a DEL undo an ADD that was
 * cut off (the daemon killed during it). */
int cni_cache_prepare(const cni_network_t *net, const cni_pod_t *pod, char **ret_cache, crl_error_t *err);
