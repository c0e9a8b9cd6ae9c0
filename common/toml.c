/* SPDX-License-Identifier: Apache-2.0 */
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "utf8.h"

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

static int fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return crl_error_set(p->err, EINVAL, "%s:%d: %s", p->file, p->line, msg);
}

static int sb_put(strbuf_t *b, const char *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 32;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

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

static crl_toml_value_t *new_value(crl_toml_type_t type, int line)
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
		return fail(p, "out of memory");
	}
	t->keys[t->n] = k;
	t->items[t->n++] = v;
	return 0;
}

static int array_add(parser_t *p, crl_toml_value_t *a, crl_toml_value_t *v)
{
	if (grow(a) < 0) {
		crl_toml_free(v);
		return fail(p, "out of memory");
	}
	a->items[a->n++] = v;
	return 0;
}

static bool eof(const parser_t *p)
{
	return p->pos >= p->len;
}

static char peek(const parser_t *p)
{
	return eof(p) ? '\0' : p->s[p->pos];
}

static char peek_at(const parser_t *p, size_t off)
{
	return p->pos + off >= p->len ? '\0' : p->s[p->pos + off];
}

static bool starts(const parser_t *p, const char *lit)
{
	size_t n = strlen(lit);
	return p->pos + n <= p->len && memcmp(p->s + p->pos, lit, n) == 0;
}

static void skip_ws(parser_t *p)
{
	while (!eof(p) && (peek(p) == ' ' || peek(p) == '\t'))
		p->pos++;
}

static bool at_newline(const parser_t *p)
{
	return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

static void eat_newline(parser_t *p)
{
	if (peek(p) == '\r')
		p->pos++;
	p->pos++;
	p->line++;
}

static int skip_comment(parser_t *p)
{
	if (peek(p) != '#')
		return 0;
	while (!eof(p) && !at_newline(p)) {
		unsigned char c = (unsigned char)peek(p);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, "control character 0x%02x in a comment", c);
		p->pos++;
	}
	return 0;
}

/* Whitespace, comments and newlines: what may stand between array elements. */
static int skip_ws_nl(parser_t *p)
{
	for (;;) {
		skip_ws(p);
		if (skip_comment(p) < 0)
			return -EINVAL;
		if (at_newline(p))
			eat_newline(p);
		else
			return 0;
	}
}

/* After a key/value pair or a header: only whitespace and a comment before the end of the line. */
static int end_of_line(parser_t *p)
{
	skip_ws(p);
	if (skip_comment(p) < 0)
		return -EINVAL;
	if (eof(p))
		return 0;
	if (!at_newline(p)) {
		unsigned char c = (unsigned char)peek(p);
		if (c == '\r')
			return fail(p, "a carriage return must be followed by a line feed");
		return fail(p, "unexpected '%c' after a value; expected the end of the line", c);
	}
	eat_newline(p);
	return 0;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
	if (cp < 0x80)
		out[(*n)++] = (char)cp;
	else if (cp < 0x800) {
		out[(*n)++] = (char)(0xC0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xE0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*n)++] = (char)(0xF0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*n)++] = (char)(0x80 | (cp & 0x3F));
	}
}

