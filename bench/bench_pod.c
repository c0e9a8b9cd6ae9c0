/* SPDX-License-Identifier: Apache-2.0 */
/* Pod sandbox figures through the socket, beside the CNI chain alone on the same conflist in the same run:
 *   RunPodSandbox vs the chain's ADD, StopPodSandbox vs its DEL, RemovePodSandbox, PodSandboxStatus, and the RSS
 *   of the monitors (one per pod) and of the daemon with 10 pods. The network is a bridge of the benchmark's own
 *   (no default route, no masquerade), removed at the end. Then containers, from an image pulled from a local
 *   registry (tests/fixtures/registry.py): CreateContainer, StartContainer, StopContainer of a container that
 *   obeys SIGTERM, RemoveContainer, ContainerStatus, a pod and its container from scratch, and the RSS of the
 *   daemon and all monitors with 10 pods of one container, ListContainerStats, ListPodSandboxMetrics and a scrape
 *   of the metrics endpoint with 100 running containers.
 *   Prints percentiles; asserts nothing.
 * Usage: bench-pod [--iterations N] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "bench_util.h"
#include "cni/exec.h"
#include "common/fs.h"
#include "harness.h"

#define RT "/runtime.v1.RuntimeService/"

static test_daemon_t D;
static char bridge[16], ipam[256];

static size_t count_bytes(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	*(size_t *)arg += size * n;
	return size * n;
}

static void report(const char *what, double *v, int n)
{
	bench_sort(v, n);
	printf("%-44s n=%-4d p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms  min %8.3f  max %8.3f\n", what, n, v[n / 2],
	       v[(n * 9) / 10], v[(n * 99) / 100], v[0], v[n - 1]);
}

static int call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
		cri_result_t *r)
{
	if (cri_call(D.client, method, req, d, 60000, r) < 0 || r->code != 0) {
		fprintf(stderr, "%s failed: %s\n", method, r->message ? r->message : "(transport)");
		return -1;
	}
	return 0;
}

static char *run_pod(int i)
{
	char name[32], uid[40];
	snprintf(name, sizeof(name), "bench%d", i);
	snprintf(uid, sizeof(uid), "bench-uid-%d", i);
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	md.name = name;
	md.uid = uid;
	md.namespace_ = "bench";
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	cfg.metadata = &md;
	cfg.hostname = name;
	Runtime__V1__RunPodSandboxRequest req = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	req.config = &cfg;
	cri_result_t r;
	char *id = NULL;
	if (call(RT "RunPodSandbox", &req.base, &runtime__v1__run_pod_sandbox_response__descriptor, &r) == 0)
		id = strdup(((Runtime__V1__RunPodSandboxResponse *)r.resp)->pod_sandbox_id);
	cri_result_clear(&r);
	return id;
}

static int pod_call(const char *method, const char *id)
{
	Runtime__V1__StopPodSandboxRequest req = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	cri_result_t r;
	int ret = call(method, &req.base, NULL, &r);
	cri_result_clear(&r);
	return ret;
}

static pid_t monitor_pid(const char *id)
{
	Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	req.pod_sandbox_id = (char *)id;
	req.verbose = true;
	cri_result_t r;
	pid_t pid = -1;
	if (call(RT "PodSandboxStatus", &req.base, &runtime__v1__pod_sandbox_status_response__descriptor, &r) == 0) {
		Runtime__V1__PodSandboxStatusResponse *s = (Runtime__V1__PodSandboxStatusResponse *)r.resp;
		const char *p = s->n_info ? strstr(s->info[0]->value, "\"pid\":") : NULL;
		pid = p ? atoi(p + 6) : -1;
	}
	cri_result_clear(&r);
	return pid;
}

static void cni_alone(const cni_network_t *net, char *const *dirs, int n, double *add, double *del)
{
	for (int i = 0; i < n; i++) {
		char ns[64], path[128], cmd[160], id[80];
		snprintf(ns, sizeof(ns), "crlbench-%d-%d", getpid(), i);
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
		snprintf(cmd, sizeof(cmd), "ip netns add %s", ns);
		snprintf(id, sizeof(id), "cnialone%08d%08d", getpid(), i);
		if (system(cmd) != 0) {
			fprintf(stderr, "ip netns add failed\n");
			exit(1);
		}
		cni_pod_t pod = { .container_id = id, .netns = path, .pod_name = "alone", .pod_namespace = "bench",
				  .pod_uid = "alone" };
		cni_result_t *res = NULL;
		char *cache = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		double t0 = bench_now_ms();
		if (cni_add(net, dirs, &pod, 0, &res, &cache, &err) < 0) {
			fprintf(stderr, "CNI ADD: %s\n", crl_error_message(&err));
			exit(1);
		}
		double t1 = bench_now_ms();
		if (cni_del_cached(cache, dirs, path, 0, &err) < 0) {
			fprintf(stderr, "CNI DEL: %s\n", crl_error_message(&err));
			exit(1);
		}
		double t2 = bench_now_ms();
		add[i] = t1 - t0;
		del[i] = t2 - t1;
		cni_result_free(res);
		free(cache);
		snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
		if (system(cmd) != 0)
			fprintf(stderr, "ip netns del %s failed\n", ns);
	}
}

static char *create_ctr(const char *pod_id, const char *pod_name, const char *img, const char *name)
{
	Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
	md.name = (char *)name;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)img;
	Runtime__V1__ContainerConfig c = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	c.metadata = &md;
	c.image = &spec;
	/* Obeys SIGTERM at once: sleep's default disposition ends it. */
	char *cmd[] = { "/bin/busybox", "sleep", "1000" };
	c.command = cmd;
	c.n_command = 3;
	Runtime__V1__PodSandboxMetadata pmd = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	pmd.name = (char *)pod_name;
	Runtime__V1__PodSandboxConfig pc = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	pc.metadata = &pmd;
	Runtime__V1__CreateContainerRequest req = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	req.pod_sandbox_id = (char *)pod_id;
	req.config = &c;
	req.sandbox_config = &pc;
	cri_result_t r;
	char *id = NULL;
	if (call(RT "CreateContainer", &req.base, &runtime__v1__create_container_response__descriptor, &r) == 0)
		id = strdup(((Runtime__V1__CreateContainerResponse *)r.resp)->container_id);
	cri_result_clear(&r);
	return id;
}

