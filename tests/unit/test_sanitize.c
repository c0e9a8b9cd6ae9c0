/* SPDX-License-Identifier: Apache-2.0 */
/* Strings the server sends are valid UTF-8 (Go peers reject anything else), in replies and in streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.pb-c.h"
#include "common/utf8.h"
#include "server/sanitize.h"

static void *heap_alloc(void *ctx, size_t size)
{
	(*(int *)ctx)++;
	return malloc(size);
}

static void heap_release(void *ctx, char *old)
{
	(void)ctx;
	free(old);
}

static void test_nested_and_repeated(void **state)
{
	(void)state;
	Runtime__V1__Image img = RUNTIME__V1__IMAGE__INIT;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	char *tags[] = { strdup("ok:1"), strdup("bad\xff:2") };
	img.id = strdup("sha256:ok");
	img.n_repo_tags = 2;
	img.repo_tags = tags;
	spec.image = strdup("nested\xc3(");
	img.spec = &spec;
	assert_false(srv_message_utf8_valid(&img.base));
	int allocs = 0;
	assert_int_equal(srv_message_sanitize(&img.base, heap_alloc, heap_release, &allocs), 0);
	assert_int_equal(allocs, 2); /* only the two invalid strings are replaced */
	assert_true(srv_message_utf8_valid(&img.base));
	assert_string_equal(img.id, "sha256:ok");
	assert_string_equal(img.repo_tags[0], "ok:1");
	assert_string_equal(img.repo_tags[1], "bad\xef\xbf\xbd:2");
	assert_string_equal(spec.image, "nested\xef\xbf\xbd(");
	free(img.id);
	free(tags[0]);
	free(img.repo_tags[1]);
	free(spec.image);
}

static void test_valid_message_untouched(void **state)
{
	(void)state;
	Runtime__V1__VersionResponse v = RUNTIME__V1__VERSION_RESPONSE__INIT;
	v.version = (char *)"0.1.0";
	v.runtime_name = (char *)"crio-lite \xe2\x9c\x93";
	assert_true(srv_message_utf8_valid(&v.base));
	int allocs = 0;
	assert_int_equal(srv_message_sanitize(&v.base, heap_alloc, heap_release, &allocs), 0);
	assert_int_equal(allocs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_and_repeated),
		cmocka_unit_test(test_valid_message_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
