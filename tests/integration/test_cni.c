/* SPDX-License-Identifier: Apache-2.0 */
/* Plugin execution with Debian's plugins (/usr/lib/cni) in a network namespace of this test's own, on a bridge
 * and a 10.199.x.0/24 subnet of its own with no default route, and with shell-script plugins that hang, fail,
 * flood or record what they were given. Needs root. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni/conf.h"
#include "cni/exec.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/timefmt.h"
#include "harness.h"

#define DEBIAN_PLUGINS "/usr/lib/cni"

static struct {
	char dir[64];       /* everything of this test */
	char netdir[96];    /* conflists */
	char plugins[96];   /* the script plugins */
	char ipam[96];      /* host-local's dataDir */
	char rec[96];       /* what the recording plugin saw */
	char ns[64], nspath[96], bridge[16];
	int subnet;         /* the x of 10.199.x.0/24 */
	td_net_state_t net; /* the node's, put back at the end */
} T;

static char *dirs[3];

/* sh -c, its exit code (-1 when it did not exit), and its output in *out when out is not NULL. */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (!cmd)
		return -1;
	char *o = NULL;
	int st = td_run((const char *const[]){ "/bin/sh", "-c", cmd, NULL }, &o, 30000);
	free(cmd);
	if (out)
		*out = o;
	else
		free(o);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_exec(const char *name, const char *content)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", T.plugins, name);
	td_write_file(path, content);
	assert_int_equal(chmod(path, 0755), 0);
}

static void write_net(const char *name, const char *plugins)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s.conflist", T.netdir, name);
	char *text = NULL;
	assert_true(asprintf(&text, "{\"cniVersion\":\"1.0.0\",\"name\":\"%s\",\"plugins\":[%s]}", name, plugins) > 0);
	td_write_file(path, text);
	free(text);
}

static char *bridge_plugin(void)
{
	char *s = NULL;
	assert_true(asprintf(&s,
			     "{\"type\":\"bridge\",\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":false,"
			     "\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.199.%d.0/24\"}]],"
			     "\"dataDir\":\"%s\"}}",
			     T.bridge, T.subnet, T.ipam) > 0);
	return s;
}

static cni_network_t *load(const char *name)
{
	cni_network_t *net = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (cni_conf_load(T.netdir, name, &net, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	return net;
}

/* host-local's leases of a network: files named by the IP. */
static int leases(const char *net)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", T.ipam, net);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		n += strncmp(de->d_name, "10.199.", 7) == 0;
	if (d)
		closedir(d);
	return n;
}

static bool lease_exists(const char *net, const char *ip)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/%s/%s", T.ipam, net, ip);
	return access(path, F_OK) == 0;
}

/* Dead, or dead and waiting for its reaper (the plugin's children belong to pid 1 once it is killed). */
static pid_t read_pid(const char *name)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", T.dir, name);
	char *s = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, path, 64, &s, NULL, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	pid_t pid = (pid_t)atoi(s);
	free(s);
	return pid;
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "integration-cni needs root\n");
		return -1;
	}
	int pid = (int)getpid();
	snprintf(T.dir, sizeof(T.dir), "/tmp/crl-itest-cni-XXXXXX");
	if (!mkdtemp(T.dir))
		return -1;
	snprintf(T.netdir, sizeof(T.netdir), "%s/net", T.dir);
	snprintf(T.plugins, sizeof(T.plugins), "%s/plugins", T.dir);
	snprintf(T.ipam, sizeof(T.ipam), "%s/ipam", T.dir);
	snprintf(T.rec, sizeof(T.rec), "%s/rec", T.dir);
	if (mkdir(T.netdir, 0700) < 0 || mkdir(T.plugins, 0755) < 0 || mkdir(T.rec, 0700) < 0)
		return -1;
	snprintf(T.ns, sizeof(T.ns), "crl-cni-test-%d", pid);
	snprintf(T.nspath, sizeof(T.nspath), "/run/netns/%s", T.ns);
	snprintf(T.bridge, sizeof(T.bridge), "crlcni%d", pid % 10000);
	T.subnet = pid % 250 + 1;
	dirs[0] = T.plugins;
	dirs[1] = DEBIAN_PLUGINS;
	dirs[2] = NULL;
	if (sh(NULL, "ip netns add %s", T.ns) != 0)
		return -1;
	td_net_state_save(&T.net);
	/* Fails ADD with a CNI error; DEL, as the spec wants, succeeds whatever state it finds. */
	write_exec("fail", "#!/bin/sh\n"
			   "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
			   "echo '{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"no way\",\"details\":\"it says no\"}'\n"
			   "exit 1\n");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sh(NULL, "ip netns del %s; ip netns del %s-gone; ip link del %s", T.ns, T.ns, T.bridge);
	td_net_state_restore(&T.net);
	crl_error_t err = CRL_ERROR_INIT;
	crl_fs_rm_rf(T.dir, &err);
	crl_error_clear(&err);
	return 0;
}

