/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "common/base64.h"
#include "common/error.h"

/* Registry authentication pieces: WWW-Authenticate challenges (RFC 7235 with the registry token flow's realm,
 * service and scope) and base64. */

typedef enum { IMG_AUTH_NONE, IMG_AUTH_BASIC, IMG_AUTH_BEARER } img_auth_scheme_t;

typedef struct img_challenge {
	img_auth_scheme_t scheme;
	char *realm;
	char *service;
	char *scope;
} img_challenge_t;

int img_challenge_parse(const char *header, img_challenge_t *ret, crl_error_t *err);
void img_challenge_clear(img_challenge_t *c);

