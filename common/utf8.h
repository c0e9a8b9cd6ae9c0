/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* protobuf-c does not check that string fields are UTF-8, but peers (Go's protobuf) reject messages that are not. */
bool crl_utf8_valid(const char *s, size_t len);
/* Writes s with every invalid sequence replaced by U+FFFD into out (room for 3 * len + 1 bytes); returns the
 * length written (NUL-terminated). */
size_t crl_utf8_sanitize(const char *s, size_t len, char *out);
