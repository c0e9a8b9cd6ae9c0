/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/json.h"

/* The client side of the pod monitor's control protocol (version 1; see monitor.c): framing, the version field,
 * replies turned into errors. Used by the daemon and by the tests. One connection is used by one thread at a
 * time. */

#define MON_CLIENT_PROTOCOL 1
#define MON_CLIENT_MAX_MSG (1 << 20)
/* Replies may carry an exec's buffered output (16 MiB of each stream, base64). */
#define MON_CLIENT_MAX_REPLY (64 << 20)

typedef struct mon_client mon_client_t;

/* Connects to <dir>/monitor.sock, whatever the length of dir (through an O_PATH fd of dir). */
int mon_client_connect(const char *dir, mon_client_t **ret, crl_error_t *err);
/* Connects to a socket by its path (at most 107 bytes). */
int mon_client_connect_path(const char *sock, mon_client_t **ret, crl_error_t *err);
void mon_client_free(mon_client_t *c);
int mon_client_fd(const mon_client_t *c);
/* The monitor's pid as this process's PID namespace sees it (SO_PEERCRED), even when the monitor is PID 1 of a
 * pod PID namespace of its own. */
pid_t mon_client_peer_pid(const mon_client_t *c);

/* Sends one frame: a 4-byte big-endian length and body. raw=true sends body as it is, without the length. */
int mon_client_send(mon_client_t *c, const char *body, size_t len, bool raw, crl_error_t *err);
/* Receives one frame within timeout_ms (< 0: no limit) and parses it. ETIMEDOUT, EPIPE at end of stream. */
int mon_client_recv(mon_client_t *c, int timeout_ms, crl_json_value_t **ret, crl_error_t *err);
/* One request (its body built by the caller: {"v":1,"op":...}) and its reply. A reply {"ok":false} becomes an
 * error with the monitor's errno and message; the reply is returned only when ok. */
int mon_client_call(mon_client_t *c, const char *request, int timeout_ms, crl_json_value_t **ret, crl_error_t *err);
/* Connect, call, close: for one-off requests. */
int mon_client_call_once(const char *dir, const char *request, int timeout_ms, crl_json_value_t **ret,
			 crl_error_t *err);
