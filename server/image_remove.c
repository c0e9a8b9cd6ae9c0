/* SPDX-License-Identifier: Apache-2.0 */
#include "api.pb-c.h"
#include "common/log.h"
#include "daemon.h"
#include "handlers.h"
#include "image_common.h"

int srv_remove_image(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__RemoveImageRequest *r = req;
	const char *name = NULL;
	int ret = srv_image_name(r->image, "image.image", &name, err);
	if (ret < 0)
		return ret;
	if ((ret = img_store_remove(d->images, name, err)) < 0)
		return crl_error_wrap(err, "remove image %s", name);
	log_info("removed image %s", name);
	return 0;
}
