/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The image store, in one directory:
 *   images.json          the images (versioned JSON, written atomically)
 *   blobs/sha256/<hex>   image configs, content-addressed
 *   layers/<hex>/        each layer unpacked once, by diff_id, in overlayfs format
 *   tmp/                 staging; whatever is there at start is a leftover of a crash and is removed
 * Work is staged and moved into place, and an image is listed only once all its layers and its config are in
 * place, so a daemon killed mid-pull leaves no half image visible. Layers and configs are not synced one by one:
 * a pull syncs the store's file system once before it lists its image (img_store_sync), so after a power loss
 * what the index lists is whole, and what it does not list (whole or not) is removed at the next start. */

#define IMG_STORE_VERSION 1

typedef struct img_image {
	char *id; /* the config digest */
	char **repo_tags;
	size_t n_tags;
	char **repo_digests;
	size_t n_digests;
	uint64_t size;
	char *user;
	char **layers; /* diff_ids, bottom first */
	size_t n_layers;
	/* The compressed digests the layers were pulled as (n_layers of them), or NULL: the store knows a layer by
	 * it before the image's config is in (img_store_blob_acquire). Not in the copies img_store_list makes. */
	char **layer_digests;
	int64_t created_ns;
} img_image_t;

typedef struct img_store img_store_t;

int img_store_open(const char *dir, img_store_t **ret, crl_error_t *err);
void img_store_close(img_store_t *s);
const char *img_store_dir(const img_store_t *s);

void img_image_free(img_image_t *img);
void img_images_free(img_image_t **imgs, size_t n);
/* Copies of every image, in the order they were added. */
int img_store_list(img_store_t *s, img_image_t ***ret, size_t *ret_n, crl_error_t *err);
/* By id ("sha256:<hex>", "<hex>" or a unique prefix of at least 3 hex digits), repo tag or repo digest (as
 * given or normalised: "busybox" finds docker.io/library/busybox:latest). ENOENT when none. */
int img_store_find(img_store_t *s, const char *name, img_image_t **ret, crl_error_t *err);
/* A tag given while the image has other tags only loses that tag; otherwise the image goes, with every layer
 * and config no other image uses. Removing what does not exist is fine. */
int img_store_remove(img_store_t *s, const char *name, crl_error_t *err);
int img_store_read_config(img_store_t *s, const char *id, char **ret_json, size_t *ret_len, crl_error_t *err);

/* --- for pulls --- */
/* Waits while another pull unpacks diff_id; then *ret_have tells whether it is in the store. When it is not,
 * the caller owns it until img_store_layer_release (and must commit it or give up). */
int img_store_layer_acquire(img_store_t *s, const char *diff_id, bool *ret_have, crl_error_t *err);
void img_store_layer_release(img_store_t *s, const char *diff_id);
/* img_store_layer_acquire for a pull that has a layer's compressed digest and not yet its diff_id: waits while
 * another pull downloads that digest; then, when the store holds a layer unpacked from it, *ret_have with its
 * diff_id in *ret_diff (pinned, as img_store_layer_acquire pins). Otherwise the caller owns the digest until
 * img_store_layer_release(digest): other pulls of it wait. */
int img_store_blob_acquire(img_store_t *s, const char *digest, bool *ret_have, char **ret_diff, crl_error_t *err);
/* Remembers that the compressed digest unpacks to diff_id (a layer found by diff_id under another digest). */
void img_store_learn_digest(img_store_t *s, const char *digest, const char *diff_id);
/* Whether every image records its layers' compressed digests (indexes written before they did, do not). */
bool img_store_knows_digests(img_store_t *s);
/* A fresh staging directory in tmp/: its path and an fd. */
int img_store_stage(img_store_t *s, char **ret_path, int *ret_fd, crl_error_t *err);
/* Moves a staged, verified layer into place as layers/<hex of diff_id>; digest, when not NULL, is the compressed
 * blob it came from (remembered for img_store_blob_acquire). Not synced (see img_store_sync). */
int img_store_commit_layer(img_store_t *s, const char *stage_path, const char *diff_id, const char *digest,
			   crl_error_t *err);
/* Stores a blob under its digest; one already there (content-addressed, written whole) is kept. Not synced (see
 * img_store_sync). */
int img_store_put_blob(img_store_t *s, const char *digest, const void *data, size_t len, crl_error_t *err);
/* A layer (diff_id) or blob (digest) a pull uses, kept from the collections until unpinned (one unpin a pin;
 * img_store_layer_acquire pins its diff_id when it succeeds). */
int img_store_pin(img_store_t *s, const char *digest, crl_error_t *err);
void img_store_unpin(img_store_t *s, const char *digest);
/* Syncs to disk what pulls (this one and others) moved into place unsynced since the last sync (one syncfs; none
 * when nothing was): a pull calls it before img_store_add, so what the index lists is on disk before the index
 * that lists it. A failure is the pull's (it lists nothing). */
int img_store_sync(img_store_t *s, crl_error_t *err);
/* Adds img (or merges its tags and digests into the image with the same id); a tag moves from whatever image
 * held it. Persisted before it returns (not written again when nothing changed). */
int img_store_add(img_store_t *s, const img_image_t *img, crl_error_t *err);
