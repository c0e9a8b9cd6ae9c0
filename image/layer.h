/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "manifest.h"

/* Streaming layer unpacking: compressed bytes in, an overlayfs-format directory out. The compressed bytes are
 * hashed (the blob digest), decompressed here (gzip, zstd or none), hashed again (the diff_id) and read as a tar
 * by libarchive in a thread of the unpacker's own, so unpacking overlaps the download.
 *
 * Safety: every entry is created below the target directory through fds: its path ("/x", "../../x", and
 * symlinks met on the way alike) is resolved inside the target (openat2 RESOLVE_IN_ROOT), the last component is
 * never followed, hard links must point inside the layer, and only user.* and security.capability xattrs are
 * kept (trusted.overlay.* from a tar could redirect overlayfs). Whiteouts become overlayfs whiteouts: .wh.NAME a
 * 0/0 character device NAME, .wh..wh..opq the xattr trusted.overlay.opaque=y on its directory. */

#define IMG_LAYER_MAX_ENTRIES 1000000

typedef struct img_unpacker img_unpacker_t;

/* target_dirfd: an empty directory (the staging place of the layer). */
int img_unpacker_new(int target_dirfd, img_compression_t comp, img_unpacker_t **ret, crl_error_t *err);
int img_unpacker_write(img_unpacker_t *u, const void *data, size_t len, crl_error_t *err);
/* Ends the stream and waits for the extraction. Returns the digests ("sha256:...") of the compressed and the
 * uncompressed stream and the uncompressed size. */
int img_unpacker_finish(img_unpacker_t *u, char **ret_digest, char **ret_diff_id, uint64_t *ret_size,
			crl_error_t *err);
/* Abandons the stream (after a failed download); the target is left for the caller to remove. */
void img_unpacker_free(img_unpacker_t *u);

/* Frees the buffers finished unpackers keep for the next ones, when none was taken or given back for unused_s
 * seconds (0: now); returns how many bytes that gave back. */
size_t img_unpacker_release_buffers(unsigned unused_s);

/* sha256 of a buffer as "sha256:<hex>". */
char *img_sha256_digest(const void *data, size_t len);
