/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/registries.h"

static img_registries_t *parse(const char *text)
{
	img_registries_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (img_registries_parse(text, strlen(text), "reg.conf", &r, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	return r;
}

/* Endpoints joined with spaces, insecure ones marked with '!'. */
static void endpoints(const img_registries_t *r, const char *repo, bool by_digest, const char *want)
{
	img_endpoint_t *e = NULL;
	size_t n = 0;
	crl_error_t err = CRL_ERROR_INIT;
	if (img_registries_endpoints(r, repo, by_digest, &e, &n, &err) < 0)
		fail_msg("%s: %s", repo, crl_error_message(&err));
	char got[1024] = "";
	for (size_t i = 0; i < n; i++) {
		strcat(got, i ? " " : "");
		strcat(got, e[i].insecure ? "!" : "");
		strcat(got, e[i].repo);
	}
	if (strcmp(got, want) != 0)
		fail_msg("%s: got '%s', want '%s'", repo, got, want);
	img_endpoints_free(e, n);
}

static void test_v2_mirrors_and_prefixes(void **state)
{
	(void)state;
	img_registries_t *r = parse("unqualified-search-registries = [\"docker.io\", \"quay.io\"]\n"
				    "short-name-mode = \"enforcing\"\n"
				    "[aliases]\n\"pause\" = \"registry.k8s.io/pause\"\n"
				    "[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n"
				    "[[registry.mirror]]\nlocation = \"127.0.0.1:5000\"\ninsecure = true\n"
				    "[[registry.mirror]]\nlocation = \"mirror.example/dh/\"\npull-from-mirror = \"digest-only\"\n"
				    "[[registry]]\nprefix = \"docker.io/special\"\nlocation = \"internal.example:5000/sp\"\n"
				    "[[registry]]\nprefix = \"*.corp.example\"\ninsecure = true\n"
				    "[[registry]]\nlocation = \"bad.example\"\nblocked = true\n"
				    "[[registry]]\nprefix = \"dig.example\"\nmirror-by-digest-only = true\n"
				    "[[registry.mirror]]\nlocation = \"m.example\"\n");
	assert_string_equal(r->search[0], "docker.io");
	assert_string_equal(r->search[1], "quay.io");
	assert_null(r->search[2]);
	endpoints(r, "docker.io/library/busybox", false, "!127.0.0.1:5000/library/busybox docker.io/library/busybox");
	endpoints(r, "docker.io/library/busybox", true,
		  "!127.0.0.1:5000/library/busybox mirror.example/dh/library/busybox docker.io/library/busybox");
	/* The longest prefix wins; a prefix matches whole path components only. */
	endpoints(r, "docker.io/special/app", false, "internal.example:5000/sp/app");
	endpoints(r, "docker.io/specialist/app", false, "!127.0.0.1:5000/specialist/app docker.io/specialist/app");
	endpoints(r, "a.corp.example/x/y", false, "!a.corp.example/x/y");
	endpoints(r, "corp.example/x", false, "corp.example/x");
	endpoints(r, "dig.example/a", false, "dig.example/a");
	endpoints(r, "dig.example/a", true, "m.example/a dig.example/a");
	endpoints(r, "quay.io/a/b", false, "quay.io/a/b");
	img_endpoint_t *e = NULL;
	size_t n = 0;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_registries_endpoints(r, "bad.example/x", false, &e, &n, &err), -EACCES);
	assert_non_null(strstr(crl_error_message(&err), "blocked"));
	crl_error_clear(&err);
	img_registries_free(r);
}

static void test_v1_and_empty(void **state)
{
	(void)state;
	img_registries_t *r = parse("[registries.search]\nregistries = ['docker.io']\n"
				    "[registries.insecure]\nregistries = ['127.0.0.1:5000']\n"
				    "[registries.block]\nregistries = ['evil.example']\n");
	assert_string_equal(r->search[0], "docker.io");
	endpoints(r, "127.0.0.1:5000/a", false, "!127.0.0.1:5000/a");
	img_endpoint_t *e = NULL;
	size_t n = 0;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_registries_endpoints(r, "evil.example/a", false, &e, &n, &err), -EACCES);
	crl_error_clear(&err);
	img_registries_free(r);
	r = parse("");
	assert_null(r->search[0]);
	endpoints(r, "docker.io/library/x", false, "docker.io/library/x");
	img_registries_free(r);
	/* A missing file is an empty configuration. */
	assert_int_equal(img_registries_load("/nonexistent/registries.conf", &r, &err), 0);
	assert_int_equal(r->n_regs, 0);
	img_registries_free(r);
}

static void test_errors(void **state)
{
	(void)state;
	const char *cases[][2] = {
		{ "[[registry]]\ninsecure = true\n", "reg.conf:1: a [[registry]] needs a prefix or a location" },
		{ "[[registry]]\nprefix = 5\n", "reg.conf:2: prefix must be a string" },
		{ "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\ninsecure = true\n", "needs a location" },
		{ "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"x\"\n",
		  "pull-from-mirror must be" },
		{ "unqualified-search-registries = \"docker.io\"\n", "must be a array" },
		{ "[[registry]]\nprefix = \"a*.b\"\n", "wildcard" },
		{ "[[registry]\n", "reg.conf:1:" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		img_registries_t *r = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		if (img_registries_parse(cases[i][0], strlen(cases[i][0]), "reg.conf", &r, &err) == 0) {
			img_registries_free(r);
			fail_msg("parsed: %s", cases[i][0]);
		}
		if (!strstr(crl_error_message(&err), cases[i][1]))
			fail_msg("'%s' lacks '%s'", crl_error_message(&err), cases[i][1]);
		crl_error_clear(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_mirrors_and_prefixes),
		cmocka_unit_test(test_v1_and_empty),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests_name("registries", tests, NULL, NULL);
}
