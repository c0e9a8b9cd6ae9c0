/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "api.pb-c.h"
#include "daemon.h"
#include "handlers.h"
#include "image_common.h"

int srv_list_images(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__ListImagesRequest *r = req;
	Runtime__V1__ListImagesResponse *out = resp;
	img_image_t **imgs = NULL;
	size_t n = 0;
	int ret;
	const Runtime__V1__ImageSpec *spec = r->filter ? r->filter->image : NULL;
	if (spec && spec->image && *spec->image) {
		const char *name = NULL;
		if ((ret = srv_image_name(spec, "filter.image.image", &name, err)) < 0)
			return ret;
		img_image_t *one = NULL;
		ret = img_store_find(d->images, name, &one, err);
		if (ret == -ENOENT) {
			crl_error_clear(err);
			return 0;
		}
		if (ret < 0)
			return ret;
		imgs = calloc(1, sizeof(*imgs));
		if (!imgs) {
			img_image_free(one);
			return crl_error_set(err, ENOMEM, "out of memory");
		}
		imgs[0] = one;
		n = 1;
	} else if ((ret = img_store_list(d->images, &imgs, &n, err)) < 0) {
		return ret;
	}
	out->images = srv_call_alloc(call, (n ? n : 1) * sizeof(*out->images));
	ret = out->images ? 0 : crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (!(out->images[i] = srv_image_to_proto(call, imgs[i])))
			ret = crl_error_set(err, ENOMEM, "out of memory");
		else
			out->n_images++;
	}
	img_images_free(imgs, n);
	return ret;
}