static int ctr_call(const char *method, const char *id, int64_t timeout)
{
	Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	req.container_id = (char *)id;
	req.timeout = timeout;
	cri_result_t r;
	int ret = call(method, &req.base, NULL, &r);
	cri_result_clear(&r);
	return ret;
}

static int pull(const char *ref)
{
	return td_pull(&D, ref);
}

/* The busybox-static image the tests run, served by a registry of our own on 127.0.0.1 (in dir, 128 bytes). */
static int start_registry(char *dir, char *ret_img, size_t img_size)
{
	int port = td_registry_start(dir, NULL);
	if (port < 0)
		return -1;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	const char *push[] = { "push-containers", ps, NULL };
	if (td_fixture(push, NULL) != 0)
		return -1;
	snprintf(ret_img, img_size, "127.0.0.1:%d/ctr:plain", port);
	return port;
}

static void containers(int n, const char *img)
{
	double *cr = calloc((size_t)n, sizeof(double)), *sta = calloc((size_t)n, sizeof(double));
	double *sto = calloc((size_t)n, sizeof(double)), *rm = calloc((size_t)n, sizeof(double));
	double *st = calloc((size_t)n * 10, sizeof(double)), *scratch = calloc((size_t)n, sizeof(double));
	char *pod = run_pod(9000);
	if (!pod)
		return;
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "c%d", i);
		double t0 = bench_now_ms();
		char *id = create_ctr(pod, "bench9000", img, name);
		double t1 = bench_now_ms();
		if (!id || ctr_call(RT "StartContainer", id, 0) < 0)
			return;
		double t2 = bench_now_ms();
		for (int k = 0; k < 10; k++) {
			Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
			req.container_id = id;
			cri_result_t r;
			double s0 = bench_now_ms();
			call(RT "ContainerStatus", &req.base, &runtime__v1__container_status_response__descriptor, &r);
			st[i * 10 + k] = bench_now_ms() - s0;
			cri_result_clear(&r);
		}
		double t3 = bench_now_ms();
		ctr_call(RT "StopContainer", id, 10);
		double t4 = bench_now_ms();
		ctr_call(RT "RemoveContainer", id, 0);
		double t5 = bench_now_ms();
		cr[i] = t1 - t0;
		sta[i] = t2 - t1;
		sto[i] = t4 - t3;
		rm[i] = t5 - t4;
		free(id);
	}
	pod_call(RT "StopPodSandbox", pod);
	pod_call(RT "RemovePodSandbox", pod);
	free(pod);
	/* A pod and its container from scratch: RunPodSandbox + CreateContainer + StartContainer. */
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_ms();
		char *p = run_pod(10000 + i);
		char pn[32];
		snprintf(pn, sizeof(pn), "bench%d", 10000 + i);
		char *id = p ? create_ctr(p, pn, img, "c") : NULL;
		if (!id || ctr_call(RT "StartContainer", id, 0) < 0)
			return;
		scratch[i] = bench_now_ms() - t0;
		pod_call(RT "StopPodSandbox", p);
		pod_call(RT "RemovePodSandbox", p);
		free(id);
		free(p);
	}
	report("CreateContainer", cr, n);
	report("StartContainer", sta, n);
	report("StopContainer (obeys SIGTERM)", sto, n);
	report("RemoveContainer", rm, n);
	report("ContainerStatus", st, n * 10);
	report("pod + container from scratch", scratch, n);
	/* Ten pods of one container: the daemon and every monitor together. */
	char *pods[10], *ids[10];
	long total = bench_proc_kib(D.pid, "status", "VmRSS:");
	for (int i = 0; i < 10; i++) {
		char pn[32];
		snprintf(pn, sizeof(pn), "bench%d", 20000 + i);
		pods[i] = run_pod(20000 + i);
		ids[i] = pods[i] ? create_ctr(pods[i], pn, img, "c") : NULL;
		if (!ids[i] || ctr_call(RT "StartContainer", ids[i], 0) < 0)
			return;
	}
	total = bench_proc_kib(D.pid, "status", "VmRSS:");
	long mons = 0;
	for (int i = 0; i < 10; i++)
		mons += bench_proc_kib(monitor_pid(pods[i]), "status", "VmRSS:");
	printf("%-44s daemon %ld KiB + 10 monitors %ld KiB = %ld KiB\n", "10 pods x 1 container, RSS", total, mons,
	       total + mons);
	/* Nine more containers in each: ListContainerStats with 100 running containers. */
	for (int i = 0; i < 10; i++)
		for (int k = 1; k < 10; k++) {
			char pn[32], cn[16];
			snprintf(pn, sizeof(pn), "bench%d", 20000 + i);
			snprintf(cn, sizeof(cn), "c%d", k);
			char *id = create_ctr(pods[i], pn, img, cn);
			if (!id || ctr_call(RT "StartContainer", id, 0) < 0)
				return;
			free(id);
		}
	double ls[50];
	for (int i = 0; i < 50; i++) {
		Runtime__V1__ListContainerStatsRequest req = RUNTIME__V1__LIST_CONTAINER_STATS_REQUEST__INIT;
		cri_result_t r;
		double t0 = bench_now_ms();
		call(RT "ListContainerStats", &req.base, &runtime__v1__list_container_stats_response__descriptor, &r);
		ls[i] = bench_now_ms() - t0;
		if (i == 0 && r.resp)
			printf("ListContainerStats lists %zu containers\n",
			       ((Runtime__V1__ListContainerStatsResponse *)r.resp)->n_stats);
		cri_result_clear(&r);
	}
	report("ListContainerStats, 100 running containers", ls, 50);
	for (int i = 0; i < 50; i++) {
		Runtime__V1__ListPodSandboxMetricsRequest req = RUNTIME__V1__LIST_POD_SANDBOX_METRICS_REQUEST__INIT;
		cri_result_t r;
		double t0 = bench_now_ms();
		call(RT "ListPodSandboxMetrics", &req.base, &runtime__v1__list_pod_sandbox_metrics_response__descriptor, &r);
		ls[i] = bench_now_ms() - t0;
		cri_result_clear(&r);
	}
	report("ListPodSandboxMetrics, 100 running containers", ls, 50);
	/* The metrics endpoint, scraped as Prometheus does (a new connection each time) */
	char *log = td_log(&D), *at = strstr(log, "metrics on ");
	char url[128] = "";
	if (at)
		sscanf(at + strlen("metrics on "), "%127s", url);
	free(log);
	CURL *c = curl_easy_init();
	size_t bytes = 0;
	for (int i = 0; *url && c && i < 50; i++) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_bytes);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &bytes);
		curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
		bytes = 0;
		double t0 = bench_now_ms();
		curl_easy_perform(c);
		ls[i] = bench_now_ms() - t0;
	}
	curl_easy_cleanup(c);
	if (*url) {
		printf("metrics scrape: %zu bytes\n", bytes);
		report("metrics scrape (GET /metrics), 100 containers", ls, 50);
	}
	for (int i = 0; i < 10; i++) {
		pod_call(RT "StopPodSandbox", pods[i]);
		pod_call(RT "RemovePodSandbox", pods[i]);
		free(pods[i]);
		free(ids[i]);
	}
}

