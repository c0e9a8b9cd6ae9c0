/* SPDX-License-Identifier: Apache-2.0 */
/* Containers whose RuntimeClass handler names an external OCI runtime (runc, crun, or crio-lite-runtime
 * itself): the monitor runs that binary on the bundle with runc's command line, as conmon does, instead of
 * calling the runtime library. The container's init and an exec's process are the runtime's grandchildren;
 * when the runtime exits they become the monitor's (a subreaper), so their exits still come to its waitpid. */
#include "monitor-internal.h"

#define RUNTIME_LOG "runtime.log"
#define RUNTIME_PID "runtime.pid"
#define CONSOLE_SOCK "console.sock"

/* The error the runtime logged (runc's --log-format json: the last line's "msg"), or its last line of text. */
static void runtime_message(mon_t *m, char *buf, size_t n)
{
	buf[0] = '\0';
	_cleanup_free_ char *text = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_fs_read_file(m->dirfd, RUNTIME_LOG, 1 << 20, &text, NULL, &e) < 0) {
		crl_error_clear(&e);
		return;
	}
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	char *line = strrchr(text, '\n');
	line = line ? line + 1 : text;
	crl_json_value_t *v = NULL;
	const char *msg = NULL;
	if (crl_json_parse(line, &v, &e) == 0)
		msg = crl_json_get_string(crl_json_get(v, "msg"));
	crl_error_clear(&e);
	snprintf(buf, n, "%s", msg ? msg : line);
	crl_json_value_free(v);
}

/* Runs `runtime --root R --log <dir>/runtime.log --log-format json ARGS...` with stdio (-1: /dev/null) and
 * waits for it. */
static int run_runtime(mon_t *m, const ctr_t *c, const char *const *args, const int stdio[3], crl_error_t *err)
{
	char log[PATH_MAX];
	snprintf(log, sizeof(log), "%s/" RUNTIME_LOG, m->dir);
	unlinkat(m->dirfd, RUNTIME_LOG, 0);
	const char *argv[48] = { c->runtime, "--root", c->runtime_root, "--log", log, "--log-format", "json" };
	size_t n = 7;
	for (size_t i = 0; args[i] && n < 47; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return crl_error_set_errno(err, errno, "fork");
	if (pid == 0) {
		for (int i = 0; i < 3; i++) {
			int fd = stdio && stdio[i] >= 0 ? stdio[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd < 0 || dup2(fd, i) < 0)
				_exit(127);
		}
		/* In the pod's PID namespace the node's /proc names other processes: the runtime (runc reads
		 * /proc/<pid> of what it starts) gets the pod's, over /proc in a mount namespace of its own, copied
		 * from the node's now (so the mounts a container binds keep their propagation). Only /proc is made
		 * private there, so mounting over it reaches nothing else. */
		if (m->proc_mounted) {
			char proc[PATH_MAX];
			snprintf(proc, sizeof(proc), "%s/proc", m->dir);
			if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/proc", NULL, MS_PRIVATE, NULL) < 0 ||
			    mount(proc, "/proc", NULL, MS_BIND, NULL) < 0) {
				dprintf(STDERR_FILENO, "crio-lite-monitor: give the runtime the pod's /proc: %s\n", strerror(errno));
				_exit(127);
			}
		}
		/* Neither our blocked signals nor our ignored SIGPIPE are the runtime's (or its container's). */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	char msg[1024];
	runtime_message(m, msg, sizeof(msg));
	if (!msg[0])
		snprintf(msg, sizeof(msg), "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return crl_error_set(err, EIO, "%s %s %s: %s", c->runtime, args[0], c->id, msg);
}

int mon_ext_run(mon_t *m, const ctr_t *c, const char *const *args, crl_error_t *err)
{
	return run_runtime(m, c, args, NULL, err);
}

/* A listening console socket in the pod's directory, for one create or exec at a time. */
static int console_listen(mon_t *m, char *path, size_t n, crl_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(path, n, "%s/" CONSOLE_SOCK, m->dir) >= sizeof(a.sun_path))
		return crl_error_set(err, ENAMETOOLONG, "console socket %s/%s: path too long", m->dir, CONSOLE_SOCK);
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return crl_error_set_errno(err, e, "console socket %s", path);
	}
	return fd;
}

/* The master the runtime sent: it connected and sent before exiting, so nothing here waits. */
static int console_take(int ls, const char *path, int *ret_master, crl_error_t *err)
{
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	int r = 0;
	if (c < 0) {
		r = crl_error_set(err, EIO, "the runtime sent no terminal to %s", path);
	} else {
		char name[128];
		int master = -1;
		if (crl_recv_with_fd(c, name, sizeof(name), &master) <= 0 || master < 0)
			r = crl_error_set(err, EIO, "the runtime sent no terminal to %s", path);
		else
			*ret_master = master;
		close(c);
	}
	close(ls);
	unlink(path);
	return r;
}

