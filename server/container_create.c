/* SPDX-License-Identifier: Apache-2.0 */
/* CreateContainer and StartContainer: the bundle (config.json from CRI, the pod and the image; an overlay of the
 * image's layers with an upper dir of its own), the record, then the pod's monitor creates it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/timefmt.h"
#include "container.h"
#include "container_spec.h"
#include "daemon.h"
#include "handlers.h"
#include "image/store.h"
#include "pod.h"
#include "runtime/monitor/client.h"
#include "runtime/overlay.h"
#include "sanitize.h"

#define MONITOR_CALL_MS 60000
#define SECCOMP_PROFILE_MAX (1 << 20)

static int check_config(const Runtime__V1__CreateContainerRequest *r, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *c = r->config;
	if (!r->pod_sandbox_id || !*r->pod_sandbox_id)
		return crl_error_set(err, EINVAL, "pod_sandbox_id is required");
	if (!c)
		return crl_error_set(err, EINVAL, "config is required");
	if (!c->metadata || !c->metadata->name || !*c->metadata->name)
		return crl_error_set(err, EINVAL, "config.metadata.name is required");
	if (strlen(c->metadata->name) > 253 || strpbrk(c->metadata->name, "/\n\r"))
		return crl_error_set(err, EINVAL, "config.metadata.name '%.64s' is not a valid name", c->metadata->name);
	if (!c->image || !c->image->image || !*c->image->image)
		return crl_error_set(err, EINVAL, "config.image.image is required");
	if (c->log_path && (c->log_path[0] == '/' || strstr(c->log_path, "..")))
		return crl_error_set(err, EINVAL, "config.log_path '%.200s' must be relative to the pod's log directory "
						  "and stay inside it",
				     c->log_path);
	if (c->n_cdi_devices)
		return crl_error_set(err, EINVAL, "config.CDI_devices: no CDI specification directory exists on this node "
						  "(%s is not resolved)",
				     c->cdi_devices[0]->name);
	if (c->n_labels > SRV_POD_MAX_LABELS || c->n_annotations > SRV_POD_MAX_LABELS)
		return crl_error_set(err, EINVAL, "config: more than %d labels or annotations", SRV_POD_MAX_LABELS);
	if (srv_config_size_check(&c->base, err) < 0)
		return -EINVAL;
	if (!srv_message_utf8_valid(&c->base))
		return crl_error_set(err, EINVAL, "config: a string is not valid UTF-8");
	if (c->linux && srv_resources_check(c->linux->resources, "config.linux.resources", err) < 0)
		return -EINVAL;
	const Runtime__V1__LinuxContainerSecurityContext *sc = c->linux ? c->linux->security_context : NULL;
	/* A group without a user would run as the image's user with another group: refused, as containerd does. */
	if (sc && sc->run_as_group && !sc->run_as_user && !(sc->run_as_username && *sc->run_as_username))
		return crl_error_set(err, EINVAL, "config.linux.security_context.run_as_group is set without run_as_user "
						  "or run_as_username");
	return 0;
}

/* The image's layer directories, top first, and its config's "config" object (kept in *ret_doc). */
static int image_parts(srv_daemon_t *d, const img_image_t *img, char ***ret_layers, crl_json_value_t **ret_doc,
		       crl_error_t *err)
{
	_cleanup_free_ char *cfg = NULL;
	size_t len = 0;
	int r = img_store_read_config(d->images, img->id, &cfg, &len, err);
	if (r < 0)
		return crl_error_wrap(err, "config of image %s", img->id);
	if ((r = crl_json_parse(cfg, ret_doc, err)) < 0)
		return crl_error_wrap(err, "config of image %s", img->id);
	char **layers = calloc(img->n_layers + 1, sizeof(char *));
	if (!layers)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < img->n_layers; i++) {
		const char *diff = img->layers[img->n_layers - 1 - i];
		const char *hex = strchr(diff, ':') ? strchr(diff, ':') + 1 : diff;
		if (asprintf(&layers[i], "%s/layers/%s", img_store_dir(d->images), hex) < 0) {
			layers[i] = NULL;
			crl_strv_free(layers);
			return crl_error_set(err, ENOMEM, "out of memory");
		}
	}
	*ret_layers = layers;
	return 0;
}

