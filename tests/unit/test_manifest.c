/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image/auth.h"
#include "image/manifest.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

static const img_platform_t amd64 = { "linux", "amd64", "" };
static const img_platform_t arm64 = { "linux", "arm64", "v8" };
static const img_platform_t armv7 = { "linux", "arm", "v7" };

static img_manifest_t *parse(const char *text, const char *mt, const img_platform_t *p)
{
	img_manifest_t *m = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (img_manifest_parse(text, strlen(text), mt, p, &m, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	return m;
}

static int parse_fail(const char *text, const img_platform_t *p, const char *want)
{
	img_manifest_t *m = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int r = img_manifest_parse(text, strlen(text), "", p, &m, &err);
	if (r == 0) {
		img_manifest_free(m);
		fail_msg("parsed: %s", text);
	}
	if (!strstr(crl_error_message(&err), want))
		fail_msg("'%s' lacks '%s'", crl_error_message(&err), want);
	crl_error_clear(&err);
	return r;
}

static const char index_json[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DA "\",\"size\":10,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DB "\",\"size\":11,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DC "\",\"size\":12,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DD "\",\"size\":13,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DA "\",\"size\":14,"
	"\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}}]}";

static void test_index_platform_choice(void **state)
{
	(void)state;
	img_manifest_t *m = parse(index_json, "", &amd64);
	assert_true(m->is_index);
	assert_string_equal(m->chosen.digest, DD);
	img_manifest_free(m);
	/* The exact variant beats an entry without one. */
	m = parse(index_json, "", &arm64);
	assert_string_equal(m->chosen.digest, DC);
	assert_int_equal(m->chosen.size, 12);
	img_manifest_free(m);
	parse_fail(index_json, &armv7, "no image for linux/arm/v7 in the index (it has linux/arm/v6, linux/arm64");
	/* The host platform is one of the known ones. */
	img_platform_t host;
	img_platform_host(&host);
	assert_string_equal(host.os, "linux");
	assert_true(strlen(host.arch) > 0);
}

static void test_manifest_layers(void **state)
{
	(void)state;
	const char *doc = "{\"schemaVersion\":2,\"mediaType\":\"" IMG_MT_DOCKER_MANIFEST "\","
			  "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" DA "\",\"size\":100},"
			  "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" DB "\",\"size\":5},"
			  "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" DC "\",\"size\":6},"
			  "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" DD "\",\"size\":7}]}";
	img_manifest_t *m = parse(doc, "", &amd64);
	assert_false(m->is_index);
	assert_string_equal(m->config.digest, DA);
	assert_int_equal(m->n_layers, 3);
	assert_int_equal(m->layers[0].compression, IMG_COMP_GZIP);
	assert_int_equal(m->layers[1].compression, IMG_COMP_ZSTD);
	assert_int_equal(m->layers[2].compression, IMG_COMP_NONE);
	assert_int_equal(m->layers[2].size, 7);
	img_manifest_free(m);
}

static void test_manifest_errors(void **state)
{
	(void)state;
	parse_fail("{\"schemaVersion\":1}", &amd64, "schemaVersion 1 is not supported");
	parse_fail("[1]", &amd64, "not a JSON object");
	parse_fail("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha512:ab\",\"size\":1},\"layers\":[]}", &amd64,
		   "unsupported digest");
	parse_fail("{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA "\"},\"layers\":[]}", &amd64, "size");
	parse_fail("{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\"digest\":\"" DB "\",\"size\":1}]}",
		   &amd64, "foreign layers");
	parse_fail("{\"schemaVersion\":2,\"mediaType\":\"application/x-weird\"}", &amd64, "unsupported manifest media type");
	parse_fail("{not json", &amd64, "invalid JSON");
	/* Size bound. */
	size_t big = IMG_MANIFEST_MAX_BYTES + 1;
	char *huge = malloc(big + 1);
	memset(huge, ' ', big);
	huge[big] = '\0';
	img_manifest_t *m = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_manifest_parse(huge, big, "", &amd64, &m, &err), -EFBIG);
	crl_error_clear(&err);
	free(huge);
	/* Too many layers. */
	char *many = malloc(64 * 1024);
	size_t o = (size_t)sprintf(many, "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA "\",\"size\":1},\"layers\":[");
	for (int i = 0; i < IMG_MAX_LAYERS + 1; i++)
		o += (size_t)sprintf(many + o, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" DB "\",\"size\":1}", i ? "," : "");
	strcpy(many + o, "]}");
	parse_fail(many, &amd64, "more than the limit of 256");
	free(many);
}

static void test_config_and_user(void **state)
{
	(void)state;
	const char *doc = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"User\":\"1000:50\"},"
			  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DA "\",\"" DB "\"]}}";
	img_config_t *c = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_config_parse(doc, strlen(doc), &c, &err), 0);
	assert_string_equal(c->user, "1000:50");
	assert_int_equal(c->n_diff_ids, 2);
	assert_string_equal(c->diff_ids[1], DB);
	img_config_free(c);
	int64_t uid = -1;
	const char *name;
	size_t nl;
	assert_true(img_user_uid("1000:50", &uid, &name, &nl));
	assert_int_equal(uid, 1000);
	assert_true(img_user_uid("0", &uid, &name, &nl));
	assert_int_equal(uid, 0);
	assert_false(img_user_uid("nobody:nogroup", &uid, &name, &nl));
	assert_int_equal(nl, 6);
	assert_false(img_user_uid("", &uid, &name, &nl));
	assert_false(img_user_uid("99999999999", &uid, &name, &nl));
	const char *bad = "{\"rootfs\":{\"diff_ids\":[\"md5:1\"]}}";
	assert_true(img_config_parse(bad, strlen(bad), &c, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "diff_id 0"));
	crl_error_clear(&err);
}

static void test_challenges(void **state)
{
	(void)state;
	img_challenge_t c;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(img_challenge_parse("Bearer realm=\"https://auth.example/token\",service=\"registry.example\","
					     "scope=\"repository:library/busybox:pull\"",
					     &c, &err),
			 0);
	assert_int_equal(c.scheme, IMG_AUTH_BEARER);
	assert_string_equal(c.realm, "https://auth.example/token");
	assert_string_equal(c.service, "registry.example");
	assert_string_equal(c.scope, "repository:library/busybox:pull");
	img_challenge_clear(&c);
	assert_int_equal(img_challenge_parse("basic realm=\"Registry \\\"x\\\" Realm\"", &c, &err), 0);
	assert_int_equal(c.scheme, IMG_AUTH_BASIC);
	assert_string_equal(c.realm, "Registry \"x\" Realm");
	img_challenge_clear(&c);
	assert_int_equal(img_challenge_parse("BEARER  realm=https://a/t , scope=x", &c, &err), 0);
	assert_string_equal(c.realm, "https://a/t");
	assert_string_equal(c.scope, "x");
	img_challenge_clear(&c);
	assert_true(img_challenge_parse("Negotiate abc", &c, &err) < 0);
	crl_error_clear(&err);
	assert_true(img_challenge_parse("Bearer service=\"x\"", &c, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "without a realm"));
	crl_error_clear(&err);
	assert_true(img_challenge_parse("Bearer realm=\"open", &c, &err) < 0);
	crl_error_clear(&err);
}

static void test_base64(void **state)
{
	(void)state;
	const char *cases[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "user:pa:ss", "dXNlcjpwYTpzcw==" } };
	for (size_t i = 0; i < 5; i++) {
		char *e = crl_base64_encode(cases[i][0], strlen(cases[i][0]));
		assert_string_equal(e, cases[i][1]);
		free(e);
		char *d = NULL;
		size_t n = 0;
		assert_int_equal(crl_base64_decode(cases[i][1], &d, &n), 0);
		assert_int_equal(n, strlen(cases[i][0]));
		assert_string_equal(d, cases[i][0]);
		free(d);
	}
	char *d = NULL;
	assert_int_equal(crl_base64_decode("a$b=", &d, NULL), -EINVAL);
	assert_int_equal(crl_base64_decode("abcde", &d, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_platform_choice),
		cmocka_unit_test(test_manifest_layers),
		cmocka_unit_test(test_manifest_errors),
		cmocka_unit_test(test_config_and_user),
		cmocka_unit_test(test_challenges),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
