/* SPDX-License-Identifier: Apache-2.0 */
/* The image service through the socket: a real daemon pulling from a real docker-registry on 127.0.0.1
 * (images built from busybox-static by tests/fixtures/registry.py), a basic-auth registry, and a small
 * hostile server (oversize manifest, stalled blob, bearer token flow). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "common/json.h"
#include "harness.h"

#define IMG "/runtime.v1.ImageService/"
#define CODE_OK 0
#define CODE_INVALID_ARGUMENT 3
#define CODE_UNAUTHENTICATED 16

static test_daemon_t D;
static char reg_dir[128], auth_dir[128], hostile_dir[128];
static int reg_port, auth_port, hostile_port;
static crl_json_value_t *digests; /* tag -> manifest digest, from the fixture */
static char layers_dir[256], tmp_dir[256];


static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	if ((reg_port = td_registry_start(reg_dir, NULL)) < 0 ||
	    (auth_port = td_registry_start(auth_dir, "crl:s3cret-pw")) < 0)
		return -1;
	char port[16], storage[256], *out = NULL;
	snprintf(port, sizeof(port), "%d", reg_port);
	snprintf(storage, sizeof(storage), "%s/data", reg_dir);
	const char *push[] = { "push", port, "--storage", storage, NULL };
	if (td_fixture(push, &out) != 0) {
		fprintf(stderr, "push: %s\n", out);
		return -1;
	}
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_json_parse(out, &digests, &err) < 0)
		return -1;
	free(out);
	snprintf(port, sizeof(port), "%d", auth_port);
	const char *push2[] = { "push", port, "--user", "crl:s3cret-pw", NULL };
	if (td_fixture(push2, NULL) != 0)
		return -1;
	snprintf(hostile_dir, sizeof(hostile_dir), "/tmp/crl-hostile-XXXXXX");
	if (!mkdtemp(hostile_dir))
		return -1;
	const char *h[] = { "hostile", hostile_dir, "tokuser:tokpass", NULL };
	if (td_fixture(h, &out) != 0)
		return -1;
	hostile_port = atoi(out);
	free(out);

	char extra[256];
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"/tmp/crl-regconf-%d.conf\"\npull_progress_timeout = \"2s\"\n",
		 (int)getpid());
	if (td_setup(&D, extra) < 0)
		return -1;
	char conf[2048], path[64];
	snprintf(path, sizeof(path), "/tmp/crl-regconf-%d.conf", (int)getpid());
	snprintf(conf, sizeof(conf),
		 "unqualified-search-registries = [\"127.0.0.1:%d\"]\n"
		 "[[registry]]\nlocation = \"127.0.0.1:%d\"\ninsecure = true\n"
		 "[[registry]]\nlocation = \"127.0.0.1:%d\"\ninsecure = true\n"
		 "[[registry]]\nlocation = \"127.0.0.1:%d\"\ninsecure = true\n"
		 /* reachable only through its mirror: the name does not resolve */
		 "[[registry]]\nprefix = \"registry.invalid\"\nlocation = \"registry.invalid\"\n"
		 "[[registry.mirror]]\nlocation = \"127.0.0.1:%d\"\ninsecure = true\n"
		 "[[registry]]\nprefix = \"blocked.invalid\"\nblocked = true\n",
		 reg_port, reg_port, auth_port, hostile_port, reg_port);
	td_write_file(path, conf);
	snprintf(layers_dir, sizeof(layers_dir), "%s/images/layers", D.root);
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/images/tmp", D.root);
	return td_start(&D, NULL) < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int ok = td_stop_clean(&D);
	td_cleanup(&D);
	const char *dirs[] = { reg_dir, auth_dir, hostile_dir };
	for (size_t i = 0; i < 3; i++)
		td_registry_stop(dirs[i]);
	char path[64];
	snprintf(path, sizeof(path), "/tmp/crl-regconf-%d.conf", (int)getpid());
	unlink(path);
	crl_json_value_free(digests);
	grpc_shutdown();
	return ok ? 0 : -1;
}

/* --- calls --- */

typedef struct pull_res {
	int code;
	char msg[2048];
	char id[80];
} pull_res_t;

