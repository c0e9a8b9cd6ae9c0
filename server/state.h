/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/error.h"

typedef struct srv_daemon srv_daemon_t;

/* Persisted state: versioned JSON files in the root, written atomically; a reader refuses versions it does not
 * know. */
#define SRV_STATE_VERSION 1
#define SRV_STATE_MAX_BYTES (1024 * 1024)

/* runtime-config.json: what kubelet told us through UpdateRuntimeConfig. */
int srv_state_save_runtime_config(srv_daemon_t *d, const char *pod_cidr, crl_error_t *err);
/* Fills d->pod_cidr from the file ("" when there is none). */
int srv_state_load_runtime_config(srv_daemon_t *d, crl_error_t *err);
