/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the TOML parser: what toml.c (values, tables, the document's structure) and toml_lex.c (characters,
 * strings, keys, numbers, date-times) share. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "toml.h"

/* Table flags: how a table came to exist decides whether it may be defined (again) later. */
#define T_HEADER 1u  /* defined by a [header] */
#define T_IMPLICIT 2u /* created as the parent of a header */
#define T_DOTTED 4u  /* created by a dotted key */
#define T_INLINE 8u  /* an inline table: frozen once closed */
#define A_TABLES 16u /* an array of tables, grown by [[header]] */

typedef struct parser {
	const char *s;
	size_t len, pos;
	int line;
	const char *file;
	crl_error_t *err;
	crl_toml_value_t *root;
	crl_toml_value_t *cur;
} parser_t;

typedef struct strbuf {
	char *p;
	size_t n, cap;
} strbuf_t;

typedef struct keypath {
	char *k[CRL_TOML_MAX_DEPTH];
	size_t n;
} keypath_t;

/* toml_lex.c. An error at the current line of the file ("file:line: message"), EINVAL. */
int crl_toml_fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool crl_toml_eof(const parser_t *p);
char crl_toml_peek(const parser_t *p);
char crl_toml_peek_at(const parser_t *p, size_t off);
bool crl_toml_starts(const parser_t *p, const char *lit);
void crl_toml_skip_ws(parser_t *p);
bool crl_toml_at_newline(const parser_t *p);
void crl_toml_eat_newline(parser_t *p);
int crl_toml_skip_comment(parser_t *p);
int crl_toml_skip_ws_nl(parser_t *p);
int crl_toml_end_of_line(parser_t *p);
int crl_toml_parse_string(parser_t *p, char **ret);
bool crl_toml_is_bare(char c);
void crl_toml_keypath_free(keypath_t *kp);
int crl_toml_parse_key(parser_t *p, keypath_t *kp);
bool crl_toml_is_digit(char c);
bool crl_toml_looks_like_datetime(const parser_t *p);
int crl_toml_parse_datetime(parser_t *p, crl_toml_value_t **ret);
int crl_toml_parse_number(parser_t *p, crl_toml_value_t **ret);
/* toml.c. */
crl_toml_value_t *crl_toml_new_value(crl_toml_type_t type, int line);
