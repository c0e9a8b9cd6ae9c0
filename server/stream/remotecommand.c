/* SPDX-License-Identifier: Apache-2.0 */
/* Exec and attach over a session, with kubelet's semantics: exec asks the pod monitor for a streamed exec that
 * hands the command's stdio over (pass_fds), and this thread copies between those fds and the client while the
 * monitor reports the exit; attach joins the container's stdio through the monitor's attach stream (the monitor
 * owns it: it logs it too). The v4 error stream carries kubelet's status JSON with the exit code. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/fdpass.h"
#include "common/json.h"
#include "common/timefmt.h"
#include "server/stream/session.h"
#include "server/stream/ws.h"

static const char *const role_names[R_N] = { "stdin", "stdout", "stderr", "error", "resize" };

/* --- the command's status on the error stream --- */

static void send_status(session_t *s)
{
	char *text = NULL;
	if (s->version >= 4) {
		crl_json_t *j = crl_json_new(false);
		crl_json_object_begin(j);
		crl_json_key(j, "metadata");
		crl_json_object_begin(j);
		crl_json_object_end(j);
		if (!s->failure && s->exit_code == 0) {
			crl_json_kv_string(j, "status", "Success");
		} else if (!s->failure) {
			char code[16], msg[128];
			snprintf(code, sizeof(code), "%d", s->exit_code);
			snprintf(msg, sizeof(msg), "command terminated with non-zero exit code: command exited with %d",
				 s->exit_code);
			crl_json_kv_string(j, "status", "Failure");
			crl_json_kv_string(j, "message", msg);
			crl_json_kv_string(j, "reason", "NonZeroExitCode");
			crl_json_key(j, "details");
			crl_json_object_begin(j);
			crl_json_key(j, "causes");
			crl_json_array_begin(j);
			crl_json_object_begin(j);
			crl_json_kv_string(j, "reason", "ExitCode");
			crl_json_kv_string(j, "message", code);
			crl_json_object_end(j);
			crl_json_array_end(j);
			crl_json_object_end(j);
		} else {
			char *msg = NULL, *cause = NULL;
			const char *what = s->req->kind == ST_ATTACH ? "error attaching to container"
								     : "error executing command in container";
			if (asprintf(&cause, "%s: %s", what, s->failure) < 0)
				cause = NULL;
			if (cause && asprintf(&msg, "Internal error occurred: %s", cause) < 0)
				msg = NULL;
			crl_json_kv_string(j, "status", "Failure");
			crl_json_kv_string(j, "message", msg ? msg : "Internal error occurred");
			crl_json_kv_string(j, "reason", "InternalError");
			crl_json_key(j, "details");
			crl_json_object_begin(j);
			crl_json_key(j, "causes");
			crl_json_array_begin(j);
			crl_json_object_begin(j);
			crl_json_kv_string(j, "message", cause ? cause : what);
			crl_json_object_end(j);
			crl_json_array_end(j);
			crl_json_object_end(j);
			crl_json_kv_int(j, "code", 500);
			free(msg);
			free(cause);
		}
		crl_json_object_end(j);
		text = crl_json_finish_text(j, NULL);
	} else if (s->failure) {
		if (asprintf(&text, "%s: %s",
			     s->req->kind == ST_ATTACH ? "error attaching to container" : "error executing command in container",
			     s->failure) < 0)
			text = NULL;
	} else if (s->exit_code != 0) {
		if (asprintf(&text, "command terminated with non-zero exit code: command exited with %d", s->exit_code) < 0)
			text = NULL;
	}
	if (text)
		st_send_role(s, R_ERROR, text, strlen(text));
	free(text);
}

/* Everything we send at the end of exec or attach: the last of stdout and stderr, their ends, the status, the
 * end of every stream; then GOAWAY (SPDY) or a close frame (WebSocket). */
