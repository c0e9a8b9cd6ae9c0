/* SPDX-License-Identifier: Apache-2.0 */
/* The streaming server's pure parts: SPDY/3 frames and header blocks, WebSocket frames and handshake key (the
 * byte sequences of RFC 6455's examples), the URL tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "server/stream/spdy.h"
#include "server/stream/stream.h"
#include "server/stream/ws.h"

/* --- SPDY --- */

static void test_spdy_dictionary(void **state)
{
	(void)state;
	const uint8_t *d = spdy_dictionary();
	/* The spec's dictionary: 1423 bytes, whose Adler-32 is the DICTID every header stream carries. */
	assert_int_equal(adler32(adler32(0, NULL, 0), d, SPDY_DICT_LEN), 0xe3c6a7c2);
	assert_memory_equal(d, "\0\0\0\7options\0\0\0\4head", 15);
	assert_memory_equal(d + SPDY_DICT_LEN - 6, "enq=0.", 6);
}

/* Header blocks compressed by another zlib (level 9, as Go writes them), one stream for both: the second block
 * needs the first's context. */
static const uint8_t block1[] = { 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0xa6, 0x23, 0x46, 0x70, 0x3a, 0x2b, 0x29, 0x4a,
				  0x4d, 0xcc, 0x85, 0x16, 0x25, 0xac, 0xa9, 0xa0, 0x80, 0x06, 0x00, 0x00, 0x00, 0xff, 0xff };
static const uint8_t block2[] = { 0x02, 0xa5, 0x47, 0x0c, 0x29, 0x50, 0x29, 0x93, 0x08, 0x29, 0xb0, 0x8b,
				  0x40, 0x89, 0x9b, 0xc9, 0xc2, 0x00, 0x48, 0x72, 0x16, 0x41, 0xa2, 0x37,
				  0x13, 0x94, 0xec, 0x19, 0x0d, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff };
/* A SYN_REPLY of stream 1 with no headers, as Go's spdystream server sends it (captured on the wire). */
static const uint8_t go_syn_reply[] = { 0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01,
					0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x62, 0x60, 0x60, 0x60, 0x00, 0x00,
					0x00, 0x00, 0xff, 0xff };

