/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
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

static void saves_atomically_and_refuses_a_broken_document(void **state)
{
	(void)state;
	char dir[] = "/tmp/crl-json-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	crl_error_t err = CRL_ERROR_INIT;
	crl_json_t *j = crl_json_new(false);
	crl_json_array_begin(j);
	crl_json_int(j, 42);
	crl_json_array_end(j);
	assert_int_equal(crl_json_save(j, dfd, "doc.json", 0600, &err), 0);
	char *text = NULL;
	assert_int_equal(crl_fs_read_file(dfd, "doc.json", 1024, &text, NULL, &err), 0);
	assert_string_equal(text, "[42]");
	free(text);
	struct stat st;
	assert_int_equal(fstatat(dfd, "doc.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A broken document leaves the saved one as it was. */
	j = crl_json_new(false);
	crl_json_array_begin(j);
	assert_int_equal(crl_json_save(j, dfd, "doc.json", 0600, &err), -EINVAL);
	crl_error_clear(&err);
	assert_int_equal(crl_fs_read_file(dfd, "doc.json", 1024, &text, NULL, &err), 0);
	assert_string_equal(text, "[42]");
	free(text);
	close(dfd);
	assert_int_equal(crl_fs_rm_rf(dir, &err), 0);
}

/* A parsed value written back is the same document, numbers as they were written. */
static void writes_a_parsed_value(void **state)
{
	(void)state;
	const char *text = "{\"a\":[1,1.50,-0,1e3,-12345678901234567890,true,false,null,\"s\\u00e9\"],\"o\":{},\"l\":[]}";
	crl_json_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(text, &v, &err), 0);
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_key(j, "doc");
	crl_json_value(j, v);
	crl_json_object_end(j);
	char *out = crl_json_finish_text(j, NULL);
	assert_non_null(out);
	assert_string_equal(out, "{\"doc\":{\"a\":[1,1.50,-0,1e3,-12345678901234567890,true,false,null,\"s\xc3\xa9\"],"
				 "\"o\":{},\"l\":[]}}");
	free(out);
	crl_json_value_free(v);

	/* NULL, and a value nested deeper than CRL_JSON_MAX_DEPTH, fail the document; that depth is fine. */
	j = crl_json_new(false);
	crl_json_value(j, NULL);
	assert_int_equal(crl_json_finish(j, &out, NULL, &err), -EINVAL);
	char deep[2 * (CRL_JSON_MAX_DEPTH + 1) + 1];
	memset(deep, '[', CRL_JSON_MAX_DEPTH + 1);
	memset(deep + CRL_JSON_MAX_DEPTH + 1, ']', CRL_JSON_MAX_DEPTH + 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(crl_json_parse(deep, &v, &err), 0);
	j = crl_json_new(false);
	crl_json_value(j, v);
	assert_int_equal(crl_json_finish(j, &out, NULL, &err), -EINVAL);
	crl_json_value_free(v);
	deep[0] = ' ';
	deep[sizeof(deep) - 2] = ' ';
	assert_int_equal(crl_json_parse(deep, &v, &err), 0);
	j = crl_json_new(false);
	crl_json_value(j, v);
	out = crl_json_finish_text(j, NULL);
	assert_non_null(out);
	free(out);
	crl_json_value_free(v);
	crl_error_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_a_document),
		cmocka_unit_test(writes_a_parsed_value),
		cmocka_unit_test(incomplete_document_fails),
		cmocka_unit_test(misuse_fails),
		cmocka_unit_test(unallocated_builder_fails_at_finish),
		cmocka_unit_test(saves_atomically_and_refuses_a_broken_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
