/* SPDX-License-Identifier: Apache-2.0 */
#include "pull.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "layer.h"
#include "manifest.h"
#include "ref.h"
#include "registries.h"

typedef struct pull {
	img_store_t *store;
	const img_pull_req_t *req;
	img_conn_t *conn;
	img_manifest_t *manifest;
	img_config_t *config;
	const char *image_name; /* for progress */
	atomic_size_t next_layer;
	char **pinned; /* per layer, the diff_id pinned in the store until the pull ends */
	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t config_cond;
	bool config_done; /* config set, or the pull failed before it was */
	crl_error_t err;
	bool failed;
} pull_t;

/* The first failure is the pull's. Takes e. */
static void pull_fail(pull_t *p, crl_error_t *e)
{
	pthread_mutex_lock(&p->lock);
	if (!p->failed) {
		p->failed = true;
		p->err = *e;
		memset(e, 0, sizeof(*e));
	} else {
		crl_error_clear(e);
	}
	pthread_cond_broadcast(&p->config_cond);
	pthread_mutex_unlock(&p->lock);
}

static bool pull_failed(pull_t *p)
{
	pthread_mutex_lock(&p->lock);
	bool failed = p->failed;
	pthread_mutex_unlock(&p->lock);
	return failed;
}

/* The config once it is in (wait), or NULL: not yet (no wait), or never (the pull failed). */
static const img_config_t *pull_config(pull_t *p, bool wait)
{
	pthread_mutex_lock(&p->lock);
	while (wait && !p->config_done && !p->failed)
		pthread_cond_wait(&p->config_cond, &p->lock);
	const img_config_t *c = p->failed ? NULL : p->config;
	pthread_mutex_unlock(&p->lock);
	return c;
}

typedef struct layer_sink {
	pull_t *p;
	img_unpacker_t *u;
	const img_descriptor_t *desc;
	uint64_t done;
	uint64_t reported;
} layer_sink_t;

static int sink_write(void *arg, const void *data, size_t len, crl_error_t *err)
{
	layer_sink_t *ls = arg;
	if (pull_failed(ls->p))
		return crl_error_set(err, ECANCELED, "pull failed elsewhere");
	if ((int64_t)(ls->done + len) > ls->desc->size)
		return crl_error_set(err, EBADMSG, "layer %s is larger than its manifest says (%lld bytes)", ls->desc->digest,
				     (long long)ls->desc->size);
	int r = img_unpacker_write(ls->u, data, len, err);
	if (r < 0)
		return r;
	ls->done += len;
	const img_pull_req_t *req = ls->p->req;
	/* Report every 8 MiB. */
	if (req->progress && ls->done - ls->reported >= 8u << 20) {
		ls->reported = ls->done;
		req->progress(req->progress_arg, ls->p->image_name, ls->desc->digest, ls->done, (uint64_t)ls->desc->size, false);
	}
	return 0;
}

static void remove_stage(const char *stage)
{
	crl_error_t e = CRL_ERROR_INIT;
	crl_fs_rm_rf(stage, &e);
	crl_error_clear(&e);
}

/* Downloads layer i into a staging directory, verifying its digest and size: the stage, its diff_id. */
static int fetch_layer(pull_t *p, size_t i, char **ret_stage, char **ret_diff_id, crl_error_t *err)
{
	const img_descriptor_t *d = &p->manifest->layers[i];
	_cleanup_free_ char *stage = NULL;
	_cleanup_close_ int stage_fd = -1;
	img_unpacker_t *u = NULL;
	_cleanup_free_ char *digest = NULL, *diff_id = NULL;
	uint64_t size = 0, bytes = 0;
	int r;
	if ((r = img_store_stage(p->store, &stage, &stage_fd, err)) < 0)
		return r;
	if ((r = img_unpacker_new(stage_fd, d->compression, &u, err)) < 0)
		goto out;
	layer_sink_t ls = { .p = p, .u = u, .desc = d };
	if ((r = img_conn_get_blob(p->conn, d->digest, sink_write, &ls, &bytes, err)) < 0) {
		crl_error_wrap(err, "layer %s", d->digest);
		goto out;
	}
	if ((r = img_unpacker_finish(u, &digest, &diff_id, &size, err)) < 0) {
		crl_error_wrap(err, "layer %s", d->digest);
		goto out;
	}
	if (strcmp(digest, d->digest) != 0) {
		r = crl_error_set(err, EBADMSG, "layer %s: downloaded content has digest %s", d->digest, digest);
		goto out;
	}
	if ((int64_t)bytes != d->size)
		r = crl_error_set(err, EBADMSG, "layer %s: got %llu bytes, the manifest says %lld", d->digest,
				  (unsigned long long)bytes, (long long)d->size);
out:
	img_unpacker_free(u);
	if (r < 0) {
		remove_stage(stage);
		return r;
	}
	*ret_stage = TAKE_PTR(stage);
	*ret_diff_id = TAKE_PTR(diff_id);
	return 0;
}

