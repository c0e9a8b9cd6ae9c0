/* SPDX-License-Identifier: Apache-2.0 */
/* Pod sandboxes through the socket: a real daemon, real monitors, Debian's CNI plugins on a bridge of this test's
 * own (its own name and subnet, no default route, no masquerade), real namespaces checked from inside. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

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
#define CODE_NOT_FOUND 5
#define CODE_ALREADY_EXISTS 6

static test_daemon_t D;
static td_net_state_t node_net; /* put back at the end */
static char bridge[16], subnet_prefix[32], plugdir[256], ipamdir[256], conflist[256], hangpid[256];
static int net_octet;
static char cgparent[64];

static int monitors(bool kill_them);
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		/* Clean-up commands may find nothing to clean. */
	}
}

/* A command's stdout (trimmed), or "" */
static char *out_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *out_of(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	FILE *p = popen(cmd, "re");
	char *buf = calloc(1, 65536);
	size_t n = p ? fread(buf, 1, 65535, p) : 0;
	if (p)
		pclose(p);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

static void write_good_conflist(void)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"crltest\",\"plugins\":["
		 "{\"type\":\"bridge\",\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":false,\"hairpinMode\":true,"
		 "\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"%s.0/24\"}]],\"dataDir\":\"%s\"}},"
		 "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}",
		 bridge, subnet_prefix, ipamdir);
	td_write_file(conflist, text);
}

static void write_config(void)
{
	char conf[4096];
	snprintf(conf, sizeof(conf),
		 "[crio-lite]\nroot = \"%s\"\nrunroot = \"%s\"\nlog_dir = \"%s/pods\"\n"
		 "[crio-lite.api]\nlisten = \"unix://%s\"\n"
		 "[crio-lite.runtime]\nlog_level = \"debug\"\n"
		 "[crio-lite.image]\nregistries_conf = \"%s/registries.conf\"\npull_progress_timeout = \"30s\"\n"
		 "[crio-lite.network]\nnetwork_dir = \"%s\"\nplugin_dirs = [\"%s\", \"/usr/lib/cni\"]\n"
		 "plugin_timeout = \"3s\"\n",
		 D.root, D.runroot, D.dir, D.sock, D.dir, D.netdir, plugdir);
	td_write_file(D.conf, conf);
}

static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	if (td_setup(&D, NULL) < 0)
		return -1;
	td_net_state_save(&node_net);
	net_octet = 100 + getpid() % 150;
	snprintf(cgparent, sizeof(cgparent), "/crltest%d", getpid());
	snprintf(bridge, sizeof(bridge), "crlpod%d", getpid() % 100000);
	snprintf(subnet_prefix, sizeof(subnet_prefix), "10.201.%d", net_octet);
	snprintf(plugdir, sizeof(plugdir), "%s/plugins", D.dir);
	snprintf(ipamdir, sizeof(ipamdir), "%s/ipam", D.dir);
	snprintf(conflist, sizeof(conflist), "%s/10-crltest.conflist", D.netdir);
	snprintf(hangpid, sizeof(hangpid), "%s/hang.pid", D.dir);
	mkdir(plugdir, 0755);
	char path[512], script[1024];
	snprintf(path, sizeof(path), "%s/crlhang", plugdir);
	/* A plugin that never finishes ADD (and deletes at once, as a plugin with nothing to undo does). */
	snprintf(script, sizeof(script),
		 "#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then echo $$ > %s; exec sleep 600; fi\n"
		 "echo '{\"cniVersion\":\"1.0.0\"}'\nexit 0\n",
		 hangpid);
	td_write_file(path, script);
	chmod(path, 0755);
	write_good_conflist();
	write_config();
	td_write_file(strcat(strcpy(path, D.dir), "/registries.conf"), "");
	if (td_start(&D, NULL) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int ok = td_stop_clean(&D);
	if (monitors(true) > 0) {
		fprintf(stderr, "monitors were left running; ended\n");
		ok = 0;
	}
	sh("ip link del %s 2>/dev/null", bridge);
	td_net_state_restore(&node_net);
	td_sweep(D.dir, NULL, NULL);
	sh("for c in /sys/fs/cgroup/*%s/crio-lite-* /sys/fs/cgroup/*%s; do rmdir $c; done 2>/dev/null", cgparent, cgparent);
	grpc_shutdown();
	return ok ? 0 : -1;
}

/* --- calls --- */

typedef struct pod_opts {
	const char *name;
	int network, pid, ipc; /* NamespaceMode */
	int host_port, container_port;
	const char *sysctl_key[2], *sysctl_val[2];
	const char *handler;
	const char *label;
	int64_t memory, overhead_memory; /* linux.resources and linux.overhead */
} pod_opts_t;

