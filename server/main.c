/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <grpc/grpc.h>

#include "metrics.h"
#include "metrics_http.h"
#include "stream/stream.h"
#include "cni/exec.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/resident.h"
#include "config.h"
#include "container_events.h"
#include "daemon.h"
#include "grpc.h"
#include "image/layer.h"
#include "image/registry.h"
#include "image/store.h"
#include "container.h"
#include "exit_watch.h"
#include "pod.h"
#include "state.h"
#include "store.h"

/* How long in-flight calls may run on after SIGTERM before they are cancelled. */
#define SHUTDOWN_GRACE_MS 5000
/* Library pages faulted in since the last release that make another one worth it. */
#define RELEASE_GROWTH_KIB (2 * 1024)
/* The layer decoders' spare buffers go after this long unused even while calls run (a long stream, say). */
#define UNPACK_BUFFERS_KEEP_S 3

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: crio-lite [OPTIONS] [config]\n"
		"\n"
		"crio-lite is a Kubernetes container runtime serving the CRI v1 API on a unix socket.\n"
		"\n"
		"Commands:\n"
		"  config               print the effective configuration as a crio-lite.conf and exit\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE    configuration file (default %s; missing is fine unless given)\n"
		"  -l, --listen ADDR    CRI socket, unix:///path or /path (overrides api.listen)\n"
		"  -r, --root DIR       persistent state directory (overrides root)\n"
		"      --runroot DIR    volatile state directory (overrides runroot)\n"
		"      --log-level LVL  fatal, error, warn, info, debug or trace (overrides runtime.log_level)\n"
		"  -h, --help           show this help\n"
		"  -v, --version        show the version\n",
		SRV_DEFAULT_CONFIG_PATH);
}

/* Takes an exclusive lock on path (created if needed) and writes our pid into it. A second daemon on the same
 * root or socket fails here: gRPC core would otherwise silently unlink and take over the first one's socket. */
static int take_lock(const char *path, const char *what, int *ret_fd, crl_error_t *err)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "cannot open lock file %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return crl_error_set_errno(err, errno, "cannot lock %s", path);
		char buf[32] = "";
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		return crl_error_set(err, EBUSY, "another crio-lite%s%s is already using %s (lock %s held); refusing to start",
				     buf[0] ? " (pid " : "", buf[0] ? strcat(buf, ")") : "", what, path);
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		return crl_error_set_errno(err, errno, "write lock file %s", path);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int open_dir(const char *path, mode_t mode, int *ret_fd, crl_error_t *err)
{
	int r = crl_fs_mkdir_p(path, mode, err);
	if (r < 0)
		return r;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", path);
	*ret_fd = fd;
	return 0;
}

typedef struct options {
	const char *config_path;
	bool config_given;
	bool print_config;
	srv_config_flags_t flags;
} options_t;

/* Returns 1 when the program should exit 0 (help, version), -1 on a usage error. */
static int parse_args(int argc, char **argv, options_t *o)
{
	enum { OPT_RUNROOT = 1000, OPT_LOG_LEVEL };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "root", required_argument, NULL, 'r' },
		{ "runroot", required_argument, NULL, OPT_RUNROOT },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	o->config_path = SRV_DEFAULT_CONFIG_PATH;
	int c;
	while ((c = getopt_long(argc, argv, "c:l:r:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			o->config_given = true;
			break;
		case 'l':
			o->flags.listen = optarg;
			break;
		case 'r':
			o->flags.root = optarg;
			break;
		case OPT_RUNROOT:
			o->flags.runroot = optarg;
			break;
		case OPT_LOG_LEVEL:
			o->flags.log_level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'v':
			printf("crio-lite version %s\nCRI API v1\n", CRL_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "config") == 0 && optind + 1 == argc) {
			o->print_config = true;
		} else {
			fprintf(stderr, "crio-lite: unknown command '%s'\n", argv[optind]);
			usage(stderr);
			return -1;
		}
	}
	return 0;
}