/* Records diff, pinned in the store, as layer i's pin (unpinned at the pull's end); unpins it if it cannot. */
static int keep_pin(pull_t *p, size_t i, const char *diff, crl_error_t *err)
{
	if (!(p->pinned[i] = strdup(diff))) {
		img_store_unpin(p->store, diff);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* Takes diff for layer i: pinned (p->pinned[i]) whether the store has it (*have) or this pull now owns it
 * (other pulls of it wait until it is released). */
static int take_diff(pull_t *p, size_t i, const char *diff, bool *have, crl_error_t *err)
{
	int r = img_store_layer_acquire(p->store, diff, have, err);
	if (r == 0 && (r = keep_pin(p, i, diff, err)) < 0 && !*have)
		img_store_layer_release(p->store, diff);
	return r;
}

static int pull_layer(pull_t *p, size_t i, crl_error_t *err)
{
	const img_descriptor_t *d = &p->manifest->layers[i];
	const img_config_t *config = pull_config(p, false);
	bool compressed = d->compression != IMG_COMP_NONE;
	/* The store's keys, always in this order: the compressed digest (a layer the store unpacked from it before
	 * is there; other pulls of the blob wait while this one has it), then the diff_id (the config's, once it is
	 * in; an uncompressed layer's digest is its diff_id). A layer not known by its digest is downloaded while
	 * the config is on its way and checked against it after. */
	bool have = false;
	const char *own_digest = NULL, *own_diff = NULL;
	char *known = NULL;
	int r = 0;
	if (compressed) {
		if ((r = img_store_blob_acquire(p->store, d->digest, &have, &known, err)) < 0)
			return r;
		if (have) {
			p->pinned[i] = known;
			return 0;
		}
		own_digest = d->digest;
	}
	_cleanup_free_ char *stage = NULL, *diff_id = NULL;
	bool committed = false;
	const char *diff = config ? config->diff_ids[i] : compressed ? NULL : d->digest;
	/* (a compressed blob whose digest is its own diff_id is already this pull's) */
	if (diff && !(own_digest && strcmp(diff, own_digest) == 0)) {
		if ((r = take_diff(p, i, diff, &have, err)) < 0)
			goto out;
		if (have) {
			if (compressed)
				img_store_learn_digest(p->store, d->digest, diff); /* in the store by another digest */
			goto out;
		}
		own_diff = diff;
	}
	if ((r = fetch_layer(p, i, &stage, &diff_id, err)) < 0)
		goto out;
	if (!config && !(config = pull_config(p, true))) {
		r = crl_error_set(err, ECANCELED, "pull failed elsewhere");
		goto out;
	}
	const char *want = config->diff_ids[i];
	if (strcmp(diff_id, want) != 0) {
		r = crl_error_set(err, EBADMSG, "layer %s: uncompressed content has digest %s, the config says %s", d->digest,
				  diff_id, want);
		goto out;
	}
	if (!p->pinned[i]) {
		/* downloaded before the config came: its diff_id now */
		if (strcmp(want, d->digest) == 0) {
			if ((r = img_store_pin(p->store, want, err)) == 0)
				r = keep_pin(p, i, want, err);
		} else if ((r = take_diff(p, i, want, &have, err)) == 0 && !have) {
			own_diff = want;
		}
		if (r < 0 || have) /* another pull put it there meanwhile */
			goto out;
	}
	if ((r = img_store_commit_layer(p->store, stage, want, compressed ? d->digest : NULL, err)) < 0)
		goto out;
	committed = true;
	if (p->req->progress)
		p->req->progress(p->req->progress_arg, p->image_name, d->digest, (uint64_t)d->size, (uint64_t)d->size, true);
out:
	if (stage && !committed)
		remove_stage(stage);
	if (own_diff)
		img_store_layer_release(p->store, own_diff);
	if (own_digest)
		img_store_layer_release(p->store, own_digest);
	return r;
}

static void *layer_worker(void *arg)
{
	pull_t *p = arg;
	pthread_setname_np(pthread_self(), "crl-layer");
	for (;;) {
		size_t i = atomic_fetch_add(&p->next_layer, 1);
		if (i >= p->manifest->n_layers || pull_failed(p))
			break;
		crl_error_t e = CRL_ERROR_INIT;
		if (pull_layer(p, i, &e) < 0) {
			pull_fail(p, &e);
			break;
		}
	}
	return NULL;
}

static int verify_digest(const char *data, size_t len, const char *want, const char *what, crl_error_t *err)
{
	_cleanup_free_ char *got = img_sha256_digest(data, len);
	if (!got)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (strcmp(got, want) != 0)
		return crl_error_set(err, EBADMSG, "%s: content has digest %s, expected %s", what, got, want);
	return 0;
}

/* Fetches, verifies and parses the image's config, pins its blob and publishes it to the layers' workers, then
 * writes the blob; a failure is the pull's. */
static void fetch_config(pull_t *p, char **cfg, size_t *cfg_len, bool *pinned)
{
	const img_descriptor_t *c = &p->manifest->config;
	crl_error_t ce = CRL_ERROR_INIT;
	img_config_t *config = NULL;
	/* The store's copy, when it has one that verifies (a pull of an image it has, as kubelet's Always policy
	 * makes): no request. Otherwise the registry's. */
	int cr = img_store_read_config(p->store, c->digest, cfg, cfg_len, &ce);
	if (cr == 0 && ((int64_t)*cfg_len != c->size || verify_digest(*cfg, *cfg_len, c->digest, "image config", &ce) < 0))
		cr = -1;
	if (cr < 0) {
		free(*cfg);
		*cfg = NULL;
		crl_error_clear(&ce);
		cr = img_conn_get_blob_small(p->conn, c->digest, (size_t)c->size, cfg, cfg_len, &ce);
		if (cr == 0)
			cr = verify_digest(*cfg, *cfg_len, c->digest, "image config", &ce);
	}
	if (cr == 0)
		cr = img_config_parse(*cfg, *cfg_len, &config, &ce);
	if (cr == 0 && config->n_diff_ids != p->manifest->n_layers)
		cr = crl_error_set(&ce, EBADMSG, "manifest has %zu layers but the config lists %zu", p->manifest->n_layers,
				   config->n_diff_ids);
	/* the config's blob too is kept from the collections until its image is listed */
	if (cr == 0 && (cr = img_store_pin(p->store, c->digest, &ce)) == 0)
		*pinned = true;
	if (cr == 0) {
		pthread_mutex_lock(&p->lock);
		p->config = TAKE_PTR(config);
		p->config_done = true;
		pthread_cond_broadcast(&p->config_cond);
		pthread_mutex_unlock(&p->lock);
		/* written while the layers come */
		cr = img_store_put_blob(p->store, c->digest, *cfg, *cfg_len, &ce);
	}
	img_config_free(config);
	if (cr < 0)
		pull_fail(p, &ce);
}

/* Pulls ref from one endpoint. */
static int pull_from(img_store_t *s, const img_pull_req_t *req, const img_ref_t *ref, const img_endpoint_t *ep,
		     char **ret_id, crl_error_t *err)
{
	pull_t p = { .store = s, .req = req };
	bool config_pinned = false;
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.config_cond, NULL);
	char **layer_digests = NULL;
	_cleanup_free_ char *body = NULL, *mt = NULL, *top_digest = NULL, *cfg = NULL, *tag = NULL, *dig = NULL;
	_cleanup_free_ char *repo = img_ref_repo(ref), *name = img_ref_string(ref);
	size_t len = 0, cfg_len = 0;
	img_platform_t plat;
	img_platform_host(&plat);
	p.image_name = name;
	int r = img_conn_new(req->http, ep->repo, ep->insecure, &req->creds, &req->opts, &p.conn, err);
	if (r < 0)
		goto out;
	const char *reference = ref->digest ? ref->digest : ref->tag;
	if ((r = img_conn_get_manifest(p.conn, reference, IMG_MANIFEST_MAX_BYTES, &body, &len, &mt, err)) < 0)
		goto out;
	if (ref->digest) {
		if ((r = verify_digest(body, len, ref->digest, "manifest", err)) < 0)
			goto out;
		top_digest = strdup(ref->digest);
	} else {
		top_digest = img_sha256_digest(body, len);
	}
	if (!top_digest) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	if ((r = img_manifest_parse(body, len, mt, &plat, &p.manifest, err)) < 0)
		goto out;
	if (p.manifest->is_index) {
		_cleanup_free_ char *chosen = strdup(p.manifest->chosen.digest);
		img_manifest_free(p.manifest);
		p.manifest = NULL;
		free(body);
		free(mt);
		body = mt = NULL;
		if (!chosen) {
			r = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		if ((r = img_conn_get_manifest(p.conn, chosen, IMG_MANIFEST_MAX_BYTES, &body, &len, &mt, err)) < 0 ||
		    (r = verify_digest(body, len, chosen, "manifest", err)) < 0 ||
		    (r = img_manifest_parse(body, len, mt, &plat, &p.manifest, err)) < 0)
			goto out;
		if (p.manifest->is_index) {
			r = crl_error_set(err, EBADMSG, "index %s points at another index", chosen);
			goto out;
		}
	}
	if (p.manifest->config.size > IMG_CONFIG_MAX_BYTES) {
		r = crl_error_set(err, EFBIG, "image config is %lld bytes, more than the limit of %d",
				  (long long)p.manifest->config.size, IMG_CONFIG_MAX_BYTES);
		goto out;
	}
	size_t n_layers = p.manifest->n_layers;
	if (!(p.pinned = calloc(n_layers + 1, sizeof(char *))) ||
	    !(layer_digests = calloc(n_layers + 1, sizeof(char *)))) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* The layers start now, the config comes beside them (the store knows layers it has by their compressed
	 * digests; those it does not are checked against the config once both are in). While the store lists
	 * images from before it recorded digests, the config comes first: their layers are known only by diff_id. */
	bool config_first = !img_store_knows_digests(s);
	if (config_first)
		fetch_config(&p, &cfg, &cfg_len, &config_pinned);
	size_t nthreads = n_layers < IMG_PULL_PARALLEL_LAYERS ? n_layers : IMG_PULL_PARALLEL_LAYERS;
	pthread_t th[IMG_PULL_PARALLEL_LAYERS];
	size_t started = 0;
	for (size_t i = 0; i < nthreads && !pull_failed(&p); i++)
		if (pthread_create(&th[started], NULL, layer_worker, &p) == 0)
			started++;
	if (started == 0 && nthreads > 0 && !pull_failed(&p)) {
		crl_error_t te = CRL_ERROR_INIT;
		crl_error_set(&te, EAGAIN, "cannot start a thread for the layers");
		pull_fail(&p, &te);
	}
	if (!config_first && !pull_failed(&p))
		fetch_config(&p, &cfg, &cfg_len, &config_pinned);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (p.failed) {
		*err = p.err;
		memset(&p.err, 0, sizeof(p.err));
		r = -err->errnum;
		goto out;
	}
	/* Layers the store had by their compressed digests: the config must agree. */
	for (size_t i = 0; i < n_layers; i++) {
		if (!p.pinned[i] || strcmp(p.pinned[i], p.config->diff_ids[i]) != 0) {
			r = crl_error_set(err, EBADMSG,
					  "layer %s: uncompressed content has digest %s (as the store has it), the config says %s",
					  p.manifest->layers[i].digest, p.pinned[i] ? p.pinned[i] : "(none)",
					  p.config->diff_ids[i]);
			goto out;
		}
		layer_digests[i] = p.manifest->layers[i].digest;
	}

	uint64_t size = (uint64_t)len + cfg_len;
	for (size_t i = 0; i < p.manifest->n_layers; i++)
		size += (uint64_t)p.manifest->layers[i].size;
	if (ref->tag && asprintf(&tag, "%s:%s", repo, ref->tag) < 0)
		tag = NULL;
	if (asprintf(&dig, "%s@%s", repo, top_digest) < 0)
		dig = NULL;
	char *tags[] = { tag, NULL }, *digs[] = { dig, NULL };
	img_image_t img = {
		.id = p.manifest->config.digest,
		.repo_tags = tags,
		.n_tags = tag ? 1 : 0,
		.repo_digests = digs,
		.n_digests = dig ? 1 : 0,
		.size = size,
		.user = p.config->user,
		.layers = p.config->diff_ids,
		.n_layers = p.config->n_diff_ids,
		.layer_digests = layer_digests,
	};
	if (!dig || (ref->tag && !tag)) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	/* What it lists on disk first: its layers and config, and those of other pulls it found in place. */
	if ((r = img_store_sync(s, err)) < 0 || (r = img_store_add(s, &img, err)) < 0)
		goto out;
	if (!(*ret_id = strdup(p.manifest->config.digest)))
		r = crl_error_set(err, ENOMEM, "out of memory");
out:
	for (size_t i = 0; p.pinned && i < p.manifest->n_layers; i++)
		if (p.pinned[i]) {
			img_store_unpin(s, p.pinned[i]);
			free(p.pinned[i]);
		}
	if (config_pinned)
		img_store_unpin(s, p.manifest->config.digest);
	free(p.pinned);
	free(layer_digests);
	img_manifest_free(p.manifest);
	img_config_free(p.config);
	img_conn_free(p.conn);
	crl_error_clear(&p.err);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.config_cond);
	return r;
}

/* Errors worth trying the next endpoint for; a verification failure or a refused credential is not hidden. */
static bool try_next(int r)
{
	return r == -ENOENT || r == -EAGAIN || r == -ETIMEDOUT || r == -EIO || r == -EACCES || r == -EKEYREJECTED ||
	       r == -EBADMSG;
}

int img_pull(img_store_t *s, const img_pull_req_t *req, char **ret_id, crl_error_t *err)
{
	img_ref_t *ref = NULL;
	int r = img_ref_parse(req->image, &ref, err);
	if (r < 0)
		return r;
	img_registries_t *regs = NULL;
	if ((r = img_registries_load(req->registries_conf, &regs, err)) < 0) {
		img_ref_free(ref);
		return r;
	}
	/* Candidates: the reference itself, or each search registry for a short name. */
	size_t n_search = 0;
	while (regs->search[n_search])
		n_search++;
	size_t n_cand = !ref->had_domain && n_search > 0 ? n_search : 1;
	crl_error_t last = CRL_ERROR_INIT;
	/* Every endpoint's failure, so a broken mirror is not hidden behind the registry's answer. */
	char *tried = NULL;
	size_t tried_len = 0;
	FILE *tf = open_memstream(&tried, &tried_len);
	int n_tried = 0;
	r = -ENOENT;
	for (size_t c = 0; c < n_cand; c++) {
		img_ref_t *cand = NULL;
		if (n_cand > 1 || (!ref->had_domain && n_search > 0)) {
			if (img_ref_with_domain(ref, regs->search[c], &cand, err) < 0) {
				r = -err->errnum;
				break;
			}
		}
		const img_ref_t *use = cand ? cand : ref;
		_cleanup_free_ char *repo = img_ref_repo(use);
		img_endpoint_t *eps = NULL;
		size_t n_eps = 0;
		crl_error_t e = CRL_ERROR_INIT;
		if (!repo) {
			r = crl_error_set(&e, ENOMEM, "out of memory");
		} else if ((r = img_registries_endpoints(regs, repo, use->digest != NULL, &eps, &n_eps, &e)) == 0) {
			for (size_t i = 0; i < n_eps; i++) {
				crl_error_clear(&e);
				if (req->opts.cancelled && req->opts.cancelled(req->opts.cancel_arg)) {
					r = crl_error_set(&e, ECANCELED, "pull of %s cancelled", req->image);
					break;
				}
				r = pull_from(s, req, use, &eps[i], ret_id, &e);
				if (r == 0 || !try_next(r))
					break;
				if (tf)
					fprintf(tf, "%s%s", n_tried++ ? "; " : "", crl_error_message(&e));
			}
		}
		img_endpoints_free(eps, n_eps);
		img_ref_free(cand);
		if (r == 0) {
			crl_error_clear(&e);
			break;
		}
		crl_error_clear(&last);
		last = e;
		if (!try_next(r))
			break;
	}
	img_ref_free(ref);
	img_registries_free(regs);
	if (tf)
		fclose(tf);
	if (r == 0) {
		crl_error_clear(&last);
		free(tried);
		return 0;
	}
	int errnum = last.errnum ? last.errnum : ENOENT;
	if (n_tried > 1 && tried)
		crl_error_set(err, errnum, "pull %s: every source failed: %s", req->image, tried);
	else if (last.errnum)
		crl_error_set(err, errnum, "pull %s: %s", req->image, crl_error_message(&last));
	else
		crl_error_set(err, errnum, "pull %s: nothing to pull from", req->image);
	crl_error_clear(&last);
	free(tried);
	return -errnum;
}
