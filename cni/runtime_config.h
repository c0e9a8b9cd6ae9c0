/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "common/json.h"
#include "exec.h"

/* The runtimeConfig a plugin gets (CNI conventions: "capabilities" in the plugin's config, "runtimeConfig" in
 * what it is sent), built from the pod once and filtered for each plugin. */

/* A Kubernetes quantity ("10M", "1Gi", "500k", "1.5e6") as kubelet reads the kubernetes.io/ingress-bandwidth
 * and egress-bandwidth annotations: the value rounded up to a whole number of bits per second, refused (EINVAL)
 * below 1k or above 1P as kubelet does. */
int cni_bandwidth_parse(const char *quantity, uint64_t *ret_bits, crl_error_t *err);

/* Everything the pod gives, by capability name (portMappings, bandwidth, dns), as a JSON object; keys whose value
 * is absent are left out. */
int cni_runtime_config_build(const cni_pod_t *pod, char **ret, crl_error_t *err);

/* Writes "runtimeConfig": {...} holding the members of rc (a cni_runtime_config_build object) that plugin declares
 * true in its "capabilities"; writes nothing and returns false when there are none. */
bool cni_runtime_config_write(crl_json_t *j, const crl_json_value_t *plugin, const crl_json_value_t *rc);