static pull_res_t pull_as(test_daemon_t *t, const char *image, const char *user, const char *pass, const char *auth,
			  int timeout_ms)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__AuthConfig ac = RUNTIME__V1__AUTH_CONFIG__INIT;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	spec.image = (char *)image;
	req.image = &spec;
	if (user || auth) {
		ac.username = (char *)(user ? user : "");
		ac.password = (char *)(pass ? pass : "");
		ac.auth = (char *)(auth ? auth : "");
		req.auth = &ac;
	}
	cri_result_t r;
	pull_res_t out = { 0 };
	assert_int_equal(cri_call(t->client, IMG "PullImage", &req.base, &runtime__v1__pull_image_response__descriptor,
				  timeout_ms, &r),
			 0);
	out.code = r.code;
	snprintf(out.msg, sizeof(out.msg), "%s", r.message ? r.message : "");
	if (r.code == 0)
		snprintf(out.id, sizeof(out.id), "%s", ((Runtime__V1__PullImageResponse *)r.resp)->image_ref);
	cri_result_clear(&r);
	return out;
}

static pull_res_t pull(const char *image)
{
	return pull_as(&D, image, NULL, NULL, NULL, 60000);
}

static void ref(char *buf, size_t n, int port, const char *rest)
{
	snprintf(buf, n, "127.0.0.1:%d/%s", port, rest);
}

/* ImageStatus; NULL image when not found. The result must be cleared by the caller. */
static Runtime__V1__ImageStatusResponse *status(const char *name, bool verbose, cri_result_t *r)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	spec.image = (char *)name;
	req.image = &spec;
	req.verbose = verbose;
	assert_int_equal(cri_call(D.client, IMG "ImageStatus", &req.base, &runtime__v1__image_status_response__descriptor,
				  5000, r),
			 0);
	assert_int_equal(r->code, CODE_OK);
	return (Runtime__V1__ImageStatusResponse *)r->resp;
}

static int remove_image(const char *name)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__RemoveImageRequest req = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
	spec.image = (char *)name;
	req.image = &spec;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, IMG "RemoveImage", &req.base, &runtime__v1__remove_image_response__descriptor,
				  5000, &r),
			 0);
	int code = r.code;
	cri_result_clear(&r);
	return code;
}

