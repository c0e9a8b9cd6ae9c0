/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* posix_spawn of path with argv and envp, the child's fds 0..n_fds-1 from fds (-1: /dev/null, read-only) and no
 * other fd (closefrom: also the ones a library opened without O_CLOEXEC), an empty signal mask and default
 * handlers (the daemon blocks and ignores some); own_group: a process group of its own, so a timeout kills what it
 * started too. A binary being replaced ("text file busy") is tried again for a second, as libcni does. */
int crl_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, size_t n_fds, bool own_group,
	      pid_t *ret_pid, crl_error_t *err);
