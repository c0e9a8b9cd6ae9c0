/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming session, as session.c (the transport and the loop), remotecommand.c (exec and attach) and
 * portforward.c share it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/monitor/client.h"
#include "server/stream/internal.h"
#include "server/stream/spdy.h"

/* Roles of exec and attach streams; also the WebSocket channel numbers. */
enum { R_STDIN, R_STDOUT, R_STDERR, R_ERROR, R_RESIZE, R_N };

#define CHUNK 32768
/* Sources are not read while this much waits for the client. */
#define OUT_HIGH (256 * 1024)
/* The client is not read (nor what it sent parsed) while this much waits for it. */
#define OUT_CAP (2 * OUT_HIGH)
/* The client is not read while this much waits for a process or a connection. */
#define SINK_HIGH (256 * 1024)
/* A forwarded connection in the pod that lets this much wait is dropped; all of them together past
 * PF_TOTAL_HIGH stop the client being read. */
#define PF_PAIR_MAX (256 * 1024)
#define PF_TOTAL_HIGH (1024 * 1024)
/* After the command exits: how long output still open (a child of it holding the pipe) is waited for. */
#define DRAIN_MS 2000
/* After the last frame: how long the client has to close its end. */
#define LINGER_MS 5000
#define MONITOR_MS 30000
#define DIAL_MS 2000
#define MAX_PF 256
#define WS_MAX_MESSAGE (1u << 20)
#define RESIZE_MAX 4096
#define STACK_SIZE (256 * 1024)

typedef struct sink {
	int fd;
	st_buf_t buf;
	bool fin; /* shut down (or close) once drained */
} sink_t;

/* A forwarded connection: a stream pair by request id (SPDY), or a port's two channels (WebSocket). */
typedef struct pf {
	struct pf *next;
	char *request_id;
	int port;
	uint32_t data, error; /* SPDY stream ids, or channels; 0 (SPDY) when not yet opened */
	bool has_data, has_error;
	int fd;
	sink_t to_pod;
	bool pod_eof, client_fin, finished;
} pf_t;

typedef struct session {
	srv_stream_t *srv;
	st_request_t *req;
	st_transport_t transport;
	int version;
	bool base64;
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
	st_buf_t in, out;
	spdy_codec_t z;
	bool z_ok;
	uint32_t last_stream;
	bool peer_gone; /* the client ended the connection (EOF, GOAWAY, close frame) */
	bool broken;    /* a protocol error or a thread that could not come back to the daemon's netns */
	int64_t last_io_ms, last_write_ms, last_read_ms;

	/* exec, attach */
	uint32_t sid[R_N];
	bool opened[R_N], fin_sent[R_N];
	size_t expected;
	bool started, finished;
	mon_client_t *mon;
	int src[3];  /* exec: [1] stdout (or the terminal), [2] stderr; -1 once at EOF */
	sink_t stdin_sink; /* the command's stdin, or the attached container's (its terminal's master with a tty) */
	bool close_stdin_pending;
	int tty_fd;  /* with a tty (exec, or attach to a container with one): the terminal's master, for resizes */
	bool exited;
	int exit_code;
	int64_t exited_ms;
	char *failure; /* why the command could not run, for the error stream */
	st_buf_t resize;
	int64_t create_deadline;

	/* WebSocket message in assembly */
	bool ws_in_msg, ws_text;
	int ws_chan;
	st_buf_t ws_msg;

	/* port-forward */
	pf_t *pfs;
	size_t n_pf;
	int32_t ws_ports[ST_MAX_PORTS];
	size_t n_ws_ports;
} session_t;

/* session.c: what goes to the client. Data on a SPDY stream (in frames of CHUNK at most) or a WebSocket channel
 * (binary with its byte first, or text with its digit first and base64); the end of ours on one (DATA with FIN,
 * or v5's close signal); the same by role, when the client opened it. */
void st_send_spdy(session_t *s, uint32_t sid, const uint8_t *p, size_t n);
void st_send_ws(session_t *s, unsigned chan, const uint8_t *p, size_t n);
void st_send_role(session_t *s, int role, const void *p, size_t n);
void st_fin_addr(session_t *s, uint32_t addr);
void st_fin_role(session_t *s, int role);
/* SPDY: accepts a stream the client opened (SYN_REPLY with no headers). */
void st_syn_reply(session_t *s, uint32_t sid);

/* remotecommand.c: exec and attach. */
/* Starts the command (exec) or joins the container's stdio (attach) once the client's streams are there. */
void st_rc_start(session_t *s);
/* The end: the last output's ends, the status on the error stream, GOAWAY or a close frame. */
void st_rc_finish(session_t *s);
/* Whether the command (or the container) has ended and its output been read. */
bool st_rc_done(session_t *s);
/* What the client sent on a role's stream, and the end of it. */
void st_rc_on_data(session_t *s, int role, const uint8_t *p, size_t n);
void st_rc_on_client_fin(session_t *s, int role);
void st_rc_stdin_closed(session_t *s);
/* After stdin's pending bytes are written: a stdin_once container's stdin closed by its monitor. */
void st_rc_after_flush(session_t *s);
/* The role a SPDY streamtype names (-1 for none), and the role of a stream the client opened. */
int st_rc_role_of(const char *type);
int st_rc_role_by_stream(session_t *s, uint32_t sid);
/* The command's output fd i (1, 2) is readable; the monitor's connection is. */
void st_rc_read_src(session_t *s, int i);
void st_rc_read_monitor(session_t *s);

/* portforward.c. */
/* A SPDY stream of port-forward (error or data, its port and request id): paired, and dialled with its data. */
void st_pf_on_stream(session_t *s, uint32_t sid, const spdy_headers_t *h);
/* WebSocket: the query's ports on their channels, dialled at once. */
void st_pf_ws_start(session_t *s);
pf_t *st_pf_by_stream(session_t *s, uint32_t sid, bool *is_data);
pf_t *st_pf_by_channel(session_t *s, unsigned chan);
/* What the client sent for the connection, and the end of it. */
void st_pf_on_data(session_t *s, pf_t *p, const uint8_t *d, size_t n, bool fin);
/* The connection in the pod is readable. */
void st_pf_read(session_t *s, pf_t *p);
/* Ends a connection: error (if any) on its error stream, then the end of both streams. */
void st_pf_finish(session_t *s, pf_t *p, const char *error);
void st_pf_free_finished(session_t *s);
bool st_pf_all_done(session_t *s);
