/* SPDX-License-Identifier: Apache-2.0 */
/* Exec, Attach and PortForward through the socket and the streaming server, with the client of
 * stream_client.c (SPDY/3.1 as client-go speaks it, and WebSocket): real containers from busybox-static images
 * pulled from a real docker-registry on 127.0.0.1, their pods on a loopback-only network (port-forward dials
 * inside the pod's namespace; the host-network pod dials a listener of the test's on the host's loopback). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <openssl/evp.h>

#include "api.pb-c.h"
#include "harness.h"
#include "stream_client.h"

#define RT "/runtime.v1.RuntimeService/"
#define IMG "/runtime.v1.ImageService/"
#define CODE_INVALID_ARGUMENT 3
#define CODE_NOT_FOUND 5
#define CODE_FAILED_PRECONDITION 9

/* The idle timeout the daemon runs with here: also the stall limit of a client that reads nothing. */
#define IDLE_S 10

static test_daemon_t D;
static char reg_dir[128], regconf[256];
static int reg_port;
static char image[128];

static const char *const spdy_exec_protocols[] = { "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
						   "channel.k8s.io", NULL };
static const char *const spdy_pf_protocols[] = { "portforward.k8s.io", NULL };

/* --- CRI calls --- */

static int call(const char *method, const ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc,
		cri_result_t *r)
{
	if (cri_call(D.client, method, req, desc, 60000, r) < 0)
		fail_msg("%s: transport failure", method);
	return r->code;
}

static int group_setup(void **state)
{
	(void)state;
	grpc_init();
	if ((reg_port = td_container_registry(reg_dir, regconf, sizeof(regconf))) < 0)
		return -1;
	char extra[512];
	snprintf(extra, sizeof(extra), "[crio-lite.image]\nregistries_conf = \"%s\"\n", regconf);
	if (td_setup(&D, extra) < 0)
		return -1;
	/* the idle timeout, in the harness's [crio-lite.api] */
	FILE *f = fopen(D.conf, "r");
	char conf[8192];
	size_t n = f ? fread(conf, 1, sizeof(conf) - 1, f) : 0;
	if (f)
		fclose(f);
	conf[n] = 0;
	char *api = strstr(conf, "[crio-lite.api]\n");
	if (!api)
		return -1;
	char with[8400];
	snprintf(with, sizeof(with), "%.*s[crio-lite.api]\nstream_idle_timeout = \"%ds\"\n%s", (int)(api - conf), conf, IDLE_S,
		 api + strlen("[crio-lite.api]\n"));
	td_write_file(D.conf, with);
	td_write_lo_network(&D);
	if (td_start(&D, NULL) < 0)
		return -1;
	snprintf(image, sizeof(image), "127.0.0.1:%d/ctr:plain", reg_port);
	return td_pull(&D, image) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	/* Whatever a failed test left: its monitors (and with them their containers), mounts, files. */
	int ok = td_finish(&D);
	td_registry_stop(reg_dir);
	grpc_shutdown();
	return ok ? 0 : -1;
}

typedef struct pod {
	char *id;
	char name[64], logdir[256];
	Runtime__V1__PodSandboxMetadata md;
	Runtime__V1__PodSandboxConfig cfg;
	Runtime__V1__LinuxPodSandboxConfig lin;
	Runtime__V1__LinuxSandboxSecurityContext sc;
	Runtime__V1__NamespaceOption ns;
} pod_t;

static void run_pod(pod_t *p, const char *name, bool host_network)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	runtime__v1__pod_sandbox_metadata__init(&p->md);
	p->md.name = p->md.uid = p->name;
	p->md.namespace_ = "streamtest";
	runtime__v1__pod_sandbox_config__init(&p->cfg);
	runtime__v1__linux_pod_sandbox_config__init(&p->lin);
	runtime__v1__linux_sandbox_security_context__init(&p->sc);
	runtime__v1__namespace_option__init(&p->ns);
	p->cfg.metadata = &p->md;
	snprintf(p->logdir, sizeof(p->logdir), "%s/logs/%s", D.dir, name);
	p->cfg.log_directory = p->logdir;
	p->cfg.linux = &p->lin;
	if (host_network) {
		p->ns.network = RUNTIME__V1__NAMESPACE_MODE__NODE;
		p->sc.namespace_options = &p->ns;
		p->lin.security_context = &p->sc;
	}
	p->id = td_run_pod(&D, &p->cfg);
	assert_non_null(p->id);
}

static void remove_pod(pod_t *p)
{
	assert_int_equal(td_remove_pod(&D, p->id), 0);
	free(p->id);
}

/* A started container running sh -c script (stdin: created with stdin and stdin_once). */
static char *start_ctr(pod_t *p, const char *name, const char *script, bool with_stdin)
{
	char *id = td_start_sh(&D, p->id, &p->cfg, image, name, script, with_stdin);
	assert_non_null(id);
	return id;
}

/* What ExecSync prints (NUL-terminated; caller frees). */
static char *exec_sync(const char *ctr, const char *script)
{
	char *s = td_exec_sync(&D, ctr, script, NULL);
	assert_non_null(s);
	return s;
}

typedef struct streams {
	bool in, out, err, tty;
} streams_t;

