/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/error.h"

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_exits srv_exits_t;

/* Exits as they happen: a thread watches each pod's exits/ directory (inotify), where its monitor records each
 * container's exit, and takes the exit in at once (the record, CONTAINER_STOPPED for GetContainerEvents), so
 * kubelet's evented PLEG hears of it without asking. */
int srv_exits_new(srv_daemon_t *d, srv_exits_t **ret, crl_error_t *err);
/* Stops the thread (before the stores it reads go). */
void srv_exits_free(srv_exits_t *x);
/* Watches <pod_dir>/exits; the watch goes by itself with the directory. */
int srv_exits_watch(srv_exits_t *x, const char *pod_dir, crl_error_t *err);
