/* SPDX-License-Identifier: Apache-2.0 */
#include "invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/spawn.h"
#include "common/timefmt.h"

#define READ_CHUNK 4096

void cni_output_done(cni_output_t *o)
{
	if (!o)
		return;
	free(o->out);
	free(o->err);
	*o = (cni_output_t){ 0 };
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A pipe whose ends are above stdio: dup2 onto 0-2 in the child must not overwrite another of them (a daemon
 * started with a closed stdin would otherwise get its pipe at fd 0). */
static int make_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (p[i] >= 3)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			int e = errno;
			close_fd(&p[0]);
			close_fd(&p[1]);
			return -e;
		}
		close(p[i]);
		p[i] = fd;
	}
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

typedef struct sink {
	int fd;
	char *buf;
	size_t len, cap;
	size_t keep; /* bytes kept; more is read and dropped */
} sink_t;

/* Reads what the pipe holds: 1 when more may come, 0 at end of file, -errno. */
static int sink_read(sink_t *s)
{
	char scratch[READ_CHUNK];
	for (;;) {
		char *dst = scratch;
		size_t room = sizeof(scratch);
		if (s->len < s->keep) {
			if (s->cap - s->len <= 1) {
				size_t nc = s->cap ? s->cap * 2 : READ_CHUNK;
				if (nc > s->keep + 1)
					nc = s->keep + 1;
				char *nb = realloc(s->buf, nc);
				if (!nb)
					return -ENOMEM;
				s->buf = nb;
				s->cap = nc;
			}
			dst = s->buf + s->len;
			room = s->cap - 1 - s->len;
			if (room > s->keep - s->len)
				room = s->keep - s->len;
		}
		ssize_t n = read(s->fd, dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 1 : -errno;
		if (n == 0)
			return 0;
		if (dst != scratch)
			s->len += (size_t)n;
	}
}

static char *sink_take(sink_t *s, size_t *ret_len)
{
	if (!s->buf)
		s->buf = calloc(1, 1);
	else
		s->buf[s->len] = '\0';
	*ret_len = s->buf ? s->len : 0;
	return TAKE_PTR(s->buf);
}

static void kill_and_reap(pid_t pid)
{
	int status;
	(void)killpg(pid, SIGKILL);
	/* In case it left its group: the pid itself. */
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

typedef enum { IO_DONE, IO_TIMEOUT, IO_TOO_BIG, IO_ERROR } io_end_t;

/* Feeds stdin and reads stdout and stderr until both are closed or the deadline passes. */
static io_end_t pump(int *infd, const char *in, size_t in_len, sink_t *out, sink_t *er, size_t max_out,
		     int64_t deadline, bool *ret_epipe, int *ret_errno)
{
	size_t in_off = 0;
	while (out->fd >= 0 || er->fd >= 0) {
		if (*infd >= 0 && in_off == in_len)
			close_fd(infd);
		struct pollfd p[3];
		nfds_t n = 0;
		int ii = -1, io = -1, ie = -1;
		if (*infd >= 0)
			p[ii = (int)n++] = (struct pollfd){ .fd = *infd, .events = POLLOUT };
		if (out->fd >= 0)
			p[io = (int)n++] = (struct pollfd){ .fd = out->fd, .events = POLLIN };
		if (er->fd >= 0)
			p[ie = (int)n++] = (struct pollfd){ .fd = er->fd, .events = POLLIN };
		int64_t left = deadline - crl_mono_ms();
		if (left <= 0)
			return IO_TIMEOUT;
		if (poll(p, n, left > INT_MAX ? INT_MAX : (int)left) < 0) {
			if (errno == EINTR)
				continue;
			*ret_errno = errno;
			return IO_ERROR;
		}
		if (ii >= 0 && p[ii].revents) {
			ssize_t w = write(*infd, in + in_off, in_len - in_off);
			if (w > 0) {
				in_off += (size_t)w;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				/* It stopped reading its stdin: its exit status says how that went. */
				*ret_epipe |= errno == EPIPE;
				close_fd(infd);
			}
		}
		sink_t *sinks[2] = { out, er };
		int idx[2] = { io, ie };
		for (int k = 0; k < 2; k++) {
			if (idx[k] < 0 || !p[idx[k]].revents)
				continue;
			int r = sink_read(sinks[k]);
			if (r == -ENOMEM) {
				*ret_errno = ENOMEM;
				return IO_ERROR;
			}
			if (r <= 0)
				close_fd(&sinks[k]->fd);
		}
		if (out->len > max_out)
			return IO_TOO_BIG;
	}
	return IO_DONE;
}

/* Waits for the exit after the plugin closed its output (it is normally already on its way out). */
static io_end_t wait_exit(pid_t pid, int64_t deadline, int *ret_status, int *ret_errno)
{
	int delay = 1;
	for (;;) {
		pid_t w = waitpid(pid, ret_status, WNOHANG);
		if (w == pid)
			return IO_DONE;
		if (w < 0 && errno != EINTR) {
			*ret_errno = errno;
			return IO_ERROR;
		}
		if (crl_mono_ms() >= deadline)
			return IO_TIMEOUT;
		sleep_ms(delay);
		delay = delay < 16 ? delay * 2 : 20;
	}
}

int cni_invoke(const char *path, char *const *envp, const char *in, size_t in_len, int timeout_ms, size_t max_out,
	       cni_output_t *ret, crl_error_t *err)
{
	int pin[2] = { -1, -1 }, pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	int r = make_pipe(pin);
	if (r == 0)
		r = make_pipe(pout);
	if (r == 0)
		r = make_pipe(perr);
	if (r < 0)
		r = crl_error_set_errno(err, -r, "cannot make pipes for %s", path);
	pid_t pid = -1;
	char *argv[] = { (char *)path, NULL };
	if (r == 0)
		r = crl_spawn(path, argv, envp, (const int[3]){ pin[0], pout[1], perr[1] }, 3, true, &pid, err);
	close_fd(&pin[0]);
	close_fd(&pout[1]);
	close_fd(&perr[1]);
	sink_t out = { .fd = pout[0], .keep = max_out + 1 }, er = { .fd = perr[0], .keep = CNI_MAX_STDERR };
	if (r < 0) {
		close_fd(&pin[1]);
		close_fd(&out.fd);
		close_fd(&er.fd);
		return r;
	}
	int e = 0, status = 0;
	io_end_t end = IO_DONE;
	if ((e = -set_nonblock(pin[1])) || (e = -set_nonblock(out.fd)) || (e = -set_nonblock(er.fd)))
		end = IO_ERROR;

	/* A plugin that exits without reading its stdin makes our write raise SIGPIPE: the daemon ignores it, but a
	 * library must not count on that. Blocked here and taken back if it was ours. */
	sigset_t pipe_set, old, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1, epipe = false;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

	int64_t deadline = crl_mono_ms() + timeout_ms;
	if (end == IO_DONE)
		end = pump(&pin[1], in, in_len, &out, &er, max_out, deadline, &epipe, &e);
	close_fd(&pin[1]);
	if (end == IO_DONE)
		end = wait_exit(pid, deadline, &status, &e);
	if (end != IO_DONE)
		kill_and_reap(pid);

	if (epipe && !was_pending) {
		const struct timespec zero = { 0, 0 };
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close_fd(&out.fd);
	close_fd(&er.fd);

	if (end == IO_TIMEOUT)
		r = crl_error_set(err, ETIMEDOUT, "timed out after %d ms", timeout_ms);
	else if (end == IO_TOO_BIG)
		r = crl_error_set(err, EMSGSIZE, "printed more than %zu bytes", max_out);
	else if (end == IO_ERROR)
		r = crl_error_set_errno(err, e, "talking to %s", path);
	if (r == 0) {
		cni_output_t o = { .status = status };
		o.out = sink_take(&out, &o.out_len);
		o.err = sink_take(&er, &o.err_len);
		if (!o.out || !o.err) {
			cni_output_done(&o);
			r = crl_error_set(err, ENOMEM, "out of memory");
		} else {
			*ret = o;
		}
	}
	free(out.buf);
	free(er.buf);
	return r;
}
