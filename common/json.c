/* SPDX-License-Identifier: Apache-2.0 */
#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "cleanup.h"
#include "fs.h"
#include "utf8.h"

struct crl_json {
	yajl_gen g;
	bool failed;
	unsigned depth; /* objects and arrays open: yajl reports no incomplete document itself */
};

crl_json_t *crl_json_new(bool pretty)
{
	crl_json_t *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->g = yajl_gen_alloc(NULL);
	if (!j->g) {
		free(j);
		return NULL;
	}
	yajl_gen_config(j->g, yajl_gen_beautify, pretty ? 1 : 0);
	yajl_gen_config(j->g, yajl_gen_validate_utf8, 1);
	return j;
}

void crl_json_free(crl_json_t *j)
{
	if (!j)
		return;
	yajl_gen_free(j->g);
	free(j);
}

static void check(crl_json_t *j, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		j->failed = true;
}

void crl_json_object_begin(crl_json_t *j)
{
	if (j) {
		check(j, yajl_gen_map_open(j->g));
		j->depth++;
	}
}

void crl_json_object_end(crl_json_t *j)
{
	if (j) {
		check(j, yajl_gen_map_close(j->g)); /* yajl fails a close with nothing open */
		j->depth -= j->depth > 0;
	}
}

void crl_json_array_begin(crl_json_t *j)
{
	if (j) {
		check(j, yajl_gen_array_open(j->g));
		j->depth++;
	}
}

void crl_json_array_end(crl_json_t *j)
{
	if (j) {
		check(j, yajl_gen_array_close(j->g)); /* yajl fails a close with nothing open */
		j->depth -= j->depth > 0;
	}
}

void crl_json_string(crl_json_t *j, const char *s)
{
	if (!j)
		return;
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (crl_utf8_valid(s, len)) {
		check(j, yajl_gen_string(j->g, (const unsigned char *)s, len));
		return;
	}
	_cleanup_free_ char *clean = malloc(3 * len + 1);
	if (!clean) {
		j->failed = true;
		return;
	}
	size_t n = crl_utf8_sanitize(s, len, clean);
	check(j, yajl_gen_string(j->g, (const unsigned char *)clean, n));
}

void crl_json_key(crl_json_t *j, const char *key)
{
	crl_json_string(j, key);
}

void crl_json_int(crl_json_t *j, int64_t v)
{
	if (j)
		check(j, yajl_gen_integer(j->g, v));
}

void crl_json_bool(crl_json_t *j, bool v)
{
	if (j)
		check(j, yajl_gen_bool(j->g, v));
}

void crl_json_null(crl_json_t *j)
{
	if (j)
		check(j, yajl_gen_null(j->g));
}

_Static_assert(CRL_JSON_MAX_DEPTH < YAJL_MAX_DEPTH, "yajl_gen fails at YAJL_MAX_DEPTH levels");

static void write_value(crl_json_t *j, const crl_json_value_t *v)
{
	/* The bound also keeps this recursion short. */
	bool container = v && (v->type == yajl_t_object || v->type == yajl_t_array);
	if (!v || (container && j->depth >= CRL_JSON_MAX_DEPTH)) {
		j->failed = true;
		return;
	}
	switch (v->type) {
	case yajl_t_string:
		crl_json_string(j, v->u.string);
		break;
	case yajl_t_number:
		check(j, yajl_gen_number(j->g, v->u.number.r, strlen(v->u.number.r)));
		break;
	case yajl_t_object:
		crl_json_object_begin(j);
		for (size_t i = 0; i < v->u.object.len; i++) {
			crl_json_key(j, v->u.object.keys[i]);
			write_value(j, v->u.object.values[i]);
		}
		crl_json_object_end(j);
		break;
	case yajl_t_array:
		crl_json_array_begin(j);
		for (size_t i = 0; i < v->u.array.len; i++)
			write_value(j, v->u.array.values[i]);
		crl_json_array_end(j);
		break;
	case yajl_t_true:
	case yajl_t_false:
		crl_json_bool(j, v->type == yajl_t_true);
		break;
	case yajl_t_null:
		crl_json_null(j);
		break;
	default:
		j->failed = true;
	}
}

void crl_json_value(crl_json_t *j, const crl_json_value_t *v)
{
	if (j)
		write_value(j, v);
}

