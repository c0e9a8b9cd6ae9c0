/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's metrics endpoint scraped through a real HTTP client (libcurl), its exposition parsed (every line
 * valid, every family typed) and its counters followed across the calls made here; the CRI metrics calls
 * (ListMetricDescriptors, ListPodSandboxMetrics, StreamPodSandboxMetrics) on a real container; and
 * UpdatePodSandboxResources on the pod cgroup. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "harness.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"
#define CODE_INVALID_ARGUMENT 3
#define CODE_NOT_FOUND 5

static test_daemon_t D;
static char reg_dir[128], regconf[256], image[128], metrics_url[128];
static int reg_port;

static int call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
		cri_result_t *r)
{
	if (cri_call(D.client, method, req, desc, 60000, r) < 0)
		fail_msg("%s: transport failure", method);
	return r->code;
}

static int pull(const char *ref)
{
	return td_pull(&D, ref);
}

static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((reg_port = td_container_registry(reg_dir, regconf, sizeof(regconf))) < 0)
		return -1;
	char extra[512];
	snprintf(extra, sizeof(extra),
		 "[crio-lite.image]\nregistries_conf = \"%s\"\n[crio-lite.metrics]\nenable_metrics = true\nmetrics_port = 0\n",
		 regconf);
	if (td_setup(&D, extra) < 0)
		return -1;
	td_write_lo_network(&D);
	if (td_start(&D, NULL) < 0 || !td_wait_log(&D, "metrics on http://", 10000))
		return -1;
	char *l = td_log(&D), *at = strstr(l, "metrics on ");
	sscanf(at + strlen("metrics on "), "%127s", metrics_url);
	free(l);
	snprintf(image, sizeof(image), "127.0.0.1:%d/ctr:plain", reg_port);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int ok = td_finish(&D);
	td_registry_stop(reg_dir);
	curl_global_cleanup();
	grpc_shutdown();
	return ok ? 0 : -1;
}

/* --- the exposition format --- */

typedef struct sample {
	char name[128];
	char labels[512]; /* as written, without the braces */
	double value;
} sample_t;

typedef struct scrape {
	sample_t *s;
	size_t n;
	char types[128][2][128]; /* family, type */
	size_t n_types;
	long status;
	char content_type[128];
} scrape_t;

typedef struct body {
	char *data;
	size_t len;
} body_t;

static size_t gather(char *p, size_t size, size_t n, void *arg)
{
	body_t *b = arg;
	size_t k = size * n;
	char *d = realloc(b->data, b->len + k + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, k);
	b->len += k;
	d[b->len] = 0;
	b->data = d;
	return k;
}

static const char *type_of(const scrape_t *sc, const char *family)
{
	for (size_t i = 0; i < sc->n_types; i++)
		if (strcmp(sc->types[i][0], family) == 0)
			return sc->types[i][1];
	return NULL;
}

static bool metric_name(const char **p, char *out, size_t size)
{
	size_t k = 0;
	if (!(isalpha((unsigned char)**p) || **p == '_' || **p == ':'))
		return false;
	while (isalnum((unsigned char)**p) || **p == '_' || **p == ':') {
		if (k + 1 >= size)
			return false;
		out[k++] = *(*p)++;
	}
	out[k] = 0;
	return true;
}

/* name="value" pairs, values with \\ \" \n escapes. */
static bool labels_valid(const char *l)
{
	while (*l) {
		char n[128];
		if (!metric_name(&l, n, sizeof(n)) || *l++ != '=' || *l++ != '"')
			return false;
		while (*l && *l != '"') {
			if (*l == '\\') {
				l++;
				if (*l != '\\' && *l != '"' && *l != 'n')
					return false;
			}
			l++;
		}
		if (*l++ != '"')
			return false;
		if (*l == ',')
			l++;
		else if (*l)
			return false;
	}
	return true;
}

/* GET the endpoint and check every line: HELP and TYPE lines before their family's samples (a family typed
 * once), samples name{labels} value with valid names, labels and numbers. */
