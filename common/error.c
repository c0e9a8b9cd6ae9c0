/* SPDX-License-Identifier: Apache-2.0 */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_v(crl_error_t *err, int errnum, const char *suffix, const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EIO;
	if (!err)
		return -errnum;
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && suffix) {
		char *full = NULL;
		if (asprintf(&full, "%s: %s", msg, suffix) >= 0) {
			free(msg);
			msg = full;
		}
	}
	free(err->msg);
	err->msg = msg;
	err->errnum = errnum;
	return -errnum;
}

int crl_error_set(crl_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = set_v(err, errnum, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int crl_error_set_errno(crl_error_t *err, int errnum, const char *fmt, ...)
{
	char buf[128];
	const char *s = strerror_r(errnum, buf, sizeof(buf));
	va_list ap;
	va_start(ap, fmt);
	int r = set_v(err, errnum, s, fmt, ap);
	va_end(ap);
	return r;
}

int crl_error_wrap(crl_error_t *err, const char *fmt, ...)
{
	if (!err)
		return -EIO;
	if (err->errnum <= 0)
		err->errnum = EIO;
	char *ctx = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&ctx, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -err->errnum;
	char *full = NULL;
	if (asprintf(&full, "%s: %s", ctx, crl_error_message(err)) >= 0) {
		free(err->msg);
		err->msg = full;
	}
	free(ctx);
	return -err->errnum;
}

const char *crl_error_message(const crl_error_t *err)
{
	if (!err || err->errnum == 0)
		return "no error";
	return err->msg ? err->msg : "out of memory while formatting an error";
}

void crl_error_clear(crl_error_t *err)
{
	if (!err)
		return;
	free(err->msg);
	err->msg = NULL;
	err->errnum = 0;
}
