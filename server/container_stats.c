/* SPDX-License-Identifier: Apache-2.0 */
/* ContainerStats, ListContainerStats, StreamContainerStats and the pod stats calls: read from the cgroups (each
 * once per object and call), the writable layer and the pod's network namespace, in the daemon, without a fork
 * or a monitor round trip. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* A v1 memory limit at or above this is "no limit" (the kernel's page-rounded LLONG_MAX). */
/* Interfaces of a pod reported at most. */

void srv_cgroup_sample(const char *path, rt_cgroup_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	rt_cgroup_t *cg = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (path && rt_cgroup_open(path, &cg, &e) == 0)
		(void)rt_cgroup_stats(cg, st, &e);
	crl_error_clear(&e);
	rt_cgroup_free(cg);
}

void srv_ctr_layer_usage(const srv_ctr_t *c, uint64_t *bytes, uint64_t *inodes)
{
	char upper[4096];
	crl_error_t e = CRL_ERROR_INIT;
	*bytes = *inodes = 0;
	if (c->bundle && (size_t)snprintf(upper, sizeof(upper), "%s/upper", c->bundle) < sizeof(upper) &&
	    crl_fs_usage(upper, bytes, inodes, &e) < 0)
		crl_error_clear(&e);
}

static Runtime__V1__UInt64Value *u64(srv_arena_t *a, uint64_t v)
{
	Runtime__V1__UInt64Value *x = srv_arena_alloc(a, sizeof(*x));
	if (x) {
		runtime__v1__uint64_value__init(x);
		x->value = v;
	}
	return x;
}

/* Cpu and memory from one read of the cgroup; usage_nano_cores from the previous sample kept in *last_cpu and
 * *last_ts (0: none yet). */
static int cgroup_usage(srv_arena_t *a, const char *path, uint64_t *last_cpu, int64_t *last_ts, pthread_mutex_t *lock,
			Runtime__V1__CpuUsage **ret_cpu, Runtime__V1__MemoryUsage **ret_mem, Runtime__V1__SwapUsage **ret_swap,
			uint64_t *ret_pids)
{
	rt_cgroup_stats_t st;
	srv_cgroup_sample(path, &st);
	int64_t ts = crl_now_ns(CLOCK_REALTIME);
	Runtime__V1__CpuUsage *cpu = srv_arena_alloc(a, sizeof(*cpu));
	Runtime__V1__MemoryUsage *mem = srv_arena_alloc(a, sizeof(*mem));
	Runtime__V1__SwapUsage *swap = srv_arena_alloc(a, sizeof(*swap));
	if (!cpu || !mem || !swap)
		return -ENOMEM;
	runtime__v1__cpu_usage__init(cpu);
	runtime__v1__memory_usage__init(mem);
	runtime__v1__swap_usage__init(swap);
	cpu->timestamp = mem->timestamp = swap->timestamp = ts;
	cpu->usage_core_nano_seconds = u64(a, st.cpu_usage_ns);
	pthread_mutex_lock(lock);
	uint64_t nano_cores = 0;
	if (*last_ts && ts > *last_ts && st.cpu_usage_ns >= *last_cpu)
		nano_cores = (uint64_t)((double)(st.cpu_usage_ns - *last_cpu) * 1e9 / (double)(ts - *last_ts));
	*last_cpu = st.cpu_usage_ns;
	*last_ts = ts;
	pthread_mutex_unlock(lock);
	cpu->usage_nano_cores = u64(a, nano_cores);
	mem->working_set_bytes = u64(a, st.memory_working_set);
	mem->usage_bytes = u64(a, st.memory_usage);
	mem->rss_bytes = u64(a, st.memory_rss);
	mem->page_faults = u64(a, st.page_faults);
	mem->major_page_faults = u64(a, st.major_page_faults);
	if (st.memory_limit && st.memory_limit < SRV_NO_LIMIT)
		mem->available_bytes = u64(a, st.memory_limit > st.memory_working_set ? st.memory_limit - st.memory_working_set : 0);
	swap->swap_usage_bytes = u64(a, st.swap_usage);
	if (!cpu->usage_core_nano_seconds || !cpu->usage_nano_cores || !mem->working_set_bytes || !mem->usage_bytes ||
	    !mem->rss_bytes || !mem->page_faults || !mem->major_page_faults || !swap->swap_usage_bytes)
		return -ENOMEM;
	*ret_cpu = cpu;
	*ret_mem = mem;
	*ret_swap = swap;
	if (ret_pids)
		*ret_pids = st.pids_current;
	return 0;
}