static int run_pod_with(cri_client_t *c, const pod_opts_t *o, char **ret_id, char **ret_msg)
{
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	char uid[128];
	snprintf(uid, sizeof(uid), "%s-uid", o->name);
	md.name = (char *)o->name;
	md.uid = uid;
	md.namespace_ = "crltest";
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	cfg.metadata = &md;
	cfg.hostname = (char *)o->name;
	char logdir[256];
	snprintf(logdir, sizeof(logdir), "%s/logs/%s", D.dir, o->name);
	cfg.log_directory = logdir;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	char *servers[] = { "10.96.0.10" }, *searches[] = { "crltest.svc.cluster.local", "svc.cluster.local" },
	     *options[] = { "ndots:5" };
	dns.servers = servers;
	dns.n_servers = 1;
	dns.searches = searches;
	dns.n_searches = 2;
	dns.options = options;
	dns.n_options = 1;
	cfg.dns_config = &dns;
	Runtime__V1__PodSandboxConfig__LabelsEntry lab = RUNTIME__V1__POD_SANDBOX_CONFIG__LABELS_ENTRY__INIT;
	Runtime__V1__PodSandboxConfig__LabelsEntry *labs[1] = { &lab };
	lab.key = "app";
	lab.value = (char *)(o->label ? o->label : "crltest");
	cfg.labels = labs;
	cfg.n_labels = 1;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry ann = RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry *anns[1] = { &ann };
	ann.key = "note";
	ann.value = "kept as given";
	cfg.annotations = anns;
	cfg.n_annotations = 1;
	Runtime__V1__PortMapping pm = RUNTIME__V1__PORT_MAPPING__INIT;
	Runtime__V1__PortMapping *pms[1] = { &pm };
	if (o->container_port) {
		pm.container_port = o->container_port;
		pm.host_port = o->host_port;
		pm.host_ip = "127.0.0.1";
		cfg.port_mappings = pms;
		cfg.n_port_mappings = 1;
	}
	Runtime__V1__LinuxPodSandboxConfig lin = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	Runtime__V1__LinuxSandboxSecurityContext sc = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	nso.network = o->network;
	nso.pid = o->pid;
	nso.ipc = o->ipc;
	sc.namespace_options = &nso;
	lin.security_context = &sc;
	Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry se[2] = { RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT,
								   RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT };
	Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ses[2] = { &se[0], &se[1] };
	for (int i = 0; i < 2 && o->sysctl_key[i]; i++) {
		se[i].key = (char *)o->sysctl_key[i];
		se[i].value = (char *)o->sysctl_val[i];
		lin.n_sysctls++;
	}
	lin.sysctls = ses;
	lin.cgroup_parent = cgparent;
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT,
					     ovh = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	if (o->memory) {
		res.memory_limit_in_bytes = o->memory;
		lin.resources = &res;
	}
	if (o->overhead_memory) {
		ovh.memory_limit_in_bytes = o->overhead_memory;
		lin.overhead = &ovh;
	}
	cfg.linux = &lin;
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	req.config = &cfg;
	req.runtime_handler = (char *)(o->handler ? o->handler : "");
	cri_result_t r;
	assert_int_equal(cri_call(c, RT "RunPodSandbox", &req.base, &runtime__v1__run_pod_sandbox_response__descriptor,
				  60000, &r),
			 0);
	int code = r.code;
	if (code == 0 && ret_id)
		*ret_id = strdup(((Runtime__V1__RunPodSandboxResponse *)r.resp)->pod_sandbox_id);
	if (ret_msg)
		*ret_msg = strdup(r.message ? r.message : "");
	cri_result_clear(&r);
	return code;
}

static char *run_pod(const pod_opts_t *o)
{
	char *id = NULL, *msg = NULL;
	int code = run_pod_with(D.client, o, &id, &msg);
	if (code != 0)
		fail_msg("RunPodSandbox %s: code %d: %s", o->name, code, msg);
	free(msg);
	return id;
}

static Runtime__V1__PodSandboxStatusResponse *pod_status(const char *id, bool verbose, int *ret_code)
{
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	req.verbose = verbose;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "PodSandboxStatus", &req.base,
				  &runtime__v1__pod_sandbox_status_response__descriptor, 10000, &r),
			 0);
	*ret_code = r.code;
	Runtime__V1__PodSandboxStatusResponse *resp = (Runtime__V1__PodSandboxStatusResponse *)r.resp;
	r.resp = NULL;
	cri_result_clear(&r);
	return resp;
}

static int simple_call(cri_client_t *c, const char *method, const char *id)
{
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	cri_result_t r;
	/* Stop and Remove requests have the same shape. */
	assert_int_equal(cri_call(c, method, &req.base, NULL, 60000, &r), 0);
	int code = r.code;
	if (code)
		fprintf(stderr, "%s %s: %d %s\n", method, id, code, r.message);
	cri_result_clear(&r);
	return code;
}

static Runtime__V1__ListPodSandboxResponse *list_pods(const Runtime__V1__PodSandboxFilter *f)
{
	Runtime__V1__ListPodSandboxRequest req = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	req.filter = (Runtime__V1__PodSandboxFilter *)f;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "ListPodSandbox", &req.base, &runtime__v1__list_pod_sandbox_response__descriptor,
				  10000, &r),
			 0);
	assert_int_equal(r.code, 0);
	Runtime__V1__ListPodSandboxResponse *resp = (Runtime__V1__ListPodSandboxResponse *)r.resp;
	r.resp = NULL;
	cri_result_clear(&r);
	return resp;
}

