/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

typedef enum crl_log_level {
	CRL_LOG_FATAL = 0,
	CRL_LOG_ERROR,
	CRL_LOG_WARN,
	CRL_LOG_INFO,
	CRL_LOG_DEBUG,
	CRL_LOG_TRACE,
} crl_log_level_t;

/* The threshold is the one piece of process-wide mutable state outside the daemon context: it is set once at
 * start, before any thread runs, and only read after. */
void crl_log_set_level(crl_log_level_t level);
crl_log_level_t crl_log_get_level(void);
bool crl_log_enabled(crl_log_level_t level);
/* Parses "fatal", "error", "warn"/"warning", "info", "debug", "trace"; returns -1 when unknown. */
int crl_log_parse_level(const char *s);
const char *crl_log_level_name(crl_log_level_t level);

/* One line on stderr: "<RFC3339 UTC with µs> <level> <message>", written with a single write(2). */
void crl_log(crl_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_fatal(...) crl_log(CRL_LOG_FATAL, __VA_ARGS__)
#define log_error(...) crl_log(CRL_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) crl_log(CRL_LOG_WARN, __VA_ARGS__)
#define log_info(...) crl_log(CRL_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                  \
	do {                                            \
		if (crl_log_enabled(CRL_LOG_DEBUG))     \
			crl_log(CRL_LOG_DEBUG, __VA_ARGS__); \
	} while (0)
