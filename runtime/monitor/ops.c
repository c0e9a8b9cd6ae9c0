/* SPDX-License-Identifier: Apache-2.0 */
/* The monitor's operations on containers and exec sessions. */
#include "monitor-internal.h"

#include "common/timefmt.h"

/* --- containers --- */

static ctr_t *find_ctr(mon_t *m, const char *id)
{
	for (ctr_t *c = m->ctrs; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

void mon_ctr_free(mon_t *m, ctr_t *c)
{
	for (conn_t *cn = m->conns; cn; cn = cn->next)
		if (cn->attached == c) {
			cn->attached = NULL;
			mon_conn_close(cn);
		}
	if (c->in_fd >= 0)
		close(c->in_fd);
	mon_unwatch(m, &c->out);
	mon_unwatch(m, &c->err);
	crl_crilog_close(c->log);
	free(c->id);
	free(c->cgroup);
	free(c->runtime);
	free(c->runtime_root);
	free(c);
}

/* The exit facts, in the exit record (times named *_ns) and in the state reply. */
static void exit_fields(crl_json_t *j, const ctr_t *c, bool ns_names)
{
	crl_json_kv_int(j, "exit_code", c->exit_code);
	crl_json_kv_int(j, "signal", c->signal);
	crl_json_kv_bool(j, "oom_killed", c->oom);
	crl_json_kv_int(j, ns_names ? "started_at_ns" : "started_at", c->started_ns);
	crl_json_kv_int(j, ns_names ? "finished_at_ns" : "finished_at", c->finished_ns);
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
	crl_json_kv_int(j, "v", 1);
	crl_json_kv_string(j, "id", c->id);
	exit_fields(j, c, true);
	crl_json_object_end(j);
	char name[300];
	snprintf(name, sizeof(name), "%s.json", c->id);
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_json_save(j, d, name, 0644, &e) < 0)
		fprintf(stderr, "crio-lite-monitor: exit record of %s: %s\n", c->id, crl_error_message(&e));
	crl_error_clear(&e);
}

void mon_on_ctr_exit(mon_t *m, ctr_t *c, int status)
{
	mon_drain(m, &c->out);
	mon_drain(m, &c->err);
	c->exited = true;
	c->finished_ns = crl_now_ns(CLOCK_REALTIME);
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
			crl_json_t *j = mon_reply_begin(true);
			crl_json_kv_int(j, "exit_code", c->exit_code);
			mon_reply_end(cn, j);
			cn->attached = NULL;
			mon_conn_close(cn);
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

void mon_op_create(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	crl_error_t err = CRL_ERROR_INIT;
	const char *id = crl_json_get_string(crl_json_get(req, "id"));
	const char *bundle = crl_json_get_string(crl_json_get(req, "bundle"));
	const char *log_path = crl_json_get_string(crl_json_get(req, "log_path"));
	if (!id || !bundle || !log_path) {
		crl_error_set(&err, EINVAL, "create needs id, bundle and log_path");
		return mon_reply_error(conn, &err);
	}
	size_t n = 0;
	for (ctr_t *k = m->ctrs; k; k = k->next)
		n++;
	if (n >= MAX_CTRS) {
		crl_error_set(&err, EAGAIN, "this pod already has %zu containers (at most %d)", n, MAX_CTRS);
		return mon_reply_error(conn, &err);
	}
	if (find_ctr(m, id)) {
		crl_error_set(&err, EEXIST, "container %s already exists", id);
		return mon_reply_error(conn, &err);
	}
	ctr_t *c = calloc(1, sizeof(*c));
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	if (!c || !(c->id = strdup(id))) {
		free(c);
		crl_error_set(&err, ENOMEM, "out of memory");
		return mon_reply_error(conn, &err);
	}
	c->out = (src_t){ SRC_CTR, c, 1, -1 };
	c->err = (src_t){ SRC_CTR, c, 2, -1 };
	c->in_fd = c->master = -1;
	bool want_stdin = false, tty = false;
	crl_json_get_bool(crl_json_get(req, "stdin"), &want_stdin);
	crl_json_get_bool(crl_json_get(req, "tty"), &tty);
	int in[2] = { -1, -1 };
	/* A RuntimeClass handler's external OCI runtime: an absolute path to an executable, and its --root. */
	const char *runtime = crl_json_get_string(crl_json_get(req, "runtime"));
	const char *runtime_root = crl_json_get_string(crl_json_get(req, "runtime_root"));
	if (runtime) {
		char def[PATH_MAX];
		snprintf(def, sizeof(def), "%s/runtime-root", m->dir);
		if (runtime[0] != '/' || access(runtime, X_OK) != 0) {
			crl_error_set(&err, EINVAL, "runtime '%s' is not an absolute path to an executable", runtime);
			goto fail;
		}
		if (runtime_root && runtime_root[0] != '/') {
			crl_error_set(&err, EINVAL, "runtime_root '%s' is not absolute", runtime_root);
			goto fail;
		}
		if (!(c->runtime = strdup(runtime)) || !(c->runtime_root = strdup(runtime_root ? runtime_root : def))) {
			crl_error_set(&err, ENOMEM, "out of memory");
			goto fail;
		}
	}
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
	if ((c->runtime ? mon_ext_create(m, c, bundle, &o, &err) : create_in_child(m, id, bundle, &o, &c->pid, &c->cgroup, &err)) < 0)
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
	mon_watch(m, &c->out);
	if (c->err.fd >= 0)
		mon_watch(m, &c->err);
	c->next = m->ctrs;
	m->ctrs = c;
	crl_json_t *j = mon_reply_begin(true);
	crl_json_kv_int(j, "pid", c->pid);
	return mon_reply_end(conn, j);
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
	mon_ctr_free(m, c);
	mon_reply_error(conn, &err);
}

ctr_t *mon_need_ctr(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	const char *id = crl_json_get_string(crl_json_get(req, "id"));
	ctr_t *c = id ? find_ctr(m, id) : NULL;
	if (!c) {
		crl_error_t err = CRL_ERROR_INIT;
		crl_error_set(&err, ENOENT, "no container %s in this monitor", id ? id : "(no id)");
		mon_reply_error(conn, &err);
	}
	return c;
}

void mon_op_state(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	ctr_t *c = mon_need_ctr(m, conn, req);
	if (!c)
		return;
	crl_json_t *j = mon_reply_begin(true);
	crl_json_kv_string(j, "status", c->exited ? "stopped" : c->started_ns ? "running" : "created");
	crl_json_kv_int(j, "pid", c->exited ? 0 : c->pid);
	exit_fields(j, c, false);
	mon_reply_end(conn, j);
}

/* New limits for a running container: resources is runc's LinuxResources JSON (update --resources). */
static int update(mon_t *m, ctr_t *c, const char *resources, crl_error_t *err)
{
	if (!resources)
		return crl_error_set(err, EINVAL, "update needs resources (LinuxResources JSON)");
	if (c->exited)
		return crl_error_set(err, ESRCH, "container %s has exited", c->id);
	if (c->runtime) {
		/* The external runtime reads them from a file of ours, gone right after: no fsync. */
		char name[300];
		snprintf(name, sizeof(name), "update-%s.json", c->id);
		int r = crl_fs_write_replace(m->dirfd, name, resources, strlen(resources), 0600, err);
		if (r < 0)
			return r;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", m->dir, name);
		const char *args[] = { "update", "--resources", path, c->id, NULL };
		r = mon_ext_run(m, c, args, err);
		unlinkat(m->dirfd, name, 0);
		return r;
	}
	rt_resources_t res = RT_RESOURCES_UNSET;
	int r = rt_resources_parse(resources, &res, err);
	if (r == 0)
		r = rt_update(m->rt_root, c->id, &res, err);
	rt_resources_free(&res);
	return r;
}

void mon_op_simple(mon_t *m, conn_t *conn, const char *op, const crl_json_value_t *req)
{
	ctr_t *c = mon_need_ctr(m, conn, req);
	if (!c)
		return;
	crl_error_t err = CRL_ERROR_INIT;
	int r = 0;
	char sigbuf[16];
	if (strcmp(op, "start") == 0) {
		const char *args[] = { "start", c->id, NULL };
		r = c->runtime ? mon_ext_run(m, c, args, &err) : rt_start(m->rt_root, c->id, &err);
		if (r == 0)
			c->started_ns = crl_now_ns(CLOCK_REALTIME);
	} else if (strcmp(op, "kill") == 0) {
		int64_t sig = SIGTERM;
		crl_json_get_int(crl_json_get(req, "signal"), &sig);
		if (sig <= 0 || sig >= NSIG)
			r = crl_error_set(&err, EINVAL, "bad signal %lld", (long long)sig);
		else if (c->exited)
			r = crl_error_set(&err, ESRCH, "container %s has exited", c->id);
		else {
			/* all: every process of the container's cgroup (runc's kill --all): in a pod's shared PID
			 * namespace the init's children outlive it otherwise. */
			bool all = false;
			crl_json_get_bool(crl_json_get(req, "all"), &all);
			if (c->runtime) {
				snprintf(sigbuf, sizeof(sigbuf), "%d", (int)sig);
				const char *args[] = { "kill", c->id, sigbuf, NULL };
				const char *args_all[] = { "kill", "--all", c->id, sigbuf, NULL };
				r = mon_ext_run(m, c, all ? args_all : args, &err);
			} else {
				r = all ? rt_kill_all(m->rt_root, c->id, (int)sig, &err) : rt_kill(m->rt_root, c->id, (int)sig, &err);
			}
		}
	} else if (strcmp(op, "update") == 0) {
		r = update(m, c, crl_json_get_string(crl_json_get(req, "resources")), &err);
	} else if (strcmp(op, "reopen_log") == 0) {
		r = crl_crilog_reopen(c->log, &err);
	} else if (strcmp(op, "delete") == 0) {
		bool force = false;
		crl_json_get_bool(crl_json_get(req, "force"), &force);
		if (!c->exited && !force) {
			r = crl_error_set(&err, EBUSY, "container %s is running", c->id);
		} else {
			/* Forced: what the container left in its cgroup goes too (rt_delete, runc delete --force). */
			r = c->runtime ? mon_ext_run(m, c, (const char *const[]){ "delete", "--force", c->id, NULL }, &err)
				       : rt_delete(m->rt_root, c->id, true, &err);
		}
		if (r == 0) {
			char name[300];
			snprintf(name, sizeof(name), "exits/%s.json", c->id);
			unlinkat(m->dirfd, name, 0);
			for (ctr_t **p = &m->ctrs; *p; p = &(*p)->next)
				if (*p == c) {
					*p = c->next;
					break;
				}
			mon_ctr_free(m, c);
		}
	}
	if (r < 0)
		return mon_reply_error(conn, &err);
	mon_reply_ok(conn);
}

/* --- exec sessions --- */

void mon_exec_maybe_done(mon_t *m, exec_t *x)
{
	if (!x->exited || x->out.fd >= 0 || x->err.fd >= 0)
		return;
	if (x->conn) {
		crl_json_t *j = mon_reply_begin(true);
		crl_json_kv_int(j, "exit_code", x->status);
		crl_json_kv_bool(j, "timed_out", x->timed_out);
		crl_json_kv_bool(j, "truncated", x->truncated);
		for (int s = 1; s <= 2; s++) {
			char *b = crl_base64_encode(x->buf[s] ? x->buf[s] : "", x->len[s]);
			crl_json_kv_string(j, s == 1 ? "stdout" : "stderr", b ? b : "");
			free(b);
		}
		mon_reply_end(x->conn, j);
	}
	if (x->conn && x->stream) {
		x->conn->exec = NULL;
		mon_conn_close(x->conn);
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
		rt_exec_opts_t o = { .args = argv, .cwd = cwd, .set_stdio = true, .tty_sock = tsv[1] };
		memcpy(o.stdio, stdio, sizeof(o.stdio));
		rt_exec_here(m->rt_root, id, &o, rep[1], &e);
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

void mon_op_exec(mon_t *m, conn_t *conn, const crl_json_value_t *req)
{
	ctr_t *c = mon_need_ctr(m, conn, req);
	if (!c)
		return;
	crl_error_t err = CRL_ERROR_INIT;
	const crl_json_value_t *args = crl_json_get(req, "args");
	size_t n = crl_json_array_len(args);
	if (n == 0 || n > 4096) {
		crl_error_set(&err, EINVAL, "exec needs args (1 to 4096)");
		return mon_reply_error(conn, &err);
	}
	_cleanup_strv_ char **argv = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; argv && i < n; i++) {
		const char *a = crl_json_get_string(crl_json_array_at(args, i));
		if (!a || !(argv[i] = strdup(a))) {
			crl_error_set(&err, EINVAL, "exec args must be strings");
			return mon_reply_error(conn, &err);
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
	bool pass_fds = false;
	crl_json_get_bool(crl_json_get(req, "pass_fds"), &pass_fds);
	if ((want_stdin || tty || pass_fds) && !stream) {
		crl_error_set(&err, EINVAL, "exec with stdin, tty or pass_fds needs stream");
		return mon_reply_error(conn, &err);
	}
	size_t running = 0;
	for (exec_t *e = m->execs; e; e = e->next)
		running++;
	if (running >= MAX_EXECS) {
		crl_error_set(&err, EAGAIN, "%zu exec sessions already run in this pod (at most %d)", running, MAX_EXECS);
		return mon_reply_error(conn, &err);
	}
	exec_t *x = calloc(1, sizeof(*x));
	if (!x) {
		crl_error_set(&err, ENOMEM, "out of memory");
		return mon_reply_error(conn, &err);
	}
	x->in_fd = -1;
	const char *cwd = crl_json_get_string(crl_json_get(req, "cwd"));
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
	pid_t pid = -1;
	int r;
	if (tty) {
		int master = -1;
		const int none[3] = { -1, -1, -1 };
		r = c->runtime ? mon_ext_exec(m, c, argv, cwd, none, true, &pid, &master, &err)
			       : exec_in_child(m, c->id, argv, cwd, none, true, &pid, &master, &err);
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
			r = c->runtime ? mon_ext_exec(m, c, argv, cwd, stdio, false, &pid, NULL, &err)
				       : exec_in_child(m, c->id, argv, cwd, stdio, false, &pid, NULL, &err);
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
		return mon_reply_error(conn, &err);
	}
	x->stream = stream;
	x->tty = tty;
	x->conn = conn;
	x->pid = pid;
	x->cap = (size_t)cap;
	x->deadline_ms = timeout > 0 ? crl_mono_ms() + timeout * 1000 : 0;
	x->out = (src_t){ SRC_EXEC, x, 1, out[0] };
	x->err = (src_t){ SRC_EXEC, x, 2, errp[0] };
	mon_watch(m, &x->out);
	if (x->err.fd >= 0)
		mon_watch(m, &x->err);
	x->next = m->execs;
	m->execs = x;
	if (!stream)
		return;
	mon_reply_ok(conn);
	conn->exec = x;
	if (!pass_fds)
		return;
	/* The client takes the command's stdio: stdin (when asked for), stdout, stderr; or the terminal. We only
	 * wait for the exit. */
	int fds[3];
	size_t nfd = 0;
	if (x->in_fd >= 0 && !tty)
		fds[nfd++] = x->in_fd;
	fds[nfd++] = x->out.fd;
	if (x->err.fd >= 0)
		fds[nfd++] = x->err.fd;
	if (mon_conn_send_fds(conn, fds, nfd) < 0) {
		kill(x->pid, SIGKILL);
		mon_conn_close(conn);
		x->conn = NULL;
		conn->exec = NULL;
	}
	mon_unwatch(m, &x->out);
	mon_unwatch(m, &x->err);
	if (x->in_fd >= 0) {
		close(x->in_fd);
		x->in_fd = -1;
	}
}

