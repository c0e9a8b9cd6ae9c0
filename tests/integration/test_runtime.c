/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime library through crio-lite-runtime: bundles made from Debian's busybox-static, checked from
 * inside the container. */
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
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fdpass.h"
#include "common/fs.h"
#include "harness.h"
#include "runtime/devices.h"

static char dir[64];      /* everything of this test */
static char rootfs[128];  /* shared busybox rootfs */
static char state[128];   /* --root of crio-lite-runtime */

static const char *runtime_bin(void)
{
	const char *b = getenv("CRIO_LITE_RUNTIME_BIN");
	return b ? b : "./crio-lite-runtime";
}

static const char *const default_mounts =
	"{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
	"{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\"]},"
	"{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
	"{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":[\"ro\"]}";

static const char *const default_caps =
	"\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\",\"CAP_NET_RAW\",\"CAP_SETGID\","
	"\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\",\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"";

typedef struct bundle_opts {
	const char *script;     /* sh -c SCRIPT */
	const char *user;       /* JSON of process.user, or NULL for root */
	const char *process;    /* extra JSON members of process */
	const char *linux_;     /* extra JSON members of linux */
	const char *namespaces; /* JSON array, or NULL for the default five */
	const char *mounts;     /* extra mounts (JSON objects, comma-led) */
	bool readonly;
	const char *root;       /* rootfs path, default the shared one */
	const char *caps;       /* JSON of process.capabilities, default Docker's set in three sets */
	const char *annotations; /* JSON object */
	bool terminal;           /* process.terminal */
} bundle_opts_t;

static void make_bundle(const char *b, const bundle_opts_t *o)
{
	mkdir(b, 0755);
	char *cfg = NULL;
	/* The script goes through JSON: escape quotes and backslashes. */
	char esc[4096];
	size_t k = 0;
	for (const char *s = o->script; *s && k < sizeof(esc) - 2; s++) {
		if (*s == '"' || *s == '\\')
			esc[k++] = '\\';
		esc[k++] = *s;
	}
	esc[k] = '\0';
	char caps_buf[2048];
	const char *caps = o->caps;
	if (!caps) {
		snprintf(caps_buf, sizeof(caps_buf), "{\"bounding\":[%s],\"effective\":[%s],\"permitted\":[%s]}",
			 default_caps, default_caps, default_caps);
		caps = caps_buf;
	}
	int n = asprintf(&cfg,
			 "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":%s,\"user\":%s,"
			 "\"args\":[\"sh\",\"-c\",\"%s\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\","
			 "\"capabilities\":%s,"
			 "\"noNewPrivileges\":true%s%s},"
			 "\"root\":{\"path\":\"%s\",\"readonly\":%s},\"hostname\":\"crl-box\",\"annotations\":%s,"
			 "\"mounts\":[%s%s],"
			 "\"linux\":{\"namespaces\":%s,"
			 "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\",\"/sys/firmware\"],"
			 "\"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\"]%s%s}}",
			 o->terminal ? "true" : "false", o->user ? o->user : "{\"uid\":0,\"gid\":0}", esc, caps,
			 o->process ? "," : "", o->process ? o->process : "", o->root ? o->root : rootfs,
			 o->readonly ? "true" : "false", o->annotations ? o->annotations : "{}", default_mounts,
			 o->mounts ? o->mounts : "",
			 o->namespaces ? o->namespaces
				       : "[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}]",
			 o->linux_ ? "," : "", o->linux_ ? o->linux_ : "");
	assert_true(n > 0);
	char path[256];
	snprintf(path, sizeof(path), "%s/config.json", b);
	td_write_file(path, cfg);
	free(cfg);
}

/* Runs a bundle with `run`; returns the exit status, output in *out. */
static int run_bundle(const char *id, const bundle_opts_t *o, char **out)
{
	char b[256];
	snprintf(b, sizeof(b), "%s/b-%s", dir, id);
	make_bundle(b, o);
	const char *args[] = { runtime_bin(), "--root", state, "run", "--bundle", b, id, NULL };
	int st = td_run(args, out, 60000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect(const char *out, const char *want)
{
	if (!strstr(out, want))
		fail_msg("expected '%s' in the container's output:\n%s", want, out);
}

/* A bundle the runtime must refuse: exit 1 and a message containing want. */
static void expect_refused(const char *id, const bundle_opts_t *o, const char *want)
{
	char *out = NULL;
	assert_int_equal(run_bundle(id, o, &out), 1);
	expect(out, want);
	free(out);
}

/* Runs crio-lite-runtime with args; its exit status must be want; returns its output (free it). */
static char *cli_expect(int want, const char *const *args)
{
	char *out = NULL;
	int st = td_run(args, &out, 30000);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == want))
		fail_msg("%s %s: status %d, wanted exit %d: %s", args[3], args[4] ? args[4] : "", st, want, out ? out : "");
	return out;
}

/* Polls `state id` until the container is stopped. */
static void wait_stopped(const char *id)
{
	const char *stat_[] = { runtime_bin(), "--root", state, "state", id, NULL };
	for (int i = 0; i < 250; i++) {
		char *out = cli_expect(0, stat_);
		bool stopped = strstr(out, "\"status\": \"stopped\"") != NULL;
		free(out);
		if (stopped)
			return;
		usleep(20000);
	}
	fail_msg("%s did not stop", id);
}

static int setup(void **state_)
{
	(void)state_;
	snprintf(dir, sizeof(dir), "/tmp/crl-rt-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* A user namespace's root (another uid outside) must reach the rootfs, as with runc. */
	chmod(dir, 0755);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s/bin %s/etc %s/tmp && cp /bin/busybox %s/bin/ && chroot %s /bin/busybox --install -s /bin && "
		 "echo 'root:x:0:0::/:/bin/sh' > %s/etc/passwd",
		 rootfs, rootfs, rootfs, rootfs, rootfs, rootfs);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *v2_mount(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup";
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

static int teardown(void **state_)
{
	(void)state_;
	/* Containers and mounts a failed test left, the directory, the runtime's parent cgroups, and the cgroup
	 * test_device_bpf_program makes (left when an assertion stops it early; its processes are gone by now). */
	td_sweep(dir, runtime_bin(), state);
	const char *v2 = v2_mount();
	if (v2) {
		char cg[256];
		snprintf(cg, sizeof(cg), "%s/crl-devtest-%d", v2, (int)getpid());
		rmdir(cg);
	}
	return 0;
}

static void test_isolation_basics(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "echo pid=$$; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
				      "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; ls /proc/self/fd | tr '\\n' ' '; echo; "
				      "ip link 2>/dev/null | grep -c '^[0-9]' ; ls /dev | tr '\\n' ' '; echo" };
	assert_int_equal(run_bundle("basics", &o, &out), 0);
	expect(out, "pid=1\n");
	expect(out, "crl-box\n");
	expect(out, "CapEff:\t00000000a80425fb");
	expect(out, "CapBnd:\t00000000a80425fb");
	expect(out, "NoNewPrivs:\t1");
	/* stdin, stdout, stderr and ls's own directory fd: nothing of the runtime's. */
	expect(out, "\n0 1 2 3 \n");
	/* A new network namespace holds only lo. */
	expect(out, "\n1\n");
	expect(out, "null");
	expect(out, "urandom");
	expect(out, "ptmx");
	free(out);
}

static void test_masked_and_readonly(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "cat /proc/keys && echo keys-readable; [ -s /proc/keys ] || echo keys-empty; "
				      "echo 1 > /proc/sys/kernel/panic 2>/dev/null || echo procsys-ro; "
				      "touch /newfile 2>/dev/null || echo root-ro; touch /tmp/x 2>/dev/null && echo tmp-rw",
			    .readonly = true,
			    .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}" };
	assert_int_equal(run_bundle("masked", &o, &out), 0);
	expect(out, "keys-empty");
	expect(out, "procsys-ro");
	expect(out, "root-ro");
	expect(out, "tmp-rw");
	free(out);
}

static void test_user_groups_umask(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "id; grep -E '^Cap(Eff|Prm)' /proc/self/status; umask",
			    .user = "{\"uid\":1000,\"gid\":1001,\"additionalGids\":[5,6],\"umask\":63}" };
	assert_int_equal(run_bundle("user", &o, &out), 0);
	expect(out, "uid=1000 gid=1001 groups=5,6");
	/* A non-root user's capabilities do not survive execve (as with runc)... */
	expect(out, "CapPrm:\t0000000000000000");
	expect(out, "CapEff:\t0000000000000000");
	expect(out, "0077");
	free(out);
	/* ... unless the spec makes them ambient: CAP_NET_BIND_SERVICE is bit 10. */
	bundle_opts_t a = { .script = "grep -E '^Cap(Eff|Amb)' /proc/self/status",
			    .user = "{\"uid\":1000,\"gid\":1000}",
			    .caps = "{\"bounding\":[\"CAP_NET_BIND_SERVICE\"],\"effective\":[\"CAP_NET_BIND_SERVICE\"],"
				    "\"permitted\":[\"CAP_NET_BIND_SERVICE\"],\"inheritable\":[\"CAP_NET_BIND_SERVICE\"],"
				    "\"ambient\":[\"CAP_NET_BIND_SERVICE\"]}" };
	assert_int_equal(run_bundle("ambient", &a, &out), 0);
	expect(out, "CapEff:\t0000000000000400");
	expect(out, "CapAmb:\t0000000000000400");
	free(out);
}

