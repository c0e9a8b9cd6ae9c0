/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

#include "common/error.h"
#include "server/stream/buf.h"

/* SPDY/3.1 framing (the part kubelet's streaming protocols use, as Go's spdystream speaks it): frames parsed from
 * and written to byte buffers, and the name/value header blocks, zlib-compressed with the SPDY/3 dictionary in
 * one compression context per direction for the whole session. No I/O here. */

#define SPDY_VERSION 3
enum {
	SPDY_SYN_STREAM = 1,
	SPDY_SYN_REPLY = 2,
	SPDY_RST_STREAM = 3,
	SPDY_SETTINGS = 4,
	SPDY_PING = 6,
	SPDY_GOAWAY = 7,
	SPDY_HEADERS = 8,
	SPDY_WINDOW_UPDATE = 9,
};
#define SPDY_FLAG_FIN 0x01
/* RST_STREAM status codes used here. */
#define SPDY_PROTOCOL_ERROR 1
#define SPDY_INVALID_STREAM 2
#define SPDY_REFUSED_STREAM 3
#define SPDY_CANCEL 5
#define SPDY_INTERNAL_ERROR 6

/* Frames larger than this are refused (the protocol allows 16 MiB; Go's clients write at most 32 KiB). */
#define SPDY_MAX_FRAME (1u << 20)
/* A header block: at most this many pairs and this many bytes once inflated. */
#define SPDY_MAX_HEADERS 64
#define SPDY_MAX_HEADER_BYTES 65536
/* The SPDY/3 compression dictionary's length (the spec's 1423 bytes). */
#define SPDY_DICT_LEN 1423

typedef struct spdy_frame {
	bool control;
	uint16_t type; /* control frames */
	uint8_t flags;
	uint32_t stream_id; /* data frames, and control frames that name a stream (0 otherwise) */
	const uint8_t *payload;
	uint32_t len;
} spdy_frame_t;

typedef struct spdy_header {
	char *name;
	char *value;
} spdy_header_t;

typedef struct spdy_headers {
	spdy_header_t h[SPDY_MAX_HEADERS];
	size_t n;
} spdy_headers_t;

typedef struct spdy_codec {
	z_stream in, out;
	bool in_ok, out_ok;
} spdy_codec_t;

/* The dictionary, built once (thread-safe). */
const uint8_t *spdy_dictionary(void);

int spdy_codec_init(spdy_codec_t *c, crl_error_t *err);
void spdy_codec_fini(spdy_codec_t *c);

/* Parses one frame at the start of buf. Returns the bytes it takes, 0 when buf holds only part of it, or a
 * negative errno with *err naming the problem (a frame over SPDY_MAX_FRAME, a version other than 3). */
ssize_t spdy_frame_parse(const uint8_t *buf, size_t len, spdy_frame_t *f, crl_error_t *err);

/* Inflates a header block (a SYN_STREAM's after its 10 bytes, a SYN_REPLY's or HEADERS' after 4) into h; names
 * and values are NUL-terminated copies. */
int spdy_headers_decode(spdy_codec_t *c, const uint8_t *block, size_t len, spdy_headers_t *h, crl_error_t *err);
void spdy_headers_free(spdy_headers_t *h);
/* The value of the header named (compared without case), or NULL. */
const char *spdy_header_get(const spdy_headers_t *h, const char *name);
/* Compresses a header block of n pairs and appends it to out. */
int spdy_headers_encode(spdy_codec_t *c, const spdy_header_t *h, size_t n, st_buf_t *out, crl_error_t *err);

/* Appends frames to out. */
void spdy_put_data(st_buf_t *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len);
int spdy_put_syn_stream(st_buf_t *out, spdy_codec_t *c, uint32_t stream_id, uint8_t flags, const spdy_header_t *h,
			size_t n, crl_error_t *err);
int spdy_put_syn_reply(st_buf_t *out, spdy_codec_t *c, uint32_t stream_id, uint8_t flags, const spdy_header_t *h,
		       size_t n, crl_error_t *err);
void spdy_put_rst_stream(st_buf_t *out, uint32_t stream_id, uint32_t status);
void spdy_put_ping(st_buf_t *out, uint32_t id);
void spdy_put_goaway(st_buf_t *out, uint32_t last_good_stream, uint32_t status);
