/* SPDX-License-Identifier: Apache-2.0 */
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "daemon.h"

#define RUNTIME_CONFIG_FILE "runtime-config.json"

char *srv_record_name(const char *id)
{
	char *s = NULL;
	return asprintf(&s, "%s.json", id) < 0 ? NULL : s;
}

bool srv_record_id(const char *name, char id[SRV_ID_LEN + 1])
{
	if (name[0] == '.' || strlen(name) != SRV_ID_LEN + 5 || strcmp(name + SRV_ID_LEN, ".json") != 0)
		return false;
	memcpy(id, name, SRV_ID_LEN);
	id[SRV_ID_LEN] = '\0';
	return true;
}

int srv_record_write(int dirfd, const char *name, crl_json_t *j, bool durable, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = crl_json_finish(j, &text, &len, err);
	if (r < 0)
		return r;
	if (len > SRV_RECORD_MAX_BYTES)
		return crl_error_set(err, EFBIG, "the record would be %zu bytes, more than the %d a restart reads", len,
				     SRV_RECORD_MAX_BYTES);
	return durable ? crl_fs_write_atomic(dirfd, name, text, len, 0600, err)
		       : crl_fs_write_replace(dirfd, name, text, len, 0600, err);
}

int srv_record_read(int dirfd, const char *name, int version, crl_json_value_t **ret, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	int r = crl_fs_read_file(dirfd, name, SRV_RECORD_MAX_BYTES, &text, NULL, err);
	if (r < 0 || (r = crl_json_parse(text, ret, err)) < 0)
		return r;
	int64_t v = 0;
	if (!crl_json_get_int(crl_json_get(*ret, "version"), &v) || v != version) {
		crl_json_value_free(*ret);
		*ret = NULL;
		return crl_error_set(err, EINVAL, "unsupported record version %lld (this crio-lite reads %d)", (long long)v,
				     version);
	}
	return 0;
}

char *srv_record_dup(const crl_json_value_t *doc, const char *key)
{
	const char *s = crl_json_get_string(crl_json_get(doc, key));
	return s && *s ? strdup(s) : NULL;
}

int srv_state_save_runtime_config(srv_daemon_t *d, const char *pod_cidr, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", SRV_STATE_VERSION);
	crl_json_kv_string(j, "pod_cidr", pod_cidr);
	crl_json_object_end(j);
	int r = crl_json_save(j, d->root_fd, RUNTIME_CONFIG_FILE, 0600, err);
	if (r < 0)
		return crl_error_wrap(err, "save runtime config");
	return 0;
}

int srv_state_load_runtime_config(srv_daemon_t *d, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	int r = crl_fs_read_file(d->root_fd, RUNTIME_CONFIG_FILE, SRV_STATE_MAX_BYTES, &text, NULL, &e);
	const char *cidr = "";
	crl_json_value_t *doc = NULL;
	if (r == -ENOENT) {
		crl_error_clear(&e);
	} else if (r < 0) {
		*err = e;
		return crl_error_wrap(err, "load runtime config");
	} else {
		if ((r = crl_json_parse(text, &doc, err)) < 0)
			return crl_error_wrap(err, "%s/%s", d->cfg.root, RUNTIME_CONFIG_FILE);
		int64_t v = 0;
		if (!crl_json_get_int(crl_json_get(doc, "version"), &v) || v != SRV_STATE_VERSION) {
			crl_json_value_free(doc);
			return crl_error_set(err, EINVAL, "%s/%s: unsupported state version (this crio-lite reads %d)",
					     d->cfg.root, RUNTIME_CONFIG_FILE, SRV_STATE_VERSION);
		}
		const char *s = crl_json_get_string(crl_json_get(doc, "pod_cidr"));
		if (s)
			cidr = s;
	}
	char *copy = strdup(cidr);
	crl_json_value_free(doc);
	if (!copy)
		return crl_error_set(err, ENOMEM, "out of memory");
	free(d->pod_cidr);
	d->pod_cidr = copy;
	return 0;
}
