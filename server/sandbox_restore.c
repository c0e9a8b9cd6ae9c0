/* SPDX-License-Identifier: Apache-2.0 */
/* At start: the pods of the records under <root>/pods come back. A RunPodSandbox cut off half way is undone; a
 * pod whose monitor is gone (a reboot, a kill) is listed NOTREADY until kubelet removes it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon.h"
#include "exit_watch.h"
#include "pod.h"
#include "state.h"

static void restore_one(srv_daemon_t *d, const char *file)
{
	crl_error_t e = CRL_ERROR_INIT;
	srv_pod_t *p = NULL;
	if (srv_pod_load(d, file, &p, &e) < 0) {
		/* Kept as it is: a newer crio-lite may read it. */
		log_error("pod record %s/pods/%s: %s; left alone", d->cfg.root, file, crl_error_message(&e));
		crl_error_clear(&e);
		return;
	}
	if (p->state == SRV_POD_CREATING) {
		log_warn("pod %s (%s): RunPodSandbox was cut off; undoing it", p->obj.id, p->obj.name);
		if (srv_pod_teardown(d, p, &e) < 0) {
			log_error("pod %s: %s (tried again at the next start)", p->obj.id, crl_error_message(&e));
			crl_error_clear(&e);
		}
		srv_pod_unref(p);
		return;
	}
	if (srv_store_insert(d->pods, &p->obj, &e) < 0) {
		log_error("pod %s: %s", p->obj.id, crl_error_message(&e));
		crl_error_clear(&e);
		srv_pod_unref(p);
		return;
	}
	bool alive = srv_pod_monitor_alive(p);
	if (alive && srv_exits_watch(d->exits, p->dir, &e) < 0) {
		log_error("pod %s: %s (exits are seen when asked for only)", p->obj.id, crl_error_message(&e));
		crl_error_clear(&e);
	}
	if (!alive && p->state == SRV_POD_READY) {
		log_warn("pod %s (%s): its monitor is gone; NOTREADY", p->obj.id, p->obj.name);
		p->state = SRV_POD_NOTREADY;
		if (srv_pod_save(d, p, &e) < 0) {
			log_error("pod %s: %s", p->obj.id, crl_error_message(&e));
			crl_error_clear(&e);
		}
	}
	log_info("pod %s (%s) restored: %s, monitor %s", p->obj.id, p->obj.name,
		 p->state == SRV_POD_READY ? "ready" : "not ready", alive ? "reconnected" : "gone");
	srv_pod_unref(p);
}

int srv_pods_restore(srv_daemon_t *d, crl_error_t *err)
{
	int fd = fcntl(d->pods_fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return crl_error_set_errno(err, errno, "read %s/pods", d->cfg.root);
	}
	rewinddir(dir);
	struct dirent *de;
	size_t n = 0;
	char id[SRV_ID_LEN + 1];
	while ((de = readdir(dir))) {
		if (!srv_record_id(de->d_name, id))
			continue;
		restore_one(d, de->d_name);
		n++;
	}
	closedir(dir);
	if (n)
		log_info("%zu pod records read, %zu pods restored", n, srv_store_count(d->pods));
	return 0;
}