static size_t count_entries(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls -A %s 2>/dev/null | wc -l", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p) {
		if (fscanf(p, "%zu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static bool has_tag(const Runtime__V1__Image *img, const char *tag)
{
	for (size_t i = 0; i < img->n_repo_tags; i++)
		if (strcmp(img->repo_tags[i], tag) == 0)
			return true;
	return false;
}

/* --- tests --- */

static void test_pull_plain_list_status(void **state)
{
	(void)state;
	char name[128], digest_ref[256];
	ref(name, sizeof(name), reg_port, "busybox:plain");
	pull_res_t p = pull(name);
	assert_int_equal(p.code, CODE_OK);
	assert_true(strncmp(p.id, "sha256:", 7) == 0 && strlen(p.id) == 71);

	cri_result_t r;
	Runtime__V1__ListImagesRequest lreq = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	assert_int_equal(cri_call(D.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000, &r), 0);
	Runtime__V1__ListImagesResponse *l = (Runtime__V1__ListImagesResponse *)r.resp;
	assert_int_equal(l->n_images, 1);
	assert_string_equal(l->images[0]->id, p.id);
	assert_true(has_tag(l->images[0], name));
	snprintf(digest_ref, sizeof(digest_ref), "127.0.0.1:%d/busybox@%s", reg_port,
		 crl_json_get_string(crl_json_get(digests, "plain")));
	assert_int_equal(l->images[0]->n_repo_digests, 1);
	assert_string_equal(l->images[0]->repo_digests[0], digest_ref);
	assert_true(l->images[0]->size > 500000);
	assert_null(l->images[0]->uid);
	assert_string_equal(l->images[0]->username, "");
	cri_result_clear(&r);

	/* Status by tag, id, short id, digest reference; a missing image is no error and no image. */
	const char *names[] = { name, p.id, p.id + 7, NULL, digest_ref };
	char short_id[16];
	snprintf(short_id, sizeof(short_id), "%.12s", p.id + 7);
	names[3] = short_id;
	for (size_t i = 0; i < 5; i++) {
		Runtime__V1__ImageStatusResponse *s = status(names[i], false, &r);
		if (!s->image)
			fail_msg("ImageStatus %s found nothing", names[i]);
		assert_string_equal(s->image->id, p.id);
		assert_int_equal(s->n_info, 0);
		cri_result_clear(&r);
	}
	Runtime__V1__ImageStatusResponse *s = status("127.0.0.1:1/nothing:here", false, &r);
	assert_null(s->image);
	cri_result_clear(&r);
	/* verbose: the image config as JSON */
	s = status(name, true, &r);
	assert_int_equal(s->n_info, 1);
	crl_json_value_t *doc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(s->info[0]->value, &doc, &err), 0);
	assert_string_equal(crl_json_get_string(crl_json_get(crl_json_get(doc, "imageSpec"), "architecture")), "amd64");
	crl_json_value_free(doc);
	cri_result_clear(&r);

	/* Filtered list. */
	Runtime__V1__ImageSpec fspec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__ImageFilter filter = RUNTIME__V1__IMAGE_FILTER__INIT;
	fspec.image = name;
	filter.image = &fspec;
	lreq.filter = &filter;
	assert_int_equal(cri_call(D.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000, &r), 0);
	assert_int_equal(((Runtime__V1__ListImagesResponse *)r.resp)->n_images, 1);
	cri_result_clear(&r);
	fspec.image = "127.0.0.1:1/none:x";
	assert_int_equal(cri_call(D.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000, &r), 0);
	assert_int_equal(((Runtime__V1__ListImagesResponse *)r.resp)->n_images, 0);
	cri_result_clear(&r);
}

static void test_layer_contents_and_formats(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), reg_port, "busybox:plain");
	pull_res_t plain = pull(name);
	assert_int_equal(plain.code, CODE_OK);
	/* The same content as zstd, uncompressed, Docker schema 2, by digest, and through the amd64 entry of an
	 * index: one image id (the config is the same), one unpacked layer. */
	const char *others[] = { "busybox:zstd", "busybox:tar", "busybox:docker", "busybox:multi" };
	for (size_t i = 0; i < 4; i++) {
		ref(name, sizeof(name), reg_port, others[i]);
		pull_res_t p = pull(name);
		if (p.code != 0)
			fail_msg("%s: %s", name, p.msg);
		assert_string_equal(p.id, plain.id);
	}
	char by_digest[256];
	snprintf(by_digest, sizeof(by_digest), "127.0.0.1:%d/busybox@%s", reg_port,
		 crl_json_get_string(crl_json_get(digests, "multi")));
	pull_res_t p = pull(by_digest);
	assert_int_equal(p.code, CODE_OK);
	assert_string_equal(p.id, plain.id);
	assert_int_equal(count_entries(layers_dir), 1);
	/* The arm64 image of the index is a different one. */
	ref(name, sizeof(name), reg_port, "busybox:multi-arm64");
	p = pull(name);
	assert_int_equal(p.code, CODE_OK);
	assert_string_not_equal(p.id, plain.id);
	assert_int_equal(remove_image(p.id), CODE_OK);

	/* Owners, modes, symlinks, hard links, file capabilities. */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "set -ex; L=$(dirname $(dirname $(ls %s/*/bin/busybox))); test -x $L/bin/busybox; test \"$(readlink $L/bin/true)\" = busybox; "
		 "test $(stat -c %%h $L/bin/busybox) = 2; test $(stat -c %%i $L/bin/sh) = $(stat -c %%i $L/bin/busybox); "
		 "test $(stat -c %%a $L/tmp) = 1777; test $(stat -c %%Y $L/etc/passwd) = 1700000000; "
		 "getfattr -n security.capability $L/bin/ping >/dev/null 2>&1 || "
		 "python3 -c \"import os,sys; os.getxattr(sys.argv[1], 'security.capability')\" $L/bin/ping",
		 layers_dir);
	assert_int_equal(system(cmd), 0);
}

static void test_whiteouts(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), reg_port, "busybox:whiteout");
	pull_res_t p = pull(name);
	assert_int_equal(p.code, CODE_OK);
	cri_result_t r;
	Runtime__V1__ImageStatusResponse *s = status(p.id, true, &r);
	crl_json_value_t *doc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(s->info[0]->value, &doc, &err), 0);
	const crl_json_value_t *ids = crl_json_get(crl_json_get(crl_json_get(doc, "imageSpec"), "rootfs"), "diff_ids");
	assert_int_equal(crl_json_array_len(ids), 2);
	char upper[512];
	snprintf(upper, sizeof(upper), "%s/%s", layers_dir, crl_json_get_string(crl_json_array_at(ids, 1)) + 7);
	crl_json_value_free(doc);
	cri_result_clear(&r);
	char path[600];
	struct stat st;
	snprintf(path, sizeof(path), "%s/a/gone", upper);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	snprintf(path, sizeof(path), "%s/d", upper);
	char v[8] = "";
	assert_int_equal(getxattr(path, "trusted.overlay.opaque", v, sizeof(v)), 1);
	assert_int_equal(v[0], 'y');
	snprintf(path, sizeof(path), "%s/d/new", upper);
	assert_int_equal(lstat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/d/.wh..wh..opq", upper);
	assert_int_equal(lstat(path, &st), -1);
}

