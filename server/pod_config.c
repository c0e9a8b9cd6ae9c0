/* SPDX-License-Identifier: Apache-2.0 */
#include "pod_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define NS_POD RUNTIME__V1__NAMESPACE_MODE__POD
#define NS_CONTAINER RUNTIME__V1__NAMESPACE_MODE__CONTAINER
#define NS_NODE RUNTIME__V1__NAMESPACE_MODE__NODE
#define NS_TARGET RUNTIME__V1__NAMESPACE_MODE__TARGET

void srv_pod_config_ns(const Runtime__V1__PodSandboxConfig *c, srv_pod_ns_t *ret)
{
	*ret = (srv_pod_ns_t){ NS_POD, NS_POD, NS_POD, "" };
	const Runtime__V1__NamespaceOption *o = c->linux && c->linux->security_context ?
							 c->linux->security_context->namespace_options :
							 NULL;
	if (!o)
		return;
	ret->network = o->network;
	ret->pid = o->pid;
	ret->ipc = o->ipc;
	ret->target_id = o->target_id ? o->target_id : "";
}

const char *srv_sysctl_namespace(const char *key)
{
	if (strncmp(key, "net.", 4) == 0 && key[4])
		return "net";
	if ((strncmp(key, "kernel.shm", 10) == 0 && key[10]) || (strncmp(key, "kernel.msg", 10) == 0 && key[10]) ||
	    strcmp(key, "kernel.sem") == 0 || (strncmp(key, "fs.mqueue.", 10) == 0 && key[10]))
		return "ipc";
	return NULL;
}

static bool plain_sysctl(const char *k)
{
	/* Names the monitor turns into /proc/sys paths: no slashes, no empty or dot-dot components. */
	if (!*k || *k == '.' || k[strlen(k) - 1] == '.' || strstr(k, "..") || strchr(k, '/'))
		return false;
	for (const char *p = k; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '=')
			return false;
	return true;
}

static int check_string(const char *s, const char *field, bool required, crl_error_t *err)
{
	if (!s || !*s) {
		if (required)
			return crl_error_set(err, EINVAL, "%s is required", field);
		return 0;
	}
	if (strlen(s) > SRV_POD_MAX_STRING)
		return crl_error_set(err, EINVAL, "%s is longer than %d bytes", field, SRV_POD_MAX_STRING);
	return 0;
}

