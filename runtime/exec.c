/* SPDX-License-Identifier: Apache-2.0 */
/* exec: a process of its own in a running container's namespaces and cgroup, with its spec's security. */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/fdpass.h"
#include "container-internal.h"
#include "security.h"

static int running_state(const char *root, const char *id, rt_state_t **ret, crl_error_t *err)
{
	int r = rt_state(root, id, ret, err);
	if (r < 0)
		return r;
	if ((*ret)->status != RT_RUNNING) {
		r = crl_error_set(err, EBUSY, "container %s is %s, not running", id, rt_status_name((*ret)->status));
		rt_state_free(*ret);
		*ret = NULL;
	}
	return r;
}

/* The exec'd command's terminal, made here (inside the container), its master handed to sock. */
static int terminal_inside(int sock, crl_error_t *err)
{
	if (setsid() < 0 && errno != EPERM)
		return crl_error_set_errno(err, errno, "setsid");
	int master = -1;
	int r = rt_open_terminal(&master, err);
	if (r < 0)
		return r;
	char name[64];
	if (ptsname_r(master, name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "/dev/ptmx");
	r = crl_send_with_fd(sock, name, strlen(name), master) < 0 ? crl_error_set_errno(err, errno, "hand the terminal over") : 0;
	close(master);
	return r;
}

/* The exec'd process, inside every namespace of the container (pid included: it is a child of the joiner). */
static void exec_inner(const rt_spec_t *s, const char *cwd, int tty_sock)
{
	crl_error_t err = CRL_ERROR_INIT;
	if (tty_sock >= 0 && terminal_inside(tty_sock, &err) < 0) {
		dprintf(STDERR_FILENO, "crio-lite-runtime exec: %s\n", crl_error_message(&err));
		_exit(127);
	}
	if (tty_sock >= 0)
		close(tty_sock);
	/* Dies with the joiner (killed on a timeout or when its caller goes away); survives exec. */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	rt_reset_signals();
	if (chdir(cwd) < 0)
		crl_error_set_errno(&err, errno, "cwd %s", cwd);
	else if (rt_apply_apparmor(s->apparmor_profile, &err) < 0 || rt_apply_rlimits(s, &err) < 0 || (s->seccomp && !s->no_new_privileges && rt_apply_seccomp(s->seccomp, &err) < 0) ||
		 (s->no_new_privileges && rt_apply_no_new_privs(&err) < 0) || rt_apply_user_and_caps(s, &err) < 0 ||
		 (s->seccomp && s->no_new_privileges && rt_apply_seccomp(s->seccomp, &err) < 0))
		;
	else {
		umask(s->umask >= 0 ? (mode_t)s->umask : 022);
		syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
		rt_exec_program(s);
		crl_error_set_errno(&err, errno, "exec %s", s->args[0]);
	}
	dprintf(STDERR_FILENO, "crio-lite-runtime exec: %s\n", crl_error_message(&err));
	_exit(127);
}

static int wait_status(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int rt_exec(const char *root, const char *id, const rt_exec_opts_t *o, int *ret_status, crl_error_t *err)
{
	pid_t pid = -1;
	int r = rt_exec_spawn(root, id, o, &pid, err);
	if (r == 0)
		*ret_status = wait_status(pid);
	return r;
}

/* The joiner never execs: close-on-exec does not help it, so it closes what it inherited (a pipe's other end
 * held open here would keep the command from ever seeing EOF). */
static void close_all_but(const int *keep, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int dfd = dirfd(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd < 3 || fd == dfd)
			continue;
		bool kept = false;
		for (size_t i = 0; i < n && !kept; i++)
			kept = keep[i] == fd;
		if (!kept)
			close(fd);
	}
	closedir(d);
}

/* What a joiner needs, found before it forks: the container's spec with the exec's command, its namespaces
 * (opened through its init while it runs; the mount one last) and its cgroup. */
typedef struct exec_ctx {
	rt_spec_t *spec;
	int fds[6];
	size_t nfd;
	char cgroup[PATH_MAX];
} exec_ctx_t;

static void exec_ctx_free(exec_ctx_t *x)
{
	for (size_t i = 0; i < x->nfd; i++)
		close(x->fds[i]);
	x->nfd = 0;
	rt_spec_free(x->spec);
	x->spec = NULL;
}

/* The exec's process: the container's, or the one the caller gives (process_json); then its own command, cwd,
 * extra environment and user. */
static int exec_process(rt_spec_t *spec, const rt_exec_opts_t *o, crl_error_t *err)
{
	if (o->process_json) {
		int r = rt_spec_parse_process(o->process_json, spec, err);
		if (r < 0)
			return crl_error_wrap(err, "exec --process");
	}
	size_t n = 0, ne = 0, ns = 0;
	while (o->args && o->args[n])
		n++;
	while (o->env && o->env[ne])
		ne++;
	while (spec->env && spec->env[ns])
		ns++;
	if (n == 0 && !o->process_json)
		return crl_error_set(err, EINVAL, "exec: no command");
	if (n > 0) {
		char **argv = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; argv && i < n; i++)
			if (!(argv[i] = strdup(o->args[i]))) {
				crl_strv_free(argv);
				argv = NULL;
			}
		if (!argv)
			return crl_error_set(err, ENOMEM, "out of memory");
		crl_strv_free(spec->args);
		spec->args = argv;
	}
	if (o->cwd) {
		if (o->cwd[0] != '/')
			return crl_error_set(err, EINVAL, "exec: cwd '%s' is not absolute", o->cwd);
		char *c = strdup(o->cwd);
		if (!c)
			return crl_error_set(err, ENOMEM, "out of memory");
		free(spec->cwd);
		spec->cwd = c;
	}
	if (ne > 0) {
		char **env = realloc(spec->env, (ns + ne + 1) * sizeof(char *));
		if (!env)
			return crl_error_set(err, ENOMEM, "out of memory");
		spec->env = env;
		for (size_t i = 0; i < ne; i++) {
			if (!strchr(o->env[i], '='))
				return crl_error_set(err, EINVAL, "exec: environment entry '%s' is not KEY=VALUE", o->env[i]);
			env[ns] = NULL;
			if (!(env[ns] = strdup(o->env[i])))
				return crl_error_set(err, ENOMEM, "out of memory");
			env[++ns] = NULL;
		}
	}
	if (o->set_user) {
		spec->uid = o->uid;
		spec->gid = o->gid;
		spec->n_additional_gids = 0;
	}
	return 0;
}

