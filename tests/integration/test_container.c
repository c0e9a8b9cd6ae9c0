/* SPDX-License-Identifier: Apache-2.0 */
/* Containers through the socket: a real daemon, images pulled from a real docker-registry on 127.0.0.1 (built
 * from busybox-static by tests/fixtures/registry.py), real containers run by the pod's monitor, checked from
 * inside (their output, /proc/self/status, id). Pods use a loopback-only network: no bridge is needed here. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "common/json.h"
#include "harness.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"
#define CODE_OK 0
#define CODE_INVALID_ARGUMENT 3
#define CODE_DEADLINE_EXCEEDED 4
#define CODE_NOT_FOUND 5
#define CODE_ALREADY_EXISTS 6

static test_daemon_t D;
static char reg_dir[128], regconf[256], cgparent[64];
static int reg_port;

static char *image(const char *tag)
{
	static char buf[4][128];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "127.0.0.1:%d/ctr:%s", reg_port, tag);
	return buf[k];
}

static int pull(const char *ref)
{
	return td_pull(&D, ref);
}

static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	if ((reg_port = td_container_registry(reg_dir, regconf, sizeof(regconf))) < 0)
		return -1;
	snprintf(cgparent, sizeof(cgparent), "/crlctr%d", (int)getpid());
	char extra[512];
	/* A RuntimeClass handler: Debian's runc (a test package) runs the same bundles through the monitor. */
	snprintf(extra, sizeof(extra),
		 "[crio-lite.image]\nregistries_conf = \"%s\"\n[crio-lite.runtime.runtimes.runc]\nruntime_path = \"%s\"\n",
		 regconf, access("/usr/sbin/runc", X_OK) == 0 ? "/usr/sbin/runc" : "/usr/bin/runc");
	if (td_setup(&D, extra) < 0)
		return -1;
	td_write_lo_network(&D);
	if (td_start(&D, NULL) < 0)
		return -1;
	const char *tags[] = { "plain", "entry", "nobody" };
	for (size_t i = 0; i < 3; i++)
		if (pull(image(tags[i])) != 0)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	/* Whatever a failed test left: its monitors (and with them their containers), mounts, files. */
	int ok = td_finish(&D);
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "for c in /sys/fs/cgroup/*%s/*/* /sys/fs/cgroup/*%s/*; do [ -d $c ] && rmdir $c; done 2>/dev/null;"
		 "rmdir /sys/fs/cgroup/*%s 2>/dev/null",
		 cgparent, cgparent, cgparent);
	if (system(cmd) != 0) {
		/* already gone */
	}
	td_registry_stop(reg_dir); /* and the registries.conf in it */
	grpc_shutdown();
	return ok ? 0 : -1;
}

/* --- pods and containers --- */

static Runtime__V1__PodSandboxMetadata pod_md(const char *name)
{
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	md.name = (char *)name;
	md.uid = (char *)name;
	md.namespace_ = "ctrtest";
	return md;
}

typedef struct pod {
	char *id;
	char logdir[256];
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__PodSandboxConfig cfg;
	Runtime__V1__LinuxPodSandboxConfig lin;
} pod_t;

static void run_pod_handler(pod_t *p, const char *name, const char *handler);

static void run_pod(pod_t *p, const char *name)
{
	run_pod_handler(p, name, NULL);
}

/* The pod, or the gRPC code that refused it (thread-safe: no assertion; c is the caller's client). */
static int try_run_pod(cri_client_t *c, pod_t *p, const char *name, const char *handler)
{
	memset(p, 0, sizeof(*p));
	p->md = pod_md(name);
	runtime__v1__pod_sandbox_config__init(&p->cfg);
	runtime__v1__linux_pod_sandbox_config__init(&p->lin);
	p->lin.cgroup_parent = cgparent;
	p->cfg.metadata = &p->md;
	p->cfg.hostname = (char *)name;
	snprintf(p->logdir, sizeof(p->logdir), "%s/logs/%s", D.dir, name);
	p->cfg.log_directory = p->logdir;
	p->cfg.linux = &p->lin;
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	req.config = &p->cfg;
	req.runtime_handler = (char *)(handler ? handler : "");
	cri_result_t r;
	if (cri_call(c, RT "RunPodSandbox", &req.base, &runtime__v1__run_pod_sandbox_response__descriptor, 60000, &r) < 0)
		return -1;
	int code = r.code;
	if (code)
		fprintf(stderr, "RunPodSandbox %s: %s\n", name, r.message);
	else
		p->id = strdup(((Runtime__V1__RunPodSandboxResponse *)r.resp)->pod_sandbox_id);
	cri_result_clear(&r);
	return code;
}

static void run_pod_handler(pod_t *p, const char *name, const char *handler)
{
	if (try_run_pod(D.client, p, name, handler) != 0)
		fail_msg("RunPodSandbox %s failed", name);
}

static int id_call_with(cri_client_t *c, const char *method, const char *id)
{
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	cri_result_t r;
	if (cri_call(c, method, &req.base, NULL, 60000, &r) < 0)
		return -1;
	int code = r.code;
	if (code)
		fprintf(stderr, "%s %s: %d %s\n", method, id, code, r.message);
	cri_result_clear(&r);
	return code;
}

static int id_call(const char *method, const char *id)
{
	return id_call_with(D.client, method, id);
}

static void remove_pod(pod_t *p)
{
	assert_int_equal(id_call(RT "StopPodSandbox", p->id), 0);
	assert_int_equal(id_call(RT "RemovePodSandbox", p->id), 0);
	free(p->id);
	p->id = NULL;
}

/* The cgroups of this run's pods (id "*": of all of them) left in any hierarchy, named ones too. */
static int pod_cgroups_left(const char *id)
{
	char cmd[400], *out = NULL;
	snprintf(cmd, sizeof(cmd), "ls -d /sys/fs/cgroup/*%s/crio-lite-%s 2>/dev/null | wc -l", cgparent, id);
	const char *a[] = { "/bin/sh", "-c", cmd, NULL };
	td_run(a, &out, 5000);
	int n = out ? atoi(out) : -1;
	free(out);
	return n;
}

typedef struct ctr_opts {
	const char *name, *image;
	const char *const *command, *const *args; /* NULL-terminated */
	const char *env_key, *env_val;
	const char *workdir;
	Runtime__V1__LinuxContainerSecurityContext *sc;
	const char *label;
	const char *dev_host, *dev_ctr, *dev_perm; /* one config.devices entry */
	int64_t memory;                            /* linux.resources.memory_limit_in_bytes (and swap) */
	const char *mnt_host, *mnt_ctr;            /* one config.mounts entry */
	int mnt_propagation;
} ctr_opts_t;

static size_t count(const char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

static int create_ctr_with(cri_client_t *cl, pod_t *p, const ctr_opts_t *o, char **ret_id, char **ret_msg)
{
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = (char *)o->name;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)o->image;
	Runtime__V1__ContainerConfig c = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	c.metadata = &md;
	c.image = &spec;
	c.command = (char **)o->command;
	c.n_command = count(o->command);
	c.args = (char **)o->args;
	c.n_args = count(o->args);
	char logp[128];
	snprintf(logp, sizeof(logp), "%s.log", o->name);
	c.log_path = logp;
	c.working_dir = (char *)o->workdir;
	Runtime__V1__KeyValue kv = RUNTIME__V1__KEY_VALUE__INIT;
	Runtime__V1__KeyValue *kvs[1] = { &kv };
	if (o->env_key) {
		kv.key = (char *)o->env_key;
		kv.value.data = (uint8_t *)o->env_val;
		kv.value.len = strlen(o->env_val);
		c.envs = kvs;
		c.n_envs = 1;
	}
	Runtime__V1__ContainerConfig__LabelsEntry lab = RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
	Runtime__V1__ContainerConfig__LabelsEntry *labs[1] = { &lab };
	lab.key = "role";
	lab.value = (char *)(o->label ? o->label : "test");
	c.labels = labs;
	c.n_labels = 1;
	Runtime__V1__LinuxContainerConfig lc = RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
	lc.security_context = o->sc;
	c.linux = &lc;
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	if (o->memory) {
		res.memory_limit_in_bytes = o->memory;
		res.memory_swap_limit_in_bytes = o->memory;
		lc.resources = &res;
	}
	Runtime__V1__Mount mnt = RUNTIME__V1__MOUNT__INIT;
	Runtime__V1__Mount *mnts[1] = { &mnt };
	if (o->mnt_host) {
		mnt.host_path = (char *)o->mnt_host;
		mnt.container_path = (char *)o->mnt_ctr;
		mnt.propagation = o->mnt_propagation;
		c.mounts = mnts;
		c.n_mounts = 1;
	}
	Runtime__V1__Device dev = RUNTIME__V1__DEVICE__INIT;
	Runtime__V1__Device *devs[1] = { &dev };
	if (o->dev_host) {
		dev.host_path = (char *)o->dev_host;
		dev.container_path = (char *)o->dev_ctr;
		dev.permissions = (char *)o->dev_perm;
		c.devices = devs;
		c.n_devices = 1;
	}
	Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	req.pod_sandbox_id = p->id;
	req.config = &c;
	req.sandbox_config = &p->cfg;
	cri_result_t r;
	if (cri_call(cl, RT "CreateContainer", &req.base, &runtime__v1__create_container_response__descriptor, 60000, &r) < 0)
		return -1;
	int code = r.code;
	if (code == 0 && ret_id)
		*ret_id = strdup(((Runtime__V1__CreateContainerResponse *)r.resp)->container_id);
	if (ret_msg)
		*ret_msg = strdup(r.message ? r.message : "");
	cri_result_clear(&r);
	return code;
}

