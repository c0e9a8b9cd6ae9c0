/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cni/conf.h"
#include "cni/exec.h"
#include "cni/runtime_config.h"
#include "common/fs.h"
#include "common/json.h"

static cni_result_t *parse_ok(const char *json)
{
	cni_result_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int rc = cni_result_parse(json, &r, &err);
	if (rc != 0)
		fail_msg("cni_result_parse(%s): %s", json, crl_error_message(&err));
	assert_non_null(r->ips);
	assert_string_equal(r->json, json);
	return r;
}

static void assert_ips(const cni_result_t *r, const char *const *want)
{
	size_t n = 0;
	for (; want[n]; n++) {
		assert_non_null(r->ips[n]);
		assert_string_equal(r->ips[n], want[n]);
	}
	assert_null(r->ips[n]);
}

static void result_0_1_and_0_2(void **state)
{
	(void)state;
	cni_result_t *r = parse_ok("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\"},"
				   "\"ip6\":{\"ip\":\"fd00::5/64\"},\"dns\":{}}");
	assert_ips(r, (const char *const[]){ "10.1.0.5", "fd00::5", NULL });
	cni_result_free(r);
	r = parse_ok("{\"cniVersion\":\"0.1.0\",\"ip4\":{\"ip\":\"192.168.7.9/16\"}}");
	assert_ips(r, (const char *const[]){ "192.168.7.9", NULL });
	cni_result_free(r);
	r = parse_ok("{\"cniVersion\":\"0.1.0\",\"ip6\":{\"ip\":\"2001:db8::1/64\"},\"ip4\":null}");
	assert_ips(r, (const char *const[]){ "2001:db8::1", NULL });
	cni_result_free(r);
}

/* The same result in every version with "ips": the host's end of the veth (no sandbox) is not the pod's. */
static void result_0_3_to_1_0_interfaces(void **state)
{
	(void)state;
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0" };
	for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		char *json = NULL;
		assert_true(asprintf(&json,
				     "{\"cniVersion\":\"%s\",\"interfaces\":[{\"name\":\"veth1\",\"mac\":\"aa:bb:cc:dd:ee:ff\"},"
				     "{\"name\":\"eth0\",\"mac\":\"11:22:33:44:55:66\",\"sandbox\":\"/run/netns/p\"}],"
				     "\"ips\":[{\"version\":\"4\",\"address\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\",\"interface\":1},"
				     "{\"address\":\"10.1.0.99/24\",\"interface\":0},"
				     "{\"address\":\"fd00::5/64\",\"interface\":1},"
				     "{\"address\":\"10.1.0.7/24\"}],"
				     "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.1.0.1\"}],\"dns\":{}}",
				     versions[v]) > 0);
		cni_result_t *r = parse_ok(json);
		assert_ips(r, (const char *const[]){ "10.1.0.5", "fd00::5", "10.1.0.7", NULL });
		cni_result_free(r);
		free(json);
	}
}

static void result_interface_edge_cases(void **state)
{
	(void)state;
	/* Without "interfaces", an index points at nothing to check: every address counts. */
	cni_result_t *r = parse_ok("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.2.0.3/16\",\"interface\":4},"
				   "{\"address\":\"10.2.0.4\"}]}");
	assert_ips(r, (const char *const[]){ "10.2.0.3", "10.2.0.4", NULL });
	cni_result_free(r);
	/* An index past the list, a negative one, and an empty sandbox are not the pod's. */
	r = parse_ok("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"\"},"
		     "{\"name\":\"eth1\",\"sandbox\":\"/proc/1/ns/net\"}],\"ips\":[{\"address\":\"10.2.0.3/16\",\"interface\":0},"
		     "{\"address\":\"10.2.0.4/16\",\"interface\":2},{\"address\":\"10.2.0.5/16\",\"interface\":-1},"
		     "{\"address\":\"10.2.0.6/16\",\"interface\":1}]}");
	assert_ips(r, (const char *const[]){ "10.2.0.6", NULL });
	cni_result_free(r);
	/* A result with no address at all (loopback alone, say) is a result. */
	r = parse_ok("{\"cniVersion\":\"1.0.0\"}");
	assert_ips(r, (const char *const[]){ NULL });
	cni_result_free(r);
	r = parse_ok("{\"cniVersion\":\"1.0.0\",\"ips\":[]}");
	assert_ips(r, (const char *const[]){ NULL });
	cni_result_free(r);
}

