/* SPDX-License-Identifier: Apache-2.0 */
/* Streaming figures through the socket and the streaming server, with the tests' SPDY/WebSocket client:
 *   exec round trip of `true` (the Exec call, the upgrade, the streams, the exit status), through SPDY/3.1 (v4)
 *   and through WebSocket (v5); port-forward throughput from a listener of the benchmark's own on the host's
 *   loopback (a host-network pod's port-forward dials it) next to a direct loopback connection to the same
 *   listener, in one run; the daemon's RSS with 50 exec sessions open. Prints figures; asserts nothing.
 * Usage: bench-stream [--iterations N] [--megabytes N] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpc/grpc.h>

#include "api.pb-c.h"
#include "bench_util.h"
#include "harness.h"
#include "stream_client.h"

#define RT "/runtime.v1.RuntimeService/"

static test_daemon_t D;
static size_t transfer_bytes = 512u << 20;

static void report(const char *what, double *v, int n)
{
	bench_sort(v, n);
	printf("%-44s n=%-4d p50 %8.3f ms  p90 %8.3f ms  p99 %8.3f ms  min %8.3f  max %8.3f\n", what, n, v[n / 2],
	       v[(n * 9) / 10], v[(n * 99) / 100], v[0], v[n - 1]);
}

static void *answer(cri_result_t *r, const char *method, const ProtobufCMessage *req,
		    const ProtobufCMessageDescriptor *d)
{
	if (cri_call(D.client, method, req, d, 60000, r) < 0 || r->code != 0) {
		fprintf(stderr, "%s failed: %s\n", method, r->message ? r->message : "(transport)");
		exit(1);
	}
	return r->resp;
}

/* A pod (host network or its own) with one container running sleep; the container's id. */
static char *pod_with_sleeper(const char *name, bool host_network, const char *image, char **ret_pod)
{
	Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
	md.name = md.uid = (char *)name;
	md.namespace_ = "bench";
	Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
	ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
	Runtime__V1__LinuxSandboxSecurityContext sc = RUNTIME__V1__LINUX_SANDBOX_SECURITY_CONTEXT__INIT;
	sc.namespace_options = &ns;
	Runtime__V1__LinuxPodSandboxConfig lin = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
	if (host_network)
		lin.security_context = &sc;
	Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
	cfg.metadata = &md;
	cfg.linux = &lin;
	char logdir[256];
	snprintf(logdir, sizeof(logdir), "%s/logs/%s", D.dir, name);
	cfg.log_directory = logdir;
	Runtime__V1__RunPodSandboxRequest rp = RUNTIME__V1__RUN_POD_SANDBOX_REQUEST__INIT;
	rp.config = &cfg;
	cri_result_t r;
	*ret_pod = strdup(((Runtime__V1__RunPodSandboxResponse *)answer(&r, RT "RunPodSandbox", &rp.base,
									 &runtime__v1__run_pod_sandbox_response__descriptor))
				  ->pod_sandbox_id);
	cri_result_clear(&r);
	Runtime__V1__ContainerMetadata cm = RUNTIME__V1__CONTAINER_METADATA__INIT;
	cm.name = "sleeper";
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = (char *)image;
	Runtime__V1__ContainerConfig cc = RUNTIME__V1__CONTAINER_CONFIG__INIT;
	char *cmd[] = { "/bin/sh", "-c", "exec sleep 100000" };
	cc.metadata = &cm;
	cc.image = &spec;
	cc.command = cmd;
	cc.n_command = 3;
	cc.log_path = "sleeper.log";
	Runtime__V1__CreateContainerRequest cr = RUNTIME__V1__CREATE_CONTAINER_REQUEST__INIT;
	cr.pod_sandbox_id = *ret_pod;
	cr.config = &cc;
	cr.sandbox_config = &cfg;
	char *id = strdup(((Runtime__V1__CreateContainerResponse *)answer(&r, RT "CreateContainer", &cr.base,
									  &runtime__v1__create_container_response__descriptor))
				  ->container_id);
	cri_result_clear(&r);
	Runtime__V1__StartContainerRequest sr = RUNTIME__V1__START_CONTAINER_REQUEST__INIT;
	sr.container_id = id;
	answer(&r, RT "StartContainer", &sr.base, NULL);
	cri_result_clear(&r);
	return id;
}

