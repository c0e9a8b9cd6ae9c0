/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/timefmt.h"

/* libc's answer, the reference the arithmetic must match. */
static void expect(int64_t sec, long nsec, int digits)
{
	char want[96], got[CRL_RFC3339_MAX];
	time_t t = (time_t)sec;
	struct tm tm;
	assert_non_null(gmtime_r(&t, &tm));
	size_t o = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits > 0) {
		long f = nsec;
		for (int i = digits; i < 9; i++)
			f /= 10;
		o += (size_t)snprintf(want + o, sizeof(want) - o, ".%0*ld", digits, f);
	}
	snprintf(want + o, sizeof(want) - o, "Z");
	size_t n = crl_rfc3339_utc(got, sec, nsec, digits);
	assert_string_equal(got, want);
	assert_int_equal(n, strlen(want));
}

static void test_known_instants(void **state)
{
	(void)state;
	char b[CRL_RFC3339_MAX];
	crl_rfc3339_utc(b, 0, 0, 9);
	assert_string_equal(b, "1970-01-01T00:00:00.000000000Z");
	crl_rfc3339_utc(b, 1700000000, 123456789, 9);
	assert_string_equal(b, "2023-11-14T22:13:20.123456789Z");
	crl_rfc3339_utc(b, 1700000000, 123456789, 6);
	assert_string_equal(b, "2023-11-14T22:13:20.123456Z");
	crl_rfc3339_utc(b, 951782400, 5, 0); /* a leap day of a year divisible by 400 */
	assert_string_equal(b, "2000-02-29T00:00:00Z");
	crl_rfc3339_utc(b, -1, 999999999, 3);
	assert_string_equal(b, "1969-12-31T23:59:59.999Z");
	crl_rfc3339_utc(b, 4102444799LL, 0, 9);
	assert_string_equal(b, "2099-12-31T23:59:59.000000000Z");
}

static void test_matches_libc(void **state)
{
	(void)state;
	/* Every day boundary from 1900 to 2400 (leap and century rules), and pseudo-random instants between. */
	for (int64_t s = -2208988800LL; s < 13569465600LL; s += 86400) {
		expect(s, 0, 0);
		expect(s - 1, 999999999, 9);
	}
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t s = (int64_t)(x % 20000000000ULL) - 5000000000LL;
		expect(s, (long)(x % 1000000000ULL), (int)(x % 10));
	}
}

static void test_bad_fraction(void **state)
{
	(void)state;
	char b[CRL_RFC3339_MAX];
	crl_rfc3339_utc(b, 0, 2000000000L, 12); /* nanoseconds out of range and too many digits: clamped */
	assert_string_equal(b, "1970-01-01T00:00:00.000000000Z");
}

/* The clocks: real time in ns agrees with time(2); the monotonic ms never go back. */
static void test_clocks(void **state)
{
	(void)state;
	time_t before = time(NULL);
	int64_t ns = crl_now_ns(CLOCK_REALTIME);
	time_t after = time(NULL);
	assert_true(ns / 1000000000 >= before && ns / 1000000000 <= after);
	int64_t a = crl_mono_ms(), b = crl_mono_ms();
	assert_true(a > 0 && b >= a);
	assert_true(crl_now_ns(CLOCK_MONOTONIC) / 1000000 >= b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_instants),
		cmocka_unit_test(test_matches_libc),
		cmocka_unit_test(test_bad_fraction),
		cmocka_unit_test(test_clocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
