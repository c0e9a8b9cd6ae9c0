/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Writes name in dirfd atomically: a temporary file in the same directory, fsync, rename over name, fsync the
 * directory. Readers see the old content or the new, never a mix. */
int crl_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err);
/* crl_fs_write_atomic without the fsyncs: readers still see the old content or the new, but a power loss may
 * lose the new. For intent records whose subject dies with the power too. */
int crl_fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err);
/* The new file synced before it replaces the old, the directory not: after a power loss name holds the old
 * content or the new, whole, whatever the file system (XFS, ext4 without auto_da_alloc); the rename itself may be
 * lost until the directory is synced. */
int crl_fs_write_replace_synced(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
				crl_error_t *err);
/* Creates name in dirfd (it must not exist) with data, without fsync: for volatile files (under the runroot) in a
 * directory the caller has just made, which nobody reads before the caller is done. */
int crl_fs_write_new(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err);
/* Reads the whole regular file behind fd, at most max bytes; the content is NUL-terminated. */
int crl_fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len, crl_error_t *err);
/* Reads a whole regular file (opened relative to dirfd, symlinks not followed) of at most max bytes. The
 * content is NUL-terminated. */
int crl_fs_read_file(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len, crl_error_t *err);
/* A small file (a /proc or /sys entry) read with one read(2) into buf (size bytes, NUL-terminated, no heap):
 * its length, or -errno. For files larger than buf, the first size - 1 bytes. */
ssize_t crl_fs_read_small(const char *path, char *buf, size_t size);
/* The mount holding path, from /proc/self/mountinfo: the deepest mount point above it (of mounts stacked on one
 * point, the top one), into mnt (mnt_size bytes), and with tags its optional fields ("shared:3 master:1"), cut to
 * tags_size. ENOENT when no mount holds it (path not absolute). */
int crl_fs_mount_of(const char *path, char *mnt, size_t mnt_size, char *tags, size_t tags_size, crl_error_t *err);
/* mkdir -p; existing directories are fine, other existing files are an error. */
int crl_fs_mkdir_p(const char *path, mode_t mode, crl_error_t *err);
/* Opens path below the directory rootfd as if rootfd were "/": absolute paths, "..", and symlinks are resolved
 * inside it (openat2 RESOLVE_IN_ROOT). Where openat2 is missing, the fallback walks component by component and
 * refuses symlinks rather than resolve them. */
int crl_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode, crl_error_t *err);
/* Bytes allocated (st_blocks * 512) and inodes used by everything below path, path included; symlinks are not
 * followed and an inode with several links counts once. */
int crl_fs_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes, crl_error_t *err);
/* Opens path below rootfd refusing any symlink on the way and anything that would leave rootfd
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; the fallback walks with O_NOFOLLOW). ELOOP or EXDEV then. */
int crl_fs_open_beneath_nofollow(int rootfd, const char *path, int flags, crl_error_t *err);
/* Opens the directory path below rootfd, making what is missing (0755) one component at a time. in_root:
 * symlinks on the way resolve inside the root (crl_fs_open_in_root); else a symlink or a file on the way is an
 * error (ELOOP, EXDEV or ENOTDIR), as for a layer being unpacked. */
int crl_fs_mkdirs_in_root(int rootfd, const char *path, bool in_root, int *ret_fd, crl_error_t *err);
/* Removes path and everything below it, without following symlinks. Missing is fine. */
int crl_fs_rm_rf(const char *path, crl_error_t *err);
/* The same for name in the directory parent, never leaving it. */
int crl_fs_rm_rf_at(int parent, const char *name, crl_error_t *err);
