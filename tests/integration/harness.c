/* SPDX-License-Identifier: Apache-2.0 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "common/timefmt.h"
#include "runtime/monitor/client.h"

const char *td_binary(void)
{
	const char *b = getenv("CRIO_LITE_BIN");
	return b ? b : "./crio-lite";
}

void td_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		abort();
	}
	fputs(content, f);
	fclose(f);
}

int td_setup(test_daemon_t *t, const char *extra_toml)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/crl-test-XXXXXX");
	if (!mkdtemp(t->dir))
		return -errno;
	snprintf(t->sock, sizeof(t->sock), "%s/run/crio-lite.sock", t->dir);
	snprintf(t->conf, sizeof(t->conf), "%s/crio-lite.conf", t->dir);
	snprintf(t->root, sizeof(t->root), "%s/root", t->dir);
	snprintf(t->runroot, sizeof(t->runroot), "%s/run", t->dir);
	snprintf(t->netdir, sizeof(t->netdir), "%s/net.d", t->dir);
	snprintf(t->log, sizeof(t->log), "%s/daemon.log", t->dir);
	mkdir(t->netdir, 0755);
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "[crio-lite]\nroot = \"%s\"\nrunroot = \"%s\"\nlog_dir = \"%s/pods\"\n"
		 "[crio-lite.api]\nlisten = \"unix://%s\"\n"
		 "[crio-lite.runtime]\nlog_level = \"debug\"\n"
		 "[crio-lite.network]\nnetwork_dir = \"%s\"\nplugin_dirs = [\"/usr/lib/cni\", \"/opt/cni/bin\"]\n%s",
		 t->root, t->runroot, t->dir, t->sock, t->netdir, extra_toml ? extra_toml : "");
	td_write_file(t->conf, conf);
	t->pid = -1;
	return 0;
}

static int start_daemon(test_daemon_t *t, const char *const *extra_args);

int td_start(test_daemon_t *t, const char *const *extra_args)
{
	int r = start_daemon(t, extra_args);
	if (r < 0) {
		char *l = td_log(t);
		fprintf(stderr, "daemon did not start:\n%s\n", l ? l : "");
		free(l);
	}
	return r;
}

void td_write_lo_network(const test_daemon_t *t)
{
	char conflist[300];
	snprintf(conflist, sizeof(conflist), "%s/10-lo.conflist", t->netdir);
	td_write_file(conflist, "{\"cniVersion\":\"1.0.0\",\"name\":\"lo-only\",\"plugins\":[{\"type\":\"loopback\"}]}");
}

static int start_daemon(test_daemon_t *t, const char *const *extra_args)
{
	const char *argv[32];
	size_t n = 0;
	argv[n++] = td_binary();
	argv[n++] = "--config";
	argv[n++] = t->conf;
	for (size_t i = 0; extra_args && extra_args[i] && n < 30; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	struct stat lst;
	off_t log_start = stat(t->log, &lst) == 0 ? lst.st_size : 0;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* A test that dies (an abort, a sanitizer's report) takes its daemon with it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	t->pid = pid;
	int64_t deadline = crl_mono_ms() + 15000;
	while (crl_mono_ms() < deadline) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			t->pid = -1;
			return -ECHILD;
		}
		/* This daemon's own "serving" line: a socket file may be a dead daemon's leftover. */
		char *l = td_log(t);
		bool serving = strlen(l) > (size_t)log_start && strstr(l + log_start, "serving CRI v1");
		free(l);
		if (serving) {
			if (!t->client)
				t->client = cri_client_new(t->sock);
			Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
			cri_result_t r;
			if (cri_call(t->client, "/runtime.v1.RuntimeService/Version", &req.base,
				     &runtime__v1__version_response__descriptor, 1000, &r) == 0 &&
			    r.code == 0) {
				cri_result_clear(&r);
				return 0;
			}
			cri_result_clear(&r);
		}
		usleep(20000);
	}
	if (!t->client)
		t->client = cri_client_new(t->sock);
	return -ETIMEDOUT;
}

int td_stop(test_daemon_t *t, int sig, int timeout_ms)
{
	if (t->client) {
		cri_client_free(t->client);
		t->client = NULL;
	}
	if (t->pid <= 0)
		return -1;
	kill(t->pid, sig);
	int64_t deadline = crl_mono_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(t->pid, &st, WNOHANG);
		if (r == t->pid) {
			t->pid = -1;
			return st;
		}
		if (crl_mono_ms() > deadline) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
			t->pid = -1;
			return -1;
		}
		usleep(10000);
	}
}

