/* SPDX-License-Identifier: Apache-2.0 */
/* crio-lite-monitor through its control socket: containers from busybox-static bundles, CRI logs, exit
 * records, exec with output cap and timeout, OOM, protocol errors, and the monitor outliving its starter. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base64.h"
#include "common/fs.h"
#include "common/json.h"
#include "harness.h"
#include "runtime/monitor/client.h"

static char dir[32], rootfs[64], rtroot[64], mondir[64], sock[100];
static pid_t mon_pid;

static const char *bin(const char *env, const char *def)
{
	const char *b = getenv(env);
	return b ? b : def;
}

static crl_json_value_t *call_raw(const void *msg, size_t len, bool frame)
{
	crl_json_value_t *v = td_monitor_call(sock, msg, len, frame);
	assert_non_null(v);
	return v;
}

static crl_json_value_t *call(const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	assert_true(vasprintf(&msg, fmt, ap) > 0);
	va_end(ap);
	crl_json_value_t *v = call_raw(msg, strlen(msg), true);
	free(msg);
	return v;
}

static bool ok(const crl_json_value_t *v)
{
	bool b = false;
	return crl_json_get_bool(crl_json_get(v, "ok"), &b) && b;
}

static void expect_ok(crl_json_value_t *v)
{
	if (!ok(v))
		fail_msg("monitor said: %s", crl_json_get_string(crl_json_get(v, "error")));
	crl_json_value_free(v);
}

static int64_t get_int(const crl_json_value_t *v, const char *k)
{
	int64_t x = -12345;
	crl_json_get_int(crl_json_get(v, k), &x);
	return x;
}

static void make_bundle(const char *id, const char *script, const char *resources)
{
	char b[256], cfg[4096], esc[1024];
	size_t k = 0;
	for (const char *s = script; *s && k < sizeof(esc) - 2; s++) {
		if (*s == '"' || *s == '\\')
			esc[k++] = '\\';
		esc[k++] = *s;
	}
	esc[k] = '\0';
	snprintf(b, sizeof(b), "%s/b-%s", dir, id);
	mkdir(b, 0755);
	snprintf(cfg, sizeof(cfg),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\",\"-c\",\"%s\"],"
		 "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"%s\"},\"hostname\":\"mon\","
		 "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		 "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
		 "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"newinstance\",\"ptmxmode=0666\"]}],"
		 "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"uts\"},{\"type\":\"ipc\"}]%s%s}}",
		 esc, rootfs, resources ? "," : "", resources ? resources : "");
	char p[300];
	snprintf(p, sizeof(p), "%s/config.json", b);
	td_write_file(p, cfg);
}

static void create_start(const char *id, const char *script, const char *resources)
{
	make_bundle(id, script, resources);
	expect_ok(call("{\"v\":1,\"op\":\"create\",\"id\":\"%s\",\"bundle\":\"%s/b-%s\",\"log_path\":\"%s/%s.log\"}", id, dir,
		       id, dir, id));
	expect_ok(call("{\"v\":1,\"op\":\"start\",\"id\":\"%s\"}", id));
}

static crl_json_value_t *wait_stopped(const char *id)
{
	for (int i = 0; i < 500; i++) {
		crl_json_value_t *v = call("{\"v\":1,\"op\":\"state\",\"id\":\"%s\"}", id);
		const char *st = crl_json_get_string(crl_json_get(v, "status"));
		if (st && strcmp(st, "stopped") == 0)
			return v;
		crl_json_value_free(v);
		usleep(20000);
	}
	fail_msg("%s did not stop", id);
	return NULL;
}

static char *read_text(const char *fmt, const char *a)
{
	char p[300];
	snprintf(p, sizeof(p), fmt, dir, a);
	char *t = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, p, 1 << 24, &t, NULL, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	return t;
}

static pid_t find_monitor(const char *podir);

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/crl-mon-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(rtroot, sizeof(rtroot), "%s/rt", dir);
	snprintf(mondir, sizeof(mondir), "%s/pod", dir);
	snprintf(sock, sizeof(sock), "%s/monitor.sock", mondir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "set -e; mkdir -p %s/bin %s/tmp && cp /bin/busybox %s/bin/ && chroot %s /bin/busybox --install -s /bin",
		 rootfs, rootfs, rootfs, rootfs);
	if (system(cmd) != 0)
		return -1;
	/* Started by a shell that exits at once: the monitor must outlive its starter. */
	snprintf(cmd, sizeof(cmd), "%s --dir %s --runtime-root %s </dev/null >%s/monitor.log 2>&1 & echo $!",
		 bin("CRIO_LITE_MONITOR_BIN", "./crio-lite-monitor"), mondir, rtroot, dir);
	const char *sh[] = { "/bin/sh", "-c", cmd, NULL };
	char *out = NULL;
	int s = td_run(sh, &out, 10000);
	mon_pid = atoi(out);
	free(out);
	if (s != 0 || mon_pid <= 0)
		return -1;
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	return access(sock, F_OK);
}

