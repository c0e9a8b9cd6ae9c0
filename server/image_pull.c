/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "daemon.h"
#include "handlers.h"
#include "image/auth.h"
#include "image/pull.h"
#include "image_common.h"
#include "metrics.h"

#define AUTH_FIELD_MAX 16384

static bool call_cancelled(void *arg)
{
	return srv_call_cancelled(arg);
}

static void progress(void *arg, const char *image, const char *layer, uint64_t done, uint64_t total, bool finished)
{
	if (finished)
		atomic_fetch_add((atomic_uint_fast64_t *)arg, done); /* layers come from several threads */
	if (finished)
		log_info("pull %s: layer %s done (%llu bytes)", image, layer, (unsigned long long)done);
	else
		log_info("pull %s: layer %s %llu/%llu bytes", image, layer, (unsigned long long)done, (unsigned long long)total);
}

static int check_len(const char *s, const char *field, crl_error_t *err)
{
	if (s && strlen(s) > AUTH_FIELD_MAX)
		return crl_error_set(err, EINVAL, "auth.%s is longer than %d bytes", field, AUTH_FIELD_MAX);
	return 0;
}

int srv_pull_image(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__PullImageRequest *r = req;
	Runtime__V1__PullImageResponse *out = resp;
	const char *image = NULL;
	int ret = srv_image_name(r->image, "image.image", &image, err);
	if (ret < 0)
		return ret;
	atomic_uint_fast64_t fetched = 0;
	int64_t t0 = crl_now_ns(CLOCK_MONOTONIC);
	img_pull_req_t pr = {
		.http = d->http,
		.image = image,
		.registries_conf = d->cfg.registries_conf,
		.opts = { .progress_timeout_s = d->pull_progress_timeout_s, .cancelled = call_cancelled, .cancel_arg = call },
		.progress = progress,
		.progress_arg = &fetched,
	};
	_cleanup_free_ char *decoded = NULL;
	const Runtime__V1__AuthConfig *a = r->auth;
	if (a) {
		if ((ret = check_len(a->username, "username", err)) < 0 || (ret = check_len(a->password, "password", err)) < 0 ||
		    (ret = check_len(a->auth, "auth", err)) < 0 || (ret = check_len(a->identity_token, "identity_token", err)) < 0 ||
		    (ret = check_len(a->registry_token, "registry_token", err)) < 0)
			return ret;
		pr.creds.username = a->username;
		pr.creds.password = a->password;
		pr.creds.identity_token = a->identity_token;
		pr.creds.registry_token = a->registry_token;
		if (a->auth && *a->auth && !(a->username && *a->username)) {
			/* "auth" is base64 of "user:password", as in a docker config.json. */
			size_t n = 0;
			if (crl_base64_decode(a->auth, &decoded, &n) < 0 || !strchr(decoded, ':'))
				return crl_error_set(err, EINVAL, "auth.auth is not base64 of user:password");
			char *colon = strchr(decoded, ':');
			*colon = '\0';
			pr.creds.username = decoded;
			pr.creds.password = colon + 1;
		}
	}
	log_info("pulling image %s", image);
	char *id = NULL;
	ret = img_pull(d->images, &pr, &id, err);
	srv_metrics_pull(ret < 0 ? err->errnum : 0, atomic_load(&fetched), crl_now_ns(CLOCK_MONOTONIC) - t0);
	if (decoded)
		explicit_bzero(decoded, strlen(decoded) + (pr.creds.password ? strlen(pr.creds.password) + 1 : 0));
	if (ret < 0)
		return ret;
	log_info("pulled image %s: %s", image, id);
	out->image_ref = srv_call_strdup(call, id);
	free(id);
	if (!out->image_ref)
		return crl_error_set(err, ENOMEM, "out of memory");
	return 0;
}
