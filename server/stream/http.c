/* SPDX-License-Identifier: Apache-2.0 */
/* The streaming server's HTTP side, on libmicrohttpd: the listener, the three routes with their tokens, and the
 * two upgrades (SPDY/3.1 with X-Stream-Protocol-Version, WebSocket with Sec-WebSocket-Protocol) as kubelet's
 * streaming server negotiates them. What follows the upgrade is session.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timefmt.h"
#include "server/config.h"
#include "server/daemon.h"
#include "server/stream/internal.h"
#include "server/stream/ws.h"

/* The protocols offered, in kubelet's order (a client's first choice that is here wins). */
static const char *const spdy_exec_protocols[] = { "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
						   "channel.k8s.io", NULL };
static const int spdy_exec_versions[] = { 4, 3, 2, 1 };
static const char *const spdy_pf_protocols[] = { "portforward.k8s.io", NULL };
static const char *const ws_exec_protocols[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io",
						 "channel.k8s.io", "base64.channel.k8s.io", NULL };
static const int ws_exec_versions[] = { 5, 4, 4, 1, 1 };
static const char *const ws_pf_protocols[] = { "v4.channel.k8s.io", "v4.base64.channel.k8s.io", NULL };

/* One HTTP request's state across the access handler's calls, the upgrade and the completion. */
typedef struct req_ctx {
	st_setup_t *setup; /* until the session takes it */
} req_ctx_t;

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned code, const char *text,
				  const char *const *accepted)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; accepted && accepted[i]; i++)
		MHD_add_response_header(r, "X-Accepted-Stream-Protocol-Versions", accepted[i]);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* Every value of a header (repeated lines and comma-separated lists), trimmed, into list. */
typedef struct values {
	const char *name;
	char *list[ST_MAX_PORTS + 8];
	size_t n;
} values_t;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	values_t *v = cls;
	if (!key || !value || strcasecmp(key, v->name) != 0)
		return MHD_YES;
	char *copy = strdup(value), *save = NULL;
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && v->n < sizeof(v->list) / sizeof(v->list[0]);
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ' || *t == '\t')
			t++;
		size_t n = strlen(t);
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			t[--n] = '\0';
		if (*t)
			v->list[v->n++] = strdup(t);
	}
	free(copy);
	return MHD_YES;
}

static void values_free(values_t *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->list[i]);
	v->n = 0;
}

static void values_of(struct MHD_Connection *conn, enum MHD_ValueKind kind, const char *name, values_t *v)
{
	v->name = name;
	v->n = 0;
	MHD_get_connection_values(conn, kind, collect, v);
}

/* The client's first choice among offered; -1 when none is. */
static int negotiate(const values_t *client, const char *const *offered)
{
	for (size_t i = 0; i < client->n; i++)
		for (size_t j = 0; offered[j]; j++)
			if (client->list[i] && strcmp(client->list[i], offered[j]) == 0)
				return (int)j;
	return -1;
}

static void setup_free(st_setup_t *s)
{
	if (!s)
		return;
	st_request_free(s->req);
	free(s->extra);
	free(s);
}

static void on_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	(void)cls;
	(void)conn;
	req_ctx_t *ctx = con_cls;
	st_setup_t *s = ctx->setup;
	ctx->setup = NULL;
	s->sock = sock;
	s->urh = urh;
	if (extra_in_size && (s->extra = malloc(extra_in_size))) {
		memcpy(s->extra, extra_in, extra_in_size);
		s->n_extra = extra_in_size;
	}
	crl_error_t err = CRL_ERROR_INIT;
	if (st_session_spawn(s, &err) < 0) {
		log_warn("streaming session: %s", crl_error_message(&err));
		crl_error_clear(&err);
	}
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	(void)conn;
	(void)toe;
	req_ctx_t *ctx = *con_cls;
	if (!ctx)
		return;
	if (ctx->setup) {
		/* Answered without an upgrade, or the client left first: the session slot comes back. */
		setup_free(ctx->setup);
		st_session_ended(cls);
	}
	free(ctx);
	*con_cls = NULL;
}

