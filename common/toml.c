/* SPDX-License-Identifier: Apache-2.0 */
#include "toml.h"
#include "toml-internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "utf8.h"

const char *crl_toml_type_name(crl_toml_type_t type)
{
	switch (type) {
	case CRL_TOML_STRING:
		return "string";
	case CRL_TOML_INTEGER:
		return "integer";
	case CRL_TOML_FLOAT:
		return "float";
	case CRL_TOML_BOOL:
		return "boolean";
	case CRL_TOML_DATETIME:
		return "date-time";
	case CRL_TOML_ARRAY:
		return "array";
	case CRL_TOML_TABLE:
		return "table";
	}
	return "unknown";
}

void crl_toml_free(crl_toml_value_t *v)
{
	if (!v)
		return;
	if (v->type == CRL_TOML_STRING || v->type == CRL_TOML_DATETIME)
		free(v->s);
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		crl_toml_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v);
}

crl_toml_value_t *crl_toml_new_value(crl_toml_type_t type, int line)
{
	crl_toml_value_t *v = calloc(1, sizeof(*v));
	if (v) {
		v->type = type;
		v->line = line;
	}
	return v;
}

static int grow(crl_toml_value_t *v)
{
	if (v->n < v->cap)
		return 0;
	size_t cap = v->cap ? v->cap * 2 : 4;
	crl_toml_value_t **items = realloc(v->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	v->items = items;
	if (v->type == CRL_TOML_TABLE) {
		char **keys = realloc(v->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		v->keys = keys;
	}
	v->cap = cap;
	return 0;
}

static crl_toml_value_t *table_find(const crl_toml_value_t *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->keys[i], key) == 0)
			return t->items[i];
	return NULL;
}

const crl_toml_value_t *crl_toml_table_get(const crl_toml_value_t *t, const char *key)
{
	if (!t || t->type != CRL_TOML_TABLE)
		return NULL;
	return table_find(t, key);
}

/* Takes ownership of v (freed on failure). */
static int table_add(parser_t *p, crl_toml_value_t *t, const char *key, crl_toml_value_t *v)
{
	char *k = strdup(key);
	if (!k || grow(t) < 0) {
		free(k);
		crl_toml_free(v);
		return crl_toml_fail(p, "out of memory");
	}
	t->keys[t->n] = k;
	t->items[t->n++] = v;
	return 0;
}

static int array_add(parser_t *p, crl_toml_value_t *a, crl_toml_value_t *v)
{
	if (grow(a) < 0) {
		crl_toml_free(v);
		return crl_toml_fail(p, "out of memory");
	}
	a->items[a->n++] = v;
	return 0;
}

static int parse_value(parser_t *p, int depth, crl_toml_value_t **ret);

