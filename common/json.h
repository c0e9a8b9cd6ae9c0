/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The only yajl user. A writer for building documents and a parsed tree for reading them. Strings written are
 * sanitised to valid UTF-8. */

typedef struct crl_json crl_json_t;

crl_json_t *crl_json_new(bool pretty);
void crl_json_free(crl_json_t *j);
void crl_json_object_begin(crl_json_t *j);
void crl_json_object_end(crl_json_t *j);
void crl_json_array_begin(crl_json_t *j);
void crl_json_array_end(crl_json_t *j);
void crl_json_key(crl_json_t *j, const char *key);
void crl_json_string(crl_json_t *j, const char *s);
void crl_json_int(crl_json_t *j, int64_t v);
void crl_json_bool(crl_json_t *j, bool v);
/* An object member: key and value in one call. */
void crl_json_kv_string(crl_json_t *j, const char *key, const char *s);
void crl_json_kv_int(crl_json_t *j, const char *key, int64_t v);
void crl_json_kv_bool(crl_json_t *j, const char *key, bool v);
void crl_json_null(crl_json_t *j);
/* A parsed value (below) written as it is, numbers in their original text. NULL, or a value that would take the
 * document deeper than CRL_JSON_MAX_DEPTH objects and arrays (yajl's writer's limit), fails it at crl_json_finish. */
#define CRL_JSON_MAX_DEPTH 127
typedef struct yajl_val_s crl_json_value_t;
void crl_json_value(crl_json_t *j, const crl_json_value_t *v);
/* A copy of the document (NUL-terminated) in *ret; fails when the calls did not form one complete value. Frees the
 * builder either way. A builder crl_json_new could not allocate (NULL) takes every call and fails here with ENOMEM,
 * so callers check once, at the end. */
int crl_json_finish(crl_json_t *j, char **ret, size_t *ret_len, crl_error_t *err);
/* crl_json_finish for callers with nothing to say on failure (a document built of values they hold): the
 * document, or NULL; its length in *ret_len when that is not NULL. */
char *crl_json_finish_text(crl_json_t *j, size_t *ret_len);
/* The document, finished as crl_json_finish does, written atomically to name under dirfd. */
int crl_json_save(crl_json_t *j, int dirfd, const char *name, mode_t mode, crl_error_t *err);

/* Parsed documents: a tree of values, freed with crl_json_value_free. */

int crl_json_parse(const char *text, crl_json_value_t **ret, crl_error_t *err);
void crl_json_value_free(crl_json_value_t *v);
/* NULL when v is not an object or has no such key. */
const crl_json_value_t *crl_json_get(const crl_json_value_t *v, const char *key);
/* NULL when v is not a string. */
const char *crl_json_get_string(const crl_json_value_t *v);
bool crl_json_get_int(const crl_json_value_t *v, int64_t *ret);
bool crl_json_is_object(const crl_json_value_t *v);
bool crl_json_is_array(const crl_json_value_t *v);
bool crl_json_is_null(const crl_json_value_t *v);
/* false when v is not a boolean. */
bool crl_json_get_bool(const crl_json_value_t *v, bool *ret);
/* Members of an object: their number (0 when v is not an object) and each key and value. */
size_t crl_json_object_len(const crl_json_value_t *v);
const char *crl_json_object_key(const crl_json_value_t *v, size_t i);
const crl_json_value_t *crl_json_object_value(const crl_json_value_t *v, size_t i);
/* Array length, or 0 when v is not an array. */
size_t crl_json_array_len(const crl_json_value_t *v);
const crl_json_value_t *crl_json_array_at(const crl_json_value_t *v, size_t i);
