/* SPDX-License-Identifier: Apache-2.0 */
/* SPDY/3.1 frames and header blocks (draft-mbelshe-httpbis-spdy-00 as SPDY/3, with 3.1's session flow control
 * left out: kubelet's clients neither send nor honour WINDOW_UPDATE). */
#include "server/stream/spdy.h"

#include <errno.h>
#include <pthread.h>
#include <strings.h>

/* The SPDY/3 header dictionary (spec section 2.6.10.1): these names and values, each as a 4-byte big-endian
 * length and its bytes, then the text of common status lines, dates and media types. */
static const char *const dict_words[] = {
	"options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
	"accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
	"content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
	"content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
	"if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
	"max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
	"server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
	"www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
	"set-cookie", "keep-alive", "origin",
};
static const char dict_tail[] =
	"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
	"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
	"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
	"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
	"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
	"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static uint8_t dict[SPDY_DICT_LEN];
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void dict_build(void)
{
	size_t o = 0;
	for (size_t i = 0; i < sizeof(dict_words) / sizeof(dict_words[0]); i++) {
		size_t n = strlen(dict_words[i]);
		dict[o++] = 0;
		dict[o++] = 0;
		dict[o++] = 0;
		dict[o++] = (uint8_t)n;
		memcpy(dict + o, dict_words[i], n);
		o += n;
	}
	memcpy(dict + o, dict_tail, sizeof(dict_tail) - 1);
	_Static_assert(sizeof(dict_tail) - 1 == 574, "dictionary tail");
}

const uint8_t *spdy_dictionary(void)
{
	pthread_once(&dict_once, dict_build);
	return dict;
}

int spdy_codec_init(spdy_codec_t *c, crl_error_t *err)
{
	memset(c, 0, sizeof(*c));
	spdy_dictionary();
	if (inflateInit(&c->in) != Z_OK)
		return crl_error_set(err, ENOMEM, "zlib inflateInit failed");
	c->in_ok = true;
	if (deflateInit(&c->out, Z_DEFAULT_COMPRESSION) != Z_OK ||
	    deflateSetDictionary(&c->out, dict, SPDY_DICT_LEN) != Z_OK) {
		spdy_codec_fini(c);
		return crl_error_set(err, ENOMEM, "zlib deflateInit failed");
	}
	c->out_ok = true;
	return 0;
}

void spdy_codec_fini(spdy_codec_t *c)
{
	if (c->in_ok)
		inflateEnd(&c->in);
	if (c->out_ok)
		deflateEnd(&c->out);
	c->in_ok = c->out_ok = false;
}

ssize_t spdy_frame_parse(const uint8_t *buf, size_t len, spdy_frame_t *f, crl_error_t *err)
{
	if (len < 8)
		return 0;
	memset(f, 0, sizeof(*f));
	f->control = buf[0] & 0x80;
	f->flags = buf[4];
	f->len = st_be24(buf + 5);
	if (f->len > SPDY_MAX_FRAME)
		return crl_error_set(err, EMSGSIZE, "SPDY frame of %u bytes is over the %u limit", f->len, SPDY_MAX_FRAME);
	if (f->control) {
		unsigned version = ((unsigned)(buf[0] & 0x7f) << 8) | buf[1];
		if (version != SPDY_VERSION)
			return crl_error_set(err, EPROTO, "SPDY version %u is not spoken here (3 is)", version);
		f->type = (uint16_t)(buf[2] << 8 | buf[3]);
	} else {
		f->stream_id = st_be32(buf) & 0x7fffffff;
	}
	if (len < 8 + (size_t)f->len)
		return 0;
	f->payload = buf + 8;
	if (f->control) {
		switch (f->type) {
		case SPDY_SYN_STREAM:
		case SPDY_SYN_REPLY:
		case SPDY_RST_STREAM:
		case SPDY_HEADERS:
		case SPDY_WINDOW_UPDATE:
			if (f->len < 4)
				return crl_error_set(err, EPROTO, "SPDY control frame %u of %u bytes is short", f->type, f->len);
			f->stream_id = st_be32(f->payload) & 0x7fffffff;
			if (f->type == SPDY_SYN_STREAM && f->len < 10)
				return crl_error_set(err, EPROTO, "SPDY SYN_STREAM of %u bytes is short", f->len);
			break;
		default:
			break;
		}
	}
	return 8 + (ssize_t)f->len;
}