static int parse_array(parser_t *p, int depth, crl_toml_value_t **ret)
{
	crl_toml_value_t *a = crl_toml_new_value(CRL_TOML_ARRAY, p->line);
	if (!a)
		return crl_toml_fail(p, "out of memory");
	p->pos++; /* [ */
	for (;;) {
		if (crl_toml_skip_ws_nl(p) < 0)
			goto err;
		if (crl_toml_peek(p) == ']') {
			p->pos++;
			break;
		}
		if (crl_toml_eof(p)) {
			crl_toml_fail(p, "unterminated array");
			goto err;
		}
		crl_toml_value_t *v = NULL;
		if (parse_value(p, depth + 1, &v) < 0)
			goto err;
		if (array_add(p, a, v) < 0)
			goto err;
		if (crl_toml_skip_ws_nl(p) < 0)
			goto err;
		if (crl_toml_peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (crl_toml_peek(p) == ']') {
			p->pos++;
			break;
		}
		crl_toml_fail(p, crl_toml_eof(p) ? "unterminated array" : "expected ',' or ']' in an array");
		goto err;
	}
	*ret = a;
	return 0;
err:
	crl_toml_free(a);
	return -EINVAL;
}

/* Walks/creates the tables named by all but the last part of a dotted key, from t. */
static int descend_dotted(parser_t *p, crl_toml_value_t *t, keypath_t *kp, unsigned extra_flags,
			  crl_toml_value_t **ret)
{
	for (size_t i = 0; i + 1 < kp->n; i++) {
		crl_toml_value_t *next = table_find(t, kp->k[i]);
		if (!next) {
			next = crl_toml_new_value(CRL_TOML_TABLE, p->line);
			if (!next)
				return crl_toml_fail(p, "out of memory");
			next->flags = T_DOTTED | extra_flags;
			if (table_add(p, t, kp->k[i], next) < 0)
				return -EINVAL;
		} else if (next->type != CRL_TOML_TABLE) {
			return crl_toml_fail(p, "key '%s' is already a %s (defined on line %d), not a table", kp->k[i],
				    crl_toml_type_name(next->type), next->line);
		} else if ((next->flags & T_INLINE) && !(extra_flags & T_INLINE)) {
			return crl_toml_fail(p, "inline table '%s' (line %d) cannot be extended", kp->k[i], next->line);
		} else if (next->flags & (T_HEADER | T_IMPLICIT)) {
			return crl_toml_fail(p, "table '%s' was defined by a header (line %d); a dotted key cannot extend it",
				    kp->k[i], next->line);
		}
		t = next;
	}
	*ret = t;
	return 0;
}

static int parse_inline_table(parser_t *p, int depth, crl_toml_value_t **ret)
{
	crl_toml_value_t *t = crl_toml_new_value(CRL_TOML_TABLE, p->line);
	if (!t)
		return crl_toml_fail(p, "out of memory");
	t->flags = T_INLINE;
	keypath_t kp = { .n = 0 };
	p->pos++; /* { */
	crl_toml_skip_ws(p);
	if (crl_toml_peek(p) == '}') {
		p->pos++;
		*ret = t;
		return 0;
	}
	for (;;) {
		if (crl_toml_parse_key(p, &kp) < 0)
			goto err;
		if (crl_toml_peek(p) != '=') {
			crl_toml_fail(p, "expected '=' after key '%s'", kp.k[kp.n - 1]);
			goto err;
		}
		p->pos++;
		crl_toml_skip_ws(p);
		crl_toml_value_t *parent = NULL;
		if (descend_dotted(p, t, &kp, T_INLINE, &parent) < 0)
			goto err;
		const char *last = kp.k[kp.n - 1];
		crl_toml_value_t *old = table_find(parent, last);
		if (old) {
			crl_toml_fail(p, "duplicate key '%s' (first defined on line %d)", last, old->line);
			goto err;
		}
		crl_toml_value_t *v = NULL;
		if (parse_value(p, depth + 1, &v) < 0)
			goto err;
		if (table_add(p, parent, last, v) < 0)
			goto err;
		crl_toml_keypath_free(&kp);
		crl_toml_skip_ws(p);
		if (crl_toml_peek(p) == ',') {
			p->pos++;
			crl_toml_skip_ws(p);
			if (crl_toml_peek(p) == '}') {
				crl_toml_fail(p, "trailing comma in an inline table");
				goto err;
			}
			continue;
		}
		if (crl_toml_peek(p) == '}') {
			p->pos++;
			break;
		}
		crl_toml_fail(p, "expected ',' or '}' in an inline table (inline tables stay on one line)");
		goto err;
	}
	*ret = t;
	return 0;
err:
	crl_toml_keypath_free(&kp);
	crl_toml_free(t);
	return -EINVAL;
}

static int parse_value(parser_t *p, int depth, crl_toml_value_t **ret)
{
	if (depth > CRL_TOML_MAX_DEPTH)
		return crl_toml_fail(p, "values nested more than %d deep", CRL_TOML_MAX_DEPTH);
	char c = crl_toml_peek(p);
	if (c == '"' || c == '\'') {
		crl_toml_value_t *v = crl_toml_new_value(CRL_TOML_STRING, p->line);
		if (!v)
			return crl_toml_fail(p, "out of memory");
		if (crl_toml_parse_string(p, &v->s) < 0) {
			free(v);
			return -EINVAL;
		}
		*ret = v;
		return 0;
	}
	if (c == '[')
		return parse_array(p, depth, ret);
	if (c == '{')
		return parse_inline_table(p, depth, ret);
	if (crl_toml_starts(p, "true") && !crl_toml_is_bare(crl_toml_peek_at(p, 4))) {
		if (!(*ret = crl_toml_new_value(CRL_TOML_BOOL, p->line)))
			return crl_toml_fail(p, "out of memory");
		(*ret)->b = true;
		p->pos += 4;
		return 0;
	}
	if (crl_toml_starts(p, "false") && !crl_toml_is_bare(crl_toml_peek_at(p, 5))) {
		if (!(*ret = crl_toml_new_value(CRL_TOML_BOOL, p->line)))
			return crl_toml_fail(p, "out of memory");
		(*ret)->b = false;
		p->pos += 5;
		return 0;
	}
	if (crl_toml_looks_like_datetime(p))
		return crl_toml_parse_datetime(p, ret);
	if (crl_toml_is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
		return crl_toml_parse_number(p, ret);
	if (crl_toml_eof(p) || crl_toml_at_newline(p))
		return crl_toml_fail(p, "expected a value");
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return crl_toml_fail(p, "unexpected '%c' where a value was expected (strings need quotes)", c);
	return crl_toml_fail(p, "unexpected byte 0x%02x where a value was expected", (unsigned char)c);
}

static int parse_keyval(parser_t *p)
{
	keypath_t kp = { .n = 0 };
	int line = p->line;
	if (crl_toml_parse_key(p, &kp) < 0)
		goto err;
	if (crl_toml_peek(p) != '=') {
		crl_toml_fail(p, "expected '=' after key '%s'", kp.k[kp.n - 1]);
		goto err;
	}
	p->pos++;
	crl_toml_skip_ws(p);
	crl_toml_value_t *parent = NULL;
	if (descend_dotted(p, p->cur, &kp, 0, &parent) < 0)
		goto err;
	const char *last = kp.k[kp.n - 1];
	crl_toml_value_t *old = table_find(parent, last);
	if (old) {
		crl_toml_fail(p, "duplicate key '%s' (first defined on line %d)", last, old->line);
		goto err;
	}
	crl_toml_value_t *v = NULL;
	if (parse_value(p, 1, &v) < 0)
		goto err;
	v->line = line;
	if (table_add(p, parent, last, v) < 0)
		goto err;
	crl_toml_keypath_free(&kp);
	return crl_toml_end_of_line(p);
err:
	crl_toml_keypath_free(&kp);
	return -EINVAL;
}

static int parse_header(parser_t *p)
{
	bool aot = crl_toml_starts(p, "[[");
	keypath_t kp = { .n = 0 };
	p->pos += aot ? 2 : 1;
	if (crl_toml_parse_key(p, &kp) < 0)
		goto err;
	if (aot ? !crl_toml_starts(p, "]]") : crl_toml_peek(p) != ']') {
		crl_toml_fail(p, "expected '%s' to close the table header", aot ? "]]" : "]");
		goto err;
	}
	p->pos += aot ? 2 : 1;
	crl_toml_value_t *t = p->root;
	for (size_t i = 0; i + 1 < kp.n; i++) {
		crl_toml_value_t *next = table_find(t, kp.k[i]);
		if (!next) {
			next = crl_toml_new_value(CRL_TOML_TABLE, p->line);
			if (!next) {
				crl_toml_fail(p, "out of memory");
				goto err;
			}
			next->flags = T_IMPLICIT;
			if (table_add(p, t, kp.k[i], next) < 0)
				goto err;
		} else if (next->type == CRL_TOML_ARRAY && (next->flags & A_TABLES)) {
			next = next->items[next->n - 1];
		} else if (next->type != CRL_TOML_TABLE) {
			crl_toml_fail(p, "key '%s' is already a %s (line %d), not a table", kp.k[i],
			     crl_toml_type_name(next->type), next->line);
			goto err;
		} else if (next->flags & T_INLINE) {
			crl_toml_fail(p, "inline table '%s' (line %d) cannot be extended", kp.k[i], next->line);
			goto err;
		}
		t = next;
	}
	const char *last = kp.k[kp.n - 1];
	crl_toml_value_t *old = table_find(t, last);
	if (aot) {
		if (!old) {
			old = crl_toml_new_value(CRL_TOML_ARRAY, p->line);
			if (!old) {
				crl_toml_fail(p, "out of memory");
				goto err;
			}
			old->flags = A_TABLES;
			if (table_add(p, t, last, old) < 0)
				goto err;
		} else if (old->type != CRL_TOML_ARRAY || !(old->flags & A_TABLES)) {
			crl_toml_fail(p, "'%s' is already a %s (line %d), not an array of tables", last,
			     crl_toml_type_name(old->type), old->line);
			goto err;
		}
		crl_toml_value_t *elem = crl_toml_new_value(CRL_TOML_TABLE, p->line);
		if (!elem) {
			crl_toml_fail(p, "out of memory");
			goto err;
		}
		elem->flags = T_HEADER;
		if (array_add(p, old, elem) < 0)
			goto err;
		p->cur = elem;
	} else {
		if (!old) {
			old = crl_toml_new_value(CRL_TOML_TABLE, p->line);
			if (!old) {
				crl_toml_fail(p, "out of memory");
				goto err;
			}
			old->flags = T_HEADER;
			if (table_add(p, t, last, old) < 0)
				goto err;
		} else if (old->type != CRL_TOML_TABLE || (old->flags & (T_HEADER | T_DOTTED | T_INLINE))) {
			crl_toml_fail(p, "table '%s' is defined twice (first on line %d)", last, old->line);
			goto err;
		} else {
			old->flags = (old->flags & ~T_IMPLICIT) | T_HEADER;
			old->line = p->line;
		}
		p->cur = old;
	}
	crl_toml_keypath_free(&kp);
	return crl_toml_end_of_line(p);
err:
	crl_toml_keypath_free(&kp);
	return -EINVAL;
}

int crl_toml_parse(const char *text, size_t len, const char *filename, crl_toml_value_t **ret, crl_error_t *err)
{
	parser_t p = { .s = text, .len = len, .line = 1, .file = filename ? filename : "<toml>", .err = err };
	if (memchr(text, '\0', len)) {
		p.line = 1;
		for (const char *c = text; c < text + len && *c; c++)
			if (*c == '\n')
				p.line++;
		return crl_toml_fail(&p, "NUL byte in the document");
	}
	if (!crl_utf8_valid(text, len)) {
		/* Report the line of the first bad byte. */
		size_t good = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i == len || text[i] == '\n') {
				if (!crl_utf8_valid(text + good, i - good))
					break;
				good = i + 1;
				p.line++;
			}
		}
		return crl_toml_fail(&p, "not valid UTF-8");
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p.pos = 3;
	p.root = crl_toml_new_value(CRL_TOML_TABLE, 1);
	if (!p.root)
		return crl_error_set(err, ENOMEM, "out of memory");
	p.root->flags = T_HEADER;
	p.cur = p.root;
	while (!crl_toml_eof(&p)) {
		crl_toml_skip_ws(&p);
		if (crl_toml_skip_comment(&p) < 0)
			goto err;
		if (crl_toml_eof(&p))
			break;
		if (crl_toml_at_newline(&p)) {
			crl_toml_eat_newline(&p);
			continue;
		}
		if (crl_toml_peek(&p) == '[') {
			if (parse_header(&p) < 0)
				goto err;
		} else if (parse_keyval(&p) < 0) {
			goto err;
		}
	}
	*ret = p.root;
	return 0;
err:
	crl_toml_free(p.root);
	return -EINVAL;
}