static void test_rlimits_and_oom_score(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj",
			    .process = "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":321,\"hard\":654}],\"oomScoreAdj\":500" };
	assert_int_equal(run_bundle("rlimit", &o, &out), 0);
	expect(out, "321\n654\n500\n");
	free(out);
	/* Lowering oom_score_adj needs CAP_SYS_RESOURCE, which root here lacks: clamped with a warning, not failed. */
	int cur = 0;
	FILE *f = fopen("/proc/self/oom_score_adj", "re");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%d", &cur), 1);
	fclose(f);
	bundle_opts_t o2 = { .script = "cat /proc/self/oom_score_adj", .process = "\"oomScoreAdj\":-999" };
	int rc = run_bundle("oomneg", &o2, &out);
	assert_int_equal(rc, 0);
	if (cur > -999 && access("/proc/self/oom_score_adj", W_OK) == 0) {
		/* Either it could be set (CAP_SYS_RESOURCE present) or it was clamped and said so. */
		if (!strstr(out, "-999"))
			expect(out, "warning: oom_score_adj -999");
	}
	free(out);
}

static void test_seccomp(void **state_)
{
	(void)state_;
	char *out = NULL;
	/* Allow everything but mkdir/mkdirat, which fail with EPERM. */
	bundle_opts_t o = { .script = "grep -E '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1 || echo mkdir-blocked; touch /tmp/f && echo touch-ok",
			    .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}",
			    .linux_ = "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
				      "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}" };
	assert_int_equal(run_bundle("seccomp", &o, &out), 0);
	expect(out, "Seccomp:\t2");
	expect(out, "Operation not permitted");
	expect(out, "mkdir-blocked");
	expect(out, "touch-ok");
	free(out);
}

static void test_seccomp_runtime_default(void **state_)
{
	(void)state_;
	/* A user namespace needs no capability: only the profile stops it. linux32 asks personality(PER_LINUX32). */
	const char *script = "grep -E '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null && echo userns-allowed || echo userns-denied; "
			     "linux32 true 2>/dev/null && echo linux32-ok; ls / >/dev/null && sleep 0 && echo basics-ok";
	char *out = NULL;
	bundle_opts_t without = { .script = script };
	assert_int_equal(run_bundle("nosecc", &without, &out), 0);
	expect(out, "Seccomp:\t0");
	expect(out, "userns-allowed");
	free(out);
	bundle_opts_t with = { .script = script, .annotations = "{\"org.crio-lite.seccomp.profile\":\"runtime/default\"}" };
	assert_int_equal(run_bundle("defsecc", &with, &out), 0);
	expect(out, "Seccomp:\t2");
	expect(out, "userns-denied");
	expect(out, "linux32-ok");
	expect(out, "basics-ok");
	free(out);
	/* With CAP_SYS_ADMIN the namespace syscalls come back, as in Docker's profile. */
	bundle_opts_t admin = { .script = script, .annotations = "{\"org.crio-lite.seccomp.profile\":\"runtime/default\"}",
				.caps = "{\"bounding\":[\"CAP_SYS_ADMIN\"],\"effective\":[\"CAP_SYS_ADMIN\"],\"permitted\":[\"CAP_SYS_ADMIN\"]}" };
	assert_int_equal(run_bundle("admsecc", &admin, &out), 0);
	expect(out, "userns-allowed");
	free(out);
	bundle_opts_t bad = { .script = "true", .annotations = "{\"org.crio-lite.seccomp.profile\":\"localhost/x.json\"}" };
	expect_refused("badsecc", &bad, "unknown profile 'localhost/x.json'");
}

static void test_cgroup_limits(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
				      "/sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us; "
				      "echo 5 > /sys/fs/cgroup/pids/pids.max 2>/dev/null || echo cgroup-ro; "
				      "mknod /tmp/sda b 8 0 && (head -c1 /tmp/sda >/dev/null 2>&1 || echo disk-denied)",
			    .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}",
			    .linux_ = "\"resources\":{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":42},"
				      "\"cpu\":{\"shares\":256,\"quota\":50000,\"period\":100000}}" };
	assert_int_equal(run_bundle("cgroup", &o, &out), 0);
	expect(out, "67108864\n42\n256\n50000\n");
	expect(out, "cgroup-ro");
	/* CAP_MKNOD makes the node; the devices cgroup keeps the disk closed. */
	expect(out, "disk-denied");
	free(out);
	/* The cgroup is gone after run. */
	assert_int_equal(access("/sys/fs/cgroup/memory/crio-lite/cgroup", F_OK), -1);
}

static void test_cgroup_v2_hugetlb(void **state_)
{
	(void)state_;
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) != 0 && access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
		skip();
	char *out = NULL;
	/* On this hybrid machine hugetlb lives only in the v2 hierarchy: limits and the unified map go there. */
	bundle_opts_t o = { .script = "cat /sys/fs/cgroup/unified/hugetlb.2MB.max /sys/fs/cgroup/unified/hugetlb.1GB.max",
			    .linux_ = "\"resources\":{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
				      "\"unified\":{\"hugetlb.1GB.max\":\"0\"}}" };
	int rc = run_bundle("hugetlb", &o, &out);
	if (rc != 0)
		fail_msg("%s", out);
	expect(out, "4194304\n0\n");
	free(out);
	bundle_opts_t bad = { .script = "true", .linux_ = "\"resources\":{\"unified\":{\"../escape\":\"1\"}}" };
	expect_refused("badunified", &bad, "not a controller file");
	assert_int_equal(access("/sys/fs/cgroup/unified/crio-lite/hugetlb", F_OK), -1);
}

/* The compiled device program itself, in a cgroup v2 directory of this test: a child moved into it opens and
 * makes nodes, and each answer is the program's (the last matching rule decides; nothing matching denies). */
