/* SPDX-License-Identifier: Apache-2.0 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <time.h>

#define SPAWN_TRIES 5
#define SPAWN_RETRY_MS 200

int crl_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, size_t n_fds, bool own_group,
	      pid_t *ret_pid, crl_error_t *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return crl_error_set_errno(err, rc, "cannot prepare to execute %s", path);
	if ((rc = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&fa);
		return crl_error_set_errno(err, rc, "cannot prepare to execute %s", path);
	}
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	for (size_t i = 0; i < n_fds && !rc; i++)
		rc = fds[i] < 0 ? posix_spawn_file_actions_addopen(&fa, (int)i, "/dev/null", O_RDONLY, 0)
				: posix_spawn_file_actions_adddup2(&fa, fds[i], (int)i);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, (int)n_fds);
	if (!rc)
		rc = posix_spawnattr_setflags(&attr, (own_group ? POSIX_SPAWN_SETPGROUP : 0) | POSIX_SPAWN_SETSIGMASK |
							     POSIX_SPAWN_SETSIGDEF);
	if (!rc && own_group)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&attr, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&attr, &all);
	int r;
	if (rc) {
		r = crl_error_set_errno(err, rc, "cannot prepare to execute %s", path);
	} else {
		for (int t = 1;; t++) {
			rc = posix_spawn(ret_pid, path, &fa, &attr, argv, envp);
			if (rc != ETXTBSY || t == SPAWN_TRIES)
				break;
			struct timespec ts = { 0, SPAWN_RETRY_MS * 1000000L };
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
		}
		r = rc ? crl_error_set_errno(err, rc, "cannot execute %s", path) : 0;
	}
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}