static int load_config(const options_t *o, srv_config_t *cfg, crl_error_t *err)
{
	int r = srv_config_init_defaults(cfg, err);
	if (r < 0)
		return r;
	if ((r = srv_config_load_file(cfg, o->config_path, !o->config_given, err)) < 0 ||
	    (r = srv_config_apply_flags(cfg, &o->flags, err)) < 0 || (r = srv_config_validate(cfg, err)) < 0) {
		srv_config_free(cfg);
		return r;
	}
	return 0;
}

typedef struct locks {
	int root_fd;
	int sock_fd;
} locks_t;

/* crio-lite-monitor: the configured one, or the one beside our own binary. */
static int find_monitor(srv_daemon_t *d, crl_error_t *err)
{
	if (d->cfg.monitor_path[0]) {
		if (!(d->monitor_bin = strdup(d->cfg.monitor_path)))
			return crl_error_set(err, ENOMEM, "out of memory");
	} else {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return crl_error_set_errno(err, errno, "readlink /proc/self/exe");
		self[n] = '\0';
		if (asprintf(&d->monitor_bin, "%s/crio-lite-monitor", dirname(self)) < 0) {
			d->monitor_bin = NULL;
			return crl_error_set(err, ENOMEM, "out of memory");
		}
	}
	if (access(d->monitor_bin, X_OK) < 0)
		return crl_error_set_errno(err, errno, "the pod monitor %s (runtime.monitor_path)", d->monitor_bin);
	return 0;
}