static int create_ctr(pod_t *p, const ctr_opts_t *o, char **ret_id, char **ret_msg)
{
	return create_ctr_with(D.client, p, o, ret_id, ret_msg);
}

/* Created and started; the id, or NULL (thread-safe: no assertion). */
static char *try_create_start(cri_client_t *cl, pod_t *p, const ctr_opts_t *o)
{
	char *id = NULL, *msg = NULL;
	int code = create_ctr_with(cl, p, o, &id, &msg);
	if (code)
		fprintf(stderr, "CreateContainer %s: %d %s\n", o->name, code, msg ? msg : "");
	free(msg);
	if (code)
		return NULL;
	Runtime__V1__StartContainerRequest req = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	req.container_id = id;
	cri_result_t r;
	if (cri_call(cl, RT "StartContainer", &req.base, NULL, 60000, &r) < 0 || r.code) {
		fprintf(stderr, "StartContainer %s: %s\n", o->name, r.message ? r.message : "(transport)");
		cri_result_clear(&r);
		free(id);
		return NULL;
	}
	cri_result_clear(&r);
	return id;
}

static char *create_start(pod_t *p, const ctr_opts_t *o)
{
	char *id = NULL, *msg = NULL;
	int code = create_ctr(p, o, &id, &msg);
	if (code)
		fail_msg("CreateContainer %s: %d %s", o->name, code, msg);
	free(msg);
	Runtime__V1__StartContainerRequest req = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	req.container_id = id;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "StartContainer", &req.base, NULL, 60000, &r), 0);
	if (r.code)
		fail_msg("StartContainer %s: %s", o->name, r.message);
	cri_result_clear(&r);
	return id;
}

static Runtime__V1__ContainerStatus *status(const char *id, int *ret_code)
{
	Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
	req.container_id = (char *)id;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ContainerStatus", &req.base,
				  &runtime__v1__container_status_response__descriptor, 10000, &r),
			 0);
	*ret_code = r.code;
	Runtime__V1__ContainerStatus *s = NULL;
	if (r.code == 0) {
		Runtime__V1__ContainerStatusResponse *resp = (Runtime__V1__ContainerStatusResponse *)r.resp;
		s = resp->status;
		resp->status = NULL;
	}
	cri_result_clear(&r);
	return s;
}

/* Waits (10 s) for the container to exit; its status then. */
static Runtime__V1__ContainerStatus *wait_exited(const char *id)
{
	for (int i = 0; i < 500; i++) {
		int code = 0;
		Runtime__V1__ContainerStatus *s = status(id, &code);
		assert_int_equal(code, 0);
		if (s->state == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
			return s;
		runtime__v1__container_status__free_unpacked(s, NULL);
		usleep(20000);
	}
	fail_msg("container %s did not exit", id);
	return NULL;
}

/* The container's log, its CRI lines' texts joined with newlines. */
static char *log_text(const pod_t *p, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.log", p->logdir, name);
	char *raw = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, path, 1 << 20, &raw, NULL, &err) < 0) {
		crl_error_clear(&err);
		return strdup("");
	}
	char *out = calloc(1, strlen(raw) + 1);
	size_t o = 0;
	for (char *line = strtok(raw, "\n"); line; line = strtok(NULL, "\n")) {
		/* <time> <stream> <F|P> <text> */
		char *t = line;
		for (int f = 0; f < 3 && t; f++)
			t = strchr(t, ' ') ? strchr(t, ' ') + 1 : NULL;
		if (t)
			o += (size_t)sprintf(out + o, "%s\n", t);
	}
	free(raw);
	return out;
}

/* Runs o to completion; its log. */
static char *run_to_end(pod_t *p, const ctr_opts_t *o, int *ret_exit)
{
	char *id = create_start(p, o);
	Runtime__V1__ContainerStatus *s = wait_exited(id);
	if (ret_exit)
		*ret_exit = s->exit_code;
	runtime__v1__container_status__free_unpacked(s, NULL);
	/* The monitor writes the last output before it records the exit. */
	char *log = log_text(p, o->name);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	free(id);
	return log;
}

static void expect_in(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

/* ExecSync of sh -c script in container id: its stdout (the caller frees) and exit code. */
static char *exec_out(const char *id, const char *script, int *ret_exit)
{
	Runtime__V1__ExecSyncRequest ex = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	char *cmd[] = { "/bin/sh", "-c", (char *)script };
	ex.container_id = (char *)id;
	ex.cmd = cmd;
	ex.n_cmd = 3;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ExecSync", &ex.base, &runtime__v1__exec_sync_response__descriptor, 20000, &r), 0);
	if (r.code)
		fail_msg("ExecSync %s: %s", script, r.message);
	Runtime__V1__ExecSyncResponse *er = (Runtime__V1__ExecSyncResponse *)r.resp;
	/* An empty stdout has no data at all. */
	char *out = er->stdout.len ? strndup((const char *)er->stdout.data, er->stdout.len) : strdup("");
	if (ret_exit)
		*ret_exit = er->exit_code;
	cri_result_clear(&r);
	return out;
}

/* --- tests --- */

static void test_image_config_merge(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "merge");
	int code = -1;
	/* Nothing given: the image's Entrypoint + Cmd, its Env and WorkingDir. */
	ctr_opts_t o = { .name = "img", .image = image("entry") };
	char *log = run_to_end(&p, &o, &code);
	expect_in(log, "image-cmd yes");
	assert_int_equal(code, 0);
	free(log);
	/* args alone replace Cmd (Entrypoint stays); envs override the image's by name. */
	const char *args[] = { "echo args-$SHARED-$FROM_IMAGE $(pwd)", NULL };
	ctr_opts_t a = { .name = "args", .image = image("entry"), .args = args, .env_key = "SHARED", .env_val = "cri" };
	log = run_to_end(&p, &a, NULL);
	expect_in(log, "args-cri-yes /work");
	free(log);
	/* command replaces Entrypoint and drops Cmd; working_dir replaces the image's. */
	const char *cmd[] = { "/bin/sh", "-c", "echo cmd-only $(pwd); exit 3", NULL };
	ctr_opts_t c = { .name = "cmd", .image = image("entry"), .command = cmd, .workdir = "/tmp" };
	log = run_to_end(&p, &c, &code);
	expect_in(log, "cmd-only /tmp");
	assert_int_equal(code, 3);
	free(log);
	/* An image with Cmd only, and a command. */
	const char *hn[] = { "/bin/sh", "-c", "hostname; cat /etc/hostname", NULL };
	ctr_opts_t h = { .name = "host", .image = image("plain"), .command = hn };
	log = run_to_end(&p, &h, NULL);
	assert_string_equal(log, "merge\nmerge\n");
	free(log);
	remove_pod(&p);
}

