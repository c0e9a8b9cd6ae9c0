/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the streaming server: what http.c (listener, routes, handshakes) and session.c (the protocols over an
 * upgraded connection) share. */
#pragma once

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/stream/stream.h"

/* Sessions at once; more get 503. */
#define ST_MAX_SESSIONS 128
/* kubelet's stream creation timeout: the client has this long to open the streams it asked for. */
#define ST_CREATE_TIMEOUT_MS 30000
/* A client that takes no byte of what waits for it for this long (or the idle timeout if shorter) is dropped. */
#define ST_STALL_TIMEOUT_MS 60000

struct srv_stream {
	struct MHD_Daemon *mhd;
	int listen_fd;
	st_tokens_t *tokens;
	char *base_url; /* http://ADDRESS:PORT */
	int host_netns; /* the daemon's network namespace, to come back to after a dial in a pod's */
	int stop_fd;    /* an eventfd: readable once the server stops */
	long idle_timeout_ms;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	size_t sessions;
	bool stopping;
};

typedef enum st_transport { T_SPDY = 1, T_WS } st_transport_t;

/* A session as the handshake set it up; session.c runs it on a thread of its own. */
typedef struct st_setup {
	srv_stream_t *srv;
	st_request_t *req;
	st_transport_t transport;
	int version;  /* remotecommand protocol: 1 (channel.k8s.io) to 5; port-forward: 0 */
	bool base64;  /* WebSocket base64 variants */
	int32_t ports[ST_MAX_PORTS]; /* WebSocket port-forward: from the query */
	size_t n_ports;
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra; /* bytes read past the request */
	size_t n_extra;
} st_setup_t;

/* Runs the session to its end on a new thread; takes setup. The session count was raised by the caller. */
int st_session_spawn(st_setup_t *setup, crl_error_t *err);
/* Called by a session's thread as it ends. */
void st_session_ended(srv_stream_t *s);
