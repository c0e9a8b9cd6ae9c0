/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/state.h"
#include "server/store.h"

static int freed;

static void obj_free(srv_obj_t *o)
{
	freed++;
	free(o);
}

static srv_obj_t *obj(const char *id)
{
	srv_obj_t *o = calloc(1, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", id);
	atomic_init(&o->refs, 1);
	o->free = obj_free;
	return o;
}

#define A "aaaa000000000000000000000000000000000000000000000000000000000001"
#define B "aaaa000000000000000000000000000000000000000000000000000000000002"
#define C "bbbb000000000000000000000000000000000000000000000000000000000003"

static void test_prefix_lookup(void **state)
{
	(void)state;
	srv_store_t *s = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_store_new("pod", "pod_sandbox_id", &s, &err), 0);
	srv_obj_t *a = obj(A), *b = obj(B), *c = obj(C);
	assert_int_equal(srv_store_add(s, c, &err), 0);
	assert_int_equal(srv_store_add(s, a, &err), 0);
	assert_int_equal(srv_store_add(s, b, &err), 0);
	assert_int_equal(srv_store_add(s, a, &err), -EEXIST);
	crl_error_clear(&err);
	srv_obj_t *got = NULL;
	/* Full id, unique prefix. */
	assert_int_equal(srv_store_get(s, A, &got, &err), 0);
	assert_ptr_equal(got, a);
	srv_obj_unref(got);
	assert_int_equal(srv_store_get(s, "bb", &got, &err), 0);
	assert_ptr_equal(got, c);
	srv_obj_unref(got);
	/* Ambiguous: both candidates named. */
	assert_int_equal(srv_store_get(s, "aaaa", &got, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), A));
	assert_non_null(strstr(crl_error_message(&err), B));
	crl_error_clear(&err);
	assert_int_equal(srv_store_get(s, "cc", &got, &err), -ENOENT);
	crl_error_clear(&err);
	assert_int_equal(srv_store_get(s, "", &got, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), "pod_sandbox_id is required"));
	crl_error_clear(&err);
	assert_int_equal(srv_store_get(s, A "0", &got, &err), -ENOENT);
	crl_error_clear(&err);
	srv_obj_t **all = NULL;
	size_t n = 0;
	assert_int_equal(srv_store_list(s, &all, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(all[0], a); /* sorted by id */
	assert_ptr_equal(all[2], c);
	srv_store_list_free(all, n);
	/* Removed: no longer found; freed once its last reference goes. */
	assert_true(srv_store_remove(s, b));
	assert_false(srv_store_remove(s, b));
	assert_int_equal(srv_store_get(s, "aaaa", &got, &err), 0);
	assert_ptr_equal(got, a);
	srv_obj_unref(got);
	assert_int_equal(srv_store_count(s), 2);
	freed = 0;
	srv_obj_unref(b);
	assert_int_equal(freed, 1);
	srv_obj_unref(a);
	srv_obj_unref(c);
	srv_store_free(s);
	assert_int_equal(freed, 3);
}

static void test_names(void **state)
{
	(void)state;
	srv_store_t *s = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_store_new("pod", "pod_sandbox_id", &s, &err), 0);
	assert_int_equal(srv_store_reserve(s, "web_default_u1_0", A, &err), 0);
	/* Reserving again for the same id is fine; for another id it names the holder. */
	assert_int_equal(srv_store_reserve(s, "web_default_u1_0", A, &err), 0);
	assert_int_equal(srv_store_reserve(s, "web_default_u1_0", B, &err), -EEXIST);
	assert_non_null(strstr(crl_error_message(&err), A));
	crl_error_clear(&err);
	/* Only the holder releases it. */
	srv_store_release(s, "web_default_u1_0", B);
	assert_int_equal(srv_store_reserve(s, "web_default_u1_0", B, &err), -EEXIST);
	crl_error_clear(&err);
	srv_store_release(s, "web_default_u1_0", A);
	assert_int_equal(srv_store_reserve(s, "web_default_u1_0", B, &err), 0);
	srv_store_free(s);
}

