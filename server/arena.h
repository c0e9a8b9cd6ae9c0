/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Memory for building one message (a call's answer, an event): allocations are zeroed and all freed together. */
typedef struct srv_arena {
	struct srv_arena_block *blocks;
} srv_arena_t;

#define SRV_ARENA_INIT { NULL }

/* Zeroed, 16-byte aligned; NULL on OOM. */
void *srv_arena_alloc(srv_arena_t *a, size_t size);
char *srv_arena_strdup(srv_arena_t *a, const char *s);
/* Frees everything allocated; the arena can be used again. */
void srv_arena_done(srv_arena_t *a);

/* A protobuf map field (repeated key/value entries) of type T filled with pointers to the strings of in, on a.
 * The answer points into what in belongs to: its owner must outlive the packing. Evaluates to 0 or -ENOMEM. */
#define SRV_ARENA_COPY_MAP(a, out_v, out_n, in_v, in_n, T, init)                             \
	({                                                                                   \
		int r_ = 0;                                                                  \
		out_v = srv_arena_alloc(a, ((in_n) + 1) * sizeof(*(out_v)));                 \
		T *es_ = srv_arena_alloc(a, ((in_n) + 1) * sizeof(T));                      \
		if (!(out_v) || !es_) {                                                      \
			r_ = -ENOMEM;                                                        \
		} else {                                                                     \
			for (size_t i_ = 0; i_ < (in_n); i_++) {                             \
				init(&es_[i_]);                                              \
				es_[i_].key = (in_v)[i_]->key;                               \
				es_[i_].value = (in_v)[i_]->value;                           \
				(out_v)[i_] = &es_[i_];                                      \
			}                                                                    \
			out_n = (in_n);                                                      \
		}                                                                            \
		r_;                                                                          \
	})
