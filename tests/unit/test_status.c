/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/status.h"

static srv_code_t code_of(int errnum)
{
	crl_error_t err = CRL_ERROR_INIT;
	crl_error_set(&err, errnum, "x");
	srv_code_t c = srv_status_from_error(&err);
	crl_error_clear(&err);
	return c;
}

static void test_mapping(void **state)
{
	(void)state;
	assert_int_equal(code_of(EINVAL), SRV_INVALID_ARGUMENT);
	assert_int_equal(code_of(ENOENT), SRV_NOT_FOUND);
	assert_int_equal(code_of(EEXIST), SRV_ALREADY_EXISTS);
	assert_int_equal(code_of(EACCES), SRV_PERMISSION_DENIED);
	assert_int_equal(code_of(ENOSPC), SRV_RESOURCE_EXHAUSTED);
	assert_int_equal(code_of(EFBIG), SRV_RESOURCE_EXHAUSTED);
	assert_int_equal(code_of(EBUSY), SRV_FAILED_PRECONDITION);
	assert_int_equal(code_of(ECANCELED), SRV_CANCELLED);
	assert_int_equal(code_of(ETIMEDOUT), SRV_DEADLINE_EXCEEDED);
	assert_int_equal(code_of(ENOSYS), SRV_UNIMPLEMENTED);
	assert_int_equal(code_of(EAGAIN), SRV_UNAVAILABLE);
	assert_int_equal(code_of(EKEYREJECTED), SRV_UNAUTHENTICATED);
	assert_int_equal(code_of(EIO), SRV_INTERNAL);
	/* A negative or zero errnum is still an error (never OK by accident). */
	assert_int_equal(code_of(0), SRV_INTERNAL);
	crl_error_t none = CRL_ERROR_INIT;
	assert_int_equal(srv_status_from_error(&none), SRV_OK);
	assert_int_equal(srv_status_from_error(NULL), SRV_UNKNOWN);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(srv_code_name(SRV_OK), "OK");
	assert_string_equal(srv_code_name(SRV_INVALID_ARGUMENT), "INVALID_ARGUMENT");
	assert_string_equal(srv_code_name(SRV_UNAUTHENTICATED), "UNAUTHENTICATED");
	assert_string_equal(srv_code_name((srv_code_t)99), "UNKNOWN");
}

static void test_error_wrap(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_error_set(&err, ENOENT, "file %s", "x"), -ENOENT);
	assert_int_equal(crl_error_wrap(&err, "load %d", 3), -ENOENT);
	assert_string_equal(crl_error_message(&err), "load 3: file x");
	assert_int_equal(crl_error_set_errno(&err, EACCES, "open y"), -EACCES);
	assert_non_null(strstr(crl_error_message(&err), "open y: Permission denied"));
	crl_error_clear(&err);
	assert_string_equal(crl_error_message(&err), "no error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_error_wrap),
	};
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