static void test_device_bpf_program(void **state_)
{
	(void)state_;
	const char *v2 = v2_mount();
	if (!v2)
		skip();
	char cg[256], nodes[128];
	snprintf(cg, sizeof(cg), "%s/crl-devtest-%d", v2, (int)getpid());
	snprintf(nodes, sizeof(nodes), "%s/nodes", dir);
	assert_int_equal(mkdir(cg, 0755), 0);
	mkdir(nodes, 0755);
	static const struct {
		const char *name;
		mode_t type;
		unsigned maj, min;
	} mk[] = { { "null", S_IFCHR, 1, 3 }, { "zero", S_IFCHR, 1, 5 }, { "full", S_IFCHR, 1, 7 },
		   { "random", S_IFCHR, 1, 8 }, { "blk", S_IFBLK, 240, 0 }, { "tty", S_IFCHR, 5, 0 } };
	for (size_t i = 0; i < sizeof(mk) / sizeof(mk[0]); i++) {
		char p[256];
		snprintf(p, sizeof(p), "%s/%s", nodes, mk[i].name);
		unlink(p);
		assert_int_equal(mknod(p, mk[i].type | 0666, makedev(mk[i].maj, mk[i].min)), 0);
	}
	const rt_dev_rule_t rules[] = {
		{ true, 'c', 1, -1, RT_DEV_READ },                 /* every c 1:* for reading */
		{ false, 'c', 1, 5, RT_DEV_READ | RT_DEV_WRITE },  /* but not zero */
		{ true, 'a', 240, 0, RT_DEV_READ },                /* type a: the block device too */
		{ true, 'c', 1, 7, RT_DEV_WRITE },                 /* full: writing as well */
	};
	int cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(cgfd >= 0);
	crl_error_t err = CRL_ERROR_INIT;
	if (rt_devices_bpf_attach(cgfd, rules, 4, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	uint32_t count = 0;
	assert_int_equal(rt_devices_bpf_count(cgfd, &count, &err), 0);
	assert_int_equal(count, 1);
	static const struct {
		const char *name;
		int flags; /* -1: mknod */
		int want;  /* 0 or the errno */
	} cases[] = {
		{ "null", O_RDONLY, 0 },      { "null", O_WRONLY, EPERM }, { "zero", O_RDONLY, EPERM },
		{ "random", O_RDONLY, 0 },    { "full", O_RDONLY, 0 },     { "full", O_WRONLY, 0 },
		{ "full", O_RDWR, EPERM },    { "tty", O_RDONLY, EPERM },  { "blk", O_WRONLY, EPERM },
		{ "null", -1, EPERM },
	};
	size_t nc = sizeof(cases) / sizeof(cases[0]);
	int pfd[2];
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char p[300], me[16];
		snprintf(p, sizeof(p), "%s/cgroup.procs", cg);
		snprintf(me, sizeof(me), "%d", (int)getpid());
		int f = open(p, O_WRONLY);
		if (f < 0 || write(f, me, strlen(me)) < 0)
			_exit(1);
		close(f);
		int got[16];
		for (size_t i = 0; i < nc; i++) {
			snprintf(p, sizeof(p), "%s/%s", nodes, cases[i].name);
			int r;
			if (cases[i].flags == -1) {
				snprintf(p, sizeof(p), "%s/made", nodes);
				r = mknod(p, S_IFCHR | 0600, makedev(1, 3));
				int e = errno;
				unlink(p);
				errno = e;
			} else {
				r = open(p, cases[i].flags | O_NONBLOCK | O_NOCTTY);
				if (r >= 0)
					close(r);
			}
			got[i] = r < 0 ? errno : 0;
		}
		/* The block device passes the program and then finds no driver (240 is a major for local use). */
		snprintf(p, sizeof(p), "%s/blk", nodes);
		int r = open(p, O_RDONLY | O_NONBLOCK);
		got[nc] = r < 0 ? errno : 0;
		if (write(pfd[1], got, sizeof(got)) != sizeof(got))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	int got[16] = { 0 };
	assert_int_equal(read(pfd[0], got, sizeof(got)), sizeof(got));
	close(pfd[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	for (size_t i = 0; i < nc; i++)
		if (got[i] != cases[i].want)
			fail_msg("%s %s: errno %d, want %d", cases[i].flags == -1 ? "mknod" : "open", cases[i].name, got[i],
				 cases[i].want);
	assert_int_equal(got[nc], ENXIO);
	close(cgfd);
	assert_int_equal(rmdir(cg), 0);
}

/* linux.devices and linux.resources.devices end to end: the nodes made with their mode and owner, the rules
 * honoured, the default set kept, a device program on the container's v2 cgroup. */
static void test_spec_devices(void **state_)
{
	(void)state_;
	char b[256], cgp[64];
	snprintf(b, sizeof(b), "%s/b-devs", dir);
	snprintf(cgp, sizeof(cgp), "/crl-test-devs-%d", (int)getpid());
	char linux_[1024];
	snprintf(linux_, sizeof(linux_),
		 "\"cgroupsPath\":\"%s\",\"devices\":[{\"path\":\"/dev/crl/mynull\",\"type\":\"c\",\"major\":1,\"minor\":3,"
		 "\"fileMode\":416,\"uid\":1000,\"gid\":5},{\"path\":\"/dev/crl-blk\",\"type\":\"b\",\"major\":240,\"minor\":0},"
		 "{\"path\":\"/dev/crl-blk2\",\"type\":\"b\",\"major\":240,\"minor\":1}],"
		 "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		 "{\"allow\":true,\"type\":\"b\",\"major\":240,\"minor\":0,\"access\":\"r\"}]}",
		 cgp);
	bundle_opts_t o = { .script = "ls -ln /dev/crl/mynull; echo x > /dev/crl/mynull && echo write-ok; "
				      "head -c1 /dev/crl-blk; head -c1 /dev/crl-blk2; echo y > /dev/crl-blk; "
				      "echo z > /dev/null && echo default-ok",
			    .linux_ = linux_ };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "devs", NULL };
	free(cli_expect(0, create));
	const char *v2 = v2_mount();
	if (v2) {
		char p[256];
		snprintf(p, sizeof(p), "%s%s", v2, cgp);
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_true(fd >= 0);
		uint32_t count = 0;
		crl_error_t err = CRL_ERROR_INIT;
		assert_int_equal(rt_devices_bpf_count(fd, &count, &err), 0);
		assert_int_equal(count, 1);
		close(fd);
	}
	const char *start[] = { runtime_bin(), "--root", state, "start", "devs", NULL };
	free(cli_expect(0, start));
	wait_stopped("devs");
	const char *del[] = { runtime_bin(), "--root", state, "delete", "devs", NULL };
	free(cli_expect(0, del));
	/* The same bundle with run, for its output. */
	char *out = NULL;
	assert_int_equal(run_bundle("devs2", &o, &out), 0);
	expect(out, "crw-r-----    1 1000     5           1,   3 ");
	expect(out, " /dev/crl/mynull\n");
	expect(out, "write-ok");
	/* 240:0 may be read (the cgroup passes it; no driver has that major), 240:1 not at all, nor 240:0 written. */
	expect(out, "head: /dev/crl-blk: No such device or address");
	expect(out, "head: /dev/crl-blk2: Operation not permitted");
	expect(out, "can't create /dev/crl-blk: Operation not permitted");
	expect(out, "default-ok");
	free(out);
	bundle_opts_t bad = { .script = "true", .linux_ = "\"devices\":[{\"path\":\"/etc/passwd\",\"type\":\"c\",\"major\":1,\"minor\":3}]" };
	expect_refused("baddev", &bad, "not a clean path below /dev/");
	bundle_opts_t bad2 = { .script = "true", .linux_ = "\"resources\":{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}" };
	expect_refused("baddev2", &bad2, "access 'rwx'");
}

static void test_exit_codes_and_kill(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "exit 42" };
	assert_int_equal(run_bundle("exit42", &o, &out), 42);
	free(out);
	/* PID 1 of a pid namespace ignores signals it has no handler for when they come from inside; a child's
	 * death by signal shows as 128 + signal. */
	bundle_opts_t o2 = { .script = "kill -9 $$; sh -c 'kill -9 $$'; exit $?" };
	assert_int_equal(run_bundle("killed", &o2, &out), 128 + 9);
	free(out);
	/* A program that does not exist: a clear message, exit 127. */
	bundle_opts_t o3 = { .script = "exec /nonexistent" };
	assert_int_equal(run_bundle("noexec", &o3, &out), 127);
	free(out);
}

static void test_lifecycle(void **state_)
{
	(void)state_;
	char b[256], pidf[256];
	snprintf(b, sizeof(b), "%s/b-life", dir);
	snprintf(pidf, sizeof(pidf), "%s/life.pid", dir);
	/* The program writes a marker: it must not run before start. */
	bundle_opts_t o = { .script = "echo started > /marker; exec sleep 60", .root = NULL };
	make_bundle(b, &o);
	char *out = NULL;
	/* --no-new-keyring as conmon may pass it: no keyring is made either way. */
	const char *create[] = { runtime_bin(), "--root", state, "create", "--no-new-keyring", "--bundle", b, "--pid-file", pidf, "life", NULL };
	int st = td_run(create, &out, 30000);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail_msg("create: %s", out);
	free(out);
	const char *stat_[] = { runtime_bin(), "--root", state, "state", "life", NULL };
	td_run(stat_, &out, 10000);
	expect(out, "\"status\": \"created\"");
	char want_rootfs[300];
	snprintf(want_rootfs, sizeof(want_rootfs), "\"rootfs\": \"%s\"", rootfs);
	expect(out, want_rootfs);
	free(out);
	char marker[256];
	snprintf(marker, sizeof(marker), "%s/marker", rootfs);
	usleep(200000);
	assert_int_equal(access(marker, F_OK), -1);
	/* A second create of the same id is refused. */
	st = td_run(create, &out, 30000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	expect(out, "already exists");
	free(out);
	const char *start[] = { runtime_bin(), "--root", state, "start", "life", NULL };
	st = td_run(start, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(out);
	for (int i = 0; i < 100 && access(marker, F_OK) < 0; i++)
		usleep(20000);
	assert_int_equal(access(marker, F_OK), 0);
	unlink(marker);
	td_run(stat_, &out, 10000);
	expect(out, "\"status\": \"running\"");
	free(out);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "life", NULL };
	st = td_run(del, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	expect(out, "is running");
	free(out);
	const char *killc[] = { runtime_bin(), "--root", state, "kill", "life", "KILL", NULL };
	free(cli_expect(0, killc));
	wait_stopped("life");
	free(cli_expect(0, del));
	out = cli_expect(1, stat_);
	expect(out, "does not exist");
	free(out);
	/* Deleting what is not there: an error, but success with --force (runc's rule, CRI-O's cleanup relies on it),
	 * which also clears what an aborted create left. */
	out = cli_expect(1, del);
	expect(out, "does not exist");
	free(out);
	char half[300];
	snprintf(half, sizeof(half), "%s/life", state);
	assert_int_equal(mkdir(half, 0700), 0);
	const char *delf[] = { runtime_bin(), "--root", state, "delete", "--force", "life", NULL };
	free(cli_expect(0, delf));
	assert_int_equal(access(half, F_OK), -1);
}

/* Reads from fd until want shows up (or 10 s pass); what was read in buf. */
static bool read_until(int fd, char *buf, size_t n, const char *want)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int i = 0; i < 1000 && !strstr(buf, want) && o < n - 1; i++) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 10) <= 0)
			continue;
		ssize_t r = read(fd, buf + o, n - 1 - o);
		if (r <= 0)
			break;
		o += (size_t)r;
		buf[o] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* A console socket at path, listening (runc's protocol: a terminal's master arrives on a connection). */
static int console_listen(const char *path)
{
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	assert_true(ls >= 0 && strlen(path) < sizeof(a.sun_path));
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, 4), 0);
	return ls;
}