static bool has_token(const char *value, const char *token)
{
	return value && strcasestr(value, token);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	srv_stream_t *srv = cls;
	if (!*con_cls) {
		req_ctx_t *ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is not used */
		return MHD_YES;
	}
	req_ctx_t *ctx = *con_cls;
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n", NULL);
	st_kind_t kind;
	const char *token;
	if (strncmp(url, "/exec/", 6) == 0) {
		kind = ST_EXEC;
		token = url + 6;
	} else if (strncmp(url, "/attach/", 8) == 0) {
		kind = ST_ATTACH;
		token = url + 8;
	} else if (strncmp(url, "/portforward/", 13) == 0) {
		kind = ST_PORTFORWARD;
		token = url + 13;
	} else {
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	}
	/* A server that has no room says so before the token is spent: the URL can be tried again. */
	pthread_mutex_lock(&srv->lock);
	bool full = srv->sessions >= ST_MAX_SESSIONS || srv->stopping;
	pthread_mutex_unlock(&srv->lock);
	if (full)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many streaming sessions\n", NULL);
	/* The token is spent by its first use, whatever follows. */
	st_request_t *req = st_tokens_take(srv->tokens, token, crl_mono_ms());
	if (!req || req->kind != kind) {
		st_request_free(req);
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	}
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *cn = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
	bool ws = has_token(up, "websocket"), spdy = has_token(up, "spdy/3.1");
	if (!has_token(cn, "upgrade") || (!ws && !spdy)) {
		st_request_free(req);
		return reply_text(conn, MHD_HTTP_BAD_REQUEST, "unable to upgrade: missing upgrade headers in request\n",
				  NULL);
	}
	st_setup_t *s = calloc(1, sizeof(*s));
	if (!s) {
		st_request_free(req);
		return MHD_NO;
	}
	s->srv = srv;
	s->req = req;
	s->sock = -1;
	char accept[29] = "", protocol[64] = "";
	values_t v;
	if (spdy) {
		s->transport = T_SPDY;
		const char *const *offered = kind == ST_PORTFORWARD ? spdy_pf_protocols : spdy_exec_protocols;
		values_of(conn, MHD_HEADER_KIND, "X-Stream-Protocol-Version", &v);
		int i = negotiate(&v, offered);
		size_t asked = v.n;
		values_free(&v);
		if (asked == 0 || i < 0) {
			setup_free(s);
			if (asked == 0)
				return reply_text(conn, MHD_HTTP_BAD_REQUEST,
						  "unable to upgrade: X-Stream-Protocol-Version is required\n", NULL);
			return reply_text(conn, MHD_HTTP_FORBIDDEN,
					  "unable to upgrade: unable to negotiate protocol: the client's protocols are not "
					  "served here\n",
					  offered);
		}
		s->version = kind == ST_PORTFORWARD ? 0 : spdy_exec_versions[i];
		snprintf(protocol, sizeof(protocol), "%s", offered[i]);
	} else {
		s->transport = T_WS;
		const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
		const char *wsv = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Version");
		crl_error_t err = CRL_ERROR_INIT;
		if (!key || !wsv || strcmp(wsv, "13") != 0 || ws_accept_key(key, accept, &err) < 0) {
			crl_error_clear(&err);
			setup_free(s);
			return reply_text(conn, MHD_HTTP_BAD_REQUEST,
					  "unable to upgrade: a WebSocket handshake needs Sec-WebSocket-Key and "
					  "Sec-WebSocket-Version 13\n",
					  NULL);
		}
		const char *const *offered = kind == ST_PORTFORWARD ? ws_pf_protocols : ws_exec_protocols;
		values_of(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol", &v);
		int i = negotiate(&v, offered);
		size_t asked = v.n;
		values_free(&v);
		if (asked && i < 0) {
			setup_free(s);
			return reply_text(conn, MHD_HTTP_BAD_REQUEST,
					  "unable to upgrade: none of the client's WebSocket protocols is served here\n",
					  NULL);
		}
		/* No subprotocol: kubelet's binary channel protocol of before v4. */
		if (i >= 0)
			snprintf(protocol, sizeof(protocol), "%s", offered[i]);
		s->base64 = strstr(protocol, "base64") != NULL;
		s->version = kind == ST_PORTFORWARD ? 0 : i >= 0 ? ws_exec_versions[i] : 1;
		if (kind == ST_PORTFORWARD) {
			values_of(conn, MHD_GET_ARGUMENT_KIND, "port", &v);
			int bad = -1;
			for (size_t j = 0; j < v.n && s->n_ports < ST_MAX_PORTS; j++) {
				char *end = NULL;
				long p = strtol(v.list[j], &end, 10);
				if (*end || p < 1 || p > 65535) {
					bad = (int)j;
					break;
				}
				s->ports[s->n_ports++] = (int32_t)p;
			}
			char msg[160];
			if (bad >= 0)
				snprintf(msg, sizeof(msg), "invalid port \"%.32s\"\n", v.list[bad]);
			values_free(&v);
			if (bad >= 0 || s->n_ports == 0) {
				setup_free(s);
				return reply_text(conn, MHD_HTTP_BAD_REQUEST,
						  bad >= 0 ? msg : "query parameter \"port\" is required\n", NULL);
			}
		}
	}
	pthread_mutex_lock(&srv->lock);
	full = srv->sessions >= ST_MAX_SESSIONS || srv->stopping;
	if (!full)
		srv->sessions++;
	pthread_mutex_unlock(&srv->lock);
	if (full) {
		setup_free(s);
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "too many streaming sessions\n", NULL);
	}
	struct MHD_Response *r = MHD_create_response_for_upgrade(on_upgraded, NULL);
	if (!r) {
		setup_free(s);
		st_session_ended(srv);
		return MHD_NO;
	}
	if (spdy) {
		MHD_add_response_header(r, "Connection", "Upgrade");
		MHD_add_response_header(r, "Upgrade", "SPDY/3.1");
		MHD_add_response_header(r, "X-Stream-Protocol-Version", protocol);
	} else {
		MHD_add_response_header(r, "Connection", "Upgrade");
		MHD_add_response_header(r, "Upgrade", "websocket");
		MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
		if (*protocol)
			MHD_add_response_header(r, "Sec-WebSocket-Protocol", protocol);
	}
	ctx->setup = s; /* on_upgraded takes it; on_completed frees it if the upgrade never comes */
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	return ret;
}

