/* SPDX-License-Identifier: Apache-2.0 */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 4000

struct srv_arena_block {
	struct srv_arena_block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

void *srv_arena_alloc(srv_arena_t *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	struct srv_arena_block *b = a->blocks;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > BLOCK_MIN ? size : BLOCK_MIN;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->blocks;
		b->used = 0;
		b->cap = cap;
		a->blocks = b;
	}
	void *p = b->data + b->used;
	b->used += size;
	memset(p, 0, size);
	return p;
}

char *srv_arena_strdup(srv_arena_t *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = srv_arena_alloc(a, n);
	if (p)
		memcpy(p, s, n);
	return p;
}

void srv_arena_done(srv_arena_t *a)
{
	while (a->blocks) {
		struct srv_arena_block *n = a->blocks->next;
		free(a->blocks);
		a->blocks = n;
	}
}
