/* SPDX-License-Identifier: Apache-2.0 */
/* ListMetricDescriptors, ListPodSandboxMetrics, StreamPodSandboxMetrics: cAdvisor's container metrics as kubelet's
 * /metrics/cadvisor serves them from CRI (KEP-2371), named and labelled as CRI-O and containerd do: label keys id,
 * image, namespace, pod, container (then the metric's own); the pod's network per interface at the pod level,
 * the rest per running container. Values are whole units (seconds truncated from ns), timestamps in ns. One
 * cgroup read per container, no fork. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "common/fs.h"
#include "common/timefmt.h"
#include "container.h"
#include "daemon.h"
#include "handlers.h"
#include "listing.h"
#include "pod.h"
#include "runtime/cgroup.h"
#include "stats.h"

enum { X_NONE, X_CPU, X_IFACE, X_FAILURE };

typedef struct desc {
	const char *name, *help;
	int type; /* RUNTIME__V1__METRIC_TYPE__* */
	int extra;
} desc_t;

#define C RUNTIME__V1__METRIC_TYPE__COUNTER
#define G RUNTIME__V1__METRIC_TYPE__GAUGE
static const desc_t descs[] = {
	{ "container_last_seen", "Last time a container was seen by the exporter", G, X_NONE },
	{ "container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G, X_NONE },
	{ "container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", C, X_CPU },
	{ "container_memory_usage_bytes",
	  "Current memory usage in bytes, including all memory regardless of when it was accessed", G, X_NONE },
	{ "container_memory_working_set_bytes", "Current working set in bytes.", G, X_NONE },
	{ "container_memory_rss", "Size of RSS in bytes.", G, X_NONE },
	{ "container_memory_swap", "Container swap usage in bytes.", G, X_NONE },
	{ "container_memory_failures_total", "Cumulative count of memory allocation failures.", C, X_FAILURE },
	{ "container_spec_memory_limit_bytes", "Memory limit for the container in bytes.", G, X_NONE },
	{ "container_oom_events_total", "Count of out of memory events observed for the container", C, X_NONE },
	{ "container_processes", "Number of processes running inside the container.", G, X_NONE },
	{ "container_fs_usage_bytes", "Number of bytes that are consumed by the container on this filesystem.", G,
	  X_NONE },
	{ "container_fs_inodes_total", "Number of inodes used by the container's writable layer.", G, X_NONE },
	{ "container_network_receive_bytes_total", "Cumulative count of bytes received", C, X_IFACE },
	{ "container_network_receive_packets_total", "Cumulative count of packets received", C, X_IFACE },
	{ "container_network_receive_packets_dropped_total", "Cumulative count of packets dropped while receiving", C,
	  X_IFACE },
	{ "container_network_receive_errors_total", "Cumulative count of errors encountered while receiving", C,
	  X_IFACE },
	{ "container_network_transmit_bytes_total", "Cumulative count of bytes transmitted", C, X_IFACE },
	{ "container_network_transmit_packets_total", "Cumulative count of packets transmitted", C, X_IFACE },
	{ "container_network_transmit_packets_dropped_total", "Cumulative count of packets dropped while transmitting", C,
	  X_IFACE },
	{ "container_network_transmit_errors_total", "Cumulative count of errors encountered while transmitting", C,
	  X_IFACE },
};
#undef C
#undef G
#define N_DESCS (sizeof(descs) / sizeof(descs[0]))
#define N_BASE 5
static const char *const base_keys[N_BASE] = { "id", "image", "namespace", "pod", "container" };
static const char *const extra_keys[][2] = { [X_NONE] = { NULL, NULL }, [X_CPU] = { "cpu", NULL },
					     [X_IFACE] = { "interface", NULL }, [X_FAILURE] = { "failure_type", "scope" } };
/* The descriptors' indexes by name, for the code below. */
enum {
	D_LAST_SEEN, D_START, D_CPU, D_MEM_USAGE, D_MEM_WS, D_MEM_RSS, D_MEM_SWAP, D_MEM_FAIL, D_MEM_LIMIT, D_OOM,
	D_PROCS, D_FS_USAGE, D_FS_INODES, D_NET_FIRST,
};
/* Where the network metrics take their values in /proc/net/dev's 16 columns. */
static const int net_column[8] = { 0, 1, 3, 2, 8, 9, 11, 10 };

static size_t n_extra(int extra)
{
	return extra == X_NONE ? 0 : extra == X_FAILURE ? 2 : 1;
}

int srv_list_metric_descriptors(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)d;
	(void)req;
	Runtime__V1__ListMetricDescriptorsResponse *out = resp;
	out->descriptors = srv_call_alloc(call, N_DESCS * sizeof(*out->descriptors));
	if (!out->descriptors)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < N_DESCS; i++) {
		Runtime__V1__MetricDescriptor *m = srv_call_alloc(call, sizeof(*m));
		size_t nk = N_BASE + n_extra(descs[i].extra);
		char **keys = srv_call_alloc(call, nk * sizeof(char *));
		if (!m || !keys)
			return crl_error_set(err, ENOMEM, "out of memory");
		runtime__v1__metric_descriptor__init(m);
		m->name = (char *)descs[i].name;
		m->help = (char *)descs[i].help;
		for (size_t k = 0; k < N_BASE; k++)
			keys[k] = (char *)base_keys[k];
		for (size_t k = 0; k < n_extra(descs[i].extra); k++)
			keys[N_BASE + k] = (char *)extra_keys[descs[i].extra][k];
		m->label_keys = keys;
		m->n_label_keys = nk;
		out->descriptors[out->n_descriptors++] = m;
	}
	return 0;
}

