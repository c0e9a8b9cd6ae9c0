/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/container_spec.h"
#include "server/pod_config.h"

static void test_sysctl_namespaces(void **state)
{
	(void)state;
	assert_string_equal(srv_sysctl_namespace("net.ipv4.ip_forward"), "net");
	assert_string_equal(srv_sysctl_namespace("kernel.shm_rmid_forced"), "ipc");
	assert_string_equal(srv_sysctl_namespace("kernel.shmmax"), "ipc");
	assert_string_equal(srv_sysctl_namespace("kernel.msgmax"), "ipc");
	assert_string_equal(srv_sysctl_namespace("kernel.sem"), "ipc");
	assert_string_equal(srv_sysctl_namespace("fs.mqueue.msg_max"), "ipc");
	assert_null(srv_sysctl_namespace("kernel.panic"));
	assert_null(srv_sysctl_namespace("kernel.semx"));
	assert_null(srv_sysctl_namespace("net."));
	assert_null(srv_sysctl_namespace("vm.swappiness"));
}

typedef struct cfg {
	Runtime__V1__PodSandboxConfig c;
	Runtime__V1__PodSandboxMetadata m;
	Runtime__V1__LinuxPodSandboxConfig l;
	Runtime__V1__LinuxSandboxSecurityContext sc;
	Runtime__V1__NamespaceOption ns;
	Runtime__V1__PortMapping pm;
	Runtime__V1__PortMapping *pms[1];
	Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry se;
	Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ses[1];
	Runtime__V1__DNSConfig dns;
} cfg_t;

static void init(cfg_t *t)
{
	runtime__v1__pod_sandbox_config__init(&t->c);
	runtime__v1__pod_sandbox_metadata__init(&t->m);
	runtime__v1__linux_pod_sandbox_config__init(&t->l);
	runtime__v1__linux_sandbox_security_context__init(&t->sc);
	runtime__v1__namespace_option__init(&t->ns);
	runtime__v1__port_mapping__init(&t->pm);
	runtime__v1__linux_pod_sandbox_config__sysctls_entry__init(&t->se);
	runtime__v1__dnsconfig__init(&t->dns);
	t->m.name = "web";
	t->m.namespace_ = "default";
	t->m.uid = "u-1";
	t->m.attempt = 2;
	t->c.metadata = &t->m;
	t->sc.namespace_options = &t->ns;
	t->l.security_context = &t->sc;
	t->c.linux = &t->l;
	t->pms[0] = &t->pm;
	t->ses[0] = &t->se;
}

static void expect(cfg_t *t, const char *needle)
{
	crl_error_t err = CRL_ERROR_INIT;
	int r = srv_pod_config_check(&t->c, &err);
	if (!needle) {
		if (r != 0)
			fail_msg("refused: %s", crl_error_message(&err));
		return;
	}
	assert_int_equal(r, -EINVAL);
	if (!strstr(crl_error_message(&err), needle))
		fail_msg("'%s' does not name '%s'", crl_error_message(&err), needle);
	crl_error_clear(&err);
}

static void test_check(void **state)
{
	(void)state;
	cfg_t t;
	init(&t);
	expect(&t, NULL);
	char *name = srv_pod_full_name(&t.m);
	assert_string_equal(name, "web_default_u-1_2");
	free(name);
	t.m.uid = "";
	expect(&t, "config.metadata.uid");
	init(&t);
	t.c.metadata = NULL;
	expect(&t, "config.metadata");
	/* A config too large for the record that keeps it (an annotation of 1 MiB). */
	init(&t);
	Runtime__V1__PodSandboxConfig__AnnotationsEntry an = RUNTIME__V1__POD_SANDBOX_CONFIG__ANNOTATIONS_ENTRY__INIT;
	Runtime__V1__PodSandboxConfig__AnnotationsEntry *ans[1] = { &an };
	char *big = malloc(SRV_CONFIG_MAX_BYTES + 1);
	memset(big, 'x', SRV_CONFIG_MAX_BYTES);
	big[SRV_CONFIG_MAX_BYTES] = '\0';
	an.key = "big";
	an.value = big;
	t.c.annotations = ans;
	t.c.n_annotations = 1;
	expect(&t, "bytes packed");
	big[SRV_CONFIG_MAX_BYTES - 64] = '\0';
	expect(&t, NULL);
	free(big);
	init(&t);
	t.c.log_directory = "relative/dir";
	expect(&t, "config.log_directory");
	init(&t);
	t.c.log_directory = "/var/log/pods/../etc";
	expect(&t, "config.log_directory");
	init(&t);
	t.c.port_mappings = t.pms;
	t.c.n_port_mappings = 1;
	t.pm.container_port = 80;
	t.pm.host_port = 8080;
	expect(&t, NULL);
	t.pm.container_port = 0;
	expect(&t, "config.port_mappings[0].container_port");
	t.pm.container_port = 80;
	t.pm.host_ip = "not-an-ip";
	expect(&t, "config.port_mappings[0].host_ip");
	t.pm.host_ip = "::1";
	t.pm.protocol = 7;
	expect(&t, "config.port_mappings[0].protocol");
	init(&t);
	t.l.sysctls = t.ses;
	t.l.n_sysctls = 1;
	t.se.key = "net.core.somaxconn";
	t.se.value = "1024";
	expect(&t, NULL);
	t.ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	expect(&t, "net.core.somaxconn");
	t.ns.network = RUNTIME__V1__NAMESPACE_MODE__POD;
	t.se.key = "kernel.shmmax";
	t.ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
	expect(&t, "kernel.shmmax");
	t.ns.ipc = RUNTIME__V1__NAMESPACE_MODE__POD;
	t.se.key = "kernel.panic";
	expect(&t, "kernel.panic");
	t.se.key = "net/../../etc";
	expect(&t, "not a sysctl name");
	init(&t);
	t.ns.network = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	expect(&t, "namespace_options.network");
	init(&t);
	t.ns.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
	expect(&t, "target_id");
	t.ns.target_id = "abc";
	expect(&t, NULL);
	init(&t);
	t.l.cgroup_parent = "kubepods-burstable.slice";
	expect(&t, "systemd");
	t.l.cgroup_parent = "/kubepods/burstable/pod1";
	expect(&t, NULL);
	init(&t);
	char *bad[] = { "1.2.3.4", "nameserver" };
	t.dns.servers = bad;
	t.dns.n_servers = 2;
	t.c.dns_config = &t.dns;
	expect(&t, "config.dns_config.servers[1]");
}

