/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

#include "common/error.h"
#include "status.h"

/* The gRPC server. grpc.c is the only file that includes gRPC core headers; handlers see only this interface. */

typedef struct srv_daemon srv_daemon_t;
typedef struct srv_grpc srv_grpc_t;
typedef struct srv_call srv_call_t;

/* A unary handler fills resp (already initialised for the method's output type); memory it hangs on resp comes
 * from srv_call_alloc & co and lives until the call ends. */
typedef int (*srv_unary_fn)(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* A server-streaming handler sets the stream up and returns; the stream stays open until srv_stream_end, the
 * client going away, or shutdown. */
typedef int (*srv_stream_fn)(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);

/* Where a call runs. Long calls never delay the quick ones kubelet makes every second. */
typedef enum srv_lane {
	SRV_LANE_POLLER = 0, /* on the completion queue's poller: memory only, no disk, no waiting */
	SRV_LANE_QUICK,      /* a small fixed pool: short reads of local files */
	SRV_LANE_LONG,       /* a thread per call, made on demand up to a bound: pulls, pod and container lifecycle */
} srv_lane_t;

typedef struct srv_method {
	const char *service; /* "runtime.v1.RuntimeService" */
	const char *name;    /* "Version" */
	srv_unary_fn unary;
	srv_stream_fn stream;
	srv_lane_t lane;
} srv_method_t;

/* The dispatch table: every method of both CRI services, implemented or not. */
const srv_method_t *srv_grpc_methods(size_t *ret_n);
/* By path ("/runtime.v1.RuntimeService/Version"); NULL when unknown. */
const srv_method_t *srv_grpc_find_method(const char *path, size_t len);
/* The method's protobuf-c descriptor (its input and output message types). */
const ProtobufCMethodDescriptor *srv_grpc_method_descriptor(const srv_method_t *m);

int srv_grpc_start(srv_daemon_t *d, const char *socket_path, srv_grpc_t **ret, crl_error_t *err);
/* Stops accepting calls, ends streams, lets in-flight calls finish for grace_ms, then cancels the rest, and
 * frees everything. */
void srv_grpc_stop(srv_grpc_t *g, int grace_ms);
/* Whether no call runs now; the number of calls ended so far in *ret_done. */
bool srv_grpc_idle(srv_grpc_t *g, uint64_t *ret_done);

/* --- for handlers --- */
void *srv_call_alloc(srv_call_t *call, size_t size); /* zeroed; NULL on OOM */
/* The call's arena (what srv_call_alloc allocates from), for code that builds messages for calls and others. */
struct srv_arena *srv_call_arena(srv_call_t *call);
char *srv_call_strdup(srv_call_t *call, const char *s);
char *srv_call_printf(srv_call_t *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True once the client cancelled or the deadline passed: long handlers check it and stop. */
bool srv_call_cancelled(const srv_call_t *call);
/* fn(arg) runs when the call is freed (after its answer is sent): for references the answer points into. */
int srv_call_on_end(srv_call_t *call, void (*fn)(void *), void *arg);
const char *srv_call_method(const srv_call_t *call);

/* --- for streaming handlers --- */
#define SRV_STREAM_QUEUE_MAX 128
/* Threads of the long lane at most; calls beyond wait for one. */
#define SRV_LONG_THREADS_MAX 64
#define SRV_QUICK_THREADS 4
typedef void (*srv_stream_closed_fn)(void *user, srv_call_t *call);
/* Called once, from any thread, when the stream has ended for whatever reason; the call stays valid during it. */
void srv_stream_set_closed(srv_call_t *call, srv_stream_closed_fn fn, void *user);
/* Queues a message. A client that lets SRV_STREAM_QUEUE_MAX messages pile up has its stream ended with
 * RESOURCE_EXHAUSTED (it must list again: nothing is silently dropped); returns -ENOBUFS then, -EPIPE when the
 * stream has already ended. */
int srv_stream_send(srv_call_t *call, const ProtobufCMessage *msg);
void srv_stream_end(srv_call_t *call, srv_code_t code, const char *message);
void srv_call_ref(srv_call_t *call);
void srv_call_unref(srv_call_t *call);
