/* SPDX-License-Identifier: Apache-2.0 */
/* crio-lite-monitor: one per pod. Single-threaded; an epoll loop over a signalfd, the control socket, its
 * clients, and the stdio pipes of containers and exec sessions. It creates containers through the runtime
 * library in a short-lived child (the container's init is reparented to the monitor, a subreaper, so it is
 * still the monitor's to wait for; the create path's memory never becomes the monitor's; an exec's joiner is
 * likewise a child that prepared the exec itself), owns their stdout/stderr and writes them to CRI log files, records each
 * exit atomically in <dir>/exits/<id>.json (code, signal, OOM kill, start and finish times in ns), and runs
 * exec sessions with an output cap and a timeout. It runs in its own session and outlives whoever started it.
 *
 *   crio-lite-monitor --dir DIR --runtime-root DIR [--pod-namespaces net,ipc,uts,pid] [--hostname NAME]
 *                     [--sysctl KEY=VALUE]... [--ready-fd FD]
 *
 * --hostname and --sysctl are set inside the pod's new namespaces (lo is brought up in a new network namespace).
 * With --ready-fd the monitor detaches (its starter's child exits at once) and writes "ok\n" on FD once it
 * listens, or the reason it failed; FD is then closed.
 * With --pod-namespaces the monitor makes those namespaces for the pod and pins them on <dir>/ns/<type> (bind
 * mounts that outlive the monitor, removed by shutdown); containers join them by those paths. With pid it is
 * PID 1 of the pod's PID namespace and reaps whatever is orphaned there.
 *
 * Control protocol (version 1), on the unix socket <dir>/monitor.sock: each message is a 4-byte big-endian
 * length and that many bytes of JSON (at most 1 MiB). Requests are objects {"v":1,"op":...}; each gets one
 * response {"v":1,"ok":true,...} or {"v":1,"ok":false,"errno":N,"error":"..."}. Operations:
 *   version                                   -> protocol, version
 *   create  id bundle log_path                -> pid           (container created, not started)
 *   start   id
 *   kill    id signal [all]                   (all: every process in the container's cgroup)
 *   state   id                                -> status pid exit_code signal oom_killed started_at finished_at
 *   delete  id [force]
 *   reopen_log id
 *   update  id resources                      (resources: runc's LinuxResources JSON, as a string)
 *   create  also takes stdin (a pipe the monitor holds) and tty (a pty: stdout and stderr merge), and
 *           runtime (an absolute path to an external OCI runtime, runc's command line) with runtime_root (its
 *           --root; default <dir>/runtime-root): that container's create, start, kill, delete and exec run the
 *           binary (--log <dir>/runtime.log --log-format json; its message comes back on failure)
 *   attach  id [pass_stdin]                   -> stdin (whether the container has one); then the connection
 *                                                streams (with pass_stdin, after one byte "F" carrying a dup of the
 *                                                container's stdin or terminal master): the monitor sends
 *                                                {"stream":"stdout"|"stderr","data":<base64>} and finally
 *                                                {"exit_code":N}; the client may send {"stdin":<base64>},
 *                                                {"close_stdin":true}, {"resize":{"rows":R,"cols":C}}
 *   exec    id args [cwd] [timeout_s] [max_output] [stream [stdin] [tty] [pass_fds]]
 *                                             with stream: the connection streams as after attach
 *                                             with pass_fds too: after the reply, one byte "F" comes with the
 *                                             command's fds (SCM_RIGHTS): stdin (if asked for), stdout, stderr,
 *                                             or with tty its terminal's master alone; the client does the I/O
 *                                             and the final {"exit_code":N} comes when the command exits
 *                                             -> exit_code timed_out truncated stdout stderr (base64)
 *   shutdown                                  (refused while a container runs)
 */
#include "monitor-internal.h"

#include "common/timefmt.h"
#include "runtime/rootfs.h"