static int exec_prepare(const char *root, const char *id, const rt_exec_opts_t *o, exec_ctx_t *x, crl_error_t *err)
{
	memset(x, 0, sizeof(*x));
	rt_state_t *st = NULL;
	int r = running_state(root, id, &st, err);
	if (r < 0)
		return r;
	if ((r = rt_spec_load(st->bundle, &x->spec, err)) < 0) {
		rt_state_free(st);
		return r;
	}
	static const struct {
		int type;
		const char *name;
	} kinds[] = { { CLONE_NEWIPC, "ipc" }, { CLONE_NEWUTS, "uts" }, { CLONE_NEWNET, "net" },
		      { CLONE_NEWPID, "pid" }, { CLONE_NEWCGROUP, "cgroup" }, { CLONE_NEWNS, "mnt" } };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(kinds) && r == 0; i++) {
		if (!rt_spec_namespace(x->spec, kinds[i].type))
			continue;
		char p[256], nsf[32];
		snprintf(nsf, sizeof(nsf), "ns/%s", kinds[i].name);
		rt_proc_path(p, sizeof(p), st->pid, nsf);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			r = crl_error_set_errno(err, errno, "open %s", p);
		else
			x->fds[x->nfd++] = fd;
	}
	/* Make sure the pid still is the container's (opened the right namespaces). */
	if (r == 0 && rt_pid_starttime(st->pid) != st->pid_start)
		r = crl_error_set(err, ESRCH, "container %s stopped", id);
	snprintf(x->cgroup, sizeof(x->cgroup), "%s", st->cgroup);
	rt_state_free(st);
	if (r == 0)
		r = exec_process(x->spec, o, err);
	/* As runc: the exec's own terminal setting, not the container's; a given process must agree with the socket. */
	if (r == 0 && !o->process_json)
		x->spec->terminal = o->tty_sock >= 0;
	else if (r == 0 && x->spec->terminal && o->tty_sock < 0)
		r = crl_error_set(err, EINVAL, "exec: process.terminal is true: the terminal needs a console socket");
	else if (r == 0 && !x->spec->terminal && o->tty_sock >= 0)
		r = crl_error_set(err, EINVAL, "exec: a console socket given but process.terminal is false");
	if (r < 0)
		exec_ctx_free(x);
	return r;
}

