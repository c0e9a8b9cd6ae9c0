/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* protobuf-c sends whatever bytes a string holds; Go peers (kubelet, crictl) reject invalid UTF-8. */

/* Whether every string in msg (nested messages included) is valid UTF-8. */
bool srv_message_utf8_valid(const ProtobufCMessage *msg);
/* Replaces each invalid string of msg with a cleaned copy (invalid bytes become U+FFFD) from alloc(ctx, size);
 * release(ctx, old) is called for the string replaced (NULL: nothing to release). 0, or -ENOMEM. */
int srv_message_sanitize(ProtobufCMessage *msg, void *(*alloc)(void *ctx, size_t size), void (*release)(void *ctx, char *old),
			 void *ctx);
