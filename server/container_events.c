/* SPDX-License-Identifier: Apache-2.0 */
#include "container_events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "api.pb-c.h"
#include "common/log.h"
#include "daemon.h"
#include "handlers.h"

typedef struct sub {
	srv_call_t *call;
	struct sub *next;
} sub_t;

struct srv_events {
	pthread_mutex_t lock;
	sub_t *subs;
	size_t n_subs;
};

int srv_events_new(srv_events_t **ret, crl_error_t *err)
{
	srv_events_t *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return crl_error_set(err, ENOMEM, "out of memory");
	pthread_mutex_init(&ev->lock, NULL);
	*ret = ev;
	return 0;
}

void srv_events_free(srv_events_t *ev)
{
	if (!ev)
		return;
	/* The gRPC server is gone by now, and with it every stream (each removed itself). */
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

static void on_stream_closed(void *user, srv_call_t *call)
{
	srv_events_t *ev = user;
	pthread_mutex_lock(&ev->lock);
	for (sub_t **p = &ev->subs; *p; p = &(*p)->next) {
		if ((*p)->call == call) {
			sub_t *s = *p;
			*p = s->next;
			ev->n_subs--;
			free(s);
			break;
		}
	}
	size_t left = ev->n_subs;
	pthread_mutex_unlock(&ev->lock);
	log_debug("container event stream closed (%zu open)", left);
	srv_call_unref(call);
}

int srv_get_container_events(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	(void)req;
	srv_events_t *ev = d->events;
	sub_t *s = calloc(1, sizeof(*s));
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	s->call = call;
	srv_call_ref(call);
	pthread_mutex_lock(&ev->lock);
	s->next = ev->subs;
	ev->subs = s;
	ev->n_subs++;
	pthread_mutex_unlock(&ev->lock);
	srv_stream_set_closed(call, on_stream_closed, ev);
	log_debug("container event stream opened (%zu open)", ev->n_subs);
	return 0;
}

size_t srv_events_count(srv_events_t *ev)
{
	pthread_mutex_lock(&ev->lock);
	size_t n = ev->n_subs;
	pthread_mutex_unlock(&ev->lock);
	return n;
}

void srv_events_publish(srv_events_t *ev, const Runtime__V1__ContainerEventResponse *msg)
{
	/* Sending can end a stream (a slow client), whose closing takes ev->lock: send outside it. */
	pthread_mutex_lock(&ev->lock);
	size_t n = ev->n_subs;
	srv_call_t **calls = n ? calloc(n, sizeof(*calls)) : NULL;
	size_t k = 0;
	for (sub_t *s = ev->subs; s && calls; s = s->next) {
		srv_call_ref(s->call);
		calls[k++] = s->call;
	}
	pthread_mutex_unlock(&ev->lock);
	if (n && !calls)
		log_error("out of memory: container event for %s not delivered", msg->container_id);
	for (size_t i = 0; i < k; i++) {
		srv_stream_send(calls[i], &msg->base);
		srv_call_unref(calls[i]);
	}
	free(calls);
}
