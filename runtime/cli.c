/* SPDX-License-Identifier: Apache-2.0 */
/* crio-lite-runtime: a runc-compatible command line over the runtime library.
 *   crio-lite-runtime [--root DIR] create --bundle DIR [--pid-file F] [--console-socket S] ID
 *   crio-lite-runtime [--root DIR] start|state ID
 *   crio-lite-runtime [--root DIR] kill [--all] ID [SIGNAL]
 *   crio-lite-runtime [--root DIR] delete [--force] ID
 *   crio-lite-runtime [--root DIR] run --bundle DIR [--pid-file F] [--console-socket S] ID
 * With process.terminal the container gets a terminal made inside it; its master goes, as with runc, over the
 * unix socket S (SCM_RIGHTS, the terminal's name as the message), and S is required then.
 *   crio-lite-runtime [--root DIR] list
 *   crio-lite-runtime [--root DIR] exec [--cwd DIR] [-e K=V]... [-u UID[:GID]] [-t --console-socket S] [-d]
 *                                 [--pid-file F] [-p PROCESS.json] ID [--] [CMD [ARG...]]
 *   crio-lite-runtime [--root DIR] update [-r|--resources FILE|-] [--memory N] [--memory-swap N] [--pids-limit N] [--cpu-shares N]
 *                                 [--cpu-quota N] [--cpu-period N] [--cpuset-cpus S] [--cpuset-mems S] ID
 *   crio-lite-runtime [--root DIR] events --stats ID
 * Errors go to stderr with exit status 1; `run` exits with the container's status (128 + signal). */
#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "common/error.h"
#include "common/cleanup.h"
#include "common/fdpass.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/timefmt.h"
#include "container.h"

#define DEFAULT_ROOT "/run/crio-lite-runtime"

/* runc's --log FILE and --log-format text|json: where this program's own messages go (stderr by default). A
 * caller that hands its stdio to the container (conmon, the pod monitor) keeps them out of the container's log
 * this way. */
static const char *log_path;
static bool log_json;

static void say(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *level, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : STDERR_FILENO;
	if (fd < 0)
		fd = STDERR_FILENO;
	if (log_json) {
		crl_json_t *j = crl_json_new(false);
		crl_json_object_begin(j);
		crl_json_kv_string(j, "level", level);
		crl_json_kv_string(j, "msg", msg);
		struct timespec ts;
		char t[CRL_RFC3339_MAX];
		clock_gettime(CLOCK_REALTIME, &ts);
		crl_rfc3339_utc(t, ts.tv_sec, ts.tv_nsec, 9);
		crl_json_kv_string(j, "time", t);
		crl_json_object_end(j);
		char *out = crl_json_finish_text(j, NULL);
		if (out)
			dprintf(fd, "%s\n", out);
		free(out);
	} else {
		dprintf(fd, "crio-lite-runtime: %s%s%s\n", strcmp(level, "error") ? level : "", strcmp(level, "error") ? ": " : "", msg);
	}
	if (fd != STDERR_FILENO)
		close(fd);
}

static int fail(crl_error_t *err)
{
	say("error", "%s", crl_error_message(err));
	crl_error_clear(err);
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: crio-lite-runtime [--root DIR] create|run --bundle DIR [--pid-file F] [--console-socket S] ID\n"
			"       crio-lite-runtime [--root DIR] start|state ID | kill [--all] ID [SIGNAL] | delete [--force] ID | list\n"
			"       crio-lite-runtime [--root DIR] exec [--cwd DIR] [-e K=V]... [-u UID[:GID]] [-t --console-socket S] [-d]\n"
			"                         [--pid-file F] [-p PROCESS.json] ID [--] [CMD [ARG...]]\n"
			"       crio-lite-runtime [--root DIR] update [-r|--resources FILE|-] [--memory N] [--memory-swap N] [--pids-limit N] [--cpu-shares N]\n"
			"                         [--cpu-quota N] [--cpu-period N] [--cpuset-cpus S] [--cpuset-mems S] ID\n"
			"       crio-lite-runtime [--root DIR] events --stats ID\n");
	return 2;
}