void mon_watch(mon_t *m, src_t *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	epoll_ctl(m->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

void mon_unwatch(mon_t *m, src_t *s)
{
	if (s->fd >= 0) {
		epoll_ctl(m->ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		s->fd = -1;
	}
}

/* --- responses --- */

static void want_out(conn_t *c, bool on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->src };
	epoll_ctl(c->ep, EPOLL_CTL_MOD, c->src.fd, &ev);
	c->want_out = on;
}

/* Sends what is queued without blocking; the rest waits for EPOLLOUT. */
static void flush_out(conn_t *c)
{
	while (!c->dead && c->out_off < c->out_len) {
		ssize_t n = send(c->src.fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want_out(c, true);
			return;
		} else {
			c->dead = true;
		}
	}
	c->out_off = c->out_len = 0;
	/* A large reply's buffer goes once sent; an idle connection keeps little. */
	if (c->out_cap > 16384) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	want_out(c, false);
	if (c->closing)
		c->dead = true;
}

int mon_conn_send_fds(conn_t *c, const int *fds, size_t n)
{
	flush_out(c);
	if (c->dead || c->out_off < c->out_len)
		return -1;
	return crl_send_fds(c->src.fd, "F", 1, fds, n);
}

void mon_conn_close(conn_t *c)
{
	c->closing = true;
	if (c->out_off >= c->out_len)
		c->dead = true;
}

/* Queues one frame (4-byte big-endian length, then the JSON) and sends what it can. A reply is always queued; a
 * streamed frame for a client that has let MAX_STREAM_QUEUE pile up drops that client. */
static void send_msg(conn_t *c, const char *json, size_t len, bool stream)
{
	if (c->dead)
		return;
	size_t pending = c->out_len - c->out_off;
	if (stream && pending > MAX_STREAM_QUEUE) {
		c->dead = true;
		return;
	}
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + 4 + len > c->out_cap) {
		if (c->out_off) {
			memmove(c->out, c->out + c->out_off, pending);
			c->out_len = pending;
			c->out_off = 0;
		}
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + 4 + len)
			cap *= 2;
		char *n = cap != c->out_cap ? realloc(c->out, cap) : c->out;
		if (!n) {
			c->dead = true;
			return;
		}
		c->out = n;
		c->out_cap = cap;
	}
	unsigned char *h = (unsigned char *)c->out + c->out_len;
	h[0] = (unsigned char)(len >> 24), h[1] = (unsigned char)(len >> 16), h[2] = (unsigned char)(len >> 8), h[3] = (unsigned char)len;
	memcpy(c->out + c->out_len + 4, json, len);
	c->out_len += 4 + len;
	flush_out(c);
}

static void send_json(conn_t *c, crl_json_t *j, bool stream)
{
	crl_json_object_end(j);
	size_t len = 0;
	char *out = crl_json_finish_text(j, &len);
	if (out)
		send_msg(c, out, len, stream);
	free(out);
}

crl_json_t *mon_reply_begin(bool ok)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "v", PROTOCOL);
	crl_json_kv_bool(j, "ok", ok);
	return j;
}

void mon_reply_end(conn_t *c, crl_json_t *j)
{
	send_json(c, j, false);
}

/* One frame of streamed output; *b64 caches the encoding across the clients of one read. */
static void send_data(conn_t *c, int stream, const char *buf, size_t len, char **b64)
{
	if (!c || c->dead || (!*b64 && !(*b64 = crl_base64_encode(buf, len))))
		return;
	crl_json_t *j = mon_reply_begin(true);
	crl_json_kv_string(j, "stream", stream == 2 ? "stderr" : "stdout");
	crl_json_kv_string(j, "data", *b64);
	send_json(c, j, true);
}

void mon_reply_error(conn_t *c, crl_error_t *err)
{
	crl_json_t *j = mon_reply_begin(false);
	crl_json_kv_int(j, "errno", err->errnum);
	crl_json_kv_string(j, "error", crl_error_message(err));
	mon_reply_end(c, j);
	crl_error_clear(err);
}

void mon_reply_ok(conn_t *c)
{
	mon_reply_end(c, mon_reply_begin(true));
}

static void unpin(mon_t *m);

/* --- the loop --- */