static int fill_ctr_stats(srv_daemon_t *d, srv_arena_t *a, srv_ctr_t *c, Runtime__V1__ContainerStats *s)
{
	runtime__v1__container_stats__init(s);
	Runtime__V1__ContainerAttributes *at = srv_arena_alloc(a, sizeof(*at));
	Runtime__V1__FilesystemUsage *fs = srv_arena_alloc(a, sizeof(*fs));
	Runtime__V1__FilesystemIdentifier *fid = srv_arena_alloc(a, sizeof(*fid));
	if (!at || !fs || !fid)
		return -ENOMEM;
	runtime__v1__container_attributes__init(at);
	runtime__v1__filesystem_usage__init(fs);
	runtime__v1__filesystem_identifier__init(fid);
	const Runtime__V1__ContainerConfig *cfg = c->config;
	at->id = c->obj.id;
	at->metadata = cfg->metadata;
	if (SRV_ARENA_COPY_MAP(a, at->labels, at->n_labels, cfg->labels, cfg->n_labels,
			       Runtime__V1__ContainerAttributes__LabelsEntry,
			       runtime__v1__container_attributes__labels_entry__init) < 0 ||
	    SRV_ARENA_COPY_MAP(a, at->annotations, at->n_annotations, cfg->annotations, cfg->n_annotations,
			       Runtime__V1__ContainerAttributes__AnnotationsEntry,
			       runtime__v1__container_attributes__annotations_entry__init) < 0)
		return -ENOMEM;
	s->attributes = at;
	if (cgroup_usage(a, c->cgroup, &c->last_cpu_ns, &c->last_sample_ns, &c->lock, &s->cpu, &s->memory, &s->swap,
			 NULL) < 0)
		return -ENOMEM;
	uint64_t bytes = 0, inodes = 0;
	srv_ctr_layer_usage(c, &bytes, &inodes);
	fs->timestamp = crl_now_ns(CLOCK_REALTIME);
	fid->mountpoint = d->image_dir;
	fs->fs_id = fid;
	fs->used_bytes = u64(a, bytes);
	fs->inodes_used = u64(a, inodes);
	s->writable_layer = fs;
	return fs->used_bytes && fs->inodes_used ? 0 : -ENOMEM;
}

/* A container in the store is CREATED at least: CreateContainer adds it after, restore removes the others. */
static bool ctr_matches(srv_ctr_t *c, const Runtime__V1__ContainerStatsFilter *f)
{
	if (!f)
		return true;
	if (!srv_id_prefix_match(c->obj.id, f->id))
		return false;
	if (!srv_id_prefix_match(c->pod_id, f->pod_sandbox_id))
		return false;
	return SRV_LABELS_MATCH(c->config->labels, c->config->n_labels, f->label_selector, f->n_label_selector);
}

int srv_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ContainerStatsRequest *r = req;
	Runtime__V1__ContainerStatsResponse *out = resp;
	srv_ctr_t *c = NULL;
	int ret = srv_ctr_get(d, r->container_id, &c, err);
	if (ret < 0)
		return ret;
	if ((ret = srv_call_hold(call, &c->obj, err)) < 0)
		return ret;
	Runtime__V1__ContainerStats *s = srv_call_alloc(call, sizeof(*s));
	if (!s || fill_ctr_stats(d, srv_call_arena(call), c, s) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	out->stats = s;
	return 0;
}

static bool keep_ctr_stats(srv_daemon_t *d, srv_obj_t *o, const void *filter)
{
	(void)d;
	return ctr_matches(srv_ctr_of(o), filter);
}

static int fill_ctr_stats_item(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item)
{
	return fill_ctr_stats(d, srv_call_arena(call), srv_ctr_of(o), item);
}

int srv_list_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ListContainerStatsRequest *r = req;
	Runtime__V1__ListContainerStatsResponse *out = resp;
	void **items = NULL;
	int ret = srv_select(d, d->ctrs, call, r->filter, keep_ctr_stats, fill_ctr_stats_item,
			     sizeof(Runtime__V1__ContainerStats), &items, &out->n_stats, err);
	/* protobuf-c's repeated fields are arrays of pointers to the item type. */
	out->stats = (Runtime__V1__ContainerStats **)items;
	return ret;
}

int srv_stream_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	const Runtime__V1__StreamContainerStatsRequest *r = req;
	void **items = NULL;
	size_t n = 0;
	int ret = srv_select(d, d->ctrs, call, r->filter, keep_ctr_stats, fill_ctr_stats_item,
			     sizeof(Runtime__V1__ContainerStats), &items, &n, err);
	return ret < 0 ? ret
		       : srv_stream_list(call, &runtime__v1__stream_container_stats_response__descriptor, items, n, err);
}

