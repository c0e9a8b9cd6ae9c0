/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "api.pb-c.h"
#include "cri_client.h"

/* A real crio-lite daemon on a temporary root, runroot, socket and CNI directory, for one test or group. */
typedef struct test_daemon {
	char dir[128];
	char sock[192];
	char conf[192];
	char root[192];
	char runroot[192];
	char netdir[192];
	char log[192];
	pid_t pid;
	cri_client_t *client;
} test_daemon_t;

/* The daemon binary under test (CRIO_LITE_BIN, set by meson). */
const char *td_binary(void);
/* Creates the directories and a config; extra is appended to the [crio-lite.*] tables as raw TOML. */
int td_setup(test_daemon_t *t, const char *extra_toml);
/* Starts the daemon and waits until Version answers (10 s); extra_args are appended to the command line. Its log
 * goes to stderr when it does not start. */
int td_start(test_daemon_t *t, const char *const *extra_args);
/* A CNI network of the loopback plugin alone in the daemon's network directory: pods that need no bridge. */
void td_write_lo_network(const test_daemon_t *t);
/* Sends sig to the daemon's pid and waits up to timeout_ms; returns the wait status, or -1 on timeout (the
 * daemon is then killed). */
int td_stop(test_daemon_t *t, int sig, int timeout_ms);
/* Removes everything td_setup made. */
void td_cleanup(test_daemon_t *t);
/* The daemon's stderr so far (caller frees). */
char *td_log(const test_daemon_t *t);
/* Waits until the log contains needle. */
bool td_wait_log(const test_daemon_t *t, const char *needle, int timeout_ms);
/* Runs the binary with args, captures stdout+stderr (caller frees) and returns the exit status (or -1). */
int td_run(const char *const *args, char **ret_output, int timeout_ms);
void td_write_file(const char *path, const char *content);
/* Runs tests/fixtures/registry.py (CRIO_LITE_FIXTURES) with args; its output in *out when out is not NULL.
 * Returns its exit code, or -1. */
int td_fixture(const char *const *args, char **out);
/* How many lines of /proc/self/mountinfo mention text (a directory: mounts on it, below it or from it). */
int td_mounts_mentioning(const char *text);
/* Whether pid runs: exists and is no zombie. */
bool td_pid_runs(pid_t pid);
/* Waits up to timeout_ms for pid to stop running; whether it did. */
bool td_pid_gone(pid_t pid, int timeout_ms);
/* A registry of the fixture's (Debian's docker-registry on 127.0.0.1) in a new directory, written into dir (128
 * bytes); htpasswd "user:password" turns on basic auth. Its port, or -1 (the reason on stderr). */
int td_registry_start(char *dir, const char *htpasswd);
/* Stops the registry of dir and removes dir. */
void td_registry_stop(const char *dir);
/* A registry with the images the container tests run (registry.py push-containers) and a registries.conf for it,
 * its path written to regconf: the port, or -1. */
int td_container_registry(char *dir, char *regconf, size_t regconf_size);
/* Stops the daemon with SIGTERM (20 s); whether it exited with 0. Its log goes to stderr when it did not (or
 * always, with CRL_TEST_SHOW_LOG set). */
bool td_stop_clean(test_daemon_t *t);
/* After a group of tests: td_stop_clean, then whatever a failed test left is ended and removed: its monitors
 * (and with them their containers), mounts and files below the daemon's directory. Whether all was clean. */
bool td_finish(test_daemon_t *t);
/* PullImage of ref: the gRPC code (its message on stderr), -1 on a transport failure. */
int td_pull(test_daemon_t *t, const char *ref);
/* RunPodSandbox of cfg: the pod's id, or NULL (the reason on stderr). */
char *td_run_pod(test_daemon_t *t, const Runtime__V1__PodSandboxConfig *cfg);
/* StopPodSandbox then RemovePodSandbox: 0, the first gRPC code that was not OK, or -1. */
int td_remove_pod(test_daemon_t *t, const char *id);
/* A container of the pod running `/bin/sh -c script` (script NULL: /bin/sh alone), with_stdin: created with
 * stdin and stdin_once; created and started: its id, or NULL (the reason on stderr). */
char *td_start_sh(test_daemon_t *t, const char *pod_id, const Runtime__V1__PodSandboxConfig *pod_config,
		  const char *image, const char *name, const char *script, bool with_stdin);
/* ExecSync of `/bin/sh -c script` (30 s): its stdout (caller frees), its exit code in *ret_code; NULL when the
 * call fails (the reason on stderr). */
char *td_exec_sync(test_daemon_t *t, const char *ctr, const char *script, int *ret_code);
/* A registries.conf at path naming 127.0.0.1:port as an insecure registry. */
void td_write_regconf(const char *path, int port);
/* One request to a crio-lite-monitor socket and its response (NULL on a transport failure). frame=false sends
 * msg as it is (to test framing). */
#include "common/json.h"
crl_json_value_t *td_monitor_call(const char *sock, const void *msg, size_t len, bool frame);
crl_json_value_t *td_monitor_call_str(const char *sock, const char *msg);
/* The crio-lite-monitor processes serving pods under runroot (found by their command line, which names their
 * directory): how many, and with kill_them, each ended by its pid (a failed test must not leave them behind). */
int td_monitors(const char *runroot, bool kill_them);
/* What a bridge (isGateway turns ip_forward on) and portmap (the CNI-HOSTPORT-* chains it shares between
 * containers and leaves) change on the node: saved before a test makes networks, put back after it. */
typedef struct td_net_state {
	char ip_forward[8];
	bool hostport_chains; /* the chains were there before */
} td_net_state_t;
void td_net_state_save(td_net_state_t *s);
void td_net_state_restore(const td_net_state_t *s);
/* After runtime tests: force-deletes the containers left in state_root (with runtime_bin), detaches mounts left
 * below dir, removes dir, and removes the runtime's parent cgroups once empty (dir NULL: only the first). */
void td_sweep(const char *dir, const char *runtime_bin, const char *state_root);
