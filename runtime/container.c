/* SPDX-License-Identifier: Apache-2.0 */
#include "container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "common/cleanup.h"
#include "common/fdpass.h"
#include "common/timefmt.h"
#include "common/fs.h"
#include "common/json.h"
#include "container-internal.h"
#include "rootfs.h"
#include "security.h"

#define STATE_FILE "state.json"
#define FIFO "exec.fifo"

bool rt_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

const char *rt_status_name(rt_status_t s)
{
	static const char *const names[] = { "creating", "created", "running", "stopped" };
	return names[s];
}

void rt_state_free(rt_state_t *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->bundle);
	free(s->cgroup);
	free(s->created);
	free(s->rootfs);
	free(s);
}

static char proc_root[201] = "/proc";

int rt_set_proc_root(const char *dir)
{
	if (strlen(dir) >= sizeof(proc_root))
		return -ENAMETOOLONG;
	snprintf(proc_root, sizeof(proc_root), "%s", dir);
	return 0;
}

void rt_proc_path(char *buf, size_t size, pid_t pid, const char *file)
{
	snprintf(buf, size, "%s/%d/%s", proc_root, (int)pid, file);
}

/* From /proc/<pid>/stat: the start time (field 22) and the state letter; false when the pid is gone. */
static bool pid_stat(pid_t pid, uint64_t *ret_start, char *ret_state)
{
	char path[256], buf[1024];
	rt_proc_path(path, sizeof(path), pid, "stat");
	if (crl_fs_read_small(path, buf, sizeof(buf)) <= 0)
		return false;
	/* Fields after the command (which may hold spaces) start after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2])
		return false;
	p += 2;
	*ret_state = *p;
	/* p is at field 3 (state); starttime is field 22. */
	for (int f = 3; f < 22 && p; f++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	*ret_start = p ? strtoull(p, NULL, 10) : 0;
	return p != NULL;
}

uint64_t rt_pid_starttime(pid_t pid)
{
	uint64_t start = 0;
	char state;
	return pid_stat(pid, &start, &state) ? start : 0;
}

char *rt_state_json(const rt_state_t *s)
{
	crl_json_t *j = crl_json_new(true);
	crl_json_object_begin(j);
	crl_json_kv_string(j, "ociVersion", "1.0.2");
	crl_json_kv_string(j, "id", s->id);
	crl_json_kv_string(j, "status", rt_status_name(s->status));
	crl_json_kv_int(j, "pid", s->status == RT_STOPPED ? 0 : s->pid);
	crl_json_kv_string(j, "bundle", s->bundle);
	crl_json_kv_string(j, "rootfs", s->rootfs ? s->rootfs : "");
	crl_json_kv_string(j, "created", s->created);
	crl_json_kv_string(j, "owner", "");
	crl_json_object_end(j);
	return crl_json_finish_text(j, NULL);
}

static int save_state(int dirfd, const rt_state_t *s, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", 1);
	crl_json_kv_string(j, "id", s->id);
	crl_json_kv_string(j, "bundle", s->bundle);
	crl_json_kv_int(j, "pid", s->pid);
	crl_json_kv_int(j, "pid_start", (int64_t)s->pid_start);
	crl_json_kv_string(j, "cgroup", s->cgroup);
	crl_json_kv_string(j, "created", s->created);
	crl_json_kv_string(j, "rootfs", s->rootfs);
	crl_json_object_end(j);
	return crl_json_save(j, dirfd, STATE_FILE, 0600, err);
}

static int open_state_dir(const char *root, const char *id, int *ret, crl_error_t *err)
{
	if (!rt_id_valid(id))
		return crl_error_set(err, EINVAL, "invalid container id '%s'", id ? id : "");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, id);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return crl_error_set(err, ENOENT, "container %s does not exist", id);
		return crl_error_set_errno(err, errno, "open %s", path);
	}
	*ret = fd;
	return 0;
}

