/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/ref.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void norm(const char *in, const char *want)
{
	img_ref_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (img_ref_parse(in, &r, &err) < 0)
		fail_msg("%s: %s", in, crl_error_message(&err));
	char *s = img_ref_string(r);
	if (strcmp(s, want) != 0)
		fail_msg("%s normalised to %s, want %s", in, s, want);
	free(s);
	img_ref_free(r);
}

static void bad(const char *in, const char *want)
{
	img_ref_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (img_ref_parse(in, &r, &err) == 0) {
		img_ref_free(r);
		fail_msg("'%s' parsed but should not", in);
	}
	if (!strstr(crl_error_message(&err), want))
		fail_msg("'%s': error '%s' lacks '%s'", in, crl_error_message(&err), want);
	crl_error_clear(&err);
}

static void test_normalisation(void **state)
{
	(void)state;
	norm("busybox", "docker.io/library/busybox:latest");
	norm("busybox:1.36", "docker.io/library/busybox:1.36");
	norm("library/busybox", "docker.io/library/busybox:latest");
	norm("docker.io/busybox", "docker.io/library/busybox:latest");
	norm("index.docker.io/busybox", "docker.io/library/busybox:latest");
	norm("user/app", "docker.io/user/app:latest");
	norm("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9");
	norm("127.0.0.1:5000/a/b/c", "127.0.0.1:5000/a/b/c:latest");
	norm("localhost/app:v1", "localhost/app:v1");
	norm("localhost:5000/app", "localhost:5000/app:latest");
	norm("[::1]:5000/app", "[::1]:5000/app:latest");
	norm("busybox@" D64, "docker.io/library/busybox@" D64);
	norm("busybox:1.36@" D64, "docker.io/library/busybox:1.36@" D64);
	norm("quay.io/a/b-c__d.e:Tag_1.0-rc", "quay.io/a/b-c__d.e:Tag_1.0-rc");
	norm("a---b", "docker.io/library/a---b:latest");
}

static void test_parts(void **state)
{
	(void)state;
	img_ref_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_ref_parse("busybox", &r, &err), 0);
	assert_string_equal(r->domain, "docker.io");
	assert_string_equal(r->path, "library/busybox");
	assert_string_equal(r->tag, "latest");
	assert_null(r->digest);
	assert_false(r->had_domain);
	char *repo = img_ref_repo(r);
	assert_string_equal(repo, "docker.io/library/busybox");
	free(repo);
	/* Rewritten onto a search registry, docker.io's library/ goes away. */
	img_ref_t *m = NULL;
	assert_int_equal(img_ref_with_domain(r, "127.0.0.1:5000", &m, &err), 0);
	char *s = img_ref_string(m);
	assert_string_equal(s, "127.0.0.1:5000/busybox:latest");
	free(s);
	img_ref_free(m);
	img_ref_free(r);
	assert_int_equal(img_ref_parse("busybox@" D64, &r, &err), 0);
	assert_null(r->tag);
	assert_string_equal(r->digest, D64);
	img_ref_free(r);
}

static void test_rejects(void **state)
{
	(void)state;
	bad("", "empty");
	bad("Busybox", "invalid repository name component 'Busybox'");
	bad("busybox:", "invalid tag ''");
	bad("busybox:-x", "invalid tag");
	bad("busybox@sha256:abc", "invalid digest");
	bad("busybox@md5:0123", "invalid digest");
	bad("a//b", "invalid repository name component ''");
	bad("a/b_", "invalid repository name component 'b_'");
	bad("a/.b", "invalid repository name component");
	bad("a___b", "invalid repository name component");
	bad("exa_mple.com/a", "invalid registry");
	bad("example.com:99999999/a", "invalid registry");
	bad("example.com/", "no repository name");
	bad("/a", "invalid repository name component");
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	bad(longname, "longer than 255");
	assert_true(img_digest_valid(D64));
	assert_false(img_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests_name("ref", tests, NULL, NULL);
}