static void test_resolv_conf(void **state)
{
	(void)state;
	Runtime__V1__DNSConfig dns = RUNTIME__V1__DNSCONFIG__INIT;
	char *out = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_resolv_conf(&dns, &out, &err), 0);
	assert_null(out);
	char *servers[] = { "10.96.0.10", "fd00::10" }, *searches[] = { "default.svc.cluster.local", "svc.cluster.local" },
	     *options[] = { "ndots:5" };
	dns.servers = servers;
	dns.n_servers = 2;
	dns.searches = searches;
	dns.n_searches = 2;
	dns.options = options;
	dns.n_options = 1;
	assert_int_equal(srv_resolv_conf(&dns, &out, &err), 0);
	assert_string_equal(out, "nameserver 10.96.0.10\nnameserver fd00::10\n"
				 "search default.svc.cluster.local svc.cluster.local\noptions ndots:5\n");
	free(out);
}

static void test_ns_list(void **state)
{
	(void)state;
	char l[32];
	srv_pod_ns_t ns = { RUNTIME__V1__NAMESPACE_MODE__POD, RUNTIME__V1__NAMESPACE_MODE__POD,
			    RUNTIME__V1__NAMESPACE_MODE__POD, "" };
	srv_pod_ns_list(&ns, l);
	assert_string_equal(l, "net,ipc,uts,pid");
	ns.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
	ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	srv_pod_ns_list(&ns, l);
	assert_string_equal(l, "ipc");
	ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
	srv_pod_ns_list(&ns, l);
	assert_string_equal(l, "");
}

/* Which seccomp profile a security context asks for, through the field or the deprecated path. */
static void test_seccomp_kind(void **state)
{
	(void)state;
	Runtime__V1__LinuxContainerSecurityContext sc = RUNTIME__V1__LINUX_CONTAINER_SECURITY_CONTEXT__INIT;
	Runtime__V1__SecurityProfile p = RUNTIME__V1__SECURITY_PROFILE__INIT;
	const char *path = "x";
	assert_int_equal(srv_seccomp_kind(NULL, &path), SRV_SECCOMP_NONE);
	assert_null(path);
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_NONE);
	sc.seccomp = &p;
	p.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_DEFAULT);
	p.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_NONE);
	p.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
	p.localhost_ref = "/etc/prof.json";
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_LOCALHOST);
	assert_string_equal(path, "/etc/prof.json");
	sc.privileged = true;
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_NONE);
	sc.privileged = false;
	sc.seccomp = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	sc.seccomp_profile_path = "docker/default";
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_DEFAULT);
	sc.seccomp_profile_path = "unconfined";
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_NONE);
	sc.seccomp_profile_path = "localhost/var/lib/p.json";
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_LOCALHOST);
	assert_string_equal(path, "/var/lib/p.json");
	sc.seccomp_profile_path = "bogus";
	assert_int_equal(srv_seccomp_kind(&sc, &path), SRV_SECCOMP_INVALID);
	assert_string_equal(path, "bogus");
#pragma GCC diagnostic pop
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sysctl_namespaces),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_resolv_conf),
		cmocka_unit_test(test_ns_list),
		cmocka_unit_test(test_seccomp_kind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
