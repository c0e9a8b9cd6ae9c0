/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* Registry configuration in the containers-registries.conf(5) format CRI-O users already have (version 2:
 * unqualified-search-registries, [[registry]] prefix/location/insecure/blocked/mirror-by-digest-only,
 * [[registry.mirror]] location/insecure/pull-from-mirror; version 1's [registries.search|insecure|block] too).
 * Keys this file format has that crio-lite does not use ([aliases], short-name-mode, credential-helpers ...) are
 * accepted and ignored, as containers/image ignores what it does not know. */

#define IMG_REGISTRIES_MAX_BYTES (1024 * 1024)

typedef struct img_mirror {
	char *location;
	bool insecure;
	int pull_from; /* IMG_PULL_FROM_* */
} img_mirror_t;

enum { IMG_PULL_FROM_ALL = 0, IMG_PULL_FROM_DIGEST_ONLY, IMG_PULL_FROM_TAG_ONLY };

typedef struct img_registry {
	char *prefix;
	char *location;
	bool insecure;
	bool blocked;
	bool mirror_by_digest_only;
	img_mirror_t *mirrors;
	size_t n_mirrors;
} img_registry_t;

typedef struct img_registries {
	char **search; /* NULL-terminated unqualified-search-registries */
	img_registry_t *regs;
	size_t n_regs;
} img_registries_t;

/* One place to pull a repository from: "host[:port]/path" and whether plain HTTP / unverified TLS is allowed. */
typedef struct img_endpoint {
	char *repo;
	bool insecure;
	bool mirror;
} img_endpoint_t;

int img_registries_parse(const char *text, size_t len, const char *filename, img_registries_t **ret,
			 crl_error_t *err);
/* A missing file is an empty configuration. */
int img_registries_load(const char *path, img_registries_t **ret, crl_error_t *err);
void img_registries_free(img_registries_t *r);
/* The endpoints to try for repo ("domain/path"), in order: the matching entry's mirrors (those that serve this
 * kind of pull), then its location. EACCES when the registry is blocked. */
int img_registries_endpoints(const img_registries_t *r, const char *repo, bool by_digest, img_endpoint_t **ret,
			     size_t *ret_n, crl_error_t *err);
void img_endpoints_free(img_endpoint_t *e, size_t n);