void st_rc_finish(session_t *s)
{
	if (s->finished)
		return;
	s->finished = true;
	st_fin_role(s, R_STDOUT);
	st_fin_role(s, R_STDERR);
	send_status(s);
	st_fin_role(s, R_ERROR);
	st_fin_role(s, R_STDIN);
	st_fin_role(s, R_RESIZE);
	if (s->transport == T_SPDY)
		spdy_put_goaway(&s->out, s->last_stream, 0);
	else
		ws_put_close(&s->out, 1000, "");
}

/* --- exec and attach: the start --- */

/* Connects to the pod's monitor and makes the request; its reply in *ret (when not NULL). */
static int monitor_request(session_t *s, crl_json_t *j, crl_json_value_t **ret, crl_error_t *err)
{
	crl_json_object_end(j);
	char *msg = crl_json_finish_text(j, NULL);
	if (!msg)
		return crl_error_set(err, ENOMEM, "out of memory");
	int r = mon_client_connect(s->req->pod_dir, &s->mon, err);
	if (r == 0)
		r = mon_client_call(s->mon, msg, MONITOR_MS, ret, err);
	free(msg);
	return r;
}

static crl_json_t *request_begin(session_t *s, const char *op)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "v", MON_CLIENT_PROTOCOL);
	crl_json_kv_string(j, "op", op);
	crl_json_kv_string(j, "id", s->req->ctr_id);
	return j;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* The n fds the monitor sends after its reply (one byte "F" with them), non-blocking. */
static int take_fds(session_t *s, int *fds, size_t want, crl_error_t *err)
{
	int mfd = mon_client_fd(s->mon), r;
	struct pollfd p = { mfd, POLLIN, 0 };
	while ((r = poll(&p, 1, MONITOR_MS)) < 0 && errno == EINTR)
		;
	size_t n = 0;
	char byte = 0;
	if (r <= 0 || crl_recv_fds(mfd, &byte, 1, fds, want, &n) != 1 || byte != 'F' || n != want) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		return crl_error_set(err, EIO, "the pod monitor did not hand the stdio over (%zu of %zu fds)", n, want);
	}
	for (size_t i = 0; i < n; i++)
		set_nonblock(fds[i]);
	return 0;
}

static int exec_start(session_t *s, crl_error_t *err)
{
	crl_json_t *j = request_begin(s, "exec");
	crl_json_key(j, "args");
	crl_json_array_begin(j);
	for (char **a = s->req->cmd; *a; a++)
		crl_json_string(j, *a);
	crl_json_array_end(j);
	crl_json_kv_bool(j, "stream", true);
	crl_json_kv_bool(j, "pass_fds", true);
	crl_json_kv_bool(j, "stdin", s->req->in);
	crl_json_kv_bool(j, "tty", s->req->tty);
	int r = monitor_request(s, j, NULL, err);
	if (r < 0)
		return r;
	int fds[3];
	size_t n = s->req->tty ? 1 : 2 + (s->req->in ? 1 : 0);
	if ((r = take_fds(s, fds, n, err)) < 0)
		return r;
	if (s->req->tty) {
		s->src[1] = fds[0];
		s->tty_fd = fds[0];
		if (s->req->in)
			s->stdin_sink.fd = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
	} else {
		size_t i = 0;
		if (s->req->in)
			s->stdin_sink.fd = fds[i++];
		s->src[1] = fds[i++];
		s->src[2] = fds[i];
	}
	return 0;
}

/* With stdin asked for, the container's stdin (or terminal) comes over as an fd: this thread writes to it, so a
 * container that does not read blocks only this client. */
static int attach_start(session_t *s, crl_error_t *err)
{
	crl_json_t *j = request_begin(s, "attach");
	bool want_in = s->req->in && s->req->ctr_stdin;
	crl_json_kv_bool(j, "pass_stdin", want_in);
	crl_json_value_t *v = NULL;
	int r = monitor_request(s, j, &v, err);
	if (r < 0)
		return r;
	bool has = false;
	crl_json_get_bool(crl_json_get(v, "stdin"), &has);
	crl_json_value_free(v);
	int fd;
	if (!want_in || !has)
		return 0;
	if ((r = take_fds(s, &fd, 1, err)) < 0)
		return r;
	s->stdin_sink.fd = fd;
	if (s->req->ctr_tty)
		s->tty_fd = fd;
	return 0;
}

