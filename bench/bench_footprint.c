/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's memory: its RSS at idle (default config), during and after a burst of malformed requests through
 * the socket (random methods, random bytes, a tenth of them 1 to 15 MiB), and after concurrent pulls of a large
 * image; then a few seconds after each, to see it come back. Prints figures; asserts nothing.
 * Usage: bench-footprint [--requests N] [--pulls N] */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "bench_peer.h"
#include "bench_util.h"
#include "harness.h"

static test_daemon_t D;

static long rss(void)
{
	return bench_proc_kib(D.pid, "status", "VmRSS:");
}

/* What kubelet asks every second or so, 300 rounds back to back: the pages those calls use come back. */
static void poll_as_kubelet(cri_client_t *c)
{
	const char *polled[] = { "/runtime.v1.RuntimeService/ListPodSandbox", "/runtime.v1.RuntimeService/ListContainers",
				 "/runtime.v1.ImageService/ListImages", "/runtime.v1.ImageService/ImageFsInfo",
				 "/runtime.v1.RuntimeService/Status", "/runtime.v1.RuntimeService/Version",
				 "/runtime.v1.RuntimeService/ListContainerStats", "/runtime.v1.RuntimeService/ListPodSandboxStats" };
	Runtime__V1__VersionRequest empty = RUNTIME__V1__VERSION_REQUEST__INIT; /* every one of these takes {} */
	for (int i = 0; i < 300; i++)
		for (size_t m = 0; m < sizeof(polled) / sizeof(polled[0]); m++) {
			cri_result_t r;
			if (cri_call(c, polled[m], &empty.base, NULL, 30000, &r) == 0)
				cri_result_clear(&r);
		}
}

static void after(const char *what, long idle)
{
	printf("%-44s RSS %ld KiB right after", what, rss());
	for (int s = 1; s <= 5; s++) {
		sleep(1);
		if (s == 1 || s == 3 || s == 5)
			printf(", %ld KiB %d s later", rss(), s);
	}
	printf(" (idle %ld KiB: %+ld KiB; anon %ld, file %ld)\n", idle, rss() - idle,
	       bench_proc_kib(D.pid, "status", "RssAnon:"), bench_proc_kib(D.pid, "status", "RssFile:"));
}

typedef struct puller {
	const char *sock, *image;
	int code;
} puller_t;

static void *pull_one(void *arg)
{
	puller_t *p = arg;
	cri_client_t *c = cri_client_new(p->sock);
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)p->image;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	req.image = &spec;
	cri_result_t r;
	p->code = cri_call(c, "/runtime.v1.ImageService/PullImage", &req.base, NULL, 600000, &r) < 0 ? -1 : r.code;
	cri_result_clear(&r);
	cri_client_free(c);
	return NULL;
}

