/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "api.pb-c.h"
#include "grpc.h"
#include "image/store.h"

/* Longest image name a client may send. */
#define SRV_IMAGE_NAME_MAX 4096

/* An Image message for img, allocated from the call. */
Runtime__V1__Image *srv_image_to_proto(srv_call_t *call, const img_image_t *img);
/* The image name of an ImageSpec, checked: INVALID_ARGUMENT naming field when empty or too long. */
int srv_image_name(const Runtime__V1__ImageSpec *spec, const char *field, const char **ret, crl_error_t *err);
