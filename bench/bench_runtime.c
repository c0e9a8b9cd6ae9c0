/* SPDX-License-Identifier: Apache-2.0 */
/* Runtime figures on one busybox-static bundle: N sequential `run` of /bin/true with crio-lite-runtime and
 * with runc side by side, and create -> start latency (each step) for crio-lite-runtime. Prints percentiles and
 * the ratio; asserts nothing. Usage: bench-runtime [--iterations N] [--runc PATH] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "bench_util.h"
#include "harness.h"

static double report(const char *what, double *v, int n)
{
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	bench_sort(v, n);
	printf("%-40s n=%-4d total %8.1f ms  p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms\n", what, n, sum, v[n / 2],
	       v[(n * 9) / 10], v[(n * 99) / 100]);
	return sum;
}

static int run_quiet(const char *const *args)
{
	/* A child that freopens stdout would write out whatever the parent had buffered. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The monitor's resident set from /proc/<pid>/status, printed; with BENCH_SMAPS=PREFIX its smaps are kept too. */
static void monitor_rss(pid_t mpid, int n, const char *when)
{
	char sp[64], line[256];
	snprintf(sp, sizeof(sp), "/proc/%d/status", (int)mpid);
	FILE *f = fopen(sp, "re");
	long rss = -1, anon = -1, file = -1;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld", &rss);
		sscanf(line, "RssAnon: %ld", &anon);
		sscanf(line, "RssFile: %ld", &file);
	}
	if (f)
		fclose(f);
	printf("%-40s %ld KiB with %d container%s%s (target <= 1024 KiB; anon %ld, file %ld)\n", "crio-lite-monitor RSS", rss, n,
	       n > 1 ? "s" : "", when, anon, file);
	if (getenv("BENCH_SMAPS")) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "cat /proc/%d/smaps > %s.%d%s", (int)mpid, getenv("BENCH_SMAPS"), n, *when ? ".exec" : "");
		if (system(cmd) != 0)
			printf("could not copy the monitor's smaps\n");
	}
}

/* Starts a monitor for a pod directory; waits for its socket; its pid. */
static pid_t start_monitor(const char *mon, const char *podir, const char *rtroot)
{
	char cmd[1024], sockp[320];
	snprintf(cmd, sizeof(cmd), "%s --dir %s --runtime-root %s </dev/null >/dev/null 2>&1 & echo $!", mon, podir, rtroot);
	snprintf(sockp, sizeof(sockp), "%s/monitor.sock", podir);
	const char *sh[] = { "/bin/sh", "-c", cmd, NULL };
	char *out = NULL;
	td_run(sh, &out, 10000);
	pid_t pid = out ? atoi(out) : -1;
	free(out);
	for (int i = 0; i < 200 && access(sockp, F_OK) != 0; i++)
		usleep(10000);
	return pid;
}