static int parse_signal(const char *s)
{
	if (!s)
		return SIGTERM;
	char *end = NULL;
	long n = strtol(s, &end, 10);
	if (*s && !*end)
		return n > 0 && n < NSIG ? (int)n : -1;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);
		if (name && strcasecmp(name, s) == 0)
			return i;
	}
	return -1;
}

typedef struct create_args {
	const char *bundle;
	const char *pid_file;
	const char *console_socket;
	const char *id;
} create_args_t;

static int parse_create(int argc, char **argv, create_args_t *a)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "no-new-keyring", no_argument, NULL, 'k' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	a->bundle = ".";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		if (c == 'b')
			a->bundle = optarg;
		else if (c == 'p')
			a->pid_file = optarg;
		else if (c == 'c')
			a->console_socket = optarg;
		else if (c == 'k')
			; /* no session keyring is ever made: what runc does with this flag is the only behaviour here */
		else if (c == 'n') {
			say("error", "--no-pivot: the root is always entered with pivot_root (a ramfs root is not supported)");
			return -2;
		} else
			return -1;
	}
	if (optind + 1 != argc)
		return -1;
	a->id = argv[optind];
	return 0;
}

static int cmd_list(const char *root)
{
	DIR *d = opendir(root);
	printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!rt_id_valid(de->d_name))
			continue;
		rt_state_t *s = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		if (rt_state(root, de->d_name, &s, &err) < 0) {
			crl_error_clear(&err);
			continue;
		}
		printf("%-24s %-8d %-10s %-40s %s\n", s->id, s->status == RT_STOPPED ? 0 : (int)s->pid, rt_status_name(s->status),
		       s->bundle, s->created);
		rt_state_free(s);
	}
	closedir(d);
	return 0;
}

/* All of stdin, at most max bytes, NUL-terminated. */
static int read_stdin(size_t max, char **ret, crl_error_t *err)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return crl_error_set(err, ENOMEM, "out of memory");
		if (len + 1 >= cap) {
			if (cap > max) {
				free(buf);
				return crl_error_set(err, EFBIG, "standard input is over %zu bytes", max);
			}
			char *n = realloc(buf, cap *= 2);
			if (!n)
				free(buf);
			buf = n;
			continue;
		}
		ssize_t r = read(STDIN_FILENO, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			return crl_error_set_errno(err, e, "read standard input");
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*ret = buf;
	return 0;
}

/* runc's console socket: a connection to path, where a terminal's master goes (SCM_RIGHTS, its name as the
 * message). */
static int console_connect(const char *path, crl_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return crl_error_set(err, ENAMETOOLONG, "--console-socket %s: path too long", path);
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return crl_error_set_errno(err, e, "--console-socket %s", path);
	}
	return fd;
}

