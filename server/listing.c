/* SPDX-License-Identifier: Apache-2.0 */
#include "listing.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int srv_select(srv_daemon_t *d, srv_store_t *s, srv_call_t *call, const void *filter, srv_keep_fn keep,
	       srv_fill_fn fill, size_t item_size, void ***ret, size_t *ret_n, crl_error_t *err)
{
	srv_obj_t **kept = NULL;
	size_t n = 0;
	int r = srv_store_list_held(s, call, &kept, &n, err);
	if (r < 0)
		return r;
	void **items = srv_call_alloc(call, (n + 1) * sizeof(*items));
	unsigned char *its = srv_call_alloc(call, (n + 1) * item_size);
	if (!items || !its)
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!keep(d, kept[i], filter))
			continue;
		void *it = its + k * item_size;
		if (fill(d, call, kept[i], it) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		items[k++] = it;
	}
	*ret = items;
	*ret_n = k;
	return 0;
}

int srv_stream_list(srv_call_t *call, const ProtobufCMessageDescriptor *desc, void **items, size_t n,
		    crl_error_t *err)
{
	const ProtobufCFieldDescriptor *f = &desc->fields[0];
	/* Every Stream*Response is one repeated message field: its count and its array, set through the
	 * descriptor. */
	if (desc->n_fields != 1 || f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return crl_error_set(err, EINVAL, "%s is not a list message", desc->name);
	ProtobufCMessage *m = srv_call_alloc(call, desc->sizeof_message);
	if (!m)
		return crl_error_set(err, ENOMEM, "out of memory");
	desc->message_init(m);
	size_t off = 0;
	do {
		size_t chunk = n - off < SRV_STREAM_CHUNK ? n - off : SRV_STREAM_CHUNK;
		*(size_t *)((char *)m + f->quantifier_offset) = chunk;
		*(void ***)((char *)m + f->offset) = items + off;
		int r = srv_stream_send(call, m);
		if (r < 0)
			return r == -EPIPE ? 0 : crl_error_set(err, -r, "%s: send failed", desc->name);
		off += chunk;
	} while (off < n);
	srv_stream_end(call, SRV_OK, "");
	return 0;
}
