/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/error.h"
#include "spec.h"

/* Process security settings, applied by a container's init (single-threaded) just before exec. */

/* Whether the host runs AppArmor. */
bool rt_apparmor_enabled(void);
/* A profile other than "unconfined" on a host without AppArmor is refused (not silently left unconfined). */
int rt_apparmor_check(const char *profile, crl_error_t *err);
/* The AppArmor profile the next exec enters (NULL or "": none); needs the host's /proc. */
int rt_apply_apparmor(const char *profile, crl_error_t *err);
/* Sets oom_score_adj; a value below the current one that the caller may not set (no CAP_SYS_RESOURCE) is
 * clamped to the current one, and *ret_clamped tells so. */
int rt_apply_oom_score_adj(int value, bool *ret_clamped, crl_error_t *err);
/* Raising a hard limit above what this process may (no CAP_SYS_RESOURCE) clamps it to the current hard limit. */
int rt_apply_rlimits(const rt_spec_t *s, crl_error_t *err);
/* Bounding set, groups, gid, uid, then the other capability sets, keeping capabilities across the uid change. */
int rt_apply_user_and_caps(const rt_spec_t *s, crl_error_t *err);
int rt_apply_no_new_privs(crl_error_t *err);
int rt_apply_seccomp(const rt_seccomp_t *sc, crl_error_t *err);
/* The RuntimeDefault profile, equivalent in effect to Docker's and containerd's default: an allowlist of the
 * syscalls libseccomp knows for this architecture minus the dangerous ones, each given back when bounding
 * holds the capability that gates it; clone without namespace flags and clone3 ENOSYS (so libc falls back)
 * unless CAP_SYS_ADMIN; personality and socket restricted. */
int rt_seccomp_runtime_default(uint64_t bounding, rt_seccomp_t **ret, crl_error_t *err);
