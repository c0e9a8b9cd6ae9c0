/* SPDX-License-Identifier: Apache-2.0 */
/* Inside crio-lite-monitor: its state, and what monitor.c (the loop, the protocol) and ops.c (containers and
 * exec sessions) share. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/fdpass.h"
#include "common/fs.h"
#include "common/json.h"
#include "client.h"
#include "crilog.h"
#include "runtime/cgroup.h"
#include "runtime/container.h"

/* The protocol's version and request size limit: the client's (one definition for both ends). */
#define PROTOCOL MON_CLIENT_PROTOCOL
#define MAX_MSG MON_CLIENT_MAX_MSG
#define DEFAULT_EXEC_OUTPUT (16 * 1024 * 1024)

enum { SRC_SIGNAL, SRC_LISTEN, SRC_CONN, SRC_CTR, SRC_EXEC };

typedef struct src {
	int kind;
	void *obj;
	int stream; /* 1 stdout, 2 stderr */
	int fd;
} src_t;

struct ctr;

/* Output waiting for a client that is slow to read: streamed frames beyond this drop the client rather than
 * stall the loop (and every container's log with it). */
#define MAX_STREAM_QUEUE (8 << 20)
/* Connections at once (each an fd and its buffers); exec sessions at once (each a joiner and pipes). */
#define MAX_CONNS 256
#define MAX_EXECS 256
/* Containers a pod may hold, running or exited and not yet deleted. */
#define MAX_CTRS 1024

typedef struct conn {
	src_t src;
	int ep;  /* the loop's epoll, to ask for EPOLLOUT while output waits */
	char *in;
	size_t len, cap;
	char *out; /* frames not yet sent: out[out_off..out_len) */
	size_t out_off, out_len, out_cap;
	bool want_out; /* EPOLLOUT asked for */
	bool closing;  /* close once the queued output is sent */
	bool dead;     /* drop now */
	struct ctr *attached; /* streaming this container's stdio */
	struct exec_s *exec;  /* streaming this exec session's stdio */
	struct conn *next;
} conn_t;

typedef struct ctr {
	char *id;
	pid_t pid;
	src_t out, err;
	crl_crilog_t *log;
	char *cgroup;
	int64_t started_ns, finished_ns;
	int in_fd;  /* the container's stdin (pipe or pty master), -1 */
	int master; /* pty master while being set up, -1 */
	bool tty;
	bool exited;
	int exit_code, signal;
	bool oom;
	char *runtime, *runtime_root; /* an external OCI runtime and its --root, or NULL: the runtime library */
	struct ctr *next;
} ctr_t;

typedef struct exec_s {
	conn_t *conn;
	pid_t pid;
	src_t out, err;
	char *buf[3];
	size_t len[3];
	size_t cap;
	bool truncated, timed_out, exited;
	int status;
	int64_t deadline_ms; /* 0: none */
	bool stream, tty;
	int in_fd;
	struct exec_s *next;
} exec_t;

#define MAX_PINS 4
/* --sysctl options one pod may give. */
#define MAX_SYSCTLS 64

typedef struct mon {
	int ep;
	char pins[MAX_PINS][16]; /* namespace types pinned under <dir>/ns */
	size_t n_pins;
	bool proc_mounted; /* <dir>/proc: the pod PID namespace's /proc */
	src_t sig, listen;
	char *dir, *rt_root;
	int dirfd;
	ctr_t *ctrs;
	conn_t *conns;
	exec_t *execs;
	bool stop;
} mon_t;

/* monitor.c: the loop and the protocol. */
void mon_watch(mon_t *m, src_t *s);
void mon_unwatch(mon_t *m, src_t *s);
/* A response: begin, add members, end (sends it and frees the builder). */
crl_json_t *mon_reply_begin(bool ok);
void mon_reply_end(conn_t *c, crl_json_t *j);
void mon_reply_error(conn_t *c, crl_error_t *err);
void mon_reply_ok(conn_t *c);
/* Reads what is waiting on a container's output pipe (into its log) now. */
void mon_drain(mon_t *m, src_t *s);
/* No more requests from c: it goes once what is queued for it is sent. */
void mon_conn_close(conn_t *c);
/* Sends what is queued, then one byte with fds (SCM_RIGHTS): -1 when the queue does not empty at once. */
int mon_conn_send_fds(conn_t *c, const int *fds, size_t n);

/* ops.c: containers and exec sessions. */
void mon_ctr_free(mon_t *m, ctr_t *c);
void mon_on_ctr_exit(mon_t *m, ctr_t *c, int status);
/* The request's container, or NULL after an ENOENT reply. */
ctr_t *mon_need_ctr(mon_t *m, conn_t *conn, const crl_json_value_t *req);
void mon_op_create(mon_t *m, conn_t *conn, const crl_json_value_t *req);
void mon_op_state(mon_t *m, conn_t *conn, const crl_json_value_t *req);
void mon_op_simple(mon_t *m, conn_t *conn, const char *op, const crl_json_value_t *req);
void mon_op_exec(mon_t *m, conn_t *conn, const crl_json_value_t *req);
/* An exec session whose process exited and whose output is drained replies and goes. */
void mon_exec_maybe_done(mon_t *m, exec_t *x);

/* external.c: containers of an external OCI runtime, driven with runc's command line. */
/* Creates c (its runtime and runtime_root set) from bundle with o's stdio or terminal: c->pid, c->cgroup, and
 * the terminal's master in *o->ret_master. */
int mon_ext_create(mon_t *m, ctr_t *c, const char *bundle, const rt_create_opts_t *o, crl_error_t *err);
/* `runtime exec --detach`: the exec's pid (the monitor inherits it), with stdio or a terminal (its master). */
int mon_ext_exec(mon_t *m, const ctr_t *c, char **argv, const char *cwd, const int stdio[3], bool tty, pid_t *ret_pid,
		 int *ret_master, crl_error_t *err);
/* Any other command: start ID, kill ID SIG, delete --force ID. */
int mon_ext_run(mon_t *m, const ctr_t *c, const char *const *args, crl_error_t *err);
