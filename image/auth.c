/* SPDX-License-Identifier: Apache-2.0 */
#include "auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void img_challenge_clear(img_challenge_t *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	memset(c, 0, sizeof(*c));
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

static void skip_sp(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int img_challenge_parse(const char *header, img_challenge_t *ret, crl_error_t *err)
{
	memset(ret, 0, sizeof(*ret));
	if (!header)
		return crl_error_set(err, EBADMSG, "no WWW-Authenticate header");
	if (strlen(header) > 8192)
		return crl_error_set(err, EBADMSG, "WWW-Authenticate header too long");
	const char *p = header;
	skip_sp(&p);
	const char *s = p;
	while (is_tchar(*p))
		p++;
	size_t sl = (size_t)(p - s);
	if (sl == 6 && strncasecmp(s, "bearer", 6) == 0)
		ret->scheme = IMG_AUTH_BEARER;
	else if (sl == 5 && strncasecmp(s, "basic", 5) == 0)
		ret->scheme = IMG_AUTH_BASIC;
	else
		return crl_error_set(err, EOPNOTSUPP, "unsupported authentication scheme '%.*s'", (int)(sl > 32 ? 32 : sl), s);
	for (;;) {
		skip_sp(&p);
		while (*p == ',')
			p++, skip_sp(&p);
		if (!*p)
			break;
		const char *k = p;
		while (is_tchar(*p))
			p++;
		size_t kl = (size_t)(p - k);
		skip_sp(&p);
		if (kl == 0 || *p != '=') {
			img_challenge_clear(ret);
			return crl_error_set(err, EBADMSG, "malformed WWW-Authenticate parameters");
		}
		p++;
		skip_sp(&p);
		char *val = malloc(strlen(p) + 1);
		if (!val) {
			img_challenge_clear(ret);
			return crl_error_set(err, ENOMEM, "out of memory");
		}
		size_t vl = 0;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				val[vl++] = *p++;
			}
			if (*p != '"') {
				free(val);
				img_challenge_clear(ret);
				return crl_error_set(err, EBADMSG, "unterminated quoted string in WWW-Authenticate");
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ' && *p != '\t')
				val[vl++] = *p++;
		}
		val[vl] = '\0';
		char **slot = NULL;
		if (kl == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = &ret->realm;
		else if (kl == 7 && strncasecmp(k, "service", 7) == 0)
			slot = &ret->service;
		else if (kl == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = &ret->scope;
		if (slot) {
			free(*slot);
			*slot = val;
		} else {
			free(val);
		}
	}
	if (ret->scheme == IMG_AUTH_BEARER && (!ret->realm || !*ret->realm)) {
		img_challenge_clear(ret);
		return crl_error_set(err, EBADMSG, "bearer challenge without a realm");
	}
	return 0;
}

