/* SPDX-License-Identifier: Apache-2.0 */
#include "crilog.h"
#include "common/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct crl_crilog {
	char *path;
	int fd;
};

static int open_log(const char *path, int *ret, crl_error_t *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open log %s", path);
	*ret = fd;
	return 0;
}

int crl_crilog_open(const char *path, crl_crilog_t **ret, crl_error_t *err)
{
	crl_crilog_t *l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	int r = open_log(path, &l->fd, err);
	if (r < 0) {
		free(l->path);
		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

int crl_crilog_reopen(crl_crilog_t *l, crl_error_t *err)
{
	int fd = -1;
	int r = open_log(l->path, &fd, err);
	if (r < 0)
		return r;
	close(l->fd);
	l->fd = fd;
	return 0;
}

void crl_crilog_close(crl_crilog_t *l)
{
	if (!l)
		return;
	close(l->fd);
	free(l->path);
	free(l);
}

size_t crl_crilog_format(char *buf, int stream, bool partial, const char *data, size_t len, int64_t now_ns)
{
	int64_t sec = now_ns / 1000000000LL, ns = now_ns % 1000000000LL;
	if (ns < 0) {
		ns += 1000000000LL;
		sec--;
	}
	size_t o = crl_rfc3339_utc(buf, sec, (long)ns, 9);
	memcpy(buf + o, stream == 2 ? " stderr " : " stdout ", 8);
	o += 8;
	buf[o++] = partial ? 'P' : 'F';
	buf[o++] = ' ';
	memcpy(buf + o, data, len);
	o += len;
	buf[o++] = '\n';
	return o;
}

static int emit(crl_crilog_t *l, int stream, bool partial, const char *data, size_t len, int64_t now, crl_error_t *err)
{
	/* On the stack, not per log: a monitor with many containers touches these pages once. */
	char buf[CRL_CRILOG_MAX_LINE + 128];
	size_t n = crl_crilog_format(buf, stream, partial, data, len, now);
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(l->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return crl_error_set_errno(err, errno, "write log %s", l->path);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int crl_crilog_write(crl_crilog_t *l, int stream, const char *data, size_t len, int64_t now, crl_error_t *err)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t line = nl ? (size_t)(nl - data) : len;
		/* Split what is too long into partial records. */
		while (line > CRL_CRILOG_MAX_LINE) {
			int r = emit(l, stream, true, data, CRL_CRILOG_MAX_LINE, now, err);
			if (r < 0)
				return r;
			data += CRL_CRILOG_MAX_LINE;
			len -= CRL_CRILOG_MAX_LINE;
			line -= CRL_CRILOG_MAX_LINE;
		}
		int r = emit(l, stream, !nl, data, line, now, err);
		if (r < 0)
			return r;
		size_t used = nl ? line + 1 : line;
		data += used;
		len -= used;
	}
	return 0;
}
