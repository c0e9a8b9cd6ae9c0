/* SPDX-License-Identifier: Apache-2.0 */
/* Port-forward over a session: connections dialled to localhost:PORT in the pod's network namespace (this thread
 * enters it to make the socket and comes back at once; host-network pods: the daemon's own), one per SPDY stream
 * pair (by request id) or per port of a WebSocket session; a refused port reported on the error stream. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "server/stream/session.h"

/* --- port-forward --- */

static pf_t *pf_find(session_t *s, const char *request_id)
{
	for (pf_t *p = s->pfs; p; p = p->next)
		if (p->request_id && strcmp(p->request_id, request_id) == 0)
			return p;
	return NULL;
}

static pf_t *pf_new(session_t *s, const char *request_id, int port)
{
	if (s->n_pf >= MAX_PF)
		return NULL;
	pf_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fd = -1;
	p->to_pod.fd = -1;
	p->port = port;
	if (request_id && !(p->request_id = strdup(request_id))) {
		free(p);
		return NULL;
	}
	p->next = s->pfs;
	s->pfs = p;
	s->n_pf++;
	return p;
}

void st_pf_free_finished(session_t *s)
{
	for (pf_t **pp = &s->pfs; *pp;) {
		pf_t *p = *pp;
		if (!p->finished || s->transport == T_WS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (p->fd >= 0)
			close(p->fd);
		st_buf_free(&p->to_pod.buf);
		free(p->request_id);
		free(p);
		s->n_pf--;
	}
}

static void pf_send(session_t *s, uint32_t addr, const void *data, size_t n)
{
	if (s->transport == T_SPDY)
		st_send_spdy(s, addr, data, n);
	else
		st_send_ws(s, addr, data, n);
}

/* Ends a forwarded connection: the error (if any) on its error stream, then the end of both streams. */
void st_pf_finish(session_t *s, pf_t *p, const char *error)
{
	if (p->finished)
		return;
	p->finished = true;
	if (error && p->has_error)
		pf_send(s, p->error, error, strlen(error));
	if (p->has_data)
		st_fin_addr(s, p->data);
	if (p->has_error)
		st_fin_addr(s, p->error);
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	p->to_pod.fd = -1;
	st_buf_free(&p->to_pod.buf);
}

static int connect_within(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	struct pollfd p = { fd, POLLOUT, 0 };
	int r;
	while ((r = poll(&p, 1, DIAL_MS)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return -ETIMEDOUT;
	int e = 0;
	socklen_t el = sizeof(e);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	return -e;
}

/* A connection to localhost:port in the pod's network namespace: the sockets are made there (this thread
 * enters the namespace for that and comes back at once), connected after. 127.0.0.1 first, then ::1. */
static int dial(session_t *s, int port, char *why, size_t whylen)
{
	int fd4 = -1, fd6 = -1;
	if (s->req->netns) {
		int ns = open(s->req->netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
			snprintf(why, whylen, "enter the pod's network namespace: %s", strerror(errno));
			if (ns >= 0)
				close(ns);
			return -1;
		}
		close(ns);
	}
	fd4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e4 = fd4 < 0 ? -errno : 0;
	fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int e6 = fd6 < 0 ? -errno : -EAFNOSUPPORT;
	if (s->req->netns && setns(s->srv->host_netns, CLONE_NEWNET) < 0) {
		/* This thread is in the pod's namespace for good: it must not serve anything more. */
		log_error("streaming session: cannot return to the daemon's network namespace: %s", strerror(errno));
		s->broken = true;
		if (fd4 >= 0)
			close(fd4);
		if (fd6 >= 0)
			close(fd6);
		snprintf(why, whylen, "the session's thread could not leave the pod's network namespace");
		return -1;
	}
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	if (fd4 >= 0)
		e4 = connect_within(fd4, (struct sockaddr *)&a4, sizeof(a4));
	if (e4 == 0) {
		if (fd6 >= 0)
			close(fd6);
		return fd4;
	}
	if (fd4 >= 0)
		close(fd4);
	if (fd6 >= 0)
		e6 = connect_within(fd6, (struct sockaddr *)&a6, sizeof(a6));
	if (e6 == 0)
		return fd6;
	if (fd6 >= 0)
		close(fd6);
	snprintf(why, whylen, "failed to connect to localhost:%d inside the pod's network namespace: IPv4: %s, IPv6: %s",
		 port, strerror(-e4), strerror(-e6));
	return -1;
}

static void pf_dial(session_t *s, pf_t *p)
{
	char why[512];
	p->fd = dial(s, p->port, why, sizeof(why));
	if (p->fd < 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "error forwarding port %d to pod sandbox: %s", p->port, why);
		st_pf_finish(s, p, msg);
		return;
	}
	p->to_pod.fd = p->fd;
}

/* A SPDY stream of port-forward: streamtype error or data, its port and its request id. */
void st_pf_on_stream(session_t *s, uint32_t sid, const spdy_headers_t *h)
{
	const char *type = spdy_header_get(h, "streamtype");
	const char *port_s = spdy_header_get(h, "port");
	const char *rid = spdy_header_get(h, "requestid");
	char *end = NULL;
	long port = port_s ? strtol(port_s, &end, 10) : 0;
	bool is_data = type && strcmp(type, "data") == 0, is_error = type && strcmp(type, "error") == 0;
	if ((!is_data && !is_error) || !port_s || *end || port < 1 || port > 65535) {
		spdy_put_rst_stream(&s->out, sid, SPDY_PROTOCOL_ERROR);
		return;
	}
	char fallback[16];
	if (!rid) {
		/* Clients before request ids: the error stream's id names the pair; the data stream follows it. */
		snprintf(fallback, sizeof(fallback), "%u", is_error ? sid : sid - 2);
		rid = fallback;
	}
	pf_t *p = pf_find(s, rid);
	if (!p && !(p = pf_new(s, rid, (int)port))) {
		spdy_put_rst_stream(&s->out, sid, SPDY_REFUSED_STREAM);
		return;
	}
	if ((is_data && p->has_data) || (is_error && p->has_error)) {
		spdy_put_rst_stream(&s->out, sid, SPDY_PROTOCOL_ERROR);
		return;
	}
	/* Refusals above are RSTs instead of a reply (client-go then says "stream reset"); from here the stream is
	 * the pair's, replied to before anything is sent on it. */
	st_syn_reply(s, sid);
	if (is_data) {
		p->data = sid;
		p->has_data = true;
		if (!p->finished)
			pf_dial(s, p);
	} else {
		p->error = sid;
		p->has_error = true;
	}
}

pf_t *st_pf_by_stream(session_t *s, uint32_t sid, bool *is_data)
{
	for (pf_t *p = s->pfs; p; p = p->next) {
		if (p->has_data && p->data == sid) {
			*is_data = true;
			return p;
		}
		if (p->has_error && p->error == sid) {
			*is_data = false;
			return p;
		}
	}
	return NULL;
}

void st_pf_on_data(session_t *s, pf_t *p, const uint8_t *d, size_t n, bool fin)
{
	if (!p->finished && n && p->to_pod.fd >= 0 && !p->client_fin) {
		if (st_buf_pending(&p->to_pod.buf) + n > PF_PAIR_MAX) {
			/* The connection in the pod does not take what it is sent: it alone is dropped (its streams
			 * reset), the session's others go on. */
			if (s->transport == T_SPDY) {
				spdy_put_rst_stream(&s->out, p->data, SPDY_CANCEL);
				spdy_put_rst_stream(&s->out, p->error, SPDY_CANCEL);
				p->has_data = p->has_error = false;
			}
			st_pf_finish(s, p, "the connection in the pod does not read what it is sent");
			return;
		}
		st_buf_put(&p->to_pod.buf, d, n);
	}
	if (fin && !p->client_fin) {
		p->client_fin = true;
		p->to_pod.fin = true;
	}
}

/* WebSocket port-forward: each port of the query on channels 2i (data) and 2i+1 (error), both starting with
 * the port, little-endian; dialled at once. */
void st_pf_ws_start(session_t *s)
{
	for (size_t i = 0; i < s->n_ws_ports; i++) {
		pf_t *p = pf_new(s, NULL, s->ws_ports[i]);
		if (!p) {
			s->broken = true;
			return;
		}
		p->data = (uint32_t)(2 * i);
		p->error = (uint32_t)(2 * i + 1);
		p->has_data = p->has_error = true;
		uint8_t le[2] = { (uint8_t)(p->port & 0xff), (uint8_t)(p->port >> 8) };
		st_send_ws(s, p->data, le, 2);
		st_send_ws(s, p->error, le, 2);
	}
	for (pf_t *p = s->pfs; p; p = p->next)
		pf_dial(s, p);
}

pf_t *st_pf_by_channel(session_t *s, unsigned chan)
{
	for (pf_t *p = s->pfs; p; p = p->next)
		if (p->data == chan)
			return p;
	return NULL;
}

void st_pf_read(session_t *s, pf_t *p)
{
	uint8_t buf[CHUNK];
	ssize_t r = read(p->fd, buf, sizeof(buf));
	if (r > 0) {
		pf_send(s, p->data, buf, (size_t)r);
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	p->pod_eof = true;
	st_pf_finish(s, p, NULL);
}

bool st_pf_all_done(session_t *s)
{
	if (!s->pfs)
		return false;
	for (pf_t *p = s->pfs; p; p = p->next)
		if (!p->finished)
			return false;
	return true;
}
