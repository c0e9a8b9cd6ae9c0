/* SPDX-License-Identifier: Apache-2.0 */
/* One streaming session on its own thread: the upgraded connection's protocol (SPDY/3.1 streams or WebSocket
 * channels) and one poll loop joining it to what the session serves (remotecommand.c: exec and attach;
 * portforward.c). Nothing is read from a source while too much waits for the client, and nothing from the
 * client while too much waits for a process or a connection: every buffer is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/fdpass.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "server/stream/session.h"
#include "server/stream/ws.h"

/* --- output to the client --- */

void st_send_spdy(session_t *s, uint32_t sid, const uint8_t *p, size_t n)
{
	do {
		size_t k = n > CHUNK ? CHUNK : n;
		spdy_put_data(&s->out, sid, 0, p, k);
		p += k;
		n -= k;
	} while (n);
}

/* A WebSocket message on a channel: binary with the channel's byte first, or (base64 variants) text with the
 * channel's digit first. */
void st_send_ws(session_t *s, unsigned chan, const uint8_t *p, size_t n)
{
	if (!s->base64) {
		uint8_t c = (uint8_t)chan;
		ws_put_frame(&s->out, WS_BINARY, true, &c, 1, p, n);
		return;
	}
	char c = (char)('0' + chan);
	char *b = crl_base64_encode(p, n);
	if (!b) {
		s->out.oom = true;
		return;
	}
	ws_put_frame(&s->out, WS_TEXT, true, &c, 1, b, strlen(b));
	free(b);
}

/* Data on a role's stream or channel (dropped when the client did not open it). */
void st_send_role(session_t *s, int role, const void *p, size_t n)
{
	if (!s->opened[role] || s->fin_sent[role])
		return;
	if (s->transport == T_SPDY)
		st_send_spdy(s, s->sid[role], p, n);
	else
		st_send_ws(s, (unsigned)role, p, n);
}

/* The end of what we send on a stream: DATA with FIN (SPDY), the close signal (WebSocket v5). */
void st_fin_addr(session_t *s, uint32_t addr)
{
	if (s->transport == T_SPDY) {
		spdy_put_data(&s->out, addr, SPDY_FLAG_FIN, NULL, 0);
	} else if (s->version >= 5) {
		uint8_t m[2] = { 255, (uint8_t)addr };
		ws_put_frame(&s->out, WS_BINARY, true, m, 2, NULL, 0);
	}
}

void st_fin_role(session_t *s, int role)
{
	if (!s->opened[role] || s->fin_sent[role])
		return;
	s->fin_sent[role] = true;
	st_fin_addr(s, s->transport == T_SPDY ? s->sid[role] : (uint32_t)role);
}

/* --- frames from the client --- */

void st_syn_reply(session_t *s, uint32_t sid)
{
	crl_error_t err = CRL_ERROR_INIT;
	if (spdy_put_syn_reply(&s->out, &s->z, sid, 0, NULL, 0, &err) < 0) {
		crl_error_clear(&err);
		s->broken = true;
	}
}

static void spdy_syn_stream(session_t *s, const spdy_frame_t *f)
{
	uint32_t sid = f->stream_id;
	crl_error_t err = CRL_ERROR_INIT;
	spdy_headers_t h = { .n = 0 };
	if (spdy_headers_decode(&s->z, f->payload + 10, f->len - 10, &h, &err) < 0 || sid == 0 || !(sid & 1) ||
	    sid <= s->last_stream) {
		log_warn("streaming session: %s", err.msg ? crl_error_message(&err) : "SPDY stream id out of order");
		crl_error_clear(&err);
		spdy_headers_free(&h);
		s->broken = true;
		return;
	}
	s->last_stream = sid;
	if (s->req->kind == ST_PORTFORWARD) {
		st_pf_on_stream(s, sid, &h);
		spdy_headers_free(&h);
		return;
	}
	int role = st_rc_role_of(spdy_header_get(&h, "streamtype"));
	spdy_headers_free(&h);
	if (role >= 0 && s->opened[role]) {
		/* refused, instead of a reply, as kubelet does */
		spdy_put_rst_stream(&s->out, sid, SPDY_PROTOCOL_ERROR);
		return;
	}
	st_syn_reply(s, sid);
	if (role < 0)
		return; /* an unknown stream is accepted and ignored, as kubelet does */
	s->sid[role] = sid;
	s->opened[role] = true;
	s->expected = s->expected ? s->expected - 1 : 0;
	if (f->flags & SPDY_FLAG_FIN)
		st_rc_on_client_fin(s, role);
}