static cni_pod_t pod(const char *id, const char *netns)
{
	return (cni_pod_t){ .container_id = id, .netns = netns, .pod_name = "web", .pod_namespace = "default",
			    .pod_uid = "0b3c2d1e-uid" };
}

static void add_ok(const cni_network_t *net, const cni_pod_t *p, int timeout_ms, cni_result_t **res, char **cache)
{
	crl_error_t err = CRL_ERROR_INIT;
	if (cni_add(net, dirs, p, timeout_ms, res, cache, &err) != 0)
		fail_msg("cni_add: %s", crl_error_message(&err));
}

static void del_ok(const char *cache, const char *netns)
{
	crl_error_t err = CRL_ERROR_INIT;
	if (cni_del_cached(cache, dirs, netns, 0, &err) != 0)
		fail_msg("cni_del_cached: %s", crl_error_message(&err));
}

static void assert_in_subnet(const char *ip)
{
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "10.199.%d.", T.subnet);
	if (strncmp(ip, prefix, strlen(prefix)) != 0)
		fail_msg("%s is not in 10.199.%d.0/24", ip, T.subnet);
}

static bool pod_has_eth0(const char *ip)
{
	char *out = NULL;
	int rc = sh(&out, "ip -n %s -o addr show dev eth0", T.ns);
	bool found = rc == 0 && (!ip || strstr(out, ip));
	free(out);
	return found;
}

static bool bridge_has_ports(void)
{
	char *out = NULL;
	sh(&out, "ip -o link show master %s", T.bridge);
	bool any = out && *out;
	free(out);
	return any;
}

static bool nat_mentions(const char *id)
{
	char *out = NULL;
	sh(&out, "iptables -w -t nat -S");
	bool found = out && strstr(out, id);
	free(out);
	return found;
}

/* bridge, loopback and portmap: an address of the subnet on the pod's eth0, a lease, a port mapping; DEL (with
 * the conflist file gone by then) takes them all back, and a second ADD works after it. */
static void add_and_del_with_debian_plugins(void **state)
{
	(void)state;
	char *bridge = bridge_plugin(), *plugins = NULL;
	assert_true(asprintf(&plugins, "{\"type\":\"loopback\"},%s,{\"type\":\"portmap\",\"snat\":true,"
				       "\"capabilities\":{\"portMappings\":true}}", bridge) > 0);
	write_net("crl-cni-test", plugins);
	free(plugins);
	free(bridge);
	cni_network_t *net = load("crl-cni-test");
	char path[160], moved[160];
	snprintf(path, sizeof(path), "%s/crl-cni-test.conflist", T.netdir);
	snprintf(moved, sizeof(moved), "%s/moved.conflist", T.dir);

	const cni_port_mapping_t port = { .host_port = 39000 + T.subnet, .container_port = 80, .protocol = "TCP",
					  .host_ip = "127.0.0.1" };
	for (int round = 0; round < 2; round++) {
		char id[64];
		snprintf(id, sizeof(id), "crlcnitest%d-%d", (int)getpid(), round);
		cni_pod_t p = pod(id, T.nspath);
		p.ports = &port;
		p.n_ports = 1;
		cni_result_t *res = NULL;
		char *cache = NULL;
		add_ok(net, &p, 0, &res, &cache);
		assert_non_null(res->ips[0]);
		assert_null(res->ips[1]); /* not loopback's 127.0.0.1, not the host's end */
		assert_in_subnet(res->ips[0]);
		assert_true(pod_has_eth0(res->ips[0]));
		assert_true(lease_exists("crl-cni-test", res->ips[0]));
		assert_true(bridge_has_ports());
		assert_true(nat_mentions(id)); /* portmap was given the mapping */

		crl_json_value_t *c = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		assert_int_equal(crl_json_parse(cache, &c, &err), 0);
		int64_t version = 0;
		assert_true(crl_json_get_int(crl_json_get(c, "version"), &version));
		assert_int_equal(version, 1);
		assert_string_equal(crl_json_get_string(crl_json_get(c, "container_id")), id);
		assert_non_null(crl_json_get(crl_json_get(c, "runtime_config"), "portMappings"));
		assert_int_equal(crl_json_array_len(crl_json_get(crl_json_get(c, "conflist"), "plugins")), 3);
		crl_json_value_free(c);

		/* DEL needs nothing but the cache. */
		if (round == 0)
			assert_int_equal(rename(path, moved), 0);
		del_ok(cache, T.nspath);
		if (round == 0)
			assert_int_equal(rename(moved, path), 0);
		assert_false(lease_exists("crl-cni-test", res->ips[0]));
		assert_int_equal(leases("crl-cni-test"), 0);
		assert_false(pod_has_eth0(NULL));
		assert_false(bridge_has_ports());
		assert_false(nat_mentions(id));
		/* DEL is idempotent. */
		del_ok(cache, T.nspath);
		cni_result_free(res);
		free(cache);
	}
	cni_network_free(net);
}