static void handle_request(mon_t *m, conn_t *conn, const char *text)
{
	crl_json_value_t *req = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_json_parse(text, &req, &err) < 0)
		return mon_reply_error(conn, &err);
	int64_t v = 0;
	const char *op = crl_json_get_string(crl_json_get(req, "op"));
	if (conn->attached || conn->exec) {
		/* An attached connection carries stdin and resizes, no requests. */
		ctr_t *c = conn->attached;
		int *in_fd = c ? &c->in_fd : &conn->exec->in_fd;
		bool tty = c ? c->tty : conn->exec->tty;
		const char *data = crl_json_get_string(crl_json_get(req, "stdin"));
		const crl_json_value_t *rs = crl_json_get(req, "resize");
		bool close_in = false;
		crl_json_get_bool(crl_json_get(req, "close_stdin"), &close_in);
		char *raw = NULL;
		size_t n = 0;
		if (data && *in_fd >= 0 && crl_base64_decode(data, &raw, &n) == 0) {
			/* Never blocks: what a full pipe does not take is dropped (clients that care take the fd:
			 * pass_fds, pass_stdin). */
			fcntl(*in_fd, F_SETFL, fcntl(*in_fd, F_GETFL) | O_NONBLOCK);
			for (size_t o = 0; o < n;) {
				ssize_t w = write(*in_fd, raw + o, n - o);
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					break;
				o += (size_t)w;
			}
			free(raw);
		}
		if (rs && tty && *in_fd >= 0) {
			int64_t rows = 0, cols = 0;
			crl_json_get_int(crl_json_get(rs, "rows"), &rows);
			crl_json_get_int(crl_json_get(rs, "cols"), &cols);
			struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
			ioctl(*in_fd, TIOCSWINSZ, &ws);
		}
		if (close_in && *in_fd >= 0 && !tty) {
			close(*in_fd);
			*in_fd = -1;
		}
		crl_json_value_free(req);
		return;
	}
	if (op && strcmp(op, "attach") == 0 && crl_json_get_int(crl_json_get(req, "v"), &v) && v == PROTOCOL) {
		ctr_t *c = mon_need_ctr(m, conn, req);
		bool pass_stdin = false;
		crl_json_get_bool(crl_json_get(req, "pass_stdin"), &pass_stdin);
		if (c) {
			crl_json_t *j = mon_reply_begin(true);
			crl_json_kv_bool(j, "stdin", c->in_fd >= 0);
			mon_reply_end(conn, j);
			conn->attached = c;
			/* The client writes to the container's stdin (or terminal) itself: a container that does not read
			 * it blocks that client, never this loop. */
			if (pass_stdin && c->in_fd >= 0 && mon_conn_send_fds(conn, &c->in_fd, 1) < 0)
				mon_conn_close(conn);
		}
		crl_json_value_free(req);
		return;
	}
	if (!crl_json_get_int(crl_json_get(req, "v"), &v) || v != PROTOCOL) {
		crl_error_set(&err, EPROTO, "protocol version %lld is not spoken here (this monitor speaks %d)", (long long)v, PROTOCOL);
		mon_reply_error(conn, &err);
	} else if (!op) {
		crl_error_set(&err, EINVAL, "request without op");
		mon_reply_error(conn, &err);
	} else if (strcmp(op, "version") == 0) {
		crl_json_t *j = mon_reply_begin(true);
		crl_json_kv_int(j, "protocol", PROTOCOL);
		crl_json_kv_string(j, "version", CRL_VERSION);
		crl_json_key(j, "namespaces");
		crl_json_object_begin(j);
		for (size_t i = 0; i < m->n_pins; i++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/ns/%s", m->dir, m->pins[i]);
			crl_json_kv_string(j, m->pins[i], p);
		}
		crl_json_object_end(j);
		mon_reply_end(conn, j);
	} else if (strcmp(op, "create") == 0) {
		mon_op_create(m, conn, req);
	} else if (strcmp(op, "state") == 0) {
		mon_op_state(m, conn, req);
	} else if (strcmp(op, "exec") == 0) {
		mon_op_exec(m, conn, req);
	} else if (strcmp(op, "start") == 0 || strcmp(op, "kill") == 0 || strcmp(op, "delete") == 0 ||
		   strcmp(op, "reopen_log") == 0 || strcmp(op, "update") == 0) {
		mon_op_simple(m, conn, op, req);
	} else if (strcmp(op, "shutdown") == 0) {
		bool running = false;
		for (ctr_t *c = m->ctrs; c; c = c->next)
			running |= !c->exited;
		if (running) {
			crl_error_set(&err, EBUSY, "containers are still running");
			mon_reply_error(conn, &err);
		} else {
			unpin(m);
			m->stop = true;
			mon_reply_ok(conn);
		}
	} else {
		crl_error_set(&err, EOPNOTSUPP, "unknown op '%.64s'", op);
		mon_reply_error(conn, &err);
	}
	crl_json_value_free(req);
}

