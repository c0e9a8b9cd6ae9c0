/* SPDX-License-Identifier: Apache-2.0 */
#include "stream_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base64.h"
#include "server/stream/ws.h"

typedef struct sc_queued {
	struct sc_queued *next;
	sc_event_t ev;
} sc_queued_t;

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_url(const char *url, char *path, size_t pathlen, char *hostport, size_t hplen)
{
	if (strncmp(url, "http://", 7) != 0)
		return -1;
	const char *h = url + 7, *slash = strchr(h, '/');
	if (!slash)
		return -1;
	snprintf(hostport, hplen, "%.*s", (int)(slash - h), h);
	snprintf(path, pathlen, "%s", slash);
	char host[128], port[16];
	const char *colon = strrchr(hostport, ':');
	if (!colon)
		return -1;
	if (hostport[0] == '[')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport - 2), hostport + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	snprintf(port, sizeof(port), "%s", colon + 1);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int sc_open(const char *url, sc_transport_t t, const char *const *protocols, sc_t **ret)
{
	char path[1024], hostport[160];
	int fd = connect_url(url, path, sizeof(path), hostport, sizeof(hostport));
	if (fd < 0)
		return -1;
	sc_t *c = calloc(1, sizeof(*c));
	c->fd = fd;
	c->t = t;
	c->next_sid = 1;
	char req[4096];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: Upgrade\r\n",
			 t == SC_SPDY ? "POST" : "GET", path, hostport);
	if (t == SC_SPDY) {
		n += snprintf(req + n, sizeof(req) - n, "Upgrade: SPDY/3.1\r\n");
		for (size_t i = 0; protocols && protocols[i]; i++)
			n += snprintf(req + n, sizeof(req) - n, "X-Stream-Protocol-Version: %s\r\n", protocols[i]);
	} else {
		n += snprintf(req + n, sizeof(req) - n,
			      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
		if (protocols && protocols[0]) {
			n += snprintf(req + n, sizeof(req) - n, "Sec-WebSocket-Protocol: ");
			for (size_t i = 0; protocols[i]; i++)
				n += snprintf(req + n, sizeof(req) - n, "%s%s", i ? ", " : "", protocols[i]);
			n += snprintf(req + n, sizeof(req) - n, "\r\n");
		}
	}
	n += snprintf(req + n, sizeof(req) - n, "\r\n");
	if (write_all(fd, req, (size_t)n) < 0) {
		sc_close(c);
		return -1;
	}
	/* The response's head, then whatever follows it stays in c->in. */
	char *end = NULL;
	while (!end) {
		if (!st_buf_reserve(&c->in, 4096))
			break;
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10000) <= 0)
			break;
		ssize_t r = recv(fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (r <= 0)
			break;
		c->in.len += (size_t)r;
		c->in.data[c->in.len] = 0;
		end = strstr((char *)c->in.data, "\r\n\r\n");
	}
	if (!end) {
		sc_close(c);
		return -1;
	}
	*end = 0;
	char *head = (char *)c->in.data;
	if (sscanf(head, "HTTP/1.1 %d", &c->status) != 1) {
		sc_close(c);
		return -1;
	}
	for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
		char *l = line + 2;
		if (strncasecmp(l, "Sec-WebSocket-Accept:", 21) == 0)
			snprintf(c->accept, sizeof(c->accept), "%.*s", (int)strcspn(l + 22, "\r"), l + 22);
		const char *key = t == SC_SPDY ? "X-Stream-Protocol-Version:" : "Sec-WebSocket-Protocol:";
		if (strncasecmp(l, key, strlen(key)) == 0) {
			char *v = l + strlen(key);
			while (*v == ' ')
				v++;
			size_t k = strcspn(v, "\r");
			snprintf(c->protocol, sizeof(c->protocol), "%.*s", (int)k, v);
		}
	}
	size_t used = (size_t)(end + 4 - head);
	if (c->status != 101)
		snprintf(c->body, sizeof(c->body), "%s", end + 4);
	st_buf_consume(&c->in, used);
	c->base64 = strstr(c->protocol, "base64") != NULL;
	if (t == SC_SPDY) {
		crl_error_t err = CRL_ERROR_INIT;
		if (spdy_codec_init(&c->z, &err) < 0) {
			sc_close(c);
			return -1;
		}
		c->z_ok = true;
	}
	*ret = c;
	return 0;
}