/* --- pods --- */

/* Every interface of the pod's network namespace, from its monitor's /proc/<pid>/net/dev (the monitor lives in
 * it); eth0 is the default one. */
int srv_pod_netdev(srv_pod_t *p, srv_netdev_t *out, size_t max, bool with_lo, size_t *ret_n)
{
	*ret_n = 0;
	pthread_mutex_lock(&p->lock);
	pid_t pid = p->monitor_pid;
	pthread_mutex_unlock(&p->lock);
	if (p->ns.network == RUNTIME__V1__NAMESPACE_MODE__NODE || pid <= 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/net/dev", (int)pid);
	char *text = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_fs_read_file(AT_FDCWD, path, 1 << 20, &text, NULL, &e) < 0) {
		crl_error_clear(&e);
		return 0;
	}
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && *ret_n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		char *name = line;
		while (*name == ' ')
			name++;
		if (!with_lo && strcmp(name, "lo") == 0)
			continue;
		srv_netdev_t *d = &out[*ret_n];
		uint64_t *v = d->v;
		if (sscanf(colon + 1,
			   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12],
			   &v[13], &v[14], &v[15]) != 16)
			continue;
		snprintf(d->name, sizeof(d->name), "%s", name);
		(*ret_n)++;
	}
	free(text);
	return 0;
}

static int pod_network(srv_arena_t *a, srv_pod_t *p, Runtime__V1__NetworkUsage **ret)
{
	Runtime__V1__NetworkUsage *nu = srv_arena_alloc(a, sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	runtime__v1__network_usage__init(nu);
	nu->timestamp = crl_now_ns(CLOCK_REALTIME);
	*ret = nu;
	srv_netdev_t nd[SRV_MAX_IFACES];
	size_t n = 0;
	srv_pod_netdev(p, nd, SRV_MAX_IFACES, false, &n);
	if (!n)
		return 0;
	nu->interfaces = srv_arena_alloc(a, n * sizeof(*nu->interfaces));
	if (!nu->interfaces)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		/* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs ... */
		Runtime__V1__NetworkInterfaceUsage *iu = srv_arena_alloc(a, sizeof(*iu));
		if (!iu)
			return -ENOMEM;
		runtime__v1__network_interface_usage__init(iu);
		iu->name = srv_arena_strdup(a, nd[i].name);
		iu->rx_bytes = u64(a, nd[i].v[0]);
		iu->rx_errors = u64(a, nd[i].v[2]);
		iu->tx_bytes = u64(a, nd[i].v[8]);
		iu->tx_errors = u64(a, nd[i].v[10]);
		if (!iu->name || !iu->rx_bytes || !iu->rx_errors || !iu->tx_bytes || !iu->tx_errors)
			return -ENOMEM;
		nu->interfaces[nu->n_interfaces++] = iu;
		if (strcmp(nd[i].name, "eth0") == 0)
			nu->default_interface = iu;
	}
	return 0;
}

