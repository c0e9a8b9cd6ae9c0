/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The CRI container log format kubelet reads:
 *   <RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <content>\n
 * A newline-terminated line is written with F (its newline is the record's). What a read leaves without a
 * newline is written at once with P (partial: kubelet joins it with what follows), as conmon does, so nothing
 * waits in a buffer. A line longer than CRL_CRILOG_MAX_LINE is split into P records. */

#define CRL_CRILOG_MAX_LINE (16 * 1024)

typedef struct crl_crilog crl_crilog_t;

int crl_crilog_open(const char *path, crl_crilog_t **ret, crl_error_t *err);
/* Reopens the same path (after kubelet rotated the file). */
int crl_crilog_reopen(crl_crilog_t *l, crl_error_t *err);
void crl_crilog_close(crl_crilog_t *l);
/* stream: 1 stdout, 2 stderr; now_ns: the time to stamp (CLOCK_REALTIME). */
int crl_crilog_write(crl_crilog_t *l, int stream, const char *data, size_t len, int64_t now_ns, crl_error_t *err);
/* Formats one record into buf (room for CRL_CRILOG_MAX_LINE + 64); returns its length. */
size_t crl_crilog_format(char *buf, int stream, bool partial, const char *data, size_t len, int64_t now_ns);