/* The namespace may be gone by DEL: an empty CNI_NETNS, and the address is still released. */
static void del_after_the_namespace_is_gone(void **state)
{
	(void)state;
	char *bridge = bridge_plugin();
	write_net("crl-cni-gone", bridge);
	free(bridge);
	cni_network_t *net = load("crl-cni-gone");
	char ns[96], nspath[128];
	snprintf(ns, sizeof(ns), "%s-gone", T.ns);
	snprintf(nspath, sizeof(nspath), "/run/netns/%s", ns);
	assert_int_equal(sh(NULL, "ip netns add %s", ns), 0);
	cni_pod_t p = pod("crlcnigone", nspath);
	cni_result_t *res = NULL;
	char *cache = NULL;
	add_ok(net, &p, 0, &res, &cache);
	assert_true(lease_exists("crl-cni-gone", res->ips[0]));
	assert_int_equal(sh(NULL, "ip netns del %s", ns), 0);
	del_ok(cache, NULL);
	assert_int_equal(leases("crl-cni-gone"), 0);
	cni_result_free(res);
	free(cache);
	cni_network_free(net);
}

/* A plugin that hangs is killed with its children at the timeout, and ADD says so. */
static void hanging_plugin_times_out(void **state)
{
	(void)state;
	char *script = NULL;
	assert_true(asprintf(&script, "#!/bin/sh\necho $$ > %s/hang.pid\nsleep 600 &\necho $! > %s/hang-child.pid\nwait\n",
			     T.dir, T.dir) > 0);
	write_exec("hang", script);
	free(script);
	write_net("crl-cni-hang", "{\"type\":\"hang\"}");
	cni_network_t *net = load("crl-cni-hang");
	cni_pod_t p = pod("crlcnihang", T.nspath);
	cni_result_t *res = NULL;
	char *cache = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int64_t t0 = crl_mono_ms();
	assert_int_equal(cni_add(net, dirs, &p, 1500, &res, &cache, &err), -ETIMEDOUT);
	int64_t took = crl_mono_ms() - t0;
	if (took < 1400 || took > 3000)
		fail_msg("ADD took %lld ms for a 1500 ms timeout", (long long)took);
	assert_null(res);
	assert_null(cache);
	const char *msg = crl_error_message(&err);
	if (!strstr(msg, "CNI plugin hang (network crl-cni-hang,") || !strstr(msg, "ADD failed") ||
	    !strstr(msg, "1500 ms"))
		fail_msg("%s", msg);
	assert_true(td_pid_gone(read_pid("hang.pid"), 3000));
	assert_true(td_pid_gone(read_pid("hang-child.pid"), 3000));
	crl_error_clear(&err);
	cni_network_free(net);
}

/* The plugin's CNI error object, or its stderr, is the message. The stdin of "fail" is larger than a pipe holds,
 * and it exits without reading it: the write fails with EPIPE, and this process (SIGPIPE at its default) lives. */
