/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
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
	/* The whole list as JSON text, what exec needs: a .conf/.json file's single plugin becomes
	 * {"cniVersion","name","plugins":[the file's object]}, as libcni's ConfListFromConf does. */
	char *conflist;
} cni_network_t;

/* The network to use: the one named wanted (when not empty) or the first valid one. Fails with ENOENT and a
 * message naming the directory when there is none; invalid files are passed over (their problem is reported
 * when nothing valid remains). */
int cni_conf_load(const char *dir, const char *wanted, cni_network_t **ret, crl_error_t *err);
/* A network from the JSON text of a conflist (list true) or of a single-plugin config; file names it in messages
 * and is kept in ret->file. */
int cni_conf_parse(const char *text, const char *file, bool list, cni_network_t **ret, crl_error_t *err);
/* Every plugin of the chain is an executable file in one of dirs (NULL-terminated). */
int cni_conf_check_plugins(const cni_network_t *net, char *const *dirs, crl_error_t *err);
/* The first dir/type that is a regular executable file, in *ret_path; -ENOENT (err untouched) when none is. */
int cni_conf_find_plugin(char *const *dirs, const char *type, char **ret_path, crl_error_t *err);
/* dirs joined with ':' (CNI_PATH); NULL when out of memory. */
char *cni_conf_join_dirs(char *const *dirs);
void cni_network_free(cni_network_t *net);