/* The master that came over the console socket (closed after), its name in name. */
static int console_receive(int ls, char *name, size_t n)
{
	int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	assert_true(c >= 0);
	int master = -1;
	ssize_t r = crl_recv_with_fd(c, name, n - 1, &master);
	assert_true(r > 0 && master >= 0);
	name[r] = '\0';
	close(c);
	close(ls);
	return master;
}

/* process.terminal through runc's console socket: the master arrives over it, named; the container's stdio is
 * the terminal (a tty, job control) and what is typed reaches it. */
static void test_console_socket(void **state_)
{
	(void)state_;
	char b[256], sockp[100];
	snprintf(b, sizeof(b), "%s/b-tty", dir);
	snprintf(sockp, sizeof(sockp), "%s/console.sock", dir);
	bundle_opts_t o = { .script = "tty; stty size; echo ready; read x; echo got:$x", .terminal = true };
	make_bundle(b, &o);
	char *out = NULL;
	/* Without a socket a terminal has nowhere to go; a socket without a terminal is refused too (runc). */
	const char *nosock[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "tty", NULL };
	out = cli_expect(1, nosock);
	expect(out, "needs --console-socket");
	free(out);
	char b2[256];
	snprintf(b2, sizeof(b2), "%s/b-notty", dir);
	bundle_opts_t o2 = { .script = "true" };
	make_bundle(b2, &o2);
	const char *notty[] = { runtime_bin(), "--root", state, "create", "--bundle", b2, "--console-socket", sockp, "notty", NULL };
	out = cli_expect(1, notty);
	expect(out, "process.terminal is false");
	free(out);
	/* A socket nobody listens on: create fails and leaves no container behind. */
	const char *deaf[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "--console-socket", sockp, "tty", NULL };
	out = cli_expect(1, deaf);
	expect(out, "console-socket");
	free(out);
	const char *stat_[] = { runtime_bin(), "--root", state, "state", "tty", NULL };
	free(cli_expect(1, stat_));

	int ls = console_listen(sockp);
	free(cli_expect(0, deaf));
	char name[128];
	int master = console_receive(ls, name, sizeof(name));
	assert_int_equal(strncmp(name, "/dev/pts/", 9), 0);
	struct winsize ws = { .ws_row = 33, .ws_col = 101 };
	assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
	const char *start[] = { runtime_bin(), "--root", state, "start", "tty", NULL };
	free(cli_expect(0, start));
	char buf[4096];
	if (!read_until(master, buf, sizeof(buf), "ready"))
		fail_msg("no prompt from the container: '%s'", buf);
	expect(buf, name); /* tty prints the same name the socket got */
	expect(buf, "33 101");
	assert_int_equal(write(master, "abc\n", 4), 4);
	if (!read_until(master, buf, sizeof(buf), "got:abc"))
		fail_msg("typed input did not arrive: '%s'", buf);
	close(master);
	wait_stopped("tty");
	const char *del[] = { runtime_bin(), "--root", state, "delete", "tty", NULL };
	free(cli_expect(0, del));
}