static void plugin_errors_are_reported(void **state)
{
	(void)state;
	write_exec("shout", "#!/bin/sh\necho 'boom: the sky fell' >&2\necho ignored\nexit 3\n");
	write_exec("garbage", "#!/bin/sh\necho 'this is not json'\n");
	write_exec("flood", "#!/bin/sh\nyes | head -c 3000000\n");
	char *fail = NULL;
	assert_true(asprintf(&fail, "{\"type\":\"fail\",\"pad\":\"%0*d\"}", 256 * 1024, 0) > 0);
	write_net("crl-cni-fail", fail);
	free(fail);
	write_net("crl-cni-shout", "{\"type\":\"shout\"}");
	write_net("crl-cni-garbage", "{\"type\":\"garbage\"}");
	write_net("crl-cni-flood", "{\"type\":\"flood\"}");
	static const struct {
		const char *net;
		int errnum;
		const char *want[3];
	} cases[] = {
		{ "crl-cni-fail", EIO, { "CNI plugin fail (network crl-cni-fail, ", "ADD failed: code 7: no way: it says no" } },
		{ "crl-cni-shout", EIO, { "CNI plugin shout", "exit status 3: boom: the sky fell" } },
		{ "crl-cni-garbage", EINVAL, { "CNI plugin garbage", "invalid JSON" } },
		{ "crl-cni-flood", EMSGSIZE, { "CNI plugin flood", "printed more than 1048576 bytes" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cni_network_t *net = load(cases[i].net);
		cni_pod_t p = pod("crlcnifail", T.nspath);
		cni_result_t *res = NULL;
		char *cache = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		assert_int_equal(cni_add(net, dirs, &p, 0, &res, &cache, &err), -cases[i].errnum);
		assert_null(res);
		for (int k = 0; cases[i].want[k]; k++)
			if (!strstr(crl_error_message(&err), cases[i].want[k]))
				fail_msg("%s: '%s' not in: %s", cases[i].net, cases[i].want[k], crl_error_message(&err));
		crl_error_clear(&err);
		cni_network_free(net);
	}
}

/* The second plugin fails: the first (bridge) is deleted again and its address released. */
static void failed_chain_is_undone(void **state)
{
	(void)state;
	char *bridge = bridge_plugin(), *plugins = NULL;
	assert_true(asprintf(&plugins, "%s,{\"type\":\"fail\"}", bridge) > 0);
	write_net("crl-cni-undo", plugins);
	free(plugins);
	free(bridge);
	cni_network_t *net = load("crl-cni-undo");
	cni_pod_t p = pod("crlcniundo", T.nspath);
	cni_result_t *res = NULL;
	char *cache = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_add(net, dirs, &p, 0, &res, &cache, &err), -EIO);
	assert_non_null(strstr(crl_error_message(&err), "CNI plugin fail (network crl-cni-undo,"));
	assert_non_null(strstr(crl_error_message(&err), "code 7: no way"));
	assert_null(strstr(crl_error_message(&err), "undoing"));
	/* bridge's ADD made the lease (host-local writes last_reserved_ip.0 with it); its DEL removed it. */
	char path[200];
	snprintf(path, sizeof(path), "%s/crl-cni-undo/last_reserved_ip.0", T.ipam);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(leases("crl-cni-undo"), 0);
	assert_false(pod_has_eth0(NULL));
	assert_false(bridge_has_ports());
	crl_error_clear(&err);
	cni_network_free(net);
}

static char *recorded(const char *name)
{
	char path[200];
	snprintf(path, sizeof(path), "%s/%s", T.rec, name);
	char *text = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, path, 1 << 20, &text, NULL, &err) < 0)
		fail_msg("%s: %s", name, crl_error_message(&err));
	return text;
}

static crl_json_value_t *recorded_json(const char *name)
{
	char *text = recorded(name);
	crl_json_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_json_parse(text, &v, &err) < 0)
		fail_msg("%s: %s", name, crl_error_message(&err));
	free(text);
	return v;
}

static void assert_env(const char *name, const char *command, const char *netns)
{
	char *env = recorded(name);
	char *want = NULL;
	assert_true(asprintf(&want,
			     "CNI_COMMAND=%s\nCNI_CONTAINERID=crlcnirec\nCNI_NETNS=%s\nCNI_IFNAME=net1\n"
			     "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
			     "K8S_POD_INFRA_CONTAINER_ID=crlcnirec;K8S_POD_UID=0b3c2d1e-uid\n"
			     "CNI_PATH=%s:" DEBIAN_PLUGINS "\n"
			     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
			     command, netns, T.plugins) > 0);
	/* The shell adds PWD of its own; nothing else of ours gets through. */
	if (strcmp(env, want) != 0)
		fail_msg("%s:\n%s\nwanted:\n%s", name, env, want);
	free(want);
	free(env);
}

