/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/error.h"

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_metrics_http srv_metrics_http_t;

/* Serves GET /metrics (srv_metrics_render) on metrics_address:metrics_port. */
int srv_metrics_http_start(srv_daemon_t *d, srv_metrics_http_t **ret, crl_error_t *err);
void srv_metrics_http_stop(srv_metrics_http_t *h);
