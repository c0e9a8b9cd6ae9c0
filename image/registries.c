/* SPDX-License-Identifier: Apache-2.0 */
#include "registries.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/toml.h"

void img_endpoints_free(img_endpoint_t *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].repo);
	free(e);
}

void img_registries_free(img_registries_t *r)
{
	if (!r)
		return;
	crl_strv_free(r->search);
	for (size_t i = 0; i < r->n_regs; i++) {
		img_registry_t *g = &r->regs[i];
		free(g->prefix);
		free(g->location);
		for (size_t k = 0; k < g->n_mirrors; k++)
			free(g->mirrors[k].location);
		free(g->mirrors);
	}
	free(r->regs);
	free(r);
}

typedef struct ctx {
	const char *file;
	crl_error_t *err;
} ctx_t;

static int want_type(ctx_t *c, const crl_toml_value_t *v, crl_toml_type_t t, const char *key)
{
	if (v->type != t)
		return crl_error_set(c->err, EINVAL, "%s:%d: %s must be a %s, not a %s", c->file, v->line, key,
				     crl_toml_type_name(t), crl_toml_type_name(v->type));
	return 0;
}

static int get_string(ctx_t *c, const crl_toml_value_t *t, const char *key, char **out)
{
	const crl_toml_value_t *v = crl_toml_table_get(t, key);
	if (!v)
		return 0;
	int r = want_type(c, v, CRL_TOML_STRING, key);
	if (r < 0)
		return r;
	free(*out);
	if (!(*out = strdup(v->s)))
		return crl_error_set(c->err, ENOMEM, "out of memory");
	return 0;
}

static int get_bool(ctx_t *c, const crl_toml_value_t *t, const char *key, bool *out)
{
	const crl_toml_value_t *v = crl_toml_table_get(t, key);
	if (!v)
		return 0;
	int r = want_type(c, v, CRL_TOML_BOOL, key);
	if (r == 0)
		*out = v->b;
	return r;
}

static int get_strv(ctx_t *c, const crl_toml_value_t *v, const char *key, char ***out)
{
	int r = want_type(c, v, CRL_TOML_ARRAY, key);
	if (r < 0)
		return r;
	char **list = calloc(v->n + 1, sizeof(char *));
	if (!list)
		return crl_error_set(c->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < v->n; i++) {
		if ((r = want_type(c, v->items[i], CRL_TOML_STRING, key)) < 0 || !(list[i] = strdup(v->items[i]->s))) {
			crl_strv_free(list);
			return r < 0 ? r : crl_error_set(c->err, ENOMEM, "out of memory");
		}
	}
	crl_strv_free(*out);
	*out = list;
	return 0;
}