static void result_garbage_is_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"\"10.0.0.1\"",
		"42",
		"null",
		"{\"ips\":{}}",
		"{\"ips\":[\"10.0.0.1/8\"]}",
		"{\"ips\":[{\"address\":5}]}",
		"{\"ips\":[{\"gateway\":\"10.0.0.1\"}]}",
		"{\"ips\":[{\"address\":\"nope/24\"}]}",
		"{\"ips\":[{\"address\":\"10.0.0.300/24\"}]}",
		"{\"ips\":[{\"address\":\"10.0.0.1/8\",\"interface\":\"0\"}],\"interfaces\":[]}",
		"{\"ips\":[],\"interfaces\":{}}",
		"{\"ip4\":\"10.0.0.1/8\"}",
		"{\"ip4\":{\"ip\":\"\"}}",
		"{\"ip4\":{}}",
		"{\"ips\":[{\"address\":\"10.0.0.1/8\"}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cni_result_t *r = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		if (cni_result_parse(bad[i], &r, &err) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_null(r);
		assert_non_null(strstr(crl_error_message(&err), "CNI result"));
		crl_error_clear(&err);
	}
	cni_result_t *r = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_result_parse(NULL, &r, &err), -EINVAL);
	crl_error_clear(&err);
	cni_result_free(NULL);
}

