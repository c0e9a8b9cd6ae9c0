/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "common/error.h"

/* Image references, normalised as kubelet and crictl expect:
 *   busybox                    -> docker.io/library/busybox:latest
 *   example.com:5000/a/b       -> example.com:5000/a/b:latest
 *   name:tag@sha256:<64 hex>   -> both kept; pulls go by digest
 * Grammar as the distribution project defines it (lower-case path components separated by '/', optional domain
 * recognised by a '.' or ':' or "localhost", tags [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). */

#define IMG_REF_MAX_LEN 255 /* the repository name, without tag and digest */
#define IMG_DEFAULT_DOMAIN "docker.io"

typedef struct img_ref {
	char *domain;     /* "docker.io", "127.0.0.1:5000" */
	char *path;       /* "library/busybox" */
	char *tag;        /* NULL when only a digest was given */
	char *digest;     /* "sha256:..." or NULL */
	bool had_domain;  /* the text named its registry */
} img_ref_t;

int img_ref_parse(const char *text, img_ref_t **ret, crl_error_t *err);
/* The same reference with another domain (for search registries); the path gets "library/" only on docker.io. */
int img_ref_with_domain(const img_ref_t *ref, const char *domain, img_ref_t **ret, crl_error_t *err);
void img_ref_free(img_ref_t *ref);
/* "domain/path" */
char *img_ref_repo(const img_ref_t *ref);
/* "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest" */
char *img_ref_string(const img_ref_t *ref);
/* "sha256:" and 64 lower-case hex digits. */
bool img_digest_valid(const char *digest);