int rt_state(const char *root, const char *id, rt_state_t **ret, crl_error_t *err)
{
	_cleanup_close_ int dfd = -1;
	int r = open_state_dir(root, id, &dfd, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *text = NULL;
	if ((r = crl_fs_read_file(dfd, STATE_FILE, 1 << 20, &text, NULL, err)) < 0)
		return crl_error_wrap(err, "state of %s", id);
	crl_json_value_t *doc = NULL;
	if ((r = crl_json_parse(text, &doc, err)) < 0)
		return crl_error_wrap(err, "state of %s", id);
	rt_state_t *s = calloc(1, sizeof(*s));
	int64_t v = 0, pid = 0, start = 0;
	const char *bundle = crl_json_get_string(crl_json_get(doc, "bundle"));
	const char *cg = crl_json_get_string(crl_json_get(doc, "cgroup"));
	const char *created = crl_json_get_string(crl_json_get(doc, "created"));
	const char *rootfs = crl_json_get_string(crl_json_get(doc, "rootfs"));
	if (!s || !crl_json_get_int(crl_json_get(doc, "version"), &v) || v != 1 ||
	    !crl_json_get_int(crl_json_get(doc, "pid"), &pid) || !crl_json_get_int(crl_json_get(doc, "pid_start"), &start) ||
	    !bundle || !cg || !created) {
		free(s);
		crl_json_value_free(doc);
		return crl_error_set(err, EINVAL, "state of %s is malformed or of an unknown version", id);
	}
	s->id = strdup(id);
	s->bundle = strdup(bundle);
	s->cgroup = strdup(cg);
	s->created = strdup(created);
	s->rootfs = strdup(rootfs ? rootfs : ""); /* state written before rootfs was recorded has none */
	s->pid = (pid_t)pid;
	s->pid_start = (uint64_t)start;
	crl_json_value_free(doc);
	struct stat st;
	/* The same pid and start time (not a reused pid), and not a zombie (not reaped, but running no more). */
	uint64_t start_now = 0;
	char pstate = 0;
	bool alive = s->pid > 0 && pid_stat(s->pid, &start_now, &pstate) && start_now == s->pid_start && pstate != 'Z';
	if (!alive)
		s->status = RT_STOPPED;
	else if (fstatat(dfd, FIFO, &st, AT_SYMLINK_NOFOLLOW) == 0)
		s->status = RT_CREATED;
	else
		s->status = RT_RUNNING;
	if (!s->id || !s->bundle || !s->cgroup || !s->created || !s->rootfs) {
		rt_state_free(s);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = s;
	return 0;
}

/* A terminal from this mount namespace's /dev/ptmx (so its name resolves here): the slave becomes stdio and the
 * controlling terminal of the caller's session; the master in *ret_master. */
int rt_open_terminal(int *ret_master, crl_error_t *err)
{
	char name[64];
	int slave = -1, master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) ||
	    (slave = open(name, O_RDWR | O_CLOEXEC)) < 0 || dup2(slave, 0) < 0 || dup2(slave, 1) < 0 ||
	    dup2(slave, 2) < 0 || ioctl(0, TIOCSCTTY, 0) < 0) {
		int e = errno;
		if (slave >= 0)
			close(slave);
		if (master >= 0)
			close(master);
		return crl_error_set_errno(err, e, "make a terminal in the container (is /dev/pts a devpts with ptmx?)");
	}
	close(slave);
	*ret_master = master;
	return 0;
}

/* --- the container's init --- */

typedef struct init_args {
	const rt_spec_t *spec;
	const char *root; /* absolute rootfs */
	const char *cgroup;
	int sync;         /* socket to the creator */
	int fifo;         /* O_PATH fd of exec.fifo */
	const rt_create_opts_t *opts;
} init_args_t;

static void child_fail(int sync, const crl_error_t *err)
{
	char msg[2048];
	int n = snprintf(msg, sizeof(msg), "err:%s", crl_error_message(err));
	if (send(sync, msg, (size_t)(n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1), MSG_NOSIGNAL) < 0)
		_exit(2);
	_exit(1);
}