static void test_join_namespaces(void **state_)
{
	(void)state_;
	/* A first container holds a network and uts namespace; a second joins them by path. */
	char b[256], pidf[256], *out = NULL;
	snprintf(b, sizeof(b), "%s/b-holder", dir);
	snprintf(pidf, sizeof(pidf), "%s/holder.pid", dir);
	bundle_opts_t o = { .script = "ip link set lo up; hostname holder-host; exec sleep 60",
			    .caps = "{\"bounding\":[\"CAP_NET_ADMIN\",\"CAP_SYS_ADMIN\"],\"effective\":[\"CAP_NET_ADMIN\",\"CAP_SYS_ADMIN\"],"
				    "\"permitted\":[\"CAP_NET_ADMIN\",\"CAP_SYS_ADMIN\"]}" };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "--pid-file", pidf, "holder", NULL };
	int st = td_run(create, &out, 30000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(out);
	const char *start[] = { runtime_bin(), "--root", state, "start", "holder", NULL };
	td_run(start, &out, 10000);
	free(out);
	char *pidtxt = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, pidf, 64, &pidtxt, NULL, &err), 0);
	int pid = atoi(pidtxt);
	free(pidtxt);
	usleep(300000);
	char ns[512];
	snprintf(ns, sizeof(ns),
		 "[{\"type\":\"pid\"},{\"type\":\"network\",\"path\":\"/proc/%d/ns/net\"},{\"type\":\"ipc\"},"
		 "{\"type\":\"uts\",\"path\":\"/proc/%d/ns/uts\"},{\"type\":\"mount\"}]",
		 pid, pid);
	bundle_opts_t j = { .script = "hostname; ip link show lo | grep -c UP", .namespaces = ns };
	assert_int_equal(run_bundle("joiner", &j, &out), 0);
	expect(out, "holder-host\n1\n");
	free(out);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "--force", "holder", NULL };
	st = td_run(del, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(out);
}

static void test_escapes(void **state_)
{
	(void)state_;
	/* A rootfs whose mount destination is a symlink to the host's /etc: the mount lands inside the rootfs. */
	char evil[256], cmd[1024], *out = NULL;
	snprintf(evil, sizeof(evil), "%s/evilroot", dir);
	snprintf(cmd, sizeof(cmd), "set -e; cp -a %s %s; ln -s /etc %s/mnt-escape; ln -s ../../../../../etc %s/rel-escape",
		 rootfs, evil, evil, evil);
	assert_int_equal(system(cmd), 0);
	struct stat before;
	assert_int_equal(stat("/etc/hostname", &before), 0);
	bundle_opts_t o = { .script = "ls /mnt-escape/ | head -3; echo ok",
			    .root = evil,
			    .mounts = ",{\"destination\":\"/mnt-escape/hostname\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"
				      "{\"destination\":\"/rel-escape/x\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}" };
	int rc = run_bundle("escape", &o, &out);
	free(out);
	(void)rc;
	/* Whatever happened inside, the host's /etc/hostname is untouched and nothing is mounted on the host. */
	struct stat after;
	assert_int_equal(stat("/etc/hostname", &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	snprintf(cmd, sizeof(cmd), "grep -qE ' /etc/(hostname|x) ' /proc/self/mountinfo");
	assert_int_not_equal(system(cmd), 0);
	assert_int_equal(access("/etc/x", F_OK), -1);
	/* The mount points were made inside the rootfs instead. */
	snprintf(cmd, sizeof(cmd), "test -d %s/etc/hostname -a -d %s/etc/x", evil, evil);
	assert_int_equal(system(cmd), 0);
}

static void test_overlay_rootfs(void **state_)
{
	(void)state_;
	char base[256], cmd[4096];
	snprintf(base, sizeof(base), "%s/ovl", dir);
	/* l0: busybox; l1: /etc/message and /etc/gone; l2 (top): a new /etc/message and a whiteout for /etc/gone.
	 * Then 300 empty layers with long names: far past a page of mount options. */
	snprintf(cmd, sizeof(cmd),
		 "set -e; mkdir -p %s/l0 %s/l1/etc %s/l2/etc %s/upper %s/work %s/mnt; cp -a %s/. %s/l0/; "
		 "echo from-l1 > %s/l1/etc/message; echo here > %s/l1/etc/gone; echo from-top > %s/l2/etc/message; "
		 "mknod %s/l2/etc/gone c 0 0; "
		 "for i in $(seq 1 300); do mkdir -p %s/pad-layer-with-a-rather-long-name-to-fill-the-option-string-$i; done",
		 base, base, base, base, base, base, rootfs, base, base, base, base, base, base);
	assert_int_equal(system(cmd), 0);
	char *ann = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&ann, &len);
	fprintf(f, "{\"org.crio-lite.overlay.lowerdirs\":\"[\\\"%s/l2\\\",\\\"%s/l1\\\"", base, base);
	for (int i = 1; i <= 300; i++)
		fprintf(f, ",\\\"%s/pad-layer-with-a-rather-long-name-to-fill-the-option-string-%d\\\"", base, i);
	fprintf(f, ",\\\"%s/l0\\\"]\",\"org.crio-lite.overlay.upperdir\":\"%s/upper\",\"org.crio-lite.overlay.workdir\":\"%s/work\"}",
		base, base, base);
	fclose(f);
	char root[300];
	snprintf(root, sizeof(root), "%s/mnt", base);
	bundle_opts_t o = { .script = "cat /etc/message; [ -e /etc/gone ] && echo gone-visible || echo gone-hidden; "
				      "echo written > /new; grep ' / / ' /proc/self/mountinfo | grep -c ' - overlay '",
			    .root = root,
			    .annotations = ann };
	char *out = NULL;
	int rc = run_bundle("overlay", &o, &out);
	free(ann);
	if (rc != 0)
		fail_msg("overlay container failed (%d): %s", rc, out);
	expect(out, "from-top\ngone-hidden\n1\n");
	free(out);
	/* The write went to the upper dir; the layers are as they were; nothing stays mounted on the host. */
	snprintf(cmd, sizeof(cmd), "test \"$(cat %s/upper/new)\" = written -a ! -e %s/l0/new -a ! -e %s/mnt/new && "
				   "! grep -q '%s' /proc/self/mountinfo",
		 base, base, base, base);
	assert_int_equal(system(cmd), 0);
}

static int rt(const char *const *args, char **out)
{
	int st = td_run(args, out, 60000);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_exec_update_stats(void **state_)
{
	(void)state_;
	char b[256], *out = NULL;
	snprintf(b, sizeof(b), "%s/b-svc", dir);
	bundle_opts_t o = { .script = "exec sleep 60",
			    .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}",
			    .linux_ = "\"resources\":{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":50}}" };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "svc", NULL };
	const char *start[] = { runtime_bin(), "--root", state, "start", "svc", NULL };
	assert_int_equal(rt(create, &out), 0);
	free(out);
	assert_int_equal(rt(start, &out), 0);
	free(out);
	/* In the container: its hostname, its PID 1, its capabilities and no_new_privs, its cgroup. */
	const char *ex[] = { runtime_bin(), "--root", state, "exec", "svc", "--", "sh", "-c",
			     "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
			     "cat /sys/fs/cgroup/pids/pids.max; ls /proc/self/fd | tr '\\n' ' '; echo; exit 7", NULL };
	assert_int_equal(rt(ex, &out), 7);
	expect(out, "crl-box\nsleep 60 \n");
	expect(out, "CapEff:\t00000000a80425fb");
	expect(out, "NoNewPrivs:\t1");
	expect(out, "50\n");
	expect(out, "\n0 1 2 3 \n");
	free(out);
	/* Update the limits of the running container; they show inside. */
	const char *up[] = { runtime_bin(), "--root", state, "update", "--memory", "33554432", "--pids-limit", "17", "svc", NULL };
	assert_int_equal(rt(up, &out), 0);
	free(out);
	const char *ex2[] = { runtime_bin(), "--root", state, "exec", "svc", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
			      "/sys/fs/cgroup/pids/pids.max", NULL };
	assert_int_equal(rt(ex2, &out), 0);
	expect(out, "33554432\n17\n");
	free(out);
	/* A process past the memory limit is OOM-killed; the stats count it. */
	/* One process (no pipeline): orphans would go to the container's PID 1, a sleep that never reaps them. */
	const char *hog[] = { runtime_bin(), "--root", state, "exec", "svc", "tail", "/dev/zero", NULL };
	int hr = rt(hog, &out);
	free(out);
	assert_int_not_equal(hr, 0);
	const char *stats[] = { runtime_bin(), "--root", state, "events", "--stats", "svc", NULL };
	/* The rest of the killed pipeline may take a moment to exit (longer under sanitizers). */
	out = NULL;
	for (int i = 0; i < 300; i++) {
		free(out);
		out = NULL;
		assert_int_equal(rt(stats, &out), 0);
		if (strstr(out, "\"current\":1,"))
			break;
		usleep(50000);
	}
	expect(out, "\"limit\":33554432");
	expect(out, "\"pids\":{\"current\":1,\"limit\":17}");
	if (strstr(out, "\"oom_kills\":0"))
		fail_msg("no OOM kill counted: %s", out);
	free(out);
	/* runc's update --resources FILE (a LinuxResources object, as CRI-O writes it); a flag after it wins. */
	char resf[256];
	snprintf(resf, sizeof(resf), "%s/svc-resources.json", dir);
	td_write_file(resf, "{\"memory\":{\"limit\":50331648},\"pids\":{\"limit\":23},\"cpu\":{\"cpus\":\"0\"}}");
	const char *upr[] = { runtime_bin(), "--root", state, "update", "--resources", resf, "--pids-limit", "29", "svc", NULL };
	free(cli_expect(0, upr));
	assert_int_equal(rt(ex2, &out), 0);
	expect(out, "50331648\n29\n");
	free(out);
	/* Memory and memory+swap in the order the kernel takes them: raising both writes memsw first (else the
	 * new memory limit would exceed the old memsw), lowering both writes memory first. */
	const char *sw1[] = { runtime_bin(), "--root", state, "update", "--memory", "50331648", "--memory-swap", "67108864", "svc", NULL };
	const char *sw2[] = { runtime_bin(), "--root", state, "update", "--memory", "134217728", "--memory-swap", "268435456", "svc", NULL };
	const char *sw3[] = { runtime_bin(), "--root", state, "update", "--memory", "41943040", "--memory-swap", "46137344", "svc", NULL };
	const char *exsw[] = { runtime_bin(), "--root", state, "exec", "svc", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
			       "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", NULL };
	if (access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0) {
		free(cli_expect(0, sw1));
		free(cli_expect(0, sw2));
		out = cli_expect(0, exsw);
		expect(out, "134217728\n268435456\n");
		free(out);
		free(cli_expect(0, sw3));
		out = cli_expect(0, exsw);
		expect(out, "41943040\n46137344\n");
		free(out);
	}
	td_write_file(resf, "{\"memory\":{\"limit\":\"lots\"}}");
	out = cli_expect(1, upr);
	expect(out, "linux.resources.memory.limit must be an integer");
	free(out);
	/* exec into a container that is not running. */
	const char *killc[] = { runtime_bin(), "--root", state, "delete", "--force", "svc", NULL };
	assert_int_equal(rt(killc, &out), 0);
	free(out);
	assert_int_equal(rt(ex2, &out), 1);
	expect(out, "does not exist");
	free(out);
}