static bool ip_valid(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int check_mode(int mode, const char *field, bool pod_level, crl_error_t *err)
{
	if (mode < NS_POD || mode > NS_TARGET)
		return crl_error_set(err, EINVAL, "%s: unknown namespace mode %d", field, mode);
	/* A pod's namespaces are the pod's or the node's; CONTAINER and TARGET are container-level modes. */
	if (pod_level && mode == NS_CONTAINER)
		return crl_error_set(err, EINVAL, "%s: CONTAINER is not a mode of a pod sandbox (POD or NODE)", field);
	return 0;
}

int srv_resources_check(const Runtime__V1__LinuxContainerResources *r, const char *field, crl_error_t *err)
{
	if (!r)
		return 0;
	if (r->cpu_period < 0 || r->cpu_quota < -1 || r->cpu_shares < 0 || r->memory_limit_in_bytes < 0 ||
	    r->memory_swap_limit_in_bytes < -1)
		return crl_error_set(err, EINVAL, "%s: negative cpu or memory value", field);
	if (r->cpu_period && (r->cpu_period < 1000 || r->cpu_period > 1000000))
		return crl_error_set(err, EINVAL, "%s.cpu_period %lld is outside 1000..1000000 us", field,
				     (long long)r->cpu_period);
	if (r->cpu_shares && (r->cpu_shares < 2 || r->cpu_shares > 262144))
		return crl_error_set(err, EINVAL, "%s.cpu_shares %lld is outside 2..262144", field,
				     (long long)r->cpu_shares);
	if (r->memory_limit_in_bytes && r->memory_limit_in_bytes < 4096)
		return crl_error_set(err, EINVAL, "%s.memory_limit_in_bytes %lld is below one page", field,
				     (long long)r->memory_limit_in_bytes);
	if (r->n_hugepage_limits > 16 || r->n_unified > 64)
		return crl_error_set(err, EINVAL, "%s: too many hugepage limits or unified entries", field);
	return 0;
}

static int check_map_sizes(size_t n, const char *field, crl_error_t *err)
{
	if (n > SRV_POD_MAX_LABELS)
		return crl_error_set(err, EINVAL, "%s: %zu entries is over the limit of %d", field, n, SRV_POD_MAX_LABELS);
	return 0;
}

static int check_ports(const Runtime__V1__PodSandboxConfig *c, crl_error_t *err)
{
	if (c->n_port_mappings > SRV_POD_MAX_PORTS)
		return crl_error_set(err, EINVAL, "config.port_mappings: %zu entries is over the limit of %d",
				     c->n_port_mappings, SRV_POD_MAX_PORTS);
	for (size_t i = 0; i < c->n_port_mappings; i++) {
		const Runtime__V1__PortMapping *p = c->port_mappings[i];
		if (p->protocol < RUNTIME__V1__PROTOCOL__TCP || p->protocol > RUNTIME__V1__PROTOCOL__SCTP)
			return crl_error_set(err, EINVAL, "config.port_mappings[%zu].protocol: unknown protocol %d", i,
					     p->protocol);
		if (p->container_port < 1 || p->container_port > 65535)
			return crl_error_set(err, EINVAL, "config.port_mappings[%zu].container_port %d is outside 1..65535",
					     i, p->container_port);
		if (p->host_port < 0 || p->host_port > 65535)
			return crl_error_set(err, EINVAL, "config.port_mappings[%zu].host_port %d is outside 0..65535", i,
					     p->host_port);
		if (p->host_ip && *p->host_ip && !ip_valid(p->host_ip))
			return crl_error_set(err, EINVAL, "config.port_mappings[%zu].host_ip '%.64s' is not an IP address",
					     i, p->host_ip);
	}
	return 0;
}

static int check_dns(const Runtime__V1__DNSConfig *dns, crl_error_t *err)
{
	if (!dns)
		return 0;
	if (dns->n_servers > SRV_POD_MAX_DNS_ENTRIES || dns->n_searches > SRV_POD_MAX_DNS_ENTRIES ||
	    dns->n_options > SRV_POD_MAX_DNS_ENTRIES)
		return crl_error_set(err, EINVAL, "config.dns_config: more than %d servers, searches or options",
				     SRV_POD_MAX_DNS_ENTRIES);
	for (size_t i = 0; i < dns->n_servers; i++)
		if (!ip_valid(dns->servers[i]))
			return crl_error_set(err, EINVAL, "config.dns_config.servers[%zu] '%.64s' is not an IP address", i,
					     dns->servers[i]);
	char *const *lists[2] = { dns->searches, dns->options };
	size_t ns[2] = { dns->n_searches, dns->n_options };
	static const char *const names[2] = { "searches", "options" };
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < ns[l]; i++) {
			const char *s = lists[l][i];
			if (!*s || strlen(s) > 255 || strpbrk(s, " \t\r\n"))
				return crl_error_set(err, EINVAL, "config.dns_config.%s[%zu] '%.64s' is empty, too long or has "
								  "white space",
						     names[l], i, s);
		}
	return 0;
}

static int check_sysctls(const Runtime__V1__PodSandboxConfig *c, const srv_pod_ns_t *ns, crl_error_t *err)
{
	const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
	if (!l)
		return 0;
	if (l->n_sysctls > SRV_POD_MAX_SYSCTLS)
		return crl_error_set(err, EINVAL, "config.linux.sysctls: %zu entries is over the limit of %d", l->n_sysctls,
				     SRV_POD_MAX_SYSCTLS);
	for (size_t i = 0; i < l->n_sysctls; i++) {
		const char *k = l->sysctls[i]->key, *v = l->sysctls[i]->value;
		if (!plain_sysctl(k) || strlen(k) > 255)
			return crl_error_set(err, EINVAL, "config.linux.sysctls: '%.64s' is not a sysctl name", k);
		if (!v || strlen(v) > 1024 || strpbrk(v, "\n"))
			return crl_error_set(err, EINVAL, "config.linux.sysctls[%s]: bad value", k);
		const char *where = srv_sysctl_namespace(k);
		if (!where)
			return crl_error_set(err, EINVAL, "config.linux.sysctls: sysctl %s is not namespaced: a pod cannot set "
							  "it (allowed: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)",
					     k);
		if (strcmp(where, "net") == 0 && ns->network == NS_NODE)
			return crl_error_set(err, EINVAL, "config.linux.sysctls: sysctl %s is not allowed in a pod on the "
							  "host network",
					     k);
		if (strcmp(where, "ipc") == 0 && ns->ipc == NS_NODE)
			return crl_error_set(err, EINVAL, "config.linux.sysctls: sysctl %s is not allowed in a pod sharing "
							  "the host's IPC namespace",
					     k);
	}
	return 0;
}