static int parse_escape(parser_t *p, strbuf_t *b)
{
	p->pos++; /* backslash */
	char c = peek(p);
	const char *rep = NULL;
	switch (c) {
	case 'b': rep = "\b"; break;
	case 't': rep = "\t"; break;
	case 'n': rep = "\n"; break;
	case 'f': rep = "\f"; break;
	case 'r': rep = "\r"; break;
	case 'e': rep = "\x1b"; break;
	case '"': rep = "\""; break;
	case '\\': rep = "\\"; break;
	case 'u':
	case 'U': {
		int digits = c == 'u' ? 4 : 8;
		uint32_t cp = 0;
		p->pos++;
		for (int i = 0; i < digits; i++) {
			char h = peek(p);
			int d;
			if (h >= '0' && h <= '9')
				d = h - '0';
			else if (h >= 'a' && h <= 'f')
				d = h - 'a' + 10;
			else if (h >= 'A' && h <= 'F')
				d = h - 'A' + 10;
			else
				return fail(p, "\\%c escape needs %d hexadecimal digits", c, digits);
			cp = cp * 16 + (uint32_t)d;
			p->pos++;
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return fail(p, "\\%c escape names U+%X, which is not a Unicode scalar value", c, cp);
		char out[4];
		size_t n = 0;
		put_utf8(out, &n, cp);
		return sb_put(b, out, n) < 0 ? fail(p, "out of memory") : 0;
	}
	default:
		if (c >= 0x20 && c < 0x7f)
			return fail(p, "unknown escape sequence \\%c", c);
		return fail(p, "unknown escape sequence");
	}
	p->pos++;
	return sb_put(b, rep, 1) < 0 ? fail(p, "out of memory") : 0;
}

static int check_string_char(parser_t *p, unsigned char c)
{
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return fail(p, "control character 0x%02x in a string (escape it)", c);
	return 0;
}

/* Basic ("...") and literal ('...') strings, single- and multi-line. Leaves the result in *ret. */
static int parse_string(parser_t *p, char **ret)
{
	char q = peek(p);
	bool multi = (q == '"' && starts(p, "\"\"\"")) || (q == '\'' && starts(p, "'''"));
	bool basic = q == '"';
	strbuf_t b = { 0 };
	int start_line = p->line;
	p->pos += multi ? 3 : 1;
	if (multi && at_newline(p))
		eat_newline(p); /* a newline right after the opening delimiter is trimmed */
	if (sb_put(&b, "", 0) < 0)
		return fail(p, "out of memory");
	for (;;) {
		if (eof(p)) {
			free(b.p);
			int here = p->line;
			p->line = start_line;
			int r = fail(p, "unterminated string (end of file reached on line %d)", here);
			return r;
		}
		char c = peek(p);
		if (c == q) {
			if (!multi) {
				p->pos++;
				break;
			}
			if (starts(p, q == '"' ? "\"\"\"" : "'''")) {
				/* Up to two quotes may directly precede the closing delimiter. */
				size_t extra = 0;
				while (extra < 2 && peek_at(p, 3 + extra) == q)
					extra++;
				if (extra && sb_put(&b, p->s + p->pos, extra) < 0)
					goto oom;
				p->pos += 3 + extra;
				break;
			}
			if (sb_put(&b, &c, 1) < 0)
				goto oom;
			p->pos++;
			continue;
		}
		if (at_newline(p)) {
			if (!multi) {
				free(b.p);
				return fail(p, "newline in a single-line string");
			}
			eat_newline(p);
			if (sb_put(&b, "\n", 1) < 0)
				goto oom;
			continue;
		}
		if (basic && c == '\\') {
			if (multi) {
				/* A line-ending backslash trims the newline and the whitespace after it. */
				size_t save = p->pos;
				p->pos++;
				skip_ws(p);
				if (at_newline(p)) {
					while (!eof(p) && (peek(p) == ' ' || peek(p) == '\t' || at_newline(p))) {
						if (at_newline(p))
							eat_newline(p);
						else
							p->pos++;
					}
					continue;
				}
				p->pos = save;
			}
			if (parse_escape(p, &b) < 0) {
				free(b.p);
				return -EINVAL;
			}
			continue;
		}
		if (check_string_char(p, (unsigned char)c) < 0) {
			free(b.p);
			return -EINVAL;
		}
		if (sb_put(&b, &c, 1) < 0)
			goto oom;
		p->pos++;
	}
	*ret = b.p;
	return 0;
oom:
	free(b.p);
	return fail(p, "out of memory");
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

typedef struct keypath {
	char *k[CRL_TOML_MAX_DEPTH];
	size_t n;
} keypath_t;

static void keypath_free(keypath_t *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->k[i]);
	kp->n = 0;
}

static int parse_key(parser_t *p, keypath_t *kp)
{
	kp->n = 0;
	for (;;) {
		skip_ws(p);
		char c = peek(p);
		char *k = NULL;
		if (c == '"' || c == '\'') {
			if (starts(p, "\"\"\"") || starts(p, "'''"))
				return fail(p, "a key cannot be a multi-line string");
			if (parse_string(p, &k) < 0)
				return -EINVAL;
		} else if (is_bare(c)) {
			size_t st = p->pos;
			while (is_bare(peek(p)))
				p->pos++;
			k = strndup(p->s + st, p->pos - st);
			if (!k)
				return fail(p, "out of memory");
		} else if (eof(p) || at_newline(p)) {
			return fail(p, "expected a key");
		} else {
			unsigned char uc = (unsigned char)c;
			if (uc >= 0x20 && uc < 0x7f)
				return fail(p, "unexpected '%c' where a key was expected", c);
			return fail(p, "unexpected byte 0x%02x where a key was expected", uc);
		}
		if (kp->n == CRL_TOML_MAX_DEPTH) {
			free(k);
			return fail(p, "key has more than %d parts", CRL_TOML_MAX_DEPTH);
		}
		kp->k[kp->n++] = k;
		skip_ws(p);
		if (peek(p) != '.')
			return 0;
		p->pos++;
	}
}

static int parse_value(parser_t *p, int depth, crl_toml_value_t **ret);

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool looks_like_datetime(const parser_t *p)
{
	/* 1979-05-27 or 07:32:00 */
	if (is_digit(peek_at(p, 0)) && is_digit(peek_at(p, 1)) && peek_at(p, 2) == ':')
		return true;
	for (int i = 0; i < 4; i++)
		if (!is_digit(peek_at(p, (size_t)i)))
			return false;
	return peek_at(p, 4) == '-';
}

static int parse_datetime(parser_t *p, crl_toml_value_t **ret)
{
	size_t st = p->pos;
	while (!eof(p)) {
		char c = peek(p);
		if (is_digit(c) || c == '-' || c == ':' || c == '.' || c == 'T' || c == 't' || c == 'Z' || c == 'z' ||
		    c == '+')
			p->pos++;
		else if (c == ' ' && is_digit(peek_at(p, 1)) && p->pos - st == 10)
			p->pos++; /* "1979-05-27 07:32:00": a space may separate date and time */
		else
			break;
	}
	size_t n = p->pos - st;
	/* Shape checks: a full date, a time, or both; the rest is left to the consumer. */
	const char *t = p->s + st;
	bool date = n >= 10 && t[4] == '-' && t[7] == '-';
	bool time_only = n >= 8 && t[2] == ':' && t[5] == ':';
	if (!date && !time_only)
		return fail(p, "malformed date-time '%.*s'", (int)(n > 40 ? 40 : n), t);
	crl_toml_value_t *v = new_value(CRL_TOML_DATETIME, p->line);
	if (!v || !(v->s = strndup(t, n))) {
		free(v);
		return fail(p, "out of memory");
	}
	*ret = v;
	return 0;
}

static int parse_number(parser_t *p, crl_toml_value_t **ret)
{
	size_t st = p->pos;
	while (!eof(p) && (is_bare(peek(p)) || peek(p) == '.' || peek(p) == '+'))
		p->pos++;
	size_t n = p->pos - st;
	if (n == 0 || n > 128)
		return fail(p, "malformed number");
	char tok[130];
	memcpy(tok, p->s + st, n);
	tok[n] = '\0';
	const char *t = tok;
	bool neg = false, signed_ = false;
	if (*t == '+' || *t == '-') {
		neg = *t == '-';
		signed_ = true;
		t++;
	}
	if (strcmp(t, "inf") == 0 || strcmp(t, "nan") == 0) {
		crl_toml_value_t *v = new_value(CRL_TOML_FLOAT, p->line);
		if (!v)
			return fail(p, "out of memory");
		v->f = t[0] == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
		*ret = v;
		return 0;
	}
	int base = 10;
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
		if (signed_)
			return fail(p, "a sign is not allowed on '%s'", tok);
		base = t[1] == 'x' ? 16 : t[1] == 'o' ? 8 : 2;
		t += 2;
	}
	/* Underscores only between two digits; copy the digits without them. */
	char clean[130];
	size_t c = 0;
	bool is_float = false;
	for (size_t i = 0; t[i]; i++) {
		char ch = t[i];
		if (ch == '_') {
			bool prev = i > 0 && (base == 16 ? is_bare(t[i - 1]) && t[i - 1] != '_' : is_digit(t[i - 1]));
			bool next = base == 16 ? is_bare(t[i + 1]) && t[i + 1] != '_' : is_digit(t[i + 1]);
			if (!prev || !next)
				return fail(p, "misplaced underscore in '%s'", tok);
			continue;
		}
		if (base == 10 && (ch == '.' || ch == 'e' || ch == 'E'))
			is_float = true;
		clean[c++] = ch;
	}
	clean[c] = '\0';
	if (c == 0)
		return fail(p, "malformed number '%s'", tok);
	if (base == 10 && clean[0] == '0' && is_digit(clean[1]))
		return fail(p, "leading zeros are not allowed in '%s'", tok);
	crl_toml_value_t *v;
	char *end = NULL;
	errno = 0;
	if (is_float) {
		/* '.' must have digits on both sides. */
		const char *dot = strchr(clean, '.');
		if (dot && (dot == clean || !is_digit(dot[-1]) || !is_digit(dot[1])))
			return fail(p, "malformed float '%s'", tok);
		double d = strtod(clean, &end);
		if (*end || errno == ERANGE)
			return fail(p, "malformed float '%s'", tok);
		if (!(v = new_value(CRL_TOML_FLOAT, p->line)))
			return fail(p, "out of memory");
		v->f = neg ? -d : d;
	} else {
		if (clean[0] == '+' || clean[0] == '-')
			return fail(p, "malformed number '%s'", tok);
		unsigned long long u = strtoull(clean, &end, base);
		if (*end)
			return fail(p, "malformed integer '%s'", tok);
		if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1 : 0))
			return fail(p, "integer '%s' does not fit in 64 bits", tok);
		if (!(v = new_value(CRL_TOML_INTEGER, p->line)))
			return fail(p, "out of memory");
		v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
	}
	*ret = v;
	return 0;
}