int main(int argc, char **argv)
{
	int n = 100;
	const char *runc = "/usr/sbin/runc";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--runc") == 0 && i + 1 < argc)
			runc = argv[++i];
	}
	const char *ours = getenv("CRIO_LITE_RUNTIME_BIN");
	if (!ours)
		ours = "./crio-lite-runtime";
	char dir[] = "/tmp/crl-bench-rt-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	char cmd[2048], bundle[128], st_ours[128], st_runc[128];
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	snprintf(st_ours, sizeof(st_ours), "%s/state-crio-lite", dir);
	snprintf(st_runc, sizeof(st_runc), "%s/state-runc", dir);
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s/rootfs/bin && cp /bin/busybox %s/rootfs/bin/ && chroot %s/rootfs /bin/busybox --install -s /bin",
		 bundle, bundle, bundle);
	if (system(cmd) != 0)
		return 1;
	/* A spec both runtimes take: the common defaults (namespaces, /proc, /dev, /sys, caps, masked paths). */
	char cfg[4096];
	snprintf(cfg, sizeof(cfg),
		 "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"/bin/true\"],"
		 "\"env\":[\"PATH=/bin\"],\"cwd\":\"/\",\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHOWN\"],"
		 "\"effective\":[\"CAP_KILL\",\"CAP_CHOWN\"],\"permitted\":[\"CAP_KILL\",\"CAP_CHOWN\"]},\"noNewPrivileges\":true},"
		 "\"root\":{\"path\":\"rootfs\",\"readonly\":true},\"hostname\":\"bench\","
		 "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
		 "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"mode=755\"]},"
		 "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],"
		 "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
		 "\"resources\":{\"pids\":{\"limit\":100}},"
		 "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\"],\"readonlyPaths\":[\"/proc/sys\"]}}");
	char cfgpath[256];
	snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", bundle);
	td_write_file(cfgpath, cfg);

	double *a = calloc((size_t)n, sizeof(double)), *b = calloc((size_t)n, sizeof(double));
	double *c1 = calloc((size_t)n, sizeof(double)), *c2 = calloc((size_t)n, sizeof(double));
	int failures = 0;
	bool have_runc = access(runc, X_OK) == 0;
	/* Interleaved, so both see the same machine state. */
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "bench-%d", i);
		const char *o[] = { ours, "--root", st_ours, "run", "--bundle", bundle, id, NULL };
		double t = bench_now_ms();
		failures += run_quiet(o) != 0;
		a[i] = bench_now_ms() - t;
		if (have_runc) {
			const char *r[] = { runc, "--root", st_runc, "run", "--bundle", bundle, id, NULL };
			t = bench_now_ms();
			failures += run_quiet(r) != 0;
			b[i] = bench_now_ms() - t;
		}
	}
	printf("%d sequential runs of /bin/true (namespaces, /proc, /dev, /sys, pids cgroup), same bundle:\n", n);
	double ta = report("crio-lite-runtime run", a, n);
	if (have_runc) {
		double tb = report("runc run", b, n);
		printf("%-40s %.2f (target <= 0.5)\n", "ratio crio-lite-runtime / runc", ta / tb);
	} else {
		printf("runc not found at %s: no comparison\n", runc);
	}
	for (int i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "cs-%d", i);
		const char *cr[] = { ours, "--root", st_ours, "create", "--bundle", bundle, id, NULL };
		const char *st[] = { ours, "--root", st_ours, "start", id, NULL };
		const char *del[] = { ours, "--root", st_ours, "delete", "--force", id, NULL };
		double t = bench_now_ms();
		failures += run_quiet(cr) != 0;
		double t2 = bench_now_ms();
		failures += run_quiet(st) != 0;
		c2[i] = bench_now_ms() - t2;
		c1[i] = t2 - t;
		run_quiet(del);
	}
	report("crio-lite-runtime create", c1, n);
	report("crio-lite-runtime start", c2, n);

	/* Monitor RSS with 1 and with 10 containers running. */
	const char *mon = getenv("CRIO_LITE_MONITOR_BIN");
	char mdir[256], msock[300], rtr[256], cmd2[1024];
	snprintf(mdir, sizeof(mdir), "%s/pod", dir);
	snprintf(msock, sizeof(msock), "%s/monitor.sock", mdir);
	snprintf(rtr, sizeof(rtr), "%s/rt-mon", dir);
	/* A bundle whose process keeps running. */
	char *sleepcfg = strdup(cfg), *at = strstr(sleepcfg, "[\"/bin/true\"]");
	char cfg2[4200];
	snprintf(cfg2, sizeof(cfg2), "%.*s[\"sleep\",\"60\"]%s", (int)(at - sleepcfg), sleepcfg, at + strlen("[\"/bin/true\"]"));
	free(sleepcfg);
	char b2[256], p2[300];
	snprintf(b2, sizeof(b2), "%s/bundle-sleep", dir);
	snprintf(cmd2, sizeof(cmd2), "mkdir -p %s && ln -s %s/rootfs %s/rootfs", b2, bundle, b2);
	if (mon && system(cmd2) == 0) {
		snprintf(p2, sizeof(p2), "%s/config.json", b2);
		td_write_file(p2, cfg2);
		pid_t mpid = start_monitor(mon, mdir, rtr);
		for (int k = 0; k < 10; k++) {
			char msg[1024];
			int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"create\",\"id\":\"m%d\",\"bundle\":\"%s\",\"log_path\":\"%s/m%d.log\"}", k, b2, dir, k);
			crl_json_value_free(td_monitor_call(msock, msg, (size_t)len, true));
			len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"start\",\"id\":\"m%d\"}", k);
			crl_json_value_free(td_monitor_call(msock, msg, (size_t)len, true));
			if (k == 0 || k == 9)
				monitor_rss(mpid, k + 1, "");
		}
		/* An exec per container twice, as probes would. */
		for (int i = 0; i < 20; i++) {
			char msg[256];
			int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"exec\",\"id\":\"m%d\",\"args\":[\"true\"]}", i % 10);
			crl_json_value_t *v = td_monitor_call(msock, msg, (size_t)len, true);
			bool ok = false;
			failures += !(v && crl_json_get_bool(crl_json_get(v, "ok"), &ok) && ok);
			crl_json_value_free(v);
		}
		monitor_rss(mpid, 10, ", after 20 execs");
		for (int k = 0; k < 10; k++) {
			char msg[256];
			int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"delete\",\"id\":\"m%d\",\"force\":true}", k);
			crl_json_value_free(td_monitor_call(msock, msg, (size_t)len, true));
		}
		crl_json_value_free(td_monitor_call_str(msock, "{\"v\":1,\"op\":\"shutdown\"}"));
		/* Ten pods, a monitor each with one container: what a pod costs once the monitors share their text. */
		pid_t pods[10];
		uint64_t pss = 0;
		for (int k = 0; k < 10; k++) {
			char pd[300], ps[320], msg[1024];
			snprintf(pd, sizeof(pd), "%s/pod%d", dir, k);
			snprintf(ps, sizeof(ps), "%s/monitor.sock", pd);
			pods[k] = start_monitor(mon, pd, rtr);
			int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"create\",\"id\":\"p%d\",\"bundle\":\"%s\",\"log_path\":\"%s/p%d.log\"}", k, b2, dir, k);
			crl_json_value_free(td_monitor_call(ps, msg, (size_t)len, true));
			len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"start\",\"id\":\"p%d\"}", k);
			crl_json_value_free(td_monitor_call(ps, msg, (size_t)len, true));
		}
		for (int k = 0; k < 10; k++) {
			char sp[64], line[256];
			snprintf(sp, sizeof(sp), "/proc/%d/smaps_rollup", (int)pods[k]);
			FILE *f = fopen(sp, "re");
			unsigned long v = 0;
			while (f && fgets(line, sizeof(line), f))
				if (sscanf(line, "Pss: %lu", &v) == 1)
					pss += v;
			if (f)
				fclose(f);
		}
		printf("%-40s %llu KiB per pod (PSS: 10 monitors, one container each, sharing their text)\n",
		       "crio-lite-monitor", (unsigned long long)(pss / 10));
		for (int k = 0; k < 10; k++) {
			char ps[320], msg[256];
			snprintf(ps, sizeof(ps), "%s/pod%d/monitor.sock", dir, k);
			int len = snprintf(msg, sizeof(msg), "{\"v\":1,\"op\":\"delete\",\"id\":\"p%d\",\"force\":true}", k);
			crl_json_value_free(td_monitor_call(ps, msg, (size_t)len, true));
			crl_json_value_free(td_monitor_call_str(ps, "{\"v\":1,\"op\":\"shutdown\"}"));
		}
	}
	printf("failures: %d\n", failures);
	td_sweep(dir, ours, st_ours);
	return failures ? 1 : 0;
}