int main(int argc, char **argv)
{
	int requests = 10000, pulls = 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--requests") == 0 && i + 1 < argc)
			requests = atoi(argv[++i]);
		else if (strcmp(argv[i], "--pulls") == 0 && i + 1 < argc)
			pulls = atoi(argv[++i]);
	}
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	char reg_dir[128] = "", regconf[256], extra[512], port[16];
	int reg_port = pulls > 0 ? td_registry_start(reg_dir, NULL) : 0;
	if (reg_port < 0)
		return 1;
	snprintf(port, sizeof(port), "%d", reg_port);
	const char *push[] = { "push-large", port, NULL };
	if (pulls > 0 && td_fixture(push, NULL) != 0) {
		td_registry_stop(reg_dir);
		return 1;
	}
	snprintf(regconf, sizeof(regconf), "%s/registries.conf", reg_dir);
	if (pulls > 0)
		td_write_regconf(regconf, reg_port);
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"%s\"\n", regconf);
	int status = 1;
	const char *const args[] = { "--log-level", "info", NULL }; /* td_start waits for the info line "serving" */
	if (td_setup(&D, pulls > 0 ? extra : NULL) < 0 || td_start(&D, args) < 0)
		goto out;
	sleep(3);
	long idle = rss();
	printf("%-44s %ld KiB (anon %ld, file %ld; PSS %ld)\n", "daemon RSS at idle", idle,
	       bench_proc_kib(D.pid, "status", "RssAnon:"), bench_proc_kib(D.pid, "status", "RssFile:"),
	       bench_proc_kib(D.pid, "smaps_rollup", "Pss:"));

	poll_as_kubelet(D.client);
	after("after 300 rounds of kubelet's polling", idle);

	/* malformed requests, one at a time */
	const char *methods[] = { "/runtime.v1.RuntimeService/RunPodSandbox", "/runtime.v1.RuntimeService/CreateContainer",
				  "/runtime.v1.ImageService/PullImage", "/runtime.v1.RuntimeService/ListContainers",
				  "/runtime.v1.RuntimeService/ExecSync", "/runtime.v1.RuntimeService/UpdateRuntimeConfig" };
	size_t cap = 15u << 20;
	unsigned char *junk = malloc(cap);
	unsigned seed = 12345;
	for (size_t i = 0; i < cap; i++)
		junk[i] = (unsigned char)(rand_r(&seed) >> 7);
	long peak = 0;
	double t0 = bench_now_ms();
	for (int i = 0; i < requests; i++) {
		size_t len = i % 10 == 9 ? (1u << 20) + (size_t)rand_r(&seed) % (14u << 20) : (size_t)rand_r(&seed) % 4096;
		size_t off = (size_t)rand_r(&seed) % (cap - len + 1);
		cri_result_t r;
		if (cri_call_raw(D.client, methods[i % 6], junk + off, len, true, 30000, &r) == 0)
			cri_result_clear(&r);
		if (i % 500 == 0) {
			long now = rss();
			peak = now > peak ? now : peak;
		}
	}
	printf("%-44s %d in %.1f s, RSS peak seen %ld KiB\n", "malformed requests (a tenth 1-15 MiB)", requests,
	       (bench_now_ms() - t0) / 1e3, peak);
	after("after the burst", idle);
	free(junk);

	if (pulls > 0) {
		char image[160];
		snprintf(image, sizeof(image), "127.0.0.1:%d/large:latest", reg_port);
		puller_t *p = calloc((size_t)pulls, sizeof(*p));
		pthread_t *t = calloc((size_t)pulls, sizeof(*t));
		t0 = bench_now_ms();
		for (int i = 0; i < pulls; i++) {
			p[i] = (puller_t){ D.sock, image, 0 };
			pthread_create(&t[i], NULL, pull_one, &p[i]);
		}
		int ok = 0;
		for (int i = 0; i < pulls; i++) {
			pthread_join(t[i], NULL);
			ok += p[i].code == 0;
		}
		printf("%-44s %d of %d in %.1f s\n", "concurrent pulls of a 225 MB image", ok, pulls, (bench_now_ms() - t0) / 1e3);
		after("after the pulls", idle);
		free(p);
		free(t);
	}
	status = 0;
out:
	td_finish(&D);
	/* The peer, alone, after: its RSS at idle and after the same polling. */
	bench_peer_t peer;
	if (status == 0 && bench_containerd_start(&peer, reg_port)) {
		sleep(3);
		long pidle = bench_proc_kib(peer.pid, "status", "VmRSS:");
		printf("%-44s %ld KiB (anon %ld, file %ld; PSS %ld)\n", "containerd: RSS at idle", pidle,
		       bench_proc_kib(peer.pid, "status", "RssAnon:"), bench_proc_kib(peer.pid, "status", "RssFile:"),
		       bench_proc_kib(peer.pid, "smaps_rollup", "Pss:"));
		poll_as_kubelet(peer.client);
		sleep(3);
		printf("%-44s %ld KiB 3 s later\n", "containerd: after the same polling",
		       bench_proc_kib(peer.pid, "status", "VmRSS:"));
		bench_containerd_stop(&peer);
	}
	if (*reg_dir)
		td_registry_stop(reg_dir);
	grpc_shutdown();
	return status;
}
