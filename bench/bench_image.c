/* SPDX-License-Identifier: Apache-2.0 */
/* Image service figures against a real registry on 127.0.0.1 (tests/fixtures/registry.py):
 *   PullImage of a small busybox image, cold (removed before each pull: download + verify + unpack) and warm
 *   (already present), ListImages with --many images, one --large pull (5 layers, ~225 MB) next to skopeo copying
 *   the same image, and the daemon's RSS. Prints percentiles; asserts nothing.
 * Usage: bench-image [--iterations N] [--many N] [--large] [--no-peer]
 *   --no-peer: crio-lite only (for comparing two builds of it, run one after the other) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "bench_peer.h"
#include "bench_util.h"
#include "harness.h"

#define IMG "/runtime.v1.ImageService/"

static void report(const char *what, double *v, int n)
{
	bench_sort(v, n);
	printf("%-44s n=%-5d p50 %8.2f ms  p90 %8.2f ms  p99 %8.2f ms  min %8.2f  max %8.2f\n", what, n, v[n / 2],
	       v[(n * 9) / 10], v[(n * 99) / 100], v[0], v[n - 1]);
}


static int call(cri_client_t *c, const char *method, ProtobufCMessage *req, const ProtobufCMessageDescriptor *d,
		cri_result_t *r)
{
	if (cri_call(c, method, req, d, 600000, r) < 0 || r->code != 0) {
		fprintf(stderr, "%s failed: %s\n", method, r->message ? r->message : "(transport)");
		return -1;
	}
	return 0;
}

static int pull(cri_client_t *c, const char *image)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	spec.image = (char *)image;
	req.image = &spec;
	cri_result_t r;
	int ret = call(c, IMG "PullImage", &req.base, &runtime__v1__pull_image_response__descriptor, &r);
	cri_result_clear(&r);
	return ret;
}

static int rmi(cri_client_t *c, const char *image)
{
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	Runtime__V1__RemoveImageRequest req = RUNTIME__V1__REMOVE_IMAGE_REQUEST__INIT;
	spec.image = (char *)image;
	req.image = &spec;
	cri_result_t r;
	int ret = call(c, IMG "RemoveImage", &req.base, &runtime__v1__remove_image_response__descriptor, &r);
	cri_result_clear(&r);
	return ret;
}

/* PullImage of image cold (RemoveImage before each, timed too) and warm, who's figures (v: iterations doubles);
 * and what the cold cycles cost the daemon (pid) in CPU time and page faults. */
static int pull_cycles(cri_client_t *c, pid_t pid, const char *image, int iterations, const char *who, double *v)
{
	char what[96];
	pull(c, image); /* warm up connections */
	double *rm = calloc((size_t)iterations + 1, sizeof(double));
	double cpu0 = 0, cpu1 = 0;
	long flt0 = 0, flt1 = 0;
	bool counted = bench_proc_cpu(pid, &cpu0, &flt0) == 0;
	for (int i = 0; i < iterations; i++) {
		double a = bench_now_ms();
		rmi(c, image);
		rm[i] = bench_now_ms() - a;
		a = bench_now_ms();
		if (pull(c, image) < 0) {
			free(rm);
			return -1;
		}
		v[i] = bench_now_ms() - a;
	}
	counted = counted && bench_proc_cpu(pid, &cpu1, &flt1) == 0;
	snprintf(what, sizeof(what), "%sPullImage busybox (1 MiB), cold", who);
	report(what, v, iterations);
	snprintf(what, sizeof(what), "%sdaemon, per cold cycle (remove + pull)", who);
	if (counted && iterations > 0)
		printf("%-44s %.2f ms CPU (all its threads), %.0f minor page faults\n", what, (cpu1 - cpu0) / iterations,
		       (double)(flt1 - flt0) / iterations);
	snprintf(what, sizeof(what), "%sRemoveImage busybox (its only image)", who);
	report(what, rm, iterations);
	free(rm);
	for (int i = 0; i < iterations; i++) {
		double a = bench_now_ms();
		if (pull(c, image) < 0)
			return -1;
		v[i] = bench_now_ms() - a;
	}
	snprintf(what, sizeof(what), "%sPullImage busybox, already present", who);
	report(what, v, iterations);
	return 0;
}