static int send_console(const char *path, int master, crl_error_t *err)
{
	int fd = console_connect(path, err);
	if (fd < 0)
		return fd;
	char name[64];
	if (ptsname_r(master, name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "/dev/ptmx");
	int r = crl_send_with_fd(fd, name, strlen(name), master) < 0
			? crl_error_set_errno(err, errno, "--console-socket %s: send the terminal", path)
			: 0;
	close(fd);
	return r;
}

/* exec [--cwd D] [-e|--env K=V]... [-u|--user UID[:GID]] [-t|--tty] [--console-socket S] [-d|--detach]
 *      [--pid-file F] [-p|--process F] ID [--] [CMD...]: runc's flags. */
static int cmd_exec(const char *root, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cwd", required_argument, NULL, 'c' },	   { "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },	   { "tty", no_argument, NULL, 't' },
		{ "console-socket", required_argument, NULL, 's' }, { "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'P' },	   { "process", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	rt_exec_opts_t o = { .tty_sock = -1 };
	const char *console = NULL, *pid_file = NULL, *process = NULL;
	bool tty = false;
	char *env[65] = { NULL };
	size_t ne = 0;
	crl_error_t err = CRL_ERROR_INIT;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+e:u:tdp:", opts, NULL)) != -1) {
		if (c == 'c')
			o.cwd = optarg;
		else if (c == 'e' && ne < 64)
			env[ne++] = optarg;
		else if (c == 'u') {
			char *end = NULL;
			unsigned long uid = strtoul(optarg, &end, 10), gid = 0;
			if (*end == ':')
				gid = strtoul(end + 1, &end, 10);
			if (end == optarg || *end || uid > 0xFFFFFFFFUL || gid > 0xFFFFFFFFUL) {
				say("error", "exec --user '%s': want UID[:GID]", optarg);
				return 1;
			}
			o.set_user = true;
			o.uid = (uint32_t)uid;
			o.gid = (uint32_t)gid;
		} else if (c == 't')
			tty = true;
		else if (c == 's')
			console = optarg;
		else if (c == 'd')
			o.detach = true;
		else if (c == 'P')
			pid_file = optarg;
		else if (c == 'p')
			process = optarg;
		else
			return usage();
	}
	if (optind >= argc)
		return usage();
	const char *id = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	o.args = optind < argc ? argv + optind : NULL;
	o.env = env;
	if (tty && !console && !process) {
		say("error", "exec --tty needs --console-socket");
		return 1;
	}
	if (console && !tty && !process) {
		say("error", "exec --console-socket given without --tty");
		return 1;
	}
	_cleanup_free_ char *pjson = NULL;
	if (process && crl_fs_read_file(AT_FDCWD, process, 1 << 20, &pjson, NULL, &err) < 0)
		return fail(&err);
	o.process_json = pjson;
	if (console && (o.tty_sock = console_connect(console, &err)) < 0)
		return fail(&err);
	pid_t pid = -1;
	int r = rt_exec_spawn(root, id, &o, &pid, &err);
	if (o.tty_sock >= 0)
		close(o.tty_sock);
	if (r < 0)
		return fail(&err);
	if (pid_file && rt_write_pid_file(pid_file, pid, &err) < 0) {
		kill(pid, SIGKILL);
		return fail(&err);
	}
	if (o.detach)
		return 0;
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	const char *root = DEFAULT_ROOT;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root = argv[++i];
		else if (strncmp(argv[i], "--root=", 7) == 0)
			root = argv[i] + 7;
		else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
			log_path = argv[++i];
		else if (strncmp(argv[i], "--log=", 6) == 0)
			log_path = argv[i] + 6;
		else if ((strcmp(argv[i], "--log-format") == 0 && i + 1 < argc) || strncmp(argv[i], "--log-format=", 13) == 0) {
			const char *f = argv[i][12] == '=' ? argv[i] + 13 : argv[++i];
			if (strcmp(f, "json") != 0 && strcmp(f, "text") != 0) {
				fprintf(stderr, "crio-lite-runtime: --log-format %s: text or json\n", f);
				return 2;
			}
			log_json = strcmp(f, "json") == 0;
		} else if (strcmp(argv[i], "--systemd-cgroup") == 0) {
			say("error", "--systemd-cgroup: only the cgroupfs driver is implemented");
			return 1;
		}
		else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
			printf("crio-lite-runtime version %s\nspec: 1.0.2\n", CRL_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage();
			return 0;
		} else {
			return usage();
		}
	}
	if (i >= argc)
		return usage();
	const char *cmd = argv[i];
	int sub_argc = argc - i;
	char **sub_argv = argv + i;
	crl_error_t err = CRL_ERROR_INIT;
	if (strcmp(cmd, "list") == 0)
		return cmd_list(root);
	if (strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0) {
		create_args_t a = { 0 };
		int pr = parse_create(sub_argc, sub_argv, &a);
		if (pr == -2)
			return 1;
		if (pr < 0)
			return usage();
		/* runc's rules: a terminal needs somewhere to send it, and a console socket needs a terminal. */
		rt_spec_t *spec = NULL;
		if (rt_spec_load(a.bundle, &spec, &err) < 0)
			return fail(&err);
		bool terminal = spec->terminal;
		int oom = spec->oom_score_adj;
		rt_spec_free(spec);
		if (terminal && !a.console_socket) {
			say("error", "process.terminal is true: the terminal needs --console-socket");
			return 1;
		}
		if (!terminal && a.console_socket) {
			say("error", "--console-socket given but process.terminal is false");
			return 1;
		}
		int master = -1;
		bool clamped = false;
		rt_create_opts_t o = { .pid_file = a.pid_file, .terminal = terminal, .ret_master = &master,
				       .ret_oom_clamped = &clamped };
		rt_state_t *s = NULL;
		if (rt_create(root, a.id, a.bundle, &o, &s, &err) < 0)
			return fail(&err);
		pid_t pid = s->pid;
		rt_state_free(s);
		if (clamped)
			say("warning", "oom_score_adj %d would lower the score and this process may not; the inherited value "
				       "was kept", oom);
		if (master >= 0) {
			int r = send_console(a.console_socket, master, &err);
			close(master);
			if (r < 0) {
				crl_error_t e2 = CRL_ERROR_INIT;
				rt_delete(root, a.id, true, &e2);
				crl_error_clear(&e2);
				return fail(&err);
			}
		}
		if (strcmp(cmd, "create") == 0)
			return 0;
		if (rt_start(root, a.id, &err) < 0) {
			crl_error_t e2 = CRL_ERROR_INIT;
			rt_delete(root, a.id, true, &e2);
			crl_error_clear(&e2);
			return fail(&err);
		}
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (rt_delete(root, a.id, true, &err) < 0)
			fail(&err);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (sub_argc < 2)
		return usage();
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(root, sub_argc, sub_argv);
	if (strcmp(cmd, "update") == 0) {
		rt_resources_t res = RT_RESOURCES_UNSET;
		/* runc's -r/--resources FILE|-: a LinuxResources JSON object; flags after it override its fields. */
		_cleanup_free_ char *rjson = NULL;
		if (sub_argc > 3 && (strcmp(sub_argv[1], "--resources") == 0 || strcmp(sub_argv[1], "-r") == 0)) {
			int r = strcmp(sub_argv[2], "-") == 0 ? read_stdin(1 << 20, &rjson, &err)
							     : crl_fs_read_file(AT_FDCWD, sub_argv[2], 1 << 20, &rjson, NULL, &err);
			if (r < 0 || rt_resources_parse(rjson, &res, &err) < 0)
				return fail(&err);
			sub_argv += 2;
			sub_argc -= 2;
		}
		static const char *const names[] = { "--memory", "--memory-swap", "--cpu-shares", "--cpu-quota",
						     "--cpu-period", "--pids-limit" };
		int64_t *fields[] = { &res.memory_limit, &res.memory_swap, &res.cpu_shares, &res.cpu_quota, &res.cpu_period,
				      &res.pids_limit };
		int k = 1;
		for (; k + 1 < sub_argc && strncmp(sub_argv[k], "--", 2) == 0; k += 2) {
			bool known = false;
			for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++)
				if (strcmp(sub_argv[k], names[f]) == 0) {
					char *end = NULL;
					long long v = strtoll(sub_argv[k + 1], &end, 10);
					if (*end) {
						say("error", "%s wants a number", names[f]);
						rt_resources_free(&res);
						return 1;
					}
					*fields[f] = v;
					known = true;
				}
			char **str = strcmp(sub_argv[k], "--cpuset-cpus") == 0   ? &res.cpuset_cpus
				     : strcmp(sub_argv[k], "--cpuset-mems") == 0 ? &res.cpuset_mems
										 : NULL;
			if (str) {
				free(*str);
				if (!(*str = strdup(sub_argv[k + 1]))) {
					crl_error_set(&err, ENOMEM, "out of memory");
					rt_resources_free(&res);
					return fail(&err);
				}
				known = true;
			}
			if (!known) {
				rt_resources_free(&res);
				return usage();
			}
		}
		if (k + 1 != sub_argc) {
			rt_resources_free(&res);
			return usage();
		}
		int r = rt_update(root, sub_argv[k], &res, &err);
		rt_resources_free(&res);
		return r < 0 ? fail(&err) : 0;
	}
	if (strcmp(cmd, "events") == 0 && sub_argc == 3 && strcmp(sub_argv[1], "--stats") == 0) {
		rt_cgroup_stats_t s;
		if (rt_stats(root, sub_argv[2], &s, &err) < 0)
			return fail(&err);
		printf("{\"type\":\"stats\",\"id\":\"%s\",\"data\":{\"cpu\":{\"usage\":{\"total\":%llu}},"
		       "\"memory\":{\"usage\":{\"usage\":%llu,\"limit\":%llu},\"working_set\":%llu,\"oom_kills\":%llu},"
		       "\"pids\":{\"current\":%llu,\"limit\":%llu}}}\n",
		       sub_argv[2], (unsigned long long)s.cpu_usage_ns, (unsigned long long)s.memory_usage,
		       (unsigned long long)s.memory_limit, (unsigned long long)s.memory_working_set,
		       (unsigned long long)s.oom_kills, (unsigned long long)s.pids_current, (unsigned long long)s.pids_limit);
		return 0;
	}
	if (strcmp(cmd, "start") == 0 && sub_argc == 2)
		return rt_start(root, sub_argv[1], &err) < 0 ? fail(&err) : 0;
	if (strcmp(cmd, "state") == 0 && sub_argc == 2) {
		rt_state_t *s = NULL;
		if (rt_state(root, sub_argv[1], &s, &err) < 0)
			return fail(&err);
		char *j = rt_state_json(s);
		printf("%s\n", j ? j : "{}");
		free(j);
		rt_state_free(s);
		return 0;
	}
	if (strcmp(cmd, "kill") == 0) {
		/* kill [-a|--all] ID [SIG]: --all signals every process of the container (its cgroup), as runc. */
		bool all = sub_argc > 1 && (strcmp(sub_argv[1], "--all") == 0 || strcmp(sub_argv[1], "-a") == 0);
		int k = all ? 2 : 1;
		if (sub_argc - k != 1 && sub_argc - k != 2)
			return usage();
		int sig = parse_signal(sub_argc - k == 2 ? sub_argv[k + 1] : NULL);
		if (sig < 0) {
			say("error", "unknown signal '%s'", sub_argv[k + 1]);
			return 1;
		}
		return (all ? rt_kill_all(root, sub_argv[k], sig, &err) : rt_kill(root, sub_argv[k], sig, &err)) < 0 ? fail(&err) : 0;
	}
	if (strcmp(cmd, "delete") == 0) {
		bool force = false;
		const char *id = NULL;
		for (int k = 1; k < sub_argc; k++) {
			if (strcmp(sub_argv[k], "--force") == 0 || strcmp(sub_argv[k], "-f") == 0)
				force = true;
			else if (!id)
				id = sub_argv[k];
			else
				return usage();
		}
		if (!id)
			return usage();
		if (rt_delete(root, id, force, &err) == 0)
			return 0;
		/* As runc: a container that does not exist (or whose create never got as far as its state) leaves
		 * nothing behind, and with --force that is success. */
		if (err.errnum == ENOENT && rt_id_valid(id)) {
			char dir[PATH_MAX];
			crl_error_t e = CRL_ERROR_INIT;
			snprintf(dir, sizeof(dir), "%s/%s", root, id);
			crl_fs_rm_rf(dir, &e);
			crl_error_clear(&e);
			if (force) {
				crl_error_clear(&err);
				return 0;
			}
		}
		return fail(&err);
	}
	return usage();
}