static int read_seccomp(const Runtime__V1__LinuxContainerSecurityContext *sc, char **ret, crl_error_t *err)
{
	*ret = NULL;
	const char *path = NULL;
	/* An invalid seccomp_profile_path is refused with the spec; so is a Localhost one naming no file. */
	if (srv_seccomp_kind(sc, &path) != SRV_SECCOMP_LOCALHOST || !path)
		return 0;
	if (path[0] != '/')
		return crl_error_set(err, EINVAL, "seccomp: the Localhost profile '%.200s' is not an absolute path", path);
	int r = crl_fs_read_file(AT_FDCWD, path, SECCOMP_PROFILE_MAX, ret, NULL, err);
	/* A profile that cannot be read is the config's fault, whatever the reason. */
	return r < 0 ? crl_error_set(err, EINVAL, "seccomp Localhost profile: %s", crl_error_message(err)) : 0;
}

static char *image_ref_of(const img_image_t *img)
{
	return strdup(img->n_digests ? img->repo_digests[0] : img->id);
}

/* The target container's pid (pid mode TARGET), from the monitor; 0 when it runs no process. Only a container of
 * the same pod: its PID namespace is the pod's to share. */
static pid_t target_pid(srv_daemon_t *d, const srv_pod_t *p, const char *target, crl_error_t *err)
{
	srv_ctr_t *t = NULL;
	if (srv_ctr_get(d, target, &t, err) < 0)
		return -1;
	pid_t pid = -1;
	if (strcmp(t->pod_id, p->obj.id) != 0) {
		crl_error_set(err, EINVAL, "container %s is in pod %s, not in this one", t->obj.id, t->pod_id);
	} else {
		crl_json_t *j = srv_ctr_request(t, "state");
		crl_json_object_end(j);
		_cleanup_free_ char *req = crl_json_finish_text(j, NULL);
		crl_json_value_t *v = NULL;
		if (!req) {
			crl_error_set(err, ENOMEM, "out of memory");
		} else if (mon_client_call_once(p->dir, req, MONITOR_CALL_MS, &v, err) == 0) {
			int64_t n = 0;
			pid = crl_json_get_int(crl_json_get(v, "pid"), &n) && n > 0 ? (pid_t)n : 0;
			crl_json_value_free(v);
		}
	}
	srv_ctr_unref(t);
	return pid;
}

static int make_bundle(srv_daemon_t *d, srv_ctr_t *c, srv_pod_t *p, const img_image_t *img, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *cfg = c->config;
	char **layers = NULL;
	crl_json_value_t *doc = NULL;
	_cleanup_free_ char *rootfs = NULL, *upper = NULL, *work = NULL, *spec = NULL, *seccomp = NULL;
	_cleanup_close_ int bfd = -1;
	int r = image_parts(d, img, &layers, &doc, err);
	if (r < 0)
		goto out;
	if (asprintf(&rootfs, "%s/rootfs", c->bundle) < 0 || asprintf(&upper, "%s/upper", c->bundle) < 0 ||
	    asprintf(&work, "%s/work", c->bundle) < 0) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = crl_fs_mkdir_p(rootfs, 0755, err)) < 0 || (r = crl_fs_mkdir_p(upper, 0755, err)) < 0 ||
	    (r = crl_fs_mkdir_p(work, 0700, err)) < 0)
		goto out;
	const crl_json_value_t *icfg = crl_json_get(doc, "config");
	const Runtime__V1__LinuxContainerSecurityContext *sc = cfg->linux ? cfg->linux->security_context : NULL;
	srv_user_t user;
	if ((r = srv_user_resolve(layers, img->n_layers, sc, crl_json_get_string(crl_json_get(icfg, "User")), &user,
				  err)) < 0 ||
	    (r = read_seccomp(sc, &seccomp, err)) < 0)
		goto out;
	c->uid = user.uid;
	c->gid = user.gid;
	for (size_t i = 0; i < user.n_groups && c->n_groups < CRL_ARRAY_SIZE(c->groups); i++)
		c->groups[c->n_groups++] = user.groups[i];
	const Runtime__V1__NamespaceOption *nso = sc ? sc->namespace_options : NULL;
	pid_t tpid = 0;
	if (nso && nso->pid == RUNTIME__V1__NAMESPACE_MODE__TARGET &&
	    (tpid = target_pid(d, p, nso->target_id ? nso->target_id : "", err)) < 0) {
		r = crl_error_wrap(err, "namespace_options.target_id");
		goto out;
	}
	srv_spec_in_t in = {
		.id = c->obj.id,
		.cfg = cfg,
		.pod_cfg = p->config,
		.pod_ns = p->ns,
		.pod_dir = p->dir,
		.cgroup = c->cgroup,
		.image = icfg,
		.layers = layers,
		.n_layers = img->n_layers,
		.rootfs = rootfs,
		.upper = upper,
		.work = work,
		.user = &user,
		.seccomp_json = seccomp,
		.target_pid = tpid,
	};
	if ((r = srv_container_spec(&in, &spec, &c->stop_signal, err)) < 0)
		goto out;
	bfd = open(c->bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bfd < 0) {
		r = crl_error_set_errno(err, errno, "open %s", c->bundle);
		goto out;
	}
	/* The bundle is new, and the record (written next, with fsync) is what survives a crash: no fsync here. */
	r = crl_fs_write_new(bfd, "config.json", spec, strlen(spec), 0600, err);
	/* An external runtime (RuntimeClass handler) is given a rootfs ready to use: the overlay is mounted here,
	 * on the node, and unmounted when the container is removed. The embedded library mounts it itself, inside
	 * the container's mount namespace. */
	if (r == 0 && srv_config_runtime(&d->cfg, p->runtime_handler) &&
	    (r = rt_overlay_mount(layers, img->n_layers, upper, work, rootfs, err)) < 0)
		crl_error_wrap(err, "mount the rootfs for runtime handler %s", p->runtime_handler);