/* exec with runc's flags, as conmon drives it: --env, --user, --cwd; --process with --detach and --pid-file
 * (the exit status comes to the subreaper that inherits the detached joiner); --tty with a console socket. */
static void test_exec_runc_flags(void **state_)
{
	(void)state_;
	char b[256];
	snprintf(b, sizeof(b), "%s/b-rx", dir);
	bundle_opts_t o = { .script = "exec sleep 60", .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}" };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "rx", NULL };
	const char *start[] = { runtime_bin(), "--root", state, "start", "rx", NULL };
	free(cli_expect(0, create));
	free(cli_expect(0, start));
	const char *ex[] = { runtime_bin(), "--root", state, "exec", "--env", "FOO=bar", "-u", "1000:1001", "--cwd", "/tmp", "rx",
			     "--", "sh", "-c", "echo $FOO; id -u; id -g; pwd; echo $PATH", NULL };
	char *out = cli_expect(0, ex);
	expect(out, "bar\n1000\n1001\n/tmp\n/bin\n");
	free(out);

	/* Detached, from a process.json; this test inherits the joiner (a subreaper, as conmon is). */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	char proc[256], pidf[256];
	snprintf(proc, sizeof(proc), "%s/rx-process.json", dir);
	snprintf(pidf, sizeof(pidf), "%s/rx.pid", dir);
	td_write_file(proc, "{\"args\":[\"sh\",\"-c\",\"sleep 0.3; exit 6\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],"
			    "\"user\":{\"uid\":0,\"gid\":0},\"terminal\":false}");
	const char *det[] = { runtime_bin(), "--root", state, "exec", "--pid-file", pidf, "--process", proc, "--detach", "rx", NULL };
	free(cli_expect(0, det));
	char *pidtext = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, pidf, 64, &pidtext, NULL, &err), 0);
	pid_t jp = atoi(pidtext);
	free(pidtext);
	assert_true(jp > 0);
	int st = 0;
	assert_int_equal(waitpid(jp, &st, 0), jp);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 6);

	/* A terminal through the console socket. */
	char sockp[100];
	snprintf(sockp, sizeof(sockp), "%s/rx.sock", dir);
	int ls = console_listen(sockp);
	const char *tty[] = { runtime_bin(), "--root", state, "exec", "-t", "--console-socket", sockp, "-d", "--pid-file", pidf,
			      "rx", "sh", "-c", "tty; read x; echo got:$x", NULL };
	free(cli_expect(0, tty));
	char name[64];
	int master = console_receive(ls, name, sizeof(name));
	char buf[4096];
	if (!read_until(master, buf, sizeof(buf), name))
		fail_msg("the exec's tty did not name '%s': '%s'", name, buf);
	assert_int_equal(write(master, "hi\n", 3), 3);
	if (!read_until(master, buf, sizeof(buf), "got:hi"))
		fail_msg("typed input did not reach the exec: '%s'", buf);
	assert_int_equal(crl_fs_read_file(AT_FDCWD, pidf, 64, &pidtext, NULL, &err), 0);
	jp = atoi(pidtext);
	free(pidtext);
	/* The master stays open until the shell has exited: closing it first hangs up the terminal, and the shell
	 * may die of SIGHUP before its own exit. */
	assert_int_equal(waitpid(jp, &st, 0), jp);
	close(master);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);

	/* What runc refuses, refused with the reason. */
	const char *notty[] = { runtime_bin(), "--root", state, "exec", "-t", "rx", "true", NULL };
	out = cli_expect(1, notty);
	expect(out, "needs --console-socket");
	free(out);
	const char *nocmd[] = { runtime_bin(), "--root", state, "exec", "rx", NULL };
	out = cli_expect(1, nocmd);
	expect(out, "no command");
	free(out);
	td_write_file(proc, "{\"args\":[\"true\"],\"cwd\":\"relative\"}");
	const char *badp[] = { runtime_bin(), "--root", state, "exec", "--process", proc, "rx", NULL };
	out = cli_expect(1, badp);
	expect(out, "exec --process");
	expect(out, "is not absolute");
	free(out);
	/* kill --all (CRI-O's stop) reaches every process of the container, not only its init: a TERM that PID 1
	 * (without a handler) ignores still ends the others. */
	const char *bg[] = { runtime_bin(), "--root", state, "exec", "-d", "rx", "sleep", "1000", NULL };
	free(cli_expect(0, bg));
	const char *ps[] = { runtime_bin(), "--root", state, "exec", "rx", "ps", "-o", "args", NULL };
	out = cli_expect(0, ps);
	expect(out, "sleep 1000");
	free(out);
	const char *term[] = { runtime_bin(), "--root", state, "kill", "rx", "TERM", NULL };
	const char *termall[] = { runtime_bin(), "--root", state, "kill", "--all", "rx", "TERM", NULL };
	free(cli_expect(0, term));
	usleep(200000);
	out = cli_expect(0, ps);
	expect(out, "sleep 1000");
	free(out);
	free(cli_expect(0, termall));
	bool gone = false;
	for (int i = 0; i < 50 && !gone; i++) {
		out = cli_expect(0, ps);
		gone = !strstr(out, "sleep 1000");
		free(out);
		if (!gone)
			usleep(50000);
	}
	assert_true(gone);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "--force", "rx", NULL };
	free(cli_expect(0, del));
}

