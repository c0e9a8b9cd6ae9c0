/* SPDX-License-Identifier: Apache-2.0 */
/* The only gRPC core user. One completion queue polled by a few threads; blocking handlers run on a worker
 * pool. Calls arrive through generic requests, so a method nobody handles still gets an answer
 * (UNIMPLEMENTED) instead of hanging. Every call starts RECV_CLOSE_ON_SERVER first, so a cancelled or expired
 * call is noticed while its handler runs or its stream waits. */
#include "grpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "common/timefmt.h"
#include "metrics.h"
#include "common/log.h"
#include "daemon.h"
#include "arena.h"
#include "sanitize.h"

#define N_POLLERS 2
#define N_PENDING_REQUESTS 8
/* Calls waiting for a worker of one lane beyond this get RESOURCE_EXHAUSTED. */
#define WORK_QUEUE_MAX 1024
/* A long-lane thread idle this long goes. */
#define LONG_IDLE_MS 30000

/* --- calls --- */

typedef enum { TAG_NEW, TAG_RECV, TAG_CLOSE, TAG_SEND, TAG_WRITE, TAG_SHUTDOWN } tag_kind_t;

typedef struct tag {
	tag_kind_t kind;
	srv_call_t *call;
} tag_t;


struct srv_call {
	srv_grpc_t *g;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
	grpc_byte_buffer *recv_buf;
	int close_cancelled;
	tag_t t_new, t_recv, t_close, t_send, t_write;
	char *path;
	const srv_method_t *m;
	const ProtobufCMethodDescriptor *md_desc;
	int64_t started_ns; /* CLOCK_MONOTONIC, when the call was taken */
	pthread_mutex_t lock;
	int refs;
	bool accepted; /* counted in g->active_calls */
	atomic_bool cancelled;
	bool initial_md_sent;
	grpc_slice status_details;
	bool have_status_details;
	grpc_byte_buffer *send_buf;
	srv_arena_t arena;
	srv_call_t *work_next;
	struct on_end *on_end;
	/* streams */
	bool is_stream;
	bool stream_done; /* no more messages: ending or ended */
	bool final_sent;
	bool write_in_flight;
	bool closed_notified;
	srv_code_t end_code;
	char *end_msg;
	grpc_byte_buffer *queue[SRV_STREAM_QUEUE_MAX];
	size_t q_head, q_len;
	srv_stream_closed_fn closed_fn;
	void *closed_user;
	srv_call_t *s_prev, *s_next;
};

typedef struct on_end {
	void (*fn)(void *);
	void *arg;
	struct on_end *next;
} on_end_t;

/* A lane's workers: detached threads, counted; made on demand up to max, gone after idle_ms without work (0:
 * never). */
typedef struct pool {
	srv_grpc_t *g; /* the server the pool is part of */
	pthread_cond_t cond;
	srv_call_t *head, *tail;
	size_t len;
	size_t n_threads, n_idle, max;
	int idle_ms;
} pool_t;

struct srv_grpc {
	srv_daemon_t *d;
	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t pollers[N_POLLERS];
	size_t n_pollers;
	tag_t shutdown_tag;

	pthread_mutex_t lock;
	pthread_cond_t state_cond;
	pool_t quick, slow;
	bool stopping_workers;
	bool shutting_down;
	bool shutdown_done;
	size_t active_calls;
	uint64_t calls_done; /* calls ended since the start */
	srv_call_t *streams; /* open streams, ended on shutdown */
};

static void start_stream_final(srv_call_t *c);

static void *arena_alloc(srv_call_t *c, size_t size)
{
	return srv_arena_alloc(&c->arena, size);
}

srv_arena_t *srv_call_arena(srv_call_t *call)
{
	return &call->arena;
}

void *srv_call_alloc(srv_call_t *call, size_t size)
{
	return arena_alloc(call, size);
}

char *srv_call_strdup(srv_call_t *call, const char *s)
{
	return srv_arena_strdup(&call->arena, s);
}

char *srv_call_printf(srv_call_t *call, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *tmp = NULL;
	int n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	char *p = srv_call_strdup(call, tmp);
	free(tmp);
	return p;
}

