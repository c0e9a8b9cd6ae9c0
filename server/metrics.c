/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own metrics and their exposition (Prometheus text format 0.0.4). */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "daemon.h"
#include "grpc.h"
#include "pod.h"
#include "status.h"

#define N_CODES 17
/* Latency buckets, in seconds (le); +Inf is the count. */
static const double bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))
#define MAX_CNI 64

/* Each observation counts in one slot (the first bound it is under, or the last slot: over them all); the
 * exposition adds them up, so its buckets are cumulative and +Inf is the count however calls race a scrape. */
typedef struct hist {
	atomic_uint_fast64_t slot[N_BOUNDS + 1];
	atomic_uint_fast64_t sum_ns;
} hist_t;

typedef struct cni_series {
	char plugin[32];
	char command[8];
	hist_t h;
	atomic_uint_fast64_t failures;
} cni_series_t;

/* Why pulls fail, by the error's kind. */
static const char *const pull_reasons[] = { "not_found", "unauthorized", "invalid", "network", "timeout", "cancelled",
					    "no_space", "other" };
#define N_REASONS (sizeof(pull_reasons) / sizeof(pull_reasons[0]))

static struct {
	const srv_method_t *methods;
	size_t n;
	atomic_uint_fast64_t (*requests)[N_CODES]; /* [method][code]; the last row: unknown methods */
	hist_t *latency;                           /* [method] */
	atomic_uint_fast64_t pulls_ok, pulls_failed, pull_bytes, oom_kills;
	atomic_uint_fast64_t pull_failures[N_REASONS];
	hist_t pull_latency;
	pthread_mutex_t cni_lock;
	cni_series_t cni[MAX_CNI];
	size_t n_cni;
} M = { .cni_lock = PTHREAD_MUTEX_INITIALIZER };

void srv_metrics_init(const srv_method_t *methods, size_t n)
{
	M.methods = methods;
	M.n = n;
	M.requests = calloc(n + 1, sizeof(*M.requests));
	M.latency = calloc(n, sizeof(*M.latency));
	if (!M.requests || !M.latency) {
		/* both or neither: the RPC families are then left out */
		free(M.requests);
		free(M.latency);
		M.requests = NULL;
		M.latency = NULL;
	}
}

static void observe(hist_t *h, int64_t ns)
{
	double s = (double)ns / 1e9;
	size_t i = 0;
	while (i < N_BOUNDS && s > bounds[i])
		i++;
	atomic_fetch_add(&h->slot[i], 1);
	atomic_fetch_add(&h->sum_ns, ns > 0 ? (uint64_t)ns : 0);
}

static uint64_t hist_count(hist_t *h)
{
	uint64_t n = 0;
	for (size_t i = 0; i <= N_BOUNDS; i++)
		n += atomic_load(&h->slot[i]);
	return n;
}

void srv_metrics_rpc(const srv_method_t *m, int code, int64_t ns)
{
	if (!M.requests || code < 0 || code >= N_CODES)
		return;
	size_t i = m && m >= M.methods && m < M.methods + M.n ? (size_t)(m - M.methods) : M.n;
	atomic_fetch_add(&M.requests[i][code], 1);
	/* Streams last as long as their client keeps them (events: hours): counted, not timed. */
	if (i < M.n && !M.methods[i].stream)
		observe(&M.latency[i], ns);
}

static size_t reason_of(int errnum)
{
	switch (errnum) {
	case ENOENT:
		return 0;
	case EACCES:
	case EPERM:
	case EKEYREJECTED:
		return 1;
	case EINVAL:
	case EBADMSG:
	case EPROTO:
		return 2;
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EIO:
		return 3;
	case ETIMEDOUT:
		return 4;
	case ECANCELED:
		return 5;
	case ENOSPC:
	case EDQUOT:
		return 6;
	default:
		return 7;
	}
}

void srv_metrics_pull(int errnum, uint64_t bytes, int64_t ns)
{
	atomic_fetch_add(&M.pull_bytes, bytes);
	if (errnum) {
		atomic_fetch_add(&M.pulls_failed, 1);
		atomic_fetch_add(&M.pull_failures[reason_of(errnum)], 1);
		return;
	}
	atomic_fetch_add(&M.pulls_ok, 1);
	observe(&M.pull_latency, ns);
}

void srv_metrics_oom_kill(void)
{
	atomic_fetch_add(&M.oom_kills, 1);
}

