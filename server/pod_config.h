/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "api.pb-c.h"
#include "common/error.h"
#include "runtime/cgroup.h"

/* What a PodSandboxConfig asks for, checked and derived without side effects (unit-tested). */

/* Limits on what a client sends. */
#define SRV_POD_MAX_PORTS 1024
#define SRV_POD_MAX_SYSCTLS 64
#define SRV_POD_MAX_DNS_ENTRIES 64
#define SRV_POD_MAX_LABELS 1024
#define SRV_POD_MAX_STRING 4096
/* A pod's or a container's config, packed (it is kept in the object's record, base64). */
#define SRV_CONFIG_MAX_BYTES (1024 * 1024)

/* Namespace modes as the pod gets them (NamespaceOption with the CRI defaults: POD). */
typedef struct srv_pod_ns {
	int network, pid, ipc; /* RUNTIME__V1__NAMESPACE_MODE__* */
	const char *target_id;
} srv_pod_ns_t;

void srv_pod_config_ns(const Runtime__V1__PodSandboxConfig *c, srv_pod_ns_t *ret);
/* EINVAL when config (a pod's or a container's) packs into more than SRV_CONFIG_MAX_BYTES. */
int srv_config_size_check(const ProtobufCMessage *config, crl_error_t *err);
/* The whole config: EINVAL naming the field (config.metadata.name, config.port_mappings[2].host_port, ...). */
int srv_pod_config_check(const Runtime__V1__PodSandboxConfig *c, crl_error_t *err);
/* Resource values in range (negative, below a page, cpu period and shares bounds): EINVAL naming field. */
int srv_resources_check(const Runtime__V1__LinuxContainerResources *r, const char *field, crl_error_t *err);
/* The pod cgroup's limits from resources plus overhead: memory, cpu quota and shares that resources set, each
 * grown by the overhead's (the sum bounded); the period of resources. Unset in resources: left unset, or with
 * update, lifted (memory and quota unlimited). */
void srv_pod_cgroup_resources(const Runtime__V1__LinuxContainerResources *resources,
			      const Runtime__V1__LinuxContainerResources *overhead, bool update, rt_resources_t *out);
/* "net" for net.*, "ipc" for kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*; NULL for a sysctl no pod
 * namespace holds. */
const char *srv_sysctl_namespace(const char *key);
/* kubelet's pod name: name_namespace_uid_attempt. */
char *srv_pod_full_name(const Runtime__V1__PodSandboxMetadata *m);
/* resolv.conf from dns_config; NULL in *ret when the config gives nothing (the host's is used). */
int srv_resolv_conf(const Runtime__V1__DNSConfig *dns, char **ret, crl_error_t *err);
/* The monitor's --pod-namespaces list for these modes ("net,ipc,uts,pid", "" for none). */
void srv_pod_ns_list(const srv_pod_ns_t *ns, char ret[32]);
