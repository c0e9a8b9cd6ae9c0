/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cri_client.h"

/* containerd (Debian's, when installed) as the peer measured beside crio-lite: its own root, state and socket in
 * a temporary directory, pulling from the local registry at reg_port over plain HTTP. Never used by crio-lite. */
typedef struct bench_peer {
	char dir[64];
	pid_t pid;
	char sock[128];
	cri_client_t *client;
} bench_peer_t;

/* false (and nothing left behind) when containerd is not installed or does not come up in 30 s. */
bool bench_containerd_start(bench_peer_t *p, int reg_port);
void bench_containerd_stop(bench_peer_t *p);