int main(int argc, char **argv)
{
	int n = 50;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
	if (n < 2)
		n = 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	grpc_init();
	if (td_setup(&D, NULL) < 0)
		return 1;
	/* Everything below ends at out, which undoes what was made: the daemon and its pods, the registry, the
	 * bridge and what it changed on the node. */
	int status = 1;
	td_net_state_t node_net;
	td_net_state_save(&node_net);
	cni_network_t *net = NULL;
	double *add = NULL, *del = NULL, *run = NULL, *stop = NULL, *rm = NULL, *st = NULL;
	char reg_dir[128] = "", img[128];
	snprintf(bridge, sizeof(bridge), "crlbench%d", getpid() % 10000);
	snprintf(ipam, sizeof(ipam), "%s/ipam", D.dir);
	char conflist[256], text[2048];
	snprintf(conflist, sizeof(conflist), "%s/10-bench.conflist", D.netdir);
	/* The test's harness network: bridge + host-local + portmap, no default route, no masquerade. */
	snprintf(text, sizeof(text),
		 "{\"cniVersion\":\"1.0.0\",\"name\":\"crlbench\",\"plugins\":["
		 "{\"type\":\"bridge\",\"bridge\":\"%s\",\"isGateway\":true,\"ipMasq\":false,"
		 "\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.202.%d.0/24\"}]],\"dataDir\":\"%s\"}},"
		 "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}",
		 bridge, getpid() % 200, ipam);
	td_write_file(conflist, text);
	char regconf[256], conf_extra[512];
	int port = start_registry(reg_dir, img, sizeof(img));
	if (port < 0) {
		fprintf(stderr, "the registry fixture did not start\n");
		goto out;
	}
	snprintf(regconf, sizeof(regconf), "%s/registries.conf", D.dir);
	td_write_regconf(regconf, port);
	snprintf(conf_extra, sizeof(conf_extra),
		 "\n[crio-lite.image]\nregistries_conf = \"%s\"\n[crio-lite.metrics]\nenable_metrics = true\nmetrics_port = 0\n",
		 regconf);
	FILE *cf = fopen(D.conf, "ae");
	if (cf) {
		fputs(conf_extra, cf);
		fclose(cf);
	}
	crl_error_t err = CRL_ERROR_INIT;
	char *dirs[] = { "/usr/lib/cni", NULL };
	if (cni_conf_load(D.netdir, NULL, &net, &err) < 0) {
		fprintf(stderr, "%s\n", crl_error_message(&err));
		goto out;
	}
	add = calloc((size_t)n, sizeof(double));
	del = calloc((size_t)n, sizeof(double));
	run = calloc((size_t)n, sizeof(double));
	stop = calloc((size_t)n, sizeof(double));
	rm = calloc((size_t)n, sizeof(double));
	st = calloc((size_t)n * 10, sizeof(double));
	if (!add || !del || !run || !stop || !rm || !st)
		goto out;
	cni_alone(net, dirs, n, add, del);
	if (td_start(&D, NULL) < 0) {
		fprintf(stderr, "daemon did not start\n");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_ms();
		char *id = run_pod(i);
		double t1 = bench_now_ms();
		if (!id)
			goto out;
		for (int k = 0; k < 10; k++) {
			Runtime__V1__PodSandboxStatusRequest req = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
			req.pod_sandbox_id = id;
			cri_result_t r;
			double s0 = bench_now_ms();
			call(RT "PodSandboxStatus", &req.base, &runtime__v1__pod_sandbox_status_response__descriptor, &r);
			st[i * 10 + k] = bench_now_ms() - s0;
			cri_result_clear(&r);
		}
		double t2 = bench_now_ms();
		pod_call(RT "StopPodSandbox", id);
		double t3 = bench_now_ms();
		pod_call(RT "RemovePodSandbox", id);
		double t4 = bench_now_ms();
		run[i] = t1 - t0;
		stop[i] = t3 - t2;
		rm[i] = t4 - t3;
		free(id);
	}
	printf("same conflist (bridge + host-local + portmap), %d iterations\n", n);
	report("CNI ADD chain alone", add, n);
	report("RunPodSandbox (monitor, namespaces, ADD)", run, n);
	report("CNI DEL chain alone", del, n);
	report("StopPodSandbox (DEL)", stop, n);
	report("RemovePodSandbox", rm, n);
	report("PodSandboxStatus", st, n * 10);
	printf("RunPodSandbox p50 - ADD p50: %+.2f ms (target <= 5); StopPodSandbox p50 - DEL p50: %+.2f ms (target <= 5)\n",
	       run[n / 2] - add[n / 2], stop[n / 2] - del[n / 2]);

	/* Ten pods running: each monitor's RSS and PSS, and the daemon's RSS. */
	char *ids[10] = { NULL };
	long rss_max = 0, pss_sum = 0;
	for (int i = 0; i < 10; i++)
		if (!(ids[i] = run_pod(1000 + i)))
			goto out; /* the daemon's stop below leaves the pods to td_monitors */
	for (int i = 0; i < 10; i++) {
		pid_t mp = monitor_pid(ids[i]);
		long rss = bench_proc_kib(mp, "status", "VmRSS:"), pss = bench_proc_kib(mp, "smaps_rollup", "Pss:");
		rss_max = rss > rss_max ? rss : rss_max;
		pss_sum += pss;
	}
	printf("%-44s max RSS %ld KiB per monitor (target <= 1024), PSS %ld KiB per pod\n", "10 pods running", rss_max,
	       pss_sum / 10);
	printf("%-44s %ld KiB\n", "daemon RSS with 10 pods", bench_proc_kib(D.pid, "status", "VmRSS:"));
	for (int i = 0; i < 10; i++) {
		pod_call(RT "StopPodSandbox", ids[i]);
		pod_call(RT "RemovePodSandbox", ids[i]);
		free(ids[i]);
	}
	if (pull(img) == 0)
		containers(n, img);
	status = 0;
out:
	if (D.pid > 0)
		td_stop(&D, SIGTERM, 20000);
	if (td_monitors(D.runroot, true) > 0)
		fprintf(stderr, "monitors were left running; ended\n");
	td_sweep(D.dir, NULL, NULL);
	td_registry_stop(reg_dir);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", bridge);
	if (system(cmd) != 0) {
		/* Already gone. */
	}
	td_net_state_restore(&node_net);
	td_cleanup(&D);
	cni_network_free(net);
	free(add);
	free(del);
	free(run);
	free(stop);
	free(rm);
	free(st);
	grpc_shutdown();
	return status;
}