out:
	crl_strv_free(layers);
	crl_json_value_free(doc);
	return r;
}

static int log_path(srv_daemon_t *d, srv_ctr_t *c, const srv_pod_t *p, crl_error_t *err)
{
	const char *dir = p->config->log_directory, *rel = c->config->log_path;
	int r;
	if (dir && *dir && rel && *rel)
		r = asprintf(&c->log_path, "%s/%s", dir, rel);
	else
		r = asprintf(&c->log_path, "%s/%s/%s.log", d->cfg.log_dir, p->obj.id, c->obj.id);
	if (r < 0) {
		c->log_path = NULL;
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	_cleanup_free_ char *parent = strdup(c->log_path);
	if (!parent)
		return crl_error_set(err, ENOMEM, "out of memory");
	*strrchr(parent, '/') = '\0';
	return crl_fs_mkdir_p(parent, 0755, err);
}

static int monitor_create(const srv_runtime_handler_t *h, srv_ctr_t *c, crl_error_t *err)
{
	crl_json_t *j = srv_ctr_request(c, "create");
	crl_json_kv_string(j, "bundle", c->bundle);
	crl_json_kv_string(j, "log_path", c->log_path);
	crl_json_kv_bool(j, "stdin", c->config->stdin);
	crl_json_kv_bool(j, "tty", c->config->tty);
	if (h) {
		crl_json_kv_string(j, "runtime", h->runtime_path);
		if (h->runtime_root)
			crl_json_kv_string(j, "runtime_root", h->runtime_root);
	}
	crl_json_object_end(j);
	_cleanup_free_ char *req = crl_json_finish_text(j, NULL);
	if (!req)
		return crl_error_set(err, ENOMEM, "out of memory");
	return mon_client_call_once(c->pod_dir, req, MONITOR_CALL_MS, NULL, err);
}

static int create_steps(srv_daemon_t *d, srv_ctr_t *c, srv_pod_t *p, const img_image_t *img, crl_error_t *err)
{
	int r;
	if ((r = crl_fs_mkdir_p(c->bundle, 0700, err)) < 0 || (r = log_path(d, c, p, err)) < 0 ||
	    (r = make_bundle(d, c, p, img, err)) < 0 || (r = srv_ctr_save_intent(d, c, err)) < 0 ||
	    (r = monitor_create(srv_config_runtime(&d->cfg, p->runtime_handler), c, err)) < 0)
		return r;
	pthread_mutex_lock(&c->lock);
	c->state = SRV_CTR_CREATED;
	pthread_mutex_unlock(&c->lock);
	return srv_ctr_save(d, c, err);
}

int srv_create_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	const Runtime__V1__CreateContainerRequest *r = req;
	Runtime__V1__CreateContainerResponse *out = resp;
	int ret = check_config(r, err);
	if (ret < 0)
		return ret;
	srv_pod_t *p = NULL;
	if ((ret = srv_pod_get(d, r->pod_sandbox_id, &p, err)) < 0)
		return ret;
	pthread_mutex_lock(&p->lock);
	bool ready = p->state == SRV_POD_READY;
	pthread_mutex_unlock(&p->lock);
	const Runtime__V1__ContainerConfig *cfg = r->config;
	img_image_t *img = NULL;
	_cleanup_free_ char *name = NULL;
	srv_ctr_t *c = NULL;
	char id[SRV_ID_LEN + 1] = "";
	if (!ready) {
		ret = crl_error_set(err, EBUSY, "pod %s is not ready: containers cannot be created in it", p->obj.id);
		goto out;
	}
	if ((ret = img_store_find(d->images, cfg->image->image, &img, err)) < 0) {
		if (ret == -ENOENT)
			crl_error_set(err, ENOENT, "image %s is not present on this node: pull it first", cfg->image->image);
		goto out;
	}
	const Runtime__V1__PodSandboxMetadata *pm = p->config->metadata;
	if (asprintf(&name, "%s_%s_%s_%s_%u", cfg->metadata->name, pm->name, pm->namespace_, pm->uid,
		     cfg->metadata->attempt) < 0) {
		name = NULL;
		ret = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	srv_store_new_id(d->ctrs, id);
	if ((ret = srv_store_reserve(d->ctrs, name, id, err)) < 0)
		goto out;
	if ((ret = srv_ctr_new(id, name, p, cfg, &c, err)) < 0) {
		srv_store_release(d->ctrs, name, id);
		goto out;
	}
	if (!(c->image_id = strdup(img->id)) || !(c->image_ref = image_ref_of(img)) ||
	    asprintf(&c->bundle, "%s/%s", d->ctrs_dir, id) < 0 ||
	    asprintf(&c->cgroup, "%s/%s", p->cgroup ? p->cgroup : "/crio-lite", id) < 0) {
		ret = crl_error_set(err, ENOMEM, "out of memory");
	} else if ((ret = create_steps(d, c, p, img, err)) < 0) {
		crl_error_t e = CRL_ERROR_INIT;
		if (srv_ctr_remove(d, c, &e) < 0)
			log_error("container %s: undoing a failed CreateContainer: %s (retried at the next start)", id,
				  crl_error_message(&e));
		crl_error_clear(&e);
	}
	if (ret == 0)
		ret = srv_store_add(d->ctrs, &c->obj, err);
	if (ret < 0) {
		srv_store_release(d->ctrs, name, id);
		crl_error_wrap(err, "CreateContainer %s (%s)", id, name);
		goto out;
	}
	log_info("container %s (%s) created in pod %s", id, name, p->obj.id);
	srv_ctr_event(d, c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT);
	out->container_id = srv_call_strdup(call, id);
	if (!out->container_id)
		ret = crl_error_set(err, ENOMEM, "out of memory");
out:
	srv_ctr_unref(c);
	img_image_free(img);
	srv_pod_unref(p);
	return ret;
}

int srv_start_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__StartContainerRequest *r = req;
	srv_ctr_t *c = NULL;
	int ret = srv_ctr_get(d, r->container_id, &c, err);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&c->op_lock);
	pthread_mutex_lock(&c->lock);
	srv_ctr_state_t st = c->state;
	pthread_mutex_unlock(&c->lock);
	if (c->removed || st != SRV_CTR_CREATED) {
		ret = crl_error_set(err, EBUSY, "container %s is %s, not created: it cannot be started", c->obj.id,
				    c->removed ? "removed" : st == SRV_CTR_RUNNING ? "running" : "exited");
	} else {
		ret = srv_ctr_monitor(c, "start", 0, err);
		if (ret == 0) {
			pthread_mutex_lock(&c->event_lock);
			pthread_mutex_lock(&c->lock);
			c->state = SRV_CTR_RUNNING;
			c->started_at = crl_now_ns(CLOCK_REALTIME);
			pthread_mutex_unlock(&c->lock);
			ret = srv_ctr_save(d, c, err);
			if (ret == 0)
				srv_ctr_event(d, c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT);
			pthread_mutex_unlock(&c->event_lock);
		}
	}
	pthread_mutex_unlock(&c->op_lock);
	if (ret < 0)
		crl_error_wrap(err, "StartContainer %s", c->obj.id);
	srv_ctr_unref(c);
	return ret;
}

int srv_reopen_container_log(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__ReopenContainerLogRequest *r = req;
	srv_ctr_t *c = NULL;
	int ret = srv_ctr_get(d, r->container_id, &c, err);
	if (ret < 0)
		return ret;
	srv_ctr_refresh(d, c);
	pthread_mutex_lock(&c->lock);
	bool running = c->state == SRV_CTR_RUNNING;
	pthread_mutex_unlock(&c->lock);
	/* kubelet rotates the logs of running containers only; CRI-O refuses the others too. */
	if (!running)
		ret = crl_error_set(err, EBUSY, "container %s is not running", c->obj.id);
	else
		ret = srv_ctr_monitor(c, "reopen_log", 0, err);
	srv_ctr_unref(c);
	return ret;
}
