/* SPDX-License-Identifier: Apache-2.0 */
/* The foundation through the socket: a real daemon, real gRPC calls. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "common/json.h"
#include "harness.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"
#define CODE_OK 0
#define CODE_CANCELLED 1
#define CODE_INVALID_ARGUMENT 3
#define CODE_RESOURCE_EXHAUSTED 8
#define CODE_UNIMPLEMENTED 12
#define CODE_UNAVAILABLE 14

static test_daemon_t D; /* shared by the tests that do not restart the daemon */

static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	if (td_setup(&D, NULL) < 0)
		return -1;
	if (td_start(&D, NULL) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	int ok = td_stop_clean(&D);
	td_cleanup(&D);
	grpc_shutdown();
	return ok ? 0 : -1;
}

static Runtime__V1__StatusResponse *status_call(test_daemon_t *t, bool verbose, cri_result_t *r)
{
	Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
	req.verbose = verbose;
	assert_int_equal(cri_call(t->client, RT "Status", &req.base, &runtime__v1__status_response__descriptor, 5000, r),
			 0);
	assert_int_equal(r->code, CODE_OK);
	assert_non_null(r->resp);
	return (Runtime__V1__StatusResponse *)r->resp;
}

static const Runtime__V1__RuntimeCondition *condition(const Runtime__V1__StatusResponse *s, const char *type)
{
	assert_non_null(s->status);
	for (size_t i = 0; i < s->status->n_conditions; i++)
		if (strcmp(s->status->conditions[i]->type, type) == 0)
			return s->status->conditions[i];
	fail_msg("no %s condition", type);
	return NULL;
}

static const char *info(const Runtime__V1__StatusResponse *s, const char *key)
{
	for (size_t i = 0; i < s->n_info; i++)
		if (strcmp(s->info[i]->key, key) == 0)
			return s->info[i]->value;
	return NULL;
}

static void test_version(void **state)
{
	(void)state;
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	req.version = "0.1.0";
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "Version", &req.base, &runtime__v1__version_response__descriptor, 5000, &r), 0);
	assert_int_equal(r.code, CODE_OK);
	Runtime__V1__VersionResponse *v = (Runtime__V1__VersionResponse *)r.resp;
	assert_non_null(v);
	assert_string_equal(v->runtime_name, "crio-lite");
	assert_string_equal(v->runtime_version, CRL_VERSION);
	assert_string_equal(v->runtime_api_version, "v1");
	assert_string_equal(v->version, "0.1.0");
	cri_result_clear(&r);
}

static void test_status_network_not_ready_without_config(void **state)
{
	(void)state;
	cri_result_t r;
	Runtime__V1__StatusResponse *s = status_call(&D, false, &r);
	const Runtime__V1__RuntimeCondition *rt = condition(s, "RuntimeReady");
	const Runtime__V1__RuntimeCondition *net = condition(s, "NetworkReady");
	assert_true(rt->status);
	assert_false(net->status);
	assert_string_equal(net->reason, "NetworkPluginNotReady");
	assert_non_null(strstr(net->message, D.netdir));
	assert_int_equal(s->n_info, 0); /* not verbose */
	assert_int_equal(s->n_runtime_handlers, 1);
	cri_result_clear(&r);
}

static void test_status_network_follows_cni_config(void **state)
{
	(void)state;
	char path[256];
	/* A network whose plugin is not installed: still not ready, and the message names the plugin. */
	snprintf(path, sizeof(path), "%s/10-test.conflist", D.netdir);
	td_write_file(path, "{\"cniVersion\":\"1.0.0\",\"name\":\"testnet\",\"plugins\":[{\"type\":\"loopback\"},"
			    "{\"type\":\"no-such-plugin\"}]}");
	cri_result_t r;
	Runtime__V1__StatusResponse *s = status_call(&D, false, &r);
	const Runtime__V1__RuntimeCondition *net = condition(s, "NetworkReady");
	assert_false(net->status);
	assert_non_null(strstr(net->message, "no-such-plugin"));
	cri_result_clear(&r);

	/* Real plugins from Debian's containernetworking-plugins: ready, without restarting the daemon. */
	td_write_file(path, "{\"cniVersion\":\"1.0.0\",\"name\":\"testnet\",\"plugins\":[{\"type\":\"bridge\","
			    "\"bridge\":\"crltest0\"},{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true}}]}");
	s = status_call(&D, true, &r);
	net = condition(s, "NetworkReady");
	assert_true(net->status);
	assert_string_equal(net->reason, "");
	const char *nj = info(s, "network");
	assert_non_null(nj);
	crl_json_value_t *doc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(nj, &doc, &err), 0);
	assert_string_equal(crl_json_get_string(crl_json_get(doc, "name")), "testnet");
	assert_int_equal(crl_json_array_len(crl_json_get(doc, "plugins")), 2);
	crl_json_value_free(doc);
	cri_result_clear(&r);

	/* Broken JSON alone is no network. */
	td_write_file(path, "{\"cniVersion\":\"1.0.0\",\"name\":");
	s = status_call(&D, false, &r);
	net = condition(s, "NetworkReady");
	assert_false(net->status);
	assert_non_null(strstr(net->message, "10-test.conflist"));
	cri_result_clear(&r);
	unlink(path);
}

