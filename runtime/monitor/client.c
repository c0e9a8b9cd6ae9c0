/* SPDX-License-Identifier: Apache-2.0 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/timefmt.h"

struct mon_client {
	int fd;
	pid_t peer;
};

static int connect_addr(const char *path, const char *what, mon_client_t **ret, crl_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	if (n >= sizeof(a.sun_path))
		return crl_error_set(err, ENAMETOOLONG, "monitor socket path %s is too long", what);
	memcpy(a.sun_path, path, n + 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return crl_error_set_errno(err, errno, "connect to the pod monitor at %s", what);
	struct ucred cred = { 0 };
	socklen_t cl = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		return crl_error_set_errno(err, errno, "SO_PEERCRED of the pod monitor at %s", what);
	mon_client_t *c = calloc(1, sizeof(*c));
	if (!c)
		return crl_error_set(err, ENOMEM, "out of memory");
	c->fd = TAKE_FD(fd);
	c->peer = cred.pid;
	*ret = c;
	return 0;
}

int mon_client_connect_path(const char *sock, mon_client_t **ret, crl_error_t *err)
{
	return connect_addr(sock, sock, ret, err);
}

int mon_client_connect(const char *dir, mon_client_t **ret, crl_error_t *err)
{
	_cleanup_free_ char *full = NULL;
	if (asprintf(&full, "%s/monitor.sock", dir) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	struct sockaddr_un a;
	if (strlen(full) < sizeof(a.sun_path))
		return connect_addr(full, full, ret, err);
	/* sun_path holds 107 bytes; a deep runroot goes through the directory's fd instead. */
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return crl_error_set_errno(err, errno, "open %s", dir);
	char via[64];
	snprintf(via, sizeof(via), "/proc/self/fd/%d/monitor.sock", dfd);
	return connect_addr(via, full, ret, err);
}

void mon_client_free(mon_client_t *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int mon_client_fd(const mon_client_t *c)
{
	return c->fd;
}

pid_t mon_client_peer_pid(const mon_client_t *c)
{
	return c->peer;
}

static int send_all(int fd, const void *p, size_t n, crl_error_t *err)
{
	const char *b = p;
	while (n > 0) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return crl_error_set_errno(err, errno, "send to the pod monitor");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int mon_client_send(mon_client_t *c, const char *body, size_t len, bool raw, crl_error_t *err)
{
	if (!raw) {
		if (len > MON_CLIENT_MAX_MSG)
			return crl_error_set(err, EMSGSIZE, "request of %zu bytes is over the monitor's limit", len);
		unsigned char h[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
				       (unsigned char)len };
		int r = send_all(c->fd, h, 4, err);
		if (r < 0)
			return r;
	}
	return send_all(c->fd, body, len, err);
}

static int recv_all(int fd, void *p, size_t n, int64_t deadline, crl_error_t *err)
{
	char *b = p;
	while (n > 0) {
		int wait = -1;
		if (deadline >= 0) {
			int64_t left = deadline - crl_mono_ms();
			if (left <= 0)
				return crl_error_set(err, ETIMEDOUT, "the pod monitor did not answer in time");
			wait = (int)left;
		}
		struct pollfd pfd = { fd, POLLIN, 0 };
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return crl_error_set_errno(err, errno, "poll");
		if (pr == 0)
			continue;
		ssize_t r = recv(fd, b, n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return crl_error_set_errno(err, errno, "receive from the pod monitor");
		if (r == 0)
			return crl_error_set(err, EPIPE, "the pod monitor closed the connection");
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

int mon_client_recv(mon_client_t *c, int timeout_ms, crl_json_value_t **ret, crl_error_t *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : crl_mono_ms() + timeout_ms;
	unsigned char h[4];
	int r = recv_all(c->fd, h, 4, deadline, err);
	if (r < 0)
		return r;
	size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
	if (n > MON_CLIENT_MAX_REPLY)
		return crl_error_set(err, EPROTO, "the pod monitor sent a frame of %zu bytes (over the limit)", n);
	_cleanup_free_ char *body = malloc(n + 1);
	if (!body)
		return crl_error_set(err, ENOMEM, "out of memory");
	if ((r = recv_all(c->fd, body, n, deadline, err)) < 0)
		return r;
	body[n] = '\0';
	if ((r = crl_json_parse(body, ret, err)) < 0)
		return crl_error_wrap(err, "the pod monitor's reply");
	return 0;
}

int mon_client_call(mon_client_t *c, const char *request, int timeout_ms, crl_json_value_t **ret, crl_error_t *err)
{
	int r = mon_client_send(c, request, strlen(request), false, err);
	if (r < 0)
		return r;
	crl_json_value_t *v = NULL;
	if ((r = mon_client_recv(c, timeout_ms, &v, err)) < 0)
		return r;
	bool ok = false;
	if (!crl_json_get_bool(crl_json_get(v, "ok"), &ok) || !ok) {
		int64_t e = 0;
		const char *msg = crl_json_get_string(crl_json_get(v, "error"));
		if (!crl_json_get_int(crl_json_get(v, "errno"), &e) || e <= 0 || e > 4095)
			e = EPROTO;
		r = crl_error_set(err, (int)e, "%s", msg ? msg : "the pod monitor refused the request");
		crl_json_value_free(v);
		return r;
	}
	if (ret)
		*ret = v;
	else
		crl_json_value_free(v);
	return 0;
}

int mon_client_call_once(const char *dir, const char *request, int timeout_ms, crl_json_value_t **ret,
			 crl_error_t *err)
{
	mon_client_t *c = NULL;
	int r = mon_client_connect(dir, &c, err);
	if (r < 0)
		return r;
	r = mon_client_call(c, request, timeout_ms, ret, err);
	mon_client_free(c);
	return r;
}