static pid_t monitor_pid_of(const char *id)
{
	int code = 0;
	Runtime__V1__PodSandboxStatusResponse *s = pod_status(id, true, &code);
	assert_int_equal(code, 0);
	assert_int_equal(s->n_info, 1);
	crl_json_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(s->info[0]->value, &v, &err), 0);
	int64_t pid = 0;
	assert_true(crl_json_get_int(crl_json_get(v, "pid"), &pid));
	crl_json_value_free(v);
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	assert_true(pid > 1);
	return (pid_t)pid;
}

static char *pod_ip(const char *id)
{
	int code = 0;
	Runtime__V1__PodSandboxStatusResponse *s = pod_status(id, false, &code);
	assert_int_equal(code, 0);
	char *ip = strdup(s->status->network && s->status->network->ip ? s->status->network->ip : "");
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	return ip;
}

static char *netns_of(const char *id)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/pods/%s/ns/net", D.runroot, id) > 0);
	return p;
}

static bool ip_file(const char *ip)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/crltest/%s", ipamdir, ip);
	return access(p, F_OK) == 0;
}

static int monitors(bool kill_them)
{
	return td_monitors(D.runroot, kill_them);
}

static int entries_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

/* IPs held by host-local for our network (its files other than its lock and its last-reserved marker). */
static int ips_held(void)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/crltest", ipamdir);
	DIR *d = opendir(p);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Nothing of any pod is left: no pod listed, no directory, no record, no monitor, no mount, no IP. */
static void assert_nothing_left(void)
{
	Runtime__V1__ListPodSandboxResponse *l = list_pods(NULL);
	assert_int_equal(l->n_items, 0);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);
	char p[512];
	snprintf(p, sizeof(p), "%s/pods", D.runroot);
	assert_int_equal(entries_in(p), 0);
	snprintf(p, sizeof(p), "%s/pods", D.root);
	assert_int_equal(entries_in(p), 0);
	/* A monitor told to go closes its socket first, then exits (a sanitizer build checks for leaks on the way
	 * out): gone within seconds. */
	for (int i = 0; i < 250 && monitors(false) > 0; i++)
		usleep(20000);
	assert_int_equal(monitors(false), 0);
	assert_int_equal(td_mounts_mentioning(D.runroot), 0);
	assert_int_equal(ips_held(), 0);
	char *cg = out_of("ls /sys/fs/cgroup/memory%s 2>/dev/null | grep -c '^crio-lite-'", cgparent);
	assert_string_equal(cg, "0");
	free(cg);
}

static void remove_pod(const char *id)
{
	assert_int_equal(simple_call(D.client, RT "StopPodSandbox", id), 0);
	assert_int_equal(simple_call(D.client, RT "RemovePodSandbox", id), 0);
}

/* --- tests --- */

