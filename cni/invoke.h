/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "common/error.h"

/* One plugin process, safe in a multi-threaded caller: posix_spawn in its own process group with every signal
 * unblocked and at its default, stdin/stdout/stderr through pipes, a deadline, and the one pid reaped. */

/* What is kept of a plugin's stderr, for error messages; the rest is read and dropped. */
#define CNI_MAX_STDERR (64 * 1024)

typedef struct cni_output {
	int status; /* as waitpid reports it */
	char *out;  /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* the start of stderr, NUL-terminated */
	size_t err_len;
} cni_output_t;

void cni_output_done(cni_output_t *o);

/* Runs path (argv[0] = path) with exactly envp, feeding it in. Fails with ETIMEDOUT when it has not exited and
 * closed its output by timeout_ms, with EMSGSIZE when it prints more than max_out bytes on stdout: in both cases
 * its process group is killed and the plugin reaped first. An exit status of its own is not a failure here. */
int cni_invoke(const char *path, char *const *envp, const char *in, size_t in_len, int timeout_ms, size_t max_out,
	       cni_output_t *ret, crl_error_t *err);