static char *exec_url(const char *ctr, char **cmd, size_t n)
{
	Runtime__V1__ExecRequest req = RUNTIME__V1__EXEC_REQUEST__INIT;
	req.container_id = (char *)ctr;
	req.cmd = cmd;
	req.n_cmd = n;
	req.stdout = req.stderr = true;
	cri_result_t r;
	char *url = strdup(((Runtime__V1__ExecResponse *)answer(&r, RT "Exec", &req.base, &runtime__v1__exec_response__descriptor))->url);
	cri_result_clear(&r);
	return url;
}

static char *true_cmd[] = { "/bin/true" }, *sleep_cmd[] = { "/bin/sh", "-c", "sleep 3" };

/* Opens an exec session of cmd (error, stdout, stderr streams over SPDY; the channels over WebSocket). */
static sc_t *open_exec(const char *ctr, sc_transport_t t, char **cmd, size_t n)
{
	static const char *const spdy[] = { "v4.channel.k8s.io", NULL }, *const ws[] = { "v5.channel.k8s.io", NULL };
	char *url = exec_url(ctr, cmd, n);
	sc_t *c = NULL;
	if (sc_open(url, t, t == SC_SPDY ? spdy : ws, &c) < 0 || c->status != 101) {
		fprintf(stderr, "upgrade of %s failed\n", url);
		exit(1);
	}
	free(url);
	if (t == SC_SPDY) {
		static const char *const types[] = { "error", "stdout", "stderr" };
		for (int i = 0; i < 3; i++) {
			spdy_header_t h = { "streamtype", (char *)types[i] };
			if (!sc_stream(c, &h, 1, 10000)) {
				fprintf(stderr, "stream %s refused\n", types[i]);
				exit(1);
			}
		}
	}
	return c;
}

/* Reads a session to its end: the error stream's end (SPDY: stream 1) or the close frame. */
static void wait_end(sc_t *c)
{
	sc_event_t ev = { 0 };
	while (sc_next(c, &ev, 60000) == 1) {
		if (ev.kind == SC_EOF || ev.kind == SC_CLOSE || ev.kind == SC_GOAWAY || (ev.kind == SC_FIN && ev.id == 1))
			break;
	}
	free(ev.owned);
}

static void exec_round_trips(const char *ctr, int n)
{
	double *v = calloc((size_t)n, sizeof(double));
	for (int t = SC_SPDY; t <= SC_WS; t++) {
		for (int i = 0; i < n; i++) {
			double t0 = bench_now_ms();
			sc_t *c = open_exec(ctr, (sc_transport_t)t, true_cmd, 1);
			wait_end(c);
			v[i] = bench_now_ms() - t0;
			sc_close(c);
		}
		report(t == SC_SPDY ? "exec `true` round trip, SPDY/3.1 v4" : "exec `true` round trip, WebSocket v5", v, n);
	}
	free(v);
}

/* --- port-forward throughput --- */

static int listener;

/* Writes transfer_bytes to each connection accepted, then closes it. */
static void *serve(void *arg)
{
	(void)arg;
	static char block[65536];
	memset(block, 'x', sizeof(block));
	for (;;) {
		int a = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0)
			return NULL;
		for (size_t left = transfer_bytes; left;) {
			ssize_t w = write(a, block, left < sizeof(block) ? left : sizeof(block));
			if (w <= 0)
				break;
			left -= (size_t)w;
		}
		close(a);
	}
}

static double mbps(size_t bytes, double ms)
{
	return (double)bytes / (1024.0 * 1024.0) / (ms / 1000.0);
}

