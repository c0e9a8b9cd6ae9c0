/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Docker schema 2 and OCI manifests, manifest lists / OCI indexes, and image configs. */

#define IMG_MANIFEST_MAX_BYTES (4 * 1024 * 1024)
#define IMG_CONFIG_MAX_BYTES (8 * 1024 * 1024)
#define IMG_MAX_LAYERS 256

#define IMG_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMG_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMG_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

typedef enum { IMG_COMP_NONE, IMG_COMP_GZIP, IMG_COMP_ZSTD } img_compression_t;

typedef struct img_descriptor {
	char *media_type;
	char *digest;
	int64_t size;
	img_compression_t compression; /* layers */
} img_descriptor_t;

typedef struct img_manifest {
	bool is_index;
	char *media_type;
	/* a manifest */
	img_descriptor_t config;
	img_descriptor_t *layers;
	size_t n_layers;
	/* an index: the chosen manifest for the platform */
	img_descriptor_t chosen;
} img_manifest_t;

typedef struct img_platform {
	const char *os;
	const char *arch;
	const char *variant; /* "" when the architecture has none */
} img_platform_t;

/* This machine's platform in OCI terms (linux, amd64/arm64/..., variant). */
void img_platform_host(img_platform_t *p);
/* Parses a manifest or index (media_type from the HTTP Content-Type, or "" to use the document's own). For an
 * index, picks the entry for platform (exact variant first, then one without a variant). */
int img_manifest_parse(const char *text, size_t len, const char *media_type, const img_platform_t *platform,
		       img_manifest_t **ret, crl_error_t *err);
void img_manifest_free(img_manifest_t *m);

typedef struct img_config {
	char *user;
	char **diff_ids; /* NULL-terminated */
	size_t n_diff_ids;
	char *os;
	char *arch;
} img_config_t;

int img_config_parse(const char *text, size_t len, img_config_t **ret, crl_error_t *err);
void img_config_free(img_config_t *c);
/* User "1000", "1000:1000", "name", "name:group": the uid when the user part is numeric. */
bool img_user_uid(const char *user, int64_t *ret_uid, const char **ret_name, size_t *ret_name_len);
