/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* One message on a unix socket, with fd (>= 0) passed along as SCM_RIGHTS. 0, or -1 with errno. */
int crl_send_with_fd(int sock, const void *data, size_t len, int fd);
/* Up to len bytes, and the fd that came with them in *ret_fd (close-on-exec; else -1). The byte count, or -1. */
ssize_t crl_recv_with_fd(int sock, void *buf, size_t len, int *ret_fd);
/* The same with n (at most 8) fds, and up to max fds received into fds (*ret_n of them; more are closed). */
int crl_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n);
ssize_t crl_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *ret_n);