/* Runs conmon (Debian's) with crio-lite-runtime as its runtime; waits for conmon's own foreground process. */
static void conmon(const char *id, const char *bundle, const char *const *extra)
{
	char pidf[256], log[256], exits[256], socks[256], rootarg[256];
	snprintf(pidf, sizeof(pidf), "%s/conmon-%s.pid", dir, id);
	snprintf(log, sizeof(log), "k8s-file:%s/conmon-%s.log", dir, id);
	snprintf(exits, sizeof(exits), "%s/conmon-exits-%s", dir, id);
	snprintf(socks, sizeof(socks), "%s/conmon-socks", dir);
	snprintf(rootarg, sizeof(rootarg), "%s", state);
	mkdir(exits, 0755);
	mkdir(socks, 0755);
	const char *args[32] = { "/usr/bin/conmon", "--api-version", "1", "-c", id, "-u", id, "-n", id, "-r", runtime_bin(), "-b", bundle,
				 "-p", pidf, "-l", log, "--exit-dir", exits, "--socket-dir-path", socks, "--runtime-arg", "--root",
				 "--runtime-arg", rootarg };
	size_t n = 25;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	char *out = NULL;
	int st = td_run(args, &out, 30000);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail_msg("conmon: %s", out);
	free(out);
}

/* The exit code conmon recorded for id, waiting for it to appear. */
static int conmon_exit_code(const char *id)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/conmon-exits-%s/%s", dir, id, id);
	for (int i = 0; i < 500 && access(p, F_OK) != 0; i++)
		usleep(20000);
	char *text = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, p, 64, &text, NULL, &err) < 0)
		fail_msg("no exit file from conmon: %s", crl_error_message(&err));
	int code = atoi(text);
	free(text);
	return code;
}

/* crio-lite-runtime standing in for runc under conmon, the monitor CRI-O and Podman use: create (conmon owns
 * the stdio and writes the CRI log), start, the exit code in conmon's exit file; and an exec conmon runs with
 * --process --detach --pid-file. */
static void test_under_conmon(void **state_)
{
	(void)state_;
	/* conmon double-forks: its orphans come to this test (a subreaper) to be reaped, not left as zombies. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	char b[256], pidf[300];
	snprintf(b, sizeof(b), "%s/b-cm", dir);
	bundle_opts_t o = { .script = "echo out-line; echo err-line >&2; exit 3" };
	make_bundle(b, &o);
	conmon("cm", b, NULL);
	snprintf(pidf, sizeof(pidf), "%s/conmon-cm.pid", dir);
	for (int i = 0; i < 500 && access(pidf, F_OK) != 0; i++)
		usleep(20000);
	const char *start[] = { runtime_bin(), "--root", state, "start", "cm", NULL };
	free(cli_expect(0, start));
	assert_int_equal(conmon_exit_code("cm"), 3);
	char *log = NULL;
	char lp[300];
	snprintf(lp, sizeof(lp), "%s/conmon-cm.log", dir);
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, lp, 1 << 20, &log, NULL, &err), 0);
	expect(log, " stdout F out-line\n");
	expect(log, " stderr F err-line\n");
	free(log);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "cm", NULL };
	free(cli_expect(0, del));

	/* An exec through conmon into a running container. */
	char b2[256], proc[300];
	snprintf(b2, sizeof(b2), "%s/b-cmx", dir);
	bundle_opts_t o2 = { .script = "exec sleep 60" };
	make_bundle(b2, &o2);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b2, "cmx", NULL };
	const char *start2[] = { runtime_bin(), "--root", state, "start", "cmx", NULL };
	free(cli_expect(0, create));
	free(cli_expect(0, start2));
	snprintf(proc, sizeof(proc), "%s/cmx-process.json", dir);
	td_write_file(proc, "{\"args\":[\"sh\",\"-c\",\"echo exec-line; exit 4\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],"
			    "\"user\":{\"uid\":0,\"gid\":0}}");
	const char *ex[] = { "-e", "--exec-process-spec", proc, NULL };
	conmon("cmx", b2, ex);
	assert_int_equal(conmon_exit_code("cmx"), 4);
	snprintf(lp, sizeof(lp), "%s/conmon-cmx.log", dir);
	assert_int_equal(crl_fs_read_file(AT_FDCWD, lp, 1 << 20, &log, NULL, &err), 0);
	expect(log, " stdout F exec-line\n");
	free(log);
	const char *del2[] = { runtime_bin(), "--root", state, "delete", "--force", "cmx", NULL };
	free(cli_expect(0, del2));
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
}

static void test_mount_propagation(void **state_)
{
	(void)state_;
	char src[256], cmd[2048], b[256], pidf[256], *out = NULL;
	snprintf(src, sizeof(src), "%s/shared-src", dir);
	snprintf(cmd, sizeof(cmd), "set -e; mkdir -p %s; mount -t tmpfs crl-prop %s; mount --make-shared %s; mkdir %s/sub", src, src, src, src);
	assert_int_equal(system(cmd), 0);
	/* Two binds of the same shared source: rslave receives later host mounts, rprivate does not. */
	char mounts[1024];
	snprintf(mounts, sizeof(mounts),
		 ",{\"destination\":\"/slave\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"rslave\"]}"
		 ",{\"destination\":\"/private\",\"type\":\"bind\",\"source\":\"%s\",\"options\":[\"rbind\",\"rprivate\"]}",
		 src, src);
	snprintf(b, sizeof(b), "%s/b-prop", dir);
	snprintf(pidf, sizeof(pidf), "%s/prop.pid", dir);
	bundle_opts_t o = { .script = "exec sleep 60", .mounts = mounts };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "prop", NULL };
	const char *start[] = { runtime_bin(), "--root", state, "start", "prop", NULL };
	assert_int_equal(rt(create, &out), 0);
	free(out);
	assert_int_equal(rt(start, &out), 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs crl-prop-late %s/sub && echo late > %s/sub/marker", src, src);
	assert_int_equal(system(cmd), 0);
	const char *ex[] = { runtime_bin(), "--root", state, "exec", "prop", "sh", "-c",
			     "cat /slave/sub/marker 2>/dev/null || echo slave-missing; cat /private/sub/marker 2>/dev/null || echo private-missing; "
			     "mount -t tmpfs x /slave 2>/dev/null; true", NULL };
	assert_int_equal(rt(ex, &out), 0);
	expect(out, "late\nprivate-missing\n");
	free(out);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "--force", "prop", NULL };
	assert_int_equal(rt(del, &out), 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "umount %s/sub; umount %s", src, src);
	assert_int_equal(system(cmd), 0);
	/* Nothing the container did reached the host. */
	snprintf(cmd, sizeof(cmd), "grep -q '%s' /proc/self/mountinfo", src);
	assert_int_not_equal(system(cmd), 0);
}

