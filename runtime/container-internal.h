/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "common/error.h"
#include "container.h"
#include "spec.h"

/* What container.c (create, state) and exec.c share inside runtime/. */

/* /proc/<pid>/stat starttime; 0 when the process is gone. */
uint64_t rt_pid_starttime(pid_t pid);
/* A terminal from this mount namespace's /dev/ptmx (so its name resolves here): the slave becomes stdio and the
 * controlling terminal of the caller's session; the master in *ret_master. */
int rt_open_terminal(int *ret_master, crl_error_t *err);
/* No signal blocked or ignored, whatever the creator had: both survive exec. */
void rt_reset_signals(void);
/* execve of the spec's args, PATH searched in its env; returns only on failure. */
void rt_exec_program(const rt_spec_t *s);
