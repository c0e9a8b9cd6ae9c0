/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/cleanup.h"
#include "grpc.h"

/* Sorted arrays: ids (for binary search by id and by prefix) and names. Node-sized populations (hundreds to a few
 * thousand) make the memmove on insert cheaper than any tree. */
typedef struct name_entry {
	char *name;
	char id[SRV_ID_LEN + 1];
} name_entry_t;

struct srv_store {
	char *kind;     /* "pod", "container": for messages */
	char *id_field; /* the request field that names one: "pod_sandbox_id", "container_id" */
	pthread_mutex_t lock;
	srv_obj_t **objs;
	size_t n, cap;
	name_entry_t *names;
	size_t n_names, cap_names;
};

#define AMBIGUOUS_SHOWN 5

int srv_store_new(const char *kind, const char *id_field, srv_store_t **ret, crl_error_t *err)
{
	srv_store_t *s = calloc(1, sizeof(*s));
	if (!s || !(s->kind = strdup(kind)) || !(s->id_field = strdup(id_field))) {
		if (s)
			free(s->kind);
		free(s);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&s->lock, NULL);
	*ret = s;
	return 0;
}

void srv_store_free(srv_store_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		srv_obj_unref(s->objs[i]);
	for (size_t i = 0; i < s->n_names; i++)
		free(s->names[i].name);
	free(s->objs);
	free(s->names);
	free(s->kind);
	free(s->id_field);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void srv_obj_ref(srv_obj_t *o)
{
	atomic_fetch_add(&o->refs, 1);
}

void srv_obj_unref(srv_obj_t *o)
{
	if (o && atomic_fetch_sub(&o->refs, 1) == 1)
		o->free(o);
}

bool srv_id_valid(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == SRV_ID_LEN;
}

/* The first index whose id is >= key (key compared over its own length: a prefix sorts before its ids). */
static size_t lower_bound(const srv_store_t *s, const char *key)
{
	size_t lo = 0, hi = s->n, kl = strlen(key);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strncmp(s->objs[mid]->id, key, kl) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool prefix_taken_locked(const srv_store_t *s, const char *id, size_t len)
{
	char p[SRV_ID_LEN + 1];
	memcpy(p, id, len);
	p[len] = '\0';
	size_t i = lower_bound(s, p);
	return i < s->n && strncmp(s->objs[i]->id, p, len) == 0;
}

void srv_store_new_id(srv_store_t *s, char ret[SRV_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (;;) {
		unsigned char raw[SRV_ID_LEN / 2];
		size_t got = 0;
		while (got < sizeof(raw)) {
			ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
			if (r > 0)
				got += (size_t)r;
		}
		for (size_t i = 0; i < sizeof(raw); i++) {
			ret[2 * i] = hex[raw[i] >> 4];
			ret[2 * i + 1] = hex[raw[i] & 15];
		}
		ret[SRV_ID_LEN] = '\0';
		/* crictl shows 13 characters: a fresh id keeps its short form unique. */
		pthread_mutex_lock(&s->lock);
		bool taken = prefix_taken_locked(s, ret, 13);
		pthread_mutex_unlock(&s->lock);
		if (!taken)
			return;
	}
}

static size_t name_bound(const srv_store_t *s, const char *name)
{
	size_t lo = 0, hi = s->n_names;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(s->names[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int srv_store_reserve(srv_store_t *s, const char *name, const char *id, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	size_t i = name_bound(s, name);
	int r = 0;
	if (i < s->n_names && strcmp(s->names[i].name, name) == 0) {
		if (strcmp(s->names[i].id, id) != 0)
			r = crl_error_set(err, EEXIST, "the %s name \"%s\" is already reserved for %s %s", s->kind, name,
					  s->kind, s->names[i].id);
		goto out;
	}
	if (s->n_names == s->cap_names) {
		size_t cap = s->cap_names ? s->cap_names * 2 : 16;
		name_entry_t *n = realloc(s->names, cap * sizeof(*n));
		if (!n) {
			r = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		s->names = n;
		s->cap_names = cap;
	}
	char *copy = strdup(name);
	if (!copy) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	memmove(&s->names[i + 1], &s->names[i], (s->n_names - i) * sizeof(*s->names));
	s->names[i].name = copy;
	snprintf(s->names[i].id, sizeof(s->names[i].id), "%s", id);
	s->n_names++;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

void srv_store_release(srv_store_t *s, const char *name, const char *id)
{
	if (!name)
		return;
	pthread_mutex_lock(&s->lock);
	size_t i = name_bound(s, name);
	if (i < s->n_names && strcmp(s->names[i].name, name) == 0 && strcmp(s->names[i].id, id) == 0) {
		free(s->names[i].name);
		memmove(&s->names[i], &s->names[i + 1], (s->n_names - i - 1) * sizeof(*s->names));
		s->n_names--;
	}
	pthread_mutex_unlock(&s->lock);
}

int srv_store_add(srv_store_t *s, srv_obj_t *o, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	size_t i = lower_bound(s, o->id);
	int r = 0;
	if (i < s->n && strcmp(s->objs[i]->id, o->id) == 0) {
		r = crl_error_set(err, EEXIST, "%s %s already exists", s->kind, o->id);
		goto out;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		srv_obj_t **nv = realloc(s->objs, cap * sizeof(*nv));
		if (!nv) {
			r = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		s->objs = nv;
		s->cap = cap;
	}
	memmove(&s->objs[i + 1], &s->objs[i], (s->n - i) * sizeof(*s->objs));
	s->objs[i] = o;
	s->n++;
	srv_obj_ref(o);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int srv_store_insert(srv_store_t *s, srv_obj_t *o, crl_error_t *err)
{
	int r = srv_store_reserve(s, o->name, o->id, err);
	if (r == 0 && (r = srv_store_add(s, o, err)) < 0)
		srv_store_release(s, o->name, o->id);
	return r;
}

bool srv_store_remove(srv_store_t *s, srv_obj_t *o)
{
	pthread_mutex_lock(&s->lock);
	size_t i = lower_bound(s, o->id);
	bool found = i < s->n && s->objs[i] == o;
	if (found) {
		memmove(&s->objs[i], &s->objs[i + 1], (s->n - i - 1) * sizeof(*s->objs));
		s->n--;
	}
	pthread_mutex_unlock(&s->lock);
	srv_store_release(s, o->name, o->id);
	if (found)
		srv_obj_unref(o);
	return found;
}

int srv_store_get(srv_store_t *s, const char *id, srv_obj_t **ret, crl_error_t *err)
{
	if (!id || !*id)
		return crl_error_set(err, EINVAL, "%s is required", s->id_field);
	if (strlen(id) > SRV_ID_LEN)
		return crl_error_set(err, ENOENT, "%s %.80s not found", s->kind, id);
	pthread_mutex_lock(&s->lock);
	size_t i = lower_bound(s, id), kl = strlen(id), n = 0;
	while (i + n < s->n && strncmp(s->objs[i + n]->id, id, kl) == 0)
		n++;
	int r = 0;
	if (n == 0) {
		r = crl_error_set(err, ENOENT, "%s %s not found", s->kind, id);
	} else if (n > 1 && kl < SRV_ID_LEN) {
		char list[AMBIGUOUS_SHOWN * (SRV_ID_LEN + 2) + 16] = "";
		size_t o = 0;
		for (size_t k = 0; k < n && k < AMBIGUOUS_SHOWN; k++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", k ? ", " : "", s->objs[i + k]->id);
		r = crl_error_set(err, EINVAL, "%s id prefix \"%s\" is ambiguous: it matches %zu %ss (%s%s)", s->kind, id, n,
				  s->kind, list, n > AMBIGUOUS_SHOWN ? ", ..." : "");
	} else {
		srv_obj_ref(s->objs[i]);
		*ret = s->objs[i];
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int srv_store_list(srv_store_t *s, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	srv_obj_t **v = malloc((s->n ? s->n : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&s->lock);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < s->n; i++) {
		v[i] = s->objs[i];
		srv_obj_ref(v[i]);
	}
	*ret_n = s->n;
	pthread_mutex_unlock(&s->lock);
	*ret = v;
	return 0;
}

void srv_store_list_free(srv_obj_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		srv_obj_unref(v[i]);
	free(v);
}

size_t srv_store_count(srv_store_t *s)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void unref_obj(void *o)
{
	srv_obj_unref(o);
}

int srv_call_hold(srv_call_t *call, srv_obj_t *o, crl_error_t *err)
{
	if (srv_call_on_end(call, unref_obj, o) < 0) {
		srv_obj_unref(o);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static void unref_list(void *arg)
{
	srv_obj_t **v = arg;
	size_t n = 0;
	while (v[n])
		n++;
	srv_store_list_free(v, n);
}

int srv_store_list_held(srv_store_t *s, srv_call_t *call, srv_obj_t ***ret, size_t *ret_n, crl_error_t *err)
{
	srv_obj_t **all = NULL;
	size_t n = 0;
	int r = srv_store_list(s, &all, &n, err);
	if (r < 0)
		return r;
	/* NULL-terminated, so the call's end knows how many. */
	srv_obj_t **kept = realloc(all, (n + 1) * sizeof(*kept));
	if (!kept) {
		srv_store_list_free(all, n);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	kept[n] = NULL;
	if (srv_call_on_end(call, unref_list, kept) < 0) {
		srv_store_list_free(kept, n);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = kept;
	*ret_n = n;
	return 0;
}
