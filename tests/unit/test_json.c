/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/json.h"

static void writes_a_document(void **state)
{
	(void)state;
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_key(j, "n");
	crl_json_int(j, -7);
	crl_json_key(j, "s");
	crl_json_string(j, "a\xff" "b");
	crl_json_key(j, "l");
	crl_json_array_begin(j);
	crl_json_bool(j, true);
	crl_json_null(j);
	crl_json_array_end(j);
	crl_json_object_end(j);
	char *out = NULL;
	size_t len = 0;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_finish(j, &out, &len, &err), 0);
	/* The invalid byte becomes U+FFFD, so the document stays valid UTF-8. */
	assert_string_equal(out, "{\"n\":-7,\"s\":\"a\xef\xbf\xbd" "b\",\"l\":[true,null]}");
	assert_int_equal(len, strlen(out));
	free(out);
}

static void incomplete_document_fails(void **state)
{
	(void)state;
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_key(j, "open");
	char *out = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_finish(j, &out, NULL, &err), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(crl_error_message(&err), "incomplete"));
	crl_error_clear(&err);
}

static void misuse_fails(void **state)
{
	(void)state;
	crl_json_t *j = crl_json_new(false);
	crl_json_object_end(j);
	char *out = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_finish(j, &out, NULL, &err), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(crl_error_message(&err), "not built correctly"));
	crl_error_clear(&err);
}

/* A builder that could not be allocated takes every call and fails once, at the end. */
static void unallocated_builder_fails_at_finish(void **state)
{
	(void)state;
	crl_json_t *j = NULL;
	crl_json_object_begin(j);
	crl_json_key(j, "k");
	crl_json_string(j, "v");
	crl_json_int(j, 1);
	crl_json_object_end(j);
	char *out = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_finish(j, &out, NULL, &err), -ENOMEM);
	assert_null(out);
	crl_error_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_a_document),
		cmocka_unit_test(incomplete_document_fails),
		cmocka_unit_test(misuse_fails),
		cmocka_unit_test(unallocated_builder_fails_at_finish),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
