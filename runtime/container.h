/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "spec.h"

/* Containers: create (the container's init exists in its namespaces and cgroup, the user program has not
 * run: it waits on <state>/exec.fifo), start (releases it), state, kill, delete. State lives in
 * <state_root>/<id>/state.json, written atomically. Only for single-threaded callers (clone). */

typedef enum { RT_CREATING, RT_CREATED, RT_RUNNING, RT_STOPPED } rt_status_t;

typedef struct rt_state {
	char *id;
	char *bundle;
	pid_t pid;
	uint64_t pid_start; /* /proc/<pid>/stat starttime: tells a reused pid apart */
	char *cgroup;
	char *created; /* RFC 3339 */
	char *rootfs;  /* absolute, symlinks resolved */
	rt_status_t status;
} rt_state_t;

typedef struct rt_create_opts {
	const char *pid_file; /* written with the init's pid once created */
	bool set_stdio;       /* use stdio[] instead of the caller's stdin, stdout, stderr */
	int stdio[3];         /* -1: /dev/null */
	/* A terminal made inside the container (from its own /dev/ptmx, so its name resolves there) becomes the
	 * init's stdio and controlling terminal; its master comes back in *ret_master. */
	bool terminal;
	int *ret_master;
	/* Set when the spec's oomScoreAdj would lower the score and this process may not (no CAP_SYS_RESOURCE):
	 * the inherited value was kept. The caller warns as it sees fit. */
	bool *ret_oom_clamped;
} rt_create_opts_t;

/* Container ids: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}. */
bool rt_id_valid(const char *id);
const char *rt_status_name(rt_status_t s);

/* Writes pid to path atomically (runc's --pid-file). */
int rt_write_pid_file(const char *path, pid_t pid, crl_error_t *err);
int rt_create(const char *state_root, const char *id, const char *bundle, const rt_create_opts_t *opts,
	      rt_state_t **ret, crl_error_t *err);
int rt_start(const char *state_root, const char *id, crl_error_t *err);
int rt_state(const char *state_root, const char *id, rt_state_t **ret, crl_error_t *err);
/* Where this process's PID namespace has its /proc, when it is not /proc (a pod monitor that is PID 1 of its
 * pod's namespace mounts one of its own): every /proc/<pid> the library reads is taken from there. Set once, at
 * start, before any container call; the library's only process-wide setting. -ENAMETOOLONG past 200 bytes. */
int rt_set_proc_root(const char *dir);
/* <proc root>/<pid>/<file> in buf. */
void rt_proc_path(char *buf, size_t size, pid_t pid, const char *file);
int rt_kill(const char *state_root, const char *id, int sig, crl_error_t *err);
/* Every process in the container's cgroup, not only its init (runc's kill --all). */
int rt_kill_all(const char *state_root, const char *id, int sig, crl_error_t *err);
/* force: kill a running container first. */
int rt_delete(const char *state_root, const char *id, bool force, crl_error_t *err);
void rt_state_free(rt_state_t *s);

/* An exec: a process of its own in a running container's namespaces and cgroup. */
typedef struct rt_exec_opts {
	char *const *args;        /* the command; with process_json it may be NULL (the process's args) */
	const char *cwd;          /* NULL: the process's */
	const char *process_json; /* an OCI process object in place of the container's (runc exec --process) */
	char *const *env;         /* KEY=VALUE entries added to the process's environment (runc exec --env) */
	bool set_user;            /* run as uid:gid (runc exec --user) */
	uint32_t uid, gid;
	bool set_stdio;           /* stdio[] as the command's stdin, stdout, stderr (-1: /dev/null) */
	int stdio[3];
	int tty_sock; /* -1, or a unix socket: the command makes a terminal inside the container and sends its
		       * master there (SCM_RIGHTS, the terminal's name as the message), as runc's console socket */
	bool detach;  /* the joiner outlives its caller (no parent-death signal) */
} rt_exec_opts_t;

/* Runs the exec with the security settings of its process (the container's spec's unless process_json):
 * user, capabilities, no_new_privs, rlimits, AppArmor, and the container's seccomp. Waits; the exit status
 * (128 + signal for a signal) in *ret_status. */
int rt_exec(const char *state_root, const char *id, const rt_exec_opts_t *o, int *ret_status, crl_error_t *err);
/* The same without waiting: the joiner's pid (its exit status is the command's, 128 + signal for a signal). */
int rt_exec_spawn(const char *state_root, const char *id, const rt_exec_opts_t *o, pid_t *ret_pid, crl_error_t *err);
/* The same in the calling process, which becomes the joiner: for a caller that forked it so that none of the
 * exec's preparation touches the caller's own memory. Sends "ok", or "E<errno> <message>" on a failure before
 * the command runs, as one message on the socket report; returns only on such a failure. */
int rt_exec_here(const char *state_root, const char *id, const rt_exec_opts_t *o, int report, crl_error_t *err);
int rt_update(const char *state_root, const char *id, const rt_resources_t *res, crl_error_t *err);

#include "cgroup.h"
int rt_stats(const char *state_root, const char *id, rt_cgroup_stats_t *ret, crl_error_t *err);
/* The OCI state document. */
char *rt_state_json(const rt_state_t *s);
