/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>

/* An error: an errno value that says what kind of failure it was (status.c maps it to a gRPC code) and a
 * message for humans. Functions that fail return a negative value and fill *err; callers add context with
 * crl_error_wrap() and return. */
typedef struct crl_error {
	int errnum;
	char *msg;
} crl_error_t;

#define CRL_ERROR_INIT { 0, NULL }

/* Sets *err (replacing what it held) and returns -errnum, so `return crl_error_set(...)` reads naturally. */
int crl_error_set(crl_error_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like crl_error_set, with ": strerror(errnum)" appended. */
int crl_error_set_errno(crl_error_t *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the message with context ("context: old message"); keeps errnum. Returns -errnum. */
int crl_error_wrap(crl_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message, never NULL. */
const char *crl_error_message(const crl_error_t *err);
void crl_error_clear(crl_error_t *err);