void td_cleanup(test_daemon_t *t)
{
	if (t->pid > 0)
		td_stop(t, SIGKILL, 5000);
	if (t->client) {
		cri_client_free(t->client);
		t->client = NULL;
	}
	if (t->dir[0]) {
		crl_error_t err = CRL_ERROR_INIT;
		crl_fs_rm_rf(t->dir, &err);
		crl_error_clear(&err);
	}
	t->dir[0] = '\0';
}

char *td_log(const test_daemon_t *t)
{
	char *text = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, t->log, 64 * 1024 * 1024, &text, NULL, &err) < 0)
		text = strdup("");
	crl_error_clear(&err);
	return text;
}

bool td_wait_log(const test_daemon_t *t, const char *needle, int timeout_ms)
{
	int64_t deadline = crl_mono_ms() + timeout_ms;
	do {
		char *l = td_log(t);
		bool found = strstr(l, needle) != NULL;
		free(l);
		if (found)
			return true;
		usleep(20000);
	} while (crl_mono_ms() < deadline);
	return false;
}

crl_json_value_t *td_monitor_call(const char *sock, const void *msg, size_t len, bool frame)
{
	mon_client_t *c = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	crl_json_value_t *v = NULL;
	/* A monitor that refuses the connection (too many) answers and closes it, maybe before the request is sent:
	 * a failed send still reads its answer. A monitor that stopped answering fails the call within 30 s. */
	if (mon_client_connect_path(sock, &c, &err) == 0) {
		if (len && msg)
			(void)mon_client_send(c, msg, len, !frame, &err);
		crl_error_clear(&err);
		if (mon_client_recv(c, 30000, &v, &err) < 0)
			v = NULL;
	}
	crl_error_clear(&err);
	mon_client_free(c);
	return v;
}

crl_json_value_t *td_monitor_call_str(const char *sock, const char *msg)
{
	return td_monitor_call(sock, msg, strlen(msg), true);
}

void td_sweep(const char *dir, const char *runtime_bin, const char *state_root)
{
	DIR *d = state_root ? opendir(state_root) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		const char *del[] = { runtime_bin, "--root", state_root, "delete", "--force", de->d_name, NULL };
		char *out = NULL;
		td_run(del, &out, 20000);
		free(out);
	}
	if (d)
		closedir(d);
	if (!dir)
		return;
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	while (mi && fgets(line, sizeof(line), mi)) {
		char mp[4096];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, strlen(dir)) == 0)
			umount2(mp, MNT_DETACH);
	}
	if (mi)
		fclose(mi);
	crl_error_t err = CRL_ERROR_INIT;
	crl_fs_rm_rf(dir, &err);
	crl_error_clear(&err);
	static const char *const ctrls[] = { "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer", "unified" };
	for (size_t i = 0; i < sizeof(ctrls) / sizeof(ctrls[0]); i++) {
		char p[128];
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/crio-lite", ctrls[i]);
		rmdir(p);
	}
}

int td_fixture(const char *const *args, char **out)
{
	char script[512];
	const char *f = getenv("CRIO_LITE_FIXTURES");
	snprintf(script, sizeof(script), "%s/registry.py", f ? f : "tests/fixtures");
	const char *argv[16] = { "/usr/bin/python3", script };
	size_t n = 2;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char *o = NULL;
	int st = td_run(argv, &o, 600000);
	if (out)
		*out = o;
	else
		free(o);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int td_run(const char *const *args, char **ret_output, int timeout_ms)
{
	char path[] = "/tmp/crl-run-XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	close(fd);
	int st = -1;
	int64_t deadline = crl_mono_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (crl_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			st = -1;
			break;
		}
		usleep(5000);
	}
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, path, 16 * 1024 * 1024, ret_output, NULL, &err) < 0)
		*ret_output = strdup("");
	crl_error_clear(&err);
	unlink(path);
	return st;
}

int td_monitors(const char *runroot, bool kill_them)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char p[300], buf[4096];
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		ssize_t len = crl_fs_read_small(p, buf, sizeof(buf));
		for (ssize_t i = 0; i < len - 1; i++)
			if (!buf[i])
				buf[i] = ' ';
		if (len > 0 && strstr(buf, "crio-lite-monitor") && strstr(buf, runroot)) {
			n++;
			if (kill_them)
				kill(atoi(de->d_name), SIGKILL);
		}
	}
	if (d)
		closedir(d);
	return n;
}

void td_net_state_save(td_net_state_t *s)
{
	memset(s, 0, sizeof(*s));
	char buf[8];
	if (crl_fs_read_small("/proc/sys/net/ipv4/ip_forward", buf, sizeof(buf)) > 0)
		snprintf(s->ip_forward, sizeof(s->ip_forward), "%.1s", buf);
	const char *a[] = { "/bin/sh", "-c", "iptables -w -t nat -S CNI-HOSTPORT-DNAT", NULL };
	char *out = NULL;
	s->hostport_chains = td_run(a, &out, 10000) == 0;
	free(out);
}