/* Metrics of one object, built on the arena. */
typedef struct builder {
	srv_arena_t *a;
	const char *base[N_BASE];
	int64_t ts;
	Runtime__V1__Metric **v;
	size_t n, cap;
	bool oom;
} builder_t;

static void add(builder_t *b, int di, uint64_t value, const char *x1, const char *x2)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 32;
		Runtime__V1__Metric **v = srv_arena_alloc(b->a, cap * sizeof(*v));
		if (!v) {
			b->oom = true;
			return;
		}
		if (b->n)
			memcpy(v, b->v, b->n * sizeof(*v));
		b->v = v;
		b->cap = cap;
	}
	Runtime__V1__Metric *m = srv_arena_alloc(b->a, sizeof(*m));
	Runtime__V1__UInt64Value *val = srv_arena_alloc(b->a, sizeof(*val));
	size_t nl = N_BASE + n_extra(descs[di].extra);
	char **lv = srv_arena_alloc(b->a, nl * sizeof(char *));
	if (!m || !val || !lv) {
		b->oom = true;
		return;
	}
	runtime__v1__metric__init(m);
	runtime__v1__uint64_value__init(val);
	val->value = value;
	m->name = (char *)descs[di].name;
	m->timestamp = b->ts;
	m->metric_type = descs[di].type;
	m->value = val;
	for (size_t k = 0; k < N_BASE; k++)
		lv[k] = (char *)(b->base[k] ? b->base[k] : "");
	if (nl > N_BASE)
		lv[N_BASE] = (char *)(x1 ? x1 : "");
	if (nl > N_BASE + 1)
		lv[N_BASE + 1] = (char *)(x2 ? x2 : "");
	m->label_values = lv;
	m->n_label_values = nl;
	b->v[b->n++] = m;
}

/* A running container's metrics, its labels' values in b->base. */
static void ctr_metrics(srv_ctr_t *c, builder_t *b)
{
	rt_cgroup_stats_t st;
	srv_cgroup_sample(c->cgroup, &st);
	pthread_mutex_lock(&c->lock);
	int64_t started = c->started_at;
	pthread_mutex_unlock(&c->lock);
	add(b, D_LAST_SEEN, (uint64_t)(b->ts / 1000000000), NULL, NULL);
	add(b, D_START, started > 0 ? (uint64_t)(started / 1000000000) : 0, NULL, NULL);
	add(b, D_CPU, st.cpu_usage_ns / 1000000000, "total", NULL);
	add(b, D_MEM_USAGE, st.memory_usage, NULL, NULL);
	add(b, D_MEM_WS, st.memory_working_set, NULL, NULL);
	add(b, D_MEM_RSS, st.memory_rss, NULL, NULL);
	add(b, D_MEM_SWAP, st.swap_usage, NULL, NULL);
	static const char *const scopes[] = { "container", "hierarchy" };
	for (int s = 0; s < 2; s++) {
		add(b, D_MEM_FAIL, st.page_faults, "pgfault", scopes[s]);
		add(b, D_MEM_FAIL, st.major_page_faults, "pgmajfault", scopes[s]);
	}
	add(b, D_MEM_LIMIT, st.memory_limit < SRV_NO_LIMIT ? st.memory_limit : 0, NULL, NULL);
	add(b, D_OOM, st.oom_kills, NULL, NULL);
	add(b, D_PROCS, st.pids_current, NULL, NULL);
	uint64_t bytes = 0, inodes = 0;
	srv_ctr_layer_usage(c, &bytes, &inodes);
	add(b, D_FS_USAGE, bytes, NULL, NULL);
	add(b, D_FS_INODES, inodes, NULL, NULL);
}