/* The URL of Exec (cmd non-NULL), Attach, or the gRPC code and message that refused it. */
static int exec_url(const char *ctr, const char *const *cmd, streams_t s, char **url, char **msg)
{
	cri_result_t r;
	int code;
	if (cmd) {
		Runtime__V1__ExecRequest req = RUNTIME__V1__EXEC_REQUEST__INIT;
		req.container_id = (char *)ctr;
		size_t n = 0;
		while (cmd[n])
			n++;
		req.cmd = (char **)cmd;
		req.n_cmd = n;
		req.stdin = s.in;
		req.stdout = s.out;
		req.stderr = s.err;
		req.tty = s.tty;
		code = call(RT "Exec", &req.base, &runtime__v1__exec_response__descriptor, &r);
		if (code == 0)
			*url = strdup(((Runtime__V1__ExecResponse *)r.resp)->url);
	} else {
		Runtime__V1__AttachRequest req = RUNTIME__V1__ATTACH_REQUEST__INIT;
		req.container_id = (char *)ctr;
		req.stdin = s.in;
		req.stdout = s.out;
		req.stderr = s.err;
		req.tty = s.tty;
		code = call(RT "Attach", &req.base, &runtime__v1__attach_response__descriptor, &r);
		if (code == 0)
			*url = strdup(((Runtime__V1__AttachResponse *)r.resp)->url);
	}
	if (msg)
		*msg = strdup(r.message ? r.message : "");
	cri_result_clear(&r);
	return code;
}

static int pf_url(const char *pod, const int32_t *ports, size_t n, char **url, char **msg)
{
	Runtime__V1__PortForwardRequest req = RUNTIME__V1__PORT_FORWARD_REQUEST__INIT;
	req.pod_sandbox_id = (char *)pod;
	req.port = (int32_t *)ports;
	req.n_port = n;
	cri_result_t r;
	int code = call(RT "PortForward", &req.base, &runtime__v1__port_forward_response__descriptor, &r);
	if (code == 0)
		*url = strdup(((Runtime__V1__PortForwardResponse *)r.resp)->url);
	if (msg)
		*msg = strdup(r.message ? r.message : "");
	cri_result_clear(&r);
	return code;
}

/* --- a session as kubelet's clients run it --- */

typedef struct result {
	st_buf_t out, err, status;
	size_t out_len;
	EVP_MD_CTX *out_sha; /* set: stdout is hashed, not kept */
	bool out_fin, err_fin, status_fin, closed;
	int first_chan; /* WebSocket: the channel of the first (empty) message */
} result_t;

static void result_free(result_t *r)
{
	st_buf_free(&r->out);
	st_buf_free(&r->err);
	st_buf_free(&r->status);
	if (r->out_sha)
		EVP_MD_CTX_free(r->out_sha);
}

static const char *text(st_buf_t *b)
{
	st_buf_u8(b, 0);
	b->len--;
	return b->data ? (const char *)b->data + b->off : "";
}

enum { CH_STDIN, CH_STDOUT, CH_STDERR, CH_ERROR, CH_RESIZE };

typedef struct session {
	sc_t *c;
	uint32_t id[5]; /* SPDY stream ids by channel; WebSocket: the channels themselves */
	bool has[5];
} session_t;

/* Opens the session of url: the streams kubelet's client makes, in its order (error, stdin, stdout, stderr,
 * resize). */
static void session_open(session_t *s, const char *url, sc_transport_t t, const char *const *protocols, streams_t st)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(sc_open(url, t, protocols, &s->c), 0);
	assert_int_equal(s->c->status, 101);
	bool want[5] = { true, st.in, st.out, st.err && !st.tty, st.tty };
	static const char *const names[5] = { "error", "stdin", "stdout", "stderr", "resize" };
	static const int chans[5] = { CH_ERROR, CH_STDIN, CH_STDOUT, CH_STDERR, CH_RESIZE };
	for (int i = 0; i < 5; i++) {
		if (!want[i])
			continue;
		int ch = chans[i];
		s->has[ch] = true;
		if (t == SC_WS) {
			s->id[ch] = (uint32_t)ch;
			continue;
		}
		spdy_header_t h = { "streamtype", (char *)names[i] };
		s->id[ch] = sc_stream(s->c, &h, 1, 10000);
		assert_true(s->id[ch] != 0);
	}
}

/* Exec (cmd) or Attach (NULL) of ctr, and its session opened. */
static void exec_session(session_t *s, const char *ctr, const char *const *cmd, streams_t st, sc_transport_t t,
			 const char *const *protocols)
{
	char *url = NULL;
	assert_int_equal(exec_url(ctr, cmd, st, &url, NULL), 0);
	session_open(s, url, t, protocols, st);
	free(url);
}

/* Events until the session ends: the ends of stdout, stderr and the error stream (SPDY), or the close frame
 * (WebSocket). */
static void session_collect(session_t *s, result_t *r, const char *until_out)
{
	r->first_chan = -1;
	sc_event_t ev = { 0 };
	for (;;) {
		if (s->c->t == SC_SPDY && (!s->has[CH_STDOUT] || r->out_fin) && (!s->has[CH_STDERR] || r->err_fin) &&
		    r->status_fin)
			break;
		if (until_out && strstr(text(&r->out), until_out))
			break;
		int n = sc_next(s->c, &ev, 60000);
		assert_int_equal(n, 1);
		if (ev.kind == SC_EOF || ev.kind == SC_CLOSE || ev.kind == SC_GOAWAY) {
			r->closed = true;
			break;
		}
		int ch = -1;
		for (int i = 0; i < 5; i++)
			if (s->has[i] && s->id[i] == ev.id)
				ch = i;
		if (s->c->t == SC_WS && ev.kind == SC_DATA && ev.id <= CH_RESIZE)
			ch = (int)ev.id;
		if (ev.kind == SC_DATA && s->c->t == SC_WS && r->first_chan < 0)
			r->first_chan = ch;
		if (ev.kind == SC_DATA && ch == CH_STDOUT) {
			r->out_len += ev.len;
			if (r->out_sha)
				EVP_DigestUpdate(r->out_sha, ev.data, ev.len);
			else
				st_buf_put(&r->out, ev.data, ev.len);
		} else if (ev.kind == SC_DATA && ch == CH_STDERR) {
			st_buf_put(&r->err, ev.data, ev.len);
		} else if (ev.kind == SC_DATA && ch == CH_ERROR) {
			st_buf_put(&r->status, ev.data, ev.len);
		} else if (ev.kind == SC_FIN || ev.kind == SC_RST) {
			if (ch == CH_STDOUT)
				r->out_fin = true;
			if (ch == CH_STDERR)
				r->err_fin = true;
			if (ch == CH_ERROR)
				r->status_fin = true;
		}
	}
	free(ev.owned);
}

