/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "runtime/monitor/crilog.h"

#define T0 1700000000123456789LL

static char *run(const char *const *chunks, const int *streams, size_t n)
{
	char path[] = "/tmp/crl-crilog-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	crl_crilog_t *l = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_crilog_open(path, &l, &err), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(crl_crilog_write(l, streams[i], chunks[i], strlen(chunks[i]), T0, &err), 0);
	crl_crilog_close(l);
	char *text = NULL;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, path, 1 << 22, &text, NULL, &err), 0);
	unlink(path);
	return text;
}

static void test_full_and_partial(void **state)
{
	(void)state;
	const char *chunks[] = { "hello\nwor", "ld\n", "err line\n", "no newline" };
	const int streams[] = { 1, 1, 2, 1 };
	char *t = run(chunks, streams, 4);
	assert_string_equal(t, "2023-11-14T22:13:20.123456789Z stdout F hello\n"
			       "2023-11-14T22:13:20.123456789Z stdout P wor\n"
			       "2023-11-14T22:13:20.123456789Z stdout F ld\n"
			       "2023-11-14T22:13:20.123456789Z stderr F err line\n"
			       "2023-11-14T22:13:20.123456789Z stdout P no newline\n");
	free(t);
}

static void test_empty_lines(void **state)
{
	(void)state;
	const char *chunks[] = { "\n\na\n" };
	const int streams[] = { 2 };
	char *t = run(chunks, streams, 1);
	assert_string_equal(t, "2023-11-14T22:13:20.123456789Z stderr F \n"
			       "2023-11-14T22:13:20.123456789Z stderr F \n"
			       "2023-11-14T22:13:20.123456789Z stderr F a\n");
	free(t);
}

static void test_long_line_split(void **state)
{
	(void)state;
	size_t n = 2 * CRL_CRILOG_MAX_LINE + 10;
	char *big = malloc(n + 2);
	memset(big, 'x', n);
	big[n] = '\n';
	big[n + 1] = '\0';
	const char *chunks[] = { big };
	const int streams[] = { 1 };
	char *t = run(chunks, streams, 1);
	/* Two full-size P records and the rest as F. */
	char *l1 = t, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
	assert_int_equal(strchr(l1, '\n') - l1, 31 + 9 + CRL_CRILOG_MAX_LINE);
	assert_memory_equal(l1 + 31, "stdout P ", 9);
	assert_memory_equal(l2 + 31, "stdout P ", 9);
	assert_memory_equal(l3 + 31, "stdout F ", 9);
	assert_int_equal(strlen(l3), 31 + 9 + 10 + 1);
	free(t);
	free(big);
}

static void test_reopen(void **state)
{
	(void)state;
	char path[] = "/tmp/crl-crilog-XXXXXX", rotated[64];
	int fd = mkstemp(path);
	close(fd);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	crl_crilog_t *l = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_crilog_open(path, &l, &err), 0);
	assert_int_equal(crl_crilog_write(l, 1, "before\n", 7, T0, &err), 0);
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(crl_crilog_reopen(l, &err), 0);
	assert_int_equal(crl_crilog_write(l, 1, "after\n", 6, T0, &err), 0);
	crl_crilog_close(l);
	char *a = NULL, *b = NULL;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, rotated, 1 << 20, &a, NULL, &err), 0);
	assert_int_equal(crl_fs_read_file(AT_FDCWD, path, 1 << 20, &b, NULL, &err), 0);
	assert_non_null(strstr(a, "stdout F before\n"));
	assert_null(strstr(a, "after"));
	assert_non_null(strstr(b, "stdout F after\n"));
	free(a);
	free(b);
	unlink(path);
	unlink(rotated);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_and_partial),
		cmocka_unit_test(test_empty_lines),
		cmocka_unit_test(test_long_line_split),
		cmocka_unit_test(test_reopen),
	};
	return cmocka_run_group_tests_name("crilog", tests, NULL, NULL);
}