static void test_users(void **state)
{
	(void)state;
	const struct {
		const char *tag;
		int64_t uid;
		const char *name;
	} cases[] = { { "busybox:user-uid", 1000, NULL }, { "busybox:user-name", -1, "nobody" }, { "busybox:user-uidgid", 1000, NULL } };
	for (size_t i = 0; i < 3; i++) {
		char name[128];
		ref(name, sizeof(name), reg_port, cases[i].tag);
		assert_int_equal(pull(name).code, CODE_OK);
		cri_result_t r;
		Runtime__V1__ImageStatusResponse *s = status(name, false, &r);
		assert_non_null(s->image);
		if (cases[i].uid >= 0) {
			assert_non_null(s->image->uid);
			assert_int_equal(s->image->uid->value, cases[i].uid);
			assert_string_equal(s->image->username, "");
		} else {
			assert_null(s->image->uid);
			assert_string_equal(s->image->username, cases[i].name);
		}
		cri_result_clear(&r);
	}
}

static void test_evil_layers(void **state)
{
	(void)state;
	size_t layers_before = count_entries(layers_dir);
	const struct {
		const char *tag;
		const char *want;
	} cases[] = {
		{ "abs", "escapes the layer" },
		{ "dotdot", "escapes the layer" },
		{ "symlink", "goes through a symlink" },
		{ "hardlink", "points outside the layer" },
		{ "hardlink-abs", "points outside the layer" },
		{ "device", "device node (b 8:0)" },
		{ "devmem", "device node (c 1:1)" },
		{ "truncated", "truncated" },
		{ "diffid", "uncompressed content has digest" },
		{ "tampered", "downloaded content has digest" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[128], tag[64];
		snprintf(tag, sizeof(tag), "evil:%s", cases[i].tag);
		ref(name, sizeof(name), reg_port, tag);
		pull_res_t p = pull(name);
		if (p.code == CODE_OK || !strstr(p.msg, cases[i].want))
			fail_msg("%s: code %d, message '%s' (want '%s')", name, p.code, p.msg, cases[i].want);
		cri_result_t r;
		assert_null(status(name, false, &r)->image);
		cri_result_clear(&r);
	}
	/* Nothing outside the store, nothing half-done inside it. */
	assert_int_equal(access("/tmp/crl-evil-abs", F_OK), -1);
	assert_int_equal(access("/tmp/crl-evil-dotdot", F_OK), -1);
	assert_int_equal(access("/tmp/crl-evil-symlink", F_OK), -1);
	assert_int_equal(count_entries(tmp_dir), 0);
	assert_int_equal(count_entries(layers_dir), layers_before);
}

static void test_hostile_server(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), hostile_port, "big:x");
	pull_res_t p = pull(name);
	assert_int_not_equal(p.code, CODE_OK);
	assert_non_null(strstr(p.msg, "larger than 4194304 bytes"));
	/* A blob that stops moving: aborted after pull_progress_timeout (2 s here). */
	ref(name, sizeof(name), hostile_port, "stall:x");
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	p = pull(name);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_not_equal(p.code, CODE_OK);
	if (!strstr(p.msg, "made no progress for 2 s"))
		fail_msg("stall: %s", p.msg);
	assert_true(b.tv_sec - a.tv_sec < 30);
	assert_int_equal(count_entries(tmp_dir), 0);
}

/* Pulls repo:tag of the hostile registry (its name into name), which must work. */
static pull_res_t pull_hostile(const char *repo_tag, char *name, size_t n)
{
	ref(name, n, hostile_port, repo_tag);
	pull_res_t p = pull(name);
	if (p.code != CODE_OK)
		fail_msg("%s: %s", name, p.msg);
	return p;
}