static bool clean_abs_path(const char *p)
{
	if (p[0] != '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../"))
		return false;
	size_t n = strlen(p);
	return !(n >= 3 && strcmp(p + n - 3, "/..") == 0) && !(n >= 2 && strcmp(p + n - 2, "/.") == 0);
}

int srv_config_size_check(const ProtobufCMessage *config, crl_error_t *err)
{
	size_t packed = protobuf_c_message_get_packed_size(config);
	if (packed > SRV_CONFIG_MAX_BYTES)
		return crl_error_set(err, EINVAL, "config is %zu bytes packed, more than %d (labels and annotations "
						  "included)",
				     packed, SRV_CONFIG_MAX_BYTES);
	return 0;
}

int srv_pod_config_check(const Runtime__V1__PodSandboxConfig *c, crl_error_t *err)
{
	if (!c)
		return crl_error_set(err, EINVAL, "config is required");
	const Runtime__V1__PodSandboxMetadata *m = c->metadata;
	if (!m)
		return crl_error_set(err, EINVAL, "config.metadata is required");
	int r = srv_config_size_check(&c->base, err);
	if (r < 0)
		return r;
	if ((r = check_string(m->name, "config.metadata.name", true, err)) < 0 ||
	    (r = check_string(m->namespace_, "config.metadata.namespace", true, err)) < 0 ||
	    (r = check_string(m->uid, "config.metadata.uid", true, err)) < 0 ||
	    (r = check_string(c->hostname, "config.hostname", false, err)) < 0 ||
	    (r = check_string(c->log_directory, "config.log_directory", false, err)) < 0)
		return r;
	/* The name parts are joined with '_' into the reserved name and paths never see them, but a NUL or a
	 * newline in a name is no kubelet's. */
	const char *parts[3] = { m->name, m->namespace_, m->uid };
	static const char *const pnames[3] = { "name", "namespace", "uid" };
	for (int i = 0; i < 3; i++)
		if (strpbrk(parts[i], "\n\r"))
			return crl_error_set(err, EINVAL, "config.metadata.%s has a line break", pnames[i]);
	if (c->hostname && *c->hostname && (strlen(c->hostname) > 64 || strpbrk(c->hostname, " /\t\n")))
		return crl_error_set(err, EINVAL, "config.hostname '%.80s' is not a valid host name (at most 64 characters, "
						  "no spaces or slashes)",
				     c->hostname);
	if (c->log_directory && *c->log_directory && !clean_abs_path(c->log_directory))
		return crl_error_set(err, EINVAL, "config.log_directory '%.200s' is not a clean absolute path",
				     c->log_directory);
	if ((r = check_map_sizes(c->n_labels, "config.labels", err)) < 0 ||
	    (r = check_map_sizes(c->n_annotations, "config.annotations", err)) < 0 || (r = check_ports(c, err)) < 0 ||
	    (r = check_dns(c->dns_config, err)) < 0)
		return r;
	srv_pod_ns_t ns;
	srv_pod_config_ns(c, &ns);
	if ((r = check_mode(ns.network, "config.linux.security_context.namespace_options.network", true, err)) < 0 ||
	    (r = check_mode(ns.pid, "config.linux.security_context.namespace_options.pid", false, err)) < 0 ||
	    (r = check_mode(ns.ipc, "config.linux.security_context.namespace_options.ipc", true, err)) < 0)
		return r;
	if (ns.network == NS_TARGET || ns.ipc == NS_TARGET)
		return crl_error_set(err, EINVAL, "config.linux.security_context.namespace_options: TARGET is a mode of "
						  "the pid namespace only");
	if (ns.pid == NS_TARGET && !*ns.target_id)
		return crl_error_set(err, EINVAL, "config.linux.security_context.namespace_options.target_id is required "
						  "with pid mode TARGET");
	const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
	if (l && l->cgroup_parent && *l->cgroup_parent) {
		const char *cp = l->cgroup_parent;
		size_t n = strlen(cp);
		if (n > 6 && strcmp(cp + n - 6, ".slice") == 0)
			return crl_error_set(err, EINVAL, "config.linux.cgroup_parent '%.200s' is a systemd slice; this "
							  "crio-lite uses the cgroupfs driver (kubelet --cgroup-driver=cgroupfs)",
					     cp);
		if (n > 1024 || (cp[0] == '/' ? !clean_abs_path(cp) : strstr(cp, "..") != NULL))
			return crl_error_set(err, EINVAL, "config.linux.cgroup_parent '%.200s' is not a clean cgroup path", cp);
	}
	if (l && ((r = srv_resources_check(l->overhead, "config.linux.overhead", err)) < 0 ||
		  (r = srv_resources_check(l->resources, "config.linux.resources", err)) < 0))
		return r;
	return check_sysctls(c, &ns, err);
}

char *srv_pod_full_name(const Runtime__V1__PodSandboxMetadata *m)
{
	char *s = NULL;
	if (asprintf(&s, "%s_%s_%s_%u", m->name, m->namespace_, m->uid, m->attempt) < 0)
		return NULL;
	return s;
}

static void append(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *nb = *buf ? realloc(*buf, *len + n + 1) : malloc(n + 1);
	if (!nb) {
		free(*buf);
		*buf = NULL;
		return;
	}
	memcpy(nb + *len, s, n + 1);
	*buf = nb;
	*len += n;
}

int srv_resolv_conf(const Runtime__V1__DNSConfig *dns, char **ret, crl_error_t *err)
{
	*ret = NULL;
	if (!dns || (dns->n_servers == 0 && dns->n_searches == 0 && dns->n_options == 0))
		return 0;
	char *buf = NULL;
	size_t len = 0;
	append(&buf, &len, "");
	for (size_t i = 0; buf && i < dns->n_servers; i++) {
		append(&buf, &len, "nameserver ");
		append(&buf, &len, dns->servers[i]);
		append(&buf, &len, "\n");
	}
	if (buf && dns->n_searches) {
		append(&buf, &len, "search");
		for (size_t i = 0; buf && i < dns->n_searches; i++) {
			append(&buf, &len, " ");
			append(&buf, &len, dns->searches[i]);
		}
		append(&buf, &len, "\n");
	}
	if (buf && dns->n_options) {
		append(&buf, &len, "options");
		for (size_t i = 0; buf && i < dns->n_options; i++) {
			append(&buf, &len, " ");
			append(&buf, &len, dns->options[i]);
		}
		append(&buf, &len, "\n");
	}
	if (!buf)
		return crl_error_set(err, ENOMEM, "out of memory");
	*ret = buf;
	return 0;
}

void srv_pod_ns_list(const srv_pod_ns_t *ns, char ret[32])
{
	ret[0] = '\0';
	size_t o = 0;
	if (ns->network != NS_NODE)
		o += (size_t)snprintf(ret + o, 32 - o, "%snet", o ? "," : "");
	if (ns->ipc != NS_NODE)
		o += (size_t)snprintf(ret + o, 32 - o, "%sipc", o ? "," : "");
	/* The hostname goes with the network: a pod on the node's network keeps the node's name. */
	if (ns->network != NS_NODE)
		o += (size_t)snprintf(ret + o, 32 - o, "%suts", o ? "," : "");
	if (ns->pid == NS_POD)
		(void)snprintf(ret + o, 32 - o, "%spid", o ? "," : "");
}

/* a + b, at most cap */
static int64_t sum_capped(int64_t a, int64_t b, int64_t cap)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r) || r > cap)
		return cap;
	return r;
}

