/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "common/error.h"
#include "registry.h"
#include "store.h"

/* Parallel layer downloads of one pull. */
#define IMG_PULL_PARALLEL_LAYERS 3

/* Progress of one layer: bytes so far, its size, and whether it is done. */
typedef void (*img_progress_fn)(void *arg, const char *image, const char *layer_digest, uint64_t done,
				uint64_t total, bool finished);

typedef struct img_pull_req {
	img_http_t *http; /* shared connections; may be NULL */
	const char *image;           /* as the client wrote it */
	const char *registries_conf; /* path; a missing file means no rules */
	img_creds_t creds;
	img_pull_opts_t opts;
	img_progress_fn progress;
	void *progress_arg;
} img_pull_req_t;

/* Pulls into the store; *ret_id is the image id (its config digest). The reference is tried through
 * unqualified-search-registries when it names no registry, and each registry through its mirrors first. */
int img_pull(img_store_t *s, const img_pull_req_t *req, char **ret_id, crl_error_t *err);
