/* SPDX-License-Identifier: Apache-2.0 */
/* The streaming server's tokens: each URL handed out names a request by 8 random bytes; it is good once, for a
 * minute. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server/stream/stream.h"

typedef struct entry {
	char token[ST_TOKEN_LEN + 1];
	int64_t expires_ms;
	st_request_t *req;
} entry_t;

struct st_tokens {
	pthread_mutex_t lock;
	entry_t e[ST_TOKENS_MAX];
	size_t n;
};

void st_request_free(st_request_t *r)
{
	if (!r)
		return;
	free(r->ctr_id);
	free(r->pod_dir);
	free(r->netns);
	if (r->cmd)
		for (char **p = r->cmd; *p; p++)
			free(*p);
	free(r->cmd);
	free(r);
}

int st_tokens_new(st_tokens_t **ret, crl_error_t *err)
{
	st_tokens_t *t = calloc(1, sizeof(*t));
	if (!t)
		return crl_error_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

void st_tokens_free(st_tokens_t *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		st_request_free(t->e[i].req);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void drop(st_tokens_t *t, size_t i)
{
	t->e[i] = t->e[--t->n];
}

static void expire(st_tokens_t *t, int64_t now_ms)
{
	for (size_t i = 0; i < t->n;)
		if (t->e[i].expires_ms <= now_ms) {
			st_request_free(t->e[i].req);
			drop(t, i);
		} else {
			i++;
		}
}

int st_tokens_add(st_tokens_t *t, st_request_t *req, int64_t now_ms, char *token, crl_error_t *err)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return crl_error_set_errno(err, errno, "getrandom");
	/* base64url of 8 bytes: 64 bits in 11 characters of 6 bits, the last with 4 bits (2 zero bits after). */
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | rnd[i];
	for (int i = 0; i < 10; i++)
		token[i] = abc[(v >> (58 - 6 * i)) & 63];
	token[10] = abc[(v & 15) << 2];
	token[ST_TOKEN_LEN] = '\0';
	pthread_mutex_lock(&t->lock);
	expire(t, now_ms);
	int r = 0;
	if (t->n >= ST_TOKENS_MAX) {
		r = crl_error_set(err, ENOBUFS, "maximum number of in-flight requests exceeded (%d streaming URLs wait for their client)", ST_TOKENS_MAX);
	} else {
		entry_t *e = &t->e[t->n++];
		memcpy(e->token, token, ST_TOKEN_LEN + 1);
		e->expires_ms = now_ms + ST_TOKEN_TTL_MS;
		e->req = req;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

st_request_t *st_tokens_take(st_tokens_t *t, const char *token, int64_t now_ms)
{
	st_request_t *r = NULL;
	if (!token || strlen(token) != ST_TOKEN_LEN)
		return NULL;
	pthread_mutex_lock(&t->lock);
	expire(t, now_ms);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].token, token) == 0) {
			r = t->e[i].req;
			drop(t, i);
			break;
		}
	pthread_mutex_unlock(&t->lock);
	return r;
}

size_t st_tokens_count(st_tokens_t *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
