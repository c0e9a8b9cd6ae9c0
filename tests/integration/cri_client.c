/* SPDX-License-Identifier: Apache-2.0 */
#include "cri_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

struct cri_client {
	grpc_channel *ch;
	grpc_completion_queue *cq;
};

cri_client_t *cri_client_new(const char *socket_path)
{
	cri_client_t *c = calloc(1, sizeof(*c));
	char target[512];
	snprintf(target, sizeof(target), "unix:%s", socket_path);
	/* Tests restart daemons: reconnect quickly instead of backing off for seconds. */
	static const struct {
		const char *key;
		int value;
	} ints[] = {
		{ GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 * 1024 * 1024 },
		{ GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50 },
		{ GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50 },
		{ GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500 },
	};
	grpc_arg args[4];
	memset(args, 0, sizeof(args));
	for (size_t i = 0; i < 4; i++) {
		args[i].type = GRPC_ARG_INTEGER;
		args[i].key = (char *)ints[i].key;
		args[i].value.integer = ints[i].value;
	}
	grpc_channel_args chargs = { 4, args };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	c->ch = grpc_channel_create(target, creds, &chargs);
	grpc_channel_credentials_release(creds);
	c->cq = grpc_completion_queue_create_for_pluck(NULL);
	return c;
}

static void drain(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
	       GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

void cri_client_free(cri_client_t *c)
{
	if (!c)
		return;
	grpc_channel_destroy(c->ch);
	drain(c->cq);
	free(c);
}

void cri_result_clear(cri_result_t *r)
{
	free(r->message);
	if (r->resp)
		protobuf_c_message_free_unpacked(r->resp, NULL);
	memset(r, 0, sizeof(*r));
}

static gpr_timespec deadline_in(int ms)
{
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static ProtobufCMessage *decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
	if (!bb || !desc)
		return NULL;
	grpc_byte_buffer_reader r;
	grpc_byte_buffer_reader_init(&r, bb);
	grpc_slice s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return m;
}

static int do_call(cri_client_t *c, const char *method, const void *data, size_t len, bool send_message,
		   const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, cri_result_t *out)
{
	memset(out, 0, sizeof(*out));
	grpc_slice m = grpc_slice_from_copied_string(method);
	grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, m, NULL,
						   deadline_in(timeout_ms), NULL);
	grpc_slice_unref(m);
	grpc_slice payload = grpc_slice_from_copied_buffer(data, len);
	grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&payload, 1);
	grpc_slice_unref(payload);
	grpc_byte_buffer *recv = NULL;
	grpc_metadata_array init_md, trail_md;
	grpc_metadata_array_init(&init_md);
	grpc_metadata_array_init(&trail_md);
	grpc_status_code status = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();
	grpc_op ops[6];
	memset(ops, 0, sizeof(ops));
	size_t n = 0;
	ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (send_message) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = send;
	}
	ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[n++].data.recv_initial_metadata.recv_initial_metadata = &init_md;
	ops[n].op = GRPC_OP_RECV_MESSAGE;
	ops[n++].data.recv_message.recv_message = &recv;
	ops[n].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[n].data.recv_status_on_client.trailing_metadata = &trail_md;
	ops[n].data.recv_status_on_client.status = &status;
	ops[n++].data.recv_status_on_client.status_details = &details;
	int tag = 1;
	grpc_call_error e = grpc_call_start_batch(call, ops, n, &tag, NULL);
	int ret = 0;
	if (e != GRPC_CALL_OK) {
		ret = -EIO;
	} else {
		grpc_event ev = grpc_completion_queue_pluck(c->cq, &tag, deadline_in(timeout_ms + 5000), NULL);
		if (ev.type != GRPC_OP_COMPLETE)
			ret = -ETIMEDOUT;
	}
	if (ret == 0) {
		out->code = (int)status;
		out->message = strndup((const char *)GRPC_SLICE_START_PTR(details), GRPC_SLICE_LENGTH(details));
		if (status == GRPC_STATUS_OK)
			out->resp = decode(recv, resp_desc);
	}
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&init_md);
	grpc_metadata_array_destroy(&trail_md);
	grpc_byte_buffer_destroy(send);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_call_unref(call);
	return ret;
}

