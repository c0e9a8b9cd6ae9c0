/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <time.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "daemon.h"
#include "handlers.h"

/* The image store's file system: where it lives, and the bytes and inodes it takes. Containers' writable layers
 * are not on a separate file system, so container_filesystems stays empty (kubelet then uses the image one). */
int srv_image_fs_info(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)req;
	Runtime__V1__ImageFsInfoResponse *r = resp;
	uint64_t bytes = 0, inodes = 0;
	int ret = crl_fs_usage(d->image_dir, &bytes, &inodes, err);
	if (ret < 0)
		return crl_error_wrap(err, "image store usage");
	Runtime__V1__FilesystemUsage *u = srv_call_alloc(call, sizeof(*u));
	Runtime__V1__FilesystemIdentifier *id = srv_call_alloc(call, sizeof(*id));
	Runtime__V1__UInt64Value *ub = srv_call_alloc(call, sizeof(*ub));
	Runtime__V1__UInt64Value *ui = srv_call_alloc(call, sizeof(*ui));
	Runtime__V1__FilesystemUsage **list = srv_call_alloc(call, sizeof(*list));
	if (!u || !id || !ub || !ui || !list)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__filesystem_usage__init(u);
	runtime__v1__filesystem_identifier__init(id);
	runtime__v1__uint64_value__init(ub);
	runtime__v1__uint64_value__init(ui);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	u->timestamp = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	id->mountpoint = d->image_dir;
	ub->value = bytes;
	ui->value = inodes;
	u->fs_id = id;
	u->used_bytes = ub;
	u->inodes_used = ui;
	list[0] = u;
	r->image_filesystems = list;
	r->n_image_filesystems = 1;
	return 0;
}
