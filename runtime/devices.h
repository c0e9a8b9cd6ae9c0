/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "spec.h"

/* The device cgroup of a container: everything denied, then the spec's linux.resources.devices in order, then
 * the devices every container gets (null, zero, full, random, urandom, tty, console, ptmx and pts, tun, and
 * mknod of any node). The last rule that matches an access decides; none matching means denied. */
int rt_devices_rules(const rt_resources_t *res, rt_dev_rule_t **ret, size_t *ret_n, crl_error_t *err);

/* cgroup v1: the rules as lines for devices.allow / devices.deny, in the order to write them, after "a" to
 * devices.deny. Calls emit(allow, line) for each; stops at its first error. */
int rt_devices_v1(const rt_dev_rule_t *rules, size_t n, int (*emit)(void *ctx, bool allow, const char *line),
		  void *ctx);

/* cgroup v2: compiles the rules into a BPF_PROG_TYPE_CGROUP_DEVICE program and attaches it to the cgroup
 * directory cgfd (BPF_F_ALLOW_MULTI: an ancestor's program still has its say). */
int rt_devices_bpf_attach(int cgfd, const rt_dev_rule_t *rules, size_t n, crl_error_t *err);
/* How many device programs are attached to the cgroup directory cgfd itself. */
int rt_devices_bpf_count(int cgfd, uint32_t *ret, crl_error_t *err);