static int read_pid(mon_t *m, pid_t *ret, crl_error_t *err)
{
	_cleanup_free_ char *t = NULL;
	if (crl_fs_read_file(m->dirfd, RUNTIME_PID, 64, &t, NULL, err) < 0)
		return crl_error_wrap(err, "the runtime's pid file");
	unlinkat(m->dirfd, RUNTIME_PID, 0);
	long v = strtol(t, NULL, 10);
	if (v <= 1 || v > 1 << 30)
		return crl_error_set(err, EIO, "the runtime's pid file holds no pid ('%.20s')", t);
	*ret = (pid_t)v;
	return 0;
}

/* The container's cgroup as the kernel shows it: the v1 memory hierarchy's path, else the v2 one. */
static char *proc_cgroup(pid_t pid)
{
	char p[256];
	rt_proc_path(p, sizeof(p), pid, "cgroup");
	_cleanup_free_ char *t = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, p, 1 << 16, &t, NULL, &e) < 0) {
		crl_error_clear(&e);
		return NULL;
	}
	const char *v2 = NULL;
	for (char *save = NULL, *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *path = c2 + 1;
		if (strcmp(line, "0") == 0 && !*ctrls)
			v2 = path;
		for (const char *k = ctrls; (k = strstr(k, "memory")); k += 6)
			if ((k == ctrls || k[-1] == ',') && (k[6] == '\0' || k[6] == ','))
				return strdup(path);
	}
	return v2 ? strdup(v2) : NULL;
}

int mon_ext_create(mon_t *m, ctr_t *c, const char *bundle, const rt_create_opts_t *o, crl_error_t *err)
{
	char pidf[PATH_MAX], sock[PATH_MAX];
	snprintf(pidf, sizeof(pidf), "%s/" RUNTIME_PID, m->dir);
	unlinkat(m->dirfd, RUNTIME_PID, 0);
	int ls = -1;
	if (o->terminal && (ls = console_listen(m, sock, sizeof(sock), err)) < 0)
		return ls;
	const char *args[] = { "create", "--bundle", bundle, "--pid-file", pidf, o->terminal ? "--console-socket" : c->id,
			       o->terminal ? sock : NULL, o->terminal ? c->id : NULL, NULL };
	int r = run_runtime(m, c, args, o->terminal ? NULL : o->stdio, err);
	if (r == 0)
		r = read_pid(m, &c->pid, err);
	if (o->terminal && r == 0)
		r = console_take(ls, sock, o->ret_master, err);
	else if (ls >= 0) {
		close(ls);
		unlink(sock);
	}
	if (r < 0)
		return r;
	c->cgroup = proc_cgroup(c->pid);
	return 0;
}

int mon_ext_exec(mon_t *m, const ctr_t *c, char **argv, const char *cwd, const int stdio[3], bool tty, pid_t *ret_pid,
		 int *ret_master, crl_error_t *err)
{
	char pidf[PATH_MAX], sock[PATH_MAX];
	snprintf(pidf, sizeof(pidf), "%s/" RUNTIME_PID, m->dir);
	unlinkat(m->dirfd, RUNTIME_PID, 0);
	int ls = -1;
	if (tty && (ls = console_listen(m, sock, sizeof(sock), err)) < 0)
		return ls;
	const char *args[64];
	size_t n = 0;
	args[n++] = "exec";
	args[n++] = "--detach";
	args[n++] = "--pid-file";
	args[n++] = pidf;
	if (cwd) {
		args[n++] = "--cwd";
		args[n++] = cwd;
	}
	if (tty) {
		args[n++] = "--tty";
		args[n++] = "--console-socket";
		args[n++] = sock;
	}
	/* No "--": runc takes everything after the id as the command, and would run "--". */
	args[n++] = c->id;
	size_t na = 0;
	while (argv[na])
		na++;
	/* run_runtime adds 7 of its own before these. */
	if (n + na > 40) {
		if (ls >= 0) {
			close(ls);
			unlink(sock);
		}
		return crl_error_set(err, E2BIG, "exec through %s: at most %zu arguments", c->runtime, 40 - n);
	}
	for (size_t i = 0; i < na; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	int r = run_runtime(m, c, args, tty ? NULL : stdio, err);
	if (r == 0)
		r = read_pid(m, ret_pid, err);
	if (tty && r == 0)
		r = console_take(ls, sock, ret_master, err);
	else if (ls >= 0) {
		close(ls);
		unlink(sock);
	}
	return r;
}