static int prepare_pods(srv_daemon_t *d, crl_error_t *err)
{
	int r;
	long secs = 0;
	srv_parse_duration(d->cfg.plugin_timeout, &secs);
	d->plugin_timeout_ms = secs > 86400 ? 86400 * 1000 : (int)secs * 1000;
	_cleanup_free_ char *pods = NULL;
	if (asprintf(&pods, "%s/pods", d->cfg.root) < 0 || asprintf(&d->pods_rundir, "%s/pods", d->cfg.runroot) < 0) {
		d->pods_rundir = NULL;
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	if (asprintf(&d->ctrs_dir, "%s/containers", d->cfg.root) < 0) {
		d->ctrs_dir = NULL;
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	if ((r = find_monitor(d, err)) < 0 || (r = open_dir(pods, 0700, &d->pods_fd, err)) < 0 ||
	    (r = open_dir(d->ctrs_dir, 0711, &d->ctrs_fd, err)) < 0 ||
	    (r = crl_fs_mkdir_p(d->pods_rundir, 0711, err)) < 0 || (r = srv_store_new("pod", "pod_sandbox_id", &d->pods, err)) < 0 ||
	    (r = srv_store_new("container", "container_id", &d->ctrs, err)) < 0)
		return r;
	if ((r = srv_exits_new(d, &d->exits, err)) < 0)
		return r;
	/* Pods first: a container is restored into its pod. */
	if ((r = srv_pods_restore(d, err)) < 0)
		return r;
	return srv_ctrs_restore(d, err);
}

static int prepare(srv_daemon_t *d, locks_t *locks, crl_error_t *err)
{
	int r;
	if ((r = srv_config_socket_path(&d->cfg, &d->socket_path, err)) < 0)
		return r;
	if ((r = open_dir(d->cfg.root, 0700, &d->root_fd, err)) < 0 ||
	    (r = open_dir(d->cfg.runroot, 0700, &d->runroot_fd, err)) < 0)
		return r;
	if (asprintf(&d->image_dir, "%s/images", d->cfg.root) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	if ((r = crl_fs_mkdir_p(d->image_dir, 0700, err)) < 0)
		return r;
	/* A 0 duration means curl's own limit only; validate() checked the syntax. */
	srv_parse_duration(d->cfg.pull_progress_timeout, &d->pull_progress_timeout_s);
	_cleanup_free_ char *sockdir_buf = strdup(d->socket_path);
	if (!sockdir_buf)
		return crl_error_set(err, ENOMEM, "out of memory");
	if ((r = crl_fs_mkdir_p(dirname(sockdir_buf), 0755, err)) < 0)
		return crl_error_wrap(err, "socket directory");
	_cleanup_free_ char *root_lock = NULL, *sock_lock = NULL;
	if (asprintf(&root_lock, "%s/crio-lite.lock", d->cfg.root) < 0 ||
	    asprintf(&sock_lock, "%s.lock", d->socket_path) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	if ((r = take_lock(root_lock, d->cfg.root, &locks->root_fd, err)) < 0 ||
	    (r = take_lock(sock_lock, d->socket_path, &locks->sock_fd, err)) < 0)
		return r;
	/* We hold the socket's lock, so a socket file there is a leftover of a daemon that died. */
	if (unlink(d->socket_path) < 0 && errno != ENOENT)
		return crl_error_set_errno(err, errno, "remove stale socket %s", d->socket_path);
	if ((r = srv_state_load_runtime_config(d, err)) < 0)
		return r;
	if ((r = img_store_open(d->image_dir, &d->images, err)) < 0)
		return crl_error_wrap(err, "image store");
	if ((r = img_http_new(&d->http, err)) < 0)
		return r;
	if ((r = srv_events_new(&d->events, err)) < 0)
		return r;
	return prepare_pods(d, err);
}

static void daemon_cleanup(srv_daemon_t *d, locks_t *locks)
{
	srv_stream_stop(d->stream);
	srv_events_free(d->events);
	srv_exits_free(d->exits);
	srv_store_free(d->ctrs);
	srv_store_free(d->pods);
	if (d->ctrs_fd >= 0)
		close(d->ctrs_fd);
	free(d->ctrs_dir);
	if (d->pods_fd >= 0)
		close(d->pods_fd);
	free(d->pods_rundir);
	free(d->monitor_bin);
	img_store_close(d->images);
	img_http_free(d->http);
	if (d->root_fd >= 0)
		close(d->root_fd);
	if (d->runroot_fd >= 0)
		close(d->runroot_fd);
	if (locks->sock_fd >= 0)
		close(locks->sock_fd);
	if (locks->root_fd >= 0)
		close(locks->root_fd);
	free(d->socket_path);
	free(d->image_dir);
	free(d->pod_cidr);
	srv_config_free(&d->cfg);
	pthread_mutex_destroy(&d->lock);
}

int main(int argc, char **argv)
{
	options_t o = { 0 };
	int pr = parse_args(argc, argv, &o);
	if (pr != 0)
		return pr > 0 ? 0 : 2;

	srv_daemon_t d = { .root_fd = -1, .runroot_fd = -1, .pods_fd = -1, .ctrs_fd = -1 };
	locks_t locks = { -1, -1 };
	pthread_mutex_init(&d.lock, NULL);
	crl_error_t err = CRL_ERROR_INIT;
	if (load_config(&o, &d.cfg, &err) < 0) {
		fprintf(stderr, "crio-lite: %s\n", crl_error_message(&err));
		crl_error_clear(&err);
		pthread_mutex_destroy(&d.lock);
		return 1;
	}
	if (o.print_config) {
		_cleanup_free_ char *text = NULL;
		int r = srv_config_to_toml(&d.cfg, &text, &err);
		if (r == 0)
			fputs(text, stdout);
		else
			fprintf(stderr, "crio-lite: %s\n", crl_error_message(&err));
		crl_error_clear(&err);
		srv_config_free(&d.cfg);
		pthread_mutex_destroy(&d.lock);
		return r == 0 ? 0 : 1;
	}
	crl_log_set_level((crl_log_level_t)crl_log_parse_level(d.cfg.log_level));
	umask(0022);

	/* Signals are taken synchronously by main: block them before gRPC starts its threads, which inherit the
	 * mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The allocator, before any thread: large blocks (gRPC messages up to 16 MiB) mapped on their own and given
	 * back when freed, at a fixed threshold (glibc's grows with the largest block freed, and then keeps them in
	 * the heap); few arenas (each thread's would keep its own free memory); the heap's top trimmed early. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024);
	mallopt(M_ARENA_MAX, 2);
	/* Before any thread: curl's global setup is not thread-safe. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int status = 1;
	srv_metrics_http_t *mh = NULL;
	cni_set_observer(srv_metrics_cni);
	if (prepare(&d, &locks, &err) < 0) {
		log_fatal("%s", crl_error_message(&err));
		goto out;
	}

	size_t n_methods = 0;
	const srv_method_t *methods = srv_grpc_methods(&n_methods);
	srv_metrics_init(methods, n_methods);
	if (srv_stream_start(&d, &d.stream, &err) < 0) {
		log_fatal("%s", crl_error_message(&err));
		goto out;
	}
	if (d.cfg.enable_metrics && srv_metrics_http_start(&d, &mh, &err) < 0) {
		log_fatal("%s", crl_error_message(&err));
		goto out;
	}
	grpc_init();
	srv_grpc_t *g = NULL;
	if (srv_grpc_start(&d, d.socket_path, &g, &err) < 0) {
		log_fatal("%s", crl_error_message(&err));
		grpc_shutdown();
		goto out;
	}
	log_info("crio-lite %s serving CRI v1 on unix://%s (root %s, runroot %s)", CRL_VERSION, d.socket_path,
		 d.cfg.root, d.cfg.runroot);

	/* The start touched code and tables of every library (relocation, constructors, the kernel's fault-around)
	 * that no call may need again, or only a pull or an exec will: out of the page tables with them, the calls
	 * fault back in what they use. */
	crl_resident_release_code();
	long file_kib = crl_resident_file_kib();

	/* Once a second without a signal: if calls ended since and none runs, the layer decoders' spare buffers and
	 * what the allocator holds free go back to the kernel (after a burst of large messages the heap would
	 * otherwise keep its peak), and so do the library pages calls brought in since the last release, once they
	 * are 2 MiB (a pull's libcurl, TLS and unpacking code, critest's gRPC); the pages the steady calls use stay
	 * under that and stay mapped. While calls run, the decoders' buffers go once unused for a few seconds. */
	uint64_t trimmed_at = 0;
	for (;;) {
		struct timespec second = { 1, 0 };
		int sig = sigtimedwait(&sigs, NULL, &second);
		if (sig < 0) {
			uint64_t done = 0;
			bool tick = errno == EAGAIN;
			if (tick && srv_grpc_idle(g, &done) && done != trimmed_at) {
				img_unpacker_release_buffers(0);
				malloc_trim(0);
				trimmed_at = done;
				long now_kib = crl_resident_file_kib();
				if (now_kib > file_kib + RELEASE_GROWTH_KIB) {
					crl_resident_release_code();
					file_kib = crl_resident_file_kib();
				}
			} else if (tick && img_unpacker_release_buffers(UNPACK_BUFFERS_KEEP_S) > 0) {
				malloc_trim(0); /* a long call (a stream, events) runs: no pull for a while */
			}
			continue;
		}
		if (sig == SIGHUP) {
			log_info("SIGHUP: configuration reload is not supported; restart crio-lite to apply changes");
			continue;
		}
		log_info("received %s; shutting down", strsignal(sig));
		break;
	}
	srv_grpc_stop(g, SHUTDOWN_GRACE_MS);
	srv_stream_stop(d.stream);
	d.stream = NULL;
	if (unlink(d.socket_path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", d.socket_path, strerror(errno));
	grpc_shutdown();
	log_info("crio-lite stopped");
	status = 0;
out:
	/* Before the stores go: a scrape reads them. */
	srv_metrics_http_stop(mh);
	crl_error_clear(&err);
	daemon_cleanup(&d, &locks);
	curl_global_cleanup();
	return status;
}