static int teardown(void **st)
{
	(void)st;
	if (mon_pid > 0 && kill(mon_pid, 0) == 0) {
		kill(mon_pid, SIGTERM);
		for (int i = 0; i < 200 && kill(mon_pid, 0) == 0; i++)
			usleep(10000);
	}
	/* Whatever a failed test left: its monitors (by their --dir) and their namespace pins. */
	for (pid_t p; (p = find_monitor(dir)) > 0;) {
		kill(p, SIGKILL);
		for (int i = 0; i < 100 && kill(p, 0) == 0; i++)
			usleep(10000);
	}
	/* Containers of the external runtimes, each deleted by the runtime that made it. */
	char ext[128];
	snprintf(ext, sizeof(ext), "%s/rt-ours", dir);
	td_sweep(NULL, bin("CRIO_LITE_RUNTIME_BIN", "./crio-lite-runtime"), ext);
	snprintf(ext, sizeof(ext), "%s/rt-runc", dir);
	td_sweep(NULL, "/usr/sbin/runc", ext);
	td_sweep(dir, bin("CRIO_LITE_RUNTIME_BIN", "./crio-lite-runtime"), rtroot);
	return 0;
}

static void test_outlives_starter(void **st)
{
	(void)st;
	/* The starting shell is gone; the monitor runs in a session of its own and answers. */
	assert_int_equal(kill(mon_pid, 0), 0);
	assert_int_equal(getsid(mon_pid), mon_pid);
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"version\"}");
	assert_true(ok(v));
	assert_int_equal(get_int(v, "protocol"), 1);
	crl_json_value_free(v);
}

static void test_logs_and_exit_record(void **st)
{
	(void)st;
	create_start("logs", "echo out1; echo err1 >&2; printf partial; sleep 0.2; echo; "
			     "head -c 40000 /dev/zero | tr '\\0' x; echo; exit 3", NULL);
	crl_json_value_t *v = wait_stopped("logs");
	assert_int_equal(get_int(v, "exit_code"), 3);
	assert_int_equal(get_int(v, "signal"), 0);
	assert_true(get_int(v, "finished_at") >= get_int(v, "started_at"));
	assert_true(get_int(v, "started_at") > 1700000000000000000LL);
	crl_json_value_free(v);
	/* Give the last pipe reads a moment. */
	usleep(200000);
	char *log = read_text("%s/%s.log", "logs");
	assert_non_null(strstr(log, " stdout F out1\n"));
	assert_non_null(strstr(log, " stderr F err1\n"));
	assert_non_null(strstr(log, " stdout P partial\n"));
	/* 40000 x: split at 16 KiB into partial records, the rest ends the line. */
	char *p = strstr(log, " stdout P xxxx");
	assert_non_null(p);
	size_t xs = 0;
	for (char *q = log; (q = strstr(q, "xxxxxxxx")); q++)
		;
	(void)xs;
	int records = 0;
	for (char *q = log; (q = strstr(q, " stdout ")); q += 8)
		records++;
	assert_true(records >= 6);
	free(log);
	char *rec = read_text("%s/pod/exits/%s.json", "logs");
	crl_json_value_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(rec, &r, &err), 0);
	assert_int_equal(get_int(r, "exit_code"), 3);
	bool oom = true;
	assert_true(crl_json_get_bool(crl_json_get(r, "oom_killed"), &oom));
	assert_false(oom);
	crl_json_value_free(r);
	free(rec);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"logs\"}"));
	char p2[300];
	snprintf(p2, sizeof(p2), "%s/pod/exits/logs.json", dir);
	assert_int_equal(access(p2, F_OK), -1);
}

static void test_reopen_kill_delete(void **st)
{
	(void)st;
	create_start("ticker", "while true; do echo tick; sleep 0.05; done", NULL);
	char log[256], rotated[260];
	snprintf(log, sizeof(log), "%s/ticker.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", log);
	usleep(300000);
	assert_int_equal(rename(log, rotated), 0);
	expect_ok(call("{\"v\":1,\"op\":\"reopen_log\",\"id\":\"ticker\"}"));
	usleep(300000);
	char *fresh = read_text("%s/%s.log", "ticker");
	assert_non_null(strstr(fresh, " stdout F tick\n"));
	free(fresh);
	/* Running: delete is refused; kill 9; the record says signal 9. */
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"delete\",\"id\":\"ticker\"}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EBUSY);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"kill\",\"id\":\"ticker\",\"signal\":9}"));
	v = wait_stopped("ticker");
	assert_int_equal(get_int(v, "signal"), 9);
	assert_int_equal(get_int(v, "exit_code"), 137);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"ticker\"}"));
	v = call("{\"v\":1,\"op\":\"state\",\"id\":\"ticker\"}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), ENOENT);
	crl_json_value_free(v);
}

static char *b64(const crl_json_value_t *v, const char *k, size_t *len)
{
	char *out = NULL;
	assert_int_equal(crl_base64_decode(crl_json_get_string(crl_json_get(v, k)), &out, len), 0);
	return out;
}