static void session_close(session_t *s)
{
	sc_close(s->c);
}

static const char *const SUCCESS = "{\"metadata\":{},\"status\":\"Success\"}";

/* exec of cmd over a transport: the whole session; stdin (when given) sent and closed. */
static void run_exec(const char *ctr, const char *const *cmd, streams_t st, sc_transport_t t,
		     const char *const *protocols, const char *in, result_t *r)
{
	session_t s;
	exec_session(&s, ctr, cmd, st, t, protocols);
	if (in) {
		assert_int_equal(sc_send(s.c, s.id[CH_STDIN], in, strlen(in), true), 0);
	}
	session_collect(&s, r, NULL);
	session_close(&s);
}

/* --- tests --- */

static pod_t P;
static char *C; /* a container of P that runs until the group ends */

static int pod_setup(void **state)
{
	(void)state;
	run_pod(&P, "stream-pod", false);
	/* Servers for port-forward: 9000 sends 100 MB; 9001 answers the SHA-256 of what it gets; 9003 says pong. */
	C = start_ctr(&P, "main",
		      "nc -ll -p 9000 -e sh -c 'yes 0123456789abcdef | head -c 104857600' & "
		      "nc -ll -p 9001 -e sha256sum & nc -ll -p 9003 -e echo pong & exec sleep 100000",
		      false);
	return 0;
}

static int pod_teardown(void **state)
{
	(void)state;
	remove_pod(&P);
	free(C);
	return 0;
}

