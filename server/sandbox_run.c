/* SPDX-License-Identifier: Apache-2.0 */
/* RunPodSandbox: the pod's record first, then its directory and files, cgroup, monitor (namespaces), network.
 * Whatever fails is undone in reverse, and so is whatever a daemon killed half way left (at start). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni/exec.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "daemon.h"
#include "exit_watch.h"
#include "handlers.h"
#include "pod.h"
#include "runtime/cgroup.h"
#include "sanitize.h"

/* The pod's /dev/shm when it has an IPC namespace of its own (Docker's and CRI-O's default size). */
#define POD_SHM_OPTIONS "mode=1777,size=65536k"

static const char *annotation(const Runtime__V1__PodSandboxConfig *c, const char *key)
{
	for (size_t i = 0; i < c->n_annotations; i++)
		if (strcmp(c->annotations[i]->key, key) == 0)
			return c->annotations[i]->value;
	return NULL;
}

static int write_pod_files(srv_pod_t *p, crl_error_t *err)
{
	_cleanup_close_ int dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return crl_error_set_errno(err, errno, "open %s", p->dir);
	_cleanup_free_ char *resolv = NULL;
	int r = srv_resolv_conf(p->config->dns_config, &resolv, err);
	if (r < 0)
		return r;
	if (!resolv) {
		/* No DNS config: the node's, as CRI-O and containerd give it. */
		crl_error_t e = CRL_ERROR_INIT;
		if (crl_fs_read_file(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &resolv, NULL, &e) < 0) {
			crl_error_clear(&e);
			resolv = strdup("");
		}
		if (!resolv)
			return crl_error_set(err, ENOMEM, "out of memory");
	}
	/* The pod's directory is new and volatile (a reboot removes it): no fsync. */
	if ((r = crl_fs_write_new(dfd, "resolv.conf", resolv, strlen(resolv), 0644, err)) < 0)
		return r;
	char host[256] = "";
	const char *hn = p->config->hostname;
	if (p->ns.network == RUNTIME__V1__NAMESPACE_MODE__NODE || !hn || !*hn) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			snprintf(host, sizeof(host), "localhost");
		hn = host;
	}
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "%s\n", hn) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	if ((r = crl_fs_write_new(dfd, "hostname", line, strlen(line), 0644, err)) < 0)
		return r;
	if (p->ns.ipc != RUNTIME__V1__NAMESPACE_MODE__NODE) {
		if (mkdirat(dfd, "shm", 0755) < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create %s/shm", p->dir);
		_cleanup_free_ char *shm = NULL;
		if (asprintf(&shm, "%s/shm", p->dir) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, POD_SHM_OPTIONS) < 0)
			return crl_error_set_errno(err, errno, "mount the pod's /dev/shm on %s", shm);
	}
	return 0;
}

/* The pod's cgroup: <cgroup_parent or /crio-lite>/crio-lite-<id>, limited to resources + overhead where the pod
 * gives them. Its path is recorded before it is made. */