static void test_exec(void **st)
{
	(void)st;
	create_start("svc", "exec sleep 60", NULL);
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"svc\",\"args\":[\"sh\",\"-c\",\"hostname; echo oops >&2; exit 5\"]}");
	assert_true(ok(v));
	assert_int_equal(get_int(v, "exit_code"), 5);
	size_t n;
	char *o = b64(v, "stdout", &n), *e = b64(v, "stderr", &n);
	assert_string_equal(o, "mon\n");
	assert_string_equal(e, "oops\n");
	free(o);
	free(e);
	crl_json_value_free(v);
	/* Output cap. */
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"svc\",\"args\":[\"head\",\"-c\",\"100000\",\"/dev/zero\"],\"max_output\":1000}");
	assert_true(ok(v));
	bool t = false;
	assert_true(crl_json_get_bool(crl_json_get(v, "truncated"), &t) && t);
	o = b64(v, "stdout", &n);
	assert_int_equal(n, 1000);
	free(o);
	crl_json_value_free(v);
	/* Timeout: ended, said so, promptly. */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"svc\",\"args\":[\"sleep\",\"30\"],\"timeout_s\":1}");
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(ok(v));
	t = false;
	assert_true(crl_json_get_bool(crl_json_get(v, "timed_out"), &t) && t);
	assert_true(b.tv_sec - a.tv_sec < 10);
	crl_json_value_free(v);
	/* The timed-out sleep is gone from the container. */
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"svc\",\"args\":[\"ps\",\"-o\",\"args\"]}");
	o = b64(v, "stdout", &n);
	if (strstr(o, "sleep 30"))
		fail_msg("the timed-out command still runs:\n%s", o);
	free(o);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"svc\",\"force\":true}"));
}

/* The container's program starts with no signal blocked or ignored (the monitor blocks SIGTERM for its
 * signalfd), so a SIGTERM handler runs; and the container is the monitor's child although a short-lived child
 * of the monitor created it. */
static void test_signals_and_parent(void **st)
{
	(void)st;
	create_start("sigs", "trap 'exit 7' TERM; grep -E '^Sig(Blk|Ign)' /proc/self/status; "
			     "while true; do sleep 0.05; done", NULL);
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"state\",\"id\":\"sigs\"}");
	pid_t pid = (pid_t)get_int(v, "pid");
	crl_json_value_free(v);
	assert_true(pid > 0);
	char p[64], *status = NULL;
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, p, 1 << 16, &status, NULL, &err), 0);
	char want[64];
	snprintf(want, sizeof(want), "\nPPid:\t%d\n", (int)mon_pid);
	assert_non_null(strstr(status, want));
	free(status);
	usleep(300000);
	char *log = read_text("%s/%s.log", "sigs");
	assert_non_null(strstr(log, " stdout F SigBlk:\t0000000000000000\n"));
	assert_non_null(strstr(log, " stdout F SigIgn:\t0000000000000000\n"));
	free(log);
	/* Exec'd commands too. */
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"sigs\",\"args\":[\"grep\",\"^SigBlk\",\"/proc/self/status\"]}");
	assert_true(ok(v));
	size_t n = 0;
	char *out = b64(v, "stdout", &n);
	assert_string_equal(out, "SigBlk:\t0000000000000000\n");
	free(out);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"kill\",\"id\":\"sigs\",\"signal\":15}"));
	v = wait_stopped("sigs");
	assert_int_equal(get_int(v, "exit_code"), 7);
	crl_json_value_free(v);
	/* The joining child finds the container stopped and says so; the error comes back whole. */
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"sigs\",\"args\":[\"true\"]}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EBUSY);
	assert_non_null(strstr(crl_json_get_string(crl_json_get(v, "error")), "container sigs is stopped, not running"));
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"sigs\"}"));
}

static void test_oom_recorded(void **st)
{
	(void)st;
	create_start("oom", "exec tail /dev/zero", "\"resources\":{\"memory\":{\"limit\":33554432}}");
	crl_json_value_t *v = wait_stopped("oom");
	assert_int_equal(get_int(v, "signal"), 9);
	bool oom = false;
	assert_true(crl_json_get_bool(crl_json_get(v, "oom_killed"), &oom) && oom);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"oom\"}"));
}