static int parse_array(parser_t *p, int depth, crl_toml_value_t **ret)
{
	crl_toml_value_t *a = new_value(CRL_TOML_ARRAY, p->line);
	if (!a)
		return fail(p, "out of memory");
	p->pos++; /* [ */
	for (;;) {
		if (skip_ws_nl(p) < 0)
			goto err;
		if (peek(p) == ']') {
			p->pos++;
			break;
		}
		if (eof(p)) {
			fail(p, "unterminated array");
			goto err;
		}
		crl_toml_value_t *v = NULL;
		if (parse_value(p, depth + 1, &v) < 0)
			goto err;
		if (array_add(p, a, v) < 0)
			goto err;
		if (skip_ws_nl(p) < 0)
			goto err;
		if (peek(p) == ',') {
			p->pos++;
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			break;
		}
		fail(p, eof(p) ? "unterminated array" : "expected ',' or ']' in an array");
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
			next = new_value(CRL_TOML_TABLE, p->line);
			if (!next)
				return fail(p, "out of memory");
			next->flags = T_DOTTED | extra_flags;
			if (table_add(p, t, kp->k[i], next) < 0)
				return -EINVAL;
		} else if (next->type != CRL_TOML_TABLE) {
			return fail(p, "key '%s' is already a %s (defined on line %d), not a table", kp->k[i],
				    crl_toml_type_name(next->type), next->line);
		} else if ((next->flags & T_INLINE) && !(extra_flags & T_INLINE)) {
			return fail(p, "inline table '%s' (line %d) cannot be extended", kp->k[i], next->line);
		} else if (next->flags & (T_HEADER | T_IMPLICIT)) {
			return fail(p, "table '%s' was defined by a header (line %d); a dotted key cannot extend it",
				    kp->k[i], next->line);
		}
		t = next;
	}
	*ret = t;
	return 0;
}