static void test_status_verbose_config(void **state)
{
	(void)state;
	cri_result_t r;
	Runtime__V1__StatusResponse *s = status_call(&D, true, &r);
	const char *cfg = info(s, "config");
	assert_non_null(cfg);
	crl_json_value_t *doc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(cfg, &doc, &err), 0);
	const crl_json_value_t *top = crl_json_get(doc, "crio-lite");
	assert_string_equal(crl_json_get_string(crl_json_get(top, "root")), D.root);
	assert_string_equal(crl_json_get_string(crl_json_get(crl_json_get(top, "network"), "network_dir")), D.netdir);
	int64_t max = 0;
	assert_true(crl_json_get_int(crl_json_get(crl_json_get(top, "api"), "grpc_max_recv_msg_size"), &max));
	assert_int_equal(max, 16 * 1024 * 1024);
	crl_json_value_free(doc);
	cri_result_clear(&r);
}

static void test_runtime_config(void **state)
{
	(void)state;
	Runtime__V1__RuntimeConfigRequest req = RUNTIME__V1__RUNTIME_CONFIG_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "RuntimeConfig", &req.base, &runtime__v1__runtime_config_response__descriptor,
				  5000, &r),
			 0);
	assert_int_equal(r.code, CODE_OK);
	Runtime__V1__RuntimeConfigResponse *c = (Runtime__V1__RuntimeConfigResponse *)r.resp;
	assert_non_null(c->linux);
	assert_int_equal(c->linux->cgroup_driver, RUNTIME__V1__CGROUP_DRIVER__CGROUPFS);
	cri_result_clear(&r);
}

static int update_cidr(test_daemon_t *t, const char *cidr, cri_result_t *r)
{
	Runtime__V1__NetworkConfig nc = RUNTIME__V1__NETWORK_CONFIG__INIT;
	Runtime__V1__RuntimeConfig rc = RUNTIME__V1__RUNTIME_CONFIG__INIT;
	Runtime__V1__UpdateRuntimeConfigRequest req = RUNTIME__V1__UPDATE_RUNTIME_CONFIG_REQUEST__INIT;
	nc.pod_cidr = (char *)cidr;
	rc.network_config = &nc;
	req.runtime_config = &rc;
	assert_int_equal(cri_call(t->client, RT "UpdateRuntimeConfig", &req.base,
				  &runtime__v1__update_runtime_config_response__descriptor, 5000, r),
			 0);
	return r->code;
}

static char *pod_cidr_of(test_daemon_t *t)
{
	cri_result_t r;
	Runtime__V1__StatusResponse *s = status_call(t, true, &r);
	crl_json_value_t *doc = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_json_parse(info(s, "network"), &doc, &err), 0);
	char *cidr = strdup(crl_json_get_string(crl_json_get(doc, "podCIDR")));
	crl_json_value_free(doc);
	cri_result_clear(&r);
	return cidr;
}