void td_net_state_restore(const td_net_state_t *s)
{
	/* portmap's own chains are per container and go with DEL; the three it shares stay, so they are removed
	 * when the test made them. */
	if (!s->hostport_chains) {
		const char *a[] = { "/bin/sh", "-c",
				    "for c in PREROUTING OUTPUT POSTROUTING; do"
				    "  for n in $(iptables -w -t nat -L $c -n --line-numbers | awk '$2 ~ /^CNI-HOSTPORT-/ {print $1}'"
				    "  | sort -rn); do iptables -w -t nat -D $c $n; done; done;"
				    "for ch in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do"
				    "  iptables -w -t nat -F $ch && iptables -w -t nat -X $ch; done 2>/dev/null",
				    NULL };
		char *out = NULL;
		td_run(a, &out, 20000);
		free(out);
	}
	if (s->ip_forward[0])
		td_write_file("/proc/sys/net/ipv4/ip_forward", s->ip_forward);
}

int td_registry_start(char *dir, const char *htpasswd)
{
	snprintf(dir, 128, "/tmp/crl-registry-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char *out = NULL;
	const char *a1[] = { "start", dir, NULL };
	const char *a2[] = { "start", dir, "--htpasswd", htpasswd, NULL };
	if (td_fixture(htpasswd ? a2 : a1, &out) != 0) {
		fprintf(stderr, "registry: %s\n", out ? out : "");
		free(out);
		return -1;
	}
	int port = atoi(out);
	free(out);
	return port > 0 ? port : -1;
}

void td_registry_stop(const char *dir)
{
	if (!dir[0])
		return;
	const char *a[] = { "stop", dir, NULL };
	td_fixture(a, NULL);
	crl_error_t err = CRL_ERROR_INIT;
	crl_fs_rm_rf(dir, &err);
	crl_error_clear(&err);
}

void td_write_regconf(const char *path, int port)
{
	char rc[256];
	snprintf(rc, sizeof(rc), "[[registry]]\nlocation = \"127.0.0.1:%d\"\ninsecure = true\n", port);
	td_write_file(path, rc);
}

int td_container_registry(char *dir, char *regconf, size_t regconf_size)
{
	int port = td_registry_start(dir, NULL);
	if (port < 0)
		return -1;
	char *out = NULL, ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	const char *push[] = { "push-containers", ps, NULL };
	if (td_fixture(push, &out) != 0) {
		fprintf(stderr, "push-containers: %s\n", out ? out : "");
		free(out);
		return -1;
	}
	free(out);
	snprintf(regconf, regconf_size, "%s/registries.conf", dir);
	td_write_regconf(regconf, port);
	return port;
}

bool td_stop_clean(test_daemon_t *t)
{
	int st = td_stop(t, SIGTERM, 20000);
	bool ok = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok || getenv("CRL_TEST_SHOW_LOG")) {
		char *l = td_log(t);
		fprintf(stderr, "%s (status %d); its log:\n%s\n", ok ? "daemon stopped" : "daemon did not exit cleanly", st,
			l ? l : "");
		free(l);
	}
	return ok;
}

bool td_finish(test_daemon_t *t)
{
	bool ok = td_stop_clean(t);
	if (td_monitors(t->runroot, true) > 0) {
		fprintf(stderr, "monitors were left running; ended\n");
		ok = false;
	}
	td_sweep(t->dir, NULL, NULL);
	return ok;
}

int td_pull(test_daemon_t *t, const char *ref)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)ref;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	req.image = &spec;
	cri_result_t r;
	if (cri_call(t->client, "/runtime.v1.ImageService/PullImage", &req.base, NULL, 60000, &r) < 0)
		return -1;
	int code = r.code;
	if (code)
		fprintf(stderr, "pull %s: %s\n", ref, r.message ? r.message : "");
	cri_result_clear(&r);
	return code;
}

/* A call that must work: 0 with its answer in r, or -1 after saying on stderr "<Method> <what>: <message>" (r
 * cleared then). */
static int call_ok(test_daemon_t *t, const char *method, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *desc, const char *what, cri_result_t *r)
{
	if (cri_call(t->client, method, req, desc, 60000, r) == 0 && r->code == 0)
		return 0;
	const char *slash = strrchr(method, '/');
	fprintf(stderr, "%s%s%s: %s\n", slash ? slash + 1 : method, what ? " " : "", what ? what : "",
		r->message ? r->message : "(transport)");
	cri_result_clear(r);
	return -1;
}