void st_session_ended(srv_stream_t *s)
{
	pthread_mutex_lock(&s->lock);
	s->sessions--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

int st_listen(const char *address, const char *port, int *ret_fd, char **ret_url, crl_error_t *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(*address ? address : NULL, port, &hints, &ai);
	if (g != 0)
		return crl_error_set(err, EINVAL, "address '%s': %s", address, gai_strerror(g));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return crl_error_set_errno(err, e, "listen on %s port %s", address, port);
	}
	freeaddrinfo(ai);
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char host[INET6_ADDRSTRLEN] = "";
	int bound = 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
		if (sa.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&sa;
			bound = ntohs(in->sin_port);
			if (in->sin_addr.s_addr == htonl(INADDR_ANY))
				strcpy(host, "127.0.0.1");
			else
				inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&sa;
			bound = ntohs(in6->sin6_port);
			if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
				strcpy(host, "::1");
			else
				inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		}
	}
	/* Unspecified addresses are reached on loopback: kubelet, which proxies the stream, runs on this node. */
	if (asprintf(ret_url, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, bound) < 0) {
		close(fd);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret_fd = fd;
	return 0;
}

int srv_stream_start(srv_daemon_t *d, srv_stream_t **ret, crl_error_t *err)
{
	srv_stream_t *s = calloc(1, sizeof(*s));
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	s->listen_fd = s->host_netns = s->stop_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	long idle = 0;
	srv_parse_duration(d->cfg.stream_idle_timeout, &idle);
	s->idle_timeout_ms = idle > 0 ? idle * 1000 : 0;
	int r;
	if ((r = st_tokens_new(&s->tokens, err)) < 0)
		goto fail;
	s->host_netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->host_netns < 0 || s->stop_fd < 0) {
		r = crl_error_set_errno(err, errno, "streaming server: %s",
					s->host_netns < 0 ? "open /proc/thread-self/ns/net" : "eventfd");
		goto fail;
	}
	if ((r = st_listen(d->cfg.stream_address, d->cfg.stream_port, &s->listen_fd, &s->base_url, err)) < 0) {
		crl_error_wrap(err, "streaming server (api.stream_address, api.stream_port)");
		goto fail;
	}
	s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_UPGRADE |
					  MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)(2 * ST_MAX_SESSIONS), MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				  MHD_OPTION_END);
	if (!s->mhd) {
		r = crl_error_set(err, EIO, "streaming server: libmicrohttpd did not start on %s", s->base_url);
		goto fail;
	}
	s->listen_fd = -1; /* libmicrohttpd's now */
	log_info("streaming server on %s", s->base_url);
	*ret = s;
	return 0;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->mhd = NULL;
	srv_stream_stop(s);
	return r;
}

void srv_stream_stop(srv_stream_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_mutex_unlock(&s->lock);
	if (s->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			log_warn("streaming server: eventfd: %s", strerror(errno));
	}
	/* Sessions see the stop at their next poll and end at once. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->sessions > 0)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
			break;
	size_t left = s->sessions;
	pthread_mutex_unlock(&s->lock);
	if (left) {
		/* A session thread still holds its connection: libmicrohttpd cannot be stopped under it. */
		log_warn("streaming server: %zu sessions did not end; leaving the server to the process exit", left);
		return;
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	st_tokens_free(s->tokens);
	if (s->host_netns >= 0)
		close(s->host_netns);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	free(s->base_url);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int srv_stream_url(srv_stream_t *s, st_request_t *req, char **ret_url, crl_error_t *err)
{
	static const char *const paths[] = { [ST_EXEC] = "exec", [ST_ATTACH] = "attach", [ST_PORTFORWARD] = "portforward" };
	if (!s) {
		st_request_free(req);
		return crl_error_set(err, EOPNOTSUPP, "the streaming server is not running");
	}
	char token[ST_TOKEN_LEN + 1];
	st_kind_t kind = req->kind;
	int r = st_tokens_add(s->tokens, req, crl_mono_ms(), token, err);
	if (r < 0) {
		st_request_free(req);
		return r;
	}
	if (asprintf(ret_url, "%s/%s/%s", s->base_url, paths[kind], token) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}