static int parse_inline_table(parser_t *p, int depth, crl_toml_value_t **ret)
{
	crl_toml_value_t *t = new_value(CRL_TOML_TABLE, p->line);
	if (!t)
		return fail(p, "out of memory");
	t->flags = T_INLINE;
	keypath_t kp = { .n = 0 };
	p->pos++; /* { */
	skip_ws(p);
	if (peek(p) == '}') {
		p->pos++;
		*ret = t;
		return 0;
	}
	for (;;) {
		if (parse_key(p, &kp) < 0)
			goto err;
		if (peek(p) != '=') {
			fail(p, "expected '=' after key '%s'", kp.k[kp.n - 1]);
			goto err;
		}
		p->pos++;
		skip_ws(p);
		crl_toml_value_t *parent = NULL;
		if (descend_dotted(p, t, &kp, T_INLINE, &parent) < 0)
			goto err;
		const char *last = kp.k[kp.n - 1];
		crl_toml_value_t *old = table_find(parent, last);
		if (old) {
			fail(p, "duplicate key '%s' (first defined on line %d)", last, old->line);
			goto err;
		}
		crl_toml_value_t *v = NULL;
		if (parse_value(p, depth + 1, &v) < 0)
			goto err;
		if (table_add(p, parent, last, v) < 0)
			goto err;
		keypath_free(&kp);
		skip_ws(p);
		if (peek(p) == ',') {
			p->pos++;
			skip_ws(p);
			if (peek(p) == '}') {
				fail(p, "trailing comma in an inline table");
				goto err;
			}
			continue;
		}
		if (peek(p) == '}') {
			p->pos++;
			break;
		}
		fail(p, "expected ',' or '}' in an inline table (inline tables stay on one line)");
		goto err;
	}
	*ret = t;
	return 0;
err:
	keypath_free(&kp);
	crl_toml_free(t);
	return -EINVAL;
}