static void test_redirect_and_retry(void **state)
{
	(void)state;
	char name[128];
	pull_hostile("redir:x", name, sizeof(name)); /* blobs behind redirects */
	assert_int_equal(remove_image(name), CODE_OK);
	/* Two 503s in a row are retried with backoff; the pull succeeds. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "curl -sf -o /dev/null http://127.0.0.1:%d/reset-flaky || "
		 "python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d/reset-flaky')\"",
		 hostile_port, hostile_port);
	assert_int_equal(system(cmd), 0);
	pull_hostile("flaky:x", name, sizeof(name));
	assert_int_equal(remove_image(name), CODE_OK);
}

typedef struct puller {
	const char *name;
	pull_res_t res;
	const char *sock;
} puller_t;

static void *pull_thread(void *arg)
{
	puller_t *p = arg;
	test_daemon_t t = { .client = cri_client_new(p->sock) };
	p->res = pull_as(&t, p->name, NULL, NULL, NULL, 60000);
	cri_client_free(t.client);
	return NULL;
}

/* Four pulls of name at once, each on its own connection to D; every one must work. */
static void pull_four_at_once(const char *name, puller_t ps[4])
{
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		ps[i] = (puller_t){ .name = name, .sock = D.sock };
		pthread_create(&th[i], NULL, pull_thread, &ps[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		if (ps[i].res.code != CODE_OK)
			fail_msg("pull %d of %s: %s", i, name, ps[i].res.msg);
}

/* A number the hostile registry answers at path. */
static long hostile_get(const char *path)
{
	char cmd[320];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:%d%s').read().decode())\"",
		 hostile_port, path);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	long v = -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	pclose(f);
	return v;
}

/* The config comes beside the layers: the registry answers overlap's config only once its layer was asked for
 * (after 10 s otherwise, and then says so). */
static void test_config_beside_layers(void **state)
{
	(void)state;
	char name[128];
	pull_hostile("overlap:x", name, sizeof(name));
	assert_int_equal(hostile_get("/overlap"), 1);
	assert_int_equal(hostile_get("/hits/overlap"), 1);
	assert_int_equal(remove_image(name), CODE_OK);
}

/* A layer in the store is known by its compressed digest: another image of it (its own config) is pulled
 * without its blob, also after a restart (the index keeps the digests). */
static void test_layer_known_by_digest(void **state)
{
	(void)state;
	char redir[128], twin[128];
	ref(redir, sizeof(redir), hostile_port, "redir:x");
	ref(twin, sizeof(twin), hostile_port, "twin:x");
	remove_image(twin);
	remove_image(redir);
	/* Pulls of one new layer at once download it once (the others wait for it). */
	long sent = hostile_get("/hits/shared");
	puller_t ps[4];
	pull_four_at_once(redir, ps);
	assert_int_equal(hostile_get("/hits/shared"), sent + 1);
	sent++;
	pull_res_t a = ps[0].res;
	long configs = hostile_get("/hits/twin-config");
	pull_res_t b = pull_hostile("twin:x", twin, sizeof(twin));
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(hostile_get("/hits/shared"), sent);
	assert_int_equal(hostile_get("/hits/twin-config"), configs + 1);
	/* Pulled again while it is there: its config is read from the store, not asked for. */
	assert_string_equal(pull_hostile("twin:x", twin, sizeof(twin)).id, b.id);
	assert_int_equal(hostile_get("/hits/twin-config"), configs + 1);
	assert_int_equal(remove_image(twin), CODE_OK);

	/* The index says which digest each layer came as (without it a restarted daemon would fetch configs
	 * first again, for the images of an older index). */
	char index[300], *text = NULL;
	snprintf(index, sizeof(index), "%s/images/images.json", D.root);
	crl_error_t e = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, index, 16 << 20, &text, NULL, &e), 0);
	assert_non_null(strstr(text, "\"layer_digests\""));
	free(text);
	int st = td_stop(&D, SIGTERM, 15000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(td_start(&D, NULL), 0);
	pull_hostile("twin:x", twin, sizeof(twin)); /* after a restart */
	assert_int_equal(hostile_get("/hits/shared"), sent);
	cri_result_t r;
	assert_non_null(status(twin, false, &r)->image);
	cri_result_clear(&r);
	assert_int_equal(remove_image(twin), CODE_OK);

	/* An index from before the digests were kept: its layers are known by diff_id only, so configs come first
	 * and the layer is still not downloaded again. */
	st = td_stop(&D, SIGTERM, 15000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c \"import json,sys; p=sys.argv[1]; d=json.load(open(p)); "
		 "[i.pop('layer_digests', None) for i in d['images']]; json.dump(d, open(p, 'w'))\" %s",
		 index);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(td_start(&D, NULL), 0);
	pull_hostile("twin:x", twin, sizeof(twin));
	assert_int_equal(hostile_get("/hits/shared"), sent);
	assert_int_equal(remove_image(twin), CODE_OK);
	assert_int_equal(remove_image(redir), CODE_OK);
}

static void test_token_auth(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), hostile_port, "tok:x");
	pull_res_t p = pull(name);
	assert_int_equal(p.code, CODE_UNAUTHENTICATED);
	p = pull_as(&D, name, "tokuser", "wrong-secret-123", NULL, 30000);
	assert_int_equal(p.code, CODE_UNAUTHENTICATED);
	assert_null(strstr(p.msg, "wrong-secret-123"));
	p = pull_as(&D, name, "tokuser", "tokpass", NULL, 30000);
	if (p.code != CODE_OK)
		fail_msg("%s", p.msg);
	assert_int_equal(remove_image(name), CODE_OK);
	char *l = td_log(&D);
	assert_null(strstr(l, "tokpass"));
	assert_null(strstr(l, "wrong-secret-123"));
	free(l);
}