static void test_users(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "users");
	const char *id_cmd[] = { "/bin/sh", "-c", "id -u; id -g; id -G", NULL };
	/* The image's User by name; its groups from the image's /etc/group (policy Merge). */
	ctr_opts_t o = { .name = "img-user", .image = image("nobody"), .command = id_cmd };
	char *log = run_to_end(&p, &o, NULL);
	assert_string_equal(log, "65534\n65534\n65534 4242\n");
	free(log);
	/* run_as_user and run_as_group over the image's. */
	Runtime__V1__LinuxContainerSecurityContext sc = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT, gid = RUNTIME__V1__INT64_VALUE__INIT;
	uid.value = 1234;
	gid.value = 5678;
	sc.run_as_user = &uid;
	sc.run_as_group = &gid;
	int64_t sup[] = { 777 };
	sc.supplemental_groups = sup;
	sc.n_supplemental_groups = 1;
	ctr_opts_t u = { .name = "uid", .image = image("nobody"), .command = id_cmd, .sc = &sc };
	char *uid_ctr = create_start(&p, &u);
	Runtime__V1__ContainerStatus *s = wait_exited(uid_ctr);
	/* ContainerStatus.user: as applied. */
	assert_non_null(s->user);
	assert_int_equal(s->user->linux->uid, 1234);
	assert_int_equal(s->user->linux->gid, 5678);
	assert_int_equal(s->user->linux->n_supplemental_groups, 1);
	assert_int_equal(s->user->linux->supplemental_groups[0], 777);
	runtime__v1__container_status__free_unpacked(s, NULL);
	log = log_text(&p, "uid");
	assert_string_equal(log, "1234\n5678\n5678 777\n");
	free(log);
	assert_int_equal(id_call(RT "RemoveContainer", uid_ctr), 0);
	free(uid_ctr);
	/* A group without a user, and a user the image does not have: refused, naming the field. */
	Runtime__V1__LinuxContainerSecurityContext g = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	g.run_as_group = &gid;
	ctr_opts_t bad = { .name = "bad", .image = image("plain"), .command = id_cmd, .sc = &g };
	char *msg = NULL;
	assert_int_equal(create_ctr(&p, &bad, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "run_as_group");
	free(msg);
	Runtime__V1__LinuxContainerSecurityContext n = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	n.run_as_username = "nosuchuser";
	bad.sc = &n;
	assert_int_equal(create_ctr(&p, &bad, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "nosuchuser");
	free(msg);
	remove_pod(&p);
}

static void test_security_context(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "secctx");
	const char *caps[] = { "/bin/sh", "-c",
			       "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; touch /x 2>/dev/null && echo rw || echo ro",
			       NULL };
	/* Defaults: the default capability set (14), root writable. */
	ctr_opts_t o = { .name = "default", .image = image("plain"), .command = caps };
	char *log = run_to_end(&p, &o, NULL);
	expect_in(log, "CapEff:\t00000000a80425fb");
	expect_in(log, "NoNewPrivs:\t0");
	expect_in(log, "rw");
	free(log);
	/* Drop ALL and add one back (with and without CAP_), no_new_privs, a read-only root. */
	Runtime__V1__LinuxContainerSecurityContext sc = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__Capability cap = RUNTIME__V1__CAPABILITY__INIT;
	char *drop[] = { "ALL" }, *add[] = { "kill", "CAP_CHOWN" };
	cap.drop_capabilities = drop;
	cap.n_drop_capabilities = 1;
	cap.add_capabilities = add;
	cap.n_add_capabilities = 2;
	sc.capabilities = &cap;
	sc.no_new_privs = true;
	sc.readonly_rootfs = true;
	ctr_opts_t r = { .name = "restricted", .image = image("plain"), .command = caps, .sc = &sc };
	log = run_to_end(&p, &r, NULL);
	expect_in(log, "CapEff:\t0000000000000021");
	expect_in(log, "NoNewPrivs:\t1");
	expect_in(log, "ro");
	free(log);
	/* masked_paths and readonly_paths as given; privileged: mount works, paths are not masked. */
	Runtime__V1__LinuxContainerSecurityContext mp = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	char *masked[] = { "/proc/version" }, *ro[] = { "/proc/sys" };
	mp.masked_paths = masked;
	mp.n_masked_paths = 1;
	mp.readonly_paths = ro;
	mp.n_readonly_paths = 1;
	const char *paths[] = { "/bin/sh", "-c",
				"wc -c < /proc/version; (echo 1 > /proc/sys/kernel/shm_rmid_forced) 2>/dev/null && echo sys-rw "
				"|| echo sys-ro; mkdir -p /tmp/m; mount -t tmpfs t /tmp/m 2>/dev/null && echo mounted || echo no-mount",
				NULL };
	ctr_opts_t m = { .name = "masked", .image = image("plain"), .command = paths, .sc = &mp };
	log = run_to_end(&p, &m, NULL);
	assert_string_equal(log, "0\nsys-ro\nno-mount\n");
	free(log);
	mp.privileged = true;
	m.name = "privileged";
	log = run_to_end(&p, &m, NULL);
	expect_in(log, "sys-rw");
	expect_in(log, "mounted");
	free(log);
	/* seccomp: a Localhost profile (Docker/OCI format) that refuses mkdir; RuntimeDefault; a missing profile. */
	char prof[300];
	snprintf(prof, sizeof(prof), "%s/no-mkdir.json", D.dir);
	td_write_file(prof, "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
			    "\"syscalls\":[{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\"}]}");
	Runtime__V1__LinuxContainerSecurityContext sec = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
	sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
	sp.localhost_ref = prof;
	sec.seccomp = &sp;
	const char *mk[] = { "/bin/sh", "-c", "mkdir /tmp/d 2>/dev/null && echo made || echo refused; grep Seccomp: /proc/self/status",
			     NULL };
	ctr_opts_t sc1 = { .name = "seccomp-local", .image = image("plain"), .command = mk, .sc = &sec };
	log = run_to_end(&p, &sc1, NULL);
	expect_in(log, "refused");
	expect_in(log, "Seccomp:\t2");
	free(log);
	sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
	sc1.name = "seccomp-default";
	log = run_to_end(&p, &sc1, NULL);
	expect_in(log, "made");
	expect_in(log, "Seccomp:\t2");
	free(log);
	sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
	sp.localhost_ref = "/nonexistent/profile.json";
	sc1.name = "seccomp-missing";
	char *smsg = NULL;
	assert_int_equal(create_ctr(&p, &sc1, NULL, &smsg), CODE_INVALID_ARGUMENT);
	expect_in(smsg, "/nonexistent/profile.json");
	free(smsg);
	/* A host device made in the container, and allowed in its device cgroup as asked: rw opens it, m alone
	 * (mknod only) does not. */
	const char *tun[] = { "/bin/sh", "-c", "ls -l /dev/lc0; (exec 3<>/dev/lc0) 2>/dev/null && echo opened || echo denied",
			      NULL };
	ctr_opts_t dv = { .name = "dev-rw", .image = image("plain"), .command = tun, .dev_host = "/dev/loop-control",
			  .dev_ctr = "/dev/lc0", .dev_perm = "rw" };
	log = run_to_end(&p, &dv, NULL);
	expect_in(log, "10, 237");
	expect_in(log, "opened");
	free(log);
	dv.name = "dev-m";
	dv.dev_perm = "m";
	log = run_to_end(&p, &dv, NULL);
	expect_in(log, "denied");
	free(log);
	/* Not a device, and a path outside /dev: refused, naming them. */
	dv.name = "dev-bad";
	dv.dev_host = "/etc/passwd";
	char *dmsg = NULL;
	assert_int_equal(create_ctr(&p, &dv, NULL, &dmsg), CODE_INVALID_ARGUMENT);
	expect_in(dmsg, "/etc/passwd");
	free(dmsg);
	dv.dev_host = "/dev/loop-control";
	dv.dev_ctr = "/tmp/tun";
	assert_int_equal(create_ctr(&p, &dv, NULL, &dmsg), CODE_INVALID_ARGUMENT);
	expect_in(dmsg, "container_path");
	free(dmsg);
	/* An unknown capability is refused by name. */
	char *bogus[] = { "CAP_NOT_A_THING" };
	cap.add_capabilities = bogus;
	cap.n_add_capabilities = 1;
	char *msg = NULL;
	assert_int_equal(create_ctr(&p, &r, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "CAP_NOT_A_THING");
	free(msg);
	remove_pod(&p);
}

static void test_stop_exec_and_lists(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "lifecycle");
	/* The image's STOPSIGNAL (SIGUSR1) is what StopContainer sends first. */
	const char *trap[] = { "/bin/sh", "-c", "trap 'echo got-usr1; exit 3' USR1; echo ready; while true; do sleep 0.05; done",
			       NULL };
	ctr_opts_t o = { .name = "trap", .image = image("entry"), .command = trap, .label = "keep" };
	char *id = create_start(&p, &o);
	char *log = NULL;
	for (int i = 0; i < 250; i++) {
		free(log);
		log = log_text(&p, "trap");
		if (strstr(log, "ready"))
			break;
		usleep(20000);
	}
	expect_in(log, "ready");
	free(log);

	/* ExecSync: output, exit code, and a timeout that ends the command. */
	Runtime__V1__ExecSyncRequest ex = RUNTIME__V1__EXEC_SYNC_REQUEST__INIT;
	char *cmd[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 7" };
	ex.container_id = id;
	ex.cmd = cmd;
	ex.n_cmd = 3;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ExecSync", &ex.base, &runtime__v1__exec_sync_response__descriptor, 20000, &r), 0);
	assert_int_equal(r.code, 0);
	Runtime__V1__ExecSyncResponse *er = (Runtime__V1__ExecSyncResponse *)r.resp;
	assert_int_equal(er->exit_code, 7);
	assert_int_equal(er->stdout.len, 4);
	assert_memory_equal(er->stdout.data, "out\n", 4);
	assert_memory_equal(er->stderr.data, "err\n", 4);
	cri_result_clear(&r);
	char *slow[] = { "/bin/sh", "-c", "sleep 30" };
	ex.cmd = slow;
	ex.timeout = 1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cri_call(D.client, RT "ExecSync", &ex.base, NULL, 40000, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.code, CODE_DEADLINE_EXCEEDED);
	expect_in(r.message, "timed out");
	cri_result_clear(&r);
	assert_true(t1.tv_sec - t0.tv_sec < 20);

	/* UpdateContainerResources: the new limits, read from inside the container's own cgroup. */
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	res.memory_limit_in_bytes = 96 << 20;
	res.cpu_shares = 512;
	Runtime__V1__UpdateContainerResourcesRequest ur = RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_REQUEST__INIT;
	ur.container_id = id;
	ur.linux = &res;
	assert_int_equal(cri_call(D.client, RT "UpdateContainerResources", &ur.base, NULL, 20000, &r), 0);
	if (r.code)
		fail_msg("UpdateContainerResources: %s", r.message);
	cri_result_clear(&r);
	char *limits = exec_out(id, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares", NULL);
	assert_string_equal(limits, "100663296\n512\n");
	free(limits);
	int rc = 0;
	Runtime__V1__ContainerStatus *us = status(id, &rc);
	assert_non_null(us->resources);
	assert_int_equal(us->resources->linux->memory_limit_in_bytes, 96 << 20);
	runtime__v1__container_status__free_unpacked(us, NULL);
	/* Out of range: refused, naming the field. */
	res.cpu_shares = 1;
	assert_int_equal(cri_call(D.client, RT "UpdateContainerResources", &ur.base, NULL, 20000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	expect_in(r.message, "cpu_shares");
	cri_result_clear(&r);

	/* ListContainers and its filters. */
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	f.pod_sandbox_id = p.id;
	Runtime__V1__ListContainersRequest lr = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	lr.filter = &f;
	assert_int_equal(cri_call(D.client, RT "ListContainers", &lr.base, &runtime__v1__list_containers_response__descriptor,
				  10000, &r),
			 0);
	Runtime__V1__ListContainersResponse *l = (Runtime__V1__ListContainersResponse *)r.resp;
	assert_int_equal(l->n_containers, 1);
	assert_string_equal(l->containers[0]->id, id);
	assert_int_equal(l->containers[0]->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	cri_result_clear(&r);
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
	f.state = &sv;
	assert_int_equal(cri_call(D.client, RT "ListContainers", &lr.base, &runtime__v1__list_containers_response__descriptor,
				  10000, &r),
			 0);
	assert_int_equal(((Runtime__V1__ListContainersResponse *)r.resp)->n_containers, 0);
	cri_result_clear(&r);

	/* A second container with the same name in the pod: refused, naming the first. */
	char *msg = NULL;
	assert_int_equal(create_ctr(&p, &o, NULL, &msg), CODE_ALREADY_EXISTS);
	expect_in(msg, id);
	free(msg);

	/* Stop: the trap ran, so the exit code is the script's. Twice is fine. */
	Runtime__V1__StopContainerRequest sr = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	sr.container_id = id;
	sr.timeout = 20;
	assert_int_equal(cri_call(D.client, RT "StopContainer", &sr.base, NULL, 30000, &r), 0);
	assert_int_equal(r.code, 0);
	cri_result_clear(&r);
	int code = 0;
	Runtime__V1__ContainerStatus *s = status(id, &code);
	assert_int_equal(s->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	assert_int_equal(s->exit_code, 3);
	assert_string_equal(s->reason, "Error");
	assert_true(s->finished_at >= s->started_at && s->started_at >= s->created_at);
	assert_int_equal(strncmp(s->image_id, "sha256:", 7), 0);
	expect_in(s->image_ref, "ctr");
	runtime__v1__container_status__free_unpacked(s, NULL);
	log = log_text(&p, "trap");
	expect_in(log, "got-usr1");
	free(log);
	assert_int_equal(cri_call(D.client, RT "StopContainer", &sr.base, NULL, 30000, &r), 0);
	assert_int_equal(r.code, 0);
	cri_result_clear(&r);
	/* ExecSync in a stopped container is refused. */
	ex.cmd = cmd;
	ex.timeout = 0;
	assert_int_equal(cri_call(D.client, RT "ExecSync", &ex.base, NULL, 10000, &r), 0);
	assert_int_not_equal(r.code, 0);
	cri_result_clear(&r);
	/* Remove: gone; twice is fine; an unknown id too. */
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	status(id, &code);
	assert_int_equal(code, CODE_NOT_FOUND);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	char bundles[300];
	snprintf(bundles, sizeof(bundles), "%s/containers", D.root);
	char *ls = NULL;
	const char *lsa[] = { "/bin/ls", "-A", bundles, NULL };
	td_run(lsa, &ls, 5000);
	assert_string_equal(ls, "");
	free(ls);
	free(id);
	remove_pod(&p);
}

static void test_reopen_log(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "logs");
	const char *tick[] = { "/bin/sh", "-c", "i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.05; done", NULL };
	ctr_opts_t o = { .name = "tick", .image = image("plain"), .command = tick };
	char *id = create_start(&p, &o);
	char path[512], moved[512];
	snprintf(path, sizeof(path), "%s/tick.log", p.logdir);
	snprintf(moved, sizeof(moved), "%s/tick.log.1", p.logdir);
	/* Until it has logged something. */
	struct stat sb = { 0 };
	for (int i = 0; i < 250 && (stat(path, &sb) < 0 || sb.st_size == 0); i++)
		usleep(20000);
	assert_true(sb.st_size > 0);
	assert_int_equal(rename(path, moved), 0);
	Runtime__V1__ReopenContainerLogRequest req = RUNTIME__V1__REOPEN_CONTAINER_LOG_REQUEST__INIT;
	req.container_id = id;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ReopenContainerLog", &req.base, NULL, 10000, &r), 0);
	assert_int_equal(r.code, 0);
	cri_result_clear(&r);
	sb.st_size = 0;
	for (int i = 0; i < 250 && (stat(path, &sb) < 0 || sb.st_size == 0); i++)
		usleep(20000);
	assert_true(sb.st_size > 0);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	/* Reopening a container that is gone: NOT_FOUND. */
	assert_int_equal(cri_call(D.client, RT "ReopenContainerLog", &req.base, NULL, 10000, &r), 0);
	assert_int_equal(r.code, CODE_NOT_FOUND);
	cri_result_clear(&r);
	free(id);
	remove_pod(&p);
}

static void test_restart(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "restart");
	const char *forever[] = { "/bin/sh", "-c", "sleep 1000", NULL };
	/* "soon" exits once the daemon is gone: the test makes /vol/go then. */
	char vol[300], go[320];
	snprintf(vol, sizeof(vol), "%s/restart-vol", D.dir);
	snprintf(go, sizeof(go), "%s/go", vol);
	assert_int_equal(mkdir(vol, 0755), 0);
	const char *soon[] = { "/bin/sh", "-c", "while [ ! -e /vol/go ]; do sleep 0.05; done; exit 5", NULL };
	ctr_opts_t a = { .name = "forever", .image = image("plain"), .command = forever };
	ctr_opts_t b = { .name = "soon", .image = image("plain"), .command = soon, .mnt_host = vol, .mnt_ctr = "/vol" };
	char *ia = create_start(&p, &a), *ib = create_start(&p, &b);
	/* A created container, never started. */
	ctr_opts_t c = { .name = "created", .image = image("plain"), .command = forever };
	char *ic = NULL, *msg = NULL;
	assert_int_equal(create_ctr(&p, &c, &ic, &msg), 0);
	free(msg);
	/* The daemon dies; "soon" exits while it is away (its monitor records the exit). A bundle left by a create
	 * cut off before its record is removed at start; one whose record this crio-lite cannot read stays, with
	 * the record. */
	assert_true(td_stop(&D, SIGKILL, 10000) >= 0);
	td_write_file(go, "");
	char orphan[300], kept[300], kept_rec[320];
	snprintf(orphan, sizeof(orphan), "%s/containers/%064d", D.root, 42);
	mkdir(orphan, 0700);
	snprintf(kept, sizeof(kept), "%s/containers/%064d", D.root, 43);
	snprintf(kept_rec, sizeof(kept_rec), "%s.json", kept);
	assert_int_equal(mkdir(kept, 0700), 0);
	td_write_file(kept_rec, "{\"version\":999}");
	char exitrec[512];
	snprintf(exitrec, sizeof(exitrec), "%s/pods/%s/exits/%s.json", D.runroot, p.id, ib);
	for (int i = 0; i < 500 && access(exitrec, F_OK) < 0; i++)
		usleep(20000);
	assert_int_equal(access(exitrec, F_OK), 0);
	if (td_start(&D, NULL) < 0)
		fail_msg("daemon did not restart");
	assert_int_equal(access(orphan, F_OK), -1);
	assert_int_equal(access(kept, F_OK), 0);
	assert_int_equal(access(kept_rec, F_OK), 0);
	assert_int_equal(unlink(kept_rec), 0);
	assert_int_equal(rmdir(kept), 0);
	int code = 0;
	Runtime__V1__ContainerStatus *s = status(ia, &code);
	assert_int_equal(code, 0);
	assert_int_equal(s->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
	runtime__v1__container_status__free_unpacked(s, NULL);
	s = status(ib, &code);
	assert_int_equal(s->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
	assert_int_equal(s->exit_code, 5);
	assert_true(s->finished_at > s->started_at);
	runtime__v1__container_status__free_unpacked(s, NULL);
	s = status(ic, &code);
	assert_int_equal(s->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED);
	runtime__v1__container_status__free_unpacked(s, NULL);
	/* Names are reserved again. */
	assert_int_equal(create_ctr(&p, &a, NULL, &msg), CODE_ALREADY_EXISTS);
	free(msg);
	/* The pod's removal takes its containers with it. */
	remove_pod(&p);
	status(ia, &code);
	assert_int_equal(code, CODE_NOT_FOUND);
	status(ic, &code);
	assert_int_equal(code, CODE_NOT_FOUND);
	char bundles[300];
	snprintf(bundles, sizeof(bundles), "%s/containers", D.root);
	char *ls = NULL;
	const char *lsa[] = { "/bin/ls", "-A", bundles, NULL };
	td_run(lsa, &ls, 5000);
	assert_string_equal(ls, "");
	free(ls);
	free(ia);
	free(ib);
	free(ic);
	unlink(go);
	rmdir(vol);
}

/* A container past its memory limit is killed by the kernel: EXITED with reason OOMKilled. */
static void test_oom_killed(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "oom");
	/* tail keeps the whole line it reads; /dev/zero has no newline. */
	const char *hog[] = { "/bin/sh", "-c", "tail /dev/zero", NULL };
	ctr_opts_t o = { .name = "hog", .image = image("plain"), .command = hog, .memory = 24 << 20 };
	char *id = create_start(&p, &o);
	Runtime__V1__ContainerStatus *s = wait_exited(id);
	assert_string_equal(s->reason, "OOMKilled");
	assert_int_equal(s->exit_code, 137);
	runtime__v1__container_status__free_unpacked(s, NULL);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	free(id);
	remove_pod(&p);
}

/* Each propagation mode, against a host directory this test makes a shared mount of its own. */
static void test_mount_propagation(void **st)
{
	(void)st;
	char src[300], sub[320], cmd[2048];
	snprintf(src, sizeof(src), "%s/prop", D.dir);
	snprintf(sub, sizeof(sub), "%s/inner", src);
	mkdir(src, 0755);
	snprintf(cmd, sizeof(cmd), "mount --bind %s %s && mount --make-rshared %s && mkdir -p %s", src, src, src, sub);
	assert_int_equal(system(cmd), 0);
	pod_t p;
	run_pod(&p, "prop");
	Runtime__V1__LinuxContainerSecurityContext priv = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	priv.privileged = true;
	const char *sleeper[] = { "/bin/sh", "-c", "sleep 1000", NULL };
	static const int modes[] = { RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE,
				     RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER,
				     RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL };
	static const char *const names[] = { "private", "rslave", "rshared" };
	char *ids[3];
	for (int i = 0; i < 3; i++) {
		ctr_opts_t o = { .name = names[i], .image = image("plain"), .command = sleeper, .sc = &priv, .mnt_host = src,
				 .mnt_ctr = "/vol", .mnt_propagation = modes[i] };
		ids[i] = create_start(&p, &o);
	}
	/* A mount made on the node after the containers started reaches rslave and rshared only. */
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs crlprop %s && touch %s/from-host", sub, sub);
	assert_int_equal(system(cmd), 0);
	for (int i = 0; i < 3; i++) {
		char *out = exec_out(ids[i], "ls /vol/inner", NULL);
		bool seen = strstr(out, "from-host") != NULL;
		free(out);
		if (seen != (i > 0))
			fail_msg("%s: the node's mount is %s the container", names[i], seen ? "seen in" : "missing from");
	}
	/* A mount made in the rshared container reaches the node. */
	int code = -1;
	free(exec_out(ids[2], "mkdir -p /vol/back && mount -t tmpfs crlback /vol/back && touch /vol/back/from-ctr", &code));
	assert_int_equal(code, 0);
	char back[400];
	snprintf(back, sizeof(back), "%s/back/from-ctr", src);
	assert_int_equal(access(back, F_OK), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(id_call(RT "RemoveContainer", ids[i]), 0);
		free(ids[i]);
	}
	remove_pod(&p);
	/* Bidirectional needs a shared mount on the node: a private one is refused, naming it. */
	snprintf(cmd, sizeof(cmd), "umount -R %s", src);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "mount --bind %s %s && mount --make-private %s", src, src, src);
	assert_int_equal(system(cmd), 0);
	run_pod(&p, "prop2");
	ctr_opts_t o = { .name = "refused", .image = image("plain"), .command = sleeper, .sc = &priv, .mnt_host = src,
			 .mnt_ctr = "/vol", .mnt_propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL };
	char *msg = NULL;
	assert_int_equal(create_ctr(&p, &o, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "not shared");
	free(msg);
	remove_pod(&p);
	snprintf(cmd, sizeof(cmd), "umount -R %s", src);
	assert_int_equal(system(cmd), 0);
}

typedef struct par {
	int i;
	pod_t pod;
	char *ids[2];
	int failures;
} par_t;

/* Threads of their own: a client each, no assertion (failures are counted and asserted after the join). */
static void *par_main(void *arg)
{
	par_t *w = arg;
	cri_client_t *c = cri_client_new(D.sock);
	char name[32];
	snprintf(name, sizeof(name), "par%d", w->i);
	if (try_run_pod(c, &w->pod, name, NULL) != 0) {
		w->failures++;
		cri_client_free(c);
		return NULL;
	}
	const char *cmd[] = { "/bin/sh", "-c", "sleep 1000", NULL };
	char img[128];
	snprintf(img, sizeof(img), "127.0.0.1:%d/ctr:plain", reg_port);
	for (int k = 0; k < 2; k++) {
		char cn[16];
		snprintf(cn, sizeof(cn), "c%d", k);
		ctr_opts_t o = { .name = cn, .image = img, .command = cmd };
		if (!(w->ids[k] = try_create_start(c, &w->pod, &o)))
			w->failures++;
	}
	cri_client_free(c);
	return NULL;
}

static void *par_remove(void *arg)
{
	par_t *w = arg;
	cri_client_t *c = cri_client_new(D.sock);
	/* One container removed by itself, the other with its pod. */
	w->failures += w->ids[0] && id_call_with(c, RT "RemoveContainer", w->ids[0]) != 0;
	w->failures += w->pod.id && id_call_with(c, RT "StopPodSandbox", w->pod.id) != 0;
	w->failures += w->pod.id && id_call_with(c, RT "RemovePodSandbox", w->pod.id) != 0;
	cri_client_free(c);
	return NULL;
}

#define N_PAR 20

/* 20 pods of 2 containers each, made and removed in parallel: all run, and nothing is left behind. */
static void test_parallel(void **st)
{
	(void)st;
	par_t ws[N_PAR];
	pthread_t ts[N_PAR];
	memset(ws, 0, sizeof(ws));
	for (int i = 0; i < N_PAR; i++) {
		ws[i].i = i;
		assert_int_equal(pthread_create(&ts[i], NULL, par_main, &ws[i]), 0);
	}
	for (int i = 0; i < N_PAR; i++) {
		pthread_join(ts[i], NULL);
		assert_int_equal(ws[i].failures, 0);
	}
	Runtime__V1__ContainerStateValue sv = RUNTIME__V1__CONTAINER_STATE_VALUE__INIT;
	sv.state = RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
	Runtime__V1__ContainerFilter f = RUNTIME__V1__CONTAINER_FILTER__INIT;
	f.state = &sv;
	Runtime__V1__ListContainersRequest lr = RUNTIME__V1__LIST_CONTAINERS_REQUEST__INIT;
	lr.filter = &f;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ListContainers", &lr.base, &runtime__v1__list_containers_response__descriptor,
				  10000, &r),
			 0);
	assert_int_equal(((Runtime__V1__ListContainersResponse *)r.resp)->n_containers, 2 * N_PAR);
	cri_result_clear(&r);
	for (int i = 0; i < N_PAR; i++)
		assert_int_equal(pthread_create(&ts[i], NULL, par_remove, &ws[i]), 0);
	for (int i = 0; i < N_PAR; i++) {
		pthread_join(ts[i], NULL);
		assert_int_equal(ws[i].failures, 0);
		free(ws[i].ids[0]);
		free(ws[i].ids[1]);
		free(ws[i].pod.id);
	}
	/* Nothing left: no container, bundle, record, monitor, mount or cgroup. */
	assert_int_equal(cri_call(D.client, RT "ListContainers", &lr.base, &runtime__v1__list_containers_response__descriptor,
				  10000, &r),
			 0);
	assert_int_equal(((Runtime__V1__ListContainersResponse *)r.resp)->n_containers, 0);
	cri_result_clear(&r);
	char dir[300];
	snprintf(dir, sizeof(dir), "%s/containers", D.root);
	char *ls = NULL;
	const char *lsa[] = { "/bin/ls", "-A", dir, NULL };
	td_run(lsa, &ls, 5000);
	assert_string_equal(ls, "");
	free(ls);
	for (int i = 0; i < 250 && td_monitors(D.runroot, false) > 0; i++)
		usleep(20000);
	assert_int_equal(td_monitors(D.runroot, false), 0);
	assert_int_equal(td_mounts_mentioning(D.runroot), 0);
	assert_int_equal(pod_cgroups_left("*"), 0);
}

/* A process left in the pod's cgroup (as a container's child that escaped its kill would be) does not keep the
 * pod from going: it is killed with it. */
static void test_pod_removal_kills_leftovers(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "leftover");
	pid_t child = fork();
	if (child == 0) {
		execl("/bin/sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	char procs[400], pid[16];
	snprintf(procs, sizeof(procs), "/sys/fs/cgroup/pids%s/crio-lite-%s/cgroup.procs", cgparent, p.id);
	snprintf(pid, sizeof(pid), "%d", (int)child);
	td_write_file(procs, pid);
	remove_pod(&p);
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(pod_cgroups_left("*"), 0);
}

/* In the pod's shared PID namespace a container's init can exit leaving children behind: removing the container
 * kills them, and its cgroup goes. */
static void test_remove_kills_children(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "orphans");
	const char *cmd[] = { "/bin/sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & exit 0", NULL };
	ctr_opts_t o = { .name = "parent", .image = image("plain"), .command = cmd };
	char *id = create_start(&p, &o);
	runtime__v1__container_status__free_unpacked(wait_exited(id), NULL);
	char dir[600], procs[640], buf[64];
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/pids%s/crio-lite-%s/%s", cgparent, p.id, id);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	assert_true(crl_fs_read_small(procs, buf, sizeof(buf)) > 0);
	pid_t child = (pid_t)atoi(buf);
	assert_true(child > 0 && td_pid_runs(child));
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	assert_false(td_pid_runs(child));
	assert_int_equal(access(dir, F_OK), -1);
	free(id);
	remove_pod(&p);
}

static Runtime__V1__ContainerStats *ctr_stats(const char *id, int *ret_code)
{
	Runtime__V1__ContainerStatsRequest req = RUNTIME__V1__CONTAINER_STATS_REQUEST__INIT;
	req.container_id = (char *)id;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ContainerStats", &req.base, &runtime__v1__container_stats_response__descriptor,
				  10000, &r),
			 0);
	*ret_code = r.code;
	Runtime__V1__ContainerStats *st = NULL;
	if (r.code == 0) {
		st = ((Runtime__V1__ContainerStatsResponse *)r.resp)->stats;
		((Runtime__V1__ContainerStatsResponse *)r.resp)->stats = NULL;
	}
	cri_result_clear(&r);
	return st;
}

static uint64_t cgroup_value(const char *ctrl, const char *pod, const char *id, const char *file)
{
	char p[600];
	snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/crio-lite-%s/%s/%s", ctrl, cgparent, pod, id, file);
	char buf[64];
	return crl_fs_read_small(p, buf, sizeof(buf)) > 0 ? strtoull(buf, NULL, 10) : 0;
}

/* Stats of a container that burns a core and holds 16 MiB of shared memory, against its cgroup files. */
static void test_stats(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "stats");
	const char *burn[] = { "/bin/sh", "-c",
			       "head -c 16777216 /dev/zero > /dev/shm/hold; head -c 1048576 /dev/zero > /data; "
			       "while :; do :; done",
			       NULL };
	ctr_opts_t o = { .name = "burn", .image = image("plain"), .command = burn, .label = "stats" };
	char *id = create_start(&p, &o);
	/* Until the memory is held. */
	int code = 0;
	Runtime__V1__ContainerStats *s = NULL;
	for (int i = 0; i < 250; i++) {
		if (s)
			runtime__v1__container_stats__free_unpacked(s, NULL);
		s = ctr_stats(id, &code);
		assert_int_equal(code, 0);
		if (s->memory->working_set_bytes->value >= 16u << 20 && s->writable_layer->used_bytes->value >= 1u << 20)
			break;
		usleep(20000);
	}
	assert_string_equal(s->attributes->id, id);
	assert_string_equal(s->attributes->metadata->name, "burn");
	assert_true(s->memory->working_set_bytes->value >= 16u << 20);
	assert_true(s->writable_layer->used_bytes->value >= 1u << 20);
	assert_true(s->writable_layer->inodes_used->value >= 1);
	assert_non_null(s->writable_layer->fs_id->mountpoint);
	uint64_t cpu1 = s->cpu->usage_core_nano_seconds->value;
	int64_t t1 = s->cpu->timestamp;
	runtime__v1__container_stats__free_unpacked(s, NULL);
	usleep(300000);
	s = ctr_stats(id, &code);
	/* A busy loop: the counter moved, and usage_nano_cores is its rate since the sample before (what share of a
	 * core the loop got depends on the machine's load: not asserted). */
	uint64_t cpu2 = s->cpu->usage_core_nano_seconds->value;
	int64_t t2 = s->cpu->timestamp;
	assert_true(cpu2 > cpu1 && t2 > t1);
	uint64_t cores = s->cpu->usage_nano_cores->value;
	double want = (double)(cpu2 - cpu1) * 1e9 / (double)(t2 - t1);
	if (cores == 0 || (double)cores < want * 0.999 || (double)cores > want * 1.001)
		fail_msg("usage_nano_cores %llu, not the rate %.0f of the two samples", (unsigned long long)cores, want);
	/* Within 5% of the cgroup's own figures, read right after. */
	uint64_t usage = cgroup_value("memory", p.id, id, "memory.usage_in_bytes");
	uint64_t got = s->memory->usage_bytes->value;
	if (got < usage * 95 / 100 || got > usage * 105 / 100)
		fail_msg("usage_bytes %llu vs memory.usage_in_bytes %llu", (unsigned long long)got, (unsigned long long)usage);
	uint64_t acct = cgroup_value("cpuacct", p.id, id, "cpuacct.usage");
	assert_true(acct >= cpu2);
	runtime__v1__container_stats__free_unpacked(s, NULL);

	/* ListContainerStats with filters; an unknown id is NOT_FOUND. */
	Runtime__V1__ContainerStatsFilter f = RUNTIME__V1__CONTAINER_STATS_FILTER__INIT;
	f.pod_sandbox_id = p.id;
	Runtime__V1__ListContainerStatsRequest lr = RUNTIME__V1__LIST_CONTAINER_STATS_REQUEST__INIT;
	lr.filter = &f;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ListContainerStats", &lr.base,
				  &runtime__v1__list_container_stats_response__descriptor, 10000, &r),
			 0);
	assert_int_equal(r.code, 0);
	assert_int_equal(((Runtime__V1__ListContainerStatsResponse *)r.resp)->n_stats, 1);
	cri_result_clear(&r);
	Runtime__V1__ContainerStatsFilter__LabelSelectorEntry le = RUNTIME__V1__CONTAINER_STATS_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__ContainerStatsFilter__LabelSelectorEntry *les[1] = { &le };
	le.key = "role";
	le.value = "nope";
	f.label_selector = les;
	f.n_label_selector = 1;
	assert_int_equal(cri_call(D.client, RT "ListContainerStats", &lr.base,
				  &runtime__v1__list_container_stats_response__descriptor, 10000, &r),
			 0);
	assert_int_equal(((Runtime__V1__ListContainerStatsResponse *)r.resp)->n_stats, 0);
	cri_result_clear(&r);
	s = ctr_stats("0123456789abcdef", &code);
	assert_int_equal(code, CODE_NOT_FOUND);

	/* PodSandboxStats: the pod's cgroup covers its container; its processes; the container's stats inside. */
	Runtime__V1__PodSandboxStatsRequest pr = RUNTIME__V1__POD_SANDBOX_STATS_REQUEST__INIT;
	pr.pod_sandbox_id = p.id;
	assert_int_equal(cri_call(D.client, RT "PodSandboxStats", &pr.base,
				  &runtime__v1__pod_sandbox_stats_response__descriptor, 10000, &r),
			 0);
	assert_int_equal(r.code, 0);
	Runtime__V1__PodSandboxStats *ps = ((Runtime__V1__PodSandboxStatsResponse *)r.resp)->stats;
	assert_string_equal(ps->attributes->id, p.id);
	assert_true(ps->linux->cpu->usage_core_nano_seconds->value >= cpu2);
	assert_true(ps->linux->memory->working_set_bytes->value >= 16u << 20);
	assert_true(ps->linux->process->process_count->value >= 1);
	assert_non_null(ps->linux->network);
	assert_int_equal(ps->linux->n_containers, 1);
	assert_string_equal(ps->linux->containers[0]->attributes->id, id);
	cri_result_clear(&r);
	Runtime__V1__ListPodSandboxStatsRequest lpr = RUNTIME__V1__LIST_POD_SANDBOX_STATS_REQUEST__INIT;
	assert_int_equal(cri_call(D.client, RT "ListPodSandboxStats", &lpr.base,
				  &runtime__v1__list_pod_sandbox_stats_response__descriptor, 10000, &r),
			 0);
	assert_int_equal(r.code, 0);
	assert_true(((Runtime__V1__ListPodSandboxStatsResponse *)r.resp)->n_stats >= 1);
	cri_result_clear(&r);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	free(id);
	remove_pod(&p);
}

