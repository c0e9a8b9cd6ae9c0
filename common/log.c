/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"
#include "timefmt.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int threshold = CRL_LOG_INFO;

static const char *const names[] = { "fatal", "error", "warn", "info", "debug", "trace" };

void crl_log_set_level(crl_log_level_t level)
{
	atomic_store(&threshold, level);
}

crl_log_level_t crl_log_get_level(void)
{
	return atomic_load(&threshold);
}

bool crl_log_enabled(crl_log_level_t level)
{
	return (int)level <= atomic_load(&threshold);
}

int crl_log_parse_level(const char *s)
{
	if (!s)
		return -1;
	if (strcasecmp(s, "warning") == 0)
		return CRL_LOG_WARN;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *crl_log_level_name(crl_log_level_t level)
{
	if ((int)level < 0 || (size_t)level >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[level];
}

void crl_log(crl_log_level_t level, const char *fmt, ...)
{
	if (!crl_log_enabled(level))
		return;
	char line[4096];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	size_t n = crl_rfc3339_utc(line, ts.tv_sec, ts.tv_nsec, 6);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " %-5s ", crl_log_level_name(level));
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m : sizeof(line) - n - 2;
	/* One event, one line: embedded newlines would let a message forge log lines. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}