static void test_update_runtime_config(void **state)
{
	(void)state;
	cri_result_t r;
	assert_int_equal(update_cidr(&D, "10.244.1.0/24,fd00:10:244:1::/64", &r), CODE_OK);
	cri_result_clear(&r);
	char *c = pod_cidr_of(&D);
	assert_string_equal(c, "10.244.1.0/24,fd00:10:244:1::/64");
	free(c);

	assert_int_equal(update_cidr(&D, "10.244.1.0/33", &r), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(r.message, "pod_cidr"));
	cri_result_clear(&r);
	assert_int_equal(update_cidr(&D, "not-a-cidr", &r), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(r.message, "not-a-cidr"));
	cri_result_clear(&r);
	/* The rejected values left the stored one alone; an empty one changes nothing. */
	assert_int_equal(update_cidr(&D, "", &r), CODE_OK);
	cri_result_clear(&r);
	c = pod_cidr_of(&D);
	assert_string_equal(c, "10.244.1.0/24,fd00:10:244:1::/64");
	free(c);
}

/* Methods this build answers; every other method of both services must say UNIMPLEMENTED, naming itself. */
static const char *const implemented[] = { "Version", "Status", "RuntimeConfig", "UpdateRuntimeConfig",
					   "GetContainerEvents", "ImageFsInfo", "PullImage", "ListImages",
					   "ImageStatus", "RemoveImage", "RunPodSandbox", "StopPodSandbox",
					   "RemovePodSandbox", "PodSandboxStatus", "ListPodSandbox",
					   "StreamPodSandboxes", "CreateContainer", "StartContainer", "StopContainer",
					   "RemoveContainer", "ListContainers", "StreamContainers", "ContainerStatus",
					   "ExecSync", "ReopenContainerLog", "UpdateContainerResources", "ContainerStats",
					   "ListContainerStats", "StreamContainerStats", "PodSandboxStats",
					   "ListPodSandboxStats", "StreamPodSandboxStats", "Exec", "Attach", "PortForward",
					   "ListMetricDescriptors", "ListPodSandboxMetrics", "StreamPodSandboxMetrics",
					   "UpdatePodSandboxResources", NULL };

static bool is_implemented(const char *name)
{
	for (size_t i = 0; implemented[i]; i++)
		if (strcmp(implemented[i], name) == 0)
			return true;
	return false;
}

static void test_unimplemented_methods(void **state)
{
	(void)state;
	const ProtobufCServiceDescriptor *sds[] = { &runtime__v1__runtime_service__descriptor,
						    &runtime__v1__image_service__descriptor };
	size_t checked = 0;
	for (size_t s = 0; s < 2; s++) {
		for (unsigned i = 0; i < sds[s]->n_methods; i++) {
			const char *name = sds[s]->methods[i].name;
			if (is_implemented(name))
				continue;
			char path[256];
			snprintf(path, sizeof(path), "/%s/%s", sds[s]->name, name);
			cri_result_t r;
			assert_int_equal(cri_call_raw(D.client, path, "", 0, true, 2000, &r), 0);
			if (r.code != CODE_UNIMPLEMENTED || !strstr(r.message, path))
				fail_msg("%s: code %d message '%s'", path, r.code, r.message);
			cri_result_clear(&r);
			checked++;
		}
	}
	assert_int_equal(checked, 43 - 39);
}

static void test_unknown_methods(void **state)
{
	(void)state;
	const char *paths[] = { RT "NoSuchMethod", "/runtime.v1alpha2.RuntimeService/Version", "/x/y", "/" };
	for (size_t i = 0; i < 4; i++) {
		cri_result_t r;
		assert_int_equal(cri_call_raw(D.client, paths[i], "", 0, true, 2000, &r), 0);
		assert_int_equal(r.code, CODE_UNIMPLEMENTED);
		assert_non_null(strstr(r.message, paths[i]));
		cri_result_clear(&r);
	}
}

