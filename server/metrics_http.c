/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics endpoint: GET /metrics on [crio-lite.metrics] metrics_address:metrics_port, libmicrohttpd's
 * (as the streaming server), one thread. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon.h"
#include "metrics.h"
#include "metrics_http.h"
#include "stream/stream.h"

struct srv_metrics_http {
	srv_daemon_t *d;
	struct MHD_Daemon *mhd;
	char *url;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *type, char *body, size_t len,
			     bool owned)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	enum MHD_Result ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	srv_metrics_http_t *h = cls;
	static int first;
	if (!*con_cls) {
		*con_cls = &first;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	const char *text = "text/plain; charset=utf-8";
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, text, "404 page not found\n", 19, false);
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text, "405 method not allowed\n", 23, false);
	char *body = NULL;
	size_t len = 0;
	crl_error_t err = CRL_ERROR_INIT;
	if (srv_metrics_render(h->d, &body, &len, &err) < 0) {
		log_warn("metrics: %s", crl_error_message(&err));
		crl_error_clear(&err);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "500 metrics not rendered\n", 25, false);
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, true);
}

int srv_metrics_http_start(srv_daemon_t *d, srv_metrics_http_t **ret, crl_error_t *err)
{
	srv_metrics_http_t *h = calloc(1, sizeof(*h));
	if (!h)
		return crl_error_set(err, ENOMEM, "out of memory");
	h->d = d;
	char port[16];
	snprintf(port, sizeof(port), "%lld", (long long)d->cfg.metrics_port);
	int fd = -1;
	char *base = NULL;
	int r = st_listen(d->cfg.metrics_address, port, &fd, &base, err);
	if (r < 0) {
		free(h);
		return crl_error_wrap(err, "metrics endpoint (metrics.metrics_address, metrics.metrics_port)");
	}
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				  on_request, h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
	if (!h->mhd) {
		close(fd);
		r = crl_error_set(err, EIO, "metrics endpoint: libmicrohttpd did not start on %s", base);
		free(base);
		free(h);
		return r;
	}
	if (asprintf(&h->url, "%s/metrics", base) < 0)
		h->url = NULL;
	free(base);
	log_info("metrics on %s", h->url ? h->url : "(?)");
	*ret = h;
	return 0;
}

void srv_metrics_http_stop(srv_metrics_http_t *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h->url);
	free(h);
}