static void test_exec_spdy_exit_codes(void **state)
{
	(void)state;
	const char *const fail[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	streams_t st = { .out = true, .err = true };
	result_t r = { 0 };
	run_exec(C, fail, st, SC_SPDY, spdy_exec_protocols, NULL, &r);
	assert_string_equal(text(&r.out), "out\n");
	assert_string_equal(text(&r.err), "err\n");
	assert_true(r.out_fin && r.err_fin && r.status_fin);
	/* v4: the status JSON with the exit code as client-go reads it */
	assert_non_null(strstr(text(&r.status), "\"status\":\"Failure\""));
	assert_non_null(strstr(text(&r.status), "\"reason\":\"NonZeroExitCode\""));
	assert_non_null(strstr(text(&r.status), "{\"reason\":\"ExitCode\",\"message\":\"3\"}"));
	result_free(&r);

	/* a PING comes back with its id (client-go pings every 5 s) */
	const char *const slow[] = { "/bin/sh", "-c", "read x", NULL };
	streams_t si = { .in = true, .out = true };
	session_t ps;
	exec_session(&ps, C, slow, si, SC_SPDY, spdy_exec_protocols);
	assert_int_equal(sc_ping(ps.c, 7), 0);
	sc_event_t ev = { 0 };
	assert_int_equal(sc_next(ps.c, &ev, 30000), 1);
	assert_int_equal(ev.kind, SC_PING);
	assert_int_equal(ev.id, 7);
	free(ev.owned);
	assert_int_equal(sc_send(ps.c, ps.id[CH_STDIN], "\n", 1, false), 0);
	result_t rp = { 0 };
	session_collect(&ps, &rp, NULL);
	assert_string_equal(text(&rp.status), SUCCESS);
	result_free(&rp);
	session_close(&ps);

	const char *const ok[] = { "/bin/sh", "-c", "echo -n hello", NULL };
	result_t r2 = { 0 };
	run_exec(C, ok, st, SC_SPDY, spdy_exec_protocols, NULL, &r2);
	assert_string_equal(text(&r2.out), "hello");
	assert_string_equal(text(&r2.status), SUCCESS);
	result_free(&r2);

	/* v1 (channel.k8s.io): the error stream carries a message on failure only */
	const char *const v1[] = { "channel.k8s.io", NULL };
	result_t r3 = { 0 };
	run_exec(C, fail, st, SC_SPDY, v1, NULL, &r3);
	assert_non_null(strstr(text(&r3.status), "exit code: command exited with 3"));
	result_free(&r3);
	result_t r4 = { 0 };
	run_exec(C, ok, st, SC_SPDY, v1, NULL, &r4);
	assert_int_equal(st_buf_pending(&r4.status), 0);
	assert_string_equal(text(&r4.out), "hello");
	result_free(&r4);

	/* a command that does not exist: 127 and the reason on stderr, as a shell does (and ExecSync) */
	const char *const none[] = { "/no/such/binary", NULL };
	result_t r5 = { 0 };
	run_exec(C, none, st, SC_SPDY, spdy_exec_protocols, NULL, &r5);
	assert_non_null(strstr(text(&r5.status), "{\"reason\":\"ExitCode\",\"message\":\"127\"}"));
	assert_non_null(strstr(text(&r5.err), "/no/such/binary: No such file or directory"));
	result_free(&r5);
}

static void test_exec_websocket(void **state)
{
	(void)state;
	const char *const cmd[] = { "/bin/sh", "-c", "cat; echo err >&2; exit 4", NULL };
	streams_t st = { .in = true, .out = true, .err = true };
	const char *const v5[] = { "v5.channel.k8s.io", NULL };
	char *url = NULL;
	session_t s;
	exec_session(&s, C, cmd, st, SC_WS, v5);
	assert_string_equal(s.c->protocol, "v5.channel.k8s.io");
	/* RFC 6455 section 1.3's key and its accept value */
	assert_string_equal(s.c->accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(sc_send(s.c, CH_STDIN, "via websocket\n", 14, true), 0); /* data, then v5's close of stdin */
	result_t r = { 0 };
	session_collect(&s, &r, NULL);
	session_close(&s);
	assert_int_equal(r.first_chan, CH_STDOUT); /* kubelet's "streams are ready": empty, on stdout */
	assert_string_equal(text(&r.out), "via websocket\n");
	assert_string_equal(text(&r.err), "err\n");
	assert_non_null(strstr(text(&r.status), "{\"reason\":\"ExitCode\",\"message\":\"4\"}"));
	assert_true(r.closed);
	result_free(&r);

	/* the base64 variant of v4, stdout only */
	const char *const b64[] = { "v4.base64.channel.k8s.io", NULL };
	const char *const echo[] = { "/bin/sh", "-c", "printf 'binary\\001\\377\\n'", NULL };
	streams_t so = { .out = true };
	result_t r2 = { 0 };
	run_exec(C, echo, so, SC_WS, b64, NULL, &r2);
	assert_string_equal(text(&r2.out), "binary\x01\xff\n");
	assert_string_equal(text(&r2.status), SUCCESS);
	result_free(&r2);

	/* a protocol that is not served: 400, nothing runs */
	const char *const bogus[] = { "v9.channel.example", NULL };
	assert_int_equal(exec_url(C, echo, so, &url, NULL), 0);
	sc_t *c = NULL;
	assert_int_equal(sc_open(url, SC_WS, bogus, &c), 0);
	assert_int_equal(c->status, 400);
	sc_close(c);
	free(url);
}

/* The bytes of `yes 0123456789abcdef | head -c n`. */
static void pattern_sha(size_t n, unsigned char md[32])
{
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	EVP_DigestInit_ex(x, EVP_sha256(), NULL);
	char block[17 * 1024];
	for (size_t i = 0; i < sizeof(block); i += 17)
		memcpy(block + i, "0123456789abcdef\n", 17);
	while (n) {
		size_t k = n < sizeof(block) ? n : sizeof(block);
		EVP_DigestUpdate(x, block, k);
		n -= k;
	}
	unsigned int len = 32;
	EVP_DigestFinal_ex(x, md, &len);
	EVP_MD_CTX_free(x);
}

static void hex(const unsigned char *md, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

#define BIG (100u * 1024 * 1024)

static void test_exec_large_output_and_stdin(void **state)
{
	(void)state;
	unsigned char want[32], got[32];
	pattern_sha(BIG, want);
	/* 100 MB out through SPDY and through WebSocket, checksummed */
	const char *const big[] = { "/bin/sh", "-c", "yes 0123456789abcdef | head -c 104857600", NULL };
	streams_t so = { .out = true, .err = true };
	const char *const v5[] = { "v5.channel.k8s.io", NULL };
	for (int t = SC_SPDY; t <= SC_WS; t++) {
		result_t r = { .out_sha = EVP_MD_CTX_new() };
		EVP_DigestInit_ex(r.out_sha, EVP_sha256(), NULL);
		run_exec(C, big, so, (sc_transport_t)t, t == SC_SPDY ? spdy_exec_protocols : v5, NULL, &r);
		unsigned int len = 32;
		EVP_DigestFinal_ex(r.out_sha, got, &len);
		assert_int_equal(r.out_len, BIG);
		assert_memory_equal(got, want, 32);
		assert_string_equal(text(&r.status), SUCCESS);
		result_free(&r);
	}
	/* 8 MiB in: the command ends only at stdin's EOF, which the client's FIN brings */
	size_t n = 8u << 20;
	char *in = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		in[i] = (char)('a' + (i * 7 + i / 4096) % 26);
	in[n] = 0;
	unsigned char md[32];
	unsigned int mdlen = 32;
	EVP_Digest(in, n, md, &mdlen, EVP_sha256(), NULL);
	char want_hex[80];
	hex(md, 32, want_hex);
	strcat(want_hex, "  -\n");
	const char *const sum[] = { "/bin/sh", "-c", "sha256sum", NULL };
	streams_t sio = { .in = true, .out = true, .err = true };
	result_t r = { 0 };
	run_exec(C, sum, sio, SC_SPDY, spdy_exec_protocols, in, &r);
	assert_string_equal(text(&r.out), want_hex);
	assert_string_equal(text(&r.status), SUCCESS);
	result_free(&r);
	free(in);
}

static void test_exec_tty_resize(void **state)
{
	(void)state;
	const char *const cmd[] = { "/bin/sh", NULL };
	streams_t st = { .in = true, .out = true, .tty = true };
	session_t s;
	exec_session(&s, C, cmd, st, SC_SPDY, spdy_exec_protocols);
	assert_true(s.has[CH_RESIZE]);
	/* client-go's encoding: one JSON object per event, cut anywhere by the transport */
	const char *rs = "{\"Width\":123,\"Height\":45}\n{\"Wid";
	assert_int_equal(sc_send(s.c, s.id[CH_RESIZE], rs, strlen(rs), false), 0);
	assert_int_equal(sc_send(s.c, s.id[CH_RESIZE], "th\":132,\"Height\":43}\n", 21, false), 0);
	const char *line = "stty size; exit 5\n";
	assert_int_equal(sc_send(s.c, s.id[CH_STDIN], line, strlen(line), false), 0);
	result_t r = { 0 };
	session_collect(&s, &r, NULL);
	session_close(&s);
	assert_non_null(strstr(text(&r.out), "43 132"));
	assert_null(strstr(text(&r.out), "45 123"));
	assert_non_null(strstr(text(&r.status), "{\"reason\":\"ExitCode\",\"message\":\"5\"}"));
	result_free(&r);
}

static void test_tokens_and_refusals(void **state)
{
	(void)state;
	const char *const cmd[] = { "/bin/sh", "-c", "touch /tmp/ran-$$; echo ran", NULL };
	streams_t so = { .out = true };
	char *url = NULL, *msg = NULL;
	assert_int_equal(exec_url(C, cmd, so, &url, NULL), 0);
	/* the URL names the port bound (stream_port 0 picks one) */
	assert_non_null(strstr(url, "http://127.0.0.1:"));
	assert_null(strstr(url, "127.0.0.1:0/"));
	result_t r = { 0 };
	session_t s;
	session_open(&s, url, SC_SPDY, spdy_exec_protocols, so);
	session_collect(&s, &r, NULL);
	session_close(&s);
	assert_string_equal(text(&r.out), "ran\n");
	result_free(&r);
	/* used once: 404 after, and nothing runs again */
	sc_t *c = NULL;
	assert_int_equal(sc_open(url, SC_SPDY, spdy_exec_protocols, &c), 0);
	assert_int_equal(c->status, 404);
	sc_close(c);
	char *ran = exec_sync(C, "ls /tmp | grep -c ran-");
	assert_string_equal(ran, "1\n");
	free(ran);
	/* an exec token on the attach route, and a token never given */
	char base[256];
	snprintf(base, sizeof(base), "%.*s", (int)(strstr(url, "/exec/") - url), url);
	free(url);
	assert_int_equal(exec_url(C, cmd, so, &url, NULL), 0);
	char wrong[512];
	snprintf(wrong, sizeof(wrong), "%s/attach%s", base, strrchr(url, '/'));
	assert_int_equal(sc_open(wrong, SC_SPDY, spdy_exec_protocols, &c), 0);
	assert_int_equal(c->status, 404);
	sc_close(c);
	snprintf(wrong, sizeof(wrong), "%s/exec/AAAAAAAAAAA", base);
	assert_int_equal(sc_open(wrong, SC_SPDY, spdy_exec_protocols, &c), 0);
	assert_int_equal(c->status, 404);
	sc_close(c);
	free(url);
	/* SPDY without a protocol offered: 400; with none served: 403 */
	assert_int_equal(exec_url(C, cmd, so, &url, NULL), 0);
	assert_int_equal(sc_open(url, SC_SPDY, NULL, &c), 0);
	assert_int_equal(c->status, 400);
	sc_close(c);
	free(url);
	const char *const v9[] = { "v9.channel.k8s.io", NULL };
	assert_int_equal(exec_url(C, cmd, so, &url, NULL), 0);
	assert_int_equal(sc_open(url, SC_SPDY, v9, &c), 0);
	assert_int_equal(c->status, 403);
	sc_close(c);
	free(url);

	/* the calls' own checks */
	streams_t tty_err = { .out = true, .err = true, .tty = true }, none = { 0 };
	assert_int_equal(exec_url(C, cmd, tty_err, &url, &msg), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "tty and stderr cannot both be true"));
	free(msg);
	assert_int_equal(exec_url(C, cmd, none, &url, &msg), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "one of stdin, stdout, or stderr must be set"));
	free(msg);
	assert_int_equal(exec_url(C, NULL, none, &url, &msg), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "one of stdin, stdout, and stderr must be set")); /* Attach's words */
	free(msg);
	const char *const empty[] = { NULL };
	assert_int_equal(exec_url(C, empty, so, &url, &msg), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "cmd is required"));
	free(msg);
	assert_int_equal(exec_url("0123456789abcdef0123", cmd, so, &url, &msg), CODE_NOT_FOUND);
	free(msg);
	int32_t bad[] = { 80, 70000 };
	assert_int_equal(pf_url(P.id, bad, 2, &url, &msg), CODE_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "port[1]"));
	free(msg);
	assert_int_equal(pf_url("nosuchpod0000", bad, 1, &url, &msg), CODE_NOT_FOUND);
	free(msg);
}