void sc_close(sc_t *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->z_ok)
		spdy_codec_fini(&c->z);
	st_buf_free(&c->in);
	st_buf_free(&c->msg);
	while (c->queue) {
		sc_queued_t *q = c->queue;
		c->queue = q->next;
		free(q->ev.owned);
		free(q);
	}
	free(c);
}

void sc_abort(sc_t *c)
{
	struct linger l = { 1, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	sc_close(c);
}

static int fill(sc_t *c, int timeout_ms)
{
	struct pollfd p = { c->fd, POLLIN, 0 };
	int r = poll(&p, 1, timeout_ms);
	if (r <= 0)
		return r;
	if (!st_buf_reserve(&c->in, 65536))
		return -1;
	ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
	if (n < 0)
		return -1;
	if (n == 0)
		return -2;
	c->in.len += (size_t)n;
	return 1;
}

static int next_spdy(sc_t *c, sc_event_t *ev)
{
	spdy_frame_t f;
	crl_error_t err = CRL_ERROR_INIT;
	ssize_t n = spdy_frame_parse(c->in.data + c->in.off, st_buf_pending(&c->in), &f, &err);
	if (n < 0) {
		crl_error_clear(&err);
		return -1;
	}
	if (n == 0)
		return 0;
	int got = 1;
	if (!f.control) {
		ev->id = f.stream_id;
		bool fin = f.flags & SPDY_FLAG_FIN;
		if (f.len == 0) {
			ev->kind = SC_FIN;
			got = fin;
		} else {
			ev->kind = SC_DATA;
			ev->owned = malloc(f.len);
			memcpy(ev->owned, f.payload, f.len);
			ev->data = ev->owned;
			ev->len = f.len;
			if (fin) {
				/* The frame stays with its data taken off: an empty FIN, reported by the next call. */
				uint8_t *h = c->in.data + c->in.off;
				h[5] = h[6] = h[7] = 0;
				memmove(h + 8, h + 8 + f.len, st_buf_pending(&c->in) - 8 - f.len);
				c->in.len -= f.len;
				return 1;
			}
		}
	} else if (f.type == SPDY_SYN_REPLY) {
		spdy_headers_t h = { .n = 0 };
		if (spdy_headers_decode(&c->z, f.payload + 4, f.len - 4, &h, &err) < 0) {
			crl_error_clear(&err);
			return -1;
		}
		spdy_headers_free(&h);
		ev->kind = SC_REPLY;
		ev->id = f.stream_id;
	} else if (f.type == SPDY_RST_STREAM) {
		ev->kind = SC_RST;
		ev->id = f.stream_id;
	} else if (f.type == SPDY_GOAWAY) {
		ev->kind = SC_GOAWAY;
	} else if (f.type == SPDY_PING && f.len == 4) {
		ev->kind = SC_PING;
		ev->id = st_be32(f.payload);
	} else {
		got = 0;
	}
	st_buf_consume(&c->in, (size_t)n);
	return got ? 1 : 2; /* 2: consumed, nothing to report */
}

static int next_ws(sc_t *c, sc_event_t *ev)
{
	ws_frame_t f;
	crl_error_t err = CRL_ERROR_INIT;
	ssize_t n = ws_frame_parse(c->in.data + c->in.off, st_buf_pending(&c->in), false, &f, &err);
	if (n < 0) {
		crl_error_clear(&err);
		return -1;
	}
	if (n == 0)
		return 0;
	int got = 2;
	if (f.opcode == WS_CLOSE) {
		ev->kind = SC_CLOSE;
		got = 1;
	} else if (f.opcode == WS_TEXT || f.opcode == WS_BINARY || f.opcode == WS_CONT) {
		if (f.opcode != WS_CONT) {
			st_buf_free(&c->msg);
			c->text = f.opcode == WS_TEXT;
		}
		st_buf_put(&c->msg, f.payload, f.len);
		if (f.fin && st_buf_pending(&c->msg) >= 1) {
			uint8_t *m = c->msg.data + c->msg.off;
			size_t len = st_buf_pending(&c->msg);
			ev->kind = SC_DATA;
			if (c->text) {
				ev->id = (uint32_t)(m[0] - '0');
				char *txt = strndup((char *)m + 1, len - 1), *raw = NULL;
				size_t rl = 0;
				if (crl_base64_decode(txt, &raw, &rl) < 0) {
					free(txt);
					return -1;
				}
				free(txt);
				ev->owned = (uint8_t *)raw;
				ev->data = ev->owned;
				ev->len = rl;
			} else if (m[0] == 255 && len == 2) {
				ev->kind = SC_FIN;
				ev->id = m[1];
			} else {
				ev->id = m[0];
				ev->owned = malloc(len);
				memcpy(ev->owned, m + 1, len - 1);
				ev->data = ev->owned;
				ev->len = len - 1;
			}
			st_buf_free(&c->msg);
			got = 1;
		}
	}
	st_buf_consume(&c->in, (size_t)n);
	return got;
}

int sc_next(sc_t *c, sc_event_t *ev, int timeout_ms)
{
	free(ev->owned);
	memset(ev, 0, sizeof(*ev));
	if (c->queue) {
		sc_queued_t *q = c->queue;
		c->queue = q->next;
		if (!c->queue)
			c->queue_tail = NULL;
		*ev = q->ev;
		free(q);
		return 1;
	}
	for (;;) {
		int r = c->t == SC_SPDY ? next_spdy(c, ev) : next_ws(c, ev);
		if (r < 0)
			return -1;
		if (r == 1)
			return 1;
		if (r == 2)
			continue;
		r = fill(c, timeout_ms);
		if (r == -2) {
			ev->kind = SC_EOF;
			return 1;
		}
		if (r <= 0)
			return r;
	}
}

uint32_t sc_stream(sc_t *c, const spdy_header_t *h, size_t n, int timeout_ms)
{
	uint32_t sid = c->next_sid;
	c->next_sid += 2;
	st_buf_t out = { 0 };
	crl_error_t err = CRL_ERROR_INIT;
	if (spdy_put_syn_stream(&out, &c->z, sid, 0, h, n, &err) < 0 || write_all(c->fd, out.data, out.len) < 0) {
		crl_error_clear(&err);
		st_buf_free(&out);
		return 0;
	}
	st_buf_free(&out);
	/* Events read from now on are kept for sc_next, in order; the ones queued before stay first. */
	sc_queued_t *kept = c->queue, *kept_tail = c->queue_tail;
	c->queue = c->queue_tail = NULL;
	uint32_t ret = 0;
	sc_event_t ev = { 0 };
	while (sc_next(c, &ev, timeout_ms) == 1) {
		if (ev.kind == SC_REPLY && ev.id == sid) {
			ret = sid;
			break;
		}
		if (ev.kind == SC_EOF || ev.kind == SC_GOAWAY || (ev.kind == SC_RST && ev.id == sid))
			break;
		sc_queued_t *q = calloc(1, sizeof(*q));
		q->ev = ev;
		ev.owned = NULL;
		if (kept_tail)
			kept_tail->next = q;
		else
			kept = q;
		kept_tail = q;
	}
	free(ev.owned);
	c->queue = kept;
	c->queue_tail = kept_tail;
	return ret;
}

int sc_ping(sc_t *c, uint32_t id)
{
	st_buf_t out = { 0 };
	spdy_put_ping(&out, id);
	int r = write_all(c->fd, out.data, out.len);
	st_buf_free(&out);
	return r;
}

int sc_send(sc_t *c, uint32_t id, const void *data, size_t len, bool fin)
{
	st_buf_t out = { 0 };
	if (c->t == SC_SPDY) {
		const uint8_t *p = data;
		do {
			size_t k = len > 32768 ? 32768 : len;
			spdy_put_data(&out, id, fin && k == len ? SPDY_FLAG_FIN : 0, p, k);
			p += k;
			len -= k;
		} while (len);
	} else {
		uint8_t key[4];
		if (getrandom(key, 4, 0) != 4)
			memset(key, 0x5a, 4);
		if (len || !fin) {
			st_buf_t msg = { 0 };
			if (c->base64) {
				char *b = crl_base64_encode(data, len);
				st_buf_u8(&msg, (uint8_t)('0' + id));
				st_buf_put(&msg, b, strlen(b));
				free(b);
			} else {
				st_buf_u8(&msg, (uint8_t)id);
				st_buf_put(&msg, data, len);
			}
			ws_put_masked_frame(&out, c->base64 ? WS_TEXT : WS_BINARY, true, msg.data, msg.len, key);
			st_buf_free(&msg);
		}
		if (fin) {
			uint8_t m[2] = { 255, (uint8_t)id };
			ws_put_masked_frame(&out, WS_BINARY, true, m, 2, key);
		}
	}
	int r = out.oom ? -1 : write_all(c->fd, out.data, out.len);
	st_buf_free(&out);
	return r;
}