static void test_lifecycle(void **st)
{
	(void)st;
	pod_opts_t o = { .name = "life", .pid = RUNTIME__V1__NAMESPACE_MODE__POD, .memory = 64 << 20,
			 .overhead_memory = 16 << 20 };
	char *id = run_pod(&o);
	assert_int_equal(strlen(id), 64);
	int code = 0;
	Runtime__V1__PodSandboxStatusResponse *s = pod_status(id, false, &code);
	assert_int_equal(code, 0);
	assert_string_equal(s->status->id, id);
	assert_int_equal(s->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY);
	assert_string_equal(s->status->metadata->name, "life");
	assert_string_equal(s->status->metadata->namespace_, "crltest");
	assert_true(s->status->created_at > 1600000000LL * 1000000000LL);
	assert_int_equal(s->status->n_labels, 1);
	assert_string_equal(s->status->labels[0]->value, "crltest");
	assert_int_equal(s->status->n_annotations, 1);
	assert_string_equal(s->status->annotations[0]->value, "kept as given");
	assert_int_equal(s->status->linux->namespaces->options->pid, RUNTIME__V1__NAMESPACE_MODE__POD);
	char *ip = strdup(s->status->network->ip);
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	char want[40];
	snprintf(want, sizeof(want), "%s.", subnet_prefix);
	if (strncmp(ip, want, strlen(want)) != 0)
		fail_msg("pod IP %s is not in %s0/24", ip, want);
	assert_true(ip_file(ip));

	/* The same metadata again: refused, naming the pod that has the name. */
	char *msg = NULL;
	assert_int_equal(run_pod_with(D.client, &o, NULL, &msg), CODE_ALREADY_EXISTS);
	assert_non_null(strstr(msg, id));
	free(msg);

	/* Inside: the monitor is PID 1 of the pod's PID namespace, the hostname is the pod's, lo is up, and its
	 * network namespace is not the node's. */
	pid_t mp = monitor_pid_of(id);
	/* "NSpid:\t<node pid>\t1": its last number, the innermost namespace's, is 1. */
	char *nspid = out_of("grep NSpid /proc/%d/status", (int)mp);
	size_t nl = strlen(nspid);
	if (nl < 2 || strcmp(nspid + nl - 2, "\t1") != 0 || !strchr(nspid, '\t') || strchr(nspid, '\t') == nspid + nl - 2)
		fail_msg("monitor %d is not PID 1 of its pod: %s", (int)mp, nspid);
	free(nspid);
	char *hn = out_of("nsenter -t %d -u hostname", (int)mp);
	assert_string_equal(hn, "life");
	free(hn);
	char *netns = netns_of(id);
	char *lo = out_of("nsenter --net=%s ip -o link show lo", netns);
	if (!strstr(lo, "UP"))
		fail_msg("lo is not up in the pod: %s", lo);
	free(lo);
	char *eth = out_of("nsenter --net=%s ip -o -4 addr show eth0", netns);
	if (!strstr(eth, ip))
		fail_msg("eth0 does not hold %s: %s", ip, eth);
	free(eth);
	char *a = out_of("readlink /proc/%d/ns/net", (int)mp), *b = out_of("readlink /proc/self/ns/net");
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	char p[512];
	snprintf(p, sizeof(p), "%s/pods/%s/resolv.conf", D.runroot, id);
	char *resolv = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_read_file(AT_FDCWD, p, 4096, &resolv, NULL, &err), 0);
	assert_string_equal(resolv, "nameserver 10.96.0.10\nsearch crltest.svc.cluster.local svc.cluster.local\n"
				    "options ndots:5\n");
	free(resolv);

	/* The pod's cgroup, under the cgroup parent kubelet gave. */
	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory%s/crio-lite-%s", cgparent, id);
	assert_int_equal(access(p, F_OK), 0);
	/* Limited to the pod's resources plus its overhead. */
	char *lim = out_of("cat %s/memory.limit_in_bytes", p);
	assert_string_equal(lim, "83886080");
	free(lim);
	/* Its own /dev/shm, a tmpfs in the pod's directory. */
	char *shm = out_of("grep ' %s/pods/%s/shm ' /proc/self/mountinfo", D.runroot, id);
	if (!strstr(shm, "tmpfs"))
		fail_msg("no tmpfs on the pod's shm: '%s'", shm);
	free(shm);

	/* List and its filters. */
	Runtime__V1__ListPodSandboxResponse *l = list_pods(NULL);
	assert_int_equal(l->n_items, 1);
	assert_string_equal(l->items[0]->id, id);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);
	Runtime__V1__PodSandboxFilter f = RUNTIME__V1__POD_SANDBOX_FILTER__INIT;
	char prefix[14];
	snprintf(prefix, sizeof(prefix), "%.13s", id);
	f.id = prefix;
	l = list_pods(&f);
	assert_int_equal(l->n_items, 1);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);
	Runtime__V1__PodSandboxStateValue sv = RUNTIME__V1__POD_SANDBOX_STATE_VALUE__INIT;
	sv.state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
	f.id = NULL;
	f.state = &sv;
	l = list_pods(&f);
	assert_int_equal(l->n_items, 0);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);
	f.state = NULL;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry le = RUNTIME__V1__POD_SANDBOX_FILTER__LABEL_SELECTOR_ENTRY__INIT;
	Runtime__V1__PodSandboxFilter__LabelSelectorEntry *les[1] = { &le };
	le.key = "app";
	le.value = "other";
	f.label_selector = les;
	f.n_label_selector = 1;
	l = list_pods(&f);
	assert_int_equal(l->n_items, 0);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);
	le.value = "crltest";
	l = list_pods(&f);
	assert_int_equal(l->n_items, 1);
	runtime__v1__list_pod_sandbox_response__free_unpacked(l, NULL);

	/* Stop: NOTREADY, the IP released; twice is fine. */
	assert_int_equal(simple_call(D.client, RT "StopPodSandbox", prefix), 0);
	s = pod_status(id, false, &code);
	assert_int_equal(s->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY);
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	assert_false(ip_file(ip));
	/* A stop of a stopped pod writes nothing (kubelet stops again and again): the record is the same file. */
	char rec[512];
	snprintf(rec, sizeof(rec), "%s/pods/%s.json", D.root, id);
	struct stat before, after;
	assert_int_equal(stat(rec, &before), 0);
	assert_int_equal(simple_call(D.client, RT "StopPodSandbox", id), 0);
	assert_int_equal(stat(rec, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);

	/* Remove: gone, and so is everything it held; twice is fine, and so is an unknown id. */
	assert_int_equal(simple_call(D.client, RT "RemovePodSandbox", id), 0);
	s = pod_status(id, false, &code);
	assert_int_equal(code, CODE_NOT_FOUND);
	assert_true(td_pid_gone(mp, 5000));
	assert_int_equal(access(netns, F_OK), -1);
	assert_int_equal(simple_call(D.client, RT "RemovePodSandbox", id), 0);
	assert_int_equal(simple_call(D.client, RT "StopPodSandbox", "0123456789abcdef"), 0);
	/* The name is free again. */
	char *id2 = run_pod(&o);
	remove_pod(id2);
	assert_nothing_left();
	free(id2);
	free(netns);
	free(ip);
	free(id);
}

static void expect_refused(const pod_opts_t *o, int want, const char *needle)
{
	char *msg = NULL;
	int code = run_pod_with(D.client, o, NULL, &msg);
	if (code != want || !strstr(msg, needle))
		fail_msg("%s: code %d (want %d), message '%s' (want '%s')", o->name, code, want, msg, needle);
	free(msg);
}