static int parse_value(parser_t *p, int depth, crl_toml_value_t **ret)
{
	if (depth > CRL_TOML_MAX_DEPTH)
		return fail(p, "values nested more than %d deep", CRL_TOML_MAX_DEPTH);
	char c = peek(p);
	if (c == '"' || c == '\'') {
		crl_toml_value_t *v = new_value(CRL_TOML_STRING, p->line);
		if (!v)
			return fail(p, "out of memory");
		if (parse_string(p, &v->s) < 0) {
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
	if (starts(p, "true") && !is_bare(peek_at(p, 4))) {
		if (!(*ret = new_value(CRL_TOML_BOOL, p->line)))
			return fail(p, "out of memory");
		(*ret)->b = true;
		p->pos += 4;
		return 0;
	}
	if (starts(p, "false") && !is_bare(peek_at(p, 5))) {
		if (!(*ret = new_value(CRL_TOML_BOOL, p->line)))
			return fail(p, "out of memory");
		(*ret)->b = false;
		p->pos += 5;
		return 0;
	}
	if (looks_like_datetime(p))
		return parse_datetime(p, ret);
	if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
		return parse_number(p, ret);
	if (eof(p) || at_newline(p))
		return fail(p, "expected a value");
	if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
		return fail(p, "unexpected '%c' where a value was expected (strings need quotes)", c);
	return fail(p, "unexpected byte 0x%02x where a value was expected", (unsigned char)c);
}

static int parse_keyval(parser_t *p)
{
	keypath_t kp = { .n = 0 };
	int line = p->line;
	if (parse_key(p, &kp) < 0)
		goto err;
	if (peek(p) != '=') {
		fail(p, "expected '=' after key '%s'", kp.k[kp.n - 1]);
		goto err;
	}
	p->pos++;
	skip_ws(p);
	crl_toml_value_t *parent = NULL;
	if (descend_dotted(p, p->cur, &kp, 0, &parent) < 0)
		goto err;
	const char *last = kp.k[kp.n - 1];
	crl_toml_value_t *old = table_find(parent, last);
	if (old) {
		fail(p, "duplicate key '%s' (first defined on line %d)", last, old->line);
		goto err;
	}
	crl_toml_value_t *v = NULL;
	if (parse_value(p, 1, &v) < 0)
		goto err;
	v->line = line;
	if (table_add(p, parent, last, v) < 0)
		goto err;
	keypath_free(&kp);
	return end_of_line(p);
err:
	keypath_free(&kp);
	return -EINVAL;
}

static int parse_header(parser_t *p)
{
	bool aot = starts(p, "[[");
	keypath_t kp = { .n = 0 };
	p->pos += aot ? 2 : 1;
	if (parse_key(p, &kp) < 0)
		goto err;
	if (aot ? !starts(p, "]]") : peek(p) != ']') {
		fail(p, "expected '%s' to close the table header", aot ? "]]" : "]");
		goto err;
	}
	p->pos += aot ? 2 : 1;
	crl_toml_value_t *t = p->root;
	for (size_t i = 0; i + 1 < kp.n; i++) {
		crl_toml_value_t *next = table_find(t, kp.k[i]);
		if (!next) {
			next = new_value(CRL_TOML_TABLE, p->line);
			if (!next) {
				fail(p, "out of memory");
				goto err;
			}
			next->flags = T_IMPLICIT;
			if (table_add(p, t, kp.k[i], next) < 0)
				goto err;
		} else if (next->type == CRL_TOML_ARRAY && (next->flags & A_TABLES)) {
			next = next->items[next->n - 1];
		} else if (next->type != CRL_TOML_TABLE) {
			fail(p, "key '%s' is already a %s (line %d), not a table", kp.k[i],
			     crl_toml_type_name(next->type), next->line);
			goto err;
		} else if (next->flags & T_INLINE) {
			fail(p, "inline table '%s' (line %d) cannot be extended", kp.k[i], next->line);
			goto err;
		}
		t = next;
	}
	const char *last = kp.k[kp.n - 1];
	crl_toml_value_t *old = table_find(t, last);
	if (aot) {
		if (!old) {
			old = new_value(CRL_TOML_ARRAY, p->line);
			if (!old) {
				fail(p, "out of memory");
				goto err;
			}
			old->flags = A_TABLES;
			if (table_add(p, t, last, old) < 0)
				goto err;
		} else if (old->type != CRL_TOML_ARRAY || !(old->flags & A_TABLES)) {
			fail(p, "'%s' is already a %s (line %d), not an array of tables", last,
			     crl_toml_type_name(old->type), old->line);
			goto err;
		}
		crl_toml_value_t *elem = new_value(CRL_TOML_TABLE, p->line);
		if (!elem) {
			fail(p, "out of memory");
			goto err;
		}
		elem->flags = T_HEADER;
		if (array_add(p, old, elem) < 0)
			goto err;
		p->cur = elem;
	} else {
		if (!old) {
			old = new_value(CRL_TOML_TABLE, p->line);
			if (!old) {
				fail(p, "out of memory");
				goto err;
			}
			old->flags = T_HEADER;
			if (table_add(p, t, last, old) < 0)
				goto err;
		} else if (old->type != CRL_TOML_TABLE || (old->flags & (T_HEADER | T_DOTTED | T_INLINE))) {
			fail(p, "table '%s' is defined twice (first on line %d)", last, old->line);
			goto err;
		} else {
			old->flags = (old->flags & ~T_IMPLICIT) | T_HEADER;
			old->line = p->line;
		}
		p->cur = old;
	}
	keypath_free(&kp);
	return end_of_line(p);
err:
	keypath_free(&kp);
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
		return fail(&p, "NUL byte in the document");
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
		return fail(&p, "not valid UTF-8");
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p.pos = 3;
	p.root = new_value(CRL_TOML_TABLE, 1);
	if (!p.root)
		return crl_error_set(err, ENOMEM, "out of memory");
	p.root->flags = T_HEADER;
	p.cur = p.root;
	while (!eof(&p)) {
		skip_ws(&p);
		if (skip_comment(&p) < 0)
			goto err;
		if (eof(&p))
			break;
		if (at_newline(&p)) {
			eat_newline(&p);
			continue;
		}
		if (peek(&p) == '[') {
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