/* Trailing slashes make no difference to a prefix. */
static void trim_slash(char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

static int parse_registry(ctx_t *c, const crl_toml_value_t *t, img_registry_t *g)
{
	int r;
	if ((r = want_type(c, t, CRL_TOML_TABLE, "registry")) < 0)
		return r;
	if ((r = get_string(c, t, "prefix", &g->prefix)) < 0 || (r = get_string(c, t, "location", &g->location)) < 0 ||
	    (r = get_bool(c, t, "insecure", &g->insecure)) < 0 || (r = get_bool(c, t, "blocked", &g->blocked)) < 0 ||
	    (r = get_bool(c, t, "mirror-by-digest-only", &g->mirror_by_digest_only)) < 0)
		return r;
	if (!g->prefix && !g->location)
		return crl_error_set(c->err, EINVAL, "%s:%d: a [[registry]] needs a prefix or a location", c->file, t->line);
	if (!g->prefix && !(g->prefix = strdup(g->location)))
		return crl_error_set(c->err, ENOMEM, "out of memory");
	if (!g->location && !(g->location = strdup(g->prefix)))
		return crl_error_set(c->err, ENOMEM, "out of memory");
	trim_slash(g->prefix);
	trim_slash(g->location);
	if (strchr(g->prefix, '*') && strncmp(g->prefix, "*.", 2) != 0)
		return crl_error_set(c->err, EINVAL, "%s:%d: prefix '%s': a wildcard must be a leading '*.'", c->file,
				     t->line, g->prefix);
	const crl_toml_value_t *ms = crl_toml_table_get(t, "mirror");
	if (!ms)
		return 0;
	if ((r = want_type(c, ms, CRL_TOML_ARRAY, "mirror")) < 0)
		return r;
	g->mirrors = calloc(ms->n ? ms->n : 1, sizeof(*g->mirrors));
	if (!g->mirrors)
		return crl_error_set(c->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < ms->n; i++) {
		const crl_toml_value_t *m = ms->items[i];
		img_mirror_t *mi = &g->mirrors[g->n_mirrors++];
		_cleanup_free_ char *from = NULL;
		if ((r = want_type(c, m, CRL_TOML_TABLE, "mirror")) < 0 ||
		    (r = get_string(c, m, "location", &mi->location)) < 0 ||
		    (r = get_bool(c, m, "insecure", &mi->insecure)) < 0 || (r = get_string(c, m, "pull-from-mirror", &from)) < 0)
			return r;
		if (!mi->location || !*mi->location)
			return crl_error_set(c->err, EINVAL, "%s:%d: a [[registry.mirror]] needs a location", c->file, m->line);
		trim_slash(mi->location);
		if (!from || strcmp(from, "all") == 0)
			mi->pull_from = IMG_PULL_FROM_ALL;
		else if (strcmp(from, "digest-only") == 0)
			mi->pull_from = IMG_PULL_FROM_DIGEST_ONLY;
		else if (strcmp(from, "tag-only") == 0)
			mi->pull_from = IMG_PULL_FROM_TAG_ONLY;
		else
			return crl_error_set(c->err, EINVAL, "%s:%d: pull-from-mirror must be all, digest-only or tag-only, not '%s'",
					     c->file, m->line, from);
	}
	return 0;
}

static img_registry_t *find_or_add(img_registries_t *r, const char *prefix)
{
	for (size_t i = 0; i < r->n_regs; i++)
		if (strcmp(r->regs[i].prefix, prefix) == 0)
			return &r->regs[i];
	img_registry_t *n = realloc(r->regs, (r->n_regs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	r->regs = n;
	img_registry_t *g = &r->regs[r->n_regs];
	memset(g, 0, sizeof(*g));
	if (!(g->prefix = strdup(prefix)) || !(g->location = strdup(prefix))) {
		free(g->prefix);
		return NULL;
	}
	r->n_regs++;
	return g;
}

/* Version 1: [registries.search] registries = [...], [registries.insecure], [registries.block]. */
static int parse_v1(ctx_t *c, const crl_toml_value_t *v1, img_registries_t *r)
{
	static const char *const kinds[] = { "search", "insecure", "block" };
	for (size_t k = 0; k < 3; k++) {
		const crl_toml_value_t *t = crl_toml_table_get(v1, kinds[k]);
		const crl_toml_value_t *list = t ? crl_toml_table_get(t, "registries") : NULL;
		if (!list)
			continue;
		_cleanup_strv_ char **names = NULL;
		int e = get_strv(c, list, "registries", &names);
		if (e < 0)
			return e;
		if (k == 0) {
			crl_strv_free(r->search);
			r->search = TAKE_PTR(names);
			continue;
		}
		for (char **n = names; *n; n++) {
			img_registry_t *g = find_or_add(r, *n);
			if (!g)
				return crl_error_set(c->err, ENOMEM, "out of memory");
			if (k == 1)
				g->insecure = true;
			else
				g->blocked = true;
		}
	}
	return 0;
}

int img_registries_parse(const char *text, size_t len, const char *filename, img_registries_t **ret, crl_error_t *err)
{
	crl_toml_value_t *doc = NULL;
	int r = crl_toml_parse(text, len, filename, &doc, err);
	if (r < 0)
		return r;
	ctx_t c = { filename, err };
	img_registries_t *regs = calloc(1, sizeof(*regs));
	if (!regs) {
		crl_toml_free(doc);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	const crl_toml_value_t *v;
	if ((v = crl_toml_table_get(doc, "unqualified-search-registries")))
		r = get_strv(&c, v, "unqualified-search-registries", &regs->search);
	const crl_toml_value_t *list = crl_toml_table_get(doc, "registry");
	if (r == 0 && list) {
		if ((r = want_type(&c, list, CRL_TOML_ARRAY, "registry")) == 0) {
			regs->regs = calloc(list->n ? list->n : 1, sizeof(*regs->regs));
			if (!regs->regs)
				r = crl_error_set(err, ENOMEM, "out of memory");
			for (size_t i = 0; r == 0 && i < list->n; i++) {
				r = parse_registry(&c, list->items[i], &regs->regs[i]);
				regs->n_regs++;
			}
		}
	}
	if (r == 0 && (v = crl_toml_table_get(doc, "registries")) && v->type == CRL_TOML_TABLE)
		r = parse_v1(&c, v, regs);
	if (r == 0 && !regs->search && !(regs->search = calloc(1, sizeof(char *))))
		r = crl_error_set(err, ENOMEM, "out of memory");
	crl_toml_free(doc);
	if (r < 0) {
		img_registries_free(regs);
		return r;
	}
	*ret = regs;
	return 0;
}

int img_registries_load(const char *path, img_registries_t **ret, crl_error_t *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		return img_registries_parse("", 0, path, ret, err);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "cannot open %s", path);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = crl_fs_read_fd(fd, IMG_REGISTRIES_MAX_BYTES, &text, &len, err);
	if (r < 0)
		return crl_error_wrap(err, "%s", path);
	return img_registries_parse(text, len, path, ret, err);
}

/* How well prefix matches repo: its length, or -1. "*.example.com" matches any subdomain's repositories. */
static long match_len(const char *prefix, const char *repo)
{
	if (strncmp(prefix, "*.", 2) == 0) {
		const char *slash = strchr(repo, '/');
		size_t host_len = slash ? (size_t)(slash - repo) : strlen(repo);
		size_t suf = strlen(prefix + 1); /* ".example.com" */
		if (host_len > suf && memcmp(repo + host_len - suf, prefix + 1, suf) == 0)
			return (long)strlen(prefix);
		return -1;
	}
	size_t n = strlen(prefix);
	if (strncmp(repo, prefix, n) != 0)
		return -1;
	if (repo[n] != '\0' && repo[n] != '/')
		return -1;
	return (long)n;
}

static int add_endpoint(img_endpoint_t **list, size_t *n, const char *location, const char *rest, bool insecure,
			bool mirror)
{
	img_endpoint_t *e = realloc(*list, (*n + 1) * sizeof(**list));
	if (!e)
		return -ENOMEM;
	*list = e;
	if (asprintf(&e[*n].repo, "%s%s", location, rest) < 0)
		return -ENOMEM;
	e[*n].insecure = insecure;
	e[*n].mirror = mirror;
	(*n)++;
	return 0;
}

int img_registries_endpoints(const img_registries_t *r, const char *repo, bool by_digest, img_endpoint_t **ret,
			     size_t *ret_n, crl_error_t *err)
{
	const img_registry_t *best = NULL;
	long best_len = -1;
	for (size_t i = 0; r && i < r->n_regs; i++) {
		long l = match_len(r->regs[i].prefix, repo);
		if (l > best_len) {
			best_len = l;
			best = &r->regs[i];
		}
	}
	img_endpoint_t *list = NULL;
	size_t n = 0;
	if (!best) {
		if (add_endpoint(&list, &n, repo, "", false, false) < 0)
			goto oom;
		*ret = list;
		*ret_n = n;
		return 0;
	}
	if (best->blocked)
		return crl_error_set(err, EACCES, "registry of %s is blocked by the registries configuration", repo);
	/* A wildcard entry keeps the repository's own host; others rewrite the matched prefix. */
	bool wildcard = strncmp(best->prefix, "*.", 2) == 0;
	const char *slash = strchr(repo, '/');
	const char *rest = wildcard ? (slash ? slash : "") : repo + best_len;
	for (size_t i = 0; i < best->n_mirrors; i++) {
		const img_mirror_t *m = &best->mirrors[i];
		bool serves = m->pull_from == IMG_PULL_FROM_ALL ||
			      m->pull_from == (by_digest ? IMG_PULL_FROM_DIGEST_ONLY : IMG_PULL_FROM_TAG_ONLY);
		if (best->mirror_by_digest_only && !by_digest)
			serves = false;
		if (serves && add_endpoint(&list, &n, m->location, rest, m->insecure, true) < 0)
			goto oom;
	}
	if (add_endpoint(&list, &n, wildcard ? repo : best->location, wildcard ? "" : rest, best->insecure, false) < 0)
		goto oom;
	*ret = list;
	*ret_n = n;
	return 0;
oom:
	img_endpoints_free(list, n);
	return crl_error_set(err, ENOMEM, "out of memory");
}