static void bandwidth_quantities(void **state)
{
	(void)state;
	static const struct {
		const char *q;
		uint64_t bits;
	} good[] = {
		{ "10M", 10000000ULL },
		{ "1Gi", 1073741824ULL },
		{ "500k", 500000ULL },
		{ "1k", 1000ULL },
		{ "1000", 1000ULL },
		{ "1.5M", 1500000ULL },
		{ "1.2k", 1200ULL },
		/* Value() rounds up to a whole bit. */
		{ "1.0001k", 1001ULL },
		{ "100Mi", 104857600ULL },
		{ "1e6", 1000000ULL },
		{ "25E5", 2500000ULL },
		{ "2.5e+3", 2500ULL },
		{ "1000000000m", 1000000ULL },
		{ "5000000000000000u", 5000000000ULL },
		{ "+2G", 2000000000ULL },
		{ "0.5Mi", 524288ULL },
		{ "1P", 1000000000000000ULL },
		{ "1T", 1000000000000ULL },
		{ "0001k", 1000ULL },
		{ ".5M", 500000ULL },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 0;
		crl_error_t err = CRL_ERROR_INIT;
		if (cni_bandwidth_parse(good[i].q, &v, &err) != 0)
			fail_msg("%s: %s", good[i].q, crl_error_message(&err));
		if (v != good[i].bits)
			fail_msg("%s: %llu, not %llu", good[i].q, (unsigned long long)v, (unsigned long long)good[i].bits);
	}
	static const struct {
		const char *q;
		const char *why;
	} bad[] = {
		{ "", "not a quantity" },
		{ "M", "not a quantity" },
		{ "10MB", "not a quantity" },
		{ "10 M", "not a quantity" },
		{ "1.2.3k", "not a quantity" },
		{ "1e", "not a quantity" },
		{ "1ki", "not a quantity" },
		{ "abc", "not a quantity" },
		{ "999", "unreasonably small" },
		{ "0.5k", "unreasonably small" },
		{ "0", "unreasonably small" },
		{ "-5M", "unreasonably small" },
		{ "1e-9999", "unreasonably small" },
		{ "2P", "unreasonably large" },
		{ "1E", "unreasonably large" },
		{ "1Ei", "unreasonably large" },
		{ "1e9999", "unreasonably large" },
		{ "12345678901234567890k", "too many digits" },
		{ "1000000000000000000000000000000000000000000000000000000000000000000000k", "longer than" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 7;
		crl_error_t err = CRL_ERROR_INIT;
		if (cni_bandwidth_parse(bad[i].q, &v, &err) != -EINVAL)
			fail_msg("accepted: '%s'", bad[i].q);
		assert_int_equal(v, 7);
		if (!strstr(crl_error_message(&err), bad[i].why))
			fail_msg("'%s': %s", bad[i].q, crl_error_message(&err));
		crl_error_clear(&err);
	}
}

static void runtime_config_from_pod(void **state)
{
	(void)state;
	const cni_port_mapping_t ports[] = {
		{ .host_port = 8080, .container_port = 80, .protocol = "TCP", .host_ip = "" },
		{ .host_port = 0, .container_port = 81, .protocol = "tcp" }, /* no host side: not mapped */
		{ .host_port = 5353, .container_port = 53, .protocol = "udp", .host_ip = "127.0.0.1" },
	};
	char *servers[] = { "10.96.0.10", NULL }, *searches[] = { "svc.cluster.local", "cluster.local", NULL };
	cni_pod_t pod = { .container_id = "abc", .ports = ports, .n_ports = 3, .ingress_bandwidth = "10M",
			  .dns_servers = servers, .dns_searches = searches };
	char *rc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_runtime_config_build(&pod, &rc, &err), 0);
	assert_string_equal(rc, "{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
				"{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"}],"
				"\"bandwidth\":{\"ingressRate\":10000000,\"ingressBurst\":2147483647},"
				"\"dns\":{\"servers\":[\"10.96.0.10\"],\"searches\":[\"svc.cluster.local\",\"cluster.local\"]}}");

	/* Each plugin gets what it declares true, and nothing when it declares nothing. */
	crl_json_value_t *rcv = NULL, *plugins = NULL;
	assert_int_equal(crl_json_parse(rc, &rcv, &err), 0);
	assert_int_equal(crl_json_parse("[{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true,\"bandwidth\":false}},"
					"{\"type\":\"bridge\"},{\"type\":\"x\",\"capabilities\":{\"dns\":true,\"ipRanges\":true}}]",
					&plugins, &err),
			 0);
	const char *want[] = {
		"{\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
		"{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"}]}}",
		"{}",
		"{\"runtimeConfig\":{\"dns\":{\"servers\":[\"10.96.0.10\"],\"searches\":[\"svc.cluster.local\","
		"\"cluster.local\"]}}}",
	};
	for (size_t i = 0; i < 3; i++) {
		crl_json_t *j = crl_json_new(false);
		crl_json_object_begin(j);
		assert_int_equal(cni_runtime_config_write(j, crl_json_array_at(plugins, i), rcv), i != 1);
		crl_json_object_end(j);
		char *out = crl_json_finish_text(j, NULL);
		assert_non_null(out);
		assert_string_equal(out, want[i]);
		free(out);
	}
	crl_json_value_free(plugins);
	crl_json_value_free(rcv);
	free(rc);

	cni_pod_t empty = { .container_id = "abc" };
	assert_int_equal(cni_runtime_config_build(&empty, &rc, &err), 0);
	assert_string_equal(rc, "{}");
	free(rc);
}

static void runtime_config_refuses_bad_input(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	char *rc = NULL;
	cni_pod_t pod = { .container_id = "abc", .egress_bandwidth = "lots" };
	assert_int_equal(cni_runtime_config_build(&pod, &rc, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), "kubernetes.io/egress-bandwidth"));
	const cni_port_mapping_t far = { .host_port = 70000, .container_port = 80 };
	pod = (cni_pod_t){ .container_id = "abc", .ports = &far, .n_ports = 1 };
	assert_int_equal(cni_runtime_config_build(&pod, &rc, &err), -EINVAL);
	const cni_port_mapping_t odd = { .host_port = 80, .container_port = 80, .protocol = "icmp" };
	pod = (cni_pod_t){ .container_id = "abc", .ports = &odd, .n_ports = 1 };
	assert_int_equal(cni_runtime_config_build(&pod, &rc, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), "icmp"));
	assert_null(rc);
	crl_error_clear(&err);
}

