/* SPDX-License-Identifier: Apache-2.0 */
/* WebSocket frames (RFC 6455 section 5) and the opening handshake's accept key (section 4.2.2). */
#include "server/stream/ws.h"

#include <errno.h>
#include <openssl/evp.h>

#include "common/base64.h"

ssize_t ws_frame_parse(uint8_t *buf, size_t len, bool need_mask, ws_frame_t *f, crl_error_t *err)
{
	if (len < 2)
		return 0;
	memset(f, 0, sizeof(*f));
	f->fin = buf[0] & 0x80;
	f->opcode = buf[0] & 0x0f;
	if (buf[0] & 0x70)
		return crl_error_set(err, EPROTO, "WebSocket frame with reserved bits set");
	bool masked = buf[1] & 0x80;
	uint64_t n = buf[1] & 0x7f;
	size_t off = 2;
	if (n == 126) {
		if (len < 4)
			return 0;
		n = (uint64_t)buf[2] << 8 | buf[3];
		off = 4;
	} else if (n == 127) {
		if (len < 10)
			return 0;
		n = 0;
		for (int i = 0; i < 8; i++)
			n = n << 8 | buf[2 + i];
		off = 10;
	}
	if (f->opcode >= 0x8) {
		if (!f->fin || n > 125)
			return crl_error_set(err, EPROTO, "WebSocket control frame fragmented or over 125 bytes");
		if (f->opcode > WS_PONG)
			return crl_error_set(err, EPROTO, "WebSocket opcode %u is reserved", f->opcode);
	} else if (f->opcode > WS_BINARY) {
		return crl_error_set(err, EPROTO, "WebSocket opcode %u is reserved", f->opcode);
	}
	if (n > WS_MAX_FRAME)
		return crl_error_set(err, EMSGSIZE, "WebSocket frame of %llu bytes is over the %u limit",
				     (unsigned long long)n, WS_MAX_FRAME);
	if (need_mask && !masked)
		return crl_error_set(err, EPROTO, "WebSocket client frame is not masked");
	uint8_t key[4] = { 0 };
	if (masked) {
		if (len < off + 4)
			return 0;
		memcpy(key, buf + off, 4);
		off += 4;
	}
	if (len - off < n)
		return 0;
	f->payload = buf + off;
	f->len = (size_t)n;
	if (masked)
		for (size_t i = 0; i < f->len; i++)
			f->payload[i] ^= key[i & 3];
	return (ssize_t)(off + n);
}

void ws_put_frame(st_buf_t *out, uint8_t opcode, bool fin, const void *prefix, size_t plen, const void *data,
		  size_t len)
{
	size_t n = plen + len;
	st_buf_u8(out, (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f)));
	if (n < 126) {
		st_buf_u8(out, (uint8_t)n);
	} else if (n <= 0xffff) {
		st_buf_u8(out, 126);
		st_buf_be16(out, (uint16_t)n);
	} else {
		st_buf_u8(out, 127);
		st_buf_be32(out, (uint32_t)((uint64_t)n >> 32));
		st_buf_be32(out, (uint32_t)n);
	}
	st_buf_put(out, prefix, plen);
	st_buf_put(out, data, len);
}

void ws_put_masked_frame(st_buf_t *out, uint8_t opcode, bool fin, const void *data, size_t len, const uint8_t key[4])
{
	st_buf_u8(out, (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f)));
	if (len < 126) {
		st_buf_u8(out, (uint8_t)(0x80 | len));
	} else if (len <= 0xffff) {
		st_buf_u8(out, 0x80 | 126);
		st_buf_be16(out, (uint16_t)len);
	} else {
		st_buf_u8(out, 0x80 | 127);
		st_buf_be32(out, (uint32_t)((uint64_t)len >> 32));
		st_buf_be32(out, (uint32_t)len);
	}
	st_buf_put(out, key, 4);
	if (!st_buf_reserve(out, len))
		return;
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		out->data[out->len + i] = p[i] ^ key[i & 3];
	out->len += len;
}

void ws_put_close(st_buf_t *out, uint16_t code, const char *reason)
{
	uint8_t c[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	size_t n = reason ? strlen(reason) : 0;
	if (n > 123)
		n = 123;
	ws_put_frame(out, WS_CLOSE, true, c, 2, reason, n);
}

int ws_accept_key(const char *key, char out[29], crl_error_t *err)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key, strlen(key)) &&
		 EVP_DigestUpdate(ctx, guid, sizeof(guid) - 1) && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen != 20)
		return crl_error_set(err, EIO, "SHA-1 of the WebSocket key failed");
	char *b = crl_base64_encode(md, 20);
	if (!b || strlen(b) != 28) {
		free(b);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	memcpy(out, b, 29);
	free(b);
	return 0;
}
