/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "common/error.h"

/* An overlayfs mount of read-only layers (lower[0] is the top layer) and an upper/work pair on target. Long
 * layer lists work: the new mount API takes one "lowerdir+" at a time (kernel >= 6.8); older kernels get a
 * mount(2) whose option string is limited to a page. */
int rt_overlay_mount(char *const *lower, size_t n_lower, const char *upper, const char *work, const char *target,
		     crl_error_t *err);