/* A pod's metrics: its network per interface (every one, lo too, as CRI-O), and its running containers'. */
static int fill_pod_metrics(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item)
{
	srv_pod_t *p = srv_pod_of(o);
	Runtime__V1__PodSandboxMetrics *pm = item;
	runtime__v1__pod_sandbox_metrics__init(pm);
	pm->pod_sandbox_id = p->obj.id;
	srv_arena_t *a = srv_call_arena(call);
	builder_t b = { .a = a, .ts = crl_now_ns(CLOCK_REALTIME) };
	const Runtime__V1__PodSandboxMetadata *md = p->config->metadata;
	b.base[0] = p->obj.id;
	b.base[1] = "";
	b.base[2] = md ? md->namespace_ : "";
	b.base[3] = md ? md->name : "";
	b.base[4] = "POD";
	srv_netdev_t nd[SRV_MAX_IFACES];
	size_t n = 0;
	srv_pod_netdev(p, nd, SRV_MAX_IFACES, true, &n);
	for (size_t i = 0; i < n; i++) {
		char *name = srv_arena_strdup(a, nd[i].name);
		if (!name)
			return -ENOMEM;
		for (int k = 0; k < 8; k++)
			add(&b, D_NET_FIRST + k, nd[i].v[net_column[k]], name, NULL);
	}
	if (b.oom)
		return -ENOMEM;
	pm->metrics = b.v;
	pm->n_metrics = b.n;
	srv_obj_t **cs = NULL;
	size_t nc = 0;
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_ctrs_of_pod(d, p->obj.id, &cs, &nc, &e) < 0) {
		crl_error_clear(&e);
		return 0;
	}
	int r = 0;
	pm->container_metrics = nc ? srv_arena_alloc(a, nc * sizeof(*pm->container_metrics)) : NULL;
	if (nc && !pm->container_metrics)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < nc; i++) {
		srv_ctr_t *c = srv_ctr_of(cs[i]);
		srv_ctr_refresh(d, c);
		pthread_mutex_lock(&c->lock);
		bool running = c->state == SRV_CTR_RUNNING;
		pthread_mutex_unlock(&c->lock);
		if (!running)
			continue;
		Runtime__V1__ContainerMetrics *cm = srv_arena_alloc(a, sizeof(*cm));
		/* copies on the call's arena: the container is let go before the answer is sent */
		/* the image as the pod spec names it (CRI-O's and containerd's image label), else its digest reference */
		const char *named = c->config->image && c->config->image->image && *c->config->image->image
					    ? c->config->image->image
					    : c->image_ref;
		char *id = srv_arena_strdup(a, c->obj.id), *img = srv_arena_strdup(a, named ? named : "");
		char *cname = srv_arena_strdup(a, c->config->metadata ? c->config->metadata->name : "");
		if (!cm || !id || !img || !cname) {
			r = -ENOMEM;
			break;
		}
		runtime__v1__container_metrics__init(cm);
		cm->container_id = id;
		builder_t cb = { .a = a, .ts = b.ts, .base = { id, img, b.base[2], b.base[3], cname } };
		ctr_metrics(c, &cb);
		if (cb.oom) {
			r = -ENOMEM;
			break;
		}
		cm->metrics = cb.v;
		cm->n_metrics = cb.n;
		pm->container_metrics[pm->n_container_metrics++] = cm;
	}
	srv_store_list_free(cs, nc);
	return r;
}

static bool keep_all(srv_daemon_t *d, srv_obj_t *o, const void *filter)
{
	(void)d;
	(void)o;
	(void)filter;
	return true;
}

static int select_pods(srv_daemon_t *d, srv_call_t *call, void ***items, size_t *n, crl_error_t *err)
{
	return srv_select(d, d->pods, call, NULL, keep_all, fill_pod_metrics, sizeof(Runtime__V1__PodSandboxMetrics), items,
			  n, err);
}

int srv_list_pod_sandbox_metrics(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)req;
	Runtime__V1__ListPodSandboxMetricsResponse *out = resp;
	void **items = NULL;
	size_t n = 0;
	int r = select_pods(d, call, &items, &n, err);
	if (r < 0)
		return r;
	out->pod_metrics = (Runtime__V1__PodSandboxMetrics **)items;
	out->n_pod_metrics = n;
	return 0;
}

int srv_stream_pod_sandbox_metrics(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	(void)req;
	void **items = NULL;
	size_t n = 0;
	int r = select_pods(d, call, &items, &n, err);
	if (r < 0)
		return r;
	return srv_stream_list(call, &runtime__v1__stream_pod_sandbox_metrics_response__descriptor, items, n, err);
}