static void test_protocol_errors(void **st)
{
	(void)st;
	crl_json_value_t *v = call("{\"v\":2,\"op\":\"version\"}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EPROTO);
	crl_json_value_free(v);
	v = call("{\"v\":1,\"op\":\"fly\"}");
	assert_false(ok(v));
	assert_non_null(strstr(crl_json_get_string(crl_json_get(v, "error")), "unknown op"));
	crl_json_value_free(v);
	v = call("{not json");
	assert_false(ok(v));
	crl_json_value_free(v);
	v = call("{\"v\":1,\"op\":\"create\",\"id\":\"x\"}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EINVAL);
	crl_json_value_free(v);
	/* A frame over 1 MiB: refused by its header alone. */
	unsigned char h[4] = { 0x01, 0x00, 0x00, 0x01 };
	v = call_raw(h, 4, false);
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EMSGSIZE);
	crl_json_value_free(v);
	/* Still serving. */
	expect_ok(call("{\"v\":1,\"op\":\"version\"}"));
}

static pid_t find_monitor(const char *podir)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	while (d && (de = readdir(d)) && !found) {
		char p[300], cmd[1024];
		snprintf(p, sizeof(p), "/proc/%s/cmdline", de->d_name);
		ssize_t n = crl_fs_read_small(p, cmd, sizeof(cmd));
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (!cmd[i])
				cmd[i] = ' ';
		if (strstr(cmd, "crio-lite-monitor") && strstr(cmd, podir))
			found = atoi(de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static int zombies_of(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int z = 0;
	while (d && (de = readdir(d))) {
		char p[300], buf[512];
		snprintf(p, sizeof(p), "/proc/%s/stat", de->d_name);
		if (crl_fs_read_small(p, buf, sizeof(buf)) <= 0)
			continue;
		char *rp = strrchr(buf, ')');
		char state = 0;
		int ppid = 0;
		if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == parent && state == 'Z')
			z++;
	}
	if (d)
		closedir(d);
	return z;
}

/* A sysctl no pod namespace holds is refused by the monitor itself, whatever its starter checked, and the pins it
 * made are gone with it. (The value asked for is the node's own: nothing changes should the check fail.) */
static void test_node_sysctl_refused(void **st)
{
	(void)st;
	char podir[128], ready[160], cmd[1024], cur[64];
	assert_true(crl_fs_read_small("/proc/sys/kernel/panic", cur, sizeof(cur)) > 0);
	cur[strcspn(cur, "\n")] = '\0';
	snprintf(podir, sizeof(podir), "%s/pod3", dir);
	snprintf(ready, sizeof(ready), "%s/ready3", dir);
	snprintf(cmd, sizeof(cmd),
		 "%s --dir %s --runtime-root %s --pod-namespaces net --sysctl kernel.panic=%s --ready-fd 3 3>%s "
		 "</dev/null >%s/monitor3.log 2>&1",
		 bin("CRIO_LITE_MONITOR_BIN", "./crio-lite-monitor"), podir, rtroot, cur, ready, dir);
	assert_int_equal(system(cmd), 0);
	char line[512] = "";
	for (int i = 0; i < 500 && !strchr(line, '\n'); i++) {
		if (crl_fs_read_small(ready, line, sizeof(line)) <= 0)
			line[0] = '\0';
		if (!strchr(line, '\n'))
			usleep(10000);
	}
	if (!strstr(line, "kernel.panic is not namespaced"))
		fail_msg("readiness line: '%s'", line);
	char pin[200];
	snprintf(pin, sizeof(pin), "%s/ns/net", podir);
	for (int i = 0; i < 200 && access(pin, F_OK) == 0; i++)
		usleep(10000);
	assert_int_equal(access(pin, F_OK), -1);
	unlink(ready);
}

static void test_pod_namespaces(void **st)
{
	(void)st;
	char podir[128], psock[200], cmd[1024];
	snprintf(podir, sizeof(podir), "%s/pod2", dir);
	snprintf(psock, sizeof(psock), "%s/monitor.sock", podir);
	snprintf(cmd, sizeof(cmd), "%s --dir %s --runtime-root %s --pod-namespaces net,ipc,uts,pid </dev/null >%s/monitor2.log 2>&1 &",
		 bin("CRIO_LITE_MONITOR_BIN", "./crio-lite-monitor"), podir, rtroot, dir);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 200 && access(psock, F_OK) != 0; i++)
		usleep(10000);
	crl_json_value_t *v = td_monitor_call_str(psock, "{\"v\":1,\"op\":\"version\"}");
	assert_non_null(v);
	const crl_json_value_t *ns = crl_json_get(v, "namespaces");
	char netpin[256];
	snprintf(netpin, sizeof(netpin), "%s/ns/net", podir);
	assert_string_equal(crl_json_get_string(crl_json_get(ns, "net")), netpin);
	crl_json_value_free(v);
	/* Pins hold namespaces of their own. */
	const char *types[] = { "net", "ipc", "uts", "pid" };
	for (size_t i = 0; i < 4; i++) {
		char pin[256], mine[64];
		snprintf(pin, sizeof(pin), "%s/ns/%s", podir, types[i]);
		snprintf(mine, sizeof(mine), "/proc/self/ns/%s", types[i]);
		struct stat a, b;
		assert_int_equal(stat(pin, &a), 0);
		assert_int_equal(stat(mine, &b), 0);
		assert_int_not_equal(a.st_ino, b.st_ino);
	}
	pid_t mpid = find_monitor(podir);
	assert_true(mpid > 0);
	/* A container in the pod's namespaces: the monitor is its PID 1; it leaves an orphan behind. */
	char b[256], cfg[4096], p[300];
	snprintf(b, sizeof(b), "%s/b-podc", dir);
	mkdir(b, 0755);
	snprintf(cfg, sizeof(cfg),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
		 "\"args\":[\"sh\",\"-c\",\"tr '\\\\0' ' ' < /proc/1/cmdline; echo; (sleep 0.3 &); hostname\"],"
		 "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"%s\"},\"hostname\":\"podhost\","
		 "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"}],"
		 "\"linux\":{\"namespaces\":[{\"type\":\"pid\",\"path\":\"%s/ns/pid\"},{\"type\":\"network\",\"path\":\"%s/ns/net\"},"
		 "{\"type\":\"ipc\",\"path\":\"%s/ns/ipc\"},{\"type\":\"uts\",\"path\":\"%s/ns/uts\"},{\"type\":\"mount\"}]}}",
		 rootfs, podir, podir, podir, podir);
	snprintf(p, sizeof(p), "%s/config.json", b);
	td_write_file(p, cfg);
	char msg[1024];
	int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"create\",\"id\":\"podc\",\"bundle\":\"%s\",\"log_path\":\"%s/podc.log\"}", b, dir);
	v = td_monitor_call(psock, msg, (size_t)len, true);
	if (!ok(v))
		fail_msg("%s", crl_json_get_string(crl_json_get(v, "error")));
	crl_json_value_free(v);
	v = td_monitor_call_str(psock, "{\"v\":1,\"op\":\"start\",\"id\":\"podc\"}");
	assert_true(ok(v));
	crl_json_value_free(v);
	for (int i = 0; i < 100; i++) {
		v = td_monitor_call_str(psock, "{\"v\":1,\"op\":\"state\",\"id\":\"podc\"}");
		bool stopped = strcmp(crl_json_get_string(crl_json_get(v, "status")), "stopped") == 0;
		crl_json_value_free(v);
		if (stopped)
			break;
		usleep(20000);
	}
	usleep(600000); /* the orphaned sleep ends and is reaped by PID 1 */
	char *log = read_text("%s/%s.log", "podc");
	assert_non_null(strstr(log, "crio-lite-monitor --dir"));
	/* The container joined the pod's UTS namespace: the pod's hostname is not the container spec's. */
	assert_null(strstr(log, "podhost"));
	free(log);
	assert_int_equal(zombies_of(mpid), 0);
	v = td_monitor_call_str(psock, "{\"v\":1,\"op\":\"delete\",\"id\":\"podc\"}");
	assert_true(ok(v));
	crl_json_value_free(v);
	v = td_monitor_call_str(psock, "{\"v\":1,\"op\":\"shutdown\"}");
	assert_true(ok(v));
	crl_json_value_free(v);
	for (int i = 0; i < 1000 && kill(mpid, 0) == 0; i++)
		usleep(10000);
	assert_int_equal(kill(mpid, 0), -1);
	/* The pins are gone with the pod. */
	snprintf(cmd, sizeof(cmd), "grep -q '%s/ns' /proc/self/mountinfo", podir);
	assert_int_not_equal(system(cmd), 0);
}