/* What the plugins are given: the environment and nothing more, each its own object with the network's name and
 * version, prevResult along the chain on ADD and the final result on DEL, the capabilities each declares, every
 * signal unblocked and at its default, none of our descriptors, and DEL in reverse order. */
static void plugins_get_what_the_spec_says(void **state)
{
	(void)state;
	char *script = NULL;
	assert_true(asprintf(&script,
		 "#!/bin/sh\n"
		 "r=%s; n=${0##*/}; c=$CNI_COMMAND\n"
		 /* Read by the shell itself: a child reading /proc/$$ could catch the shell blocking every signal
		  * while it waits for that child. */
		 "while IFS= read -r l; do case $l in SigBlk*|SigIgn*) echo \"$l\";; esac; done"
		 " < /proc/$$/status > $r/sig.$n.$c\n"
		 "echo \"$c $n\" >> $r/order\n"
		 "env | grep -v '^PWD=' > $r/env.$n.$c.unsorted\n"
		 "for k in CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_ARGS CNI_PATH PATH; do"
		 " grep \"^$k=\" $r/env.$n.$c.unsorted; done > $r/env.$n.$c\n"
		 "wc -l < $r/env.$n.$c.unsorted > $r/envcount.$n.$c\n"
		 "cat > $r/stdin.$n.$c\n"
		 "ls /proc/$$/fd > $r/fd.$n.$c\n"
		 "echo 'some noise' >&2\n"
		 "[ \"$c\" = ADD ] && printf '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.9.%%s/32\"}]}' \"${n#rec}\"\n"
		 "exit 0\n",
		 T.rec) > 0);
	write_exec("rec1", script);
	write_exec("rec2", script);
	free(script);
	write_net("crl-cni-rec",
		  "{\"type\":\"rec1\",\"name\":\"not-this\",\"cniVersion\":\"0.1.0\",\"extra\":{\"k\":[1,2.50]},"
		  "\"capabilities\":{\"portMappings\":true,\"bandwidth\":true},\"runtimeConfig\":{\"old\":1}},"
		  "{\"type\":\"rec2\",\"capabilities\":{\"dns\":true,\"portMappings\":false},\"runtimeConfig\":{\"kept\":1}}");
	cni_network_t *net = load("crl-cni-rec");
	const cni_port_mapping_t port = { .host_port = 8080, .container_port = 80, .protocol = "udp" };
	char *servers[] = { "10.96.0.10", NULL };
	cni_pod_t p = pod("crlcnirec", T.nspath);
	p.ifname = "net1";
	p.ports = &port;
	p.n_ports = 1;
	p.ingress_bandwidth = "1Gi";
	p.egress_bandwidth = "500k";
	p.dns_servers = servers;

	/* As the daemon has them: SIGTERM blocked, SIGHUP ignored, and a descriptor without O_CLOEXEC (on purpose:
	 * the plugin must not get it all the same). */
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_hup;
	sigaction(SIGHUP, &ign, &old_hup);
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 3);
	setenv("CRL_CNI_TEST_SECRET", "1", 1);

	cni_result_t *res = NULL;
	char *cache = NULL;
	add_ok(net, &p, 0, &res, &cache);
	assert_string_equal(res->ips[0], "10.9.9.2");
	assert_null(res->ips[1]);
	assert_string_equal(res->json, "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.9.9.2/32\"}]}");
	del_ok(cache, NULL);

	unsetenv("CRL_CNI_TEST_SECRET");
	close(leak);
	sigaction(SIGHUP, &old_hup, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	char *order = recorded("order");
	assert_string_equal(order, "ADD rec1\nADD rec2\nDEL rec2\nDEL rec1\n");
	free(order);
	static const char *const names[] = { "rec1.ADD", "rec2.ADD", "rec1.DEL", "rec2.DEL" };
	for (size_t i = 0; i < 4; i++) {
		char f[64];
		bool del = strstr(names[i], "DEL");
		snprintf(f, sizeof(f), "env.%s", names[i]);
		assert_env(f, del ? "DEL" : "ADD", del ? "" : T.nspath);
		snprintf(f, sizeof(f), "envcount.%s", names[i]);
		char *count = recorded(f);
		assert_int_equal(atoi(count), 7);
		free(count);
		snprintf(f, sizeof(f), "sig.%s", names[i]);
		char *sig = recorded(f);
		/* SIGHUP (bit 0) is at its default again. glibc's posix_spawn leaves its own two internal signals
		 * (32 and 33, bits 31 and 32) ignored in every child, whatever the attributes say; a program never
		 * relies on receiving those. */
		if (strcmp(sig, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n") != 0 &&
		    strcmp(sig, "SigBlk:\t0000000000000000\nSigIgn:\t0000000180000000\n") != 0)
			fail_msg("%s: %s", f, sig);
		free(sig);
		snprintf(f, sizeof(f), "fd.%s", names[i]);
		char *fds = recorded(f), leak_line[16];
		snprintf(leak_line, sizeof(leak_line), "\n%d\n", leak);
		if (strstr(fds, leak_line))
			fail_msg("the plugin got fd %d:\n%s", leak, fds);
		free(fds);
	}

	crl_json_value_t *in = recorded_json("stdin.rec1.ADD");
	assert_string_equal(crl_json_get_string(crl_json_get(in, "name")), "crl-cni-rec");
	assert_string_equal(crl_json_get_string(crl_json_get(in, "cniVersion")), "1.0.0");
	assert_string_equal(crl_json_get_string(crl_json_get(in, "type")), "rec1");
	assert_int_equal(crl_json_array_len(crl_json_get(crl_json_get(in, "extra"), "k")), 2);
	assert_null(crl_json_get(in, "prevResult"));
	const crl_json_value_t *rc = crl_json_get(in, "runtimeConfig");
	assert_int_equal(crl_json_object_len(rc), 2);
	const crl_json_value_t *pm = crl_json_array_at(crl_json_get(rc, "portMappings"), 0);
	int64_t v = 0;
	assert_true(crl_json_get_int(crl_json_get(pm, "hostPort"), &v));
	assert_int_equal(v, 8080);
	assert_string_equal(crl_json_get_string(crl_json_get(pm, "protocol")), "udp");
	const crl_json_value_t *bw = crl_json_get(rc, "bandwidth");
	assert_true(crl_json_get_int(crl_json_get(bw, "ingressRate"), &v));
	assert_int_equal(v, 1073741824);
	assert_true(crl_json_get_int(crl_json_get(bw, "egressRate"), &v));
	assert_int_equal(v, 500000);
	assert_true(crl_json_get_int(crl_json_get(bw, "egressBurst"), &v));
	assert_int_equal(v, 2147483647);
	crl_json_value_free(in);

	in = recorded_json("stdin.rec2.ADD");
	const crl_json_value_t *prev = crl_json_get(in, "prevResult");
	assert_string_equal(crl_json_get_string(crl_json_get(crl_json_array_at(crl_json_get(prev, "ips"), 0), "address")),
			    "10.9.9.1/32");
	rc = crl_json_get(in, "runtimeConfig");
	assert_int_equal(crl_json_object_len(rc), 1);
	assert_string_equal(crl_json_get_string(crl_json_array_at(crl_json_get(crl_json_get(rc, "dns"), "servers"), 0)),
			    "10.96.0.10");
	crl_json_value_free(in);

	for (int k = 1; k <= 2; k++) {
		char f[32];
		snprintf(f, sizeof(f), "stdin.rec%d.DEL", k);
		in = recorded_json(f);
		prev = crl_json_get(in, "prevResult");
		assert_string_equal(
			crl_json_get_string(crl_json_get(crl_json_array_at(crl_json_get(prev, "ips"), 0), "address")),
			"10.9.9.2/32");
		assert_non_null(crl_json_get(in, "runtimeConfig"));
		crl_json_value_free(in);
	}
	cni_result_free(res);
	free(cache);
	cni_network_free(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_and_del_with_debian_plugins),
		cmocka_unit_test(del_after_the_namespace_is_gone),
		cmocka_unit_test(hanging_plugin_times_out),
		cmocka_unit_test(plugin_errors_are_reported),
		cmocka_unit_test(failed_chain_is_undone),
		cmocka_unit_test(plugins_get_what_the_spec_says),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