int srv_call_on_end(srv_call_t *call, void (*fn)(void *), void *arg)
{
	on_end_t *e = malloc(sizeof(*e));
	if (!e) {
		/* The reference is released now rather than never; callers hold their own until they return. */
		return -ENOMEM;
	}
	e->fn = fn;
	e->arg = arg;
	pthread_mutex_lock(&call->lock);
	e->next = call->on_end;
	call->on_end = e;
	pthread_mutex_unlock(&call->lock);
	return 0;
}

bool srv_call_cancelled(const srv_call_t *call)
{
	return atomic_load(&call->cancelled);
}

const char *srv_call_method(const srv_call_t *call)
{
	return call->path ? call->path : "";
}

static srv_call_t *call_new(srv_grpc_t *g)
{
	srv_call_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->g = g;
	pthread_mutex_init(&c->lock, NULL);
	grpc_call_details_init(&c->details);
	grpc_metadata_array_init(&c->md);
	c->t_new = (tag_t){ TAG_NEW, c };
	c->t_recv = (tag_t){ TAG_RECV, c };
	c->t_close = (tag_t){ TAG_CLOSE, c };
	c->t_send = (tag_t){ TAG_SEND, c };
	c->t_write = (tag_t){ TAG_WRITE, c };
	return c;
}

static void call_free(srv_call_t *c)
{
	srv_grpc_t *g = c->g;
	if (c->call)
		grpc_call_unref(c->call);
	grpc_call_details_destroy(&c->details);
	grpc_metadata_array_destroy(&c->md);
	if (c->recv_buf)
		grpc_byte_buffer_destroy(c->recv_buf);
	if (c->send_buf)
		grpc_byte_buffer_destroy(c->send_buf);
	if (c->have_status_details)
		grpc_slice_unref(c->status_details);
	for (size_t i = 0; i < c->q_len; i++)
		grpc_byte_buffer_destroy(c->queue[(c->q_head + i) % SRV_STREAM_QUEUE_MAX]);
	srv_arena_done(&c->arena);
	while (c->on_end) {
		on_end_t *e = c->on_end;
		c->on_end = e->next;
		e->fn(e->arg);
		free(e);
	}
	free(c->end_msg);
	free(c->path);
	pthread_mutex_destroy(&c->lock);
	bool accepted = c->accepted;
	free(c);
	if (accepted) {
		pthread_mutex_lock(&g->lock);
		g->active_calls--;
		g->calls_done++;
		pthread_cond_broadcast(&g->state_cond);
		pthread_mutex_unlock(&g->lock);
	}
}

void srv_call_ref(srv_call_t *c)
{
	pthread_mutex_lock(&c->lock);
	c->refs++;
	pthread_mutex_unlock(&c->lock);
}

void srv_call_unref(srv_call_t *c)
{
	pthread_mutex_lock(&c->lock);
	int left = --c->refs;
	pthread_mutex_unlock(&c->lock);
	if (left == 0)
		call_free(c);
}

static void request_call(srv_grpc_t *g)
{
	srv_call_t *c = call_new(g);
	if (!c) {
		log_error("out of memory: cannot accept more gRPC calls");
		return;
	}
	grpc_call_error e = grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, &c->t_new);
	if (e != GRPC_CALL_OK) {
		log_error("grpc_server_request_call failed: %d", e);
		call_free(c);
	}
}

/* Starts a batch holding a call ref for it; called with c->lock held. */
static bool start_batch_locked(srv_call_t *c, grpc_op *ops, size_t n, tag_t *t)
{
	c->refs++;
	grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
	if (e != GRPC_CALL_OK) {
		c->refs--;
		log_error("%s: grpc_call_start_batch failed: %d", srv_call_method(c), e);
		return false;
	}
	return true;
}

