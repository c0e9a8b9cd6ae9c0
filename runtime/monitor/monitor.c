/* SPDX-License-Identifier: Apache-2.0 */
/* crio-lite-monitor: one per pod. Single-threaded; an epoll loop over a signalfd, the control socket, its
 * clients, and the stdio pipes of containers and exec sessions. It creates containers through the runtime
 * library in a short-lived child (the container's init is reparented to the monitor, a subreaper, so it is
 * still the monitor's to wait for; the create path's memory never becomes the monitor's; an exec's joiner is
 * likewise a child that prepared the exec itself), owns their stdout/stderr and writes them to CRI log files, records each
 * exit atomically in <dir>/exits/<id>.json (code, signal, OOM kill, start and finish times in ns), and runs
 * exec sessions with an output cap and a timeout. It runs in its own session and outlives whoever started it.
 *
 *   crio-lite-monitor --dir DIR --runtime-root DIR [--pod-namespaces net,ipc,uts,pid]
 *
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
 *   kill    id signal
 *   state   id                                -> status pid exit_code signal oom_killed started_at finished_at
 *   delete  id [force]
 *   reopen_log id
 *   create  also takes stdin (a pipe the monitor holds) and tty (a pty: stdout and stderr merge)
 *   attach  id                                -> then the connection streams: the monitor sends
 *                                                {"stream":"stdout"|"stderr","data":<base64>} and finally
 *                                                {"exit_code":N}; the client may send {"stdin":<base64>},
 *                                                {"close_stdin":true}, {"resize":{"rows":R,"cols":C}}
 *   exec    id args [cwd] [timeout_s] [max_output] [stream [stdin] [tty]]
 *                                             with stream: the connection streams as after attach
 *                                             -> exit_code timed_out truncated stdout stderr (base64)
 *   shutdown                                  (refused while a container runs)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fdpass.h"
#include "common/fs.h"
#include "common/json.h"
#include "crilog.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"

#define PROTOCOL 1
#define MAX_MSG (1 << 20)
#define DEFAULT_EXEC_OUTPUT (16 * 1024 * 1024)

enum { SRC_SIGNAL, SRC_LISTEN, SRC_CONN, SRC_CTR, SRC_EXEC };

typedef struct src {
	int kind;
	void *obj;
	int stream; /* 1 stdout, 2 stderr */
	int fd;
} src_t;

struct ctr;

typedef struct conn {
	src_t src;
	char *in;
	size_t len, cap;
	bool dead;
	struct ctr *attached; /* streaming this container's stdio */
	struct exec_s *exec;  /* streaming this exec session's stdio */
	struct conn *next;
} conn_t;

typedef struct ctr {
	char *id;
	pid_t pid;
	src_t out, err;
	crl_crilog_t *log;
	char *cgroup;
	int64_t started_ns, finished_ns;
	int in_fd;  /* the container's stdin (pipe or pty master), -1 */
	int master; /* pty master while being set up, -1 */
	bool tty;
	bool exited;
	int exit_code, signal;
	bool oom;
	struct ctr *next;
} ctr_t;

typedef struct exec_s {
	conn_t *conn;
	pid_t pid;
	src_t out, err;
	char *buf[3];
	size_t len[3];
	size_t cap;
	bool truncated, timed_out, exited;
	int status;
	int64_t deadline_ms; /* 0: none */
	bool stream, tty;
	int in_fd;
	struct exec_s *next;
} exec_t;

#define MAX_PINS 4

typedef struct mon {
	int ep;
	char pins[MAX_PINS][16]; /* namespace types pinned under <dir>/ns */
	size_t n_pins;
	src_t sig, listen;
	char *dir, *rt_root;
	int dirfd;
	ctr_t *ctrs;
	conn_t *conns;
	exec_t *execs;
	bool stop;
} mon_t;

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void watch(mon_t *m, src_t *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
	epoll_ctl(m->ep, EPOLL_CTL_ADD, s->fd, &ev);
}

static void unwatch(mon_t *m, src_t *s)
{
	if (s->fd >= 0) {
		epoll_ctl(m->ep, EPOLL_CTL_DEL, s->fd, NULL);
		close(s->fd);
		s->fd = -1;
	}
}