static char tmpdir[] = "/tmp/crl-unit-cni-XXXXXX";

static void write_conf(const char *name, const char *text)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void conf_single_plugin_becomes_a_list(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	write_conf("10-single.conf", "{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"type\":\"bridge\",\"bridge\":\"cni0\","
				     "\"mtu\":1450,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.22.0.0/16\"}}");
	write_conf("20-list.conflist", "{\"cniVersion\":\"1.0.0\",\"name\":\"list\",\"plugins\":[{\"type\":\"ptp\","
				       "\"ratio\":1.50},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
	cni_network_t *net = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_conf_load(tmpdir, "single", &net, &err), 0);
	/* libcni's ConfListFromConf: the file's whole object is the one plugin. */
	assert_string_equal(net->conflist,
			    "{\"cniVersion\":\"0.4.0\",\"name\":\"single\",\"plugins\":[{\"cniVersion\":\"0.4.0\","
			    "\"name\":\"single\",\"type\":\"bridge\",\"bridge\":\"cni0\",\"mtu\":1450,\"ipam\":{\"type\":"
			    "\"host-local\",\"subnet\":\"10.22.0.0/16\"}}]}");
	assert_string_equal(net->plugin_types[0], "bridge");
	assert_null(net->plugin_types[1]);
	cni_network_free(net);

	assert_int_equal(cni_conf_load(tmpdir, "list", &net, &err), 0);
	/* A list is kept as it is (numbers as written). */
	assert_string_equal(net->conflist, "{\"cniVersion\":\"1.0.0\",\"name\":\"list\",\"plugins\":[{\"type\":\"ptp\","
					   "\"ratio\":1.50},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
	cni_network_free(net);

	/* A single plugin without a version still becomes a list. */
	assert_int_equal(cni_conf_parse("{\"name\":\"n\",\"type\":\"loopback\"}", "/x/99.json", false, &net, &err), 0);
	assert_string_equal(net->conflist, "{\"cniVersion\":\"\",\"name\":\"n\",\"plugins\":[{\"name\":\"n\",\"type\":"
					   "\"loopback\"}]}");
	assert_string_equal(net->file, "/x/99.json");
	cni_network_free(net);
	assert_int_equal(cni_conf_parse("{\"name\":\"n\",\"plugins\":[]}", "/x/1.conflist", true, &net, &err), -EINVAL);
	assert_int_equal(cni_conf_parse("{\"name\":\"n\",\"type\":\"../x\"}", "/x/1.conf", false, &net, &err), -EINVAL);
	crl_error_clear(&err);
	assert_int_equal(crl_fs_rm_rf(tmpdir, &err), 0);
}

static void conf_dirs_and_plugins(void **state)
{
	(void)state;
	char *dirs[] = { "/nonexistent-crl", "/bin", NULL };
	char *s = cni_conf_join_dirs(dirs);
	assert_string_equal(s, "/nonexistent-crl:/bin");
	free(s);
	char *none[] = { NULL };
	s = cni_conf_join_dirs(none);
	assert_string_equal(s, "");
	free(s);
	char *path = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_conf_find_plugin(dirs, "sh", &path, &err), 0);
	assert_string_equal(path, "/bin/sh");
	free(path);
	assert_int_equal(cni_conf_find_plugin(dirs, "no-such-plugin-crl", &path, &err), -ENOENT);
	/* A directory is not a plugin. */
	char *etc[] = { "/", NULL };
	assert_int_equal(cni_conf_find_plugin(etc, "etc", &path, &err), -ENOENT);
}

