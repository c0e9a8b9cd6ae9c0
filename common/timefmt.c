/* SPDX-License-Identifier: Apache-2.0 */
#include "timefmt.h"

static char *put(char *p, int64_t v, int width)
{
	char tmp[24];
	int n = 0;
	uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n < width)
		tmp[n++] = '0';
	if (v < 0)
		*p++ = '-';
	while (n)
		*p++ = tmp[--n];
	return p;
}

size_t crl_rfc3339_utc(char *buf, int64_t sec, long nsec, int digits)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* Days since 1970-01-01 to a proleptic Gregorian date, in 400-year eras of 146097 days starting on
	 * March 1st so that the leap day ends each year. */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;                                 /* 0..146096 */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);            /* 0..365, from March 1st */
	int64_t mp = (5 * doy + 2) / 153;                                 /* 0..11, March first */
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);
	char *p = put(buf, year, 4);
	*p++ = '-';
	p = put(p, month, 2);
	*p++ = '-';
	p = put(p, day, 2);
	*p++ = 'T';
	p = put(p, rem / 3600, 2);
	*p++ = ':';
	p = put(p, rem / 60 % 60, 2);
	*p++ = ':';
	p = put(p, rem % 60, 2);
	if (digits > 9)
		digits = 9;
	if (digits > 0) {
		if (nsec < 0 || nsec > 999999999)
			nsec = 0;
		long f = nsec;
		for (int i = digits; i < 9; i++)
			f /= 10;
		*p++ = '.';
		p = put(p, f, digits);
	}
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - buf);
}

int64_t crl_now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t crl_mono_ms(void)
{
	return crl_now_ns(CLOCK_MONOTONIC) / 1000000;
}