int main(int argc, char **argv)
{
	int iterations = 50, many = 1000;
	bool large = false, peer_too = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			iterations = atoi(argv[++i]);
		else if (strcmp(argv[i], "--many") == 0 && i + 1 < argc)
			many = atoi(argv[++i]);
		else if (strcmp(argv[i], "--large") == 0)
			large = true;
		else if (strcmp(argv[i], "--no-peer") == 0)
			peer_too = false;
	}
	grpc_init();
	char regdir[128], port[16], nstr[16];
	int reg_port = td_registry_start(regdir, NULL);
	if (reg_port < 0)
		return 1;
	int status = 1;
	bool daemon_up = false;
	double *v = NULL;
	snprintf(port, sizeof(port), "%d", reg_port);
	const char *push[] = { "push", port, NULL };
	snprintf(nstr, sizeof(nstr), "%d", many);
	const char *pushm[] = { "push-many", port, nstr, NULL };
	const char *pushl[] = { "push-large", port, NULL };
	double t0 = bench_now_ms();
	if (td_fixture(push, NULL) != 0 || td_fixture(pushm, NULL) != 0 || (large && td_fixture(pushl, NULL) != 0))
		goto out;
	printf("fixtures pushed in %.1f s (registry 127.0.0.1:%s)\n", (bench_now_ms() - t0) / 1e3, port);

	char conf[256], extra[512];
	snprintf(conf, sizeof(conf), "%s/registries.conf", regdir);
	td_write_regconf(conf, reg_port);
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"%s\"\n", conf);
	test_daemon_t d;
	/* The benchmark measures the daemon, not its debug logging. */
	const char *const args[] = { "--log-level", "info", NULL };
	if (td_setup(&d, extra) < 0)
		goto out;
	daemon_up = true; /* from here on stopped (if it runs) and cleaned up at out */
	if (td_start(&d, args) < 0) {
		fprintf(stderr, "daemon did not start\n");
		goto out;
	}
	cri_client_t *c = d.client;
	char small[128];
	snprintf(small, sizeof(small), "127.0.0.1:%s/busybox:plain", port);
	v = calloc((size_t)(iterations > many ? iterations : many) + 1, sizeof(double));
	if (pull_cycles(c, d.pid, small, iterations, "", v) < 0)
		goto out;
	t0 = bench_now_ms();
	for (int i = 0; i < many; i++) {
		char name[128];
		snprintf(name, sizeof(name), "127.0.0.1:%s/many:%d", port, i);
		if (pull(c, name) < 0)
			goto out;
	}
	printf("%-44s %d images in %.2f s\n", "PullImage of small images (sequential)", many, (bench_now_ms() - t0) / 1e3);
	for (int i = 0; i < iterations; i++) {
		Runtime__V1__ListImagesRequest req = RUNTIME__V1__LIST_IMAGES_REQUEST__INIT;
		cri_result_t r;
		double a = bench_now_ms();
		if (call(c, IMG "ListImages", &req.base, &runtime__v1__list_images_response__descriptor, &r) < 0)
			goto out;
		v[i] = bench_now_ms() - a;
		if (i == 0)
			printf("ListImages returns %zu images\n", ((Runtime__V1__ListImagesResponse *)r.resp)->n_images);
		cri_result_clear(&r);
	}
	char what[64];
	snprintf(what, sizeof(what), "ListImages with %d images", many + 1);
	report(what, v, iterations);

	if (large) {
		char big[128];
		snprintf(big, sizeof(big), "127.0.0.1:%s/large:latest", port);
		double a = bench_now_ms();
		if (pull(c, big) < 0)
			goto out;
		printf("%-44s %.2f s (download, verify, unpack)\n", "PullImage large (5 x 45 MiB layers)", (bench_now_ms() - a) / 1e3);
		char cmd[512];
		snprintf(cmd, sizeof(cmd),
			 "rm -rf %s/skopeo-out; skopeo copy -q --src-tls-verify=false docker://%s dir:%s/skopeo-out >/dev/null",
			 regdir, big, regdir);
		a = bench_now_ms();
		int rc2 = system(cmd);
		printf("%-44s %.2f s (download, verify, no unpack)%s\n", "skopeo copy of the same image", (bench_now_ms() - a) / 1e3,
		       rc2 == 0 ? "" : " [skopeo failed]");
	}
	printf("%-44s %ld KiB\n", "daemon RSS at the end", bench_proc_kib(d.pid, "status", "VmRSS:"));
	td_stop(&d, SIGTERM, 20000);
	td_cleanup(&d);
	daemon_up = false;

	/* The peer, on the same registry, one after the other (never both at once). */
	bench_peer_t peer;
	if (peer_too && bench_containerd_start(&peer, reg_port)) {
		sleep(2);
		printf("%-44s %ld KiB\n", "containerd: RSS at idle", bench_proc_kib(peer.pid, "status", "VmRSS:"));
		int pr = pull_cycles(peer.client, peer.pid, small, iterations, "containerd: ", v);
		printf("%-44s %ld KiB%s\n", "containerd: RSS at the end", bench_proc_kib(peer.pid, "status", "VmRSS:"),
		       pr < 0 ? " [a pull failed]" : "");
		bench_containerd_stop(&peer);
	} else if (peer_too) {
		printf("containerd: not installed or did not start; no figures beside these\n");
	}
	status = 0;
out:
	if (daemon_up) {
		td_stop(&d, SIGTERM, 20000);
		td_cleanup(&d);
	}
	td_registry_stop(regdir);
	free(v);
	grpc_shutdown();
	return status;
}