/* What is refused before any plugin runs. */
static void add_and_del_refuse_bad_input(void **state)
{
	(void)state;
	cni_network_t *net = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(cni_conf_parse("{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"plugins\":[{\"type\":\"no-such\"}]}",
					"/x/n.conflist", true, &net, &err),
			 0);
	char *dirs[] = { "/nonexistent-crl", NULL };
	cni_result_t *res = NULL;
	char *cache = NULL;
	const cni_pod_t bad[] = {
		{ .container_id = "abc" },
		{ .container_id = "abc/../x", .netns = "/run/netns/x" },
		{ .container_id = "", .netns = "/run/netns/x" },
		{ .container_id = "abc", .netns = "/run/netns/x", .ifname = "averyveryverylongname" },
		{ .container_id = "abc", .netns = "/run/netns/x", .ifname = "eth:0" },
		{ .container_id = "abc", .netns = "/run/netns/x", .pod_name = "a;b" },
		{ .container_id = "abc", .netns = "/run/netns/x", .ingress_bandwidth = "1" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (cni_add(net, dirs, &bad[i], 0, &res, &cache, &err) != -EINVAL)
			fail_msg("case %zu: %s", i, crl_error_message(&err));
		assert_null(res);
		assert_null(cache);
	}
	/* A plugin missing is named, with where it was looked for. */
	const cni_pod_t ok = { .container_id = "abc", .netns = "/run/netns/x" };
	assert_int_equal(cni_add(net, dirs, &ok, 0, &res, &cache, &err), -ENOENT);
	assert_non_null(strstr(crl_error_message(&err), "CNI plugin no-such (network n, /x/n.conflist) ADD failed"));
	assert_non_null(strstr(crl_error_message(&err), "/nonexistent-crl"));
	cni_network_free(net);

	static const char *const caches[] = {
		"garbage",
		"[]",
		"{\"version\":2,\"conflist\":{\"name\":\"n\",\"plugins\":[{\"type\":\"x\"}]},\"container_id\":\"a\","
		"\"ifname\":\"eth0\",\"args\":\"\",\"runtime_config\":{},\"result\":{}}",
		"{\"version\":\"1\",\"conflist\":{\"name\":\"n\",\"plugins\":[{\"type\":\"x\"}]},\"container_id\":\"a\","
		"\"ifname\":\"eth0\",\"args\":\"\",\"runtime_config\":{},\"result\":{}}",
		"{\"version\":1,\"conflist\":{\"name\":\"n\",\"plugins\":[{\"type\":\"x\"}]},\"container_id\":\"a\","
		"\"ifname\":\"eth0\",\"args\":\"\",\"result\":{}}",
		"{\"version\":1,\"conflist\":{\"name\":\"n\",\"plugins\":[]},\"container_id\":\"a\","
		"\"ifname\":\"eth0\",\"args\":\"\",\"runtime_config\":{},\"result\":{}}",
		"{\"version\":1,\"conflist\":{\"name\":\"n\",\"plugins\":[{\"type\":\"x\"}]},\"container_id\":\"a b\","
		"\"ifname\":\"eth0\",\"args\":\"\",\"runtime_config\":{},\"result\":{}}",
	};
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		if (cni_del_cached(caches[i], dirs, NULL, 0, &err) != -EINVAL)
			fail_msg("cache %zu accepted: %s", i, crl_error_message(&err));
	}
	assert_int_equal(cni_del_cached(caches[2], dirs, NULL, 0, &err), -EINVAL);
	assert_non_null(strstr(crl_error_message(&err), "version"));
	crl_error_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(result_0_1_and_0_2),
		cmocka_unit_test(result_0_3_to_1_0_interfaces),
		cmocka_unit_test(result_interface_edge_cases),
		cmocka_unit_test(result_garbage_is_refused),
		cmocka_unit_test(bandwidth_quantities),
		cmocka_unit_test(runtime_config_from_pod),
		cmocka_unit_test(runtime_config_refuses_bad_input),
		cmocka_unit_test(conf_single_plugin_becomes_a_list),
		cmocka_unit_test(conf_dirs_and_plugins),
		cmocka_unit_test(add_and_del_refuse_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
