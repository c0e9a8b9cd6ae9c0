/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "daemon.h"
#include "handlers.h"
#include "image_common.h"

/* An image that does not exist is no error: the response carries no image (CRI semantics). */
int srv_image_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ImageStatusRequest *r = req;
	Runtime__V1__ImageStatusResponse *out = resp;
	const char *name = NULL;
	int ret = srv_image_name(r->image, "image.image", &name, err);
	if (ret < 0)
		return ret;
	img_image_t *img = NULL;
	ret = img_store_find(d->images, name, &img, err);
	if (ret == -ENOENT) {
		crl_error_clear(err);
		return 0;
	}
	if (ret < 0)
		return ret;
	out->image = srv_image_to_proto(call, img);
	if (!out->image)
		ret = crl_error_set(err, ENOMEM, "out of memory");
	if (ret == 0 && r->verbose) {
		_cleanup_free_ char *cfg = NULL, *info = NULL;
		size_t len = 0;
		if ((ret = img_store_read_config(d->images, img->id, &cfg, &len, err)) < 0) {
			crl_error_wrap(err, "config of image %s", img->id);
		} else if (asprintf(&info, "{\"id\":\"%s\",\"imageSpec\":%s}", img->id, cfg) < 0) {
			ret = crl_error_set(err, ENOMEM, "out of memory");
		} else {
			Runtime__V1__ImageStatusResponse__InfoEntry *e = srv_call_alloc(call, sizeof(*e));
			out->info = srv_call_alloc(call, sizeof(*out->info));
			if (!e || !out->info) {
				ret = crl_error_set(err, ENOMEM, "out of memory");
			} else {
				runtime__v1__image_status_response__info_entry__init(e);
				e->key = (char *)"info";
				e->value = srv_call_strdup(call, info);
				out->info[0] = e;
				out->n_info = e->value ? 1 : 0;
				if (!e->value)
					ret = crl_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	img_image_free(img);
	return ret;
}