/* Pod stats on the call's arena; the call holds the containers the answer points into. */
static int fill_pod_stats(srv_daemon_t *d, srv_call_t *call, srv_pod_t *p, Runtime__V1__PodSandboxStats *s)
{
	srv_arena_t *a = srv_call_arena(call);
	runtime__v1__pod_sandbox_stats__init(s);
	Runtime__V1__PodSandboxAttributes *at = srv_arena_alloc(a, sizeof(*at));
	Runtime__V1__LinuxPodSandboxStats *ls = srv_arena_alloc(a, sizeof(*ls));
	Runtime__V1__ProcessUsage *pu = srv_arena_alloc(a, sizeof(*pu));
	if (!at || !ls || !pu)
		return -ENOMEM;
	runtime__v1__pod_sandbox_attributes__init(at);
	runtime__v1__linux_pod_sandbox_stats__init(ls);
	runtime__v1__process_usage__init(pu);
	const Runtime__V1__PodSandboxConfig *cfg = p->config;
	at->id = p->obj.id;
	at->metadata = cfg->metadata;
	if (SRV_ARENA_COPY_MAP(a, at->labels, at->n_labels, cfg->labels, cfg->n_labels,
			       Runtime__V1__PodSandboxAttributes__LabelsEntry,
			       runtime__v1__pod_sandbox_attributes__labels_entry__init) < 0 ||
	    SRV_ARENA_COPY_MAP(a, at->annotations, at->n_annotations, cfg->annotations, cfg->n_annotations,
			       Runtime__V1__PodSandboxAttributes__AnnotationsEntry,
			       runtime__v1__pod_sandbox_attributes__annotations_entry__init) < 0)
		return -ENOMEM;
	s->attributes = at;
	s->linux = ls;
	Runtime__V1__SwapUsage *swap = NULL;
	uint64_t pids = 0;
	/* The pod's cgroup holds its containers': one read covers them all. */
	if (cgroup_usage(a, p->cgroup, &p->last_cpu_ns, &p->last_sample_ns, &p->lock, &ls->cpu, &ls->memory, &swap,
			 &pids) < 0 ||
	    pod_network(a, p, &ls->network) < 0)
		return -ENOMEM;
	pu->timestamp = crl_now_ns(CLOCK_REALTIME);
	if (!(pu->process_count = u64(a, pids)))
		return -ENOMEM;
	ls->process = pu;
	srv_obj_t **v = NULL;
	size_t n = 0;
	crl_error_t e = CRL_ERROR_INIT;
	if (srv_ctrs_of_pod(d, p->obj.id, &v, &n, &e) < 0) {
		crl_error_clear(&e);
		return 0;
	}
	int r = 0;
	ls->containers = srv_arena_alloc(a, (n + 1) * sizeof(*ls->containers));
	for (size_t i = 0; i < n; i++) {
		srv_ctr_t *c = srv_ctr_of(v[i]);
		/* The answer points into the container: the call holds it (or it is dropped here on ENOMEM). */
		if (srv_call_hold(call, &c->obj, &e) < 0) {
			crl_error_clear(&e);
			r = -ENOMEM;
			continue;
		}
		if (r < 0 || !ls->containers)
			continue;
		Runtime__V1__ContainerStats *cs = srv_arena_alloc(a, sizeof(*cs));
		if (!cs || fill_ctr_stats(d, a, c, cs) < 0)
			r = -ENOMEM;
		else
			ls->containers[ls->n_containers++] = cs;
	}
	free(v);
	return ls->containers ? r : -ENOMEM;
}

static bool pod_matches(srv_pod_t *p, const Runtime__V1__PodSandboxStatsFilter *f)
{
	if (!f)
		return true;
	if (!srv_id_prefix_match(p->obj.id, f->id))
		return false;
	return SRV_LABELS_MATCH(p->config->labels, p->config->n_labels, f->label_selector, f->n_label_selector);
}

int srv_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__PodSandboxStatsRequest *r = req;
	Runtime__V1__PodSandboxStatsResponse *out = resp;
	srv_pod_t *p = NULL;
	int ret = srv_pod_get(d, r->pod_sandbox_id, &p, err);
	if (ret < 0)
		return ret;
	if ((ret = srv_call_hold(call, &p->obj, err)) < 0)
		return ret;
	Runtime__V1__PodSandboxStats *s = srv_call_alloc(call, sizeof(*s));
	if (!s || fill_pod_stats(d, call, p, s) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	out->stats = s;
	return 0;
}

static bool keep_pod_stats(srv_daemon_t *d, srv_obj_t *o, const void *filter)
{
	(void)d;
	return pod_matches(srv_pod_of(o), filter);
}

static int fill_pod_stats_item(srv_daemon_t *d, srv_call_t *call, srv_obj_t *o, void *item)
{
	return fill_pod_stats(d, call, srv_pod_of(o), item);
}

int srv_list_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ListPodSandboxStatsRequest *r = req;
	Runtime__V1__ListPodSandboxStatsResponse *out = resp;
	void **items = NULL;
	int ret = srv_select(d, d->pods, call, r->filter, keep_pod_stats, fill_pod_stats_item,
			     sizeof(Runtime__V1__PodSandboxStats), &items, &out->n_stats, err);
	/* protobuf-c's repeated fields are arrays of pointers to the item type. */
	out->stats = (Runtime__V1__PodSandboxStats **)items;
	return ret;
}

int srv_stream_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err)
{
	const Runtime__V1__StreamPodSandboxStatsRequest *r = req;
	void **items = NULL;
	size_t n = 0;
	int ret = srv_select(d, d->pods, call, r->filter, keep_pod_stats, fill_pod_stats_item,
			     sizeof(Runtime__V1__PodSandboxStats), &items, &n, err);
	return ret < 0 ? ret
		       : srv_stream_list(call, &runtime__v1__stream_pod_sandbox_stats_response__descriptor, items, n, err);
}