static grpc_byte_buffer *buffer_from(const void *data, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer(data, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

/* Finishes a call: optional payload, then status. Called with c->lock held, once per call. */
static void send_final_locked(srv_call_t *c, grpc_byte_buffer *payload, srv_code_t code, const char *msg)
{
	grpc_op ops[3];
	size_t n = 0;
	memset(ops, 0, sizeof(ops));
	if (!c->initial_md_sent) {
		ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
		ops[n].data.send_initial_metadata.count = 0;
		n++;
		c->initial_md_sent = true;
	}
	if (payload) {
		c->send_buf = payload;
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n].data.send_message.send_message = payload;
		n++;
	}
	c->status_details = grpc_slice_from_copied_string(msg ? msg : "");
	c->have_status_details = true;
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = (grpc_status_code)code;
	ops[n].data.send_status_from_server.status_details = &c->status_details;
	ops[n].data.send_status_from_server.trailing_metadata_count = 0;
	n++;
	c->final_sent = true;
	srv_metrics_rpc(c->m, (int)code, crl_now_ns(CLOCK_MONOTONIC) - c->started_ns);
	start_batch_locked(c, ops, n, &c->t_send);
}

static void finish_with_status(srv_call_t *c, srv_code_t code, const char *msg)
{
	pthread_mutex_lock(&c->lock);
	send_final_locked(c, NULL, code, msg);
	pthread_mutex_unlock(&c->lock);
}

static void log_failure(const srv_call_t *c, srv_code_t code, const char *msg)
{
	if (code == SRV_UNIMPLEMENTED)
		log_debug("%s: %s: %s", srv_call_method(c), srv_code_name(code), msg);
	else if (code == SRV_INTERNAL || code == SRV_UNKNOWN || code == SRV_DATA_LOSS)
		log_error("%s: %s: %s", srv_call_method(c), srv_code_name(code), msg);
	else
		log_info("%s: %s: %s", srv_call_method(c), srv_code_name(code), msg);
}

static void *arena_alloc_cb(void *ctx, size_t size)
{
	return arena_alloc(ctx, size);
}

static grpc_byte_buffer *pack_message(srv_call_t *c, ProtobufCMessage *msg)
{
	/* Responses are cleaned in place: the call's arena holds the cleaned strings. */
	if (srv_message_sanitize(msg, arena_alloc_cb, NULL, c) < 0)
		return NULL;
	size_t len = protobuf_c_message_get_packed_size(msg);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	protobuf_c_message_pack(msg, buf);
	return buffer_from(buf, len);
}

/* Runs the handler for a decoded request and answers. On a poller or a worker. */
static void run_call(srv_call_t *c)
{
	srv_grpc_t *g = c->g;
	const ProtobufCMessageDescriptor *in = c->md_desc->input, *out = c->md_desc->output;
	crl_error_t err = CRL_ERROR_INIT;
	ProtobufCMessage *req = NULL;
	srv_code_t code = SRV_OK;
	const char *msg = "";
	char buf[256];

	if (!c->recv_buf) {
		code = SRV_INVALID_ARGUMENT;
		snprintf(buf, sizeof(buf), "%s: the request carried no message", srv_call_method(c));
		msg = buf;
		goto done;
	}
	grpc_byte_buffer_reader reader;
	if (!grpc_byte_buffer_reader_init(&reader, c->recv_buf)) {
		code = SRV_INVALID_ARGUMENT;
		snprintf(buf, sizeof(buf), "%s: cannot read the request message", srv_call_method(c));
		msg = buf;
		goto done;
	}
	grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	req = protobuf_c_message_unpack(in, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	if (!req) {
		code = SRV_INVALID_ARGUMENT;
		snprintf(buf, sizeof(buf), "%s: malformed request: not a valid %s message", srv_call_method(c),
			 in->name);
		msg = buf;
		goto done;
	}

	if (c->m->stream) {
		pthread_mutex_lock(&g->lock);
		bool refused = g->shutting_down;
		if (!refused) {
			c->s_next = g->streams;
			if (g->streams)
				g->streams->s_prev = c;
			g->streams = c;
		}
		pthread_mutex_unlock(&g->lock);
		if (refused) {
			code = SRV_UNAVAILABLE;
			msg = "crio-lite is shutting down";
			goto done;
		}
		pthread_mutex_lock(&c->lock);
		c->is_stream = true;
		/* Headers go out now so the client knows the stream is established. */
		grpc_op op;
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_SEND_INITIAL_METADATA;
		c->initial_md_sent = true;
		c->write_in_flight = true;
		start_batch_locked(c, &op, 1, &c->t_write);
		pthread_mutex_unlock(&c->lock);
		if (c->m->stream(g->d, c, req, &err) < 0) {
			srv_code_t ec = srv_status_from_error(&err);
			log_failure(c, ec, crl_error_message(&err));
			srv_stream_end(c, ec, crl_error_message(&err));
		} else if (srv_call_cancelled(c)) {
			/* The client left before the stream was set up: on_close saw no stream to end. */
			srv_stream_end(c, SRV_CANCELLED, "cancelled by the client");
		}
		protobuf_c_message_free_unpacked(req, NULL);
		crl_error_clear(&err);
		/* The handler's ref (taken at accept) now belongs to the stream until it ends. */
		return;
	}

	ProtobufCMessage *resp = arena_alloc(c, out->sizeof_message);
	if (!resp) {
		code = SRV_RESOURCE_EXHAUSTED;
		msg = "out of memory";
		goto done;
	}
	out->message_init(resp);
	if (c->m->unary(g->d, c, req, resp, &err) < 0) {
		code = srv_status_from_error(&err);
		msg = crl_error_message(&err);
		goto done;
	}
	grpc_byte_buffer *payload = pack_message(c, resp);
	if (!payload) {
		code = SRV_RESOURCE_EXHAUSTED;
		msg = "out of memory packing the response";
		goto done;
	}
	pthread_mutex_lock(&c->lock);
	send_final_locked(c, payload, SRV_OK, "");
	pthread_mutex_unlock(&c->lock);
	goto out;
done:
	log_failure(c, code, msg);
	finish_with_status(c, code, msg);
out:
	if (req)
		protobuf_c_message_free_unpacked(req, NULL);
	crl_error_clear(&err);
	srv_call_unref(c); /* the handler's ref */
}

/* --- worker pools --- */

static void *worker_main(void *arg);

/* Called with p->g->lock held. */
static bool spawn_worker_locked(pool_t *p)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* Handlers keep their large buffers on the heap. */
	pthread_attr_setstacksize(&a, 512 * 1024);
	pthread_t t;
	bool ok = pthread_create(&t, &a, worker_main, p) == 0;
	pthread_attr_destroy(&a);
	if (!ok)
		return false;
	p->n_threads++;
	return true;
}

static void *worker_main(void *arg)
{
	pool_t *p = arg;
	srv_grpc_t *g = p->g;
	pthread_mutex_lock(&g->lock);
	for (;;) {
		bool idle_out = false;
		while (!p->head && !g->stopping_workers && !idle_out) {
			p->n_idle++;
			if (p->idle_ms > 0) {
				struct timespec dl;
				clock_gettime(CLOCK_REALTIME, &dl);
				dl.tv_sec += p->idle_ms / 1000;
				idle_out = pthread_cond_timedwait(&p->cond, &g->lock, &dl) != 0 && !p->head;
			} else {
				pthread_cond_wait(&p->cond, &g->lock);
			}
			p->n_idle--;
		}
		if (!p->head)
			break;
		srv_call_t *c = p->head;
		p->head = c->work_next;
		if (!p->head)
			p->tail = NULL;
		p->len--;
		pthread_mutex_unlock(&g->lock);
		if (srv_call_cancelled(c)) {
			/* Nobody is waiting for the answer any more. */
			finish_with_status(c, SRV_CANCELLED, "call cancelled before it started");
			srv_call_unref(c);
		} else {
			run_call(c);
		}
		pthread_mutex_lock(&g->lock);
	}
	p->n_threads--;
	pthread_cond_broadcast(&g->state_cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static bool enqueue_work(srv_grpc_t *g, pool_t *p, srv_call_t *c)
{
	pthread_mutex_lock(&g->lock);
	if (p->len >= WORK_QUEUE_MAX || g->stopping_workers) {
		pthread_mutex_unlock(&g->lock);
		return false;
	}
	c->work_next = NULL;
	if (p->tail)
		p->tail->work_next = c;
	else
		p->head = c;
	p->tail = c;
	p->len++;
	/* Every queued call beyond the idle workers wants a thread of its own, up to the lane's bound. */
	if (p->n_idle < p->len && p->n_threads < p->max && !spawn_worker_locked(p) && p->n_threads == 0) {
		/* No thread at all can run it: take it back and refuse. */
		p->head = p->tail = NULL;
		p->len = 0;
		pthread_mutex_unlock(&g->lock);
		return false;
	}
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&g->lock);
	return true;
}

/* --- streams --- */

void srv_stream_set_closed(srv_call_t *c, srv_stream_closed_fn fn, void *user)
{
	pthread_mutex_lock(&c->lock);
	/* A stream the client left before its handler got here has been closed already: told at once, or its owner
	 * would wait for the news forever (and hold its reference). */
	bool already = c->closed_notified;
	if (!already) {
		c->closed_fn = fn;
		c->closed_user = user;
	}
	pthread_mutex_unlock(&c->lock);
	if (already)
		fn(user, c);
}

/* Called with c->lock held and no write in flight. */
static void pump_locked(srv_call_t *c)
{
	if (c->write_in_flight || c->final_sent)
		return;
	if (c->q_len > 0 && !atomic_load(&c->cancelled)) {
		grpc_byte_buffer *bb = c->queue[c->q_head];
		c->q_head = (c->q_head + 1) % SRV_STREAM_QUEUE_MAX;
		c->q_len--;
		grpc_op op;
		memset(&op, 0, sizeof(op));
		op.op = GRPC_OP_SEND_MESSAGE;
		op.data.send_message.send_message = bb;
		c->send_buf = bb;
		c->write_in_flight = true;
		if (!start_batch_locked(c, &op, 1, &c->t_write)) {
			c->write_in_flight = false;
			c->send_buf = NULL;
			grpc_byte_buffer_destroy(bb);
		}
		return;
	}
	if (c->stream_done)
		start_stream_final(c);
}

static void *heap_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

static void heap_release(void *ctx, char *old)
{
	(void)ctx;
	free(old);
}

int srv_stream_send(srv_call_t *c, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(msg, buf);
	if (!srv_message_utf8_valid(msg)) {
		/* The caller's message is not ours to change: clean a copy (strings of an unpacked message are
		 * malloc'd, so they are swapped with free) and send that. */
		ProtobufCMessage *copy = protobuf_c_message_unpack(msg->descriptor, NULL, len, buf);
		if (!copy || srv_message_sanitize(copy, heap_alloc, heap_release, NULL) < 0) {
			protobuf_c_message_free_unpacked(copy, NULL);
			return -ENOMEM;
		}
		len = protobuf_c_message_get_packed_size(copy);
		uint8_t *nb = realloc(buf, len ? len : 1);
		if (!nb) {
			protobuf_c_message_free_unpacked(copy, NULL);
			return -ENOMEM;
		}
		buf = nb;
		protobuf_c_message_pack(copy, buf);
		protobuf_c_message_free_unpacked(copy, NULL);
	}
	pthread_mutex_lock(&c->lock);
	if (c->stream_done) {
		pthread_mutex_unlock(&c->lock);
		return -EPIPE;
	}
	if (c->q_len == SRV_STREAM_QUEUE_MAX) {
		pthread_mutex_unlock(&c->lock);
		char m[160];
		snprintf(m, sizeof(m), "%s: the client fell %d messages behind; the stream is ended so it can list again",
			 srv_call_method(c), SRV_STREAM_QUEUE_MAX);
		log_warn("%s", m);
		srv_stream_end(c, SRV_RESOURCE_EXHAUSTED, m);
		return -ENOBUFS;
	}
	c->queue[(c->q_head + c->q_len) % SRV_STREAM_QUEUE_MAX] = buffer_from(buf, len);
	c->q_len++;
	pump_locked(c);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Takes the stream off the server's list and tells its owner, once. */
static void stream_closed(srv_call_t *c)
{
	srv_grpc_t *g = c->g;
	pthread_mutex_lock(&c->lock);
	bool notify = !c->closed_notified;
	c->closed_notified = true;
	srv_stream_closed_fn fn = c->closed_fn;
	void *user = c->closed_user;
	pthread_mutex_unlock(&c->lock);
	if (!notify)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->s_prev)
		c->s_prev->s_next = c->s_next;
	else if (g->streams == c)
		g->streams = c->s_next;
	if (c->s_next)
		c->s_next->s_prev = c->s_prev;
	c->s_prev = c->s_next = NULL;
	pthread_mutex_unlock(&g->lock);
	if (fn)
		fn(user, c);
}

/* Called with c->lock held; sends the final status (unless the client is gone) and drops the stream's ref. */
static void start_stream_final(srv_call_t *c)
{
	if (c->final_sent)
		return;
	if (atomic_load(&c->cancelled)) {
		c->final_sent = true;
		srv_metrics_rpc(c->m, SRV_CANCELLED, crl_now_ns(CLOCK_MONOTONIC) - c->started_ns);
	} else {
		send_final_locked(c, NULL, c->end_code, c->end_msg ? c->end_msg : "");
	}
	/* The stream's ref: released by the caller after unlocking (see release_stream_ref). */
	c->refs--;
}

void srv_stream_end(srv_call_t *c, srv_code_t code, const char *message)
{
	pthread_mutex_lock(&c->lock);
	if (c->stream_done) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->stream_done = true;
	c->end_code = code;
	c->end_msg = strdup(message ? message : "");
	c->refs++; /* keep c alive past pump_locked, which may drop the stream's ref */
	pump_locked(c);
	pthread_mutex_unlock(&c->lock);
	stream_closed(c);
	srv_call_unref(c);
}

/* --- completion handling --- */

static void on_new_call(srv_call_t *c, bool ok)
{
	srv_grpc_t *g = c->g;
	if (!ok) {
		/* The server is shutting down: this request will never be matched. */
		call_free(c);
		return;
	}
	pthread_mutex_lock(&g->lock);
	bool shutting = g->shutting_down;
	g->active_calls++;
	pthread_mutex_unlock(&g->lock);
	c->accepted = true;
	if (!shutting)
		request_call(g);

	size_t plen = GRPC_SLICE_LENGTH(c->details.method);
	c->path = strndup((const char *)GRPC_SLICE_START_PTR(c->details.method), plen > 1024 ? 1024 : plen);
	c->refs = 1; /* the handler's */
	c->started_ns = crl_now_ns(CLOCK_MONOTONIC);

	pthread_mutex_lock(&c->lock);
	grpc_op op;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &c->close_cancelled;
	start_batch_locked(c, &op, 1, &c->t_close);
	pthread_mutex_unlock(&c->lock);

	c->m = srv_grpc_find_method((const char *)GRPC_SLICE_START_PTR(c->details.method), plen);
	char msg[1200];
	if (!c->m) {
		snprintf(msg, sizeof(msg), "unknown method %s", srv_call_method(c));
		log_debug("%s", msg);
		finish_with_status(c, SRV_UNIMPLEMENTED, msg);
		srv_call_unref(c);
		return;
	}
	if (!c->m->unary && !c->m->stream) {
		snprintf(msg, sizeof(msg), "%s is not implemented by crio-lite yet", srv_call_method(c));
		log_debug("%s", msg);
		finish_with_status(c, SRV_UNIMPLEMENTED, msg);
		srv_call_unref(c);
		return;
	}
	c->md_desc = srv_grpc_method_descriptor(c->m);
	pthread_mutex_lock(&c->lock);
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &c->recv_buf;
	start_batch_locked(c, &op, 1, &c->t_recv);
	pthread_mutex_unlock(&c->lock);
}

static void on_recv(srv_call_t *c, bool ok)
{
	(void)ok; /* a failed receive leaves recv_buf NULL, answered as a missing message */
	if (c->m->lane == SRV_LANE_POLLER) {
		run_call(c);
		return;
	}
	/* The queue holds the handler's ref from here. */
	if (!enqueue_work(c->g, c->m->lane == SRV_LANE_QUICK ? &c->g->quick : &c->g->slow, c)) {
		log_failure(c, SRV_RESOURCE_EXHAUSTED, "too many calls waiting for a worker");
		finish_with_status(c, SRV_RESOURCE_EXHAUSTED, "too many calls waiting for a worker; try again");
		srv_call_unref(c);
	}
}

static void on_close(srv_call_t *c)
{
	pthread_mutex_lock(&c->lock);
	bool cancelled = c->close_cancelled != 0;
	if (cancelled)
		atomic_store(&c->cancelled, true);
	bool is_stream = c->is_stream;
	pthread_mutex_unlock(&c->lock);
	if (cancelled && is_stream)
		srv_stream_end(c, SRV_CANCELLED, "cancelled by the client");
}

static void on_write(srv_call_t *c, bool ok)
{
	pthread_mutex_lock(&c->lock);
	c->write_in_flight = false;
	if (c->send_buf) {
		grpc_byte_buffer_destroy(c->send_buf);
		c->send_buf = NULL;
	}
	if (!ok)
		atomic_store(&c->cancelled, true);
	c->refs++;
	pump_locked(c);
	pthread_mutex_unlock(&c->lock);
	srv_call_unref(c);
}

static void handle_tag(srv_grpc_t *g, tag_t *t, bool ok)
{
	srv_call_t *c = t->call;
	switch (t->kind) {
	case TAG_SHUTDOWN:
		pthread_mutex_lock(&g->lock);
		g->shutdown_done = true;
		pthread_cond_broadcast(&g->state_cond);
		pthread_mutex_unlock(&g->lock);
		return;
	case TAG_NEW:
		on_new_call(c, ok);
		return;
	case TAG_RECV:
		on_recv(c, ok);
		break;
	case TAG_CLOSE:
		on_close(c);
		break;
	case TAG_SEND:
		break;
	case TAG_WRITE:
		on_write(c, ok);
		break;
	}
	srv_call_unref(c); /* the batch's ref */
}

static void *poller_main(void *arg)
{
	srv_grpc_t *g = arg;
	for (;;) {
		grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			handle_tag(g, ev.tag, ev.success != 0);
	}
	return NULL;
}

/* gRPC core's own log lines join ours, below our own levels. */
static void grpc_log_sink(gpr_log_func_args *args)
{
	if (args->severity == GPR_LOG_SEVERITY_ERROR)
		log_debug("grpc: %s:%d: %s", args->file, args->line, args->message);
	else if (crl_log_enabled(CRL_LOG_TRACE))
		crl_log(CRL_LOG_TRACE, "grpc: %s:%d: %s", args->file, args->line, args->message);
}

int srv_grpc_start(srv_daemon_t *d, const char *socket_path, srv_grpc_t **ret, crl_error_t *err)
{
	gpr_set_log_function(grpc_log_sink);
	srv_grpc_t *g = calloc(1, sizeof(*g));
	if (!g)
		return crl_error_set(err, ENOMEM, "out of memory");
	g->d = d;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->state_cond, NULL);
	pthread_cond_init(&g->quick.cond, NULL);
	pthread_cond_init(&g->slow.cond, NULL);
	g->quick.g = g->slow.g = g;
	g->quick.max = SRV_QUICK_THREADS;
	g->slow.max = SRV_LONG_THREADS_MAX;
	g->slow.idle_ms = LONG_IDLE_MS;
	g->shutdown_tag = (tag_t){ TAG_SHUTDOWN, NULL };

	grpc_arg args[2];
	memset(args, 0, sizeof(args));
	args[0].type = GRPC_ARG_INTEGER;
	args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	args[0].value.integer = (int)d->cfg.grpc_max_recv_msg_size;
	args[1].type = GRPC_ARG_INTEGER;
	args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	args[1].value.integer = (int)d->cfg.grpc_max_send_msg_size;
	grpc_channel_args chargs = { .num_args = 2, .args = args };

	g->server = grpc_server_create(&chargs, NULL);
	g->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(g->server, g->cq, NULL);

	char addr[200];
	snprintf(addr, sizeof(addr), "unix:%s", socket_path);
	grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
	int port = grpc_server_add_http2_port(g->server, addr, creds);
	grpc_server_credentials_release(creds);
	if (port == 0) {
		grpc_server_destroy(g->server);
		grpc_completion_queue_shutdown(g->cq);
		grpc_completion_queue_destroy(g->cq);
		free(g);
		return crl_error_set(err, EADDRINUSE, "cannot listen on %s (is the directory writable?)", socket_path);
	}
	grpc_server_start(g->server);
	for (int i = 0; i < N_PENDING_REQUESTS; i++)
		request_call(g);
	pthread_mutex_lock(&g->lock);
	for (size_t i = 0; i < SRV_QUICK_THREADS; i++)
		spawn_worker_locked(&g->quick);
	bool have_workers = g->quick.n_threads > 0;
	pthread_mutex_unlock(&g->lock);
	for (size_t i = 0; i < N_POLLERS; i++)
		if (pthread_create(&g->pollers[g->n_pollers], NULL, poller_main, g) == 0)
			g->n_pollers++;
	if (!have_workers || g->n_pollers == 0) {
		srv_grpc_stop(g, 0);
		return crl_error_set(err, EAGAIN, "cannot start gRPC threads");
	}
	/* kubelet runs as root; group members (a node's admin group) may use crictl. */
	if (chmod(socket_path, 0660) < 0) {
		int e = errno;
		srv_grpc_stop(g, 0);
		return crl_error_set_errno(err, e, "chmod 0660 %s", socket_path);
	}
	*ret = g;
	return 0;
}

static bool wait_until(srv_grpc_t *g, bool (*cond)(srv_grpc_t *), int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g->lock);
	int r = 0;
	while (!cond(g) && r == 0)
		r = timeout_ms < 0 ? pthread_cond_wait(&g->state_cond, &g->lock)
				   : pthread_cond_timedwait(&g->state_cond, &g->lock, &deadline);
	bool ok = cond(g);
	pthread_mutex_unlock(&g->lock);
	return ok;
}