static void test_basic_auth(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), auth_port, "busybox:plain");
	pull_res_t p = pull(name);
	assert_int_equal(p.code, CODE_UNAUTHENTICATED);
	p = pull_as(&D, name, "crl", "nope-not-it", NULL, 30000);
	assert_int_equal(p.code, CODE_UNAUTHENTICATED);
	assert_null(strstr(p.msg, "nope-not-it"));
	p = pull_as(&D, name, "crl", "s3cret-pw", NULL, 30000);
	if (p.code != CODE_OK)
		fail_msg("%s", p.msg);
	assert_int_equal(remove_image(name), CODE_OK);
	/* "auth": base64 of user:password, as in a docker config.json ("crl:s3cret-pw"). */
	p = pull_as(&D, name, NULL, NULL, "Y3JsOnMzY3JldC1wdw==", 30000);
	if (p.code != CODE_OK)
		fail_msg("%s", p.msg);
	char *l = td_log(&D);
	assert_null(strstr(l, "s3cret-pw"));
	free(l);
}

static void test_mirror_search_blocked(void **state)
{
	(void)state;
	/* registry.invalid does not resolve: only its mirror can serve it; the tag keeps the name asked for. */
	pull_res_t p = pull("registry.invalid/busybox:plain");
	if (p.code != CODE_OK)
		fail_msg("%s", p.msg);
	cri_result_t r;
	Runtime__V1__ImageStatusResponse *s = status("registry.invalid/busybox:plain", false, &r);
	assert_non_null(s->image);
	assert_true(has_tag(s->image, "registry.invalid/busybox:plain"));
	cri_result_clear(&r);
	/* A short name through unqualified-search-registries. */
	p = pull("busybox:user-uid");
	if (p.code != CODE_OK)
		fail_msg("%s", p.msg);
	char full[128];
	ref(full, sizeof(full), reg_port, "busybox:user-uid");
	s = status(full, false, &r);
	assert_non_null(s->image);
	assert_string_equal(s->image->id, p.id);
	cri_result_clear(&r);
	p = pull("blocked.invalid/x:y");
	assert_int_not_equal(p.code, CODE_OK);
	assert_non_null(strstr(p.msg, "blocked"));
}

static void test_bad_requests(void **state)
{
	(void)state;
	pull_res_t p = pull("");
	assert_int_equal(p.code, CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(p.msg, "image.image"));
	p = pull("example.invalid/Upper/case");
	assert_int_equal(p.code, CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(p.msg, "Upper"));
	p = pull("127.0.0.1:1/nothing@sha256:123");
	assert_int_equal(p.code, CODE_INVALID_ARGUMENT);
	assert_int_equal(pull_as(&D, "x", NULL, NULL, "!!notbase64", 5000).code, CODE_INVALID_ARGUMENT);
	/* Nothing listens there. */
	p = pull("127.0.0.1:1/nothing:here");
	assert_int_not_equal(p.code, CODE_OK);
	assert_non_null(strstr(p.msg, "127.0.0.1:1"));
	Runtime__V1__ImageStatusRequest req = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, IMG "ImageStatus", &req.base, &runtime__v1__image_status_response__descriptor, 5000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	cri_result_clear(&r);
}