/* The next container event of the stream (10 s), or a failure. */
static Runtime__V1__ContainerEventResponse *next_event(cri_stream_t *s)
{
	ProtobufCMessage *m = NULL;
	cri_result_t r = { 0 };
	int got = cri_stream_next(s, &runtime__v1__container_event_response__descriptor, 10000, &m, &r);
	if (got != 1)
		fail_msg("no container event (%d): %s", got, r.message ? r.message : "");
	return (Runtime__V1__ContainerEventResponse *)m;
}

static void test_events(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "events");
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	cri_stream_t *s = cri_stream_open(D.client, RT "GetContainerEvents", &req.base, 60000);
	assert_true(td_wait_log(&D, "container event stream opened", 5000));
	const char *cmd[] = { "/bin/busybox", "sleep", "1000", NULL };
	ctr_opts_t o = { .name = "ev", .image = image("plain"), .command = cmd };
	char *id = create_start(&p, &o);
	static const Runtime__V1__ContainerEventType want[] = { RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT,
								RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT };
	for (size_t i = 0; i < 2; i++) {
		Runtime__V1__ContainerEventResponse *ev = next_event(s);
		assert_string_equal(ev->container_id, id);
		assert_int_equal(ev->container_event_type, want[i]);
		assert_true(ev->created_at > 0);
		/* The pod's status and its containers', as kubelet's evented PLEG reads them. */
		assert_non_null(ev->pod_sandbox_status);
		assert_string_equal(ev->pod_sandbox_status->id, p.id);
		assert_int_equal(ev->n_containers_statuses, 1);
		assert_string_equal(ev->containers_statuses[0]->id, id);
		assert_int_equal(ev->containers_statuses[0]->state, i == 0 ? RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED
									      : RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING);
		runtime__v1__container_event_response__free_unpacked(ev, NULL);
	}
	/* A second container that exits by itself: its STOPPED comes without anyone asking (the exit watcher). */
	const char *quick[] = { "/bin/sh", "-c", "exit 0", NULL };
	ctr_opts_t q = { .name = "ev-quick", .image = image("plain"), .command = quick };
	char *qid = create_start(&p, &q);
	Runtime__V1__ContainerEventResponse *ev = NULL;
	for (int i = 0; i < 3; i++) {
		ev = next_event(s);
		assert_string_equal(ev->container_id, qid);
		if (ev->container_event_type == RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT)
			break;
		runtime__v1__container_event_response__free_unpacked(ev, NULL);
		ev = NULL;
	}
	assert_non_null(ev);
	assert_int_equal(ev->n_containers_statuses, 2);
	bool seen = false;
	for (size_t i = 0; i < 2; i++)
		if (strcmp(ev->containers_statuses[i]->id, qid) == 0) {
			seen = true;
			assert_int_equal(ev->containers_statuses[i]->state, RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED);
			assert_string_equal(ev->containers_statuses[i]->reason, "Completed");
		}
	assert_true(seen);
	runtime__v1__container_event_response__free_unpacked(ev, NULL);
	assert_int_equal(id_call(RT "RemoveContainer", qid), 0);
	ev = next_event(s);
	assert_int_equal(ev->container_event_type, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
	assert_string_equal(ev->container_id, qid);
	runtime__v1__container_event_response__free_unpacked(ev, NULL);
	/* Stopped and removed by the client: STOPPED, then DELETED with no container left in the pod. */
	Runtime__V1__StopContainerRequest sr = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	sr.container_id = id;
	sr.timeout = 10;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "StopContainer", &sr.base, NULL, 30000, &r), 0);
	assert_int_equal(r.code, 0);
	cri_result_clear(&r);
	ev = next_event(s);
	assert_int_equal(ev->container_event_type, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
	assert_string_equal(ev->container_id, id);
	runtime__v1__container_event_response__free_unpacked(ev, NULL);
	assert_int_equal(id_call(RT "RemoveContainer", id), 0);
	ev = next_event(s);
	assert_int_equal(ev->container_event_type, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
	assert_string_equal(ev->container_id, id);
	assert_int_equal(ev->n_containers_statuses, 0);
	runtime__v1__container_event_response__free_unpacked(ev, NULL);
	free(qid);
	cri_stream_cancel(s);
	cri_stream_free(s);
	free(id);
	remove_pod(&p);
}

/* A pod of the runc handler: the same containers, created, started, exec'd and stopped by runc. */
static void test_runtime_handler(void **st)
{
	(void)st;
	Runtime__V1__StatusRequest sreq = RUNTIME__V1__STATUS_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "Status", &sreq.base, &runtime__v1__status_response__descriptor, 10000, &r), 0);
	Runtime__V1__StatusResponse *sr = (Runtime__V1__StatusResponse *)r.resp;
	assert_int_equal(sr->n_runtime_handlers, 2);
	assert_string_equal(sr->runtime_handlers[0]->name, "");
	assert_string_equal(sr->runtime_handlers[1]->name, "runc");
	cri_result_clear(&r);
	pod_t p;
	run_pod_handler(&p, "runc-pod", "runc");
	const char *cmd[] = { "/bin/sh", "-c", "echo via-runc $(hostname); id -u; exit 4", NULL };
	ctr_opts_t o = { .name = "once", .image = image("entry"), .command = cmd };
	int code = 0;
	char *log = run_to_end(&p, &o, &code);
	assert_string_equal(log, "via-runc runc-pod\n0\n");
	assert_int_equal(code, 4);
	free(log);
	const char *forever[] = { "/bin/sh", "-c", "trap 'exit 9' TERM; while true; do sleep 0.05; done", NULL };
	ctr_opts_t f = { .name = "forever", .image = image("plain"), .command = forever };
	char *id = create_start(&p, &f);
	char *out = exec_out(id, "echo exec-runc; exit 2", &code);
	assert_int_equal(code, 2);
	assert_string_equal(out, "exec-runc\n");
	free(out);
	Runtime__V1__StopContainerRequest stop = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	stop.container_id = id;
	stop.timeout = 20;
	assert_int_equal(cri_call(D.client, RT "StopContainer", &stop.base, NULL, 30000, &r), 0);
	assert_int_equal(r.code, 0);
	cri_result_clear(&r);
	Runtime__V1__ContainerStatus *s = status(id, &code);
	assert_int_equal(s->exit_code, 9);
	runtime__v1__container_status__free_unpacked(s, NULL);
	free(id);
	char *pod = strdup(p.id);
	remove_pod(&p);
	/* The pod's cgroup goes from every hierarchy, name=systemd too, where runc made its containers' as well. */
	assert_int_equal(pod_cgroups_left(pod), 0);
	free(pod);
	/* The rootfs runc was given is unmounted with the container. */
	assert_int_equal(td_mounts_mentioning(D.root), 0);
}