void st_rc_start(session_t *s)
{
	s->started = true;
	crl_error_t err = CRL_ERROR_INIT;
	int r = s->req->kind == ST_EXEC ? exec_start(s, &err) : attach_start(s, &err);
	if (r < 0) {
		s->failure = strdup(crl_error_message(&err));
		crl_error_clear(&err);
		st_rc_finish(s);
	}
}

/* --- exec and attach: from the client --- */

static void monitor_send(session_t *s, crl_json_t *j)
{
	crl_json_object_end(j);
	size_t len = 0;
	char *msg = crl_json_finish_text(j, &len);
	crl_error_t err = CRL_ERROR_INIT;
	if (msg && s->mon && mon_client_send(s->mon, msg, len, false, &err) < 0)
		crl_error_clear(&err);
	free(msg);
}

static crl_json_t *stream_msg(void)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	return j;
}

static void apply_resize(session_t *s, int64_t w, int64_t h)
{
	if (w <= 0 || h <= 0 || w > 65535 || h > 65535)
		return;
	if (s->tty_fd >= 0) {
		struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
		ioctl(s->tty_fd, TIOCSWINSZ, &ws);
	} else if (s->req->kind == ST_ATTACH && s->mon) {
		crl_json_t *j = stream_msg();
		crl_json_key(j, "resize");
		crl_json_object_begin(j);
		crl_json_kv_int(j, "rows", h);
		crl_json_kv_int(j, "cols", w);
		crl_json_object_end(j);
		monitor_send(s, j);
	}
}

static int64_t size_field(const crl_json_value_t *v, const char *a, const char *b)
{
	int64_t n = 0;
	if (!crl_json_get_int(crl_json_get(v, a), &n))
		crl_json_get_int(crl_json_get(v, b), &n);
	return n;
}

/* Resize events: JSON objects one after another ({"Width":80,"Height":24}), split anywhere by the transport. */
static void on_resize_data(session_t *s, const uint8_t *p, size_t n)
{
	if (st_buf_pending(&s->resize) + n > RESIZE_MAX) {
		st_buf_free(&s->resize);
		return;
	}
	st_buf_put(&s->resize, p, n);
	for (;;) {
		uint8_t *b = s->resize.data + s->resize.off;
		size_t len = st_buf_pending(&s->resize);
		uint8_t *end = len ? memchr(b, '}', len) : NULL;
		if (!end)
			return;
		size_t k = (size_t)(end - b) + 1;
		char *text = strndup((const char *)b, k);
		st_buf_consume(&s->resize, k);
		crl_json_value_t *v = NULL;
		crl_error_t err = CRL_ERROR_INIT;
		const char *start = text ? strchr(text, '{') : NULL;
		if (start && crl_json_parse(start, &v, &err) == 0)
			apply_resize(s, size_field(v, "Width", "width"), size_field(v, "Height", "height"));
		crl_error_clear(&err);
		crl_json_value_free(v);
		free(text);
	}
}

/* The client's end of stdin: the command's stdin closed once what waits is written (a terminal stays, as with
 * kubelet); for attach, a stdin_once container's own stdin is closed by its monitor after that. */
void st_rc_stdin_closed(session_t *s)
{
	bool tty = s->req->kind == ST_EXEC ? s->req->tty : s->req->ctr_tty;
	if (s->stdin_sink.fd >= 0 && !tty)
		s->stdin_sink.fin = true;
	if (s->req->kind == ST_ATTACH && s->req->ctr_stdin_once)
		s->close_stdin_pending = true;
}