static void test_malformed_and_missing_payload(void **state)
{
	(void)state;
	cri_result_t r;
	/* Field 1 declared as a 100-byte string with 3 bytes present. */
	assert_int_equal(cri_call_raw(D.client, RT "Version", "\x0a\x64" "abc", 5, true, 2000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(r.message, "malformed"));
	cri_result_clear(&r);
	/* The same on a blocking method (worker pool path). */
	assert_int_equal(cri_call_raw(D.client, RT "Status", "\xff\xff\xff\xff", 4, true, 2000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	cri_result_clear(&r);
	/* No message at all. */
	assert_int_equal(cri_call_raw(D.client, RT "Version", NULL, 0, false, 2000, &r), 0);
	assert_int_equal(r.code, CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(r.message, "no message"));
	cri_result_clear(&r);
	/* The daemon is fine afterwards. */
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	assert_int_equal(cri_call(D.client, RT "Version", &req.base, &runtime__v1__version_response__descriptor, 2000, &r), 0);
	assert_int_equal(r.code, CODE_OK);
	cri_result_clear(&r);
}

static void test_oversize_payload(void **state)
{
	(void)state;
	size_t len = 17 * 1024 * 1024;
	char *big = malloc(len);
	/* A valid VersionRequest whose version string is 17 MiB. */
	memset(big, 'a', len);
	size_t slen = len - 6;
	big[0] = 0x0a;
	big[1] = (char)(0x80 | (slen & 0x7f));
	big[2] = (char)(0x80 | ((slen >> 7) & 0x7f));
	big[3] = (char)(0x80 | ((slen >> 14) & 0x7f));
	big[4] = (char)((slen >> 21) & 0x7f);
	cri_result_t r;
	assert_int_equal(cri_call_raw(D.client, RT "Version", big, 5 + slen, true, 10000, &r), 0);
	assert_int_equal(r.code, CODE_RESOURCE_EXHAUSTED);
	cri_result_clear(&r);
	free(big);
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	assert_int_equal(cri_call(D.client, RT "Version", &req.base, &runtime__v1__version_response__descriptor, 2000, &r), 0);
	assert_int_equal(r.code, CODE_OK);
	cri_result_clear(&r);
}

static void test_events_stream_open_and_client_cancel(void **state)
{
	(void)state;
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	cri_stream_t *s = cri_stream_open(D.client, RT "GetContainerEvents", &req.base, 60000);
	assert_true(td_wait_log(&D, "container event stream opened (1 open)", 5000));
	ProtobufCMessage *m = NULL;
	cri_result_t r = { 0 };
	/* Nothing to report yet, and the stream stays open. */
	assert_int_equal(cri_stream_next(s, &runtime__v1__container_event_response__descriptor, 700, &m, &r), -ETIMEDOUT);
	/* Other calls go on while the stream is open. */
	Runtime__V1__VersionRequest vr = RUNTIME__V1__VERSION_REQUEST__INIT;
	cri_result_t vres;
	assert_int_equal(cri_call(D.client, RT "Version", &vr.base, &runtime__v1__version_response__descriptor, 2000, &vres), 0);
	assert_int_equal(vres.code, CODE_OK);
	cri_result_clear(&vres);
	cri_stream_cancel(s);
	assert_int_equal(cri_stream_next(s, &runtime__v1__container_event_response__descriptor, 5000, &m, &r), 0);
	assert_int_equal(r.code, CODE_CANCELLED);
	cri_result_clear(&r);
	cri_stream_free(s);
	/* The daemon dropped its side. */
	assert_true(td_wait_log(&D, "container event stream closed (0 open)", 5000));
}

/* Streams cancelled at once, before or while their handler subscribes: each is dropped (none is left
 * subscribed, holding its call), and the daemon still stops cleanly (group teardown). */
static void test_events_stream_cancelled_at_once(void **state)
{
	(void)state;
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	for (int i = 0; i < 200; i++) {
		cri_stream_t *s = cri_stream_open(D.client, RT "GetContainerEvents", &req.base, 60000);
		cri_stream_cancel(s);
		cri_stream_free(s);
	}
	/* One more, kept open: it is the only subscriber once the others are gone. */
	bool alone = false;
	for (int i = 0; i < 50 && !alone; i++) {
		cri_stream_t *s = cri_stream_open(D.client, RT "GetContainerEvents", &req.base, 60000);
		ProtobufCMessage *m = NULL;
		cri_result_t r = { 0 };
		assert_int_equal(cri_stream_next(s, &runtime__v1__container_event_response__descriptor, 300, &m, &r), -ETIMEDOUT);
		char *l = td_log(&D);
		char *last = NULL;
		for (char *p = strstr(l, "container event stream opened"); p; p = strstr(p + 1, "container event stream opened"))
			last = p;
		alone = last && strncmp(last, "container event stream opened (1 open)", 38) == 0;
		free(l);
		cri_stream_cancel(s);
		cri_stream_free(s);
		if (!alone)
			usleep(100000);
	}
	assert_true(alone);
}

typedef struct hammer {
	const char *sock;
	int calls;
	int failures;
} hammer_t;

static void *hammer_main(void *arg)
{
	hammer_t *h = arg;
	cri_client_t *c = cri_client_new(h->sock);
	for (int i = 0; i < h->calls; i++) {
		cri_result_t r;
		if (i % 2) {
			Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
			if (cri_call(c, RT "Version", &req.base, &runtime__v1__version_response__descriptor, 5000, &r) < 0 ||
			    r.code != 0)
				h->failures++;
		} else {
			Runtime__V1__StatusRequest req = RUNTIME__V1__STATUS_REQUEST__INIT;
			req.verbose = true;
			if (cri_call(c, RT "Status", &req.base, &runtime__v1__status_response__descriptor, 5000, &r) < 0 ||
			    r.code != 0)
				h->failures++;
		}
		cri_result_clear(&r);
	}
	cri_client_free(c);
	return NULL;
}

static void test_concurrent_calls(void **state)
{
	(void)state;
	enum { N = 6 };
	pthread_t th[N];
	hammer_t h[N];
	for (int i = 0; i < N; i++) {
		h[i] = (hammer_t){ D.sock, 150, 0 };
		pthread_create(&th[i], NULL, hammer_main, &h[i]);
	}
	int failures = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		failures += h[i].failures;
	}
	assert_int_equal(failures, 0);
}

static void test_socket_mode(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(stat(D.sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
}

static void test_second_daemon_refused(void **state)
{
	(void)state;
	/* Same root and socket. */
	const char *args[] = { td_binary(), "--config", D.conf, NULL };
	char *out = NULL;
	int st = td_run(args, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
	assert_non_null(strstr(out, "already using"));
	free(out);
	/* Same socket, another root. */
	char other_root[256], other_run[256];
	snprintf(other_root, sizeof(other_root), "%s/root2", D.dir);
	snprintf(other_run, sizeof(other_run), "%s/run2", D.dir);
	const char *args2[] = { td_binary(), "--config", D.conf, "--root", other_root, "--runroot", other_run, NULL };
	st = td_run(args2, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
	assert_non_null(strstr(out, D.sock));
	free(out);
	/* The first daemon still owns its socket and answers. */
	Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
	cri_result_t r;
	assert_int_equal(cri_call(D.client, RT "Version", &req.base, &runtime__v1__version_response__descriptor, 2000, &r), 0);
	assert_int_equal(r.code, CODE_OK);
	cri_result_clear(&r);
}

/* --- tests with a daemon of their own --- */

static void test_graceful_shutdown_with_stream_open(void **state)
{
	(void)state;
	test_daemon_t t;
	assert_int_equal(td_setup(&t, NULL), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	cri_client_t *c = cri_client_new(t.sock);
	Runtime__V1__GetEventsRequest req = RUNTIME__V1__GET_EVENTS_REQUEST__INIT;
	cri_stream_t *s = cri_stream_open(c, RT "GetContainerEvents", &req.base, 60000);
	assert_true(td_wait_log(&t, "container event stream opened (1 open)", 5000));
	kill(t.pid, SIGTERM);
	ProtobufCMessage *m = NULL;
	cri_result_t r = { 0 };
	assert_int_equal(cri_stream_next(s, &runtime__v1__container_event_response__descriptor, 5000, &m, &r), 0);
	assert_int_equal(r.code, CODE_UNAVAILABLE);
	assert_non_null(strstr(r.message, "shutting down"));
	cri_result_clear(&r);
	cri_stream_free(s);
	cri_client_free(c);
	int st = td_stop(&t, SIGTERM, 15000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(access(t.sock, F_OK), -1);
	assert_true(td_wait_log(&t, "crio-lite stopped", 100));
	td_cleanup(&t);
}

static void test_state_survives_restart(void **state)
{
	(void)state;
	test_daemon_t t;
	assert_int_equal(td_setup(&t, NULL), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	cri_result_t r;
	assert_int_equal(update_cidr(&t, "10.99.0.0/16", &r), CODE_OK);
	cri_result_clear(&r);
	int st = td_stop(&t, SIGINT, 15000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(td_start(&t, NULL), 0);
	char *c = pod_cidr_of(&t);
	assert_string_equal(c, "10.99.0.0/16");
	free(c);
	st = td_stop(&t, SIGTERM, 15000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	td_cleanup(&t);
}

static void test_stale_socket_replaced(void **state)
{
	(void)state;
	test_daemon_t t;
	assert_int_equal(td_setup(&t, NULL), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	/* A daemon killed hard leaves its socket file behind; the next one starts anyway. */
	td_stop(&t, SIGKILL, 5000);
	assert_int_equal(access(t.sock, F_OK), 0);
	assert_int_equal(td_start(&t, NULL), 0);
	int st = td_stop(&t, SIGTERM, 15000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	td_cleanup(&t);
}

static void test_bad_config_refused(void **state)
{
	(void)state;
	test_daemon_t t;
	assert_int_equal(td_setup(&t, "[crio-lite.image]\nregistries_conf = \"/etc/containers/registries.conf\"\nbogus_key = 1\n"), 0);
	const char *args[] = { td_binary(), "--config", t.conf, NULL };
	char *out = NULL;
	int st = td_run(args, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
	char want[300];
	snprintf(want, sizeof(want), "%s:14: unknown key 'crio-lite.image.bogus_key'", t.conf);
	if (!strstr(out, want))
		fail_msg("expected '%s' in: %s", want, out);
	free(out);
	/* An explicitly named config that does not exist is an error too. */
	const char *args2[] = { td_binary(), "--config", "/nonexistent/crio-lite.conf", NULL };
	st = td_run(args2, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) != 0);
	assert_non_null(strstr(out, "/nonexistent/crio-lite.conf"));
	free(out);
	td_cleanup(&t);
}

static void test_cli_config_help_version(void **state)
{
	(void)state;
	test_daemon_t t;
	assert_int_equal(td_setup(&t, NULL), 0);
	/* `config` prints the effective configuration (file + flags) as a valid crio-lite.conf. */
	const char *args[] = { td_binary(), "--config", t.conf, "--root", "/var/lib/other", "config", NULL };
	char *out = NULL;
	int st = td_run(args, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, "root = \"/var/lib/other\""));
	char want[300];
	snprintf(want, sizeof(want), "network_dir = \"%s\"", t.netdir);
	assert_non_null(strstr(out, want));
	char printed[256];
	snprintf(printed, sizeof(printed), "%s/printed.conf", t.dir);
	td_write_file(printed, out);
	free(out);
	/* ... which the daemon reads back to the same effective config. */
	const char *args2[] = { td_binary(), "--config", printed, "config", NULL };
	st = td_run(args2, &out, 10000);
	assert_true(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	char *again = out;
	const char *args3[] = { td_binary(), "--config", t.conf, "--root", "/var/lib/other", "config", NULL };
	st = td_run(args3, &out, 10000);
	assert_string_equal(again, out);
	free(again);
	free(out);

	const char *help[] = { td_binary(), "--help", NULL };
	st = td_run(help, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, "--runroot"));
	free(out);
	const char *ver[] = { td_binary(), "--version", NULL };
	st = td_run(ver, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, CRL_VERSION));
	free(out);
	const char *bad[] = { td_binary(), "--no-such-flag", NULL };
	st = td_run(bad, &out, 10000);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	free(out);
	td_cleanup(&t);
}

int main(void)
{
	const struct CMUnitTest shared[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_status_network_not_ready_without_config),
		cmocka_unit_test(test_status_network_follows_cni_config),
		cmocka_unit_test(test_status_verbose_config),
		cmocka_unit_test(test_runtime_config),
		cmocka_unit_test(test_update_runtime_config),
		cmocka_unit_test(test_unimplemented_methods),
		cmocka_unit_test(test_unknown_methods),
		cmocka_unit_test(test_malformed_and_missing_payload),
		cmocka_unit_test(test_oversize_payload),
		cmocka_unit_test(test_events_stream_open_and_client_cancel),
		cmocka_unit_test(test_events_stream_cancelled_at_once),
		cmocka_unit_test(test_concurrent_calls),
		cmocka_unit_test(test_socket_mode),
		cmocka_unit_test(test_second_daemon_refused),
	};
	const struct CMUnitTest own[] = {
		cmocka_unit_test(test_graceful_shutdown_with_stream_open),
		cmocka_unit_test(test_state_survives_restart),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_bad_config_refused),
		cmocka_unit_test(test_cli_config_help_version),
	};
	int failed = cmocka_run_group_tests_name("foundation (shared daemon)", shared, group_setup, group_teardown);
	grpc_init();
	failed += cmocka_run_group_tests_name("foundation (own daemons)", own, NULL, NULL);
	grpc_shutdown();
	return failed ? 1 : 0;
}