static void scrape(scrape_t *sc)
{
	memset(sc, 0, sizeof(*sc));
	CURL *c = curl_easy_init();
	body_t body = { 0 };
	curl_easy_setopt(c, CURLOPT_URL, metrics_url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gather);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sc->status);
	char *ct = NULL;
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(sc->content_type, sizeof(sc->content_type), "%s", ct ? ct : "");
	curl_easy_cleanup(c);
	assert_int_equal(sc->status, 200);
	assert_non_null(body.data);
	size_t cap = 0;
	for (char *save = NULL, *line = strtok_r(body.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			const char *p = line + 7;
			char name[128];
			assert_true(metric_name(&p, name, sizeof(name)));
			assert_true(*p == ' ' && p[1]);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			const char *p = line + 7;
			char name[128];
			assert_true(metric_name(&p, name, sizeof(name)));
			assert_int_equal(*p++, ' ');
			assert_true(strcmp(p, "counter") == 0 || strcmp(p, "gauge") == 0 || strcmp(p, "histogram") == 0);
			assert_null(type_of(sc, name)); /* once */
			assert_true(sc->n_types < 128);
			snprintf(sc->types[sc->n_types][0], 128, "%s", name);
			snprintf(sc->types[sc->n_types][1], 128, "%s", p);
			sc->n_types++;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (sc->n == cap) {
			cap = cap ? cap * 2 : 256;
			sc->s = realloc(sc->s, cap * sizeof(*sc->s));
		}
		sample_t *s = &sc->s[sc->n++];
		const char *p = line;
		if (!metric_name(&p, s->name, sizeof(s->name)))
			fail_msg("bad sample line: %s", line);
		s->labels[0] = 0;
		if (*p == '{') {
			const char *end = strstr(p, "} ");
			if (!end)
				fail_msg("bad sample line: %s", line);
			snprintf(s->labels, sizeof(s->labels), "%.*s", (int)(end - p - 1), p + 1);
			if (!labels_valid(s->labels))
				fail_msg("bad labels: %s", line);
			p = end + 1;
		}
		if (*p++ != ' ')
			fail_msg("bad sample line: %s", line);
		char *num_end = NULL;
		s->value = strtod(p, &num_end);
		if (num_end == p || (*num_end && *num_end != ' '))
			fail_msg("bad value: %s", line);
		/* typed: the sample's family, or the histogram it is a series of */
		const char *t = type_of(sc, s->name);
		static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
		for (size_t k = 0; !t && k < 3; k++) {
			size_t fl = strlen(s->name), sl = strlen(suffixes[k]);
			if (fl <= sl || strcmp(s->name + fl - sl, suffixes[k]) != 0)
				continue;
			char family[128];
			snprintf(family, sizeof(family), "%.*s", (int)(fl - sl), s->name);
			t = type_of(sc, family);
			if (t && strcmp(t, "histogram") != 0)
				t = NULL;
		}
		if (!t)
			fail_msg("sample of an untyped family: %s", line);
		assert_int_equal(strncmp(s->name, "crio_lite_", 10), 0);
	}
	free(body.data);
}

static double value_of(const scrape_t *sc, const char *name, const char *labels)
{
	for (size_t i = 0; i < sc->n; i++)
		if (strcmp(sc->s[i].name, name) == 0 && strcmp(sc->s[i].labels, labels) == 0)
			return sc->s[i].value;
	return 0; /* a counter not yet written is zero */
}

static void scrape_free(scrape_t *sc)
{
	free(sc->s);
}

/* --- pods and containers --- */

typedef struct pod {
	char *id;
	char logdir[256];
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__PodSandboxConfig cfg;
	Runtime__V1__LinuxPodSandboxConfig lin;
	Runtime__V1__LinuxContainerResources res;
} pod_t;

static void run_pod(pod_t *p, const char *name)
{
	memset(p, 0, sizeof(*p));
	runtime__v1__pod_sandbox_metadata__init(&p->md);
	p->md.name = p->md.uid = (char *)name;
	p->md.namespace_ = "metricstest";
	runtime__v1__pod_sandbox_config__init(&p->cfg);
	runtime__v1__linux_pod_sandbox_config__init(&p->lin);
	runtime__v1__linux_container_resources__init(&p->res);
	p->res.memory_limit_in_bytes = 512 << 20;
	p->lin.resources = &p->res;
	p->cfg.metadata = &p->md;
	p->cfg.linux = &p->lin;
	snprintf(p->logdir, sizeof(p->logdir), "%s/logs/%s", D.dir, name);
	p->cfg.log_directory = p->logdir;
	p->id = td_run_pod(&D, &p->cfg);
	assert_non_null(p->id);
}