char *td_run_pod(test_daemon_t *t, const Runtime__V1__PodSandboxConfig *cfg)
{
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	req.config = (Runtime__V1__PodSandboxConfig *)cfg;
	cri_result_t r;
	if (call_ok(t, "/runtime.v1.RuntimeService/RunPodSandbox", &req.base,
		    &runtime__v1__run_pod_sandbox_response__descriptor, NULL, &r) < 0)
		return NULL;
	char *id = strdup(((Runtime__V1__RunPodSandboxResponse *)r.resp)->pod_sandbox_id);
	cri_result_clear(&r);
	return id;
}

int td_remove_pod(test_daemon_t *t, const char *id)
{
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	const char *const calls[] = { "/runtime.v1.RuntimeService/StopPodSandbox",
				      "/runtime.v1.RuntimeService/RemovePodSandbox" };
	for (int i = 0; i < 2; i++) {
		cri_result_t r;
		if (cri_call(t->client, calls[i], &req.base, NULL, 60000, &r) < 0)
			return -1;
		int code = r.code;
		if (code)
			fprintf(stderr, "%s %s: %s\n", calls[i], id, r.message ? r.message : "");
		cri_result_clear(&r);
		if (code)
			return code;
	}
	return 0;
}

char *td_start_sh(test_daemon_t *t, const char *pod_id, const Runtime__V1__PodSandboxConfig *pod_config,
		  const char *image, const char *name, const char *script, bool with_stdin)
{
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = (char *)name;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__ContainerConfig c = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	char *cmd[] = { "/bin/sh", "-c", (char *)script };
	c.metadata = &md;
	c.image = &spec;
	c.command = cmd;
	c.n_command = script ? 3 : 1;
	c.stdin = c.stdin_once = with_stdin;
	char logp[128];
	snprintf(logp, sizeof(logp), "%s.log", name);
	c.log_path = logp;
	Runtime__V1__LinuxContainerConfig lc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	c.linux = &lc;
	Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	req.pod_sandbox_id = (char *)pod_id;
	req.config = &c;
	req.sandbox_config = (Runtime__V1__PodSandboxConfig *)pod_config;
	cri_result_t r;
	if (call_ok(t, "/runtime.v1.RuntimeService/CreateContainer", &req.base,
		    &runtime__v1__create_container_response__descriptor, name, &r) < 0)
		return NULL;
	char *id = strdup(((Runtime__V1__CreateContainerResponse *)r.resp)->container_id);
	cri_result_clear(&r);
	Runtime__V1__StartContainerRequest sreq = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	sreq.container_id = id;
	if (call_ok(t, "/runtime.v1.RuntimeService/StartContainer", &sreq.base, NULL, name, &r) < 0) {
		free(id);
		return NULL;
	}
	cri_result_clear(&r);
	return id;
}

char *td_exec_sync(test_daemon_t *t, const char *ctr, const char *script, int *ret_code)
{
	Runtime__V1__ExecSyncRequest req = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	req.container_id = (char *)ctr;
	char *cmd[] = { "/bin/sh", "-c", (char *)script };
	req.cmd = cmd;
	req.n_cmd = 3;
	req.timeout = 30;
	cri_result_t r;
	if (call_ok(t, "/runtime.v1.RuntimeService/ExecSync", &req.base, &runtime__v1__exec_sync_response__descriptor,
		    script, &r) < 0)
		return NULL;
	Runtime__V1__ExecSyncResponse *resp = (Runtime__V1__ExecSyncResponse *)r.resp;
	char *s = resp->stdout.len ? strndup((char *)resp->stdout.data, resp->stdout.len) : strdup("");
	if (ret_code)
		*ret_code = resp->exit_code;
	cri_result_clear(&r);
	return s;
}

bool td_pid_runs(pid_t pid)
{
	char p[64], buf[4096];
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	ssize_t n = crl_fs_read_small(p, buf, sizeof(buf));
	const char *rp = n > 0 ? strrchr(buf, ')') : NULL;
	return n > 0 && !(rp && rp[1] == ' ' && rp[2] == 'Z');
}

bool td_pid_gone(pid_t pid, int timeout_ms)
{
	int64_t deadline = crl_mono_ms() + timeout_ms;
	while (td_pid_runs(pid)) {
		if (crl_mono_ms() > deadline)
			return false;
		usleep(10000);
	}
	return true;
}

int td_mounts_mentioning(const char *text)
{
	char *mi = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &mi, NULL, &err) < 0) {
		crl_error_clear(&err);
		return -1;
	}
	int n = 0;
	for (char *save = NULL, *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, text))
			n++;
	free(mi);
	return n;
}
