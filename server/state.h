/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "common/json.h"
#include "store.h"

typedef struct srv_daemon srv_daemon_t;

/* Persisted state: versioned JSON files in the root, written atomically; a reader refuses versions it does not
 * know. */
#define SRV_STATE_VERSION 1
#define SRV_STATE_MAX_BYTES (1024 * 1024)

/* The records of pods and containers (<root>/pods/<id>.json, <root>/containers/<id>.json): no larger than this,
 * which a restart reads; the config a client sends into one is bounded well below it (SRV_CONFIG_MAX_BYTES,
 * pod_config.h). */
#define SRV_RECORD_MAX_BYTES (8 * 1024 * 1024)

/* "<id>.json" (malloc'd; NULL on ENOMEM). */
char *srv_record_name(const char *id);
/* Whether name is a record's ("<64 characters>.json", the load checks the id); its id into id. */
bool srv_record_id(const char *name, char id[SRV_ID_LEN + 1]);
/* Finishes j (freed) and writes it as name in dirfd: durable (crl_fs_write_atomic) or not
 * (crl_fs_write_replace). EFBIG past SRV_RECORD_MAX_BYTES: a record a restart could not read is never written. */
int srv_record_write(int dirfd, const char *name, crl_json_t *j, bool durable, crl_error_t *err);
/* Reads and parses the record name of dirfd; EINVAL unless its "version" is version. */
int srv_record_read(int dirfd, const char *name, int version, crl_json_value_t **ret, crl_error_t *err);
/* The string member key copied; NULL when it is absent or empty. */
char *srv_record_dup(const crl_json_value_t *doc, const char *key);

/* runtime-config.json: what kubelet told us through UpdateRuntimeConfig. */
int srv_state_save_runtime_config(srv_daemon_t *d, const char *pod_cidr, crl_error_t *err);
/* Fills d->pod_cidr from the file ("" when there is none). */
int srv_state_load_runtime_config(srv_daemon_t *d, crl_error_t *err);