static void remove_pod(pod_t *p)
{
	assert_int_equal(td_remove_pod(&D, p->id), 0);
	free(p->id);
}

static char *start_ctr(pod_t *p, const char *name, const char *script)
{
	char *id = td_start_sh(&D, p->id, &p->cfg, image, name, script, false);
	assert_non_null(id);
	return id;
}

/* --- tests --- */

static void test_endpoint_counters_move(void **state)
{
	(void)state;
	scrape_t a, b;
	scrape(&a);
	assert_non_null(strstr(a.content_type, "text/plain; version=0.0.4"));
	const char *version_ok = "service=\"runtime.v1.RuntimeService\",method=\"Version\",code=\"OK\"";
	for (int i = 0; i < 5; i++) {
		Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
		cri_result_t r;
		assert_int_equal(call(RT "Version", &req.base, &runtime__v1__version_response__descriptor, &r), 0);
		cri_result_clear(&r);
	}
	Runtime__V1__PodSandboxStatusRequest sreq = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	sreq.pod_sandbox_id = "nosuchpod";
	cri_result_t r;
	assert_int_equal(call(RT "PodSandboxStatus", &sreq.base, NULL, &r), CODE_NOT_FOUND);
	cri_result_clear(&r);
	assert_int_equal(pull(image), 0);
	char missing[160];
	snprintf(missing, sizeof(missing), "127.0.0.1:%d/ctr:no-such-tag", reg_port);
	assert_int_equal(pull(missing), CODE_NOT_FOUND);
	pod_t p;
	run_pod(&p, "metrics-a");
	scrape(&b);
	assert_int_equal(value_of(&b, "crio_lite_grpc_requests_total", version_ok) -
				 value_of(&a, "crio_lite_grpc_requests_total", version_ok),
			 5);
	assert_int_equal(value_of(&b, "crio_lite_grpc_request_duration_seconds_count", "method=\"Version\"") -
				 value_of(&a, "crio_lite_grpc_request_duration_seconds_count", "method=\"Version\""),
			 5);
	assert_int_equal(value_of(&b, "crio_lite_grpc_requests_total",
				  "service=\"runtime.v1.RuntimeService\",method=\"PodSandboxStatus\",code=\"NOT_FOUND\"") -
				 value_of(&a, "crio_lite_grpc_requests_total",
					  "service=\"runtime.v1.RuntimeService\",method=\"PodSandboxStatus\",code=\"NOT_FOUND\""),
			 1);
	assert_int_equal(value_of(&b, "crio_lite_image_pulls_total", "result=\"success\"") -
				 value_of(&a, "crio_lite_image_pulls_total", "result=\"success\""),
			 1);
	assert_int_equal(value_of(&b, "crio_lite_image_pull_failures_total", "reason=\"not_found\"") -
				 value_of(&a, "crio_lite_image_pull_failures_total", "reason=\"not_found\""),
			 1);
	assert_true(value_of(&b, "crio_lite_image_pull_bytes_total", "") > value_of(&a, "crio_lite_image_pull_bytes_total", ""));
	assert_int_equal(value_of(&b, "crio_lite_pods", "state=\"ready\""), 1);
	assert_int_equal(value_of(&b, "crio_lite_monitors_alive", ""), 1);
	assert_true(value_of(&b, "crio_lite_cni_plugin_duration_seconds_count", "plugin=\"loopback\",command=\"ADD\"") >= 1);
	assert_true(value_of(&b, "crio_lite_process_resident_memory_bytes", "") > 1 << 20);
	assert_true(value_of(&b, "crio_lite_process_open_fds", "") > 3);
	/* every histogram's buckets are cumulative, and +Inf is the count */
	double prev = -1;
	for (size_t i = 0; i < b.n; i++)
		if (strcmp(b.s[i].name, "crio_lite_grpc_request_duration_seconds_bucket") == 0 &&
		    strncmp(b.s[i].labels, "method=\"Version\",", 17) == 0) {
			assert_true(b.s[i].value >= prev);
			prev = b.s[i].value;
		}
	assert_true(prev >= 5);
	assert_int_equal(value_of(&b, "crio_lite_grpc_request_duration_seconds_bucket", "method=\"Version\",le=\"+Inf\""),
			 value_of(&b, "crio_lite_grpc_request_duration_seconds_count", "method=\"Version\""));
	scrape_free(&a);
	scrape_free(&b);
	remove_pod(&p);
	scrape_t c;
	scrape(&c);
	assert_int_equal(value_of(&c, "crio_lite_pods", "state=\"ready\""), 0);
	assert_int_equal(value_of(&c, "crio_lite_cni_plugin_duration_seconds_count", "plugin=\"loopback\",command=\"DEL\"") >= 1, 1);
	scrape_free(&c);
	/* only /metrics is served */
	CURL *h = curl_easy_init();
	char other[160];
	snprintf(other, sizeof(other), "%.*s/other", (int)(strlen(metrics_url) - strlen("/metrics")), metrics_url);
	curl_easy_setopt(h, CURLOPT_URL, other);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	assert_int_equal(code, 404);
	curl_easy_cleanup(h);
}

