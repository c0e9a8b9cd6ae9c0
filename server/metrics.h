/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The daemon's own metrics, in Prometheus's text exposition format (version 0.0.4), names under crio_lite_:
 * per-RPC request counts by code and latency histograms, image pulls (count, bytes, seconds, failures by reason),
 * pods and containers by state, monitors alive, OOM kills, CNI plugin calls' latency by plugin and command, the
 * process's RSS and open fds. Counters are updated where things happen, lock-free; gauges are read at scrape. */

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_method srv_method_t;

/* Once, before the gRPC server starts: the methods of the dispatch table, which label the RPC families. */
void srv_metrics_init(const srv_method_t *methods, size_t n);
/* A call ended with a gRPC code after ns (m NULL: a method that does not exist). */
void srv_metrics_rpc(const srv_method_t *m, int code, int64_t ns);
/* A pull ended: bytes of layers fetched; errnum 0 when it succeeded. */
void srv_metrics_pull(int errnum, uint64_t bytes, int64_t ns);
void srv_metrics_oom_kill(void);
/* One CNI plugin exec (command ADD, DEL or CHECK). */
void srv_metrics_cni(const char *plugin, const char *command, int64_t ns, bool ok);

/* The whole exposition (caller frees). */
int srv_metrics_render(srv_daemon_t *d, char **ret, size_t *ret_len, crl_error_t *err);
