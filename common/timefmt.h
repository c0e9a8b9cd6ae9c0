/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest output of crl_rfc3339_utc, with its NUL: "-292277026596-12-04T15:30:07.123456789Z" fits. */
#define CRL_RFC3339_MAX 48

/* Writes "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (UTC, RFC 3339) for sec and nsec (0..999999999), with digits (0..9)
 * fractional digits, NUL-terminated; returns its length (without the NUL). buf holds CRL_RFC3339_MAX bytes.
 * Pure arithmetic: no time zone files, no locale, no libc time conversion (the static monitor links none). */
size_t crl_rfc3339_utc(char *buf, int64_t sec, long nsec, int digits);

/* clock_gettime of c, in nanoseconds. */
int64_t crl_now_ns(clockid_t c);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
int64_t crl_mono_ms(void);