static void on_conn(mon_t *m, conn_t *c, uint32_t events)
{
	if (events & EPOLLOUT)
		flush_out(c);
	if (c->dead || c->closing || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	/* Small to start (requests are): a buffer per connection, and the monitor's heap stays small. */
	if (c->len + 1024 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		if (cap > MAX_MSG + 4 + 65536)
			cap = MAX_MSG + 4 + 65536;
		char *n = realloc(c->in, cap);
		if (!n) {
			c->dead = true;
			return;
		}
		c->in = n;
		c->cap = cap;
	}
	ssize_t r = read(c->src.fd, c->in + c->len, c->cap - c->len - 1);
	if (r <= 0) {
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			c->dead = true;
		return;
	}
	c->len += (size_t)r;
	while (c->len >= 4 && !c->dead && !c->closing) {
		unsigned char *h = (unsigned char *)c->in;
		size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (n > MAX_MSG) {
			crl_error_t err = CRL_ERROR_INIT;
			crl_error_set(&err, EMSGSIZE, "message of %zu bytes is over the %d limit", n, MAX_MSG);
			mon_reply_error(c, &err);
			mon_conn_close(c);
			return;
		}
		if (c->len < 4 + n)
			return;
		char save = c->in[4 + n];
		c->in[4 + n] = '\0';
		handle_request(m, c, c->in + 4);
		c->in[4 + n] = save;
		memmove(c->in, c->in + 4 + n, c->len - 4 - n);
		c->len -= 4 + n;
	}
}

static void on_output(mon_t *m, src_t *s)
{
	char buf[65536];
	ssize_t r = read(s->fd, buf, sizeof(buf));
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (s->kind == SRC_CTR) {
		ctr_t *c = s->obj;
		if (r <= 0) {
			mon_unwatch(m, s);
			return;
		}
		crl_error_t err = CRL_ERROR_INIT;
		if (crl_crilog_write(c->log, s->stream, buf, (size_t)r, crl_now_ns(CLOCK_REALTIME), &err) < 0) {
			fprintf(stderr, "crio-lite-monitor: %s\n", crl_error_message(&err));
			crl_error_clear(&err);
		}
		char *b = NULL;
		for (conn_t *cn = m->conns; cn; cn = cn->next)
			if (cn->attached == c)
				send_data(cn, s->stream, buf, (size_t)r, &b);
		free(b);
		return;
	}
	exec_t *x = s->obj;
	if (r <= 0) {
		mon_unwatch(m, s);
		mon_exec_maybe_done(m, x);
		return;
	}
	if (x->stream) {
		char *b = NULL;
		send_data(x->conn, s->stream, buf, (size_t)r, &b);
		free(b);
		return;
	}
	size_t room = x->len[s->stream] < x->cap ? x->cap - x->len[s->stream] : 0;
	size_t take = (size_t)r < room ? (size_t)r : room;
	if (take < (size_t)r)
		x->truncated = true;
	if (take) {
		char *nb = realloc(x->buf[s->stream], x->len[s->stream] + take);
		if (nb) {
			x->buf[s->stream] = nb;
			memcpy(nb + x->len[s->stream], buf, take);
			x->len[s->stream] += take;
		}
	}
}

void mon_drain(mon_t *m, src_t *s)
{
	/* What the container wrote before it exited is logged before its exit is recorded: a reader of the exit
	 * record finds the whole log. Bounded: a process left behind that keeps writing cannot hold us here. */
	for (int i = 0; i < 1024 && s->fd >= 0; i++) {
		struct pollfd p = { s->fd, POLLIN, 0 };
		if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP)))
			return;
		on_output(m, s);
	}
}

static void reap(mon_t *m)
{
	for (;;) {
		int st = 0;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (ctr_t *c = m->ctrs; c; c = c->next)
			if (c->pid == pid && !c->exited)
				mon_on_ctr_exit(m, c, st);
		for (exec_t *x = m->execs; x; x = x->next)
			if (x->pid == pid) {
				x->exited = true;
				x->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				mon_exec_maybe_done(m, x);
				break;
			}
	}
}

static int next_timeout(mon_t *m)
{
	int64_t now = crl_mono_ms(), best = -1;
	for (exec_t *x = m->execs; x; x = x->next) {
		if (!x->deadline_ms || x->exited)
			continue;
		if (x->deadline_ms <= now) {
			/* The joiner's death takes the command with it (its parent-death signal). */
			x->timed_out = true;
			kill(x->pid, SIGKILL);
			x->deadline_ms = 0;
			continue;
		}
		int64_t left = x->deadline_ms - now;
		if (best < 0 || left < best)
			best = left;
	}
	return (int)best;
}