static int cgroup_path(srv_pod_t *p, crl_error_t *err)
{
	const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
	const char *parent = l && l->cgroup_parent && *l->cgroup_parent ? l->cgroup_parent : "/crio-lite";
	size_t pl = strlen(parent);
	while (pl > 1 && parent[pl - 1] == '/')
		pl--;
	if (asprintf(&p->cgroup, "%s%.*s/crio-lite-%s", parent[0] == '/' ? "" : "/", (int)(pl == 1 ? 0 : pl), parent,
		     p->obj.id) < 0) {
		p->cgroup = NULL;
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int make_cgroup(srv_pod_t *p, crl_error_t *err)
{
	const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
	rt_resources_t res = RT_RESOURCES_UNSET;
	if (l && l->resources)
		srv_pod_cgroup_resources(l->resources, l->overhead, false, &res);
	rt_cgroup_t *cg = NULL;
	int r = rt_cgroup_create_parent(p->cgroup, &res, &cg, err);
	rt_cgroup_free(cg);
	return r < 0 ? crl_error_wrap(err, "pod cgroup %s", p->cgroup) : 0;
}

/* A NULL-terminated array of the n pointers of v (not copies); NULL for none. */
static char **strv_view(char **v, size_t n)
{
	if (!n)
		return NULL;
	char **out = calloc(n + 1, sizeof(*out));
	if (out)
		memcpy(out, v, n * sizeof(*out));
	return out;
}

/* What the pod's CNI ADD is made of, ready before anything is recorded. */
typedef struct net_plan {
	cni_network_t *net;
	cni_port_mapping_t *ports;
	char **servers, **searches, **options;
	char nsbuf[4096];
	cni_pod_t pod;
} net_plan_t;

static void net_plan_done(net_plan_t *n)
{
	cni_network_free(n->net);
	free(n->ports);
	free(n->servers);
	free(n->searches);
	free(n->options);
}

/* Loads the network and puts the pending cache (what DEL needs should ADD be cut off) on the pod, so that the
 * first record already holds it. */
static int net_plan(srv_daemon_t *d, srv_pod_t *p, net_plan_t *n, crl_error_t *err)
{
	int r = cni_conf_load(d->cfg.network_dir, d->cfg.cni_default_network, &n->net, err);
	if (r < 0)
		return crl_error_set(err, EAGAIN, "pod network is not ready: %s", crl_error_message(err));
	const Runtime__V1__PodSandboxConfig *c = p->config;
	const Runtime__V1__DNSConfig *dns = c->dns_config;
	/* cni_pod_t's lists end with NULL; protobuf's arrays have a count. */
	n->servers = strv_view(dns ? dns->servers : NULL, dns ? dns->n_servers : 0);
	n->searches = strv_view(dns ? dns->searches : NULL, dns ? dns->n_searches : 0);
	n->options = strv_view(dns ? dns->options : NULL, dns ? dns->n_options : 0);
	if (!(n->ports = calloc(c->n_port_mappings + 1, sizeof(*n->ports))) || (dns && dns->n_servers && !n->servers) ||
	    (dns && dns->n_searches && !n->searches) || (dns && dns->n_options && !n->options))
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t np = 0;
	static const char *const protos[] = { "tcp", "udp", "sctp" };
	for (size_t i = 0; i < c->n_port_mappings; i++) {
		const Runtime__V1__PortMapping *m = c->port_mappings[i];
		/* Only ports published on the node go to portmap (kubelet lists the pod's other ports too). */
		if (m->host_port <= 0)
			continue;
		n->ports[np++] = (cni_port_mapping_t){ m->host_port, m->container_port, protos[m->protocol], m->host_ip };
	}
	n->pod = (cni_pod_t){
		.container_id = p->obj.id,
		.netns = srv_pod_netns(p, n->nsbuf, sizeof(n->nsbuf)),
		.ifname = "eth0",
		.pod_name = c->metadata->name,
		.pod_namespace = c->metadata->namespace_,
		.pod_uid = c->metadata->uid,
		.ports = n->ports,
		.n_ports = np,
		.ingress_bandwidth = annotation(c, "kubernetes.io/ingress-bandwidth"),
		.egress_bandwidth = annotation(c, "kubernetes.io/egress-bandwidth"),
		.dns_servers = n->servers,
		.dns_searches = n->searches,
		.dns_options = n->options,
	};
	char *pending = NULL;
	if ((r = cni_cache_prepare(n->net, &n->pod, &pending, err)) < 0)
		return r;
	p->cni_cache = pending;
	return 0;
}

static int network_add(srv_daemon_t *d, srv_pod_t *p, net_plan_t *n, crl_error_t *err)
{
	cni_result_t *res = NULL;
	char *cache = NULL;
	int r = cni_add(n->net, d->cfg.plugin_dirs, &n->pod, d->plugin_timeout_ms, &res, &cache, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	free(p->cni_cache);
	p->cni_cache = cache;
	p->cni_added = true;
	p->ips = res->ips;
	res->ips = NULL;
	pthread_mutex_unlock(&p->lock);
	cni_result_free(res);
	return 0;
}

/* After the first record: every step that leaves something, then the record that says READY. */
static int run_steps(srv_daemon_t *d, srv_pod_t *p, net_plan_t *n, crl_error_t *err)
{
	int r;
	if ((r = crl_fs_mkdir_p(p->dir, 0711, err)) < 0 || (r = write_pod_files(p, err)) < 0 ||
	    (r = make_cgroup(p, err)) < 0 || (r = srv_pod_start_monitor(d, p, err)) < 0 ||
	    (r = srv_exits_watch(d->exits, p->dir, err)) < 0)
		return r;
	if (n->net && (r = network_add(d, p, n, err)) < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	p->state = SRV_POD_READY;
	pthread_mutex_unlock(&p->lock);
	return srv_pod_save(d, p, err);
}

static int check_handler(srv_daemon_t *d, const char *h, crl_error_t *err)
{
	if (!h || !*h || srv_config_runtime(&d->cfg, h))
		return 0;
	char names[SRV_MAX_RUNTIMES * 68] = "";
	size_t o = 0;
	for (size_t i = 0; i < d->cfg.n_runtimes && o < sizeof(names); i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, ", \"%s\"", d->cfg.runtimes[i].name);
	return crl_error_set(err, EINVAL, "runtime_handler \"%.64s\" is not configured (configured: \"\", the default "
					  "embedded runtime%s)",
			     h, names);
}

int srv_run_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__RunPodSandboxRequest *r = req;
	Runtime__V1__RunPodSandboxResponse *out = resp;
	int ret;
	if ((ret = srv_pod_config_check(r->config, err)) < 0 || (ret = check_handler(d, r->runtime_handler, err)) < 0)
		return ret;
	const Runtime__V1__PodSandboxConfig *c = r->config;
	/* Kept and sent back as they are (status, list): they must be text. */
	if (!srv_message_utf8_valid(&c->base))
		return crl_error_set(err, EINVAL, "config: a string is not valid UTF-8");
	if (c->log_directory && *c->log_directory && (ret = crl_fs_mkdir_p(c->log_directory, 0755, err)) < 0)
		return crl_error_wrap(err, "config.log_directory");
	_cleanup_free_ char *name = srv_pod_full_name(c->metadata);
	if (!name)
		return crl_error_set(err, ENOMEM, "out of memory");
	char id[SRV_ID_LEN + 1];
	srv_store_new_id(d->pods, id);
	if ((ret = srv_store_reserve(d->pods, name, id, err)) < 0)
		return ret;
	srv_pod_t *p = NULL;
	if ((ret = srv_pod_new(id, name, c, r->runtime_handler, &p, err)) < 0) {
		srv_store_release(d->pods, name, id);
		return ret;
	}
	net_plan_t plan = { 0 };
	if (asprintf(&p->dir, "%s/%s", d->pods_rundir, id) < 0) {
		p->dir = NULL;
		ret = crl_error_set(err, ENOMEM, "out of memory");
	} else if ((ret = cgroup_path(p, err)) == 0 &&
		   (p->ns.network == RUNTIME__V1__NAMESPACE_MODE__NODE || (ret = net_plan(d, p, &plan, err)) == 0) &&
		   (ret = srv_pod_save(d, p, err)) == 0) {
		ret = run_steps(d, p, &plan, err);
		if (ret < 0) {
			crl_error_t e = CRL_ERROR_INIT;
			if (srv_pod_teardown(d, p, &e) < 0)
				log_error("pod %s: undoing a failed RunPodSandbox: %s (the daemon retries at its next start)",
					  id, crl_error_message(&e));
			crl_error_clear(&e);
		}
	}
	net_plan_done(&plan);
	if (ret == 0)
		ret = srv_store_add(d->pods, &p->obj, err);
	if (ret < 0) {
		srv_store_release(d->pods, name, id);
		srv_pod_unref(p);
		return crl_error_wrap(err, "RunPodSandbox %s (%s)", id, name);
	}
	log_info("pod %s (%s) is ready", id, name);
	srv_pod_unref(p);
	out->pod_sandbox_id = srv_call_strdup(call, id);
	return out->pod_sandbox_id ? 0 : crl_error_set(err, ENOMEM, "out of memory");
}
