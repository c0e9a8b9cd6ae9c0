/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A growable byte buffer: bytes [off, len) of data are pending. Frames are appended at the end and consumed from
 * the front; the buffer is compacted when it grows. A failed allocation marks it broken (oom) and drops what
 * is appended after, so callers check once, where they send. */
typedef struct st_buf {
	uint8_t *data;
	size_t off, len, cap;
	bool oom;
} st_buf_t;

static inline size_t st_buf_pending(const st_buf_t *b)
{
	return b->len - b->off;
}

static inline bool st_buf_reserve(st_buf_t *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->off && b->off == b->len)
		b->off = b->len = 0;
	if (b->len + n <= b->cap)
		return true;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + n <= b->cap)
			return true;
	}
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (!d) {
		b->oom = true;
		return false;
	}
	b->data = d;
	b->cap = cap;
	return true;
}

static inline void st_buf_put(st_buf_t *b, const void *p, size_t n)
{
	if (n && st_buf_reserve(b, n)) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
	}
}

static inline void st_buf_u8(st_buf_t *b, uint8_t v)
{
	st_buf_put(b, &v, 1);
}

static inline void st_buf_be16(st_buf_t *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	st_buf_put(b, x, 2);
}

static inline void st_buf_be32(st_buf_t *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	st_buf_put(b, x, 4);
}

static inline void st_buf_consume(st_buf_t *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* Gives back a large buffer's memory once it is empty. */
static inline void st_buf_shrink(st_buf_t *b)
{
	if (b->off == b->len && b->cap > 65536) {
		free(b->data);
		b->data = NULL;
		b->off = b->len = b->cap = 0;
	}
}

static inline void st_buf_free(st_buf_t *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static inline uint32_t st_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t st_be24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