static void portforward_throughput(const char *hostnet_pod, int port)
{
	/* direct */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	double t0 = bench_now_ms();
	size_t got = 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		static char buf[65536];
		for (ssize_t r; (r = read(fd, buf, sizeof(buf))) > 0;)
			got += (size_t)r;
	}
	double direct_ms = bench_now_ms() - t0;
	close(fd);
	/* through port-forward: the same listener, dialled by the daemon for a host-network pod */
	Runtime__V1__PortForwardRequest req = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
	req.pod_sandbox_id = (char *)hostnet_pod;
	cri_result_t r;
	char *url = strdup(((Runtime__V1__PortForwardResponse *)answer(&r, RT "PortForward", &req.base,
								       &runtime__v1__port_forward_response__descriptor))
				   ->url);
	cri_result_clear(&r);
	static const char *const pf[] = { "portforward.k8s.io", NULL };
	sc_t *c = NULL;
	t0 = bench_now_ms();
	if (sc_open(url, SC_SPDY, pf, &c) < 0 || c->status != 101) {
		fprintf(stderr, "port-forward upgrade failed\n");
		exit(1);
	}
	free(url);
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	spdy_header_t h[3] = { { "streamtype", "error" }, { "port", ps }, { "requestid", "0" } };
	uint32_t es = sc_stream(c, h, 3, 10000);
	sc_send(c, es, NULL, 0, true);
	h[0].value = "data";
	uint32_t ds = sc_stream(c, h, 3, 10000);
	size_t fwd = 0;
	sc_event_t ev = { 0 };
	while (ds && sc_next(c, &ev, 60000) == 1 && ev.kind != SC_EOF) {
		if (ev.kind == SC_DATA && ev.id == ds)
			fwd += ev.len;
		if ((ev.kind == SC_FIN || ev.kind == SC_RST) && ev.id == ds)
			break;
	}
	free(ev.owned);
	double fwd_ms = bench_now_ms() - t0;
	sc_close(c);
	printf("%-44s %zu MiB in %8.1f ms: %8.1f MiB/s\n", "direct loopback connection to the listener", got >> 20,
	       direct_ms, mbps(got, direct_ms));
	printf("%-44s %zu MiB in %8.1f ms: %8.1f MiB/s (%.0f%% of direct)\n", "port-forward (SPDY) to the same listener",
	       fwd >> 20, fwd_ms, mbps(fwd, fwd_ms), 100.0 * mbps(fwd, fwd_ms) / mbps(got, direct_ms));
}

int main(int argc, char **argv)
{
	int n = 50, mb = 512;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			n = atoi(argv[++i]);
		else if (strcmp(argv[i], "--megabytes") == 0 && i + 1 < argc)
			mb = atoi(argv[++i]);
	}
	if (n < 2)
		n = 2;
	if (mb > 0)
		transfer_bytes = (size_t)mb << 20;
	signal(SIGPIPE, SIG_IGN);
	grpc_init();
	char reg_dir[128] = "", regconf[256], extra[512], image[128];
	int port = td_container_registry(reg_dir, regconf, sizeof(regconf));
	if (port < 0)
		return 1;
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"%s\"\n", regconf);
	snprintf(image, sizeof(image), "127.0.0.1:%d/ctr:plain", port);
	int status = 1;
	if (td_setup(&D, extra) < 0)
		goto out;
	td_write_lo_network(&D);
	if (td_start(&D, NULL) < 0)
		goto out;
	Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
	spec.image = image;
	Runtime__V1__PullImageRequest pr = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
	pr.image = &spec;
	cri_result_t r;
	answer(&r, "/runtime.v1.ImageService/PullImage", &pr.base, NULL);
	cri_result_clear(&r);
	char *pod = NULL, *hpod = NULL;
	char *ctr = pod_with_sleeper("bench-exec", false, image, &pod);
	free(pod_with_sleeper("bench-hostnet", true, image, &hpod));

	exec_round_trips(ctr, n);

	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	bind(listener, (struct sockaddr *)&a, sizeof(a));
	listen(listener, 8);
	getsockname(listener, (struct sockaddr *)&a, &al);
	pthread_t srv;
	pthread_create(&srv, NULL, serve, NULL);
	portforward_throughput(hpod, ntohs(a.sin_port));
	shutdown(listener, SHUT_RDWR);
	close(listener);
	pthread_join(srv, NULL);

	/* RSS with 50 sessions open at once (each waiting for its command, a sleep of 3 s, to exit) */
	long idle = bench_proc_kib(D.pid, "status", "VmRSS:");
	sc_t *open[50];
	for (int i = 0; i < 50; i++)
		open[i] = open_exec(ctr, SC_SPDY, sleep_cmd, 3);
	long busy = bench_proc_kib(D.pid, "status", "VmRSS:");
	for (int i = 0; i < 50; i++) {
		wait_end(open[i]);
		sc_close(open[i]);
	}
	printf("%-44s %ld KiB before, %ld KiB with 50 exec sessions\n", "daemon RSS", idle, busy);
	free(ctr);
	const char *pods[] = { pod, hpod };
	for (int i = 0; i < 2; i++) {
		Runtime__V1__StopPodSandboxRequest sp = RUNTIME__V1__STOP_POD_SANDBOX_REQUEST__INIT;
		sp.pod_sandbox_id = (char *)pods[i];
		answer(&r, RT "StopPodSandbox", &sp.base, NULL);
		cri_result_clear(&r);
		answer(&r, RT "RemovePodSandbox", &sp.base, NULL);
		cri_result_clear(&r);
	}
	free(pod);
	free(hpod);
	status = 0;
out:
	td_finish(&D);
	td_registry_stop(reg_dir);
	grpc_shutdown();
	return status;
}