void srv_pod_cgroup_resources(const Runtime__V1__LinuxContainerResources *resources,
			      const Runtime__V1__LinuxContainerResources *overhead, bool update, rt_resources_t *out)
{
	if (!resources)
		return;
	const Runtime__V1__LinuxContainerResources none = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
	const Runtime__V1__LinuxContainerResources *o = overhead ? overhead : &none;
	/* A limit the resources set grows by the overhead's; one they leave unset stays unlimited (an update
	 * lifts it), whatever the overhead says. */
	if (resources->memory_limit_in_bytes > 0)
		out->memory_limit = sum_capped(resources->memory_limit_in_bytes,
					       o->memory_limit_in_bytes > 0 ? o->memory_limit_in_bytes : 0, INT64_MAX / 2);
	else if (update)
		out->memory_limit = -1;
	if (resources->cpu_quota > 0)
		out->cpu_quota = sum_capped(resources->cpu_quota, o->cpu_quota > 0 ? o->cpu_quota : 0, INT64_MAX / 2);
	else if (update)
		out->cpu_quota = -1;
	if (resources->cpu_shares > 0)
		out->cpu_shares = sum_capped(resources->cpu_shares, o->cpu_shares > 0 ? o->cpu_shares : 0, 262144);
	if (resources->cpu_period > 0)
		out->cpu_period = resources->cpu_period;
}