void st_rc_after_flush(session_t *s)
{
	if (!s->close_stdin_pending || (s->stdin_sink.fd >= 0 && st_buf_pending(&s->stdin_sink.buf)))
		return;
	s->close_stdin_pending = false;
	if (s->stdin_sink.fd >= 0) {
		close(s->stdin_sink.fd);
		s->stdin_sink.fd = -1;
		if (s->tty_fd >= 0 && s->req->kind == ST_ATTACH)
			s->tty_fd = -1;
	}
	if (s->mon) {
		crl_json_t *j = stream_msg();
		crl_json_kv_bool(j, "close_stdin", true);
		monitor_send(s, j);
	}
}

void st_rc_on_data(session_t *s, int role, const uint8_t *p, size_t n)
{
	if (role == R_RESIZE) {
		on_resize_data(s, p, n);
		return;
	}
	if (role != R_STDIN || !s->req->in || n == 0)
		return;
	if (s->stdin_sink.fd >= 0 && !s->stdin_sink.fin && !s->close_stdin_pending)
		st_buf_put(&s->stdin_sink.buf, p, n);
}

int st_rc_role_of(const char *type)
{
	for (int r = 0; type && r < R_N; r++)
		if (strcmp(type, role_names[r]) == 0)
			return r;
	return -1;
}

int st_rc_role_by_stream(session_t *s, uint32_t sid)
{
	for (int r = 0; r < R_N; r++)
		if (s->opened[r] && s->sid[r] == sid)
			return r;
	return -1;
}

void st_rc_on_client_fin(session_t *s, int role)
{
	if (role == R_STDIN)
		st_rc_stdin_closed(s);
}

void st_rc_read_src(session_t *s, int i)
{
	uint8_t buf[CHUNK];
	ssize_t r = read(s->src[i], buf, sizeof(buf));
	if (r > 0) {
		st_send_role(s, i == 1 ? R_STDOUT : R_STDERR, buf, (size_t)r);
		if (s->exited)
			s->exited_ms = crl_mono_ms(); /* output still comes: the drain goes on */
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF, or EIO from a terminal whose last user is gone */
	if (s->src[i] == s->tty_fd)
		s->tty_fd = -1;
	if (s->stdin_sink.fd == s->src[i])
		s->stdin_sink.fd = -1;
	close(s->src[i]);
	s->src[i] = -1;
}

/* A frame from the monitor: the exit of the command (exec) or container (attach), or attached output. */
void st_rc_read_monitor(session_t *s)
{
	crl_json_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (mon_client_recv(s->mon, MONITOR_MS, &v, &err) < 0) {
		crl_error_clear(&err);
		mon_client_free(s->mon);
		s->mon = NULL;
		if (!s->exited) {
			/* Gone before an exit: the monitor died or dropped us (an attach client that did not keep up). */
			s->exited = true;
			s->exited_ms = crl_mono_ms();
			s->failure = strdup(s->req->kind == ST_EXEC
						    ? "the pod monitor closed the session before the command's exit"
						    : "the pod monitor ended the attach stream (the client did not keep up, or "
						      "the monitor is gone)");
		}
		return;
	}
	int64_t code = 0;
	const char *stream = crl_json_get_string(crl_json_get(v, "stream"));
	const char *data = crl_json_get_string(crl_json_get(v, "data"));
	if (stream && data) {
		char *raw = NULL;
		size_t n = 0;
		if (crl_base64_decode(data, &raw, &n) == 0)
			st_send_role(s, strcmp(stream, "stderr") == 0 ? R_STDERR : R_STDOUT, raw, n);
		free(raw);
	} else if (crl_json_get_int(crl_json_get(v, "exit_code"), &code)) {
		s->exited = true;
		s->exited_ms = crl_mono_ms();
		/* Attach reports no exit code: the container's end is the attach's end. */
		s->exit_code = s->req->kind == ST_EXEC ? (int)code : 0;
	}
	crl_json_value_free(v);
}

bool st_rc_done(session_t *s)
{
	if (!s->exited)
		return false;
	if (s->req->kind == ST_ATTACH)
		return true;
	if (s->src[1] < 0 && s->src[2] < 0)
		return true;
	/* A child of the command may hold its output open: it is not waited for long. */
	return crl_mono_ms() - s->exited_ms >= DRAIN_MS;
}