int crl_json_finish(crl_json_t *j, char **ret, size_t *ret_len, crl_error_t *err)
{
	const unsigned char *buf;
	size_t len;
	int r = 0;
	char *s = NULL;
	if (!j)
		r = crl_error_set(err, ENOMEM, "out of memory");
	else if (j->failed)
		r = crl_error_set(err, EINVAL, "JSON document was not built correctly");
	else if (j->depth > 0 || yajl_gen_get_buf(j->g, &buf, &len) != yajl_gen_status_ok || len == 0)
		r = crl_error_set(err, EINVAL, "JSON document is incomplete");
	else if (!(s = malloc(len + 1)))
		r = crl_error_set(err, ENOMEM, "out of memory");
	if (s) {
		memcpy(s, buf, len);
		s[len] = '\0';
		*ret = s;
		if (ret_len)
			*ret_len = len;
	}
	crl_json_free(j);
	return r;
}

char *crl_json_finish_text(crl_json_t *j, size_t *ret_len)
{
	char *out = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_json_finish(j, &out, ret_len, &e) < 0) {
		crl_error_clear(&e);
		return NULL;
	}
	return out;
}

int crl_json_save(crl_json_t *j, int dirfd, const char *name, mode_t mode, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = crl_json_finish(j, &text, &len, err);
	return r < 0 ? r : crl_fs_write_atomic(dirfd, name, text, len, mode, err);
}

int crl_json_parse(const char *text, crl_json_value_t **ret, crl_error_t *err)
{
	char ebuf[256] = "";
	yajl_val v = yajl_tree_parse(text, ebuf, sizeof(ebuf));
	if (!v) {
		/* yajl's message spans lines and quotes the input; keep its first line. */
		char *nl = strchr(ebuf, '\n');
		if (nl)
			*nl = '\0';
		return crl_error_set(err, EINVAL, "invalid JSON: %s", ebuf[0] ? ebuf : "parse error");
	}
	*ret = v;
	return 0;
}

void crl_json_value_free(crl_json_value_t *v)
{
	if (v)
		yajl_tree_free(v);
}

const crl_json_value_t *crl_json_get(const crl_json_value_t *v, const char *key)
{
	if (!v || !YAJL_IS_OBJECT(v))
		return NULL;
	for (size_t i = 0; i < v->u.object.len; i++)
		if (strcmp(v->u.object.keys[i], key) == 0)
			return v->u.object.values[i];
	return NULL;
}

const char *crl_json_get_string(const crl_json_value_t *v)
{
	return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

bool crl_json_get_int(const crl_json_value_t *v, int64_t *ret)
{
	if (!v || !YAJL_IS_INTEGER(v))
		return false;
	*ret = YAJL_GET_INTEGER(v);
	return true;
}

bool crl_json_is_object(const crl_json_value_t *v)
{
	return v && YAJL_IS_OBJECT(v);
}

bool crl_json_is_array(const crl_json_value_t *v)
{
	return v && YAJL_IS_ARRAY(v);
}

bool crl_json_is_null(const crl_json_value_t *v)
{
	return v && YAJL_IS_NULL(v);
}

bool crl_json_get_bool(const crl_json_value_t *v, bool *ret)
{
	if (!v || (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)))
		return false;
	*ret = YAJL_IS_TRUE(v);
	return true;
}

size_t crl_json_object_len(const crl_json_value_t *v)
{
	return v && YAJL_IS_OBJECT(v) ? v->u.object.len : 0;
}

const char *crl_json_object_key(const crl_json_value_t *v, size_t i)
{
	return i < crl_json_object_len(v) ? v->u.object.keys[i] : NULL;
}

const crl_json_value_t *crl_json_object_value(const crl_json_value_t *v, size_t i)
{
	return i < crl_json_object_len(v) ? v->u.object.values[i] : NULL;
}

size_t crl_json_array_len(const crl_json_value_t *v)
{
	return v && YAJL_IS_ARRAY(v) ? v->u.array.len : 0;
}

const crl_json_value_t *crl_json_array_at(const crl_json_value_t *v, size_t i)
{
	if (!v || !YAJL_IS_ARRAY(v) || i >= v->u.array.len)
		return NULL;
	return v->u.array.values[i];
}

void crl_json_kv_string(crl_json_t *j, const char *key, const char *s)
{
	crl_json_key(j, key);
	crl_json_string(j, s);
}

void crl_json_kv_int(crl_json_t *j, const char *key, int64_t v)
{
	crl_json_key(j, key);
	crl_json_int(j, v);
}

void crl_json_kv_bool(crl_json_t *j, const char *key, bool v)
{
	crl_json_key(j, key);
	crl_json_bool(j, v);
}