static void on_spdy_frame(session_t *s, const spdy_frame_t *f)
{
	if (!f->control) {
		bool fin = f->flags & SPDY_FLAG_FIN;
		if (s->req->kind == ST_PORTFORWARD) {
			bool is_data = false;
			pf_t *p = st_pf_by_stream(s, f->stream_id, &is_data);
			if (p && is_data)
				st_pf_on_data(s, p, f->payload, f->len, fin);
			return;
		}
		int role = st_rc_role_by_stream(s, f->stream_id);
		if (role < 0)
			return;
		st_rc_on_data(s, role, f->payload, f->len);
		if (fin)
			st_rc_on_client_fin(s, role);
		return;
	}
	switch (f->type) {
	case SPDY_SYN_STREAM:
		spdy_syn_stream(s, f);
		break;
	case SPDY_RST_STREAM:
		if (s->req->kind == ST_PORTFORWARD) {
			bool is_data = false;
			pf_t *p = st_pf_by_stream(s, f->stream_id, &is_data);
			if (p && !p->finished) {
				/* The client is done with the pair: nothing more is sent on it. */
				p->has_data = p->has_error = false;
				st_pf_finish(s, p, NULL);
			}
		} else {
			int role = st_rc_role_by_stream(s, f->stream_id);
			if (role >= 0) {
				s->fin_sent[role] = true;
				st_rc_on_client_fin(s, role);
			}
		}
		break;
	case SPDY_PING:
		if (f->len == 4)
			spdy_put_ping(&s->out, st_be32(f->payload));
		break;
	case SPDY_GOAWAY:
		s->peer_gone = true;
		break;
	case SPDY_HEADERS:
	case SPDY_SYN_REPLY: {
		/* Not used by kubelet's clients; inflated all the same, or the session's header context would be lost. */
		spdy_headers_t h = { .n = 0 };
		crl_error_t err = CRL_ERROR_INIT;
		if (spdy_headers_decode(&s->z, f->payload + 4, f->len - 4, &h, &err) < 0) {
			crl_error_clear(&err);
			s->broken = true;
		}
		spdy_headers_free(&h);
		break;
	}
	default:
		break; /* SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do */
	}
}

/* A piece of a WebSocket message on a channel. */
static void on_ws_chan_data(session_t *s, unsigned chan, const uint8_t *p, size_t n)
{
	if (s->req->kind == ST_PORTFORWARD) {
		pf_t *pf = st_pf_by_channel(s, chan);
		if (pf)
			st_pf_on_data(s, pf, p, n, false);
		return;
	}
	if (chan < R_N)
		st_rc_on_data(s, (int)chan, p, n);
}

static void on_ws_message_end(session_t *s)
{
	if (s->ws_text) {
		/* base64: the whole message decoded at once */
		char *raw = NULL;
		size_t n = 0;
		st_buf_u8(&s->ws_msg, 0);
		if (!s->ws_msg.oom && crl_base64_decode((const char *)s->ws_msg.data + s->ws_msg.off, &raw, &n) == 0)
			on_ws_chan_data(s, (unsigned)s->ws_chan, (const uint8_t *)raw, n);
		free(raw);
		st_buf_free(&s->ws_msg);
	}
	s->ws_in_msg = false;
}