/* The joiner: this process joins the container's cgroup and namespaces, forks the command (which enters the
 * pid namespace) and exits with its status. Dies with its parent unless detached. Never returns. */
__attribute__((noreturn)) static void exec_join(exec_ctx_t *x, const rt_exec_opts_t *o)
{
	/* Nothing in the container may read this process's memory or exe. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (!o->detach)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (o->set_stdio)
		for (int i = 0; i < 3; i++) {
			int fd = o->stdio[i] >= 0 ? o->stdio[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd < 0 || dup2(fd, i) < 0)
				_exit(127);
		}
	int keep[8];
	size_t nk = 0;
	for (size_t i = 0; i < x->nfd; i++)
		keep[nk++] = x->fds[i];
	if (o->tty_sock >= 0)
		keep[nk++] = o->tty_sock;
	close_all_but(keep, nk);
	rt_cgroup_t *cg = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (rt_cgroup_open(x->cgroup, &cg, &e) < 0 || rt_cgroup_add(cg, getpid(), &e) < 0) {
		dprintf(STDERR_FILENO, "crio-lite-runtime exec: join the cgroup: %s\n", crl_error_message(&e));
		_exit(127);
	}
	for (size_t i = 0; i < x->nfd; i++)
		if (setns(x->fds[i], 0) < 0) {
			dprintf(STDERR_FILENO, "crio-lite-runtime exec: join a namespace: %s\n", strerror(errno));
			_exit(127);
		}
	pid_t child = fork();
	if (child < 0)
		_exit(127);
	if (child == 0)
		exec_inner(x->spec, x->spec->cwd, o->tty_sock);
	_exit(wait_status(child));
}

int rt_exec_spawn(const char *root, const char *id, const rt_exec_opts_t *o, pid_t *ret_pid, crl_error_t *err)
{
	exec_ctx_t x;
	int r = exec_prepare(root, id, o, &x, err);
	if (r < 0)
		return r;
	fflush(NULL);
	pid_t joiner = fork();
	if (joiner < 0)
		r = crl_error_set_errno(err, errno, "fork");
	if (joiner == 0)
		exec_join(&x, o);
	exec_ctx_free(&x);
	if (joiner > 0)
		*ret_pid = joiner;
	return r;
}

int rt_exec_here(const char *root, const char *id, const rt_exec_opts_t *o, int report, crl_error_t *err)
{
	exec_ctx_t x;
	int r = exec_prepare(root, id, o, &x, err);
	char msg[4200];
	int n = r < 0 ? snprintf(msg, sizeof(msg), "E%d %s", err->errnum, crl_error_message(err))
		      : snprintf(msg, sizeof(msg), "ok");
	if (send(report, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, MSG_NOSIGNAL) < 0 && r == 0)
		r = crl_error_set_errno(err, errno, "exec: report to the caller");
	if (r < 0) {
		exec_ctx_free(&x);
		return r;
	}
	close(report);
	exec_join(&x, o);
}