static int join_namespaces(const rt_spec_t *s, crl_error_t *err)
{
	for (size_t i = 0; i < s->n_namespaces; i++) {
		const rt_namespace_t *ns = &s->namespaces[i];
		if (!ns->path || ns->type == CLONE_NEWPID)
			continue;
		if (ns->type == CLONE_NEWNS)
			return crl_error_set(err, EOPNOTSUPP, "joining an existing mount namespace (%s) is not supported", ns->path);
		_cleanup_close_ int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return crl_error_set_errno(err, errno, "open namespace %s", ns->path);
		if (setns(fd, ns->type) < 0)
			return crl_error_set_errno(err, errno, "join namespace %s", ns->path);
	}
	return 0;
}

static const char *env_get(char **env, const char *key)
{
	size_t n = strlen(key);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, key, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* A program starts with no signal blocked or ignored, whatever its creator blocks (the monitor blocks SIGCHLD,
 * SIGTERM and SIGINT for its signalfd and ignores SIGPIPE): both survive exec and would make the container
 * deaf to the SIGTERM that stops it. */
void rt_reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL); /* fails harmlessly for the numbers libc keeps for itself */
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void rt_exec_program(const rt_spec_t *s)
{
	const char *prog = s->args[0];
	if (strchr(prog, '/')) {
		execve(prog, s->args, s->env);
		return;
	}
	const char *path = env_get(s->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[PATH_MAX];
	for (const char *p = path; *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		execve(buf, s->args, s->env);
		if (!e)
			break;
		p = e + 1;
	}
}

static int init_main(init_args_t *a)
{
	const rt_spec_t *s = a->spec;
	crl_error_t err = CRL_ERROR_INIT;
	/* Until exec, no process in the container may read our memory or /proc/<pid>/exe (the host binary). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (a->opts && a->opts->set_stdio) {
		for (int i = 0; i < 3; i++) {
			int fd = a->opts->stdio[i] >= 0 ? a->opts->stdio[i] : open("/dev/null", O_RDWR | O_CLOEXEC);
			if (fd < 0 || dup2(fd, i) < 0)
				_exit(1);
		}
	}
	char go[4];
	if (recv(a->sync, go, sizeof(go), 0) != 2 || memcmp(go, "go", 2) != 0)
		_exit(1);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	/* From here a signal acts on the container as it would on its program (kill of a created container). */
	rt_reset_signals();
	const rt_namespace_t *userns = rt_spec_namespace(s, CLONE_NEWUSER);
	if (userns && !userns->path && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
		/* Our host ids are not mapped here: become the namespace's root, now that the maps exist. */
		crl_error_set_errno(&err, errno, "become root of the new user namespace");
		child_fail(a->sync, &err);
	}
	if (setsid() < 0 && errno != EPERM)
		child_fail(a->sync, &err);
	/* A pty as stdin becomes the session's controlling terminal (job control, SIGWINCH). */
	if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCSCTTY, 0) < 0) {
		crl_error_set_errno(&err, errno, "make the terminal controlling");
		child_fail(a->sync, &err);
	}
	/* While the host's /proc is still there. */
	if (rt_apply_apparmor(s->apparmor_profile, &err) < 0)
		child_fail(a->sync, &err);
	if (join_namespaces(s, &err) < 0 || rt_rootfs_setup(s, a->root, a->cgroup, &err) < 0)
		child_fail(a->sync, &err);
	bool clamped = false;
	if (s->has_oom_score_adj && rt_apply_oom_score_adj(s->oom_score_adj, &clamped, &err) < 0)
		child_fail(a->sync, &err);
	if (rt_apply_rlimits(s, &err) < 0)
		child_fail(a->sync, &err);
	if (chdir(s->cwd) < 0) {
		crl_error_set_errno(&err, errno, "process.cwd %s", s->cwd);
		child_fail(a->sync, &err);
	}
	char fifo_path[64];
	snprintf(fifo_path, sizeof(fifo_path), "/proc/self/fd/%d", a->fifo);
	int master = -1;
	if (a->opts && a->opts->terminal && rt_open_terminal(&master, &err) < 0)
		child_fail(a->sync, &err);
	const char *ok = clamped ? "ok:oom_score_adj clamped" : "ok";
	/* With a terminal, its master goes to our creator, which owns it from now on. */
	if (crl_send_with_fd(a->sync, ok, strlen(ok), master) < 0)
		_exit(1);
	if (master >= 0)
		close(master);
	close(a->sync);
	/* Created. Blocks until `start` opens the fifo for reading. */
	int w = open(fifo_path, O_WRONLY | O_CLOEXEC);
	if (w < 0 || write(w, "0", 1) != 1)
		_exit(126);
	close(w);
	close(a->fifo);
	/* Loaded while still privileged unless no_new_privs lets an unprivileged process load it later. */
	if (s->seccomp && !s->no_new_privileges && rt_apply_seccomp(s->seccomp, &err) < 0)
		goto fail;
	if (s->no_new_privileges && rt_apply_no_new_privs(&err) < 0)
		goto fail;
	if (rt_apply_user_and_caps(s, &err) < 0)
		goto fail;
	if (s->seccomp && s->no_new_privileges && rt_apply_seccomp(s->seccomp, &err) < 0)
		goto fail;
	umask(s->umask >= 0 ? (mode_t)s->umask : 022);
	/* No fd of ours reaches the program. */
	syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
	rt_exec_program(s);
	crl_error_set_errno(&err, errno, "exec %s", s->args[0]);