void srv_metrics_cni(const char *plugin, const char *command, int64_t ns, bool ok)
{
	pthread_mutex_lock(&M.cni_lock);
	cni_series_t *c = NULL;
	char name[32];
	snprintf(name, sizeof(name), "%s", plugin);
	for (char *p = name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
			*p = '_';
	for (size_t i = 0; i < M.n_cni && !c; i++)
		if (strcmp(M.cni[i].plugin, name) == 0 && strcmp(M.cni[i].command, command) == 0)
			c = &M.cni[i];
	if (!c && M.n_cni < MAX_CNI) {
		c = &M.cni[M.n_cni++];
		/* label values need no escaping: a type from a conflist keeps only name characters */
		snprintf(c->plugin, sizeof(c->plugin), "%s", name);
		snprintf(c->command, sizeof(c->command), "%s", command);
	}
	pthread_mutex_unlock(&M.cni_lock);
	if (!c)
		return;
	observe(&c->h, ns);
	if (!ok)
		atomic_fetch_add(&c->failures, 1);
}

/* --- exposition --- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram's series: name_bucket{labels,le=...}, name_sum, name_count; labels "k=\"v\"" or "". */
static void histogram(FILE *f, const char *name, const char *labels, hist_t *h)
{
	const char *sep = *labels ? "," : "";
	uint64_t slots[N_BOUNDS + 1], cum = 0;
	for (size_t i = 0; i <= N_BOUNDS; i++)
		slots[i] = atomic_load(&h->slot[i]);
	for (size_t i = 0; i < N_BOUNDS; i++) {
		cum += slots[i];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i], (unsigned long long)cum);
	}
	unsigned long long count = cum + slots[N_BOUNDS];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, count);
	fprintf(f, "%s_sum%s%s%s %.9f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
		(double)atomic_load(&h->sum_ns) / 1e9);
	fprintf(f, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", count);
}

static void rpc_families(FILE *f)
{
	family(f, "crio_lite_grpc_requests_total", "counter", "CRI calls answered, by method and gRPC code.");
	for (size_t i = 0; i <= M.n && M.requests; i++)
		for (int code = 0; code < N_CODES; code++) {
			unsigned long long v = atomic_load(&M.requests[i][code]);
			if (!v)
				continue;
			fprintf(f, "crio_lite_grpc_requests_total{service=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
				i < M.n ? M.methods[i].service : "", i < M.n ? M.methods[i].name : "(unknown)",
				srv_code_name((srv_code_t)code), v);
		}
	family(f, "crio_lite_grpc_request_duration_seconds", "histogram",
	       "Time from a unary CRI call's start to its status (streams are counted, not timed).");
	for (size_t i = 0; i < M.n && M.latency; i++) {
		if (!hist_count(&M.latency[i]))
			continue;
		char labels[160];
		snprintf(labels, sizeof(labels), "method=\"%s\"", M.methods[i].name);
		histogram(f, "crio_lite_grpc_request_duration_seconds", labels, &M.latency[i]);
	}
}

static void image_families(FILE *f)
{
	family(f, "crio_lite_image_pulls_total", "counter", "Image pulls, by result.");
	fprintf(f, "crio_lite_image_pulls_total{result=\"success\"} %llu\n", (unsigned long long)atomic_load(&M.pulls_ok));
	fprintf(f, "crio_lite_image_pulls_total{result=\"failure\"} %llu\n",
		(unsigned long long)atomic_load(&M.pulls_failed));
	family(f, "crio_lite_image_pull_failures_total", "counter", "Failed image pulls, by reason.");
	for (size_t i = 0; i < N_REASONS; i++)
		fprintf(f, "crio_lite_image_pull_failures_total{reason=\"%s\"} %llu\n", pull_reasons[i],
			(unsigned long long)atomic_load(&M.pull_failures[i]));
	family(f, "crio_lite_image_pull_bytes_total", "counter", "Bytes of image layers fetched from registries.");
	fprintf(f, "crio_lite_image_pull_bytes_total %llu\n", (unsigned long long)atomic_load(&M.pull_bytes));
	family(f, "crio_lite_image_pull_duration_seconds", "histogram", "Time of image pulls that succeeded.");
	histogram(f, "crio_lite_image_pull_duration_seconds", "", &M.pull_latency);
}