/* --- responses --- */

static void send_msg(conn_t *c, const char *json, size_t len)
{
	if (c->dead)
		return;
	unsigned char hdr[4] = { (unsigned char)(len >> 24), (unsigned char)(len >> 16), (unsigned char)(len >> 8),
				 (unsigned char)len };
	/* Replies are small or awaited by a reading client: a blocking write is fine. */
	int fl = fcntl(c->src.fd, F_GETFL);
	fcntl(c->src.fd, F_SETFL, fl & ~O_NONBLOCK);
	if (send(c->src.fd, hdr, 4, MSG_NOSIGNAL) != 4 || send(c->src.fd, json, len, MSG_NOSIGNAL) != (ssize_t)len)
		c->dead = true;
	fcntl(c->src.fd, F_SETFL, fl);
}

static crl_json_t *reply_begin(bool ok)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_key(j, "v");
	crl_json_int(j, PROTOCOL);
	crl_json_key(j, "ok");
	crl_json_bool(j, ok);
	return j;
}

static void reply_end(conn_t *c, crl_json_t *j)
{
	crl_json_object_end(j);
	char *out = NULL;
	size_t len = 0;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_json_finish(j, &out, &len, &e) == 0)
		send_msg(c, out, len);
	crl_error_clear(&e);
	free(out);
}

/* One frame of streamed output; *b64 caches the encoding across the clients of one read. */
static void send_data(conn_t *c, int stream, const char *buf, size_t len, char **b64)
{
	if (!c || c->dead || (!*b64 && !(*b64 = crl_base64_encode(buf, len))))
		return;
	crl_json_t *j = reply_begin(true);
	crl_json_key(j, "stream");
	crl_json_string(j, stream == 2 ? "stderr" : "stdout");
	crl_json_key(j, "data");
	crl_json_string(j, *b64);
	reply_end(c, j);
}

static void reply_error(conn_t *c, crl_error_t *err)
{
	crl_json_t *j = reply_begin(false);
	crl_json_key(j, "errno");
	crl_json_int(j, err->errnum);
	crl_json_key(j, "error");
	crl_json_string(j, crl_error_message(err));
	reply_end(c, j);
	crl_error_clear(err);
}

static void reply_ok(conn_t *c)
{
	reply_end(c, reply_begin(true));
}

/* --- containers --- */

