/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "server/stream/buf.h"

/* WebSocket framing (RFC 6455), the server's side: client frames are masked, ours are not. No I/O here. */

enum {
	WS_CONT = 0x0,
	WS_TEXT = 0x1,
	WS_BINARY = 0x2,
	WS_CLOSE = 0x8,
	WS_PING = 0x9,
	WS_PONG = 0xa,
};

/* Frames larger than this are refused (gorilla/websocket, which kubectl uses, writes 4 KiB frames). */
#define WS_MAX_FRAME (1u << 20)

typedef struct ws_frame {
	bool fin;
	uint8_t opcode;
	uint8_t *payload; /* unmasked in place */
	size_t len;
} ws_frame_t;

/* Parses one frame at the start of buf and unmasks its payload in buf. Returns the bytes it takes, 0 when buf
 * holds only part of it, or a negative errno with *err naming the problem (an unmasked client frame, a frame
 * over WS_MAX_FRAME, reserved bits, a fragmented or long control frame). */
ssize_t ws_frame_parse(uint8_t *buf, size_t len, bool need_mask, ws_frame_t *f, crl_error_t *err);
/* Appends an unmasked frame: its payload is prefix (plen bytes) then data. */
void ws_put_frame(st_buf_t *out, uint8_t opcode, bool fin, const void *prefix, size_t plen, const void *data,
		  size_t len);
/* A client's frame: masked with key (clients are the ones that mask). */
void ws_put_masked_frame(st_buf_t *out, uint8_t opcode, bool fin, const void *data, size_t len, const uint8_t key[4]);
/* A close frame with a status code and reason. */
void ws_put_close(st_buf_t *out, uint16_t code, const char *reason);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (28 characters and a NUL in out). */
int ws_accept_key(const char *key, char out[29], crl_error_t *err);
