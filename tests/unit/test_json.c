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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(writes_a_document),
		cmocka_unit_test(incomplete_document_fails),
		cmocka_unit_test(misuse_fails),
		cmocka_unit_test(unallocated_builder_fails_at_finish),
		cmocka_unit_test(saves_atomically_and_refuses_a_broken_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