/* Pid mode TARGET: a container joins the running target's PID namespace; a target that runs no process, or one of
 * another pod, is refused. */
static void test_target_pid(void **st)
{
	(void)st;
	pod_t p, q;
	run_pod(&p, "target");
	run_pod(&q, "target-other");
	Runtime__V1__NamespaceOption own = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	own.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	Runtime__V1__LinuxContainerSecurityContext osc = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	osc.namespace_options = &own;
	const char *forever[] = { "/bin/sh", "-c", "while :; do sleep 0.05; done", NULL };
	ctr_opts_t t = { .name = "the-target", .image = image("plain"), .command = forever, .sc = &osc };
	char *tid = create_start(&p, &t);
	Runtime__V1__NamespaceOption tgt = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	tgt.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
	tgt.target_id = tid;
	Runtime__V1__LinuxContainerSecurityContext tsc = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	tsc.namespace_options = &tgt;
	const char *show[] = { "/bin/sh", "-c", "echo \"$(tr '\\0' ' ' < /proc/1/cmdline)\"", NULL };
	ctr_opts_t j = { .name = "joiner", .image = image("plain"), .command = show, .sc = &tsc };
	int code = -1;
	char *log = run_to_end(&p, &j, &code);
	assert_string_equal(log, "/bin/sh -c while :; do sleep 0.05; done \n");
	assert_int_equal(code, 0);
	free(log);
	/* A target that has exited. */
	const char *once[] = { "true", NULL };
	ctr_opts_t gone = { .name = "gone", .image = image("plain"), .command = once, .sc = &osc };
	char *gid = create_start(&p, &gone);
	runtime__v1__container_status__free_unpacked(wait_exited(gid), NULL);
	tgt.target_id = gid;
	char *msg = NULL;
	ctr_opts_t late = { .name = "late", .image = image("plain"), .command = show, .sc = &tsc };
	assert_int_equal(create_ctr(&p, &late, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "names no running container");
	free(msg);
	/* A target in another pod. */
	ctr_opts_t there = { .name = "there", .image = image("plain"), .command = forever, .sc = &osc };
	char *oid = create_start(&q, &there);
	tgt.target_id = oid;
	assert_int_equal(create_ctr(&p, &late, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "not in this one");
	free(msg);
	free(tid);
	free(gid);
	free(oid);
	remove_pod(&q);
	remove_pod(&p);
}

static void test_invalid(void **st)
{
	(void)st;
	pod_t p;
	run_pod(&p, "invalid");
	char *msg = NULL;
	ctr_opts_t noimg = { .name = "x", .image = "127.0.0.1:1/none:here" };
	assert_int_equal(create_ctr(&p, &noimg, NULL, &msg), CODE_NOT_FOUND);
	expect_in(msg, "127.0.0.1:1/none:here");
	free(msg);
	ctr_opts_t noname = { .name = "", .image = image("plain") };
	assert_int_equal(create_ctr(&p, &noname, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "config.metadata.name");
	free(msg);
	const char *cmd[] = { "true", NULL };
	ctr_opts_t rel = { .name = "rel", .image = image("plain"), .command = cmd, .workdir = "relative" };
	assert_int_equal(create_ctr(&p, &rel, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "working_dir");
	free(msg);
	ctr_opts_t tiny = { .name = "tiny", .image = image("plain"), .command = cmd, .memory = 100 };
	assert_int_equal(create_ctr(&p, &tiny, NULL, &msg), CODE_INVALID_ARGUMENT);
	expect_in(msg, "config.linux.resources.memory_limit_in_bytes 100 is below one page");
	free(msg);
	/* Nothing was left of the refused ones. */
	char bundles[300];
	snprintf(bundles, sizeof(bundles), "%s/containers", D.root);
	char *ls = NULL;
	const char *lsa[] = { "/bin/ls", "-A", bundles, NULL };
	td_run(lsa, &ls, 5000);
	assert_string_equal(ls, "");
	free(ls);
	/* A container in a stopped pod: refused. */
	assert_int_equal(id_call(RT "StopPodSandbox", p.id), 0);
	ctr_opts_t late = { .name = "late", .image = image("plain"), .command = cmd };
	assert_int_not_equal(create_ctr(&p, &late, NULL, &msg), 0);
	expect_in(msg, "not ready");
	free(msg);
	remove_pod(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_config_merge), cmocka_unit_test(test_users),
		cmocka_unit_test(test_security_context),   cmocka_unit_test(test_stop_exec_and_lists),
		cmocka_unit_test(test_reopen_log),	   cmocka_unit_test(test_restart),
		cmocka_unit_test(test_oom_killed),	   cmocka_unit_test(test_mount_propagation),
		cmocka_unit_test(test_parallel),	   cmocka_unit_test(test_pod_removal_kills_leftovers),
		cmocka_unit_test(test_remove_kills_children),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_events),		   cmocka_unit_test(test_runtime_handler),
		cmocka_unit_test(test_target_pid),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