/* A container that has exited cannot be joined. */
static void test_exec_exited_container(void **state)
{
	(void)state;
	char *id = start_ctr(&P, "quick", "exit 0", false);
	for (int i = 0; i < 200; i++) {
		Runtime__V1__ContainerStatusRequest req = RUNTIME__V1__CONTAINER_STATUS_REQUEST__INIT;
		req.container_id = id;
		cri_result_t r;
		assert_int_equal(call(RT "ContainerStatus", &req.base, &runtime__v1__container_status_response__descriptor, &r), 0);
		int state_ = ((Runtime__V1__ContainerStatusResponse *)r.resp)->status->state;
		cri_result_clear(&r);
		if (state_ == RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED)
			break;
		usleep(50000);
	}
	const char *const cmd[] = { "true", NULL };
	streams_t so = { .out = true };
	char *url = NULL, *msg = NULL;
	assert_int_equal(exec_url(id, cmd, so, &url, &msg), CODE_FAILED_PRECONDITION);
	assert_non_null(strstr(msg, "not running"));
	free(msg);
	assert_int_equal(exec_url(id, NULL, so, &url, &msg), CODE_FAILED_PRECONDITION);
	free(msg);
	free(id);
}

static void test_attach(void **state)
{
	(void)state;
	char *id = start_ctr(&P, "attached", NULL, true);
	streams_t st = { .in = true, .out = true, .err = true };
	session_t s;
	exec_session(&s, id, NULL, st, SC_SPDY, spdy_exec_protocols);
	const char *line = "echo attached-$((40+2)); echo to-err >&2\n";
	assert_int_equal(sc_send(s.c, s.id[CH_STDIN], line, strlen(line), false), 0);
	result_t r = { 0 };
	session_collect(&s, &r, "attached-42\n");
	assert_string_equal(text(&r.out), "attached-42\n"); /* no echo of the input: no terminal */
	/* the end of stdin: stdin_once closes the container's, sh ends, and so does the attach */
	assert_int_equal(sc_send(s.c, s.id[CH_STDIN], NULL, 0, true), 0);
	session_collect(&s, &r, NULL);
	session_close(&s);
	assert_true(r.out_fin && r.status_fin);
	assert_string_equal(text(&r.err), "to-err\n");
	assert_string_equal(text(&r.status), SUCCESS);
	result_free(&r);
	free(id);
}