static ctr_t *find_ctr(mon_t *m, const char *id)
{
	for (ctr_t *c = m->ctrs; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static void ctr_free(mon_t *m, ctr_t *c)
{
	for (conn_t *cn = m->conns; cn; cn = cn->next)
		if (cn->attached == c) {
			cn->attached = NULL;
			cn->dead = true;
		}
	if (c->in_fd >= 0)
		close(c->in_fd);
	unwatch(m, &c->out);
	unwatch(m, &c->err);
	crl_crilog_close(c->log);
	free(c->id);
	free(c->cgroup);
	free(c);
}

/* The exit facts, in the exit record (times named *_ns) and in the state reply. */
static void exit_fields(crl_json_t *j, const ctr_t *c, bool ns_names)
{
	crl_json_key(j, "exit_code");
	crl_json_int(j, c->exit_code);
	crl_json_key(j, "signal");
	crl_json_int(j, c->signal);
	crl_json_key(j, "oom_killed");
	crl_json_bool(j, c->oom);
	crl_json_key(j, ns_names ? "started_at_ns" : "started_at");
	crl_json_int(j, c->started_ns);
	crl_json_key(j, ns_names ? "finished_at_ns" : "finished_at");
	crl_json_int(j, c->finished_ns);
}

static void write_exit_record(mon_t *m, ctr_t *c)
{
	_cleanup_close_ int d = openat(m->dirfd, "exits", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		fprintf(stderr, "crio-lite-monitor: exit record of %s: open exits/: %s\n", c->id, strerror(errno));
		return;
	}
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_key(j, "v");
	crl_json_int(j, 1);
	crl_json_key(j, "id");
	crl_json_string(j, c->id);
	exit_fields(j, c, true);
	crl_json_object_end(j);
	char name[300];
	snprintf(name, sizeof(name), "%s.json", c->id);
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_json_save(j, d, name, 0644, &e) < 0)
		fprintf(stderr, "crio-lite-monitor: exit record of %s: %s\n", c->id, crl_error_message(&e));
	crl_error_clear(&e);
}

static void on_ctr_exit(mon_t *m, ctr_t *c, int status)
{
	c->exited = true;
	c->finished_ns = now_ns(CLOCK_REALTIME);
	if (WIFEXITED(status)) {
		c->exit_code = WEXITSTATUS(status);
	} else {
		c->signal = WTERMSIG(status);
		c->exit_code = 128 + c->signal;
	}
	/* The kernel counts OOM kills in the container's cgroup, which stays until delete. */
	rt_cgroup_t *cg = NULL;
	rt_cgroup_stats_t st;
	crl_error_t e = CRL_ERROR_INIT;
	if (c->cgroup && rt_cgroup_open(c->cgroup, &cg, &e) == 0 && rt_cgroup_stats(cg, &st, &e) == 0)
		c->oom = st.oom_kills > 0 && c->signal == SIGKILL;
	crl_error_clear(&e);
	rt_cgroup_free(cg);
	write_exit_record(m, c);
	for (conn_t *cn = m->conns; cn; cn = cn->next)
		if (cn->attached == c) {
			crl_json_t *j = reply_begin(true);
			crl_json_key(j, "exit_code");
			crl_json_int(j, c->exit_code);
			reply_end(cn, j);
			cn->attached = NULL;
			cn->dead = true;
		}
}

static int make_pipe(int p[2], crl_error_t *err)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return crl_error_set_errno(err, errno, "pipe");
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/* Creates the container in a short-lived child of ours: the library's create path (spec, mounts, cgroups,
 * seccomp compilation) then touches that child's memory, not the monitor's, which keeps only what its loop
 * needs resident. The container's init is the child's child; when the child exits it is reparented to us (we
 * are a subreaper, or the pod's PID 1), so its exit status still comes to our waitpid. The init waits on its
 * exec fifo until start, so it cannot have exited unseen before we know its pid. */
static int create_in_child(mon_t *m, const char *id, const char *bundle, rt_create_opts_t *o, pid_t *ret_pid,
			   char **ret_cgroup, crl_error_t *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return crl_error_set_errno(err, errno, "socketpair");
	pid_t h = fork();
	if (h < 0) {
		close(sv[0]);
		close(sv[1]);
		return crl_error_set_errno(err, errno, "fork");
	}
	if (h == 0) {
		close(sv[0]);
		rt_state_t *st = NULL;
		int master = -1;
		crl_error_t e = CRL_ERROR_INIT;
		char msg[4200];
		int n;
		if (o->terminal)
			o->ret_master = &master; /* this child's copy of the options */
		if (rt_create(m->rt_root, id, bundle, o, &st, &e) < 0)
			n = snprintf(msg, sizeof(msg), "E%d %s", e.errnum, crl_error_message(&e));
		else
			n = snprintf(msg, sizeof(msg), "P%d %s", (int)st->pid, st->cgroup);
		_exit(crl_send_with_fd(sv[1], msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, master) < 0);
	}
	close(sv[1]);
	char msg[4200];
	int master = -1;
	ssize_t n;
	while ((n = crl_recv_with_fd(sv[0], msg, sizeof(msg) - 1, &master)) < 0 && errno == EINTR)
		;
	close(sv[0]);
	while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
		;
	if (n <= 1) {
		if (master >= 0)
			close(master);
		return crl_error_set(err, EIO, "create %s: the creating process died", id);
	}
	msg[n] = '\0';
	char *rest = strchr(msg, ' ');
	if (!rest || (msg[0] != 'P' && msg[0] != 'E')) {
		if (master >= 0)
			close(master);
		return crl_error_set(err, EIO, "create %s: malformed answer from the creating process", id);
	}
	*rest++ = '\0';
	int num = atoi(msg + 1);
	if (msg[0] == 'E') {
		if (master >= 0)
			close(master);
		return crl_error_set(err, num > 0 ? num : EIO, "%s", rest);
	}
	if (o->terminal) {
		if (master < 0)
			return crl_error_set(err, EIO, "create %s: no terminal came back", id);
		*o->ret_master = master;
	} else if (master >= 0) {
		close(master);
	}
	*ret_pid = num;
	if (!(*ret_cgroup = strdup(rest)))
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static void op_create(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	crl_error_t err = CRL_ERROR_INIT;
	const char *id = crl_json_get_string(crl_json_get(req, "id"));
	const char *bundle = crl_json_get_string(crl_json_get(req, "bundle"));
	const char *log_path = crl_json_get_string(crl_json_get(req, "log_path"));
	if (!id || !bundle || !log_path) {
		crl_error_set(&err, EINVAL, "create needs id, bundle and log_path");
		return reply_error(conn, &err);
	}
	if (find_ctr(m, id)) {
		crl_error_set(&err, EEXIST, "container %s already exists", id);
		return reply_error(conn, &err);
	}
	ctr_t *c = calloc(1, sizeof(*c));
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	if (!c || !(c->id = strdup(id))) {
		free(c);
		crl_error_set(&err, ENOMEM, "out of memory");
		return reply_error(conn, &err);
	}
	c->out = (src_t){ SRC_CTR, c, 1, -1 };
	c->err = (src_t){ SRC_CTR, c, 2, -1 };
	c->in_fd = c->master = -1;
	bool want_stdin = false, tty = false;
	crl_json_get_bool(crl_json_get(req, "stdin"), &want_stdin);
	crl_json_get_bool(crl_json_get(req, "tty"), &tty);
	int in[2] = { -1, -1 };
	if (crl_crilog_open(log_path, &c->log, &err) < 0)
		goto fail;
	rt_create_opts_t o = { .set_stdio = true, .stdio = { -1, -1, -1 } };
	if (tty) {
		o.terminal = true;
		o.ret_master = &c->master;
	} else {
		if (make_pipe(out, &err) < 0 || make_pipe(errp, &err) < 0)
			goto fail;
		o.stdio[1] = out[1];
		o.stdio[2] = errp[1];
		if (want_stdin) {
			if (pipe2(in, O_CLOEXEC) < 0) {
				crl_error_set_errno(&err, errno, "pipe");
				goto fail;
			}
			o.stdio[0] = in[0];
		}
	}
	if (create_in_child(m, id, bundle, &o, &c->pid, &c->cgroup, &err) < 0)
		goto fail;
	if (tty) {
		fcntl(c->master, F_SETFL, O_NONBLOCK);
		out[0] = c->master;
		/* Output is read from the master; input and resizes go through this dup of it. */
		c->in_fd = fcntl(c->master, F_DUPFD_CLOEXEC, 3);
		c->master = -1;
		c->tty = true;
	} else {
		close(out[1]);
		close(errp[1]);
		if (in[0] >= 0) {
			close(in[0]);
			c->in_fd = in[1];
		}
	}
	c->out.fd = out[0];
	c->err.fd = errp[0];
	watch(m, &c->out);
	if (c->err.fd >= 0)
		watch(m, &c->err);
	c->next = m->ctrs;
	m->ctrs = c;
	crl_json_t *j = reply_begin(true);
	crl_json_key(j, "pid");
	crl_json_int(j, c->pid);
	return reply_end(conn, j);
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	if (c->master >= 0)
		close(c->master);
	ctr_free(m, c);
	reply_error(conn, &err);
}

static ctr_t *need_ctr(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	const char *id = crl_json_get_string(crl_json_get(req, "id"));
	ctr_t *c = id ? find_ctr(m, id) : NULL;
	if (!c) {
		crl_error_t err = CRL_ERROR_INIT;
		crl_error_set(&err, ENOENT, "no container %s in this monitor", id ? id : "(no id)");
		reply_error(conn, &err);
	}
	return c;
}

static void op_state(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	ctr_t *c = need_ctr(m, conn, req);
	if (!c)
		return;
	crl_json_t *j = reply_begin(true);
	crl_json_key(j, "status");
	crl_json_string(j, c->exited ? "stopped" : c->started_ns ? "running" : "created");
	crl_json_key(j, "pid");
	crl_json_int(j, c->exited ? 0 : c->pid);
	exit_fields(j, c, false);
	reply_end(conn, j);
}

static void op_simple(mon_t *m, conn_t *conn, const char *op, const crl_json_value_t *req)
{
	ctr_t *c = need_ctr(m, conn, req);
	if (!c)
		return;
	crl_error_t err = CRL_ERROR_INIT;
	int r = 0;
	if (strcmp(op, "start") == 0) {
		r = rt_start(m->rt_root, c->id, &err);
		if (r == 0)
			c->started_ns = now_ns(CLOCK_REALTIME);
	} else if (strcmp(op, "kill") == 0) {
		int64_t sig = SIGTERM;
		crl_json_get_int(crl_json_get(req, "signal"), &sig);
		if (sig <= 0 || sig >= NSIG)
			r = crl_error_set(&err, EINVAL, "bad signal %lld", (long long)sig);
		else if (c->exited)
			r = crl_error_set(&err, ESRCH, "container %s has exited", c->id);
		else
			r = rt_kill(m->rt_root, c->id, (int)sig, &err);
	} else if (strcmp(op, "reopen_log") == 0) {
		r = crl_crilog_reopen(c->log, &err);
	} else if (strcmp(op, "delete") == 0) {
		bool force = false;
		crl_json_get_bool(crl_json_get(req, "force"), &force);
		if (!c->exited && !force)
			r = crl_error_set(&err, EBUSY, "container %s is running", c->id);
		else if ((r = rt_delete(m->rt_root, c->id, true, &err)) == 0) {
			char name[300];
			snprintf(name, sizeof(name), "exits/%s.json", c->id);
			unlinkat(m->dirfd, name, 0);
			for (ctr_t **p = &m->ctrs; *p; p = &(*p)->next)
				if (*p == c) {
					*p = c->next;
					break;
				}
			ctr_free(m, c);
		}
	}
	if (r < 0)
		return reply_error(conn, &err);
	reply_ok(conn);
}

/* --- exec sessions --- */

static void exec_maybe_done(mon_t *m, exec_t *x)
{
	if (!x->exited || x->out.fd >= 0 || x->err.fd >= 0)
		return;
	if (x->conn) {
		crl_json_t *j = reply_begin(true);
		crl_json_key(j, "exit_code");
		crl_json_int(j, x->status);
		crl_json_key(j, "timed_out");
		crl_json_bool(j, x->timed_out);
		crl_json_key(j, "truncated");
		crl_json_bool(j, x->truncated);
		for (int s = 1; s <= 2; s++) {
			char *b = crl_base64_encode(x->buf[s] ? x->buf[s] : "", x->len[s]);
			crl_json_key(j, s == 1 ? "stdout" : "stderr");
			crl_json_string(j, b ? b : "");
			free(b);
		}
		reply_end(x->conn, j);
	}
	if (x->conn && x->stream) {
		x->conn->exec = NULL;
		x->conn->dead = true;
	}
	if (x->in_fd >= 0)
		close(x->in_fd);
	for (exec_t **p = &m->execs; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
	free(x->buf[1]);
	free(x->buf[2]);
	free(x);
}

/* An exec's joiner is a child of ours that prepared the exec itself (rt_exec_here): the container's state and
 * spec are read in its memory, not ours. Its first message says whether the command runs; with tty the
 * command's terminal master follows on a second socket. */
static int exec_in_child(mon_t *m, const char *id, char **argv, const char *cwd, const int stdio[3], bool tty,
			 pid_t *ret_pid, int *ret_master, crl_error_t *err)
{
	int rep[2], tsv[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rep) < 0)
		return crl_error_set_errno(err, errno, "socketpair");
	if (tty && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, tsv) < 0) {
		close(rep[0]);
		close(rep[1]);
		return crl_error_set_errno(err, errno, "socketpair");
	}
	pid_t h = fork();
	if (h == 0) {
		close(rep[0]);
		if (tty)
			close(tsv[0]);
		crl_error_t e = CRL_ERROR_INIT;
		rt_exec_here(m->rt_root, id, argv, cwd, true, stdio, tsv[1], rep[1], &e);
		_exit(127);
	}
	int saved = errno;
	close(rep[1]);
	if (tty)
		close(tsv[1]);
	if (h < 0) {
		close(rep[0]);
		if (tty)
			close(tsv[0]);
		return crl_error_set_errno(err, saved, "fork");
	}
	char msg[4200];
	ssize_t n;
	while ((n = recv(rep[0], msg, sizeof(msg) - 1, 0)) < 0 && errno == EINTR)
		;
	close(rep[0]);
	int r = 0;
	if (n <= 0) {
		r = crl_error_set(err, EIO, "exec in %s: the joining process died", id);
	} else {
		msg[n] = '\0';
		if (msg[0] == 'E') {
			char *rest = strchr(msg, ' ');
			int e = atoi(msg + 1);
			r = crl_error_set(err, e > 0 ? e : EIO, "%s", rest ? rest + 1 : "exec failed");
		}
	}
	if (r == 0 && tty) {
		char byte;
		int master = -1;
		while ((n = crl_recv_with_fd(tsv[0], &byte, 1, &master)) < 0 && errno == EINTR)
			;
		if (n != 1 || master < 0) {
			if (master >= 0)
				close(master);
			kill(h, SIGKILL);
			r = crl_error_set(err, EIO, "exec: the command's terminal did not arrive");
		} else {
			*ret_master = master;
		}
	}
	if (tty)
		close(tsv[0]);
	if (r < 0) {
		while (waitpid(h, NULL, 0) < 0 && errno == EINTR)
			;
		return r;
	}
	*ret_pid = h;
	return 0;
}

static void op_exec(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	ctr_t *c = need_ctr(m, conn, req);
	if (!c)
		return;
	crl_error_t err = CRL_ERROR_INIT;
	const crl_json_value_t *args = crl_json_get(req, "args");
	size_t n = crl_json_array_len(args);
	if (n == 0 || n > 4096) {
		crl_error_set(&err, EINVAL, "exec needs args (1 to 4096)");
		return reply_error(conn, &err);
	}
	_cleanup_strv_ char **argv = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; argv && i < n; i++) {
		const char *a = crl_json_get_string(crl_json_array_at(args, i));
		if (!a || !(argv[i] = strdup(a))) {
			crl_error_set(&err, EINVAL, "exec args must be strings");
			return reply_error(conn, &err);
		}
	}
	int64_t timeout = 0, cap = DEFAULT_EXEC_OUTPUT;
	crl_json_get_int(crl_json_get(req, "timeout_s"), &timeout);
	crl_json_get_int(crl_json_get(req, "max_output"), &cap);
	if (cap <= 0 || cap > 256LL * 1024 * 1024)
		cap = DEFAULT_EXEC_OUTPUT;
	bool stream = false, want_stdin = false, tty = false;
	crl_json_get_bool(crl_json_get(req, "stream"), &stream);
	crl_json_get_bool(crl_json_get(req, "stdin"), &want_stdin);
	crl_json_get_bool(crl_json_get(req, "tty"), &tty);
	if ((want_stdin || tty) && !stream) {
		crl_error_set(&err, EINVAL, "exec with stdin or tty needs stream");
		return reply_error(conn, &err);
	}
	exec_t *x = calloc(1, sizeof(*x));
	if (!x) {
		crl_error_set(&err, ENOMEM, "out of memory");
		return reply_error(conn, &err);
	}
	x->in_fd = -1;
	const char *cwd = crl_json_get_string(crl_json_get(req, "cwd"));
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
	pid_t pid = -1;
	int r;
	if (tty) {
		int master = -1;
		const int none[3] = { -1, -1, -1 };
		r = exec_in_child(m, c->id, argv, cwd, none, true, &pid, &master, &err);
		if (r == 0) {
			fcntl(master, F_SETFL, O_NONBLOCK);
			out[0] = master;
			x->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		}
	} else {
		r = make_pipe(out, &err);
		if (r == 0)
			r = make_pipe(errp, &err);
		if (r == 0 && want_stdin && pipe2(in, O_CLOEXEC) < 0)
			r = crl_error_set_errno(&err, errno, "pipe");
		int stdio[3] = { in[0], out[1], errp[1] };
		if (r == 0)
			r = exec_in_child(m, c->id, argv, cwd, stdio, false, &pid, NULL, &err);
		for (int i = 1; i < 3; i++)
			if ((i == 1 ? out[1] : errp[1]) >= 0)
				close(i == 1 ? out[1] : errp[1]);
		if (in[0] >= 0)
			close(in[0]);
		x->in_fd = in[1];
	}
	if (r < 0) {
		if (out[0] >= 0)
			close(out[0]);
		if (errp[0] >= 0)
			close(errp[0]);
		if (x->in_fd >= 0)
			close(x->in_fd);
		free(x);
		return reply_error(conn, &err);
	}
	x->stream = stream;
	x->tty = tty;
	x->conn = conn;
	x->pid = pid;
	x->cap = (size_t)cap;
	x->deadline_ms = timeout > 0 ? now_ns(CLOCK_MONOTONIC) / 1000000 + timeout * 1000 : 0;
	x->out = (src_t){ SRC_EXEC, x, 1, out[0] };
	x->err = (src_t){ SRC_EXEC, x, 2, errp[0] };
	watch(m, &x->out);
	if (x->err.fd >= 0)
		watch(m, &x->err);
	x->next = m->execs;
	m->execs = x;
	if (stream) {
		reply_ok(conn);
		conn->exec = x;
	}
}