/* A streaming connection: after attach, frames arrive until the exit frame. */
static mon_client_t *attach_conn(void)
{
	mon_client_t *c = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(mon_client_connect_path(sock, &c, &err), 0);
	return c;
}

static void send_frame(mon_client_t *c, const char *json)
{
	crl_error_t err = CRL_ERROR_INIT;
	if (mon_client_send(c, json, strlen(json), false, &err) < 0)
		fail_msg("send: %s", crl_error_message(&err));
}

/* The next frame, or NULL at the end of the stream. */
static crl_json_value_t *recv_frame(mon_client_t *c)
{
	crl_json_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int r = mon_client_recv(c, 60000, &v, &err);
	if (r == -EPIPE) {
		crl_error_clear(&err);
		return NULL;
	}
	if (r < 0)
		fail_msg("receive: %s", crl_error_message(&err));
	return v;
}

/* Reads frames until the exit frame; returns everything streamed (caller frees) and the exit code. */
static char *collect(mon_client_t *fd, int64_t *exit_code, const char *until)
{
	char *all = calloc(1, 1);
	size_t len = 0;
	for (;;) {
		crl_json_value_t *v = recv_frame(fd);
		if (!v)
			break;
		const char *d = crl_json_get_string(crl_json_get(v, "data"));
		if (d) {
			char *raw = NULL;
			size_t n = 0;
			assert_int_equal(crl_base64_decode(d, &raw, &n), 0);
			all = realloc(all, len + n + 1);
			memcpy(all + len, raw, n);
			len += n;
			all[len] = '\0';
			free(raw);
		}
		int64_t code = -1;
		bool done = crl_json_get_int(crl_json_get(v, "exit_code"), &code);
		crl_json_value_free(v);
		if (done) {
			*exit_code = code;
			break;
		}
		if (until && strstr(all, until))
			break;
	}
	return all;
}