static void on_ws_frame(session_t *s, const ws_frame_t *f)
{
	switch (f->opcode) {
	case WS_PING:
		ws_put_frame(&s->out, WS_PONG, true, NULL, 0, f->payload, f->len);
		return;
	case WS_PONG:
		return;
	case WS_CLOSE:
		if (!s->finished)
			ws_put_close(&s->out, 1000, "");
		s->finished = true;
		s->peer_gone = true;
		return;
	default:
		break;
	}
	const uint8_t *p = f->payload;
	size_t n = f->len;
	if (f->opcode != WS_CONT) {
		if (s->ws_in_msg) {
			/* a new message before the last one's end (RFC 6455 section 5.4) */
			ws_put_close(&s->out, 1002, "protocol error");
			s->broken = true;
			return;
		}
		if (n == 0)
			return; /* empty messages carry nothing */
		s->ws_in_msg = true;
		s->ws_text = f->opcode == WS_TEXT;
		s->ws_chan = s->ws_text ? p[0] - '0' : p[0];
		p++;
		n--;
		if (!s->ws_text && s->ws_chan == 255) {
			/* v5: the client closes the channel named */
			if (s->version >= 5 && n >= 1 && f->fin) {
				if (s->req->kind == ST_PORTFORWARD) {
					pf_t *pf = st_pf_by_channel(s, p[0]);
					if (pf)
						st_pf_on_data(s, pf, NULL, 0, true);
				} else if (p[0] < R_N) {
					st_rc_on_client_fin(s, p[0]);
				}
			}
			s->ws_in_msg = false;
			return;
		}
	} else if (!s->ws_in_msg) {
		s->broken = true;
		return;
	}
	if (s->ws_chan < 0 || s->ws_chan > 255) {
		s->ws_in_msg = !f->fin;
		return;
	}
	if (s->ws_text) {
		if (st_buf_pending(&s->ws_msg) + n > WS_MAX_MESSAGE) {
			s->broken = true;
			return;
		}
		st_buf_put(&s->ws_msg, p, n);
	} else if (n) {
		on_ws_chan_data(s, (unsigned)s->ws_chan, p, n);
	}
	if (f->fin)
		on_ws_message_end(s);
}

static void parse_input(session_t *s)
{
	/* Past OUT_CAP of replies waiting (PINGs, SYN_REPLYs ...), the rest waits: a client cannot make us queue
	 * without bound by not reading. */
	while (!s->broken && st_buf_pending(&s->in) && st_buf_pending(&s->out) < OUT_CAP) {
		crl_error_t err = CRL_ERROR_INIT;
		uint8_t *b = s->in.data + s->in.off;
		size_t len = st_buf_pending(&s->in);
		ssize_t n;
		if (s->transport == T_SPDY) {
			spdy_frame_t f;
			n = spdy_frame_parse(b, len, &f, &err);
			if (n > 0)
				on_spdy_frame(s, &f);
		} else {
			ws_frame_t f;
			n = ws_frame_parse(b, len, true, &f, &err);
			if (n > 0)
				on_ws_frame(s, &f);
		}
		if (n < 0) {
			log_warn("streaming session: %s", crl_error_message(&err));
			crl_error_clear(&err);
			if (s->transport == T_WS)
				ws_put_close(&s->out, 1002, "protocol error");
			s->broken = true;
			return;
		}
		if (n == 0)
			return;
		st_buf_consume(&s->in, (size_t)n);
	}
}

/* --- the loop --- */

/* Whether what the client sends can be taken: what waits for the command or the pod is under its limits. */
static bool sinks_have_room(session_t *s)
{
	size_t n = 0;
	for (pf_t *p = s->pfs; p; p = p->next)
		n += st_buf_pending(&p->to_pod.buf);
	return st_buf_pending(&s->stdin_sink.buf) < SINK_HIGH && n < PF_TOTAL_HIGH;
}

