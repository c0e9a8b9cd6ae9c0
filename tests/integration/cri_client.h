/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* A small CRI client over gRPC core, for tests: unary calls with typed or raw payloads, and server streams. */

typedef struct cri_client cri_client_t;

typedef struct cri_result {
	int code;       /* gRPC status code */
	char *message;  /* status details */
	ProtobufCMessage *resp; /* decoded response, when code is 0 and a descriptor was given */
} cri_result_t;

cri_client_t *cri_client_new(const char *socket_path);
void cri_client_free(cri_client_t *c);
void cri_result_clear(cri_result_t *r);

/* method: "/runtime.v1.RuntimeService/Version". */
int cri_call(cri_client_t *c, const char *method, const ProtobufCMessage *req,
	     const ProtobufCMessageDescriptor *resp_desc, int timeout_ms, cri_result_t *out);
/* Sends data as the request bytes; send_message=false sends no message at all. */
int cri_call_raw(cri_client_t *c, const char *method, const void *data, size_t len, bool send_message,
		 int timeout_ms, cri_result_t *out);

typedef struct cri_stream cri_stream_t;
cri_stream_t *cri_stream_open(cri_client_t *c, const char *method, const ProtobufCMessage *req, int timeout_ms);
/* Waits up to timeout_ms for the next message. Returns 1 with *ret_msg set, 0 when the stream ended (status in
 * out), -ETIMEDOUT when nothing arrived. */
int cri_stream_next(cri_stream_t *s, const ProtobufCMessageDescriptor *desc, int timeout_ms,
		    ProtobufCMessage **ret_msg, cri_result_t *out);
void cri_stream_cancel(cri_stream_t *s);
void cri_stream_free(cri_stream_t *s);