static const struct {
	const char *name;
	int flag;
} pod_ns[] = { { "net", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "pid", CLONE_NEWPID } };

static void unpin(mon_t *m)
{
	if (m->proc_mounted) {
		char proc[PATH_MAX];
		snprintf(proc, sizeof(proc), "%s/proc", m->dir);
		umount2(proc, MNT_DETACH);
		m->proc_mounted = false;
	}
	for (size_t i = 0; i < m->n_pins; i++) {
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/ns/%s", m->dir, m->pins[i]);
		umount2(p, MNT_DETACH);
		unlink(p);
	}
	m->n_pins = 0;
}

/* Makes the pod's namespaces (as PID 1 of a new PID namespace when asked) and pins them. */
static int pod_namespaces(mon_t *m, const char *list, crl_error_t *err)
{
	_cleanup_free_ char *copy = strdup(list);
	int flags = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int f = 0;
		for (size_t i = 0; i < CRL_ARRAY_SIZE(pod_ns); i++)
			if (strcmp(t, pod_ns[i].name) == 0)
				f = pod_ns[i].flag;
		if (!f)
			return crl_error_set(err, EINVAL, "--pod-namespaces: unknown namespace '%s' (net, ipc, uts, pid)", t);
		flags |= f;
	}
	if (unshare(flags) < 0)
		return crl_error_set_errno(err, errno, "make the pod's namespaces");
	if (flags & CLONE_NEWPID) {
		/* The first child in a new PID namespace is its PID 1: continue as that child. */
		pid_t pid = fork();
		if (pid < 0)
			return crl_error_set_errno(err, errno, "fork into the pod's PID namespace");
		if (pid > 0)
			_exit(0);
	}
	char nsdir[PATH_MAX];
	snprintf(nsdir, sizeof(nsdir), "%s/ns", m->dir);
	if (mkdir(nsdir, 0755) < 0 && errno != EEXIST)
		return crl_error_set_errno(err, errno, "create %s", nsdir);
	for (size_t i = 0; i < CRL_ARRAY_SIZE(pod_ns); i++) {
		if (!(flags & pod_ns[i].flag))
			continue;
		char pin[PATH_MAX + 16], src[64];
		snprintf(pin, sizeof(pin), "%s/%s", nsdir, pod_ns[i].name);
		snprintf(src, sizeof(src), "/proc/self/ns/%s", pod_ns[i].name);
		int fd = open(pin, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0)
			return crl_error_set_errno(err, errno, "create %s", pin);
		close(fd);
		if (mount(src, pin, NULL, MS_BIND, NULL) < 0)
			return crl_error_set_errno(err, errno, "pin %s on %s", src, pin);
		snprintf(m->pins[m->n_pins++], sizeof(m->pins[0]), "%s", pod_ns[i].name);
	}
	if (flags & CLONE_NEWPID) {
		/* The runtime library reads /proc/<pid> of the pod's processes (exec joins their namespaces, delete
		 * waits for them): the node's /proc shows other processes under those numbers. A /proc of the pod's
		 * PID namespace, in the node's mount namespace (containers are made from it, so a host path's
		 * propagation reaches them), removed with the pins. */
		char proc[PATH_MAX];
		snprintf(proc, sizeof(proc), "%s/proc", m->dir);
		if (mkdir(proc, 0555) < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create %s", proc);
		if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
			return crl_error_set_errno(err, errno, "mount the pod's /proc on %s", proc);
		m->proc_mounted = true;
		if (rt_set_proc_root(proc) < 0)
			return crl_error_set(err, ENAMETOOLONG, "%s: path too long", proc);
	}
	return 0;
}

/* The pod's loopback, up as every pod expects it (CNI configures eth0 only). */
static int loopback_up(crl_error_t *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return crl_error_set_errno(err, errno, "read the flags of lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return crl_error_set_errno(err, errno, "bring lo up");
	return 0;
}

/* A sysctl of the pod's namespaces ("net.ipv4.ip_forward=1"), written from inside them. */
static int set_sysctl(const char *kv, crl_error_t *err)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return crl_error_set(err, EINVAL, "--sysctl '%s' is not KEY=VALUE", kv);
	return rt_sysctl_set(kv, (size_t)(eq - kv), eq + 1, err);
}

