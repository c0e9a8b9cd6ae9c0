/* SPDX-License-Identifier: Apache-2.0 */
#include "exit_watch.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/log.h"
#include "container.h"
#include "daemon.h"
#include "state.h"

struct srv_exits {
	srv_daemon_t *d;
	int ino, stop;
	pthread_t thread;
	bool running;
};

static void take(srv_exits_t *x, const char *name)
{
	char id[SRV_ID_LEN + 1];
	if (!srv_record_id(name, id))
		return;
	srv_ctr_t *c = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_ctr_get(x->d, id, &c, &e) == 0) {
		srv_ctr_refresh(x->d, c);
		srv_ctr_unref(c);
	}
	crl_error_clear(&e);
}

static void take_all(srv_exits_t *x)
{
	srv_obj_t **v = NULL;
	size_t n = 0;
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_store_list(x->d->ctrs, &v, &n, &e) < 0) {
		log_error("exit watcher: %s", crl_error_message(&e));
		crl_error_clear(&e);
		return;
	}
	for (size_t i = 0; i < n; i++)
		srv_ctr_refresh(x->d, srv_ctr_of(v[i]));
	srv_store_list_free(v, n);
}

static void *watch_main(void *arg)
{
	srv_exits_t *x = arg;
	_Alignas(struct inotify_event) char buf[64 * (sizeof(struct inotify_event) + NAME_MAX + 1)];
	for (;;) {
		struct pollfd p[2] = { { x->ino, POLLIN, 0 }, { x->stop, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("exit watcher: poll: %s", strerror(errno));
			return NULL;
		}
		if (p[1].revents)
			return NULL;
		ssize_t n = read(x->ino, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			if (ev->mask & IN_Q_OVERFLOW)
				take_all(x); /* events were lost: look at every container */
			else if (ev->len && (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)))
				take(x, ev->name);
			q += sizeof(*ev) + ev->len;
		}
	}
}

int srv_exits_new(srv_daemon_t *d, srv_exits_t **ret, crl_error_t *err)
{
	srv_exits_t *x = calloc(1, sizeof(*x));
	if (!x)
		return crl_error_set(err, ENOMEM, "out of memory");
	x->d = d;
	x->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	x->stop = eventfd(0, EFD_CLOEXEC);
	int r = 0;
	if (x->ino < 0 || x->stop < 0)
		r = crl_error_set_errno(err, errno, "inotify for container exits");
	else if ((errno = pthread_create(&x->thread, NULL, watch_main, x)) != 0)
		r = crl_error_set_errno(err, errno, "start the exit watcher");
	else
		x->running = true;
	if (r < 0) {
		srv_exits_free(x);
		return r;
	}
	*ret = x;
	return 0;
}

void srv_exits_free(srv_exits_t *x)
{
	if (!x)
		return;
	if (x->running) {
		uint64_t one = 1;
		if (write(x->stop, &one, sizeof(one)) != sizeof(one))
			log_error("exit watcher: cannot stop it: %s", strerror(errno));
		pthread_join(x->thread, NULL);
	}
	if (x->ino >= 0)
		close(x->ino);
	if (x->stop >= 0)
		close(x->stop);
	free(x);
}

int srv_exits_watch(srv_exits_t *x, const char *pod_dir, crl_error_t *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/exits", pod_dir) >= sizeof(path))
		return crl_error_set(err, ENAMETOOLONG, "%s/exits: path too long", pod_dir);
	if (inotify_add_watch(x->ino, path, IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR) < 0)
		return crl_error_set_errno(err, errno, "watch %s", path);
	return 0;
}