fail:
	dprintf(STDERR_FILENO, "crio-lite-runtime: container init: %s\n", crl_error_message(&err));
	_exit(127);
}

static int clone_flags(const rt_spec_t *s)
{
	int flags = 0;
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (!s->namespaces[i].path)
			flags |= s->namespaces[i].type;
	return flags;
}

static int write_map(pid_t pid, const char *file, const rt_idmap_t *m, size_t n, crl_error_t *err)
{
	char path[256], buf[8192];
	size_t o = 0;
	for (size_t i = 0; i < n && o < sizeof(buf) - 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
	rt_proc_path(path, sizeof(path), pid, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, o) != (ssize_t)o)
		return crl_error_set_errno(err, errno, "write %s", path);
	return 0;
}

/* A new user namespace gets its mappings from us (we are outside it, with the privilege to write them). */
static int write_idmaps(pid_t pid, const rt_spec_t *s, crl_error_t *err)
{
	const rt_namespace_t *ns = rt_spec_namespace(s, CLONE_NEWUSER);
	if (!ns || ns->path)
		return 0;
	int r = write_map(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err);
	if (r == 0)
		r = write_map(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err);
	return r;
}

/* The host id that container id 0 maps to (itself without a user namespace). */
static uint32_t host_root(const rt_idmap_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].container_id == 0)
			return m[i].host_id;
	return 0;
}

static void now_rfc3339(char *buf, size_t n)
{
	struct timespec ts;
	char t[CRL_RFC3339_MAX];
	clock_gettime(CLOCK_REALTIME, &ts);
	crl_rfc3339_utc(t, ts.tv_sec, ts.tv_nsec, 9);
	snprintf(buf, n, "%s", t);
}