static int daemon_fds(void)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)D.pid);
	DIR *d = opendir(path);
	int n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Waits (up to 30 s) for the daemon to hold at most n fds: a session's end frees each of its own. */
static bool fds_back_to(int n)
{
	for (int i = 0; i < 600; i++) {
		if (daemon_fds() <= n)
			return true;
		usleep(50000);
	}
	fprintf(stderr, "daemon holds %d fds, %d before\n", daemon_fds(), n);
	return false;
}

typedef struct sender {
	sc_t *c;
	uint32_t id;
	size_t n;
} sender_t;

static void *send_much(void *arg)
{
	sender_t *w = arg;
	char *buf = calloc(1, w->n);
	sc_send(w->c, w->id, buf, w->n, false); /* blocks once every buffer on the way is full; fails at the abort */
	free(buf);
	return NULL;
}

/* Attach's stdin to a container that never reads it: that client waits, the pod's monitor does not. */
static void test_attach_stdin_not_read(void **state)
{
	(void)state;
	char *id = start_ctr(&P, "deaf", "exec sleep 100000", true);
	int before = daemon_fds();
	streams_t st = { .in = true, .out = true, .err = true };
	session_t s;
	exec_session(&s, id, NULL, st, SC_SPDY, spdy_exec_protocols);
	sender_t w = { s.c, s.id[CH_STDIN], 8u << 20 };
	pthread_t t;
	pthread_create(&t, NULL, send_much, &w);
	/* the monitor still answers for the pod's other container while 8 MiB wait for the deaf one */
	for (int i = 0; i < 3; i++) {
		usleep(200000);
		char *out = exec_sync(C, "echo alive");
		assert_string_equal(out, "alive\n");
		free(out);
	}
	/* the client leaves (a FIN, no reset) while its stdin still waits: the session ends and lets go of all */
	shutdown(s.c->fd, SHUT_RDWR);
	pthread_join(t, NULL);
	sc_close(s.c);
	assert_true(fds_back_to(before));
	Runtime__V1__StopContainerRequest req = RUNTIME__V1__STOP_CONTAINER_REQUEST__INIT;
	req.container_id = id;
	cri_result_t r;
	assert_int_equal(call(RT "StopContainer", &req.base, NULL, &r), 0);
	cri_result_clear(&r);
	free(id);
}

/* A port-forward pair: error stream first (its end sent at once, as client-go does), then data. */
static void pf_pair(sc_t *c, int port, int request, uint32_t *data, uint32_t *error)
{
	char p[16], q[16];
	snprintf(p, sizeof(p), "%d", port);
	snprintf(q, sizeof(q), "%d", request);
	spdy_header_t h[3] = { { "streamtype", "error" }, { "port", p }, { "requestid", q } };
	*error = sc_stream(c, h, 3, 10000);
	assert_true(*error != 0);
	assert_int_equal(sc_send(c, *error, NULL, 0, true), 0);
	h[0].value = "data";
	*data = sc_stream(c, h, 3, 10000);
	assert_true(*data != 0);
}

typedef struct pf_res {
	uint32_t data, error;
	st_buf_t got, err;
	size_t got_len;
	EVP_MD_CTX *sha;
	bool data_fin, error_fin;
} pf_res_t;

/* Events of a port-forward session until every pair has both ends. */
static void pf_collect(sc_t *c, pf_res_t *p, size_t n)
{
	sc_event_t ev = { 0 };
	for (;;) {
		bool all = true;
		for (size_t i = 0; i < n; i++)
			all &= p[i].data_fin && p[i].error_fin;
		if (all)
			break;
		assert_int_equal(sc_next(c, &ev, 60000), 1);
		assert_true(ev.kind != SC_EOF && ev.kind != SC_GOAWAY);
		for (size_t i = 0; i < n; i++) {
			if (ev.id == p[i].data && ev.kind == SC_DATA) {
				p[i].got_len += ev.len;
				if (p[i].sha)
					EVP_DigestUpdate(p[i].sha, ev.data, ev.len);
				else
					st_buf_put(&p[i].got, ev.data, ev.len);
			} else if (ev.id == p[i].error && ev.kind == SC_DATA) {
				st_buf_put(&p[i].err, ev.data, ev.len);
			} else if (ev.id == p[i].data && (ev.kind == SC_FIN || ev.kind == SC_RST)) {
				p[i].data_fin = true;
			} else if (ev.id == p[i].error && (ev.kind == SC_FIN || ev.kind == SC_RST)) {
				p[i].error_fin = true;
			}
		}
	}
	free(ev.owned);
}

