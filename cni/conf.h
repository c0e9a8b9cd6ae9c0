/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "common/error.h"

/* CNI network configurations, found as libcni finds them: files ending .conflist, .conf or .json in the network
 * directory, in name order; .conf/.json hold a single plugin. */

/* A config file larger than this is skipped as invalid. */
#define CNI_CONF_MAX_BYTES (1024 * 1024)

typedef struct cni_network {
	char *name;
	char *cni_version;
	char *file;          /* full path of the file it came from */
	char **plugin_types; /* NULL-terminated, in chain order */
} cni_network_t;

/* The network to use: the one named wanted (when not empty) or the first valid one. Fails with ENOENT and a
 * message naming the directory when there is none; invalid files are passed over (their problem is reported
 * when nothing valid remains). */
int cni_conf_load(const char *dir, const char *wanted, cni_network_t **ret, crl_error_t *err);
/* Every plugin of the chain is an executable file in one of dirs (NULL-terminated). */
int cni_conf_check_plugins(const cni_network_t *net, char *const *dirs, crl_error_t *err);
void cni_network_free(cni_network_t *net);