int cri_call(cri_client_t *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, cri_result_t *out)
{
	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	protobuf_c_message_pack(req, buf);
	int r = do_call(c, method, buf, len, true, resp_desc, timeout_ms, out);
	free(buf);
	return r;
}

int cri_call_raw(cri_client_t *c, const char *method, const void *data, size_t len, bool send_message,
		 int timeout_ms, cri_result_t *out)
{
	return do_call(c, method, data, len, send_message, NULL, timeout_ms, out);
}

struct cri_stream {
	grpc_call *call;
	grpc_completion_queue *cq;
	grpc_metadata_array init_md, trail_md;
	grpc_status_code status;
	grpc_slice details;
	bool status_done;
	bool recv_pending;
	grpc_byte_buffer *recv;
	int tag_start, tag_recv, tag_status;
};

cri_stream_t *cri_stream_open(cri_client_t *c, const char *method, const ProtobufCMessage *req, int timeout_ms)
{
	cri_stream_t *s = calloc(1, sizeof(*s));
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_slice m = grpc_slice_from_copied_string(method);
	s->call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq, m, NULL,
					   deadline_in(timeout_ms), NULL);
	grpc_slice_unref(m);
	grpc_metadata_array_init(&s->init_md);
	grpc_metadata_array_init(&s->trail_md);
	s->details = grpc_empty_slice();

	size_t len = protobuf_c_message_get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	protobuf_c_message_pack(req, buf);
	grpc_slice payload = grpc_slice_from_copied_buffer((const char *)buf, len);
	free(buf);
	grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&payload, 1);
	grpc_slice_unref(payload);

	grpc_op ops[4];
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
	grpc_call_start_batch(s->call, ops, 4, &s->tag_start, NULL);
	grpc_completion_queue_pluck(s->cq, &s->tag_start, deadline_in(timeout_ms), NULL);
	grpc_byte_buffer_destroy(send);

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &s->trail_md;
	ops[0].data.recv_status_on_client.status = &s->status;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	grpc_call_start_batch(s->call, ops, 1, &s->tag_status, NULL);
	return s;
}

static void fill_status(cri_stream_t *s, cri_result_t *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	out->code = (int)s->status;
	out->message = strndup((const char *)GRPC_SLICE_START_PTR(s->details), GRPC_SLICE_LENGTH(s->details));
}

int cri_stream_next(cri_stream_t *s, const ProtobufCMessageDescriptor *desc, int timeout_ms,
		    ProtobufCMessage **ret_msg, cri_result_t *out)
{
	if (!s->recv_pending) {
		grpc_op op;
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_RECV_MESSAGE;
		op.data.recv_message.recv_message = &s->recv;
		if (grpc_call_start_batch(s->call, &op, 1, &s->tag_recv, NULL) != GRPC_CALL_OK)
			return -EIO;
		s->recv_pending = true;
	}
	grpc_event ev = grpc_completion_queue_pluck(s->cq, &s->tag_recv, deadline_in(timeout_ms), NULL);
	if (ev.type == GRPC_QUEUE_TIMEOUT)
		return -ETIMEDOUT;
	s->recv_pending = false;
	if (s->recv) {
		*ret_msg = decode(s->recv, desc);
		grpc_byte_buffer_destroy(s->recv);
		s->recv = NULL;
		return 1;
	}
	/* End of stream: the status follows. */
	grpc_completion_queue_pluck(s->cq, &s->tag_status, deadline_in(10000), NULL);
	s->status_done = true;
	fill_status(s, out);
	return 0;
}

void cri_stream_cancel(cri_stream_t *s)
{
	grpc_call_cancel(s->call, NULL);
}

void cri_stream_free(cri_stream_t *s)
{
	if (!s)
		return;
	grpc_call_cancel(s->call, NULL);
	if (s->recv_pending)
		grpc_completion_queue_pluck(s->cq, &s->tag_recv, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (!s->status_done)
		grpc_completion_queue_pluck(s->cq, &s->tag_status, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (s->recv)
		grpc_byte_buffer_destroy(s->recv);
	grpc_slice_unref(s->details);
	grpc_metadata_array_destroy(&s->init_md);
	grpc_metadata_array_destroy(&s->trail_md);
	grpc_call_unref(s->call);
	drain(s->cq);
	free(s);
}
