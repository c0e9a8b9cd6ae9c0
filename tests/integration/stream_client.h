/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/stream/buf.h"
#include "server/stream/spdy.h"

/* A client of the streaming server, written here for the tests and the benchmark: the HTTP upgrade, then SPDY/3.1
 * streams or WebSocket channels, as kubelet's clients (client-go's SPDY executor and port-forwarder, gorilla
 * WebSockets) speak them. */

typedef enum sc_transport { SC_SPDY = 1, SC_WS } sc_transport_t;

typedef struct sc {
	int fd;
	sc_transport_t t;
	int status;         /* the HTTP status of the upgrade */
	char protocol[64];  /* X-Stream-Protocol-Version or Sec-WebSocket-Protocol chosen */
	char body[512];     /* the response's body when it was no upgrade */
	char accept[64];    /* Sec-WebSocket-Accept */
	spdy_codec_t z;
	bool z_ok;
	st_buf_t in;
	uint32_t next_sid;
	bool base64; /* WebSocket base64 variant */
	/* a WebSocket message in assembly */
	bool in_msg, text;
	int chan;
	st_buf_t msg;
	struct sc_queued *queue, *queue_tail; /* events that came while sc_stream waited */
} sc_t;

typedef enum sc_ev_kind { SC_DATA = 1, SC_FIN, SC_RST, SC_REPLY, SC_GOAWAY, SC_CLOSE, SC_EOF, SC_PING } sc_ev_kind_t;

typedef struct sc_event {
	sc_ev_kind_t kind;
	uint32_t id; /* SPDY stream, or WebSocket channel */
	uint8_t *data; /* valid until the next call */
	size_t len;
	uint8_t *owned;
} sc_event_t;

/* Connects to url (http://host:port/path) and asks for an upgrade to t, offering protocols (NULL-terminated;
 * NULL: none). Returns 0 when an HTTP answer came (c->status says which), -1 on a transport failure. */
int sc_open(const char *url, sc_transport_t t, const char *const *protocols, sc_t **ret);
void sc_close(sc_t *c);
/* Closes the connection at once (RST), as a client that vanishes. */
void sc_abort(sc_t *c);

/* SPDY: opens a stream with these headers and waits for its SYN_REPLY (other events that come meanwhile are kept
 * for sc_next). Its id, or 0. */
uint32_t sc_stream(sc_t *c, const spdy_header_t *h, size_t n, int timeout_ms);
/* Data on a stream or channel (fin: the end of ours; on WebSocket v5, the close signal after the data). */
int sc_send(sc_t *c, uint32_t id, const void *data, size_t len, bool fin);
/* SPDY: a PING with this id. */
int sc_ping(sc_t *c, uint32_t id);
/* The next event within timeout_ms: 1, 0 on timeout, -1 on error. */
int sc_next(sc_t *c, sc_event_t *ev, int timeout_ms);
