/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api.pb-c.h"
#include "server/grpc.h"

/* Every method of both service descriptors (generated from proto/api.proto) is in the dispatch table, and the
 * table has nothing else. */
static void test_table_complete(void **state)
{
	(void)state;
	const ProtobufCServiceDescriptor *sds[] = { &runtime__v1__runtime_service__descriptor,
						    &runtime__v1__image_service__descriptor };
	size_t n = 0;
	const srv_method_t *table = srv_grpc_methods(&n);
	size_t total = 0;
	for (size_t s = 0; s < 2; s++) {
		for (unsigned i = 0; i < sds[s]->n_methods; i++) {
			char path[256];
			snprintf(path, sizeof(path), "/%s/%s", sds[s]->name, sds[s]->methods[i].name);
			const srv_method_t *m = srv_grpc_find_method(path, strlen(path));
			if (!m)
				fail_msg("%s is missing from the dispatch table", path);
			assert_string_equal(m->name, sds[s]->methods[i].name);
			assert_string_equal(m->service, sds[s]->name);
			total++;
		}
	}
	assert_int_equal(total, 43);
	assert_int_equal(n, total);
	/* No duplicates: each entry is found as itself. */
	for (size_t i = 0; i < n; i++) {
		char path[256];
		snprintf(path, sizeof(path), "/%s/%s", table[i].service, table[i].name);
		assert_ptr_equal(srv_grpc_find_method(path, strlen(path)), &table[i]);
		assert_false(table[i].unary && table[i].stream);
	}
}

static void test_lookup_is_exact(void **state)
{
	(void)state;
	const char *bad[] = { "/runtime.v1.RuntimeService/Versio", "/runtime.v1.RuntimeService/VersionX",
			      "runtime.v1.RuntimeService/Version", "/runtime.v1.RuntimeService.Version",
			      "/runtime.v1.ImageService/Version", "", "/" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(srv_grpc_find_method(bad[i], strlen(bad[i])));
	/* Length-bounded: a longer buffer with the right prefix does not match. */
	const char *p = "/runtime.v1.RuntimeService/Version";
	assert_non_null(srv_grpc_find_method(p, strlen(p)));
	assert_null(srv_grpc_find_method(p, strlen(p) - 1));
}

/* Streaming methods in the proto are the ones the table marks as streams when implemented. */
static void test_streams_match_proto(void **state)
{
	(void)state;
	size_t n = 0;
	const srv_method_t *table = srv_grpc_methods(&n);
	for (size_t i = 0; i < n; i++)
		if (table[i].stream)
			assert_true(strncmp(table[i].name, "Stream", 6) == 0 ||
				    strcmp(table[i].name, "GetContainerEvents") == 0);
}

/* The calls kubelet makes every second never wait behind pulls or pod lifecycle calls; those never run on a
 * poller. */
static void test_lanes(void **state)
{
	(void)state;
	static const char *const quick[] = { "Version", "Status", "ListPodSandbox", "PodSandboxStatus", "ImageStatus",
					     "ListImages", "ListContainers", "ContainerStatus", "RuntimeConfig" };
	static const char *const slow[] = { "PullImage", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox",
					    "CreateContainer", "StopContainer", "ExecSync", "RemoveImage" };
	char path[256];
	for (size_t i = 0; i < sizeof(quick) / sizeof(quick[0]); i++) {
		snprintf(path, sizeof(path), "/runtime.v1.%s/%s",
			 strstr(quick[i], "Image") ? "ImageService" : "RuntimeService", quick[i]);
		const srv_method_t *m = srv_grpc_find_method(path, strlen(path));
		assert_non_null(m);
		if (m->lane == SRV_LANE_LONG)
			fail_msg("%s runs in the long lane", path);
	}
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++) {
		snprintf(path, sizeof(path), "/runtime.v1.%s/%s",
			 strstr(slow[i], "Image") ? "ImageService" : "RuntimeService", slow[i]);
		const srv_method_t *m = srv_grpc_find_method(path, strlen(path));
		assert_non_null(m);
		if (m->lane != SRV_LANE_LONG)
			fail_msg("%s does not run in the long lane", path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_complete),
		cmocka_unit_test(test_lanes),
		cmocka_unit_test(test_lookup_is_exact),
		cmocka_unit_test(test_streams_match_proto),
	};
	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