static void test_spdy_header_blocks(void **state)
{
	(void)state;
	spdy_codec_t c;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(spdy_codec_init(&c, &err), 0);
	spdy_headers_t h = { .n = 0 };
	assert_int_equal(spdy_headers_decode(&c, block1, sizeof(block1), &h, &err), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(spdy_header_get(&h, "streamtype"), "error");
	spdy_headers_free(&h);
	assert_int_equal(spdy_headers_decode(&c, block2, sizeof(block2), &h, &err), 0);
	assert_int_equal(h.n, 3);
	assert_string_equal(spdy_header_get(&h, "StreamType"), "data");
	assert_string_equal(spdy_header_get(&h, "port"), "80");
	assert_string_equal(spdy_header_get(&h, "requestid"), "0");
	assert_null(spdy_header_get(&h, "host"));
	spdy_headers_free(&h);
	spdy_codec_fini(&c);

	spdy_codec_t go;
	assert_int_equal(spdy_codec_init(&go, &err), 0);
	spdy_frame_t f;
	assert_int_equal(spdy_frame_parse(go_syn_reply, sizeof(go_syn_reply), &f, &err), (ssize_t)sizeof(go_syn_reply));
	assert_true(f.control);
	assert_int_equal(f.type, SPDY_SYN_REPLY);
	assert_int_equal(f.stream_id, 1);
	assert_int_equal(spdy_headers_decode(&go, f.payload + 4, f.len - 4, &h, &err), 0);
	assert_int_equal(h.n, 0);
	spdy_codec_fini(&go);

	/* ours: written by one session's compressor, read by the other end's, block after block */
	spdy_codec_t a, b;
	assert_int_equal(spdy_codec_init(&a, &err), 0);
	assert_int_equal(spdy_codec_init(&b, &err), 0);
	for (int i = 0; i < 3; i++) {
		st_buf_t out = { 0 };
		spdy_header_t hs[2] = { { "streamtype", i == 1 ? "stdout" : "stdin" }, { "x-n", "0123456789" } };
		assert_int_equal(spdy_put_syn_stream(&out, &a, (uint32_t)(2 * i + 1), 0, hs, 2, &err), 0);
		/* its start: control bit, version 3, type 1 */
		assert_memory_equal(out.data, "\x80\x03\x00\x01", 4);
		assert_int_equal(spdy_frame_parse(out.data, out.len, &f, &err), (ssize_t)out.len);
		assert_int_equal(f.stream_id, (uint32_t)(2 * i + 1));
		assert_int_equal(spdy_headers_decode(&b, f.payload + 10, f.len - 10, &h, &err), 0);
		assert_string_equal(spdy_header_get(&h, "streamtype"), i == 1 ? "stdout" : "stdin");
		assert_string_equal(spdy_header_get(&h, "x-n"), "0123456789");
		spdy_headers_free(&h);
		st_buf_free(&out);
	}
	/* garbage does not inflate */
	uint8_t junk[16];
	memset(junk, 0x5a, sizeof(junk));
	assert_true(spdy_headers_decode(&b, junk, sizeof(junk), &h, &err) < 0);
	crl_error_clear(&err);
	spdy_codec_fini(&a);
	spdy_codec_fini(&b);
}

static void test_spdy_frames(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	spdy_frame_t f;
	/* DATA of stream 3 with FIN and "hi" (spec 2.2.2: control bit 0, 31-bit id, flags, 24-bit length) */
	st_buf_t b = { 0 };
	spdy_put_data(&b, 3, SPDY_FLAG_FIN, "hi", 2);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "\x00\x00\x00\x03\x01\x00\x00\x02hi", 10);
	assert_int_equal(spdy_frame_parse(b.data, 9, &f, &err), 0); /* a part of it: wait for more */
	assert_int_equal(spdy_frame_parse(b.data, b.len, &f, &err), 10);
	assert_false(f.control);
	assert_int_equal(f.stream_id, 3);
	assert_int_equal(f.flags, SPDY_FLAG_FIN);
	assert_int_equal(f.len, 2);
	st_buf_free(&b);
	/* RST_STREAM, PING, GOAWAY as spec 2.6 lays them out */
	spdy_put_rst_stream(&b, 5, SPDY_CANCEL);
	assert_memory_equal(b.data, "\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x05", 16);
	st_buf_free(&b);
	spdy_put_ping(&b, 7);
	assert_memory_equal(b.data, "\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x07", 12);
	st_buf_free(&b);
	spdy_put_goaway(&b, 5, 0);
	assert_memory_equal(b.data, "\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x05\x00\x00\x00\x00", 16);
	st_buf_free(&b);
	/* refused: another version, a frame over the limit, a short SYN_STREAM */
	const uint8_t v2[] = { 0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
	assert_true(spdy_frame_parse(v2, sizeof(v2), &f, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "version 2"));
	crl_error_clear(&err);
	const uint8_t big[] = { 0x00, 0x00, 0x00, 0x01, 0x00, 0xff, 0xff, 0xff };
	assert_true(spdy_frame_parse(big, sizeof(big), &f, &err) < 0);
	crl_error_clear(&err);
	const uint8_t syn[] = { 0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
	assert_true(spdy_frame_parse(syn, sizeof(syn), &f, &err) < 0);
	crl_error_clear(&err);
}

/* --- WebSocket: RFC 6455 section 5.7's examples --- */

static void test_ws_rfc_examples(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	ws_frame_t f;
	uint8_t unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	assert_int_equal(ws_frame_parse(unmasked, sizeof(unmasked), false, &f, &err), 7);
	assert_true(f.fin);
	assert_int_equal(f.opcode, WS_TEXT);
	assert_memory_equal(f.payload, "Hello", 5);
	/* a client's frame must be masked */
	assert_true(ws_frame_parse(unmasked, sizeof(unmasked), true, &f, &err) < 0);
	crl_error_clear(&err);
	uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	uint8_t copy[sizeof(masked)];
	memcpy(copy, masked, sizeof(masked));
	assert_int_equal(ws_frame_parse(copy, sizeof(copy), true, &f, &err), 11);
	assert_memory_equal(f.payload, "Hello", 5);
	/* and ours writes the same bytes with the same key */
	st_buf_t b = { 0 };
	ws_put_masked_frame(&b, WS_TEXT, true, "Hello", 5, (const uint8_t[]){ 0x37, 0xfa, 0x21, 0x3d });
	assert_int_equal(b.len, sizeof(masked));
	assert_memory_equal(b.data, masked, sizeof(masked));
	st_buf_free(&b);
	ws_put_frame(&b, WS_TEXT, true, "He", 2, "llo", 3);
	assert_memory_equal(b.data, unmasked, sizeof(unmasked));
	st_buf_free(&b);
	/* a fragmented message: "Hel" then "lo" */
	uint8_t frag1[] = { 0x01, 0x03, 0x48, 0x65, 0x6c }, frag2[] = { 0x80, 0x02, 0x6c, 0x6f };
	assert_int_equal(ws_frame_parse(frag1, sizeof(frag1), false, &f, &err), 5);
	assert_false(f.fin);
	assert_int_equal(f.opcode, WS_TEXT);
	assert_int_equal(ws_frame_parse(frag2, sizeof(frag2), false, &f, &err), 4);
	assert_true(f.fin);
	assert_int_equal(f.opcode, WS_CONT);
	assert_memory_equal(f.payload, "lo", 2);
	/* ping unmasked, pong masked */
	uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	assert_int_equal(ws_frame_parse(ping, sizeof(ping), false, &f, &err), 7);
	assert_int_equal(f.opcode, WS_PING);
	uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	assert_int_equal(ws_frame_parse(pong, sizeof(pong), true, &f, &err), 11);
	assert_int_equal(f.opcode, WS_PONG);
	assert_memory_equal(f.payload, "Hello", 5);
	/* 256 bytes: a 16-bit length; 64 KiB: a 64-bit one */
	uint8_t data[65536] = { 0 };
	ws_put_frame(&b, WS_BINARY, true, NULL, 0, data, 256);
	assert_memory_equal(b.data, "\x82\x7e\x01\x00", 4);
	assert_int_equal(b.len, 4 + 256);
	st_buf_free(&b);
	ws_put_frame(&b, WS_BINARY, true, NULL, 0, data, 65536);
	assert_memory_equal(b.data, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	assert_int_equal(ws_frame_parse(b.data, b.len, false, &f, &err), (ssize_t)b.len);
	assert_int_equal(f.len, 65536);
	assert_int_equal(ws_frame_parse(b.data, 9, false, &f, &err), 0); /* incomplete header */
	st_buf_free(&b);
}

static void test_ws_refusals_and_key(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	ws_frame_t f;
	uint8_t rsv[] = { 0xc1, 0x80, 0, 0, 0, 0 };
	assert_true(ws_frame_parse(rsv, sizeof(rsv), true, &f, &err) < 0);
	crl_error_clear(&err);
	uint8_t frag_ping[] = { 0x09, 0x80, 0, 0, 0, 0 };
	assert_true(ws_frame_parse(frag_ping, sizeof(frag_ping), true, &f, &err) < 0);
	crl_error_clear(&err);
	uint8_t huge[] = { 0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
	assert_true(ws_frame_parse(huge, sizeof(huge), true, &f, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "over the"));
	crl_error_clear(&err);
	uint8_t reserved_op[] = { 0x83, 0x80, 0, 0, 0, 0 };
	assert_true(ws_frame_parse(reserved_op, sizeof(reserved_op), true, &f, &err) < 0);
	crl_error_clear(&err);
	/* RFC 6455 section 1.3 */
	char accept[29];
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", accept, &err), 0);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	/* a close frame: the code, then the reason */
	st_buf_t b = { 0 };
	ws_put_close(&b, 1000, "bye");
	assert_memory_equal(b.data, "\x88\x05\x03\xe8" "bye", 7);
	st_buf_free(&b);
}

/* --- tokens --- */

static st_request_t *req(st_kind_t kind)
{
	st_request_t *r = calloc(1, sizeof(*r));
	r->kind = kind;
	r->ctr_id = strdup("c");
	return r;
}

static void test_tokens(void **state)
{
	(void)state;
	st_tokens_t *t = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(st_tokens_new(&t, &err), 0);
	char a[ST_TOKEN_LEN + 1], b[ST_TOKEN_LEN + 1];
	assert_int_equal(st_tokens_add(t, req(ST_EXEC), 1000, a, &err), 0);
	assert_int_equal(st_tokens_add(t, req(ST_ATTACH), 1000, b, &err), 0);
	assert_int_equal(strlen(a), ST_TOKEN_LEN);
	assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), ST_TOKEN_LEN);
	assert_string_not_equal(a, b);
	/* once, and within its minute */
	st_request_t *r = st_tokens_take(t, a, 1000 + ST_TOKEN_TTL_MS - 1);
	assert_non_null(r);
	assert_int_equal(r->kind, ST_EXEC);
	st_request_free(r);
	assert_null(st_tokens_take(t, a, 1001));
	assert_null(st_tokens_take(t, b, 1000 + ST_TOKEN_TTL_MS));
	assert_int_equal(st_tokens_count(t), 0);
	assert_null(st_tokens_take(t, "", 1000));
	assert_null(st_tokens_take(t, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1000));
	/* at most ST_TOKENS_MAX wait; expired ones make room */
	for (int i = 0; i < ST_TOKENS_MAX; i++)
		assert_int_equal(st_tokens_add(t, req(ST_EXEC), 2000, a, &err), 0);
	st_request_t *extra = req(ST_PORTFORWARD);
	assert_int_equal(st_tokens_add(t, extra, 2000, a, &err), -ENOBUFS);
	assert_non_null(strstr(crl_error_message(&err), "in-flight"));
	crl_error_clear(&err);
	assert_int_equal(st_tokens_add(t, extra, 2000 + ST_TOKEN_TTL_MS, a, &err), 0);
	assert_int_equal(st_tokens_count(t), 1);
	st_tokens_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spdy_dictionary),     cmocka_unit_test(test_spdy_header_blocks),
		cmocka_unit_test(test_spdy_frames),         cmocka_unit_test(test_ws_rfc_examples),
		cmocka_unit_test(test_ws_refusals_and_key), cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