static void test_portforward(void **state)
{
	(void)state;
	int32_t ports[] = { 9000 };
	char *url = NULL;
	assert_int_equal(pf_url(P.id, ports, 1, &url, NULL), 0);
	sc_t *c = NULL;
	assert_int_equal(sc_open(url, SC_SPDY, spdy_pf_protocols, &c), 0);
	free(url);
	assert_int_equal(c->status, 101);
	assert_string_equal(c->protocol, "portforward.k8s.io");
	/* at once on one session: 100 MB from 9000; three connections to 9001 that each send 1 MiB and read back
	 * its SHA-256; a port nothing listens on */
	pf_res_t p[5] = { 0 };
	pf_pair(c, 9000, 0, &p[0].data, &p[0].error);
	p[0].sha = EVP_MD_CTX_new();
	EVP_DigestInit_ex(p[0].sha, EVP_sha256(), NULL);
	size_t n = 1u << 20;
	char *blob = malloc(n);
	char want[3][80];
	for (int k = 1; k <= 3; k++) {
		for (size_t i = 0; i < n; i++)
			blob[i] = (char)(i * (size_t)k + i / 1000);
		unsigned char md[32];
		unsigned int mdlen = 32;
		EVP_Digest(blob, n, md, &mdlen, EVP_sha256(), NULL);
		hex(md, 32, want[k - 1]);
		strcat(want[k - 1], "  -\n");
		pf_pair(c, 9001, k, &p[k].data, &p[k].error);
		assert_int_equal(sc_send(c, p[k].data, blob, n, true), 0);
	}
	free(blob);
	pf_pair(c, 9002, 4, &p[4].data, &p[4].error);
	pf_collect(c, p, 5);
	unsigned char got[32], exp[32];
	unsigned int len = 32;
	EVP_DigestFinal_ex(p[0].sha, got, &len);
	pattern_sha(BIG, exp);
	assert_int_equal(p[0].got_len, BIG);
	assert_memory_equal(got, exp, 32);
	assert_int_equal(st_buf_pending(&p[0].err), 0);
	for (int k = 1; k <= 3; k++) {
		assert_string_equal(text(&p[k].got), want[k - 1]);
		assert_int_equal(st_buf_pending(&p[k].err), 0);
	}
	assert_int_equal(p[4].got_len, 0);
	assert_non_null(strstr(text(&p[4].err), "error forwarding port 9002"));
	assert_non_null(strstr(text(&p[4].err), "refused"));
	for (int k = 0; k < 5; k++) {
		st_buf_free(&p[k].got);
		st_buf_free(&p[k].err);
		if (p[k].sha)
			EVP_MD_CTX_free(p[k].sha);
	}
	sc_close(c);
}

static void test_portforward_websocket(void **state)
{
	(void)state;
	int32_t ports[] = { 9003 };
	char *url = NULL;
	assert_int_equal(pf_url(P.id, ports, 1, &url, NULL), 0);
	char full[512];
	snprintf(full, sizeof(full), "%s?port=9003", url);
	free(url);
	const char *const v4[] = { "v4.channel.k8s.io", NULL };
	sc_t *c = NULL;
	assert_int_equal(sc_open(full, SC_WS, v4, &c), 0);
	assert_int_equal(c->status, 101);
	/* each channel of the port starts with the port, little-endian; then pong, and the server's end */
	st_buf_t data = { 0 };
	int prefixes = 0;
	bool closed = false;
	sc_event_t ev = { 0 };
	while (!closed) {
		assert_int_equal(sc_next(c, &ev, 60000), 1);
		if (ev.kind == SC_CLOSE || ev.kind == SC_EOF) {
			closed = true;
		} else if (ev.kind == SC_DATA && (ev.id == 0 || ev.id == 1) && ev.len == 2 && prefixes < 2 &&
			   ev.data[0] == (9003 & 0xff) && ev.data[1] == (9003 >> 8)) {
			prefixes++;
		} else if (ev.kind == SC_DATA && ev.id == 0) {
			st_buf_put(&data, ev.data, ev.len);
		} else if (ev.kind == SC_DATA && ev.id == 1) {
			fail_msg("error channel: %.*s", (int)ev.len, ev.data);
		}
	}
	free(ev.owned);
	assert_int_equal(prefixes, 2);
	assert_string_equal(text(&data), "pong\n");
	st_buf_free(&data);
	sc_close(c);
	/* a port in the query is required */
	assert_int_equal(pf_url(P.id, ports, 1, &url, NULL), 0);
	assert_int_equal(sc_open(url, SC_WS, v4, &c), 0);
	assert_int_equal(c->status, 400);
	sc_close(c);
	free(url);
}

static void *host_listener(void *arg)
{
	int l = *(int *)arg;
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (a >= 0) {
		const char *m = "from the host's loopback\n";
		if (write(a, m, strlen(m)) < 0) {
		}
		close(a);
	}
	return NULL;
}

/* A host-network pod's port-forward dials in the host's network namespace. */
static void test_portforward_host_network(void **state)
{
	(void)state;
	pod_t hp;
	run_pod(&hp, "stream-hostnet", true);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	getsockname(l, (struct sockaddr *)&a, &al);
	int port = ntohs(a.sin_port);
	pthread_t t;
	pthread_create(&t, NULL, host_listener, &l);
	char *url = NULL;
	assert_int_equal(pf_url(hp.id, NULL, 0, &url, NULL), 0);
	sc_t *c = NULL;
	assert_int_equal(sc_open(url, SC_SPDY, spdy_pf_protocols, &c), 0);
	free(url);
	pf_res_t p = { 0 };
	pf_pair(c, port, 0, &p.data, &p.error);
	assert_int_equal(sc_send(c, p.data, NULL, 0, true), 0);
	pf_collect(c, &p, 1);
	assert_string_equal(text(&p.got), "from the host's loopback\n");
	st_buf_free(&p.got);
	st_buf_free(&p.err);
	sc_close(c);
	pthread_join(t, NULL);
	close(l);
	remove_pod(&hp);
}

/* --- many at once, clients that vanish or stop reading --- */

typedef struct worker {
	int i;
	char *url;
	pthread_barrier_t *go;
	int ok;
} worker_t;