/* Insert reserves and adds, leaving nothing when either fails; remove releases the name. */
static void test_insert_remove(void **state)
{
	(void)state;
	srv_store_t *s = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_store_new("pod", "pod_sandbox_id", &s, &err), 0);
	srv_obj_t *a = obj(A), *b = obj(B), *a2 = obj(A);
	a->name = "web";
	b->name = "web";
	a2->name = "other";
	assert_int_equal(srv_store_insert(s, a, &err), 0);
	assert_int_equal(srv_store_insert(s, b, &err), -EEXIST); /* the name */
	crl_error_clear(&err);
	assert_int_equal(srv_store_count(s), 1);
	assert_int_equal(srv_store_insert(s, a2, &err), -EEXIST); /* the id: its name reservation is undone */
	crl_error_clear(&err);
	assert_int_equal(srv_store_reserve(s, "other", B, &err), 0);
	srv_store_release(s, "other", B);
	assert_true(srv_store_remove(s, a));
	assert_int_equal(srv_store_count(s), 0);
	assert_int_equal(srv_store_reserve(s, "web", B, &err), 0);
	srv_obj_unref(a);
	srv_obj_unref(b);
	srv_obj_unref(a2);
	srv_store_free(s);
}

static void test_new_ids(void **state)
{
	(void)state;
	srv_store_t *s = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_store_new("pod", "pod_sandbox_id", &s, &err), 0);
	for (int i = 0; i < 200; i++) {
		char id[SRV_ID_LEN + 1];
		srv_store_new_id(s, id);
		assert_true(srv_id_valid(id));
		srv_obj_t *o = obj(id);
		assert_int_equal(srv_store_add(s, o, &err), 0);
		srv_obj_unref(o);
	}
	assert_int_equal(srv_store_count(s), 200);
	assert_false(srv_id_valid("abc"));
	assert_false(srv_id_valid("AAAA000000000000000000000000000000000000000000000000000000000001"));
	srv_store_free(s);
}

/* Records: written and read back with their version checked; one larger than a restart reads is never written. */
static void test_records(void **state)
{
	(void)state;
	char dir[] = "/tmp/crl-records-XXXXXX";
	assert_non_null(mkdtemp(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	crl_error_t err = CRL_ERROR_INIT;
	char *name = srv_record_name(A), id[SRV_ID_LEN + 1];
	assert_string_equal(name, A ".json");
	assert_true(srv_record_id(name, id));
	assert_string_equal(id, A);
	assert_false(srv_record_id(A ".json.tmp", id));
	char hidden[sizeof(A ".json")] = A ".json";
	hidden[0] = '.'; /* a temporary file's name */
	assert_false(srv_record_id(hidden, id));
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", 3);
	crl_json_kv_string(j, "dir", "/run/x");
	crl_json_kv_string(j, "empty", "");
	crl_json_object_end(j);
	assert_int_equal(srv_record_write(fd, name, j, true, &err), 0);
	crl_json_value_t *doc = NULL;
	assert_int_equal(srv_record_read(fd, name, 3, &doc, &err), 0);
	char *v = srv_record_dup(doc, "dir");
	assert_string_equal(v, "/run/x");
	free(v);
	assert_null(srv_record_dup(doc, "empty"));
	assert_null(srv_record_dup(doc, "absent"));
	crl_json_value_free(doc);
	assert_int_equal(srv_record_read(fd, name, 4, &doc, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), "version 3"));
	crl_error_clear(&err);
	/* Too large: refused, the record on disk as it was. */
	char *big = malloc(SRV_RECORD_MAX_BYTES + 1);
	memset(big, 'x', SRV_RECORD_MAX_BYTES);
	big[SRV_RECORD_MAX_BYTES] = '\0';
	j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", 3);
	crl_json_kv_string(j, "dir", big);
	crl_json_object_end(j);
	free(big);
	assert_int_equal(srv_record_write(fd, name, j, false, &err), -EFBIG);
	assert_non_null(strstr(crl_error_message(&err), "a restart reads"));
	crl_error_clear(&err);
	assert_int_equal(srv_record_read(fd, name, 3, &doc, &err), 0);
	crl_json_value_free(doc);
	unlinkat(fd, name, 0);
	free(name);
	close(fd);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_lookup),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_insert_remove),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_new_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