void spdy_headers_free(spdy_headers_t *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->h[i].name);
		free(h->h[i].value);
	}
	h->n = 0;
}

const char *spdy_header_get(const spdy_headers_t *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->h[i].name, name) == 0)
			return h->h[i].value;
	return NULL;
}

static char *take_string(const uint8_t *p, size_t avail, size_t *off, crl_error_t *err)
{
	if (avail - *off < 4) {
		crl_error_set(err, EPROTO, "SPDY header block is cut short");
		return NULL;
	}
	uint32_t n = st_be32(p + *off);
	*off += 4;
	if (n > avail - *off) {
		crl_error_set(err, EPROTO, "SPDY header block is cut short");
		return NULL;
	}
	char *s = malloc((size_t)n + 1);
	if (!s) {
		crl_error_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	memcpy(s, p + *off, n);
	s[n] = '\0';
	*off += n;
	if (strlen(s) != n) {
		free(s);
		crl_error_set(err, EPROTO, "SPDY header with a NUL byte");
		return NULL;
	}
	return s;
}

int spdy_headers_decode(spdy_codec_t *c, const uint8_t *block, size_t len, spdy_headers_t *h, crl_error_t *err)
{
	h->n = 0;
	uint8_t *out = malloc(SPDY_MAX_HEADER_BYTES);
	if (!out)
		return crl_error_set(err, ENOMEM, "out of memory");
	c->in.next_in = (Bytef *)block;
	c->in.avail_in = (uInt)len;
	c->in.next_out = out;
	c->in.avail_out = SPDY_MAX_HEADER_BYTES;
	int r = Z_OK;
	while (c->in.avail_in > 0 && c->in.avail_out > 0) {
		r = inflate(&c->in, Z_SYNC_FLUSH);
		if (r == Z_NEED_DICT) {
			if (inflateSetDictionary(&c->in, spdy_dictionary(), SPDY_DICT_LEN) != Z_OK)
				break;
			r = Z_OK;
			continue;
		}
		if (r != Z_OK)
			break;
	}
	size_t got = SPDY_MAX_HEADER_BYTES - c->in.avail_out;
	int ret = 0;
	if (r != Z_OK && r != Z_BUF_ERROR) {
		ret = crl_error_set(err, EPROTO, "SPDY header block does not inflate (zlib %d)", r);
	} else if (c->in.avail_in > 0) {
		ret = crl_error_set(err, EMSGSIZE, "SPDY header block is over %d bytes", SPDY_MAX_HEADER_BYTES);
	} else if (got < 4) {
		ret = crl_error_set(err, EPROTO, "SPDY header block is cut short");
	} else {
		uint32_t count = st_be32(out);
		size_t off = 4;
		if (count > SPDY_MAX_HEADERS)
			ret = crl_error_set(err, EMSGSIZE, "SPDY header block of %u pairs (at most %d)", count,
					    SPDY_MAX_HEADERS);
		for (uint32_t i = 0; ret == 0 && i < count; i++) {
			char *name = take_string(out, got, &off, err);
			char *value = name ? take_string(out, got, &off, err) : NULL;
			if (!value) {
				free(name);
				ret = -EPROTO;
				break;
			}
			h->h[h->n].name = name;
			h->h[h->n].value = value;
			h->n++;
		}
	}
	free(out);
	if (ret < 0)
		spdy_headers_free(h);
	return ret;
}

int spdy_headers_encode(spdy_codec_t *c, const spdy_header_t *h, size_t n, st_buf_t *out, crl_error_t *err)
{
	st_buf_t raw = { 0 };
	st_buf_be32(&raw, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		st_buf_be32(&raw, (uint32_t)strlen(h[i].name));
		st_buf_put(&raw, h[i].name, strlen(h[i].name));
		st_buf_be32(&raw, (uint32_t)strlen(h[i].value));
		st_buf_put(&raw, h[i].value, strlen(h[i].value));
	}
	if (raw.oom)
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t bound = deflateBound(&c->out, raw.len) + 64;
	if (!st_buf_reserve(out, bound)) {
		st_buf_free(&raw);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	c->out.next_in = raw.data;
	c->out.avail_in = (uInt)raw.len;
	c->out.next_out = out->data + out->len;
	c->out.avail_out = (uInt)bound;
	int r = deflate(&c->out, Z_SYNC_FLUSH);
	st_buf_free(&raw);
	if (r != Z_OK || c->out.avail_in != 0)
		return crl_error_set(err, EIO, "SPDY header block does not deflate (zlib %d)", r);
	out->len += bound - c->out.avail_out;
	return 0;
}

static void put_control(st_buf_t *out, uint16_t type, uint8_t flags, uint32_t len)
{
	st_buf_be16(out, 0x8000 | SPDY_VERSION);
	st_buf_be16(out, type);
	st_buf_be32(out, (uint32_t)flags << 24 | (len & 0xffffff));
}

void spdy_put_data(st_buf_t *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len)
{
	st_buf_be32(out, stream_id & 0x7fffffff);
	st_buf_be32(out, (uint32_t)flags << 24 | ((uint32_t)len & 0xffffff));
	st_buf_put(out, data, len);
}

/* A control frame carrying a header block after `fixed` bytes of its own; the length is known once compressed. */
static int put_with_headers(st_buf_t *out, spdy_codec_t *c, uint16_t type, uint8_t flags, const uint8_t *fixed,
			    size_t nfixed, const spdy_header_t *h, size_t n, crl_error_t *err)
{
	size_t start = out->len;
	put_control(out, type, flags, 0);
	st_buf_put(out, fixed, nfixed);
	if (out->oom)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (spdy_headers_encode(c, h, n, out, err) < 0)
		return -1;
	uint32_t len = (uint32_t)(out->len - start - 8);
	out->data[start + 5] = (uint8_t)(len >> 16);
	out->data[start + 6] = (uint8_t)(len >> 8);
	out->data[start + 7] = (uint8_t)len;
	return 0;
}

int spdy_put_syn_stream(st_buf_t *out, spdy_codec_t *c, uint32_t stream_id, uint8_t flags, const spdy_header_t *h,
			size_t n, crl_error_t *err)
{
	uint8_t fixed[10] = { 0 };
	fixed[0] = (uint8_t)(stream_id >> 24 & 0x7f);
	fixed[1] = (uint8_t)(stream_id >> 16);
	fixed[2] = (uint8_t)(stream_id >> 8);
	fixed[3] = (uint8_t)stream_id;
	return put_with_headers(out, c, SPDY_SYN_STREAM, flags, fixed, sizeof(fixed), h, n, err);
}

int spdy_put_syn_reply(st_buf_t *out, spdy_codec_t *c, uint32_t stream_id, uint8_t flags, const spdy_header_t *h,
		       size_t n, crl_error_t *err)
{
	uint8_t fixed[4] = { (uint8_t)(stream_id >> 24 & 0x7f), (uint8_t)(stream_id >> 16), (uint8_t)(stream_id >> 8),
			     (uint8_t)stream_id };
	return put_with_headers(out, c, SPDY_SYN_REPLY, flags, fixed, sizeof(fixed), h, n, err);
}

void spdy_put_rst_stream(st_buf_t *out, uint32_t stream_id, uint32_t status)
{
	put_control(out, SPDY_RST_STREAM, 0, 8);
	st_buf_be32(out, stream_id & 0x7fffffff);
	st_buf_be32(out, status);
}

void spdy_put_ping(st_buf_t *out, uint32_t id)
{
	put_control(out, SPDY_PING, 0, 4);
	st_buf_be32(out, id);
}

void spdy_put_goaway(st_buf_t *out, uint32_t last_good_stream, uint32_t status)
{
	put_control(out, SPDY_GOAWAY, 0, 8);
	st_buf_be32(out, last_good_stream & 0x7fffffff);
	st_buf_be32(out, status);
}
