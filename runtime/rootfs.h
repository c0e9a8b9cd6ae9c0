/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "spec.h"

/* Builds the container's root file system from inside its new mount namespace: the rootfs bind-mounted on
 * itself, the spec's mounts (each target resolved inside the rootfs and mounted through its fd, so a symlink in
 * the rootfs cannot redirect a mount to the host), default devices, pivot_root, masked and read-only paths, a
 * read-only root, hostname and namespaced sysctls. root is absolute. */
/* cgroup_path: the container's cgroup below each hierarchy's root, shown at a "cgroup" mount. */
int rt_rootfs_setup(const rt_spec_t *s, const char *root, const char *cgroup_path, crl_error_t *err);
/* Writes a sysctl of the caller's namespaces (key of key_len bytes, "net.ipv4.ip_forward"): EPERM for one no
 * namespace isolates (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.hostname/domainname) or a
 * name that is not plain. */
int rt_sysctl_set(const char *key, size_t key_len, const char *value, crl_error_t *err);