static const Runtime__V1__Metric *find_metric(Runtime__V1__Metric **v, size_t n, const char *name, const char *extra)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i]->name, name) == 0 && (!extra || (v[i]->n_label_values > 5 && strcmp(v[i]->label_values[5], extra) == 0)))
			return v[i];
	return NULL;
}

static uint64_t cgroup_value(const char *pod_cgroup_dir, const char *file)
{
	char path[512], buf[64] = "";
	snprintf(path, sizeof(path), "%s/%s", pod_cgroup_dir, file);
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	return strtoull(buf, NULL, 10);
}

static void test_cri_metrics(void **state)
{
	(void)state;
	assert_int_equal(pull(image), 0);
	/* the descriptors: cAdvisor's names, CRI-O's and containerd's label keys */
	Runtime__V1__ListMetricDescriptorsRequest dreq = RUNTIME__V1__LIST_METRIC_DESCRIPTORS_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(call(RT "ListMetricDescriptors", &dreq.base, &runtime__v1__list_metric_descriptors_response__descriptor, &r), 0);
	Runtime__V1__ListMetricDescriptorsResponse *dr = (Runtime__V1__ListMetricDescriptorsResponse *)r.resp;
	const char *want[] = { "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
			       "container_memory_rss", "container_network_receive_bytes_total", "container_fs_usage_bytes",
			       "container_oom_events_total" };
	for (size_t w = 0; w < 6; w++) {
		const Runtime__V1__MetricDescriptor *found = NULL;
		for (size_t i = 0; i < dr->n_descriptors; i++)
			if (strcmp(dr->descriptors[i]->name, want[w]) == 0)
				found = dr->descriptors[i];
		if (!found)
			fail_msg("no descriptor %s", want[w]);
		assert_true(found->help && *found->help);
		assert_true(found->n_label_keys >= 5);
		assert_string_equal(found->label_keys[0], "id");
		assert_string_equal(found->label_keys[4], "container");
	}
	cri_result_clear(&r);

	pod_t p;
	run_pod(&p, "metrics-b");
	/* a container that holds 16 MiB in its pod's /dev/shm and burns cpu until told to stop, then waits */
	char *ctr = start_ctr(&p, "burner",
			      "dd if=/dev/zero of=/dev/shm/held bs=1M count=16 2>/dev/null; "
			      "while [ ! -e /tmp/stop ]; do :; done; touch /tmp/done; exec sleep 100000");
	/* it has used more than a second of cpu (however busy the machine: its own clock, not ours) */
	uint64_t used = 0;
	for (int i = 0; i < 1200 && used < 1200000000ULL; i++) {
		Runtime__V1__ContainerStatsRequest sr = RUNTIME__V1__CONTAINER_STATS_REQUEST__INIT;
		sr.container_id = ctr;
		cri_result_t s;
		assert_int_equal(call(RT "ContainerStats", &sr.base, &runtime__v1__container_stats_response__descriptor, &s), 0);
		used = ((Runtime__V1__ContainerStatsResponse *)s.resp)->stats->cpu->usage_core_nano_seconds->value;
		cri_result_clear(&s);
		usleep(100000);
	}
	assert_true(used >= 1200000000ULL);
	/* told to stop; it says it has */
	char *done = NULL;
	for (int i = 0; i < 300; i++) {
		free(done);
		done = td_exec_sync(&D, ctr, "touch /tmp/stop; test -e /tmp/done && echo done", NULL);
		assert_non_null(done);
		if (strcmp(done, "done\n") == 0)
			break;
		usleep(100000);
	}
	assert_string_equal(done, "done\n"); /* the burner stopped: it does not take a core from the tests after */
	free(done);
	Runtime__V1__ListPodSandboxMetricsRequest lreq = RUNTIME__V1__LIST_POD_SANDBOX_METRICS_REQUEST__INIT;
	assert_int_equal(call(RT "ListPodSandboxMetrics", &lreq.base, &runtime__v1__list_pod_sandbox_metrics_response__descriptor, &r), 0);
	Runtime__V1__ListPodSandboxMetricsResponse *lr = (Runtime__V1__ListPodSandboxMetricsResponse *)r.resp;
	assert_int_equal(lr->n_pod_metrics, 1);
	Runtime__V1__PodSandboxMetrics *pm = lr->pod_metrics[0];
	assert_string_equal(pm->pod_sandbox_id, p.id);
	/* the pod's network: lo, its only interface here */
	const Runtime__V1__Metric *rx = find_metric(pm->metrics, pm->n_metrics, "container_network_receive_bytes_total", "lo");
	assert_non_null(rx);
	assert_string_equal(rx->label_values[0], p.id);
	assert_string_equal(rx->label_values[2], "metricstest");
	assert_string_equal(rx->label_values[3], "metrics-b");
	assert_int_equal(pm->n_container_metrics, 1);
	Runtime__V1__ContainerMetrics *cm = pm->container_metrics[0];
	assert_string_equal(cm->container_id, ctr);
	const Runtime__V1__Metric *cpu = find_metric(cm->metrics, cm->n_metrics, "container_cpu_usage_seconds_total", "total");
	const Runtime__V1__Metric *ws = find_metric(cm->metrics, cm->n_metrics, "container_memory_working_set_bytes", NULL);
	const Runtime__V1__Metric *procs = find_metric(cm->metrics, cm->n_metrics, "container_processes", NULL);
	assert_non_null(cpu);
	assert_non_null(ws);
	assert_non_null(procs);
	assert_int_equal(cpu->metric_type, RUNTIME__V1__METRIC_TYPE__COUNTER);
	assert_int_equal(ws->metric_type, RUNTIME__V1__METRIC_TYPE__GAUGE);
	assert_string_equal(cpu->label_values[0], ctr);
	assert_string_equal(cpu->label_values[1], image);
	assert_string_equal(cpu->label_values[4], "burner");
	assert_true(cpu->value->value >= 1); /* whole seconds of the 2 s loop */
	assert_true(ws->value->value >= 16u << 20);
	assert_true(procs->value->value >= 1);
	assert_true(cpu->timestamp > 1700000000LL * 1000000000LL); /* ns */
	/* the same working set as ContainerStats reads (the same cgroup file, a moment apart: within 5 %) */
	Runtime__V1__ContainerStatsRequest sr = RUNTIME__V1__CONTAINER_STATS_REQUEST__INIT;
	sr.container_id = ctr;
	cri_result_t s;
	assert_int_equal(call(RT "ContainerStats", &sr.base, &runtime__v1__container_stats_response__descriptor, &s), 0);
	uint64_t ws2 = ((Runtime__V1__ContainerStatsResponse *)s.resp)->stats->memory->working_set_bytes->value;
	double ratio = (double)ws->value->value / (double)ws2;
	assert_true(ratio > 0.95 && ratio < 1.05);
	cri_result_clear(&s);
	cri_result_clear(&r);

	/* the stream: the same pods */
	Runtime__V1__StreamPodSandboxMetricsRequest streq = RUNTIME__V1__STREAM_POD_SANDBOX_METRICS_REQUEST__INIT;
	cri_stream_t *st = cri_stream_open(D.client, RT "StreamPodSandboxMetrics", &streq.base, 30000);
	assert_non_null(st);
	size_t pods = 0;
	for (;;) {
		ProtobufCMessage *m = NULL;
		cri_result_t end = { 0 };
		int n = cri_stream_next(st, &runtime__v1__stream_pod_sandbox_metrics_response__descriptor, 30000, &m, &end);
		if (n != 1) {
			assert_int_equal(n, 0);
			assert_int_equal(end.code, 0);
			cri_result_clear(&end);
			break;
		}
		Runtime__V1__StreamPodSandboxMetricsResponse *sm = (Runtime__V1__StreamPodSandboxMetricsResponse *)m;
		for (size_t i = 0; i < sm->n_pod_sandbox_metrics; i++)
			pods += strcmp(sm->pod_sandbox_metrics[i]->pod_sandbox_id, p.id) == 0;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	cri_stream_free(st);
	assert_int_equal(pods, 1);

	/* UpdatePodSandboxResources: the pod cgroup's memory limit becomes resources + overhead */
	Runtime__V1__PodSandboxStatusRequest psr = RUNTIME__V1__POD_SANDBOX_STATUS_REQUEST__INIT;
	psr.pod_sandbox_id = p.id;
	psr.verbose = true;
	assert_int_equal(call(RT "PodSandboxStatus", &psr.base, &runtime__v1__pod_sandbox_status_response__descriptor, &r), 0);
	Runtime__V1__PodSandboxStatusResponse *ps = (Runtime__V1__PodSandboxStatusResponse *)r.resp;
	const char *info = NULL;
	for (size_t i = 0; i < ps->n_info; i++)
		if (strcmp(ps->info[i]->key, "info") == 0)
			info = ps->info[i]->value;
	assert_non_null(info);
	const char *cg = strstr(info, "\"cgroup\":\"");
	assert_non_null(cg);
	cg += strlen("\"cgroup\":\"");
	/* cgroup v1's memory controller, or the v2 hierarchy */
	char dir[512];
	bool v1 = access("/sys/fs/cgroup/memory", F_OK) == 0;
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s%.*s", v1 ? "/memory" : "", (int)(strchr(cg, '"') - cg), cg);
	const char *limit_file = v1 ? "memory.limit_in_bytes" : "memory.max";
	cri_result_clear(&r);
	assert_int_equal(cgroup_value(dir, limit_file), 512u << 20);
	Runtime__V1__LinuxContainerResources res = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT,
					     over = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	res.memory_limit_in_bytes = 256 << 20;
	over.memory_limit_in_bytes = 16 << 20;
	Runtime__V1__UpdatePodSandboxResourcesRequest ur = RUNTIME__V1__UPDATE_POD_SANDBOX_RESOURCES_REQUEST__INIT;
	ur.pod_sandbox_id = p.id;
	ur.resources = &res;
	ur.overhead = &over;
	assert_int_equal(call(RT "UpdatePodSandboxResources", &ur.base, NULL, &r), 0);
	cri_result_clear(&r);
	assert_int_equal(cgroup_value(dir, limit_file), 272u << 20);
	/* no memory limit in the resources: none for the pod, whatever the overhead (v2's "max" reads as 0) */
	res.memory_limit_in_bytes = 0;
	assert_int_equal(call(RT "UpdatePodSandboxResources", &ur.base, NULL, &r), 0);
	cri_result_clear(&r);
	uint64_t lifted = cgroup_value(dir, limit_file);
	assert_true(v1 ? lifted > (1ULL << 60) : lifted == 0);
	/* the overhead alone is not a limit to set */
	ur.resources = NULL;
	assert_int_equal(call(RT "UpdatePodSandboxResources", &ur.base, NULL, &r), CODE_INVALID_ARGUMENT);
	cri_result_clear(&r);
	ur.resources = &res;
	res.memory_limit_in_bytes = -5;
	assert_int_equal(call(RT "UpdatePodSandboxResources", &ur.base, NULL, &r), CODE_INVALID_ARGUMENT);
	cri_result_clear(&r);
	res.memory_limit_in_bytes = 256 << 20;
	ur.pod_sandbox_id = "nosuchpod";
	assert_int_equal(call(RT "UpdatePodSandboxResources", &ur.base, NULL, &r), CODE_NOT_FOUND);
	cri_result_clear(&r);
	free(ctr);
	remove_pod(&p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint_counters_move),
		cmocka_unit_test(test_cri_metrics),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
