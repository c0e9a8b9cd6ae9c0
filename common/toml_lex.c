/* SPDX-License-Identifier: Apache-2.0 */
/* The TOML parser's tokens: characters and whitespace, strings with their escapes, keys, numbers, date-times. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml-internal.h"
#include "utf8.h"

int crl_toml_fail(parser_t *p, const char *fmt, ...)
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

bool crl_toml_eof(const parser_t *p)
{
	return p->pos >= p->len;
}

char crl_toml_peek(const parser_t *p)
{
	return crl_toml_eof(p) ? '\0' : p->s[p->pos];
}

char crl_toml_peek_at(const parser_t *p, size_t off)
{
	return p->pos + off >= p->len ? '\0' : p->s[p->pos + off];
}

bool crl_toml_starts(const parser_t *p, const char *lit)
{
	size_t n = strlen(lit);
	return p->pos + n <= p->len && memcmp(p->s + p->pos, lit, n) == 0;
}

void crl_toml_skip_ws(parser_t *p)
{
	while (!crl_toml_eof(p) && (crl_toml_peek(p) == ' ' || crl_toml_peek(p) == '\t'))
		p->pos++;
}

bool crl_toml_at_newline(const parser_t *p)
{
	return crl_toml_peek(p) == '\n' || (crl_toml_peek(p) == '\r' && crl_toml_peek_at(p, 1) == '\n');
}

void crl_toml_eat_newline(parser_t *p)
{
	if (crl_toml_peek(p) == '\r')
		p->pos++;
	p->pos++;
	p->line++;
}

int crl_toml_skip_comment(parser_t *p)
{
	if (crl_toml_peek(p) != '#')
		return 0;
	while (!crl_toml_eof(p) && !crl_toml_at_newline(p)) {
		unsigned char c = (unsigned char)crl_toml_peek(p);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return crl_toml_fail(p, "control character 0x%02x in a comment", c);
		p->pos++;
	}
	return 0;
}

/* Whitespace, comments and newlines: what may stand between array elements. */
int crl_toml_skip_ws_nl(parser_t *p)
{
	for (;;) {
		crl_toml_skip_ws(p);
		if (crl_toml_skip_comment(p) < 0)
			return -EINVAL;
		if (crl_toml_at_newline(p))
			crl_toml_eat_newline(p);
		else
			return 0;
	}
}

/* After a key/value pair or a header: only whitespace and a comment before the end of the line. */
int crl_toml_end_of_line(parser_t *p)
{
	crl_toml_skip_ws(p);
	if (crl_toml_skip_comment(p) < 0)
		return -EINVAL;
	if (crl_toml_eof(p))
		return 0;
	if (!crl_toml_at_newline(p)) {
		unsigned char c = (unsigned char)crl_toml_peek(p);
		if (c == '\r')
			return crl_toml_fail(p, "a carriage return must be followed by a line feed");
		return crl_toml_fail(p, "unexpected '%c' after a value; expected the end of the line", c);
	}
	crl_toml_eat_newline(p);
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
	char c = crl_toml_peek(p);
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
			char h = crl_toml_peek(p);
			int d;
			if (h >= '0' && h <= '9')
				d = h - '0';
			else if (h >= 'a' && h <= 'f')
				d = h - 'a' + 10;
			else if (h >= 'A' && h <= 'F')
				d = h - 'A' + 10;
			else
				return crl_toml_fail(p, "\\%c escape needs %d hexadecimal digits", c, digits);
			cp = cp * 16 + (uint32_t)d;
			p->pos++;
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return crl_toml_fail(p, "\\%c escape names U+%X, which is not a Unicode scalar value", c, cp);
		char out[4];
		size_t n = 0;
		put_utf8(out, &n, cp);
		return sb_put(b, out, n) < 0 ? crl_toml_fail(p, "out of memory") : 0;
	}
	default:
		if (c >= 0x20 && c < 0x7f)
			return crl_toml_fail(p, "unknown escape sequence \\%c", c);
		return crl_toml_fail(p, "unknown escape sequence");
	}
	p->pos++;
	return sb_put(b, rep, 1) < 0 ? crl_toml_fail(p, "out of memory") : 0;
}

static int check_string_char(parser_t *p, unsigned char c)
{
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return crl_toml_fail(p, "control character 0x%02x in a string (escape it)", c);
	return 0;
}