static void cni_families(FILE *f)
{
	family(f, "crio_lite_cni_plugin_duration_seconds", "histogram",
	       "Time of CNI plugin execs, by plugin type and command.");
	pthread_mutex_lock(&M.cni_lock);
	size_t n = M.n_cni;
	pthread_mutex_unlock(&M.cni_lock);
	for (size_t i = 0; i < n; i++) {
		char labels[128];
		snprintf(labels, sizeof(labels), "plugin=\"%s\",command=\"%s\"", M.cni[i].plugin, M.cni[i].command);
		histogram(f, "crio_lite_cni_plugin_duration_seconds", labels, &M.cni[i].h);
	}
	family(f, "crio_lite_cni_plugin_failures_total", "counter", "CNI plugin execs that failed, by plugin type and command.");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "crio_lite_cni_plugin_failures_total{plugin=\"%s\",command=\"%s\"} %llu\n", M.cni[i].plugin,
			M.cni[i].command, (unsigned long long)atomic_load(&M.cni[i].failures));
}

/* Pods by state, monitors alive, containers by state: read from the stores at scrape. */
static void object_families(FILE *f, srv_daemon_t *d)
{
	srv_obj_t **v = NULL;
	size_t n = 0;
	size_t ready = 0, notready = 0, alive = 0;
	crl_error_t err = CRL_ERROR_INIT;
	if (d && srv_store_list(d->pods, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			srv_pod_t *p = srv_pod_of(v[i]);
			pthread_mutex_lock(&p->lock);
			ready += p->state == SRV_POD_READY;
			notready += p->state == SRV_POD_NOTREADY;
			pid_t mp = p->monitor_pid;
			pthread_mutex_unlock(&p->lock);
			alive += mp > 0 && kill(mp, 0) == 0;
		}
		srv_store_list_free(v, n);
	}
	crl_error_clear(&err);
	family(f, "crio_lite_pods", "gauge", "Pod sandboxes, by state.");
	fprintf(f, "crio_lite_pods{state=\"ready\"} %zu\ncrio_lite_pods{state=\"notready\"} %zu\n", ready, notready);
	family(f, "crio_lite_monitors_alive", "gauge", "Pod monitors whose process runs.");
	fprintf(f, "crio_lite_monitors_alive %zu\n", alive);
	static const char *const states[] = { "creating", "created", "running", "exited", "unknown" };
	size_t by[5] = { 0 };
	if (d && srv_store_list(d->ctrs, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			srv_ctr_t *c = srv_ctr_of(v[i]);
			pthread_mutex_lock(&c->lock);
			if ((int)c->state >= 0 && c->state <= SRV_CTR_UNKNOWN)
				by[c->state]++;
			pthread_mutex_unlock(&c->lock);
		}
		srv_store_list_free(v, n);
	}
	crl_error_clear(&err);
	family(f, "crio_lite_containers", "gauge", "Containers, by state.");
	for (size_t i = 0; i < 5; i++)
		fprintf(f, "crio_lite_containers{state=\"%s\"} %zu\n", states[i], by[i]);
	family(f, "crio_lite_container_oom_kills_total", "counter", "Containers that ended killed by the OOM killer.");
	fprintf(f, "crio_lite_container_oom_kills_total %llu\n", (unsigned long long)atomic_load(&M.oom_kills));
}

static void process_families(FILE *f)
{
	long rss = -1;
	char line[256];
	FILE *st = fopen("/proc/self/status", "re");
	while (st && fgets(line, sizeof(line), st))
		if (strncmp(line, "VmRSS:", 6) == 0)
			rss = atol(line + 6);
	if (st)
		fclose(st);
	size_t fds = 0;
	DIR *dir = opendir("/proc/self/fd");
	for (struct dirent *e; dir && (e = readdir(dir));)
		fds += e->d_name[0] != '.';
	if (dir) {
		closedir(dir);
		fds--; /* the directory's own */
	}
	family(f, "crio_lite_process_resident_memory_bytes", "gauge", "The daemon's resident memory.");
	fprintf(f, "crio_lite_process_resident_memory_bytes %lld\n", rss < 0 ? -1LL : (long long)rss * 1024);
	family(f, "crio_lite_process_open_fds", "gauge", "File descriptors the daemon holds open.");
	fprintf(f, "crio_lite_process_open_fds %zu\n", fds);
}

int srv_metrics_render(srv_daemon_t *d, char **ret, size_t *ret_len, crl_error_t *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return crl_error_set_errno(err, errno, "open_memstream");
	rpc_families(f);
	image_families(f);
	cni_families(f);
	object_families(f, d);
	process_families(f);
	if (fclose(f) != 0) {
		free(buf);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}
