/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "api.pb-c.h"
#include "common/error.h"
#include "common/json.h"
#include "pod_config.h"

/* A container's OCI runtime spec (config.json) from the CRI ContainerConfig, its pod and its image, as kubelet
 * expects it built. Pure but for the user lookup, which reads the image's /etc/passwd and /etc/group from its
 * layers (never following a symlink out of one). */

#define SRV_CTR_MAX_ARGS 4096
#define SRV_CTR_MAX_ENV 4096
#define SRV_CTR_MAX_MOUNTS 512
#define SRV_CTR_MAX_GROUPS 64
#define SRV_CTR_MAX_DEVICES 128

typedef struct srv_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[SRV_CTR_MAX_GROUPS];
	size_t n_groups;
} srv_user_t;

/* A decimal uid or gid (0 .. 2^32-2) as all of s. */
bool srv_parse_id(const char *s, unsigned long *ret);
/* From the security context (run_as_user, run_as_username, run_as_group, supplemental groups and their policy)
 * or the image's User ("uid", "name", "uid:gid", "name:group"), against the passwd and group files found in the
 * layers (top first). */
int srv_user_resolve(char *const *layers, size_t n_layers, const Runtime__V1__LinuxContainerSecurityContext *sc,
		     const char *image_user, srv_user_t *ret, crl_error_t *err);
/* The parsers under it, for tests: a passwd or group file's entry by name or by id. */
int srv_passwd_lookup(const char *passwd, const char *name, uid_t uid_if_no_name, uid_t *ret_uid, gid_t *ret_gid,
		      char **ret_name);
/* Groups (gids) of user name in a group file, and the gid of group name. */
size_t srv_group_members(const char *group, const char *user, gid_t *ret, size_t max);
int srv_group_lookup(const char *group, const char *name, gid_t *ret_gid);

typedef struct srv_spec_in {
	const char *id;
	const Runtime__V1__ContainerConfig *cfg;
	const Runtime__V1__PodSandboxConfig *pod_cfg;
	srv_pod_ns_t pod_ns;
	const char *pod_dir;    /* resolv.conf, hostname, shm, ns/ */
	const char *cgroup;     /* the container's cgroup (below the pod's) */
	const crl_json_value_t *image; /* the image config's "config" object, or NULL */
	char *const *layers;           /* top first */
	size_t n_layers;
	const char *rootfs, *upper, *work;
	const srv_user_t *user;
	const char *seccomp_json; /* a Localhost profile's content, or NULL */
	pid_t target_pid;         /* pid mode TARGET: the target container's pid */
} srv_spec_in_t;

/* The spec as JSON, and the stop signal the image asks for (0: none). EINVAL naming the field for what cannot
 * be run (no command, a bad capability, a mount over a relative path ...). */
int srv_container_spec(const srv_spec_in_t *in, char **ret_json, int *ret_stop_signal, crl_error_t *err);
/* A mount's propagation against the node: BIDIRECTIONAL needs host_path on a shared mount, HOST_TO_CONTAINER on
 * a shared or slave one (EINVAL naming the mount otherwise). */
int srv_check_propagation(const char *host_path, int propagation, size_t index, crl_error_t *err);
/* The seccomp profile a security context asks for (seccomp, else the deprecated seccomp_profile_path; privileged:
 * none); for a Localhost one its path in *ret_path. SRV_SECCOMP_INVALID for a seccomp_profile_path of no known
 * form. */
typedef enum { SRV_SECCOMP_NONE, SRV_SECCOMP_DEFAULT, SRV_SECCOMP_LOCALHOST, SRV_SECCOMP_INVALID } srv_seccomp_t;
srv_seccomp_t srv_seccomp_kind(const Runtime__V1__LinuxContainerSecurityContext *sc, const char **ret_path);
/* CRI's LinuxContainerResources as an OCI LinuxResources object (JSON text), for UpdateContainerResources. */
char *srv_resources_json(const Runtime__V1__LinuxContainerResources *r);
/* A signal name as images write StopSignal ("SIGTERM", "TERM", "15"); 0 when unknown. */
int srv_signal_from_name(const char *s);