static void unpin(mon_t *m);

/* --- the loop --- */

static void handle_request(mon_t *m, conn_t *conn, const char *text)
{
	crl_json_value_t *req = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_json_parse(text, &req, &err) < 0)
		return reply_error(conn, &err);
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
		ctr_t *c = need_ctr(m, conn, req);
		if (c) {
			reply_ok(conn);
			conn->attached = c;
		}
		crl_json_value_free(req);
		return;
	}
	if (!crl_json_get_int(crl_json_get(req, "v"), &v) || v != PROTOCOL) {
		crl_error_set(&err, EPROTO, "protocol version %lld is not spoken here (this monitor speaks %d)", (long long)v, PROTOCOL);
		reply_error(conn, &err);
	} else if (!op) {
		crl_error_set(&err, EINVAL, "request without op");
		reply_error(conn, &err);
	} else if (strcmp(op, "version") == 0) {
		crl_json_t *j = reply_begin(true);
		crl_json_key(j, "protocol");
		crl_json_int(j, PROTOCOL);
		crl_json_key(j, "version");
		crl_json_string(j, CRL_VERSION);
		crl_json_key(j, "namespaces");
		crl_json_object_begin(j);
		for (size_t i = 0; i < m->n_pins; i++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/ns/%s", m->dir, m->pins[i]);
			crl_json_key(j, m->pins[i]);
			crl_json_string(j, p);
		}
		crl_json_object_end(j);
		reply_end(conn, j);
	} else if (strcmp(op, "create") == 0) {
		op_create(m, conn, req);
	} else if (strcmp(op, "state") == 0) {
		op_state(m, conn, req);
	} else if (strcmp(op, "exec") == 0) {
		op_exec(m, conn, req);
	} else if (strcmp(op, "start") == 0 || strcmp(op, "kill") == 0 || strcmp(op, "delete") == 0 ||
		   strcmp(op, "reopen_log") == 0) {
		op_simple(m, conn, op, req);
	} else if (strcmp(op, "shutdown") == 0) {
		bool running = false;
		for (ctr_t *c = m->ctrs; c; c = c->next)
			running |= !c->exited;
		if (running) {
			crl_error_set(&err, EBUSY, "containers are still running");
			reply_error(conn, &err);
		} else {
			unpin(m);
			m->stop = true;
			reply_ok(conn);
		}
	} else {
		crl_error_set(&err, EOPNOTSUPP, "unknown op '%.64s'", op);
		reply_error(conn, &err);
	}
	crl_json_value_free(req);
}