static void test_user_namespace(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "id; cat /proc/self/uid_map /proc/self/gid_map | tr -s ' ' | sed 's/^ //'; "
				      "echo x > /tmp/f && stat -c '%u:%g' /tmp/f; stat -c '%u' /bin/busybox; ls /dev/null",
			    .mounts = ",{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}",
			    .namespaces = "[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
					  "{\"type\":\"mount\"},{\"type\":\"user\"}]",
			    .linux_ = "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
				      "\"gidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]" };
	int rc = run_bundle("userns", &o, &out);
	if (rc != 0)
		fail_msg("user namespace container failed (%d): %s", rc, out);
	/* Root inside, 100000 outside; the host's root-owned files are nobody's here. */
	expect(out, "uid=0(root) gid=0");
	expect(out, "0 100000 65536\n0 100000 65536\n");
	expect(out, "0:0\n65534\n/dev/null");
	free(out);
	bundle_opts_t bad = { .script = "true",
			      .namespaces = "[{\"type\":\"pid\"},{\"type\":\"mount\"},{\"type\":\"user\"}]" };
	expect_refused("usernomap", &bad, "needs linux.uidMappings");
}

static void test_host_binary_unreachable(void **state_)
{
	(void)state_;
	/* A created (not started) container's init is still crio-lite-runtime. A container sharing its PID
	 * namespace sees it as PID 1 but may not open its exe or memory. Two things stop it: the init is not
	 * dumpable until it execs, and the kernel also refuses a reader without a superset of the target's
	 * capabilities; this checks the outcome, not which of the two (removing either alone still passes). */
	char b[256], pidf[256], *out = NULL;
	snprintf(b, sizeof(b), "%s/b-waiting", dir);
	snprintf(pidf, sizeof(pidf), "%s/waiting.pid", dir);
	bundle_opts_t o = { .script = "exec sleep 60" };
	make_bundle(b, &o);
	const char *create[] = { runtime_bin(), "--root", state, "create", "--bundle", b, "--pid-file", pidf, "waiting", NULL };
	assert_int_equal(rt(create, &out), 0);
	free(out);
	char *pidtxt = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, pidf, 64, &pidtxt, NULL, &err), 0);
	int pid = atoi(pidtxt);
	free(pidtxt);
	char ns[256];
	snprintf(ns, sizeof(ns), "[{\"type\":\"pid\",\"path\":\"/proc/%d/ns/pid\"},{\"type\":\"mount\"},{\"type\":\"network\"}]", pid);
	bundle_opts_t probe = { .script = "readlink /proc/1/exe >/dev/null 2>&1 && echo exe-readable || echo exe-denied; "
					  "cat /proc/1/exe > /dev/null 2>&1 && echo exe-opened || echo open-denied; "
					  "head -c1 /proc/1/mem > /dev/null 2>&1 && echo mem-read || echo mem-denied",
				.namespaces = ns };
	assert_int_equal(run_bundle("probe", &probe, &out), 0);
	expect(out, "exe-denied\nopen-denied\nmem-denied\n");
	free(out);
	const char *del[] = { runtime_bin(), "--root", state, "delete", "--force", "waiting", NULL };
	assert_int_equal(rt(del, &out), 0);
	free(out);
}

static void test_bad_specs(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t o = { .script = "true", .caps = "{\"bounding\":[\"CAP_FLY\"]}" };
	expect_refused("badcap", &o, "unknown capability 'CAP_FLY'");
	bundle_opts_t o2 = { .script = "true", .namespaces = "[{\"type\":\"pid\"},{\"type\":\"time-travel\"},{\"type\":\"mount\"}]" };
	expect_refused("badns", &o2, "unsupported type 'time-travel'");
	bundle_opts_t o3 = { .script = "true", .linux_ = "\"sysctl\":{\"kernel.panic\":\"1\"}" };
	expect_refused("badsysctl", &o3, "sysctl kernel.panic is not namespaced");
	/* runc's --log and --log-format json: the message goes to the file, not to stdio (which a container may own). */
	char logf[256], b[256];
	snprintf(logf, sizeof(logf), "%s/runtime-log.json", dir);
	snprintf(b, sizeof(b), "%s/b-badcap", dir);
	const char *logged[] = { runtime_bin(), "--root", state, "--log", logf, "--log-format", "json", "create", "--bundle", b,
				 "badcap2", NULL };
	out = cli_expect(1, logged);
	assert_string_equal(out, "");
	free(out);
	char *log = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, logf, 1 << 16, &log, NULL, &err), 0);
	expect(log, "{\"level\":\"error\",\"msg\":\"");
	expect(log, "unknown capability 'CAP_FLY'");
	free(log);
	const char *nopivot[] = { runtime_bin(), "--root", state, "create", "--no-pivot", "--bundle", b, "np", NULL };
	out = cli_expect(1, nopivot);
	expect(out, "--no-pivot");
	free(out);
	const char *bad_id[] = { runtime_bin(), "--root", state, "state", "../etc", NULL };
	out = cli_expect(1, bad_id);
	expect(out, "invalid container id");
	free(out);
}

/* AppArmor where the host has it; where it has none (this machine), a profile is refused rather than left
 * unenforced, and "unconfined" asks for nothing. */
static void test_apparmor(void **state_)
{
	(void)state_;
	char *out = NULL;
	bundle_opts_t un = { .script = "echo ran", .process = "\"apparmorProfile\":\"unconfined\"" };
	assert_int_equal(run_bundle("aa-unconfined", &un, &out), 0);
	expect(out, "ran");
	free(out);
	bundle_opts_t prof = { .script = "cat /proc/self/attr/current", .process = "\"apparmorProfile\":\"crio-lite-default\"" };
	if (access("/sys/module/apparmor/parameters/enabled", F_OK) != 0) {
		expect_refused("aa-profile", &prof, "process.apparmorProfile 'crio-lite-default': this host has no AppArmor");
		return;
	}
	/* A host with AppArmor: the profile must exist there for this to run; an unknown one is an error. */
	bundle_opts_t missing = { .script = "true", .process = "\"apparmorProfile\":\"crl-no-such-profile\"" };
	expect_refused("aa-missing", &missing, "AppArmor profile 'crl-no-such-profile'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_isolation_basics),
		cmocka_unit_test(test_masked_and_readonly),
		cmocka_unit_test(test_user_groups_umask),
		cmocka_unit_test(test_rlimits_and_oom_score),
		cmocka_unit_test(test_seccomp),
		cmocka_unit_test(test_seccomp_runtime_default),
		cmocka_unit_test(test_cgroup_limits),
		cmocka_unit_test(test_cgroup_v2_hugetlb),
		cmocka_unit_test(test_device_bpf_program),
		cmocka_unit_test(test_spec_devices),
		cmocka_unit_test(test_exit_codes_and_kill),
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_console_socket),
		cmocka_unit_test(test_join_namespaces),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_overlay_rootfs),
		cmocka_unit_test(test_exec_update_stats),
		cmocka_unit_test(test_exec_runc_flags),
		cmocka_unit_test(test_under_conmon),
		cmocka_unit_test(test_mount_propagation),
		cmocka_unit_test(test_user_namespace),
		cmocka_unit_test(test_host_binary_unreachable),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test(test_apparmor),
	};
	return cmocka_run_group_tests_name("runtime", tests, setup, teardown);
}