static void test_remove(void **state)
{
	(void)state;
	char a[128], b[128];
	ref(a, sizeof(a), reg_port, "busybox:plain");
	ref(b, sizeof(b), reg_port, "busybox:zstd");
	pull_res_t p = pull(a);
	assert_int_equal(pull(b).code, CODE_OK);
	/* A tag of an image with other tags: only the tag goes. */
	assert_int_equal(remove_image(b), CODE_OK);
	cri_result_t r;
	Runtime__V1__ImageStatusResponse *s = status(a, false, &r);
	assert_non_null(s->image);
	assert_false(has_tag(s->image, b));
	cri_result_clear(&r);
	/* By id: the image and its layers go (unless another image uses them). */
	assert_int_equal(remove_image(p.id), CODE_OK);
	assert_null(status(a, false, &r)->image);
	cri_result_clear(&r);
	assert_null(status(p.id, false, &r)->image);
	cri_result_clear(&r);
	/* Removing what is not there is fine. */
	assert_int_equal(remove_image(p.id), CODE_OK);
	assert_int_equal(remove_image("127.0.0.1:1/never:pulled"), CODE_OK);
	/* With every image removed, the store's thread collects every layer, through trash/ (which empties). */
	Runtime__V1__ListImagesRequest lreq = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	cri_result_t lr;
	assert_int_equal(cri_call(D.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000,
				  &lr),
			 0);
	Runtime__V1__ListImagesResponse *all = (Runtime__V1__ListImagesResponse *)lr.resp;
	for (size_t i = 0; i < all->n_images; i++)
		assert_int_equal(remove_image(all->images[i]->id), CODE_OK);
	cri_result_clear(&lr);
	char trash[300];
	snprintf(trash, sizeof(trash), "%s/images/trash", D.root);
	for (int i = 0; i < 200 && (count_entries(layers_dir) || count_entries(trash)); i++)
		usleep(50000);
	assert_int_equal(count_entries(layers_dir), 0);
	assert_int_equal(count_entries(trash), 0);
	/* Pull again works (layers were really gone or are reused). */
	assert_int_equal(pull(a).code, CODE_OK);
}

static void test_concurrent_pulls_share(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), reg_port, "busybox:user-uidgid");
	remove_image(name);
	ref(name, sizeof(name), reg_port, "busybox:whiteout");
	remove_image(name);
	puller_t ps[4];
	pull_four_at_once(name, ps);
	for (int i = 0; i < 4; i++)
		assert_string_equal(ps[i].res.id, ps[0].res.id);
	assert_int_equal(count_entries(tmp_dir), 0);
}

static void test_image_fs_info(void **state)
{
	(void)state;
	Runtime__V1__ImageFsInfoRequest req = RUNTIME__V1__IMAGE_FS_INFO_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, IMG "ImageFsInfo", &req.base, &runtime__v1__image_fs_info_response__descriptor, 5000, &r), 0);
	assert_int_equal(r.code, CODE_OK);
	Runtime__V1__ImageFsInfoResponse *f = (Runtime__V1__ImageFsInfoResponse *)r.resp;
	assert_int_equal(f->n_image_filesystems, 1);
	char want[256];
	snprintf(want, sizeof(want), "%s/images", D.root);
	assert_string_equal(f->image_filesystems[0]->fs_id->mountpoint, want);
	/* At least the busybox binary of the layers pulled so far. */
	assert_true(f->image_filesystems[0]->used_bytes->value > 1000000);
	assert_true(f->image_filesystems[0]->inodes_used->value > 10);
	assert_true(f->image_filesystems[0]->timestamp > 0);
	cri_result_clear(&r);
}