static void on_conn(mon_t *m, conn_t *c)
{
	if (c->len + 65536 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 65536;
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
	while (c->len >= 4 && !c->dead) {
		unsigned char *h = (unsigned char *)c->in;
		size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
		if (n > MAX_MSG) {
			crl_error_t err = CRL_ERROR_INIT;
			crl_error_set(&err, EMSGSIZE, "message of %zu bytes is over the %d limit", n, MAX_MSG);
			reply_error(c, &err);
			c->dead = true;
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
			unwatch(m, s);
			return;
		}
		crl_error_t err = CRL_ERROR_INIT;
		if (crl_crilog_write(c->log, s->stream, buf, (size_t)r, now_ns(CLOCK_REALTIME), &err) < 0) {
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
		unwatch(m, s);
		exec_maybe_done(m, x);
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

static void reap(mon_t *m)
{
	for (;;) {
		int st = 0;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (ctr_t *c = m->ctrs; c; c = c->next)
			if (c->pid == pid && !c->exited)
				on_ctr_exit(m, c, st);
		for (exec_t *x = m->execs; x; x = x->next)
			if (x->pid == pid) {
				x->exited = true;
				x->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
				exec_maybe_done(m, x);
				break;
			}
	}
}

static int next_timeout(mon_t *m)
{
	int64_t now = now_ns(CLOCK_MONOTONIC) / 1000000, best = -1;
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
	return 0;
}

static int listen_on(const char *dir, crl_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/monitor.sock", dir) >= sizeof(a.sun_path))
		return crl_error_set(err, ENAMETOOLONG, "socket path in %s is too long", dir);
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
		{ NULL, 0, NULL, 0 },
	};
	mon_t m = { .ep = -1, .dirfd = -1 };
	const char *pod = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "d:r:n:", opts, NULL)) != -1) {
		if (c == 'd')
			m.dir = optarg;
		else if (c == 'r')
			m.rt_root = optarg;
		else if (c == 'n')
			pod = optarg;
		else
			return 2;
	}
	if (!m.dir || !m.rt_root) {
		fprintf(stderr, "usage: crio-lite-monitor --dir DIR --runtime-root DIR\n");
		return 2;
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
	if (pod && pod_namespaces(&m, pod, &err) < 0) {
		fprintf(stderr, "crio-lite-monitor: %s\n", crl_error_message(&err));
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
	int lfd = listen_on(m.dir, &err);
	if (m.ep < 0 || m.sig.fd < 0 || lfd < 0) {
		fprintf(stderr, "crio-lite-monitor: %s\n", err.errnum ? crl_error_message(&err) : strerror(errno));
		return 1;
	}
	m.listen = (src_t){ SRC_LISTEN, NULL, 0, lfd };
	watch(&m, &m.sig);
	watch(&m, &m.listen);
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
				conn_t *cn = fd >= 0 ? calloc(1, sizeof(*cn)) : NULL;
				if (!cn) {
					if (fd >= 0)
						close(fd);
					break;
				}
				cn->src = (src_t){ SRC_CONN, cn, 0, fd };
				cn->next = m.conns;
				m.conns = cn;
				watch(&m, &cn->src);
				break;
			}
			case SRC_CONN:
				on_conn(&m, s->obj);
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
			for (exec_t *x = m.execs; x; x = x->next)
				if (x->conn == cn)
					x->conn = NULL;
			unwatch(&m, &cn->src);
			*p = cn->next;
			free(cn->in);
			free(cn);
		}
	}
	/* A clean exit: containers still listed keep running (they are not ours to end). */
	while (m.execs) {
		exec_t *x = m.execs;
		m.execs = x->next;
		unwatch(&m, &x->out);
		unwatch(&m, &x->err);
		free(x->buf[1]);
		free(x->buf[2]);
		free(x);
	}
	while (m.ctrs) {
		ctr_t *ct = m.ctrs;
		m.ctrs = ct->next;
		ctr_free(&m, ct);
	}
	while (m.conns) {
		conn_t *cn = m.conns;
		m.conns = cn->next;
		unwatch(&m, &cn->src);
		free(cn->in);
		free(cn);
	}
	unwatch(&m, &m.listen);
	unwatch(&m, &m.sig);
	close(m.ep);
	close(m.dirfd);
	return 0;
}