static void test_invalid_configs(void **st)
{
	(void)st;
	pod_opts_t o = { .name = "bad", .container_port = 80, .host_port = 70000 };
	expect_refused(&o, CODE_INVALID_ARGUMENT, "config.port_mappings[0].host_port");
	pod_opts_t s1 = { .name = "bad", .sysctl_key = { "kernel.panic" }, .sysctl_val = { "1" } };
	expect_refused(&s1, CODE_INVALID_ARGUMENT, "kernel.panic");
	pod_opts_t s2 = { .name = "bad", .network = RUNTIME__V1__NAMESPACE_MODE__NODE,
			  .sysctl_key = { "net.ipv4.ip_forward" }, .sysctl_val = { "1" } };
	expect_refused(&s2, CODE_INVALID_ARGUMENT, "net.ipv4.ip_forward");
	pod_opts_t h = { .name = "bad", .handler = "nosuch" };
	expect_refused(&h, CODE_INVALID_ARGUMENT, "nosuch");
	pod_opts_t e = { .name = "" };
	expect_refused(&e, CODE_INVALID_ARGUMENT, "config.metadata.name");
	/* No config at all. */
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "RunPodSandbox", &req.base, NULL, 10000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(r.message, "config"));
	cri_result_clear(&r);
	assert_int_equal(simple_call(D.client, RT "StopPodSandbox", ""), CODE_INVALID_ARGUMENT);
	int code = 0;
	Runtime__V1__PodSandboxStatusResponse *s = pod_status("ffffffffffff", false, &code);
	assert_null(s);
	assert_int_equal(code, CODE_NOT_FOUND);
	assert_nothing_left();
}