int rt_write_pid_file(const char *path, pid_t pid, crl_error_t *err)
{
	char p[32];
	int len = snprintf(p, sizeof(p), "%d", (int)pid);
	_cleanup_free_ char *dn = strdup(path);
	if (!dn)
		return crl_error_set(err, ENOMEM, "out of memory");
	char *slash = strrchr(dn, '/');
	_cleanup_close_ int pdir = -1;
	const char *name = path;
	if (slash) {
		*slash = '\0';
		if ((pdir = open(dn[0] ? dn : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			return crl_error_set_errno(err, errno, "pid file %s", path);
		name = slash + 1;
	}
	return crl_fs_write_atomic(slash ? pdir : AT_FDCWD, name, p, (size_t)len, 0644, err);
}

int rt_create(const char *state_root, const char *id, const char *bundle, const rt_create_opts_t *opts,
	      rt_state_t **ret, crl_error_t *err)
{
	if (!rt_id_valid(id))
		return crl_error_set(err, EINVAL, "invalid container id '%s' ([A-Za-z0-9][A-Za-z0-9_.-]*, at most 128)", id ? id : "");
	char bundle_abs[PATH_MAX], root_abs[PATH_MAX], dir[PATH_MAX + 256];
	if (!realpath(bundle, bundle_abs))
		return crl_error_set_errno(err, errno, "bundle %s", bundle);
	rt_spec_t *spec = NULL;
	int r = rt_spec_load(bundle_abs, &spec, err);
	if (r < 0)
		return r;
	if ((r = rt_apparmor_check(spec->apparmor_profile, err)) < 0) {
		rt_spec_free(spec);
		return r;
	}
	char rootp[2 * PATH_MAX + 2];
	snprintf(rootp, sizeof(rootp), "%s%s%s", spec->root_path[0] == '/' ? "" : bundle_abs,
		 spec->root_path[0] == '/' ? "" : "/", spec->root_path);
	if (!realpath(rootp, root_abs)) {
		r = crl_error_set_errno(err, errno, "root.path %s", rootp);
		rt_spec_free(spec);
		return r;
	}
	if (!rt_spec_namespace(spec, CLONE_NEWNS)) {
		rt_spec_free(spec);
		return crl_error_set(err, EINVAL, "config.json: a mount namespace is required");
	}
	if ((r = crl_fs_mkdir_p(state_root, 0700, err)) < 0) {
		rt_spec_free(spec);
		return r;
	}
	snprintf(dir, sizeof(dir), "%s/%s", state_root, id);
	if (mkdir(dir, 0700) < 0) {
		r = errno == EEXIST ? crl_error_set(err, EEXIST, "container %s already exists", id)
				    : crl_error_set_errno(err, errno, "create %s", dir);
		rt_spec_free(spec);
		return r;
	}
	int dfd = -1, fifo = -1, sv[2] = { -1, -1 }, pidns = -1, own_pidns = -1;
	rt_cgroup_t *cg = NULL;
	pid_t pid = -1;
	rt_state_t *st = NULL;
	char fifo_path[PATH_MAX + 512];
	snprintf(fifo_path, sizeof(fifo_path), "%s/%s", dir, FIFO);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkfifo(fifo_path, 0600) < 0 || (fifo = open(fifo_path, O_PATH | O_CLOEXEC)) < 0) {
		r = crl_error_set_errno(err, errno, "exec fifo in %s", dir);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = crl_error_set_errno(err, errno, "socketpair");
		goto fail;
	}
	if ((r = rt_cgroup_create(spec, id, &cg, err)) < 0)
		goto fail;
	/* Joining a pid namespace takes effect for children: enter it before cloning. */
	const rt_namespace_t *pns = rt_spec_namespace(spec, CLONE_NEWPID);
	if (pns && pns->path) {
		/* Entered for this clone only: our later children belong where they did before. */
		own_pidns = open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
		pidns = open(pns->path, O_RDONLY | O_CLOEXEC);
		if (own_pidns < 0 || pidns < 0 || setns(pidns, CLONE_NEWPID) < 0) {
			r = crl_error_set_errno(err, errno, "join pid namespace %s", pns->path);
			goto fail;
		}
	}
	struct clone_args ca = { .flags = (uint64_t)clone_flags(spec), .exit_signal = SIGCHLD };
	pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid != 0 && own_pidns >= 0 && setns(own_pidns, CLONE_NEWPID) < 0) {
		r = crl_error_set_errno(err, errno, "return to our own pid namespace");
		goto fail;
	}
	if (pid < 0) {
		r = crl_error_set_errno(err, errno, "clone the container init");
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		init_args_t a = { spec, root_abs, rt_cgroup_path(cg), sv[1], fifo, opts };
		_exit(init_main(&a));
	}
	close(sv[1]);
	sv[1] = -1;
	if ((r = rt_cgroup_add(cg, pid, err)) < 0)
		goto fail;
	if ((r = write_idmaps(pid, spec, err)) < 0)
		goto fail;
	/* The init reopens the fifo as the container's root, which may be another uid outside. */
	if (rt_spec_namespace(spec, CLONE_NEWUSER) &&
	    fchownat(fifo, "", host_root(spec->uid_mappings, spec->n_uid_mappings),
		     host_root(spec->gid_mappings, spec->n_gid_mappings), AT_EMPTY_PATH) < 0) {
		r = crl_error_set_errno(err, errno, "hand the exec fifo to the container's root");
		goto fail;
	}
	if (send(sv[0], "go", 2, MSG_NOSIGNAL) != 2) {
		r = crl_error_set_errno(err, errno, "start the container init");
		goto fail;
	}
	char msg[2100];
	int master = -1;
	ssize_t n = crl_recv_with_fd(sv[0], msg, sizeof(msg) - 1, &master);
	if (master >= 0 && !(opts && opts->terminal && opts->ret_master)) {
		close(master);
		master = -1;
	}
	if (n <= 0) {
		r = crl_error_set(err, EIO, "the container init died while setting up");
		goto fail;
	}
	msg[n] = '\0';
	if (strncmp(msg, "err:", 4) == 0) {
		if (master >= 0)
			close(master);
		r = crl_error_set(err, EINVAL, "%s", msg + 4);
		goto fail;
	}
	if (opts && opts->terminal && opts->ret_master) {
		if (master < 0) {
			r = crl_error_set(err, EIO, "the container init sent no terminal");
			goto fail;
		}
		*opts->ret_master = master;
	}
	if (opts && opts->ret_oom_clamped)
		*opts->ret_oom_clamped = strstr(msg, "oom_score_adj clamped") != NULL;
	st = calloc(1, sizeof(*st));
	char created[64];
	now_rfc3339(created, sizeof(created));
	if (!st || !(st->id = strdup(id)) || !(st->bundle = strdup(bundle_abs)) || !(st->cgroup = strdup(rt_cgroup_path(cg))) ||
	    !(st->created = strdup(created)) || !(st->rootfs = strdup(root_abs))) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	st->pid = pid;
	st->pid_start = rt_pid_starttime(pid);
	st->status = RT_CREATED;
	if ((r = save_state(dfd, st, err)) < 0)
		goto fail;
	if (opts && opts->pid_file && (r = rt_write_pid_file(opts->pid_file, pid, err)) < 0)
		goto fail;
	close(sv[0]);
	close(fifo);
	close(dfd);
	if (pidns >= 0)
		close(pidns);
	if (own_pidns >= 0)
		close(own_pidns);
	rt_cgroup_free(cg);
	rt_spec_free(spec);
	*ret = st;
	return 0;
fail:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (cg) {
		crl_error_t e = CRL_ERROR_INIT;
		rt_cgroup_destroy(cg, &e);
		crl_error_clear(&e);
		rt_cgroup_free(cg);
	}
	rt_state_free(st);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (fifo >= 0)
		close(fifo);
	if (dfd >= 0)
		close(dfd);
	if (pidns >= 0)
		close(pidns);
	if (own_pidns >= 0) {
		setns(own_pidns, CLONE_NEWPID);
		close(own_pidns);
	}
	crl_error_t e = CRL_ERROR_INIT;
	crl_fs_rm_rf(dir, &e);
	crl_error_clear(&e);
	rt_spec_free(spec);
	return r;
}

int rt_start(const char *root, const char *id, crl_error_t *err)
{
	rt_state_t *s = NULL;
	int r = rt_state(root, id, &s, err);
	if (r < 0)
		return r;
	rt_status_t status = s->status;
	rt_state_free(s);
	if (status != RT_CREATED)
		return crl_error_set(err, EBUSY, "container %s is %s, not created", id, rt_status_name(status));
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/%s", root, id, FIFO);
	/* The init holds the other end open for writing: this does not block. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", path);
	char c;
	if (read(fd, &c, 1) != 1)
		return crl_error_set(err, EIO, "container %s did not take the start signal", id);
	if (unlink(path) < 0)
		return crl_error_set_errno(err, errno, "remove %s", path);
	return 0;
}

int rt_kill(const char *root, const char *id, int sig, crl_error_t *err)
{
	rt_state_t *s = NULL;
	int r = rt_state(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status == RT_STOPPED)
		r = crl_error_set(err, ESRCH, "container %s is not running", id);
	else if (kill(s->pid, sig) < 0)
		r = crl_error_set_errno(err, errno, "kill %s", id);
	rt_state_free(s);
	return r;
}

/* The container's cgroup, from its state; with running, ESRCH for a container that has stopped. */
static int container_cgroup(const char *root, const char *id, bool running, rt_cgroup_t **ret, crl_error_t *err)
{
	rt_state_t *s = NULL;
	int r = rt_state(root, id, &s, err);
	if (r < 0)
		return r;
	if (running && s->status == RT_STOPPED)
		r = crl_error_set(err, ESRCH, "container %s is not running", id);
	else
		r = rt_cgroup_open(s->cgroup, ret, err);
	rt_state_free(s);
	return r;
}

/* sig to every process in cg. */
static int kill_cgroup(rt_cgroup_t *cg, const char *id, int sig, crl_error_t *err)
{
	pid_t *pids = NULL;
	size_t n = 0;
	int r = rt_cgroup_pids(cg, &pids, &n, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			r = crl_error_set_errno(err, errno, "kill %d in %s", (int)pids[i], id);
	free(pids);
	return r;
}

int rt_kill_all(const char *root, const char *id, int sig, crl_error_t *err)
{
	rt_cgroup_t *cg = NULL;
	int r = container_cgroup(root, id, true, &cg, err);
	if (r == 0)
		r = kill_cgroup(cg, id, sig, err);
	rt_cgroup_free(cg);
	return r;
}

int rt_update(const char *root, const char *id, const rt_resources_t *res, crl_error_t *err)
{
	rt_cgroup_t *cg = NULL;
	int r = container_cgroup(root, id, false, &cg, err);
	if (r == 0)
		r = rt_cgroup_update(cg, res, err);
	rt_cgroup_free(cg);
	return r;
}

int rt_stats(const char *root, const char *id, rt_cgroup_stats_t *ret, crl_error_t *err)
{
	rt_cgroup_t *cg = NULL;
	int r = container_cgroup(root, id, false, &cg, err);
	if (r == 0)
		r = rt_cgroup_stats(cg, ret, err);
	rt_cgroup_free(cg);
	return r;
}

int rt_delete(const char *root, const char *id, bool force, crl_error_t *err)
{
	rt_state_t *s = NULL;
	int r = rt_state(root, id, &s, err);
	if (r < 0)
		return r;
	if (s->status != RT_STOPPED && s->status != RT_CREATED && !force) {
		r = crl_error_set(err, EBUSY, "container %s is %s; stop it or use --force", id, rt_status_name(s->status));
		rt_state_free(s);
		return r;
	}
	if (s->status != RT_STOPPED) {
		kill(s->pid, SIGKILL);
		/* Not our child when another process created it: poll until it is gone. */
		for (int i = 0; i < 500 && rt_pid_starttime(s->pid) == s->pid_start; i++) {
			waitpid(s->pid, NULL, WNOHANG);
			usleep(10000);
		}
	}
	rt_cgroup_t *cg = NULL;
	if (rt_cgroup_open(s->cgroup, &cg, err) == 0) {
		/* The cgroup empties a moment after the last process exits. With force, what still runs in it is
		 * killed on every try, whether its init runs or not: in a pod's shared PID namespace the init's
		 * children outlive it (runc delete --force does the same). */
		for (int i = 0; i < 100; i++) {
			crl_error_t e = CRL_ERROR_INIT;
			if (force)
				(void)kill_cgroup(cg, id, SIGKILL, &e);
			crl_error_clear(&e);
			int d = rt_cgroup_destroy(cg, &e);
			crl_error_clear(&e);
			if (d == 0)
				break;
			usleep(10000);
		}
		rt_cgroup_free(cg);
	}
	crl_error_clear(err);
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/%s", root, id);
	r = crl_fs_rm_rf(dir, err);
	rt_state_free(s);
	return r;
}