static void test_attach_stdin(void **st)
{
	(void)st;
	make_bundle("cat", "exec cat", NULL);
	expect_ok(call("{\"v\":1,\"op\":\"create\",\"id\":\"cat\",\"bundle\":\"%s/b-cat\",\"log_path\":\"%s/cat.log\",\"stdin\":true}", dir, dir));
	mon_client_t *fd = attach_conn();
	send_frame(fd, "{\"v\":1,\"op\":\"attach\",\"id\":\"cat\"}");
	crl_json_value_t *v = recv_frame(fd);
	assert_true(ok(v));
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"start\",\"id\":\"cat\"}"));
	send_frame(fd, "{\"stdin\":\"aGVsbG8gY2F0Cg==\"}"); /* "hello cat\n" */
	int64_t code = -1;
	char *got = collect(fd, &code, "hello cat\n");
	assert_non_null(strstr(got, "hello cat\n"));
	free(got);
	send_frame(fd, "{\"close_stdin\":true}");
	got = collect(fd, &code, NULL);
	assert_int_equal(code, 0);
	free(got);
	mon_client_free(fd);
	char *log = read_text("%s/%s.log", "cat");
	assert_non_null(strstr(log, " stdout F hello cat\n"));
	free(log);
	crl_json_value_free(wait_stopped("cat"));
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"cat\"}"));
}

/* A container on a terminal: attached before start, resized, typed into. With an external runtime (runc's rule:
 * the spec asks for the terminal) the master comes through the runtime's console socket. */
static void attach_tty(const char *id, const char *runtime)
{
	make_bundle(id, "stty size; tty; read line; echo got $line", NULL);
	char extra[512] = "";
	if (runtime) {
		char cfgp[300], patched[8192];
		snprintf(cfgp, sizeof(cfgp), "%s/b-%s/config.json", dir, id);
		char *cfg = read_text("%s/b-%s/config.json", id), *at = strstr(cfg, "\"process\":{");
		assert_non_null(at);
		at += strlen("\"process\":{");
		snprintf(patched, sizeof(patched), "%.*s\"terminal\":true,%s", (int)(at - cfg), cfg, at);
		free(cfg);
		td_write_file(cfgp, patched);
		snprintf(extra, sizeof(extra), ",\"runtime\":\"%s\",\"runtime_root\":\"%s/rt-%s\"", runtime, dir,
			 strstr(runtime, "runc") ? "runc" : "ours");
	}
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"create\",\"id\":\"%s\",\"bundle\":\"%s/b-%s\",\"log_path\":\"%s/%s.log\","
				   "\"tty\":true%s}", id, dir, id, dir, id, extra);
	if (!ok(v))
		fail_msg("tty create of %s: %s", id, crl_json_get_string(crl_json_get(v, "error")));
	crl_json_value_free(v);
	mon_client_t *fd = attach_conn();
	char req[256];
	snprintf(req, sizeof(req), "{\"v\":1,\"op\":\"attach\",\"id\":\"%s\"}", id);
	send_frame(fd, req);
	v = recv_frame(fd);
	assert_true(ok(v));
	crl_json_value_free(v);
	send_frame(fd, "{\"resize\":{\"rows\":40,\"cols\":123}}");
	usleep(100000);
	expect_ok(call("{\"v\":1,\"op\":\"start\",\"id\":\"%s\"}", id));
	int64_t code = -1;
	char *got = collect(fd, &code, "/dev/pts/");
	assert_non_null(strstr(got, "40 123"));
	free(got);
	send_frame(fd, "{\"stdin\":\"YWJjCg==\"}"); /* "abc\n" */
	got = collect(fd, &code, NULL);
	/* The terminal echoes and turns \n into \r\n; stdout and stderr are one stream. */
	assert_non_null(strstr(got, "got abc\r\n"));
	assert_int_equal(code, 0);
	free(got);
	mon_client_free(fd);
	crl_json_value_free(wait_stopped(id));
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"%s\"}", id));
}

static void test_attach_tty(void **st)
{
	(void)st;
	attach_tty("tty", NULL);
}

/* Connections are bounded: past 256 at once a client gets EMFILE and is let go; once others leave, calls work. */
static void test_connection_limit(void **st)
{
	(void)st;
	mon_client_t *fds[256];
	for (int i = 0; i < 256; i++)
		fds[i] = attach_conn();
	/* The monitor has accepted them all once it answers nothing but the refusal. */
	crl_json_value_t *v = NULL;
	for (int i = 0; i < 100; i++) {
		v = call("{\"v\":1,\"op\":\"version\"}");
		if (!ok(v))
			break;
		crl_json_value_free(v);
		v = NULL;
		usleep(20000);
	}
	assert_non_null(v);
	assert_int_equal(get_int(v, "errno"), EMFILE);
	assert_non_null(strstr(crl_json_get_string(crl_json_get(v, "error")), "too many connections"));
	crl_json_value_free(v);
	for (int i = 0; i < 256; i++)
		mon_client_free(fds[i]);
	bool back = false;
	for (int i = 0; i < 100 && !back; i++) {
		v = call("{\"v\":1,\"op\":\"version\"}");
		back = ok(v);
		crl_json_value_free(v);
		if (!back)
			usleep(20000);
	}
	assert_true(back);
}