/* A listener inside a network namespace that answers each connection with a line. */
static pid_t serve_in(const char *netns, int port, const char *line)
{
	pid_t pid = fork();
	if (pid == 0) {
		char code[512];
		snprintf(code, sizeof(code),
			 "import socket\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
			 "s.bind(('0.0.0.0', %d)); s.listen(8)\nwhile True:\n    c,_=s.accept(); c.sendall(b'%s\\n'); c.close()\n",
			 port, line);
		char nsarg[512];
		snprintf(nsarg, sizeof(nsarg), "--net=%s", netns);
		execlp("nsenter", "nsenter", nsarg, "python3", "-c", code, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* What a connection to ip:port from inside netns (NULL: from here) reads, tried for up to 10 s. */
static char *fetch_from(const char *netns, const char *ip, int port)
{
	for (int i = 0; i < 100; i++) {
		char *o = out_of("%s%s%s python3 -c \"import socket; s=socket.create_connection(('%s', %d), 2); "
				 "print(s.recv(100).decode().strip())\" 2>/dev/null",
				 netns ? "nsenter --net=" : "", netns ? netns : "", netns ? "" : "", ip, port);
		if (*o)
			return o;
		free(o);
		usleep(100000);
	}
	return strdup("");
}

static void test_two_pods_and_host_port(void **st)
{
	(void)st;
	int hport = 20000 + getpid() % 20000;
	pod_opts_t a = { .name = "web", .container_port = 8080, .host_port = hport };
	pod_opts_t b = { .name = "client" };
	char *ida = run_pod(&a), *idb = run_pod(&b);
	char *ipa = pod_ip(ida), *ipb = pod_ip(idb);
	assert_string_not_equal(ipa, ipb);
	char *nsa = netns_of(ida), *nsb = netns_of(idb);
	pid_t srv = serve_in(nsa, 8080, "hello-from-pod");
	/* Pod to pod, by IP. */
	char *got = fetch_from(nsb, ipa, 8080);
	assert_string_equal(got, "hello-from-pod");
	free(got);
	/* The node's loopback to the pod, through the host port (portmap). */
	got = fetch_from(NULL, "127.0.0.1", hport);
	assert_string_equal(got, "hello-from-pod");
	free(got);
	char *rules = out_of("iptables-save -t nat 2>/dev/null | grep -c '%s'", ida);
	assert_string_not_equal(rules, "0"); /* portmap's rules name the pod */
	free(rules);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	remove_pod(ida);
	remove_pod(idb);
	/* The host port is gone with the pod, and every rule portmap made for it. */
	char *iptables = out_of("iptables-save -t nat 2>/dev/null | grep -c -e 'dport %d' -e '%s'", hport, ida);
	assert_string_equal(iptables, "0");
	free(iptables);
	assert_nothing_left();
	free(ipa);
	free(ipb);
	free(nsa);
	free(nsb);
	free(ida);
	free(idb);
}

static void test_host_network_and_sysctls(void **st)
{
	(void)st;
	pod_opts_t h = { .name = "hostnet", .network = RUNTIME__V1__NAMESPACE_MODE__NODE,
			 .ipc = RUNTIME__V1__NAMESPACE_MODE__NODE };
	char *id = run_pod(&h);
	char *ip = pod_ip(id);
	assert_string_equal(ip, "");
	pid_t mp = monitor_pid_of(id);
	char *a = out_of("readlink /proc/%d/ns/net", (int)mp), *b = out_of("readlink /proc/self/ns/net");
	assert_string_equal(a, b);
	free(a);
	free(b);
	a = out_of("readlink /proc/%d/ns/ipc", (int)mp);
	b = out_of("readlink /proc/self/ns/ipc");
	assert_string_equal(a, b);
	free(a);
	free(b);
	remove_pod(id);
	free(ip);
	free(id);

	pod_opts_t s = { .name = "sysctl", .sysctl_key = { "net.ipv4.ip_unprivileged_port_start", "kernel.shm_rmid_forced" },
			 .sysctl_val = { "100", "1" } };
	id = run_pod(&s);
	mp = monitor_pid_of(id);
	char *v = out_of("nsenter -t %d -n cat /proc/sys/net/ipv4/ip_unprivileged_port_start", (int)mp);
	assert_string_equal(v, "100");
	free(v);
	v = out_of("nsenter -t %d -i cat /proc/sys/kernel/shm_rmid_forced", (int)mp);
	assert_string_equal(v, "1");
	free(v);
	/* The node's values are untouched. */
	v = out_of("cat /proc/sys/net/ipv4/ip_unprivileged_port_start");
	assert_string_not_equal(v, "100");
	free(v);
	remove_pod(id);
	free(id);
	assert_nothing_left();
}

static Runtime__V1__StatusResponse *runtime_status(void)
{
	Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "Status", &req.base, &runtime__v1__status_response__descriptor, 10000, &r), 0);
	assert_int_equal(r.code, 0);
	Runtime__V1__StatusResponse *s = (Runtime__V1__StatusResponse *)r.resp;
	r.resp = NULL;
	cri_result_clear(&r);
	return s;
}

static void test_broken_conflist(void **st)
{
	(void)st;
	char aside[512], broken[512];
	snprintf(aside, sizeof(aside), "%s/good.conflist.aside", D.dir);
	snprintf(broken, sizeof(broken), "%s/10-broken.conflist", D.netdir);
	assert_int_equal(rename(conflist, aside), 0);
	td_write_file(broken, "{\"cniVersion\": \"1.0.0\", \"name\": ");
	Runtime__V1__StatusResponse *s = runtime_status();
	bool seen = false;
	for (size_t i = 0; i < s->status->n_conditions; i++) {
		Runtime__V1__RuntimeCondition *c = s->status->conditions[i];
		if (strcmp(c->type, "NetworkReady") == 0) {
			seen = true;
			assert_false(c->status);
			assert_non_null(strstr(c->message, "10-broken.conflist"));
		}
	}
	assert_true(seen);
	runtime__v1__status_response__free_unpacked(s, NULL);
	pod_opts_t o = { .name = "nonet" };
	char *msg = NULL;
	int code = run_pod_with(D.client, &o, NULL, &msg);
	assert_int_not_equal(code, 0);
	if (!strstr(msg, "10-broken.conflist"))
		fail_msg("the error does not name the file: %s", msg);
	free(msg);
	assert_nothing_left();
	unlink(broken);
	assert_int_equal(rename(aside, conflist), 0);
}

static void write_hang_conflist(void)
{
	td_write_file(conflist, "{\"cniVersion\":\"1.0.0\",\"name\":\"crltest\",\"plugins\":[{\"type\":\"crlhang\"}]}");
}

static pid_t read_hang_pid(int wait_ms)
{
	for (int i = 0; i < wait_ms / 50; i++) {
		char *t = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		if (crl_fs_read_file(AT_FDCWD, hangpid, 64, &t, NULL, &err) == 0) {
			pid_t p = atoi(t);
			free(t);
			if (p > 0)
				return p;
		}
		crl_error_clear(&err);
		usleep(50000);
	}
	return -1;
}

static void test_hanging_plugin(void **st)
{
	(void)st;
	unlink(hangpid);
	write_hang_conflist();
	pod_opts_t o = { .name = "hang" };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *msg = NULL;
	int code = run_pod_with(D.client, &o, NULL, &msg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "hanging plugin: RunPodSandbox failed after %.2f s (plugin_timeout 3s): %s\n", s, msg);
	assert_int_not_equal(code, 0);
	assert_non_null(strstr(msg, "crlhang"));
	free(msg);
	/* Within its timeout plus the undoing, far below the plugin's 600 s. */
	assert_true(s < 30);
	pid_t hp = read_hang_pid(1000);
	assert_true(hp > 0);
	assert_true(td_pid_gone(hp, 5000));
	write_good_conflist();
	assert_nothing_left();
}

typedef struct par {
	int i;
	char *id, *ip;
	int code;
} par_t;

static void *par_run(void *arg)
{
	par_t *p = arg;
	cri_client_t *c = cri_client_new(D.sock);
	char name[32];
	snprintf(name, sizeof(name), "par%d", p->i);
	pod_opts_t o = { .name = name };
	char *msg = NULL;
	p->code = run_pod_with(c, &o, &p->id, &msg);
	if (p->code)
		fprintf(stderr, "%s: %s\n", name, msg);
	free(msg);
	cri_client_free(c);
	return NULL;
}

static void *cutoff_run(void *arg)
{
	(void)arg;
	cri_client_t *c = cri_client_new(D.sock);
	pod_opts_t h = { .name = "cutoff" };
	char *msg = NULL;
	run_pod_with(c, &h, NULL, &msg); /* refused or cut off: the daemon is killed during it */
	free(msg);
	cri_client_free(c);
	return NULL;
}

static void *par_remove(void *arg)
{
	par_t *p = arg;
	cri_client_t *c = cri_client_new(D.sock);
	p->code = simple_call(c, RT "StopPodSandbox", p->id);
	if (p->code == 0)
		p->code = simple_call(c, RT "RemovePodSandbox", p->id);
	cri_client_free(c);
	return NULL;
}

#define N_PAR 50

static void test_parallel(void **st)
{
	(void)st;
	par_t ps[N_PAR];
	pthread_t ts[N_PAR];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N_PAR; i++) {
		ps[i] = (par_t){ .i = i };
		assert_int_equal(pthread_create(&ts[i], NULL, par_run, &ps[i]), 0);
	}
	for (int i = 0; i < N_PAR; i++)
		pthread_join(ts[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%d RunPodSandbox in parallel: %.2f s\n", N_PAR,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (int i = 0; i < N_PAR; i++) {
		assert_int_equal(ps[i].code, 0);
		ps[i].ip = pod_ip(ps[i].id);
		assert_true(*ps[i].ip);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(ps[i].ip, ps[j].ip);
	}
	assert_int_equal(ips_held(), N_PAR);
	assert_int_equal(monitors(false), N_PAR);
	/* StreamPodSandboxes: the same pods as ListPodSandbox, then the end of the stream. */
	Runtime__V1__StreamPodSandboxesRequest sreq = RUNTIME__V1__STREAM_POD_SANDBOXES_REQUEST__INIT;
	cri_stream_t *stream = cri_stream_open(D.client, RT "StreamPodSandboxes", &sreq.base, 10000);
	assert_non_null(stream);
	size_t streamed = 0;
	for (;;) {
		ProtobufCMessage *m = NULL;
		cri_result_t sr = { 0 };
		int got = cri_stream_next(stream, &runtime__v1__stream_pod_sandboxes_response__descriptor, 10000, &m, &sr);
		assert_true(got >= 0);
		if (got == 0) {
			assert_int_equal(sr.code, CODE_OK);
			cri_result_clear(&sr);
			break;
		}
		streamed += ((Runtime__V1__StreamPodSandboxesResponse *)m)->n_pod_sandboxes;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	cri_stream_free(stream);
	assert_int_equal(streamed, N_PAR);
	for (int i = 0; i < N_PAR; i++)
		assert_int_equal(pthread_create(&ts[i], NULL, par_remove, &ps[i]), 0);
	for (int i = 0; i < N_PAR; i++)
		pthread_join(ts[i], NULL);
	for (int i = 0; i < N_PAR; i++) {
		assert_int_equal(ps[i].code, 0);
		free(ps[i].id);
		free(ps[i].ip);
	}
	assert_nothing_left();
}

static void restart(void)
{
	char *l = td_log(&D);
	assert_true(td_stop(&D, SIGKILL, 10000) >= 0);
	free(l);
	if (td_start(&D, NULL) < 0) {
		l = td_log(&D);
		fail_msg("daemon did not restart:\n%s", l);
	}
}

static void test_restart(void **st)
{
	(void)st;
	/* After one: listed as it was, its monitor the same process. */
	pod_opts_t o = { .name = "survivor" };
	char *id = run_pod(&o);
	char *ip = pod_ip(id);
	pid_t mp = monitor_pid_of(id);
	restart();
	char *ip2 = pod_ip(id);
	assert_string_equal(ip, ip2);
	assert_int_equal(monitor_pid_of(id), mp);
	int code = 0;
	Runtime__V1__PodSandboxStatusResponse *s = pod_status(id, false, &code);
	assert_int_equal(s->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY);
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	/* The name is still reserved. */
	char *msg = NULL;
	assert_int_equal(run_pod_with(D.client, &o, NULL, &msg), CODE_ALREADY_EXISTS);
	free(msg);
	remove_pod(id);
	free(ip2);
	assert_nothing_left();

	/* Records this build cannot read are left alone, and the daemon starts without them. */
	char alien[512];
	snprintf(alien, sizeof(alien), "%s/pods/%064d.json", D.root, 7);
	td_write_file(alien, "{\"version\":99,\"id\":\"x\"}");
	restart();
	assert_true(td_wait_log(&D, "unsupported record version 99", 5000));
	assert_int_equal(access(alien, F_OK), 0);
	unlink(alien);

	/* During one (the plugin is running ADD): undone at start, nothing left. */
	unlink(hangpid);
	write_hang_conflist();
	/* From a thread of ours (gRPC after fork is not supported): the call ends when the daemon dies. */
	pthread_t cut;
	assert_int_equal(pthread_create(&cut, NULL, cutoff_run, NULL), 0);
	pid_t hp = read_hang_pid(10000);
	assert_true(hp > 0);
	assert_true(td_stop(&D, SIGKILL, 10000) >= 0);
	kill(hp, SIGKILL);
	pthread_join(cut, NULL);
	write_good_conflist();
	assert_int_equal(monitors(false), 1);
	if (td_start(&D, NULL) < 0)
		fail_msg("daemon did not restart");
	assert_nothing_left();

	/* After a reboot (monitors gone, runroot empty): NOTREADY until removed; removal releases the IP. */
	free(id);
	free(ip);
	o.name = "rebooted";
	id = run_pod(&o);
	ip = pod_ip(id);
	mp = monitor_pid_of(id);
	assert_true(td_stop(&D, SIGKILL, 10000) >= 0);
	kill(mp, SIGKILL);
	assert_true(td_pid_gone(mp, 5000));
	char podrun[512];
	snprintf(podrun, sizeof(podrun), "%s/pods/%s", D.runroot, id);
	td_sweep(podrun, NULL, NULL);
	if (td_start(&D, NULL) < 0)
		fail_msg("daemon did not restart");
	s = pod_status(id, false, &code);
	assert_int_equal(code, 0);
	assert_int_equal(s->status->state, RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY);
	runtime__v1__pod_sandbox_status_response__free_unpacked(s, NULL);
	assert_true(ip_file(ip));
	remove_pod(id);
	assert_false(ip_file(ip));
	assert_nothing_left();
	free(id);
	free(ip);
}

/* --- long calls do not starve quick ones --- */

typedef struct stall {
	int lfd;
	int accepted[64];
	atomic_int n; /* written by the accepting thread, read by the test */
	atomic_bool stop;
} stall_t;

static void *stall_accept(void *arg)
{
	stall_t *s = arg;
	while (!s->stop && s->n < 64) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		s->accepted[atomic_load(&s->n)] = fd; /* held, never answered */
		atomic_fetch_add(&s->n, 1);
	}
	return NULL;
}

static void *stalled_pull(void *arg)
{
	const char *image = arg;
	cri_client_t *c = cri_client_new(D.sock);
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	req.image = &spec;
	cri_result_t r;
	cri_call(c, IMG "PullImage", &req.base, NULL, 6000, &r);
	cri_result_clear(&r);
	cri_client_free(c);
	return NULL;
}

static double timed_call(const char *method, const ProtobufCMessage *req)
{
	struct timespec t0, t1;
	cri_result_t r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cri_call(D.client, method, req, NULL, 5000, &r), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* An answer, whatever it says (the pod may be unknown, the image absent). */
	assert_true(r.code == 0 || r.code == CODE_NOT_FOUND);
	cri_result_clear(&r);
	return (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
}

static void test_quick_calls_not_starved(void **st)
{
	(void)st;
	stall_t s = { .lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(s.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t al = sizeof(a);
	getsockname(s.lfd, (struct sockaddr *)&a, &al);
	assert_int_equal(listen(s.lfd, 64), 0);
	int port = ntohs(a.sin_port);
	char reg[256];
	snprintf(reg, sizeof(reg), "%s/registries.conf", D.dir);
	td_write_regconf(reg, port);
	pthread_t acc, pulls[16];
	assert_int_equal(pthread_create(&acc, NULL, stall_accept, &s), 0);
	char image[128];
	snprintf(image, sizeof(image), "127.0.0.1:%d/stall/never:1", port);
	for (int i = 0; i < 16; i++)
		assert_int_equal(pthread_create(&pulls[i], NULL, stalled_pull, image), 0);
	for (int i = 0; i < 200 && s.n < 16; i++)
		usleep(10000);
	fprintf(stderr, "stalled pulls connected: %d\n", s.n);
	assert_true(s.n >= 16);
	pod_opts_t o = { .name = "quick" };
	char *id = run_pod(&o);

	Runtime__V1__VersionRequest v = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__StatusRequest stq = RUNTIME__V1__STATUS_REQUEST__INIT;
	Runtime__V1__ListPodSandboxRequest lq = RUNTIME__V1__LIST_POD_SANDBOX_REQUEST__INIT;
	Runtime__V1__PodSandboxStatusRequest pq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	pq.pod_sandbox_id = id;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = "busybox";
	Runtime__V1__ImageStatusRequest iq = RUNTIME__V1__IMAGE_STATUS_REQUEST__INIT;
	iq.image = &spec;
	double worst = 0;
	for (int round = 0; round < 5; round++) {
		double t[5] = { timed_call(RT "Version", &v.base), timed_call(RT "Status", &stq.base),
				timed_call(RT "ListPodSandbox", &lq.base), timed_call(RT "PodSandboxStatus", &pq.base),
				timed_call(IMG "ImageStatus", &iq.base) };
		for (int i = 0; i < 5; i++)
			worst = t[i] > worst ? t[i] : worst;
	}
	fprintf(stderr, "with 16 stalled pulls, the slowest of 25 quick calls took %.2f ms\n", worst);
	/* 100 ms is the aim (printed above); a stalled lane would hold them for the pulls' whole 6 s. */
	assert_true(worst < 1000);
	atomic_store(&s.stop, true);
	shutdown(s.lfd, SHUT_RDWR);
	pthread_join(acc, NULL);
	for (int i = 0; i < atomic_load(&s.n); i++)
		close(s.accepted[i]);
	for (int i = 0; i < 16; i++)
		pthread_join(pulls[i], NULL);
	close(s.lfd);
	remove_pod(id);
	free(id);
	td_write_file(reg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_invalid_configs),
		cmocka_unit_test(test_two_pods_and_host_port),
		cmocka_unit_test(test_host_network_and_sysctls),
		cmocka_unit_test(test_broken_conflist),
		cmocka_unit_test(test_hanging_plugin),
		cmocka_unit_test(test_parallel),
		cmocka_unit_test(test_quick_calls_not_starved),
		cmocka_unit_test(test_restart),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
