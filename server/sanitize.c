/* SPDX-License-Identifier: Apache-2.0 */
#include "sanitize.h"

#include <errno.h>
#include <string.h>

#include "common/utf8.h"

/* Calls fn on each string field of msg and of the messages in it (to a depth of 64); stops at a negative return. */
static int each_string(ProtobufCMessage *msg, int depth, int (*fn)(char **sp, void *ctx), void *ctx)
{
	if (!msg || depth > 64)
		return 0;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		void *member = (char *)msg + f->offset;
		size_t count = 1;
		void *items = member;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(size_t *)((char *)msg + f->quantifier_offset);
			items = *(void **)member;
			if (!items)
				continue;
		}
		for (size_t k = 0; k < count; k++) {
			int r = 0;
			if (f->type == PROTOBUF_C_TYPE_STRING && ((char **)items)[k])
				r = fn((char **)items + k, ctx);
			else if (f->type == PROTOBUF_C_TYPE_MESSAGE)
				r = each_string(((ProtobufCMessage **)items)[k], depth + 1, fn, ctx);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int check(char **sp, void *ctx)
{
	(void)ctx;
	return crl_utf8_valid(*sp, strlen(*sp)) ? 0 : -EILSEQ;
}

bool srv_message_utf8_valid(const ProtobufCMessage *msg)
{
	return each_string((ProtobufCMessage *)msg, 0, check, NULL) == 0;
}

typedef struct clean_ctx {
	void *(*alloc)(void *ctx, size_t size);
	void (*release)(void *ctx, char *old);
	void *ctx;
} clean_ctx_t;

static int clean(char **sp, void *ctx)
{
	clean_ctx_t *c = ctx;
	size_t len = strlen(*sp);
	if (crl_utf8_valid(*sp, len))
		return 0;
	char *out = c->alloc(c->ctx, 3 * len + 1);
	if (!out)
		return -ENOMEM;
	crl_utf8_sanitize(*sp, len, out);
	if (c->release)
		c->release(c->ctx, *sp);
	*sp = out;
	return 0;
}

int srv_message_sanitize(ProtobufCMessage *msg, void *(*alloc)(void *ctx, size_t size), void (*release)(void *ctx, char *old),
			 void *ctx)
{
	clean_ctx_t c = { alloc, release, ctx };
	return each_string(msg, 0, clean, &c);
}