static bool is_shutdown_done(srv_grpc_t *g)
{
	return g->shutdown_done;
}

bool srv_grpc_idle(srv_grpc_t *g, uint64_t *ret_done)
{
	pthread_mutex_lock(&g->lock);
	bool idle = g->active_calls == 0;
	*ret_done = g->calls_done;
	pthread_mutex_unlock(&g->lock);
	return idle;
}

static bool no_active_calls(srv_grpc_t *g)
{
	return g->active_calls == 0;
}

void srv_grpc_stop(srv_grpc_t *g, int grace_ms)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->shutting_down = true;
	pthread_mutex_unlock(&g->lock);
	grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);

	/* Streams never finish by themselves: end them now. */
	for (;;) {
		pthread_mutex_lock(&g->lock);
		srv_call_t *s = g->streams;
		if (s)
			srv_call_ref(s);
		pthread_mutex_unlock(&g->lock);
		if (!s)
			break;
		srv_stream_end(s, SRV_UNAVAILABLE, "crio-lite is shutting down");
		/* srv_stream_end unlinks it (stream_closed), so the loop advances. */
		srv_call_unref(s);
	}

	if (g->n_pollers > 0 && !wait_until(g, is_shutdown_done, grace_ms)) {
		log_warn("calls still running after %d ms; cancelling them", grace_ms);
		grpc_server_cancel_all_calls(g->server);
	}
	if (g->n_pollers > 0)
		wait_until(g, is_shutdown_done, -1);

	pthread_mutex_lock(&g->lock);
	g->stopping_workers = true;
	pthread_cond_broadcast(&g->quick.cond);
	pthread_cond_broadcast(&g->slow.cond);
	/* Workers are detached: they are gone when the lanes count none. */
	while (g->quick.n_threads + g->slow.n_threads > 0)
		pthread_cond_wait(&g->state_cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	if (g->n_pollers > 0)
		wait_until(g, no_active_calls, -1);

	grpc_server_destroy(g->server);
	grpc_completion_queue_shutdown(g->cq);
	for (size_t i = 0; i < g->n_pollers; i++)
		pthread_join(g->pollers[i], NULL);
	if (g->n_pollers == 0)
		while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
		       GRPC_QUEUE_SHUTDOWN)
			;
	grpc_completion_queue_destroy(g->cq);
	pthread_cond_destroy(&g->quick.cond);
	pthread_cond_destroy(&g->slow.cond);
	pthread_cond_destroy(&g->state_cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