/* A streamed exec with a terminal made inside the container: resized, typed into, its output and exit code. */
static void tty_exec(const char *id)
{
	mon_client_t *fd = attach_conn();
	char req[512];
	snprintf(req, sizeof(req), "{\"v\":1,\"op\":\"exec\",\"id\":\"%s\",\"args\":[\"sh\",\"-c\",\"read x; stty size; tty; "
				   "echo got $x\"],\"stream\":true,\"tty\":true}", id);
	send_frame(fd, req);
	crl_json_value_t *v = recv_frame(fd);
	if (!ok(v))
		fail_msg("tty exec in %s: %s", id, crl_json_get_string(crl_json_get(v, "error")));
	crl_json_value_free(v);
	send_frame(fd, "{\"resize\":{\"rows\":33,\"cols\":77}}");
	send_frame(fd, "{\"stdin\":\"eHl6Cg==\"}"); /* "xyz\n" */
	int64_t code = -1;
	char *got = collect(fd, &code, NULL);
	assert_non_null(strstr(got, "33 77\r\n"));
	assert_non_null(strstr(got, "/dev/pts/"));
	assert_non_null(strstr(got, "got xyz\r\n"));
	assert_int_equal(code, 0);
	free(got);
	mon_client_free(fd);
}

/* A RuntimeClass handler's external OCI runtime: the monitor drives the binary with runc's command line (as
 * conmon does) and still owns the container's stdio, log, exit record and exec sessions. Run with
 * crio-lite-runtime itself and with Debian's runc. */
static void external_runtime(const char *runtime, const char *tag)
{
	char id[64], rroot[128];
	snprintf(id, sizeof(id), "ext-%s", tag);
	snprintf(rroot, sizeof(rroot), "%s/rt-%s", dir, tag);
	make_bundle(id, "echo started-$0; trap 'echo bye; exit 9' TERM; while true; do sleep 0.05; done", NULL);
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"create\",\"id\":\"%s\",\"bundle\":\"%s/b-%s\",\"log_path\":\"%s/%s.log\","
				   "\"runtime\":\"%s\",\"runtime_root\":\"%s\"}", id, dir, id, dir, id, runtime, rroot);
	if (!ok(v))
		fail_msg("create with %s: %s", runtime, crl_json_get_string(crl_json_get(v, "error")));
	pid_t pid = (pid_t)get_int(v, "pid");
	crl_json_value_free(v);
	/* The init is the monitor's now that the runtime has exited. */
	char p[64], *status = NULL, want[64];
	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, p, 1 << 16, &status, NULL, &err), 0);
	snprintf(want, sizeof(want), "\nPPid:\t%d\n", (int)mon_pid);
	assert_non_null(strstr(status, want));
	free(status);
	expect_ok(call("{\"v\":1,\"op\":\"start\",\"id\":\"%s\"}", id));
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"%s\",\"args\":[\"sh\",\"-c\",\"hostname; echo oops >&2; exit 5\"]}", id);
	if (!ok(v))
		fail_msg("exec with %s: %s", runtime, crl_json_get_string(crl_json_get(v, "error")));
	assert_int_equal(get_int(v, "exit_code"), 5);
	size_t n = 0;
	char *out = b64(v, "stdout", &n);
	assert_string_equal(out, "mon\n");
	free(out);
	out = b64(v, "stderr", &n);
	assert_string_equal(out, "oops\n");
	free(out);
	crl_json_value_free(v);
	/* A terminal exec through the runtime's console socket. */
	tty_exec(id);
	expect_ok(call("{\"v\":1,\"op\":\"kill\",\"id\":\"%s\",\"signal\":15}", id));
	v = wait_stopped(id);
	assert_int_equal(get_int(v, "exit_code"), 9);
	crl_json_value_free(v);
	usleep(100000);
	char *log = read_text("%s/%s.log", id);
	assert_non_null(strstr(log, " stdout F started-sh\n"));
	assert_non_null(strstr(log, " stdout F bye\n"));
	/* Nothing of the runtime's own talk in the container's log. */
	assert_null(strstr(log, "level"));
	free(log);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"%s\"}", id));
	/* A runtime that fails: its own message comes back (from its --log), and no container is left listed. */
	char cfgp[300];
	snprintf(cfgp, sizeof(cfgp), "%s/b-%s/config.json", dir, id);
	char *cfg = read_text("%s/b-%s/config.json", id), *at = strstr(cfg, rootfs);
	assert_non_null(at);
	char bad[8192];
	snprintf(bad, sizeof(bad), "%.*s/nonexistent-crl-rootfs%s", (int)(at - cfg), cfg, at + strlen(rootfs));
	free(cfg);
	td_write_file(cfgp, bad);
	v = call("{\"v\":1,\"op\":\"create\",\"id\":\"%s\",\"bundle\":\"%s/b-%s\",\"log_path\":\"%s/%s.log\","
		 "\"runtime\":\"%s\",\"runtime_root\":\"%s\"}", id, dir, id, dir, id, runtime, rroot);
	assert_false(ok(v));
	const char *e = crl_json_get_string(crl_json_get(v, "error"));
	if (!e || !strstr(e, runtime) || !strcasestr(e, "no such file or directory"))
		fail_msg("the runtime's message is not in '%s'", e ? e : "");
	crl_json_value_free(v);
	v = call("{\"v\":1,\"op\":\"state\",\"id\":\"%s\"}", id);
	assert_int_equal(get_int(v, "errno"), ENOENT);
	crl_json_value_free(v);
	v = call("{\"v\":1,\"op\":\"create\",\"id\":\"%s\",\"bundle\":\"%s/b-%s\",\"log_path\":\"%s/%s.log\",\"runtime\":\"relative/runc\"}",
		 id, dir, id, dir, id);
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EINVAL);
	crl_json_value_free(v);
}