/* Writes what waits for an fd; at the end of it, a fin shuts the fd's writing side (a socket) or closes it. */
static void flush_sink(sink_t *k, bool is_socket)
{
	while (k->fd >= 0 && st_buf_pending(&k->buf)) {
		ssize_t w = write(k->fd, k->buf.data + k->buf.off, st_buf_pending(&k->buf));
		if (w > 0) {
			st_buf_consume(&k->buf, (size_t)w);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* The reader is gone: what waits is dropped. */
		st_buf_free(&k->buf);
		break;
	}
	st_buf_shrink(&k->buf);
	if (k->fin && k->fd >= 0 && !st_buf_pending(&k->buf)) {
		if (is_socket)
			shutdown(k->fd, SHUT_WR);
		else
			close(k->fd);
		if (!is_socket)
			k->fd = -1;
		k->fin = false;
	}
}

/* last_write_ms: when the client last took bytes, or had nothing waiting for it. */
static void flush_out(session_t *s)
{
	if (!st_buf_pending(&s->out))
		s->last_write_ms = crl_mono_ms();
	while (st_buf_pending(&s->out)) {
		ssize_t w = send(s->sock, s->out.data + s->out.off, st_buf_pending(&s->out), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			st_buf_consume(&s->out, (size_t)w);
			s->last_write_ms = s->last_io_ms = crl_mono_ms();
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		s->peer_gone = true;
		st_buf_free(&s->out);
		return;
	}
	st_buf_shrink(&s->out);
}

static void read_client(session_t *s)
{
	if (!st_buf_reserve(&s->in, 65536)) {
		s->broken = true;
		return;
	}
	ssize_t r = recv(s->sock, s->in.data + s->in.len, s->in.cap - s->in.len, MSG_DONTWAIT);
	if (r > 0) {
		s->in.len += (size_t)r;
		s->last_io_ms = s->last_read_ms = crl_mono_ms();
		parse_input(s);
		st_buf_shrink(&s->in);
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
		s->peer_gone = true;
	}
}

/* Output of the command (exec): to stdout or stderr as the client asked (else dropped). */
#define MAX_POLL (8 + 2 * MAX_PF)

static void run(session_t *s)
{
	s->last_io_ms = s->last_write_ms = s->last_read_ms = crl_mono_ms();
	int64_t idle = s->srv->idle_timeout_ms;
	int64_t stall = idle > 0 && idle < ST_STALL_TIMEOUT_MS ? idle : ST_STALL_TIMEOUT_MS;
	bool ws_pf = s->transport == T_WS && s->req->kind == ST_PORTFORWARD;
	if (s->req->kind != ST_PORTFORWARD) {
		/* The streams kubelet waits for: error, and each one asked for (resize with a tty, from v3 on). */
		if (s->transport == T_SPDY) {
			s->expected = 1 + s->req->in + s->req->out + s->req->err + (s->req->tty && s->version >= 3);
			s->create_deadline = crl_mono_ms() + ST_CREATE_TIMEOUT_MS;
		} else {
			/* WebSocket: every channel exists; the ones asked for carry data. */
			s->opened[R_STDIN] = s->req->in;
			s->opened[R_STDOUT] = s->req->out;
			s->opened[R_STDERR] = s->req->err;
			s->opened[R_ERROR] = true;
			s->opened[R_RESIZE] = s->req->tty;
			/* kubelet's sign that the streams are set: an empty message on the lowest writable channel. */
			unsigned first = s->req->out ? R_STDOUT : s->req->err ? R_STDERR : R_ERROR;
			st_send_ws(s, first, NULL, 0);
			st_rc_start(s);
		}
	} else if (ws_pf) {
		st_pf_ws_start(s);
	}
	/* What came with the request, past its headers. */
	parse_input(s);
	int64_t linger_until = 0;
	for (;;) {
		int64_t now = crl_mono_ms();
		/* Frames left unparsed while too much waited for the client. */
		if (st_buf_pending(&s->in) && st_buf_pending(&s->out) < OUT_CAP)
			parse_input(s);
		if (s->transport == T_SPDY && s->req->kind != ST_PORTFORWARD && !s->started && s->expected == 0) {
			/* The last stream's SYN_REPLY goes before the start, which may take a while. */
			flush_out(s);
			st_rc_start(s);
		}
		if (s->started && !s->finished && st_rc_done(s))
			st_rc_finish(s);
		if (ws_pf && st_pf_all_done(s) && !s->finished) {
			ws_put_close(&s->out, 1000, "");
			s->finished = true;
		}
		st_pf_free_finished(s);
		flush_out(s);
		for (pf_t *p = s->pfs; p; p = p->next)
			flush_sink(&p->to_pod, true);
		flush_sink(&s->stdin_sink, false);
		st_rc_after_flush(s);
		if (s->out.oom || s->in.oom)
			s->broken = true;
		if (s->broken || s->peer_gone)
			break;
		/* Once all is sent, the client has a while to close its end (what it sends is read and dropped, so
		 * our close does not reset the connection under data it has not read). */
		if (s->finished && !st_buf_pending(&s->out) && !linger_until) {
			shutdown(s->sock, SHUT_WR);
			linger_until = now + LINGER_MS;
		}
		if (linger_until && now >= linger_until)
			break;
		if (!s->started && s->create_deadline && now >= s->create_deadline) {
			log_warn("streaming session: timed out waiting for client to create streams");
			break;
		}
		if (idle > 0 && now - s->last_io_ms >= idle)
			break;
		/* A client that neither takes what waits for it nor sends anything (client-go pings every 5 s). */
		if (st_buf_pending(&s->out) && now - s->last_write_ms >= stall && now - s->last_read_ms >= stall) {
			log_warn("streaming session: the client took nothing for %lld ms: dropped", (long long)stall);
			break;
		}

		struct pollfd pfd[MAX_POLL];
		pf_t *pf_of[MAX_POLL] = { 0 };
		int kind[MAX_POLL];
		nfds_t n = 0;
		bool out_room = st_buf_pending(&s->out) < OUT_HIGH;
		pfd[n] = (struct pollfd){ s->srv->stop_fd, POLLIN, 0 };
		kind[n++] = 0;
		/* The client's end is always watched (POLLRDHUP), even while it is not read. */
		short ev = POLLRDHUP;
		if (sinks_have_room(s) && st_buf_pending(&s->out) < OUT_CAP &&
		    (!s->finished || !st_buf_pending(&s->out)))
			ev |= POLLIN;
		if (st_buf_pending(&s->out))
			ev |= POLLOUT;
		pfd[n] = (struct pollfd){ s->sock, ev, 0 };
		kind[n++] = 1;
		if (!s->finished) {
			for (int i = 1; i <= 2; i++)
				if (s->src[i] >= 0 && out_room) {
					pfd[n] = (struct pollfd){ s->src[i], POLLIN, 0 };
					kind[n++] = 1 + i; /* 2, 3 */
				}
			if (s->mon && (out_room || s->req->kind == ST_EXEC)) {
				pfd[n] = (struct pollfd){ mon_client_fd(s->mon), POLLIN, 0 };
				kind[n++] = 4;
			}
			if (s->stdin_sink.fd >= 0 && st_buf_pending(&s->stdin_sink.buf)) {
				pfd[n] = (struct pollfd){ s->stdin_sink.fd, POLLOUT, 0 };
				kind[n++] = 5;
			}
			for (pf_t *p = s->pfs; p && n + 1 < MAX_POLL; p = p->next) {
				if (p->finished || p->fd < 0)
					continue;
				short e = 0;
				if (!p->pod_eof && out_room)
					e |= POLLIN;
				if (st_buf_pending(&p->to_pod.buf))
					e |= POLLOUT;
				if (!e)
					continue;
				pfd[n] = (struct pollfd){ p->fd, e, 0 };
				pf_of[n] = p;
				kind[n++] = 6;
			}
		}
		int64_t wait = 1000;
		if (s->exited && !s->finished) {
			wait = 100;
			/* The output's drain after the exit counts only time it could be read. */
			if (!out_room)
				s->exited_ms = now;
		}
		int r = poll(pfd, n, (int)wait);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		if (pfd[0].revents)
			break; /* the server stops */
		for (nfds_t i = 1; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			switch (kind[i]) {
			case 1:
				if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
					read_client(s);
				else if (pfd[i].revents & POLLRDHUP)
					s->peer_gone = true; /* its end, as kubelet takes it: the session's */
				break;
			case 2:
			case 3:
				if (s->src[kind[i] - 1] == pfd[i].fd)
					st_rc_read_src(s, kind[i] - 1);
				break;
			case 4:
				if (s->mon && mon_client_fd(s->mon) == pfd[i].fd)
					st_rc_read_monitor(s);
				break;
			case 5:
				break; /* flushed at the top of the loop */
			case 6:
				if (pf_of[i]->fd == pfd[i].fd && !pf_of[i]->finished) {
					if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
						st_pf_read(s, pf_of[i]);
				}
				break;
			}
		}
	}
}

static void session_free(session_t *s)
{
	for (int i = 1; i <= 2; i++)
		if (s->src[i] >= 0)
			close(s->src[i]);
	if (s->stdin_sink.fd >= 0)
		close(s->stdin_sink.fd);
	s->stdin_sink.fd = -1;
	st_buf_free(&s->stdin_sink.buf);
	/* An attach client leaving is the first detach of a stdin_once container. */
	if (s->req->kind == ST_ATTACH && s->req->in && s->mon && !s->exited) {
		st_rc_stdin_closed(s);
		st_rc_after_flush(s);
	}
	mon_client_free(s->mon);
	while (s->pfs) {
		pf_t *p = s->pfs;
		s->pfs = p->next;
		if (p->fd >= 0)
			close(p->fd);
		st_buf_free(&p->to_pod.buf);
		free(p->request_id);
		free(p);
	}
	if (s->z_ok)
		spdy_codec_fini(&s->z);
	st_buf_free(&s->in);
	st_buf_free(&s->out);
	st_buf_free(&s->resize);
	st_buf_free(&s->ws_msg);
	free(s->failure);
	st_request_free(s->req);
	MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
	srv_stream_t *srv = s->srv;
	free(s);
	st_session_ended(srv);
}

static void *session_main(void *arg)
{
	session_t *s = arg;
	run(s);
	session_free(s);
	return NULL;
}

int st_session_spawn(st_setup_t *setup, crl_error_t *err)
{
	session_t *s = calloc(1, sizeof(*s));
	if (!s) {
		crl_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	s->srv = setup->srv;
	s->req = setup->req;
	s->transport = setup->transport;
	s->version = setup->version;
	s->base64 = setup->base64;
	s->sock = setup->sock;
	s->urh = setup->urh;
	s->src[0] = s->src[1] = s->src[2] = -1;
	s->stdin_sink.fd = -1;
	s->tty_fd = -1;
	memcpy(s->ws_ports, setup->ports, sizeof(s->ws_ports));
	s->n_ws_ports = setup->n_ports;
	if (setup->n_extra)
		st_buf_put(&s->in, setup->extra, setup->n_extra);
	if (s->transport == T_SPDY) {
		if (spdy_codec_init(&s->z, err) < 0)
			goto fail_session;
		s->z_ok = true;
	}
	setup->req = NULL;
	free(setup->extra);
	free(setup);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	int e = pthread_create(&t, &attr, session_main, s);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		crl_error_set_errno(err, e, "streaming session: pthread_create");
		session_free(s);
		return -1;
	}
	return 0;
fail_session:
	s->req = NULL;
	st_buf_free(&s->in);
	free(s);
fail:
	MHD_upgrade_action(setup->urh, MHD_UPGRADE_ACTION_CLOSE);
	st_request_free(setup->req);
	free(setup->extra);
	srv_stream_t *srv = setup->srv;
	free(setup);
	st_session_ended(srv);
	return -1;
}