/* Own daemon: killed hard in the middle of a pull (the stalled blob), restarted. */
static void test_kill_during_pull(void **state)
{
	(void)state;
	test_daemon_t t;
	char extra[256];
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"/tmp/crl-regconf-%d.conf\"\npull_progress_timeout = \"60s\"\n",
		 (int)getpid());
	assert_int_equal(td_setup(&t, extra), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	char name[128], staging[256];
	ref(name, sizeof(name), hostile_port, "stall:x");
	snprintf(staging, sizeof(staging), "%s/images/tmp", t.root);
	/* A client waiting on the pull, in a thread (a forked child would share this process's gRPC epoll set). */
	puller_t bg = { .name = name, .sock = t.sock };
	pthread_t th;
	pthread_create(&th, NULL, pull_thread, &bg);
	assert_true(td_wait_log(&t, "pulling image", 5000));
	/* Wait until the layer is being unpacked (a staging dir exists). */
	for (int i = 0; i < 200 && count_entries(staging) == 0; i++)
		usleep(20000);
	assert_int_equal(count_entries(staging), 1);
	td_stop(&t, SIGKILL, 5000);
	pthread_join(th, NULL);
	assert_int_not_equal(bg.res.code, CODE_OK);
	/* What a power loss before the index is written leaves: a layer and a config moved into place (a pull
	 * syncs them only before it lists them), maybe short, and an atomic write's temporary file. No image lists
	 * them. */
	char layers[256], blobs[256], path[400];
	snprintf(layers, sizeof(layers), "%s/images/layers", t.root);
	snprintf(blobs, sizeof(blobs), "%s/images/blobs/sha256", t.root);
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	snprintf(path, sizeof(path), "%s/%s", layers, hex);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/short", layers, hex);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s", blobs, hex);
	assert_non_null(f = fopen(path, "we"));
	fclose(f);
	snprintf(path, sizeof(path), "%s/.%s.tmp-0123456789ab", blobs, hex);
	assert_non_null(f = fopen(path, "we"));
	fclose(f);
	int st;
	assert_int_equal(td_start(&t, NULL), 0);
	/* No partial image, no leftovers (the unlisted layer and config are gone); the pull of a good image works. */
	assert_int_equal(count_entries(staging), 0);
	snprintf(path, sizeof(path), "%s/%s", layers, hex);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s", blobs, hex);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/.%s.tmp-0123456789ab", blobs, hex);
	assert_int_equal(access(path, F_OK), -1);
	Runtime__V1__ListImagesRequest lreq = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(t.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000, &r), 0);
	assert_int_equal(((Runtime__V1__ListImagesResponse *)r.resp)->n_images, 0);
	cri_result_clear(&r);
	ref(name, sizeof(name), reg_port, "busybox:plain");
	pull_res_t p = pull_as(&t, name, NULL, NULL, NULL, 60000);
	assert_int_equal(p.code, CODE_OK);
	/* And it is there after another restart. */
	st = td_stop(&t, SIGTERM, 15000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(td_start(&t, NULL), 0);
	assert_int_equal(cri_call(t.client, IMG "ListImages", &lreq.base, &runtime__v1__list_images_response__descriptor, 5000, &r), 0);
	assert_int_equal(((Runtime__V1__ListImagesResponse *)r.resp)->n_images, 1);
	assert_string_equal(((Runtime__V1__ListImagesResponse *)r.resp)->images[0]->id, p.id);
	cri_result_clear(&r);
	st = td_stop(&t, SIGTERM, 15000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	td_cleanup(&t);
}

/* A client whose deadline passes gives up; the daemon stops that pull instead of letting it run on. */
static void test_cancelled_pull_stops(void **state)
{
	(void)state;
	char name[128];
	ref(name, sizeof(name), hostile_port, "stall:x");
	test_daemon_t t;
	char extra[256];
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"/tmp/crl-regconf-%d.conf\"\npull_progress_timeout = \"60s\"\n",
		 (int)getpid());
	assert_int_equal(td_setup(&t, extra), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	pull_res_t p = pull_as(&t, name, NULL, NULL, NULL, 1500);
	assert_int_not_equal(p.code, CODE_OK);
	assert_true(td_wait_log(&t, "cancelled", 10000));
	char staging[256];
	snprintf(staging, sizeof(staging), "%s/images/tmp", t.root);
	assert_int_equal(count_entries(staging), 0);
	int st = td_stop(&t, SIGTERM, 15000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	td_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pull_plain_list_status),
		cmocka_unit_test(test_layer_contents_and_formats),
		cmocka_unit_test(test_whiteouts),
		cmocka_unit_test(test_users),
		cmocka_unit_test(test_evil_layers),
		cmocka_unit_test(test_hostile_server),
		cmocka_unit_test(test_redirect_and_retry),
		cmocka_unit_test(test_config_beside_layers),
		cmocka_unit_test(test_layer_known_by_digest),
		cmocka_unit_test(test_token_auth),
		cmocka_unit_test(test_basic_auth),
		cmocka_unit_test(test_mirror_search_blocked),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_concurrent_pulls_share),
		cmocka_unit_test(test_image_fs_info),
		cmocka_unit_test(test_kill_during_pull),
		cmocka_unit_test(test_cancelled_pull_stops),
	};
	return cmocka_run_group_tests_name("image service", tests, group_setup, group_teardown);
}
