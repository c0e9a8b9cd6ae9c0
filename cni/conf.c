/* SPDX-License-Identifier: Apache-2.0 */
#include "conf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"

void cni_network_free(cni_network_t *net)
{
	if (!net)
		return;
	free(net->name);
	free(net->cni_version);
	free(net->file);
	crl_strv_free(net->plugin_types);
	free(net->conflist);
	free(net);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && strcmp(s + n - m, suf) == 0;
}

static int conf_filter(const struct dirent *de)
{
	return has_suffix(de->d_name, ".conflist") || has_suffix(de->d_name, ".conf") ||
	       has_suffix(de->d_name, ".json");
}

static int plugin_type(const crl_json_value_t *plugin, const char *file, char **ret, crl_error_t *err)
{
	const char *type = crl_json_get_string(crl_json_get(plugin, "type"));
	if (!type || !*type)
		return crl_error_set(err, EINVAL, "%s: a plugin has no \"type\"", file);
	if (strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
		return crl_error_set(err, EINVAL, "%s: plugin type '%s' is not a plain name", file, type);
	if (!(*ret = strdup(type)))
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* The list as exec wants it, compact: the conflist itself, or one made around a single plugin's object. */
static int conflist_text(const crl_json_value_t *doc, cni_network_t *net, bool list, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	if (list) {
		crl_json_value(j, doc);
	} else {
		crl_json_object_begin(j);
		crl_json_kv_string(j, "cniVersion", net->cni_version);
		crl_json_kv_string(j, "name", net->name);
		crl_json_key(j, "plugins");
		crl_json_array_begin(j);
		crl_json_value(j, doc);
		crl_json_array_end(j);
		crl_json_object_end(j);
	}
	if (crl_json_finish(j, &net->conflist, NULL, err) < 0)
		return crl_error_wrap(err, "%s", net->file);
	return 0;
}

static int from_value(const crl_json_value_t *doc, bool list, cni_network_t *net, crl_error_t *err)
{
	const char *nm = crl_json_get_string(crl_json_get(doc, "name"));
	const char *ver = crl_json_get_string(crl_json_get(doc, "cniVersion"));
	const crl_json_value_t *plugins = crl_json_get(doc, "plugins");
	if (!crl_json_is_object(doc))
		return crl_error_set(err, EINVAL, "%s: not a JSON object", net->file);
	if (!nm || !*nm)
		return crl_error_set(err, EINVAL, "%s: no network \"name\"", net->file);
	if (!(net->name = strdup(nm)) || !(net->cni_version = strdup(ver ? ver : "")))
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t n = list ? crl_json_array_len(plugins) : 1;
	if (n == 0)
		return crl_error_set(err, EINVAL, "%s: \"plugins\" is missing or empty", net->file);
	if (!(net->plugin_types = calloc(n + 1, sizeof(char *))))
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		int r = plugin_type(list ? crl_json_array_at(plugins, i) : doc, net->file, &net->plugin_types[i], err);
		if (r < 0)
			return r;
	}
	return conflist_text(doc, net, list, err);
}

int cni_conf_parse(const char *text, const char *file, bool list, cni_network_t **ret, crl_error_t *err)
{
	crl_json_value_t *doc = NULL;
	int r = crl_json_parse(text, &doc, err);
	if (r < 0)
		return crl_error_wrap(err, "%s", file);
	cni_network_t *net = calloc(1, sizeof(*net));
	if (!net || !(net->file = strdup(file)))
		r = crl_error_set(err, ENOMEM, "out of memory");
	else
		r = from_value(doc, list, net, err);
	crl_json_value_free(doc);
	if (r < 0) {
		cni_network_free(net);
		return r;
	}
	*ret = net;
	return 0;
}

static int parse_file(int dirfd, const char *dir, const char *name, cni_network_t **ret, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	int r = crl_fs_read_file(dirfd, name, CNI_CONF_MAX_BYTES, &text, NULL, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *file = NULL;
	if (asprintf(&file, "%s/%s", dir, name) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	return cni_conf_parse(text, file, has_suffix(name, ".conflist"), ret, err);
}

int cni_conf_load(const char *dir, const char *wanted, cni_network_t **ret, crl_error_t *err)
{
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT)
			return crl_error_set(err, ENOENT, "no CNI configuration: directory %s does not exist", dir);
		return crl_error_set_errno(err, errno, "cannot open CNI configuration directory %s", dir);
	}
	struct dirent **list = NULL;
	/* scandir takes a path; the fd above keeps the reads in the directory we checked. */
	int n = scandir(dir, &list, conf_filter, alphasort);
	if (n < 0)
		return crl_error_set_errno(err, errno, "cannot list %s", dir);
	int r = -ENOENT;
	crl_error_t last = CRL_ERROR_INIT;
	for (int i = 0; i < n; i++) {
		if (r == 0)
			break;
		cni_network_t *net = NULL;
		crl_error_t e = CRL_ERROR_INIT;
		if (parse_file(dirfd, dir, list[i]->d_name, &net, &e) < 0) {
			crl_error_clear(&last);
			last = e;
			continue;
		}
		if (wanted && *wanted && strcmp(net->name, wanted) != 0) {
			cni_network_free(net);
			continue;
		}
		*ret = net;
		r = 0;
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	if (r == 0) {
		crl_error_clear(&last);
		return 0;
	}
	if (wanted && *wanted)
		r = crl_error_set(err, ENOENT, "no CNI network named '%s' in %s%s%s", wanted, dir,
				  last.errnum ? "; skipped: " : "", last.errnum ? crl_error_message(&last) : "");
	else
		r = crl_error_set(err, ENOENT, "no valid CNI network configuration in %s%s%s", dir,
				  last.errnum ? "; skipped: " : "", last.errnum ? crl_error_message(&last) : "");
	crl_error_clear(&last);
	return r;
}

char *cni_conf_join_dirs(char *const *dirs)
{
	size_t len = 1;
	for (char *const *d = dirs; d && *d; d++)
		len += strlen(*d) + 1;
	char *s = malloc(len), *o = s;
	if (!s)
		return NULL;
	*o = '\0';
	for (char *const *d = dirs; d && *d; d++)
		o = stpcpy(stpcpy(o, d == dirs ? "" : ":"), *d);
	return s;
}

int cni_conf_find_plugin(char *const *dirs, const char *type, char **ret_path, crl_error_t *err)
{
	for (char *const *d = dirs; d && *d; d++) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", *d, type) < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
			*ret_path = TAKE_PTR(path);
			return 0;
		}
	}
	return -ENOENT;
}

int cni_conf_check_plugins(const cni_network_t *net, char *const *dirs, crl_error_t *err)
{
	for (char **t = net->plugin_types; *t; t++) {
		_cleanup_free_ char *path = NULL;
		int r = cni_conf_find_plugin(dirs, *t, &path, err);
		if (r == -ENOENT) {
			_cleanup_free_ char *where = cni_conf_join_dirs(dirs);
			return crl_error_set(err, ENOENT, "CNI plugin '%s' of network '%s' (%s) not found in %s", *t,
					     net->name, net->file, !where ? "?" : *where ? where : "(no plugin_dirs)");
		}
		if (r < 0)
			return r;
	}
	return 0;
}
