/* SPDX-License-Identifier: Apache-2.0 */
/* Pod sandboxes: the object, its record, its monitor, its network and their teardown. */
#include "pod.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cni/exec.h"
#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/timefmt.h"
#include "daemon.h"
#include "runtime/cgroup.h"
#include "runtime/monitor/client.h"
#include "state.h"

extern char **environ;

/* How long a new monitor may take to report that it serves. */
#define MONITOR_READY_MS 10000
/* How long a monitor asked to shut down may take to go. */
#define MONITOR_EXIT_MS 5000

static void pod_free(srv_obj_t *o)
{
	srv_pod_t *p = srv_pod_of(o);
	runtime__v1__pod_sandbox_config__free_unpacked(p->config, NULL);
	free(p->config_b64);
	free(p->runtime_handler);
	free(p->dir);
	free(p->cgroup);
	crl_strv_free(p->ips);
	free(p->cni_cache);
	free(p->obj.name);
	pthread_mutex_destroy(&p->op_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

srv_pod_t *srv_pod_of(srv_obj_t *o)
{
	return (srv_pod_t *)o;
}

/* A pod around an unpacked config it takes. */
static int pod_alloc(const char *id, const char *name, Runtime__V1__PodSandboxConfig *config, const char *b64,
		     const char *handler, srv_pod_t **ret, crl_error_t *err)
{
	srv_pod_t *p = calloc(1, sizeof(*p));
	if (!p) {
		runtime__v1__pod_sandbox_config__free_unpacked(config, NULL);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&p->op_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	p->obj.free = pod_free;
	atomic_init(&p->obj.refs, 1);
	snprintf(p->obj.id, sizeof(p->obj.id), "%s", id);
	p->config = config;
	srv_pod_config_ns(config, &p->ns);
	p->obj.name = strdup(name);
	p->config_b64 = strdup(b64);
	p->runtime_handler = strdup(handler ? handler : "");
	if (!p->obj.name || !p->config_b64 || !p->runtime_handler) {
		pod_free(&p->obj);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = p;
	return 0;
}

int srv_pod_new(const char *id, const char *name, const Runtime__V1__PodSandboxConfig *config,
		const char *runtime_handler, srv_pod_t **ret, crl_error_t *err)
{
	/* A copy of our own: the request goes when the call ends. Packed once, for the record too. */
	size_t len = runtime__v1__pod_sandbox_config__get_packed_size(config);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__pod_sandbox_config__pack(config, buf);
	Runtime__V1__PodSandboxConfig *copy = runtime__v1__pod_sandbox_config__unpack(NULL, len, buf);
	_cleanup_free_ char *b64 = crl_base64_encode(buf, len);
	if (!copy || !b64) {
		runtime__v1__pod_sandbox_config__free_unpacked(copy, NULL);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	srv_pod_t *p = NULL;
	int r = pod_alloc(id, name, copy, b64, runtime_handler, &p, err);
	if (r < 0)
		return r;
	p->created_at = crl_now_ns(CLOCK_REALTIME);
	p->state = SRV_POD_CREATING;
	*ret = p;
	return 0;
}

int srv_pod_get(srv_daemon_t *d, const char *id, srv_pod_t **ret, crl_error_t *err)
{
	srv_obj_t *o = NULL;
	int r = srv_store_get(d->pods, id, &o, err);
	if (r < 0)
		return r;
	*ret = srv_pod_of(o);
	return 0;
}

const char *srv_pod_netns(const srv_pod_t *p, char *buf, size_t size)
{
	if (p->ns.network == RUNTIME__V1__NAMESPACE_MODE__NODE)
		return "";
	snprintf(buf, size, "%s/ns/net", p->dir);
	return buf;
}

/* --- the record --- */

static const char *state_name(srv_pod_state_t s)
{
	return s == SRV_POD_READY ? "ready" : s == SRV_POD_NOTREADY ? "notready" : "creating";
}

int srv_pod_save(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", SRV_POD_RECORD_VERSION);
	crl_json_kv_string(j, "id", p->obj.id);
	crl_json_kv_string(j, "name", p->obj.name);
	crl_json_kv_int(j, "created_at", p->created_at);
	crl_json_kv_string(j, "runtime_handler", p->runtime_handler);
	crl_json_kv_string(j, "config", p->config_b64);
	crl_json_kv_string(j, "dir", p->dir);
	crl_json_kv_string(j, "cgroup", p->cgroup);
	pthread_mutex_lock(&p->lock);
	crl_json_kv_string(j, "state", state_name(p->state));
	crl_json_key(j, "ips");
	crl_json_array_begin(j);
	for (char **ip = p->ips; ip && *ip; ip++)
		crl_json_string(j, *ip);
	crl_json_array_end(j);
	crl_json_kv_string(j, "cni_cache", p->cni_cache);
	crl_json_kv_bool(j, "cni_added", p->cni_added);
	crl_json_kv_bool(j, "network_down", p->network_down);
	crl_json_kv_int(j, "monitor_pid", p->monitor_pid);
	pthread_mutex_unlock(&p->lock);
	crl_json_object_end(j);
	_cleanup_free_ char *name = srv_record_name(p->obj.id);
	if (!name) {
		crl_json_free(j);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	int r = srv_record_write(d->pods_fd, name, j, true, err);
	if (r < 0)
		return crl_error_wrap(err, "save the record of pod %s", p->obj.id);
	return 0;
}

int srv_pod_load(srv_daemon_t *d, const char *file, srv_pod_t **ret, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	int r = srv_record_read(d->pods_fd, file, SRV_POD_RECORD_VERSION, &doc, err);
	if (r < 0)
		return r;
	/* Before any jump to out: what it cleans up is set. */
	_cleanup_free_ char *raw = NULL;
	int64_t created = 0, pid = 0;
	const char *id = crl_json_get_string(crl_json_get(doc, "id"));
	const char *name = crl_json_get_string(crl_json_get(doc, "name"));
	const char *b64 = crl_json_get_string(crl_json_get(doc, "config"));
	const char *state = crl_json_get_string(crl_json_get(doc, "state"));
	if (!id || !srv_id_valid(id) || !name || !b64 || !state ||
	    !crl_json_get_int(crl_json_get(doc, "created_at"), &created)) {
		r = crl_error_set(err, EINVAL, "the record lacks id, name, config, state or created_at");
		goto out;
	}
	size_t rlen = 0;
	Runtime__V1__PodSandboxConfig *config = NULL;
	if (crl_base64_decode(b64, &raw, &rlen) < 0 ||
	    !(config = runtime__v1__pod_sandbox_config__unpack(NULL, rlen, (const uint8_t *)raw))) {
		r = crl_error_set(err, EINVAL, "the record's config does not decode");
		goto out;
	}
	srv_pod_t *p = NULL;
	if ((r = pod_alloc(id, name, config, b64, crl_json_get_string(crl_json_get(doc, "runtime_handler")), &p, err)) < 0)
		goto out;
	p->created_at = created;
	p->state = strcmp(state, "ready") == 0 ? SRV_POD_READY : strcmp(state, "notready") == 0 ? SRV_POD_NOTREADY :
												SRV_POD_CREATING;
	p->dir = srv_record_dup(doc, "dir");
	p->cgroup = srv_record_dup(doc, "cgroup");
	p->cni_cache = srv_record_dup(doc, "cni_cache");
	crl_json_get_bool(crl_json_get(doc, "cni_added"), &p->cni_added);
	crl_json_get_bool(crl_json_get(doc, "network_down"), &p->network_down);
	if (crl_json_get_int(crl_json_get(doc, "monitor_pid"), &pid))
		p->monitor_pid = (pid_t)pid;
	const crl_json_value_t *ips = crl_json_get(doc, "ips");
	size_t n = crl_json_array_len(ips);
	if (n && (p->ips = calloc(n + 1, sizeof(char *))))
		for (size_t i = 0, k = 0; i < n; i++) {
			const char *ip = crl_json_get_string(crl_json_array_at(ips, i));
			if (ip && (p->ips[k] = strdup(ip)))
				k++;
		}
	if (!p->dir) {
		pod_free(&p->obj);
		r = crl_error_set(err, EINVAL, "the record has no pod directory");
		goto out;
	}
	*ret = p;
out:
	crl_json_value_free(doc);
	return r;
}

/* --- the monitor --- */

/* Reads the monitor's readiness line: "ok", or the reason it failed. */
static int wait_ready(int fd, const char *id, crl_error_t *err)
{
	char buf[1024];
	size_t len = 0;
	int64_t deadline = crl_mono_ms() + MONITOR_READY_MS;
	for (;;) {
		int64_t left = deadline - crl_mono_ms();
		if (left <= 0)
			return crl_error_set(err, ETIMEDOUT, "the monitor of pod %s did not start within %d ms", id,
					     MONITOR_READY_MS);
		struct pollfd pfd = { fd, POLLIN, 0 };
		int pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) >= sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strcmp(buf, "ok") == 0)
		return 0;
	return crl_error_set(err, EIO, "the monitor of pod %s failed to start: %s", id,
			     buf[0] ? buf : "it exited without a word");
}

int srv_pod_start_monitor(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err)
{
	char nslist[32];
	srv_pod_ns_list(&p->ns, nslist);
	const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
	size_t n_sysctls = l ? l->n_sysctls : 0;
	_cleanup_free_ char *rtroot = NULL, *logpath = NULL;
	_cleanup_strv_ char **sysctls = calloc(n_sysctls + 1, sizeof(char *));
	if (!sysctls || asprintf(&rtroot, "%s/rt", p->dir) < 0 || asprintf(&logpath, "%s/monitor.log", p->dir) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_sysctls; i++)
		if (asprintf(&sysctls[i], "%s=%s", l->sysctls[i]->key, l->sysctls[i]->value) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
	const char *argv[16 + 2 * SRV_POD_MAX_SYSCTLS];
	size_t n = 0;
	argv[n++] = d->monitor_bin;
	argv[n++] = "--dir";
	argv[n++] = p->dir;
	argv[n++] = "--runtime-root";
	argv[n++] = rtroot;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	if (nslist[0]) {
		argv[n++] = "--pod-namespaces";
		argv[n++] = nslist;
	}
	const char *hn = p->config->hostname;
	if (hn && *hn && strstr(nslist, "uts")) {
		argv[n++] = "--hostname";
		argv[n++] = hn;
	}
	for (size_t i = 0; i < n_sysctls; i++) {
		argv[n++] = "--sysctl";
		argv[n++] = sysctls[i];
	}
	argv[n] = NULL;

	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return crl_error_set_errno(err, errno, "pipe");
	_cleanup_close_ int rd = pipefd[0], wr = pipefd[1];
	_cleanup_close_ int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (logfd < 0)
		return crl_error_set_errno(err, errno, "open %s", logpath);
	static char *const env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	pid_t pid = 0;
	int r = crl_spawn(d->monitor_bin, (char *const *)argv, env, (const int[4]){ -1, logfd, logfd, wr }, 4, false,
			  &pid, err);
	if (r < 0)
		return crl_error_wrap(err, "start the pod monitor");
	close(TAKE_FD(wr));
	/* The child we made detaches at once (the monitor lives on in its own child): reaped after the monitor
	 * said it is ready, or killed when it never does (a child stuck before it detaches). */
	r = wait_ready(rd, p->obj.id, err);
	if (r < 0)
		(void)kill(pid, SIGKILL);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	mon_client_t *c = NULL;
	if ((r = mon_client_connect(p->dir, &c, err)) < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	p->monitor_pid = mon_client_peer_pid(c);
	pthread_mutex_unlock(&p->lock);
	mon_client_free(c);
	return 0;
}

bool srv_pod_monitor_alive(srv_pod_t *p)
{
	crl_error_t e = CRL_ERROR_INIT;
	mon_client_t *c = NULL;
	bool ok = mon_client_connect(p->dir, &c, &e) == 0;
	if (ok) {
		pthread_mutex_lock(&p->lock);
		p->monitor_pid = mon_client_peer_pid(c);
		pthread_mutex_unlock(&p->lock);
	}
	mon_client_free(c);
	crl_error_clear(&e);
	return ok;
}

/* Asks the monitor to go and waits until it has; one that does not is killed. A monitor that is gone already
 * is success. */
static int stop_monitor(srv_pod_t *p, crl_error_t *err)
{
	mon_client_t *c = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (mon_client_connect(p->dir, &c, &e) < 0) {
		crl_error_clear(&e);
		return 0;
	}
	pid_t pid = mon_client_peer_pid(c);
	int r = mon_client_call(c, "{\"v\":1,\"op\":\"shutdown\"}", MONITOR_EXIT_MS, NULL, &e);
	if (r == 0) {
		/* Its end of the connection closes as it exits. */
		crl_json_value_t *v = NULL;
		r = mon_client_recv(c, MONITOR_EXIT_MS, &v, &e);
		crl_json_value_free(v);
		r = r == -EPIPE ? 0 : -ETIMEDOUT;
	}
	mon_client_free(c);
	if (r < 0 && pid > 0) {
		log_warn("pod %s: monitor %d did not shut down (%s); killing it", p->obj.id, (int)pid,
			 e.errnum ? crl_error_message(&e) : "timeout");
		if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
			r = crl_error_set_errno(err, errno, "kill the monitor of pod %s", p->obj.id);
		else
			r = 0;
	} else if (r < 0) {
		/* No pid to kill it by: the reason goes to the caller. */
		r = crl_error_set(err, -r, "the monitor of pod %s did not shut down: %s", p->obj.id,
				  e.errnum ? crl_error_message(&e) : "timeout");
	}
	crl_error_clear(&e);
	return r;
}

/* --- network --- */

int srv_pod_network_down(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err)
{
	pthread_mutex_lock(&p->lock);
	bool todo = p->cni_cache && !p->network_down;
	_cleanup_free_ char *cache = todo ? strdup(p->cni_cache) : NULL;
	pthread_mutex_unlock(&p->lock);
	if (!todo)
		return 0;
	if (!cache)
		return crl_error_set(err, ENOMEM, "out of memory");
	char nsbuf[4096];
	const char *netns = srv_pod_netns(p, nsbuf, sizeof(nsbuf));
	struct stat st;
	/* A namespace no longer pinned (after a reboot) is passed as none, as the spec allows for DEL. */
	if (*netns && stat(netns, &st) < 0)
		netns = "";
	int r = cni_del_cached(cache, d->cfg.plugin_dirs, netns, d->plugin_timeout_ms, err);
	if (r < 0)
		return crl_error_wrap(err, "pod %s: CNI DEL", p->obj.id);
	pthread_mutex_lock(&p->lock);
	p->network_down = true;
	crl_strv_free(p->ips);
	p->ips = NULL;
	pthread_mutex_unlock(&p->lock);
	return 1;
}

/* --- teardown --- */

static void unpin(const srv_pod_t *p)
{
	static const char *const kinds[] = { "net", "ipc", "uts", "pid" };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(kinds); i++) {
		_cleanup_free_ char *pin = NULL;
		if (asprintf(&pin, "%s/ns/%s", p->dir, kinds[i]) < 0)
			continue;
		if (umount2(pin, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			log_debug("pod %s: umount %s: %s", p->obj.id, pin, strerror(errno));
		(void)unlink(pin);
	}
}

int srv_pod_teardown(srv_daemon_t *d, srv_pod_t *p, crl_error_t *err)
{
	int r;
	/* The network first: plugins need the namespace the monitor holds. */
	if ((r = srv_pod_network_down(d, p, err)) < 0)
		return r;
	if (p->dir) {
		if ((r = stop_monitor(p, err)) < 0)
			return r;
		unpin(p);
		_cleanup_free_ char *proc = NULL;
		if (asprintf(&proc, "%s/proc", p->dir) >= 0 && umount2(proc, MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT)
			return crl_error_set_errno(err, errno, "pod %s: unmount %s", p->obj.id, proc);
		_cleanup_free_ char *shm = NULL;
		if (asprintf(&shm, "%s/shm", p->dir) >= 0 && umount2(shm, MNT_DETACH) < 0 && errno != EINVAL &&
		    errno != ENOENT)
			return crl_error_set_errno(err, errno, "pod %s: unmount %s", p->obj.id, shm);
		if ((r = crl_fs_rm_rf(p->dir, err)) < 0)
			return crl_error_wrap(err, "pod %s: remove its directory", p->obj.id);
	}
	if (p->cgroup) {
		rt_cgroup_t *cg = NULL;
		int o = rt_cgroup_open(p->cgroup, &cg, err);
		if (o == -EINVAL) /* a path no cgroup could be made at: none was */
			crl_error_clear(err);
		else if (o < 0)
			return crl_error_wrap(err, "pod %s: its cgroup", p->obj.id);
		if (o == 0) {
			/* Processes its containers left behind (their cgroups are below the pod's) go with it. */
			size_t left = rt_cgroup_kill_tree(cg);
			if (left)
				log_warn("pod %s: processes were left in its cgroup; killed (%zu signals)", p->obj.id, left);
			r = rt_cgroup_destroy_tree(cg, err);
			for (int i = 0; left && r < 0 && i < 100; i++) {
				/* Killed processes leave their cgroup a moment later; one forked while they were
				 * being killed is killed now. */
				usleep(10000);
				crl_error_clear(err);
				rt_cgroup_kill_tree(cg);
				r = rt_cgroup_destroy_tree(cg, err);
			}
			rt_cgroup_free(cg);
			if (r < 0 && r != -ENOENT)
				return crl_error_wrap(err, "pod %s: remove its cgroup", p->obj.id);
			crl_error_clear(err);
		}
	}
	_cleanup_free_ char *name = srv_record_name(p->obj.id);
	if (!name)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (unlinkat(d->pods_fd, name, 0) < 0 && errno != ENOENT)
		return crl_error_set_errno(err, errno, "pod %s: remove its record", p->obj.id);
	(void)fsync(d->pods_fd);
	return 0;
}
