/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A TOML 1.0 parser into a tree. Every value remembers the line it was defined on so that the consumer (which
 * knows the schema) can report "file:line: message" for unknown keys and wrong types. Date-times are kept as
 * their text. Errors name the file and line. Nesting of arrays and inline tables is limited to
 * CRL_TOML_MAX_DEPTH. */

#define CRL_TOML_MAX_DEPTH 64

typedef enum crl_toml_type {
	CRL_TOML_STRING = 1,
	CRL_TOML_INTEGER,
	CRL_TOML_FLOAT,
	CRL_TOML_BOOL,
	CRL_TOML_DATETIME,
	CRL_TOML_ARRAY,
	CRL_TOML_TABLE,
} crl_toml_type_t;

typedef struct crl_toml_value crl_toml_value_t;

struct crl_toml_value {
	crl_toml_type_t type;
	int line;
	unsigned flags; /* parser bookkeeping */
	union {
		char *s; /* STRING, DATETIME */
		int64_t i;
		double f;
		bool b;
	};
	/* ARRAY: items[0..n); TABLE: keys[i] -> items[i], in document order. */
	size_t n, cap;
	char **keys;
	crl_toml_value_t **items;
};

int crl_toml_parse(const char *text, size_t len, const char *filename, crl_toml_value_t **ret, crl_error_t *err);
void crl_toml_free(crl_toml_value_t *v);
/* NULL when t is not a table or lacks key. */
const crl_toml_value_t *crl_toml_table_get(const crl_toml_value_t *t, const char *key);
const char *crl_toml_type_name(crl_toml_type_t type);