static void test_external_runtime(void **st)
{
	(void)st;
	external_runtime(bin("CRIO_LITE_RUNTIME_BIN", "./crio-lite-runtime"), "ours");
	external_runtime("/usr/sbin/runc", "runc");
	attach_tty("tty-ours", bin("CRIO_LITE_RUNTIME_BIN", "./crio-lite-runtime"));
	attach_tty("tty-runc", "/usr/sbin/runc");
}

/* A client that attaches and stops reading must not stall the monitor (nor, through it, the containers whose
 * output it logs): its frames queue up to a cap, then it is dropped. */
static void test_slow_client(void **st)
{
	(void)st;
	make_bundle("flood", "sleep 0.3; head -c 30000000 /dev/zero | tr '\\0' x; exec sleep 60", NULL);
	expect_ok(call("{\"v\":1,\"op\":\"create\",\"id\":\"flood\",\"bundle\":\"%s/b-flood\",\"log_path\":\"%s/flood.log\"}", dir, dir));
	mon_client_t *mc = attach_conn();
	int fd = mon_client_fd(mc);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	send_frame(mc, "{\"v\":1,\"op\":\"attach\",\"id\":\"flood\"}");
	crl_json_value_t *v = recv_frame(mc);
	assert_true(ok(v));
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"start\",\"id\":\"flood\"}"));
	/* Never reading fd again: the whole flood still reaches the log, and the monitor keeps answering. */
	char log[256];
	snprintf(log, sizeof(log), "%s/flood.log", dir);
	struct stat sb = { 0 };
	for (int i = 0; i < 600 && (stat(log, &sb) < 0 || sb.st_size < 30000000); i++) {
		expect_ok(call("{\"v\":1,\"op\":\"version\"}"));
		usleep(100000);
	}
	assert_true(sb.st_size >= 30000000);
	/* Dropped: what was in flight, then end of stream, far less than the 40 MB of frames the flood made. */
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	char buf[65536];
	size_t total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)r;
	assert_int_equal(r, 0);
	assert_true(total < 16u << 20);
	mon_client_free(mc);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"flood\",\"force\":true}"));
	unlink(log);
}

static void test_exec_stream(void **st)
{
	(void)st;
	create_start("xs", "exec sleep 60", NULL);
	/* stdin through a pipe */
	mon_client_t *fd = attach_conn();
	send_frame(fd, "{\"v\":1,\"op\":\"exec\",\"id\":\"xs\",\"args\":[\"sh\",\"-c\",\"cat; echo bye >&2; exit 4\"],\"stream\":true,\"stdin\":true}");
	crl_json_value_t *v = recv_frame(fd);
	assert_true(ok(v));
	crl_json_value_free(v);
	send_frame(fd, "{\"stdin\":\"cGlwZWQK\"}"); /* "piped\n" */
	int64_t code = -1;
	char *got = collect(fd, &code, "piped\n");
	assert_non_null(strstr(got, "piped\n"));
	free(got);
	send_frame(fd, "{\"close_stdin\":true}");
	got = collect(fd, &code, NULL);
	assert_non_null(strstr(got, "bye\n"));
	assert_int_equal(code, 4);
	free(got);
	mon_client_free(fd);
	/* a terminal inside the container, resized */
	tty_exec("xs");
	/* stdin without stream is refused */
	v = call("{\"v\":1,\"op\":\"exec\",\"id\":\"xs\",\"args\":[\"cat\"],\"stdin\":true}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EINVAL);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"xs\",\"force\":true}"));
}

static void test_shutdown(void **st)
{
	(void)st;
	create_start("last", "exec sleep 60", NULL);
	crl_json_value_t *v = call("{\"v\":1,\"op\":\"shutdown\"}");
	assert_false(ok(v));
	assert_int_equal(get_int(v, "errno"), EBUSY);
	crl_json_value_free(v);
	expect_ok(call("{\"v\":1,\"op\":\"delete\",\"id\":\"last\",\"force\":true}"));
	expect_ok(call("{\"v\":1,\"op\":\"shutdown\"}"));
	for (int i = 0; i < 1000 && kill(mon_pid, 0) == 0; i++)
		usleep(10000);
	assert_int_equal(kill(mon_pid, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outlives_starter),
		cmocka_unit_test(test_logs_and_exit_record),
		cmocka_unit_test(test_reopen_kill_delete),
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_oom_recorded),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_signals_and_parent),
		cmocka_unit_test(test_pod_namespaces),
		cmocka_unit_test(test_attach_stdin),
		cmocka_unit_test(test_attach_tty),
		cmocka_unit_test(test_exec_stream),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_external_runtime),
		cmocka_unit_test(test_shutdown),
		cmocka_unit_test(test_node_sysctl_refused),
	};
	return cmocka_run_group_tests_name("monitor", tests, setup, teardown);
}