/* Tells whoever started us (the daemon) that the pod is ready, or why not: a line on the fd it gave us. */
static void report_ready(int *fd, const char *msg)
{
	if (*fd < 0)
		return;
	size_t n = strlen(msg);
	if (write(*fd, msg, n) != (ssize_t)n) {
		/* The starter went away; nothing to tell. */
	}
	close(*fd);
	*fd = -1;
}

static int listen_on(const char *dir, int dirfd, crl_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	/* sun_path holds 107 bytes: a deep directory is reached through its fd. */
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/monitor.sock", dir) >= sizeof(a.sun_path))
		snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/monitor.sock", dirfd);
	unlink(a.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(a.sun_path, 0600) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return crl_error_set_errno(err, e, "listen on %s", a.sun_path);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "runtime-root", required_argument, NULL, 'r' },
		{ "pod-namespaces", required_argument, NULL, 'n' },
		{ "hostname", required_argument, NULL, 'H' },
		{ "sysctl", required_argument, NULL, 's' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	mon_t m = { .ep = -1, .dirfd = -1 };
	const char *pod = NULL, *hostname = NULL;
	const char *sysctls[MAX_SYSCTLS];
	size_t n_sysctls = 0;
	int ready = -1;
	int c;
	while ((c = getopt_long(argc, argv, "d:r:n:", opts, NULL)) != -1) {
		if (c == 'd')
			m.dir = optarg;
		else if (c == 'r')
			m.rt_root = optarg;
		else if (c == 'n')
			pod = optarg;
		else if (c == 'H')
			hostname = optarg;
		else if (c == 's' && n_sysctls < MAX_SYSCTLS)
			sysctls[n_sysctls++] = optarg;
		else if (c == 'f') {
			char *end = NULL;
			long fd = strtol(optarg, &end, 10);
			if (end == optarg || *end || fd < 3 || fd > INT_MAX) {
				fprintf(stderr, "crio-lite-monitor: --ready-fd '%s' is not a descriptor above stdio\n", optarg);
				return 2;
			}
			ready = (int)fd;
		}
		else
			return 2;
	}
	if (!m.dir || !m.rt_root) {
		fprintf(stderr, "usage: crio-lite-monitor --dir DIR --runtime-root DIR [--pod-namespaces LIST] "
				"[--hostname NAME] [--sysctl KEY=VALUE]... [--ready-fd FD]\n");
		return 2;
	}
	if (ready >= 0 && fcntl(ready, F_SETFD, FD_CLOEXEC) < 0)
		ready = -1;
	/* Told to report readiness, we also detach: the starter's child exits at once and is reaped there, and
	 * the monitor lives on without a parent to wait for it (a pod PID namespace forks below anyway). */
	if (ready >= 0 && !(pod && strstr(pod, "pid"))) {
		pid_t pid = fork();
		if (pid < 0) {
			report_ready(&ready, "fork failed\n");
			return 1;
		}
		if (pid > 0)
			_exit(0);
	}
	/* Our own session: the starter's exit, its terminal or its process group do not reach us. */
	setsid();
	/* Containers are created by a child of ours (create_in_child) and must become ours when it exits. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_mkdir_p(m.dir, 0700, &err) < 0) {
		fprintf(stderr, "crio-lite-monitor: %s\n", crl_error_message(&err));
		return 1;
	}
	m.dirfd = open(m.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	mkdirat(m.dirfd, "exits", 0700);
	int pr = pod ? pod_namespaces(&m, pod, &err) : 0;
	if (pr >= 0 && pod && strstr(pod, "net"))
		pr = loopback_up(&err);
	if (pr >= 0 && hostname && sethostname(hostname, strlen(hostname)) < 0)
		pr = crl_error_set_errno(&err, errno, "set the pod's hostname '%s'", hostname);
	for (size_t i = 0; pr >= 0 && i < n_sysctls; i++)
		pr = set_sysctl(sysctls[i], &err);
	if (pr < 0) {
		fprintf(stderr, "crio-lite-monitor: %s\n", crl_error_message(&err));
		_cleanup_free_ char *line = NULL;
		report_ready(&ready, asprintf(&line, "%s\n", crl_error_message(&err)) < 0 ? "failed\n" : line);
		unpin(&m);
		return 1;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	m.ep = epoll_create1(EPOLL_CLOEXEC);
	m.sig = (src_t){ SRC_SIGNAL, NULL, 0, signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK) };
	int lfd = listen_on(m.dir, m.dirfd, &err);
	if (m.ep < 0 || m.sig.fd < 0 || lfd < 0) {
		fprintf(stderr, "crio-lite-monitor: %s\n", err.errnum ? crl_error_message(&err) : strerror(errno));
		report_ready(&ready, "cannot listen on the monitor socket\n");
		unpin(&m);
		return 1;
	}
	m.listen = (src_t){ SRC_LISTEN, NULL, 0, lfd };
	mon_watch(&m, &m.sig);
	mon_watch(&m, &m.listen);
	report_ready(&ready, "ok\n");
	while (!m.stop) {
		struct epoll_event evs[32];
		int n = epoll_wait(m.ep, evs, 32, next_timeout(&m));
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			src_t *s = evs[i].data.ptr;
			switch (s->kind) {
			case SRC_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(s->fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGCHLD)
						reap(&m);
					else
						m.stop = true; /* containers keep running; they are not ours to end */
				}
				break;
			}
			case SRC_LISTEN: {
				int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
				size_t nconn = 0;
				for (conn_t *x = m.conns; x; x = x->next)
					nconn++;
				/* Past MAX_CONNS a client is told why and let go: fds and memory stay bounded. */
				if (fd >= 0 && nconn >= MAX_CONNS) {
					static const char busy[] = "{\"v\":1,\"ok\":false,\"errno\":24,\"error\":\"too many connections\"}";
					unsigned char h[4] = { 0, 0, 0, (unsigned char)(sizeof(busy) - 1) };
					if (send(fd, h, 4, MSG_NOSIGNAL | MSG_DONTWAIT) == 4)
						send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
					close(fd);
					break;
				}
				conn_t *cn = fd >= 0 ? calloc(1, sizeof(*cn)) : NULL;
				if (!cn) {
					if (fd >= 0)
						close(fd);
					break;
				}
				cn->src = (src_t){ SRC_CONN, cn, 0, fd };
				cn->ep = m.ep;
				cn->next = m.conns;
				m.conns = cn;
				mon_watch(&m, &cn->src);
				break;
			}
			case SRC_CONN:
				on_conn(&m, s->obj, evs[i].events);
				break;
			default:
				on_output(&m, s);
				break;
			}
		}
		/* Dead clients: their pending exec results have nowhere to go. */
		for (conn_t **p = &m.conns; *p;) {
			conn_t *cn = *p;
			if (!cn->dead) {
				p = &cn->next;
				continue;
			}
			/* A streamed exec whose client is gone ends with it (a command that reads and writes nothing
			 * would otherwise hold one of the pod's exec slots for good). */
			for (exec_t *x = m.execs; x; x = x->next)
				if (x->conn == cn) {
					x->conn = NULL;
					if (x->stream && !x->exited)
						kill(x->pid, SIGKILL);
				}
			mon_unwatch(&m, &cn->src);
			*p = cn->next;
			free(cn->in);
			free(cn->out);
			free(cn);
		}
	}
	/* A clean exit: containers still listed keep running (they are not ours to end). */
	while (m.execs) {
		exec_t *x = m.execs;
		m.execs = x->next;
		mon_unwatch(&m, &x->out);
		mon_unwatch(&m, &x->err);
		free(x->buf[1]);
		free(x->buf[2]);
		free(x);
	}
	while (m.ctrs) {
		ctr_t *ct = m.ctrs;
		m.ctrs = ct->next;
		mon_ctr_free(&m, ct);
	}
	while (m.conns) {
		conn_t *cn = m.conns;
		m.conns = cn->next;
		/* The last replies (shutdown's) still go out to a client that reads them within a second. */
		for (int i = 0; i < 100 && !cn->dead && cn->out_off < cn->out_len; i++) {
			struct pollfd p = { cn->src.fd, POLLOUT, 0 };
			if (poll(&p, 1, 10) > 0)
				flush_out(cn);
		}
		mon_unwatch(&m, &cn->src);
		free(cn->in);
		free(cn->out);
		free(cn);
	}
	mon_unwatch(&m, &m.listen);
	mon_unwatch(&m, &m.sig);
	close(m.ep);
	close(m.dirfd);
	return 0;
}