static void *one_session(void *arg)
{
	worker_t *w = arg;
	pthread_barrier_wait(w->go);
	sc_t *c = NULL;
	if (sc_open(w->url, SC_SPDY, spdy_exec_protocols, &c) < 0 || c->status != 101) {
		sc_close(c);
		return NULL;
	}
	spdy_header_t h[2] = { { "streamtype", "error" }, { "streamtype", "stdout" } };
	uint32_t es = sc_stream(c, &h[0], 1, 30000), os = es ? sc_stream(c, &h[1], 1, 30000) : 0;
	st_buf_t out = { 0 }, status = { 0 };
	bool out_fin = false, st_fin = false;
	sc_event_t ev = { 0 };
	while (os && !(out_fin && st_fin) && sc_next(c, &ev, 60000) == 1 && ev.kind != SC_EOF) {
		if (ev.kind == SC_DATA)
			st_buf_put(ev.id == os ? &out : &status, ev.data, ev.len);
		if (ev.kind == SC_FIN)
			*(ev.id == os ? &out_fin : &st_fin) = true;
	}
	free(ev.owned);
	char want[32];
	snprintf(want, sizeof(want), "session %d\n", w->i);
	w->ok = out_fin && st_fin && out.len == strlen(want) && memcmp(out.data, want, out.len) == 0 &&
		status.len == strlen(SUCCESS);
	st_buf_free(&out);
	st_buf_free(&status);
	sc_close(c);
	return NULL;
}

static void test_fifty_sessions(void **state)
{
	(void)state;
	int before = daemon_fds();
	enum { N = 50 };
	worker_t w[N];
	pthread_t t[N];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, N);
	for (int i = 0; i < N; i++) {
		char arg[32];
		snprintf(arg, sizeof(arg), "echo session %d", i);
		const char *const cmd[] = { "/bin/sh", "-c", arg, NULL };
		streams_t so = { .out = true };
		w[i] = (worker_t){ .i = i, .go = &go };
		assert_int_equal(exec_url(C, cmd, so, &w[i].url, NULL), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_create(&t[i], NULL, one_session, &w[i]);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		free(w[i].url);
	}
	pthread_barrier_destroy(&go);
	assert_int_equal(ok, N);
	assert_true(fds_back_to(before));
}

/* How many processes of the container run this command (busybox ps, inside it). */
static int ctr_procs(const char *ctr, const char *comm)
{
	char script[128];
	snprintf(script, sizeof(script), "ps -o comm | grep -cx %s", comm);
	char *out = exec_sync(ctr, script);
	int n = atoi(out);
	free(out);
	return n;
}

static bool procs_gone(const char *ctr, const char *comm)
{
	for (int i = 0; i < 600; i++) {
		if (ctr_procs(ctr, comm) == 0)
			return true;
		usleep(100000);
	}
	return false;
}

static void test_client_vanishes_or_stalls(void **state)
{
	(void)state;
	int before = daemon_fds();
	assert_true(procs_gone(C, "yes"));
	const char *const cmd[] = { "/bin/sh", "-c", "exec yes", NULL };
	streams_t so = { .out = true, .err = true };
	/* one reads a little and vanishes (RST), over SPDY and over WebSocket */
	const char *const v5[] = { "v5.channel.k8s.io", NULL };
	for (int t = SC_SPDY; t <= SC_WS; t++) {
		session_t s;
		exec_session(&s, C, cmd, so, (sc_transport_t)t, t == SC_SPDY ? spdy_exec_protocols : v5);
		result_t r = { 0 };
		session_collect(&s, &r, "y\ny\ny\n");
		result_free(&r);
		sc_abort(s.c);
		/* the daemon lets go of the command's stdio: yes meets a closed pipe and ends */
		assert_true(procs_gone(C, "yes"));
	}
	assert_true(fds_back_to(before));
	/* a command that neither reads nor writes ends with its client (else it would hold one of the pod's
	 * exec slots for good) */
	const char *const quiet[] = { "/bin/sh", "-c", "exec sleep 1000", NULL };
	session_t q;
	exec_session(&q, C, quiet, so, SC_SPDY, spdy_exec_protocols);
	for (int i = 0; i < 300 && ctr_procs(C, "sleep") < 2; i++) /* the container's own sleep is the first */
		usleep(100000);
	assert_int_equal(ctr_procs(C, "sleep"), 2);
	sc_close(q.c);
	for (int i = 0; i < 600 && ctr_procs(C, "sleep") > 1; i++)
		usleep(100000);
	assert_int_equal(ctr_procs(C, "sleep"), 1);
	assert_true(fds_back_to(before));
	/* one never reads: dropped after the idle timeout's worth of taking nothing */
	session_t s;
	exec_session(&s, C, cmd, so, SC_SPDY, spdy_exec_protocols);
	/* the command starts once the streams are made */
	for (int i = 0; i < 300 && ctr_procs(C, "yes") == 0; i++)
		usleep(100000);
	assert_int_equal(ctr_procs(C, "yes"), 1);
	assert_true(procs_gone(C, "yes"));
	assert_true(fds_back_to(before));
	session_close(&s);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_exec_spdy_exit_codes, pod_setup),
		cmocka_unit_test(test_exec_websocket),
		cmocka_unit_test(test_exec_large_output_and_stdin),
		cmocka_unit_test(test_exec_tty_resize),
		cmocka_unit_test(test_tokens_and_refusals),
		cmocka_unit_test(test_exec_exited_container),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_attach_stdin_not_read),
		cmocka_unit_test(test_portforward),
		cmocka_unit_test(test_portforward_websocket),
		cmocka_unit_test(test_portforward_host_network),
		cmocka_unit_test(test_fifty_sessions),
		cmocka_unit_test_teardown(test_client_vanishes_or_stalls, pod_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
