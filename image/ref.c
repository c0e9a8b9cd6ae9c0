/* SPDX-License-Identifier: Apache-2.0 */
#include "ref.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

void img_ref_free(img_ref_t *ref)
{
	if (!ref)
		return;
	free(ref->domain);
	free(ref->path);
	free(ref->tag);
	free(ref->digest);
	free(ref);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool img_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0)
		return false;
	const char *h = d + 7;
	size_t n = 0;
	for (; h[n]; n++)
		if (!((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
			return false;
	return n == 64;
}

/* [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n;) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && !is_lower_alnum(s[j]))
			j++;
		size_t sep = j - i;
		bool ok = (sep == 1 && (s[i] == '.' || s[i] == '_' || s[i] == '-')) ||
			  (sep == 2 && s[i] == '_' && s[i + 1] == '_');
		if (!ok) {
			ok = true;
			for (size_t k = i; k < j; k++)
				ok = ok && s[k] == '-';
		}
		if (!ok)
			return false;
		i = j;
	}
	return true;
}

/* host[:port], host being DNS labels or an IPv4 address, or [IPv6]. */
static bool domain_valid(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	size_t host_end = n;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		host_end = (size_t)(close - s) + 1;
		for (size_t i = 1; i + 1 < host_end; i++)
			if (!strchr("0123456789abcdefABCDEF:.", s[i]))
				return false;
	} else {
		const char *colon = memchr(s, ':', n);
		if (colon)
			host_end = (size_t)(colon - s);
		if (host_end == 0)
			return false;
		size_t label = 0;
		for (size_t i = 0; i < host_end; i++) {
			char c = s[i];
			bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
			if (c == '.') {
				if (label == 0 || s[i - 1] == '-')
					return false;
				label = 0;
			} else if (alnum || (c == '-' && label > 0)) {
				label++;
			} else {
				return false;
			}
		}
		if (label == 0 || s[host_end - 1] == '-')
			return false;
	}
	if (host_end < n) {
		if (s[host_end] != ':' || host_end + 1 == n || n - host_end - 1 > 5)
			return false;
		for (size_t i = host_end + 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
	}
	return true;
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		if (!(w || (i > 0 && (c == '.' || c == '-'))))
			return false;
	}
	return true;
}

static int build(const char *domain, const char *path, const char *tag, const char *digest, bool had_domain,
		 img_ref_t **ret, crl_error_t *err)
{
	img_ref_t *r = calloc(1, sizeof(*r));
	if (!r)
		return crl_error_set(err, ENOMEM, "out of memory");
	r->had_domain = had_domain;
	bool lib = strcmp(domain, IMG_DEFAULT_DOMAIN) == 0 && !strchr(path, '/');
	r->domain = strdup(domain);
	if (lib) {
		if (asprintf(&r->path, "library/%s", path) < 0)
			r->path = NULL;
	} else {
		r->path = strdup(path);
	}
	r->tag = tag ? strdup(tag) : NULL;
	r->digest = digest ? strdup(digest) : NULL;
	if (!r->domain || !r->path || (tag && !r->tag) || (digest && !r->digest)) {
		img_ref_free(r);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = r;
	return 0;
}

int img_ref_parse(const char *text, img_ref_t **ret, crl_error_t *err)
{
	if (!text || !*text)
		return crl_error_set(err, EINVAL, "image reference is empty");
	if (strlen(text) > 4096)
		return crl_error_set(err, EINVAL, "image reference is longer than 4096 bytes");
	_cleanup_free_ char *s = strdup(text);
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	char *digest = NULL, *tag = NULL;
	char *at = strchr(s, '@');
	if (at) {
		*at = '\0';
		digest = at + 1;
		if (!img_digest_valid(digest))
			return crl_error_set(err, EINVAL, "image reference '%s': invalid digest '%s' (want sha256:<64 hex>)",
					     text, digest);
	}
	/* A tag is after the last ':' that follows the last '/'. */
	char *slash = strrchr(s, '/');
	char *colon = strrchr(slash ? slash : s, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
		if (!tag_valid(tag))
			return crl_error_set(err, EINVAL, "image reference '%s': invalid tag '%s'", text, tag);
	}
	char *name = s;
	const char *domain = IMG_DEFAULT_DOMAIN;
	bool had_domain = false;
	char *first_slash = strchr(name, '/');
	if (first_slash) {
		size_t dn = (size_t)(first_slash - name);
		bool looks = memchr(name, '.', dn) || memchr(name, ':', dn) ||
			     (dn == 9 && strncmp(name, "localhost", 9) == 0);
		for (size_t i = 0; i < dn && !looks; i++)
			looks = name[i] >= 'A' && name[i] <= 'Z';
		if (looks) {
			if (!domain_valid(name, dn))
				return crl_error_set(err, EINVAL, "image reference '%s': invalid registry '%.*s'", text,
						     (int)dn, name);
			*first_slash = '\0';
			domain = name;
			name = first_slash + 1;
			had_domain = true;
			if (strcmp(domain, "index.docker.io") == 0)
				domain = IMG_DEFAULT_DOMAIN;
		}
	}
	if (!*name)
		return crl_error_set(err, EINVAL, "image reference '%s': no repository name", text);
	if (strlen(name) + strlen(domain) + 1 > IMG_REF_MAX_LEN)
		return crl_error_set(err, EINVAL, "image reference '%s': repository name longer than %d bytes", text,
				     IMG_REF_MAX_LEN);
	for (char *p = name;;) {
		char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (!path_component_valid(p, n))
			return crl_error_set(err, EINVAL,
					     "image reference '%s': invalid repository name component '%.*s' (lower-case "
					     "letters, digits and separators)",
					     text, (int)n, p);
		if (!e)
			break;
		p = e + 1;
	}
	if (!tag && !digest)
		tag = "latest";
	return build(domain, name, tag, digest, had_domain, ret, err);
}

int img_ref_with_domain(const img_ref_t *ref, const char *domain, img_ref_t **ret, crl_error_t *err)
{
	const char *path = ref->path;
	/* The "library/" docker.io added is not part of the name on another registry. */
	if (strcmp(ref->domain, IMG_DEFAULT_DOMAIN) == 0 && !ref->had_domain && strncmp(path, "library/", 8) == 0 &&
	    strcmp(domain, IMG_DEFAULT_DOMAIN) != 0)
		path += 8;
	return build(domain, path, ref->tag, ref->digest, true, ret, err);
}

char *img_ref_repo(const img_ref_t *ref)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s", ref->domain, ref->path) < 0)
		return NULL;
	return s;
}

char *img_ref_string(const img_ref_t *ref)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
		     ref->digest ? "@" : "", ref->digest ? ref->digest : "") < 0)
		return NULL;
	return s;
}
