/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The streaming server: Exec, Attach and PortForward answer a URL on it; the client then upgrades an HTTP
 * connection on that URL to SPDY/3.1 or WebSocket and speaks kubelet's protocols over it (remotecommand for
 * exec and attach, portforward). One thread per session; the HTTP part is libmicrohttpd's. */

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_stream srv_stream_t;

typedef enum st_kind { ST_EXEC = 1, ST_ATTACH, ST_PORTFORWARD } st_kind_t;

#define ST_MAX_PORTS 128

/* What a URL's token stands for: a checked CRI request, copied. */
typedef struct st_request {
	st_kind_t kind;
	char *ctr_id;  /* exec, attach */
	char *pod_dir; /* the pod's monitor directory */
	char **cmd;    /* exec: NULL-terminated */
	bool in, out, err, tty;
	/* attach: the container was created with stdin, and stdin_once */
	bool ctr_stdin, ctr_stdin_once, ctr_tty;
	/* portforward */
	char *netns; /* the pod's network namespace; NULL for a pod in the host's */
	int32_t ports[ST_MAX_PORTS];
	size_t n_ports;
} st_request_t;

void st_request_free(st_request_t *r);

/* Starts the server on cfg.stream_address:stream_port (a free port for "0"). */
int srv_stream_start(srv_daemon_t *d, srv_stream_t **ret, crl_error_t *err);
/* Ends every session and stops the server. */
void srv_stream_stop(srv_stream_t *s);
/* Takes req (freed on failure too) and answers the single-use URL that serves it:
 * http://ADDRESS:PORT/{exec,attach,portforward}/TOKEN. ENOBUFS when too many URLs wait for their client. */
int srv_stream_url(srv_stream_t *s, st_request_t *req, char **ret_url, crl_error_t *err);

/* A listening TCP socket (close-on-exec) on address:port (numeric; port "0": a free one), and the http:// URL
 * that reaches it (an unspecified address as loopback). */
int st_listen(const char *address, const char *port, int *ret_fd, char **ret_url, crl_error_t *err);

/* --- tokens (token.c): a table of requests by random token, single use, expiring --- */

#define ST_TOKEN_TTL_MS 60000
/* URLs handed out and not yet used, at most (kubelet's limit). */
#define ST_TOKENS_MAX 1000
/* 8 random bytes, base64url without padding (as kubelet's). */
#define ST_TOKEN_LEN 11

typedef struct st_tokens st_tokens_t;
int st_tokens_new(st_tokens_t **ret, crl_error_t *err);
void st_tokens_free(st_tokens_t *t);
/* Files req under a new token (written to token, ST_TOKEN_LEN + 1 bytes); expired entries go first. On failure
 * req stays the caller's. */
int st_tokens_add(st_tokens_t *t, st_request_t *req, int64_t now_ms, char *token, crl_error_t *err);
/* The request filed under token, removed from the table; NULL when unknown, used or expired. */
st_request_t *st_tokens_take(st_tokens_t *t, const char *token, int64_t now_ms);
size_t st_tokens_count(st_tokens_t *t);