/* Basic ("...") and literal ('...') strings, single- and multi-line. Leaves the result in *ret. */
int crl_toml_parse_string(parser_t *p, char **ret)
{
	char q = crl_toml_peek(p);
	bool multi = (q == '"' && crl_toml_starts(p, "\"\"\"")) || (q == '\'' && crl_toml_starts(p, "'''"));
	bool basic = q == '"';
	strbuf_t b = { 0 };
	int start_line = p->line;
	p->pos += multi ? 3 : 1;
	if (multi && crl_toml_at_newline(p))
		crl_toml_eat_newline(p); /* a newline right after the opening delimiter is trimmed */
	if (sb_put(&b, "", 0) < 0)
		return crl_toml_fail(p, "out of memory");
	for (;;) {
		if (crl_toml_eof(p)) {
			free(b.p);
			int here = p->line;
			p->line = start_line;
			int r = crl_toml_fail(p, "unterminated string (end of file reached on line %d)", here);
			return r;
		}
		char c = crl_toml_peek(p);
		if (c == q) {
			if (!multi) {
				p->pos++;
				break;
			}
			if (crl_toml_starts(p, q == '"' ? "\"\"\"" : "'''")) {
				/* Up to two quotes may directly precede the closing delimiter. */
				size_t extra = 0;
				while (extra < 2 && crl_toml_peek_at(p, 3 + extra) == q)
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
		if (crl_toml_at_newline(p)) {
			if (!multi) {
				free(b.p);
				return crl_toml_fail(p, "newline in a single-line string");
			}
			crl_toml_eat_newline(p);
			if (sb_put(&b, "\n", 1) < 0)
				goto oom;
			continue;
		}
		if (basic && c == '\\') {
			if (multi) {
				/* A line-ending backslash trims the newline and the whitespace after it. */
				size_t save = p->pos;
				p->pos++;
				crl_toml_skip_ws(p);
				if (crl_toml_at_newline(p)) {
					while (!crl_toml_eof(p) && (crl_toml_peek(p) == ' ' || crl_toml_peek(p) == '\t' || crl_toml_at_newline(p))) {
						if (crl_toml_at_newline(p))
							crl_toml_eat_newline(p);
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
	return crl_toml_fail(p, "out of memory");
}

bool crl_toml_is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void crl_toml_keypath_free(keypath_t *kp)
{
	for (size_t i = 0; i < kp->n; i++)
		free(kp->k[i]);
	kp->n = 0;
}

int crl_toml_parse_key(parser_t *p, keypath_t *kp)
{
	kp->n = 0;
	for (;;) {
		crl_toml_skip_ws(p);
		char c = crl_toml_peek(p);
		char *k = NULL;
		if (c == '"' || c == '\'') {
			if (crl_toml_starts(p, "\"\"\"") || crl_toml_starts(p, "'''"))
				return crl_toml_fail(p, "a key cannot be a multi-line string");
			if (crl_toml_parse_string(p, &k) < 0)
				return -EINVAL;
		} else if (crl_toml_is_bare(c)) {
			size_t st = p->pos;
			while (crl_toml_is_bare(crl_toml_peek(p)))
				p->pos++;
			k = strndup(p->s + st, p->pos - st);
			if (!k)
				return crl_toml_fail(p, "out of memory");
		} else if (crl_toml_eof(p) || crl_toml_at_newline(p)) {
			return crl_toml_fail(p, "expected a key");
		} else {
			unsigned char uc = (unsigned char)c;
			if (uc >= 0x20 && uc < 0x7f)
				return crl_toml_fail(p, "unexpected '%c' where a key was expected", c);
			return crl_toml_fail(p, "unexpected byte 0x%02x where a key was expected", uc);
		}
		if (kp->n == CRL_TOML_MAX_DEPTH) {
			free(k);
			return crl_toml_fail(p, "key has more than %d parts", CRL_TOML_MAX_DEPTH);
		}
		kp->k[kp->n++] = k;
		crl_toml_skip_ws(p);
		if (crl_toml_peek(p) != '.')
			return 0;
		p->pos++;
	}
}

bool crl_toml_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool crl_toml_looks_like_datetime(const parser_t *p)
{
	/* 1979-05-27 or 07:32:00 */
	if (crl_toml_is_digit(crl_toml_peek_at(p, 0)) && crl_toml_is_digit(crl_toml_peek_at(p, 1)) && crl_toml_peek_at(p, 2) == ':')
		return true;
	for (int i = 0; i < 4; i++)
		if (!crl_toml_is_digit(crl_toml_peek_at(p, (size_t)i)))
			return false;
	return crl_toml_peek_at(p, 4) == '-';
}

int crl_toml_parse_datetime(parser_t *p, crl_toml_value_t **ret)
{
	size_t st = p->pos;
	while (!crl_toml_eof(p)) {
		char c = crl_toml_peek(p);
		if (crl_toml_is_digit(c) || c == '-' || c == ':' || c == '.' || c == 'T' || c == 't' || c == 'Z' || c == 'z' ||
		    c == '+')
			p->pos++;
		else if (c == ' ' && crl_toml_is_digit(crl_toml_peek_at(p, 1)) && p->pos - st == 10)
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
		return crl_toml_fail(p, "malformed date-time '%.*s'", (int)(n > 40 ? 40 : n), t);
	crl_toml_value_t *v = crl_toml_new_value(CRL_TOML_DATETIME, p->line);
	if (!v || !(v->s = strndup(t, n))) {
		free(v);
		return crl_toml_fail(p, "out of memory");
	}
	*ret = v;
	return 0;
}

int crl_toml_parse_number(parser_t *p, crl_toml_value_t **ret)
{
	size_t st = p->pos;
	while (!crl_toml_eof(p) && (crl_toml_is_bare(crl_toml_peek(p)) || crl_toml_peek(p) == '.' || crl_toml_peek(p) == '+'))
		p->pos++;
	size_t n = p->pos - st;
	if (n == 0 || n > 128)
		return crl_toml_fail(p, "malformed number");
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
		crl_toml_value_t *v = crl_toml_new_value(CRL_TOML_FLOAT, p->line);
		if (!v)
			return crl_toml_fail(p, "out of memory");
		v->f = t[0] == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
		*ret = v;
		return 0;
	}
	int base = 10;
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b')) {
		if (signed_)
			return crl_toml_fail(p, "a sign is not allowed on '%s'", tok);
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
			bool prev = i > 0 && (base == 16 ? crl_toml_is_bare(t[i - 1]) && t[i - 1] != '_' : crl_toml_is_digit(t[i - 1]));
			bool next = base == 16 ? crl_toml_is_bare(t[i + 1]) && t[i + 1] != '_' : crl_toml_is_digit(t[i + 1]);
			if (!prev || !next)
				return crl_toml_fail(p, "misplaced underscore in '%s'", tok);
			continue;
		}
		if (base == 10 && (ch == '.' || ch == 'e' || ch == 'E'))
			is_float = true;
		clean[c++] = ch;
	}
	clean[c] = '\0';
	if (c == 0)
		return crl_toml_fail(p, "malformed number '%s'", tok);
	if (base == 10 && clean[0] == '0' && crl_toml_is_digit(clean[1]))
		return crl_toml_fail(p, "leading zeros are not allowed in '%s'", tok);
	crl_toml_value_t *v;
	char *end = NULL;
	errno = 0;
	if (is_float) {
		/* '.' must have digits on both sides. */
		const char *dot = strchr(clean, '.');
		if (dot && (dot == clean || !crl_toml_is_digit(dot[-1]) || !crl_toml_is_digit(dot[1])))
			return crl_toml_fail(p, "malformed float '%s'", tok);
		double d = strtod(clean, &end);
		if (*end || errno == ERANGE)
			return crl_toml_fail(p, "malformed float '%s'", tok);
		if (!(v = crl_toml_new_value(CRL_TOML_FLOAT, p->line)))
			return crl_toml_fail(p, "out of memory");
		v->f = neg ? -d : d;
	} else {
		if (clean[0] == '+' || clean[0] == '-')
			return crl_toml_fail(p, "malformed number '%s'", tok);
		unsigned long long u = strtoull(clean, &end, base);
		if (*end)
			return crl_toml_fail(p, "malformed integer '%s'", tok);
		if (errno == ERANGE || u > (unsigned long long)INT64_MAX + (neg ? 1 : 0))
			return crl_toml_fail(p, "integer '%s' does not fit in 64 bits", tok);
		if (!(v = crl_toml_new_value(CRL_TOML_INTEGER, p->line)))
			return crl_toml_fail(p, "out of memory");
		v->i = neg ? (int64_t)(0 - u) : (int64_t)u;
	}
	*ret = v;
	return 0;
}

