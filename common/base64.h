/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Base64, standard alphabet. */
char *crl_base64_encode(const void *data, size_t len);
/* Padding optional; the result is NUL-terminated. -EINVAL on a character outside the alphabet. */
int crl_base64_decode(const char *s, char **ret, size_t *ret_len);
