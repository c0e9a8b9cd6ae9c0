/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* The distribution v2 API over libcurl: manifests and blobs of one repository on one endpoint. Thread-safe:
 * layers of one pull download in parallel through the same connection (one curl handle per request). */

typedef struct img_creds {
	const char *username;
	const char *password;
	const char *identity_token; /* OAuth2 refresh token for the token endpoint */
	const char *registry_token; /* a bearer token to send as it is */
} img_creds_t;

typedef struct img_pull_opts {
	/* A transfer that moves no byte for this long is aborted (0: 5 minutes). */
	long progress_timeout_s;
	/* Polled during transfers; true aborts with ECANCELED. */
	bool (*cancelled)(void *arg);
	void *cancel_arg;
	/* Where "docker.io" really is (tests point it elsewhere); NULL: registry-1.docker.io. */
	const char *docker_io_host;
} img_pull_opts_t;

/* What pulls share for speed: a connection cache (and DNS and TLS sessions) reused across requests and pulls,
 * and which insecure hosts speak plain HTTP. One per daemon; thread-safe. */
typedef struct img_http img_http_t;
int img_http_new(img_http_t **ret, crl_error_t *err);
void img_http_free(img_http_t *h);

typedef struct img_conn img_conn_t;

/* endpoint: "host[:port]/path" as registries.conf resolution gives it. http may be NULL (nothing shared). */
int img_conn_new(img_http_t *http, const char *endpoint, bool insecure, const img_creds_t *creds,
		 const img_pull_opts_t *opts, img_conn_t **ret, crl_error_t *err);
void img_conn_free(img_conn_t *c);
const char *img_conn_endpoint(const img_conn_t *c);

/* A manifest or index by tag or digest, at most max bytes. *ret_media_type is the Content-Type. */
int img_conn_get_manifest(img_conn_t *c, const char *reference, size_t max, char **ret_body, size_t *ret_len,
			  char **ret_media_type, crl_error_t *err);
/* A small blob (a config) into memory, at most max bytes; not verified here. */
int img_conn_get_blob_small(img_conn_t *c, const char *digest, size_t max, char **ret_body, size_t *ret_len,
			    crl_error_t *err);

/* Bytes of a blob as they arrive; a negative return aborts the transfer with that error. */
typedef int (*img_sink_fn)(void *arg, const void *data, size_t len, crl_error_t *err);
int img_conn_get_blob(img_conn_t *c, const char *digest, img_sink_fn sink, void *arg, uint64_t *ret_bytes,
		      crl_error_t *err);
