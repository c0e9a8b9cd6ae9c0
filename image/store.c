/* SPDX-License-Identifier: Apache-2.0 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "ref.h"

#define INDEX_FILE "images.json"
#define INDEX_MAX_BYTES (256 * 1024 * 1024)

struct img_store {
	char *dir;
	int dirfd;
	int blobs_fd;  /* blobs/sha256 */
	int layers_fd; /* layers */
	int tmp_fd;
	pthread_mutex_t lock;
	pthread_cond_t layer_cond;
	img_image_t **images;
	size_t n_images, cap_images;
	char **inflight; /* diff_ids being unpacked, compressed digests being downloaded */
	size_t n_inflight, cap_inflight;
	/* diff_ids and config digests pulls under way use (one entry a use): the collections leave them */
	char **pins;
	size_t n_pins, cap_pins;
	/* compressed digest -> diff_id of the layers committed (or found by diff_id) since the start, beside what
	 * the listed images' layer_digests say; pruned with the layers they name */
	struct learned {
		char *digest, *diff_id;
	} *learned;
	size_t n_learned, cap_learned;
	uint64_t index_gen; /* index writes so far */
	/* Layers and blobs moved into place unsynced, counted: pulls sync before they list (img_store_sync) */
	uint64_t written_gen;
	pthread_mutex_t sync_lock; /* one img_store_sync at a time (a second finds its work done); guards: */
	uint64_t synced_gen;       /* how many of those the last successful img_store_sync covered */
	bool blobs_elsewhere;      /* blobs/ is on another file system than layers/: synced on its own */
	/* RemoveImage answers once the image is out of the index (written, not yet synced); this thread then syncs
	 * the index and only after that moves what nothing references to trash/ and deletes it. A pull's layers wait
	 * for a collection under way (gc_cond), so it never takes a layer the collection is about to move. */
	int trash_fd;
	pthread_t gc_thread;
	bool gc_started, gc_pending, gc_running, gc_stop;
	bool gc_failing; /* the index does not sync: pulls do not wait for collections then (pins keep theirs) */
	pthread_cond_t gc_cond;
	unsigned trash_seq;
};

const char *img_store_dir(const img_store_t *s)
{
	return s->dir;
}

static void strv_free_n(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void img_image_free(img_image_t *img)
{
	if (!img)
		return;
	free(img->id);
	strv_free_n(img->repo_tags, img->n_tags);
	strv_free_n(img->repo_digests, img->n_digests);
	free(img->user);
	strv_free_n(img->layers, img->n_layers);
	strv_free_n(img->layer_digests, img->layer_digests ? img->n_layers : 0);
	free(img);
}

void img_images_free(img_image_t **imgs, size_t n)
{
	for (size_t i = 0; imgs && i < n; i++)
		img_image_free(imgs[i]);
	free(imgs);
}

static char **strv_copy(char *const *v, size_t n)
{
	char **r = calloc(n + 1, sizeof(char *));
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(r[i] = strdup(v[i]))) {
			strv_free_n(r, i);
			return NULL;
		}
	return r;
}

static img_image_t *image_copy(const img_image_t *src, bool with_digests)
{
	img_image_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->id = strdup(src->id);
	d->user = strdup(src->user ? src->user : "");
	d->repo_tags = strv_copy(src->repo_tags, src->n_tags);
	d->n_tags = src->n_tags;
	d->repo_digests = strv_copy(src->repo_digests, src->n_digests);
	d->n_digests = src->n_digests;
	d->layers = strv_copy(src->layers, src->n_layers);
	d->n_layers = src->n_layers;
	d->size = src->size;
	d->created_ns = src->created_ns;
	bool digests_ok = true;
	if (with_digests && src->layer_digests)
		digests_ok = (d->layer_digests = strv_copy(src->layer_digests, src->n_layers)) != NULL;
	if (!d->id || !d->user || !d->repo_tags || !d->repo_digests || !d->layers || !digests_ok) {
		img_image_free(d);
		return NULL;
	}
	return d;
}

static const char *hex_of(const char *digest)
{
	return strncmp(digest, "sha256:", 7) == 0 ? digest + 7 : digest;
}

/* --- persistence --- */

static void json_strv(crl_json_t *j, const char *key, char *const *v, size_t n)
{
	crl_json_key(j, key);
	crl_json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		crl_json_string(j, v[i]);
	crl_json_array_end(j);
}

/* Called with s->lock held. */
/* The index, written atomically; with sync, durably (file and directory synced); without, the new file synced
 * before it replaces the old and the directory left for the store's thread (index_gen counts those writes). What
 * an image lists was synced before it was listed (img_store_sync). */
static int save_index_locked(img_store_t *s, bool sync, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_int(j, "version", IMG_STORE_VERSION);
	crl_json_key(j, "images");
	crl_json_array_begin(j);
	for (size_t i = 0; i < s->n_images; i++) {
		const img_image_t *m = s->images[i];
		crl_json_object_begin(j);
		crl_json_kv_string(j, "id", m->id);
		json_strv(j, "repo_tags", m->repo_tags, m->n_tags);
		json_strv(j, "repo_digests", m->repo_digests, m->n_digests);
		crl_json_kv_int(j, "size", (int64_t)m->size);
		crl_json_kv_string(j, "user", m->user);
		json_strv(j, "layers", m->layers, m->n_layers);
		if (m->layer_digests)
			json_strv(j, "layer_digests", m->layer_digests, m->n_layers);
		crl_json_kv_int(j, "created_ns", m->created_ns);
		crl_json_object_end(j);
	}
	crl_json_array_end(j);
	crl_json_object_end(j);
	size_t len = 0;
	char *text = crl_json_finish_text(j, &len);
	if (!text)
		return crl_error_set(err, ENOMEM, "out of memory");
	int r = sync ? crl_fs_write_atomic(s->dirfd, INDEX_FILE, text, len, 0600, err)
		     : crl_fs_write_replace_synced(s->dirfd, INDEX_FILE, text, len, 0600, err);
	free(text);
	if (r == 0 && !sync)
		s->index_gen++;
	return r;
}

static int save_locked(img_store_t *s, crl_error_t *err)
{
	return save_index_locked(s, true, err);
}

static int read_strv(const crl_json_value_t *v, char ***ret, size_t *ret_n, bool digests)
{
	size_t n = crl_json_array_len(v);
	char **list = calloc(n + 1, sizeof(char *));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *x = crl_json_get_string(crl_json_array_at(v, i));
		if (!x || (digests && !img_digest_valid(x)) || !(list[i] = strdup(x))) {
			strv_free_n(list, i);
			return -EINVAL;
		}
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

static int load(img_store_t *s, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	crl_error_t e = CRL_ERROR_INIT;
	int r = crl_fs_read_file(s->dirfd, INDEX_FILE, INDEX_MAX_BYTES, &text, NULL, &e);
	if (r == -ENOENT) {
		crl_error_clear(&e);
		return 0;
	}
	if (r < 0) {
		*err = e;
		return r;
	}
	crl_json_value_t *doc = NULL;
	if (crl_json_parse(text, &doc, err) < 0)
		return crl_error_wrap(err, "%s/%s", s->dir, INDEX_FILE);
	int64_t v = 0;
	if (!crl_json_get_int(crl_json_get(doc, "version"), &v) || v != IMG_STORE_VERSION) {
		crl_json_value_free(doc);
		return crl_error_set(err, EINVAL, "%s/%s: unsupported version (this crio-lite reads %d)", s->dir, INDEX_FILE,
				     IMG_STORE_VERSION);
	}
	const crl_json_value_t *list = crl_json_get(doc, "images");
	size_t n = crl_json_array_len(list);
	s->images = calloc(n ? n : 1, sizeof(*s->images));
	s->cap_images = n ? n : 1;
	if (!s->images)
		r = crl_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < n; i++) {
		const crl_json_value_t *o = crl_json_array_at(list, i);
		img_image_t *m = calloc(1, sizeof(*m));
		const char *id = crl_json_get_string(crl_json_get(o, "id"));
		const char *user = crl_json_get_string(crl_json_get(o, "user"));
		int64_t size = 0, created = 0;
		crl_json_get_int(crl_json_get(o, "size"), &size);
		crl_json_get_int(crl_json_get(o, "created_ns"), &created);
		if (!m || !img_digest_valid(id) || !(m->id = strdup(id)) || !(m->user = strdup(user ? user : "")) ||
		    read_strv(crl_json_get(o, "repo_tags"), &m->repo_tags, &m->n_tags, false) < 0 ||
		    read_strv(crl_json_get(o, "repo_digests"), &m->repo_digests, &m->n_digests, false) < 0 ||
		    read_strv(crl_json_get(o, "layers"), &m->layers, &m->n_layers, true) < 0) {
			img_image_free(m);
			r = crl_error_set(err, EINVAL, "%s/%s: image %zu is malformed", s->dir, INDEX_FILE, i);
			break;
		}
		m->size = (uint64_t)size;
		m->created_ns = created;
		/* Optional (older indexes lack it); one that does not match the layers is ignored. */
		const crl_json_value_t *ld = crl_json_get(o, "layer_digests");
		size_t n_ld = 0;
		if (ld && read_strv(ld, &m->layer_digests, &n_ld, true) == 0 && n_ld != m->n_layers) {
			strv_free_n(m->layer_digests, n_ld);
			m->layer_digests = NULL;
		}
		s->images[s->n_images++] = m;
	}
	crl_json_value_free(doc);
	return r;
}

/* Whether layers/ holds diff_id. Called with s->lock held. */
static bool have_layer_locked(const img_store_t *s, const char *diff_id)
{
	struct stat st;
	return fstatat(s->layers_fd, hex_of(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

static void learned_free(struct learned *l)
{
	free(l->digest);
	free(l->diff_id);
}

/* --- garbage --- */

static bool layer_referenced_locked(const img_store_t *s, const char *hex)
{
	for (size_t i = 0; i < s->n_images; i++)
		for (size_t k = 0; k < s->images[i]->n_layers; k++)
			if (strcmp(hex_of(s->images[i]->layers[k]), hex) == 0)
				return true;
	for (size_t i = 0; i < s->n_inflight; i++)
		if (strcmp(hex_of(s->inflight[i]), hex) == 0)
			return true;
	return false;
}

static bool blob_referenced_locked(const img_store_t *s, const char *hex)
{
	for (size_t i = 0; i < s->n_images; i++)
		if (strcmp(hex_of(s->images[i]->id), hex) == 0)
			return true;
	return false;
}

/* Removes layers and configs no image lists (nor a pull is unpacking). Called with s->lock held. */
/* Whether a pull under way uses the layer or blob named hex (a file name in layers/ or blobs/sha256/). */
static bool pinned_locked(const img_store_t *s, const char *hex)
{
	for (size_t i = 0; i < s->n_pins; i++)
		if (strcmp(hex_of(s->pins[i]), hex) == 0)
			return true;
	return false;
}

static int pin_locked(img_store_t *s, const char *digest)
{
	if (s->n_pins + 1 >= s->cap_pins) {
		size_t cap = s->cap_pins ? s->cap_pins * 2 : 16;
		char **n = realloc(s->pins, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->pins = n;
		s->cap_pins = cap;
	}
	if (!(s->pins[s->n_pins] = strdup(digest)))
		return -ENOMEM;
	s->pins[++s->n_pins] = NULL;
	return 0;
}

int img_store_pin(img_store_t *s, const char *digest, crl_error_t *err)
{
	if (!img_digest_valid(digest))
		return crl_error_set(err, EINVAL, "bad digest %s", digest);
	pthread_mutex_lock(&s->lock);
	int r = pin_locked(s, digest);
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? crl_error_set(err, ENOMEM, "out of memory") : 0;
}

/* Calls fn for every entry of dir but . and .. (a dup of the long-lived fd, read from the top: the dup shares
 * its offset). */
static void each_entry_names(img_store_t *s, int dir, bool dot_names,
			     void (*fn)(img_store_t *s, int dir, const char *name))
{
	int fd = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	for (struct dirent *de; (de = readdir(d));)
		if (dot_names ? strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 : de->d_name[0] != '.')
			fn(s, dir, de->d_name);
	closedir(d);
}

static void each_entry(img_store_t *s, int dir, void (*fn)(img_store_t *s, int dir, const char *name))
{
	each_entry_names(s, dir, false, fn);
}

static void each_entry_all(img_store_t *s, int dir, void (*fn)(img_store_t *s, int dir, const char *name))
{
	each_entry_names(s, dir, true, fn);
}

/* The temporary file of an atomic write a crash interrupted (".NAME.tmp-XXXXXXXXXXXX"). */
static void remove_temporary(img_store_t *s, int dir, const char *name)
{
	(void)s;
	if (name[0] == '.' && strstr(name, ".tmp-"))
		unlinkat(dir, name, 0);
}

/* fsync of the index and its directory: true when both worked. */
static bool sync_index(img_store_t *s)
{
	int fd = openat(s->dirfd, INDEX_FILE, O_RDONLY | O_CLOEXEC);
	bool synced = fd >= 0 && fsync(fd) == 0 && fsync(s->dirfd) == 0;
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return synced;
}

static void remove_entry(img_store_t *s, int dir, const char *name)
{
	(void)s;
	crl_error_t e = CRL_ERROR_INIT;
	crl_fs_rm_rf_at(dir, name, &e);
	crl_error_clear(&e);
}

/* A layer or blob that no image lists and no pull pins goes to trash/ (a rename: quick), or at once when it
 * cannot be moved. */
static void trash_if_unused(img_store_t *s, int dir, const char *name)
{
	bool used = dir == s->layers_fd ? layer_referenced_locked(s, name) : blob_referenced_locked(s, name);
	if (used || pinned_locked(s, name))
		return;
	char to[32];
	snprintf(to, sizeof(to), "gc-%u", s->trash_seq++);
	if (renameat(dir, name, s->trash_fd, to) < 0)
		remove_entry(s, dir, name);
}

/* What nothing references goes to trash/ under the lock; the caller empties it after. What the store learned of
 * layers gone with it goes too. */
static void gc_to_trash_locked(img_store_t *s)
{
	each_entry(s, s->layers_fd, trash_if_unused);
	each_entry(s, s->blobs_fd, trash_if_unused);
	size_t kept = 0;
	for (size_t i = 0; i < s->n_learned; i++) {
		if (have_layer_locked(s, s->learned[i].diff_id))
			s->learned[kept++] = s->learned[i];
		else
			learned_free(&s->learned[i]);
	}
	s->n_learned = kept;
}

static void empty_trash(img_store_t *s)
{
	each_entry(s, s->trash_fd, remove_entry);
}

/* A deadline for pthread_cond_timedwait (CLOCK_REALTIME, as the store's conditions use). */
static struct timespec seconds_from_now(int seconds)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += seconds;
	return t;
}

static void *gc_main(void *arg)
{
	img_store_t *s = arg;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->gc_pending && !s->gc_stop)
			pthread_cond_wait(&s->gc_cond, &s->lock);
		if (s->gc_stop && !s->gc_pending)
			break;
		s->gc_pending = false;
		s->gc_running = true;
		uint64_t gen = s->index_gen;
		pthread_mutex_unlock(&s->lock);
		/* The removal durable first: only then may what it let go be deleted (a crash before this leaves the
		 * image listed, with its layers). */
		bool synced = sync_index(s);
		int sync_errno = synced ? 0 : errno;
		pthread_mutex_lock(&s->lock);
		/* Only what a synced index lets go: an index written during the sync waits for the next round. */
		if (synced && s->index_gen == gen)
			gc_to_trash_locked(s);
		else
			s->gc_pending = true;
		s->gc_running = false;
		s->gc_failing = !synced;
		pthread_cond_broadcast(&s->gc_cond);
		if (!synced) {
			fprintf(stderr, "crio-lite: image store: cannot sync %s: %s (collection deferred)\n", INDEX_FILE,
				strerror(sync_errno));
			if (s->gc_stop)
				break; /* the next start collects */
			/* tried again in a second */
			struct timespec until = seconds_from_now(1);
			while (!s->gc_stop && pthread_cond_timedwait(&s->gc_cond, &s->lock, &until) == 0)
				;
		}
		/* The deletion waits while pulls are under way (up to 10 s, or until another collection is asked for,
		 * which pulls wait for): they have the disk and cores first. */
		struct timespec until = seconds_from_now(10);
		while (s->n_pins > 0 && !s->gc_stop && !s->gc_pending &&
		       pthread_cond_timedwait(&s->gc_cond, &s->lock, &until) == 0)
			;
		pthread_mutex_unlock(&s->lock);
		empty_trash(s);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int open_sub(int parent, const char *name, int *ret, crl_error_t *err)
{
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return crl_error_set_errno(err, errno, "create %s", name);
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", name);
	*ret = fd;
	return 0;
}

void img_store_close(img_store_t *s)
{
	if (!s)
		return;
	if (s->gc_started) {
		/* a collection asked for is done first */
		pthread_mutex_lock(&s->lock);
		s->gc_stop = true;
		pthread_cond_broadcast(&s->gc_cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->gc_thread, NULL);
	}
	if (s->trash_fd >= 0)
		close(s->trash_fd);
	pthread_cond_destroy(&s->gc_cond);
	img_images_free(s->images, s->n_images);
	strv_free_n(s->inflight, s->n_inflight);
	strv_free_n(s->pins, s->n_pins);
	for (size_t i = 0; i < s->n_learned; i++)
		learned_free(&s->learned[i]);
	free(s->learned);
	int fds[] = { s->dirfd, s->blobs_fd, s->layers_fd, s->tmp_fd };
	for (size_t i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->sync_lock);
	pthread_cond_destroy(&s->layer_cond);
	free(s->dir);
	free(s);
}

int img_store_open(const char *dir, img_store_t **ret, crl_error_t *err)
{
	img_store_t *s = calloc(1, sizeof(*s));
	if (!s)
		return crl_error_set(err, ENOMEM, "out of memory");
	s->dirfd = s->blobs_fd = s->layers_fd = s->tmp_fd = s->trash_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->sync_lock, NULL);
	pthread_cond_init(&s->layer_cond, NULL);
	pthread_cond_init(&s->gc_cond, NULL);
	int r;
	int blobs = -1;
	if (!(s->dir = strdup(dir))) {
		r = crl_error_set(err, ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = crl_fs_mkdir_p(dir, 0700, err)) < 0)
		goto fail;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = crl_error_set_errno(err, errno, "open %s", dir);
		goto fail;
	}
	/* Leftovers of a crash first: a half-unpacked layer must never be taken for a whole one; what a collection
	 * had moved to trash/ goes. */
	crl_fs_rm_rf_at(s->dirfd, "tmp", err);
	crl_error_clear(err);
	crl_fs_rm_rf_at(s->dirfd, "trash", err);
	crl_error_clear(err);
	if ((r = open_sub(s->dirfd, "blobs", &blobs, err)) < 0 || (r = open_sub(blobs, "sha256", &s->blobs_fd, err)) < 0 ||
	    (r = open_sub(s->dirfd, "layers", &s->layers_fd, err)) < 0 || (r = open_sub(s->dirfd, "tmp", &s->tmp_fd, err)) < 0 ||
	    (r = open_sub(s->dirfd, "trash", &s->trash_fd, err)) < 0)
		goto fail;
	close(blobs);
	blobs = -1;
	struct stat lst, bst;
	s->blobs_elsewhere = fstat(s->layers_fd, &lst) == 0 && fstat(s->blobs_fd, &bst) == 0 && lst.st_dev != bst.st_dev;
	if ((r = load(s, err)) < 0)
		goto fail;
	/* The index as it is now durable before what it does not list goes (a removal's index may not be yet). */
	sync_index(s);
	each_entry_all(s, s->dirfd, remove_temporary);
	each_entry_all(s, s->blobs_fd, remove_temporary);
	pthread_mutex_lock(&s->lock);
	gc_to_trash_locked(s);
	pthread_mutex_unlock(&s->lock);
	empty_trash(s);
	int e = pthread_create(&s->gc_thread, NULL, gc_main, s);
	if (e != 0) {
		r = crl_error_set_errno(err, e, "image store: pthread_create");
		goto fail;
	}
	s->gc_started = true;
	*ret = s;
	return 0;
fail:
	if (blobs >= 0)
		close(blobs);
	img_store_close(s);
	return r;
}

/* --- queries --- */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool strv_has(char *const *v, size_t n, const char *x)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], x) == 0)
			return true;
	return false;
}

typedef enum { BY_NONE, BY_ID, BY_TAG, BY_DIGEST } match_kind_t;

/* Called with s->lock held: the index of the image name designates, and how it matched; -1 when none. */
static long find_locked(const img_store_t *s, const char *name, match_kind_t *kind, char **ret_tag)
{
	const char *hex = hex_of(name);
	size_t hl = strlen(hex);
	if (hl >= 3 && hl <= 64 && is_hex(hex, hl)) {
		long found = -1;
		int count = 0;
		for (size_t i = 0; i < s->n_images; i++)
			if (strncmp(hex_of(s->images[i]->id), hex, hl) == 0) {
				found = (long)i;
				count++;
			}
		if (count == 1 || (count > 1 && hl == 64)) {
			*kind = BY_ID;
			return found;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		_cleanup_free_ char *norm = NULL;
		const char *want = name;
		if (pass == 1) {
			img_ref_t *ref = NULL;
			crl_error_t e = CRL_ERROR_INIT;
			if (img_ref_parse(name, &ref, &e) < 0) {
				crl_error_clear(&e);
				break;
			}
			norm = img_ref_string(ref);
			if (norm && ref->tag && ref->digest) {
				/* name:tag@digest designates the digest */
				char *repo = img_ref_repo(ref);
				free(norm);
				norm = NULL;
				if (repo && asprintf(&norm, "%s@%s", repo, ref->digest) < 0)
					norm = NULL;
				free(repo);
			}
			img_ref_free(ref);
			if (!norm)
				break;
			want = norm;
		}
		for (size_t i = 0; i < s->n_images; i++) {
			if (strv_has(s->images[i]->repo_tags, s->images[i]->n_tags, want)) {
				*kind = BY_TAG;
				if (ret_tag)
					*ret_tag = strdup(want);
				return (long)i;
			}
			if (strv_has(s->images[i]->repo_digests, s->images[i]->n_digests, want)) {
				*kind = BY_DIGEST;
				return (long)i;
			}
		}
	}
	*kind = BY_NONE;
	return -1;
}

int img_store_list(img_store_t *s, img_image_t ***ret, size_t *ret_n, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	img_image_t **list = calloc(s->n_images ? s->n_images : 1, sizeof(*list));
	size_t n = 0;
	int r = list ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < s->n_images; i++)
		if (!(list[n++] = image_copy(s->images[i], false)))
			r = -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		img_images_free(list, n);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

int img_store_find(img_store_t *s, const char *name, img_image_t **ret, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	match_kind_t kind;
	long i = find_locked(s, name, &kind, NULL);
	img_image_t *copy = i >= 0 ? image_copy(s->images[i], false) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (i < 0)
		return crl_error_set(err, ENOENT, "image %s not found", name);
	if (!copy)
		return crl_error_set(err, ENOMEM, "out of memory");
	*ret = copy;
	return 0;
}

static void strv_remove(char **v, size_t *n, const char *x)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i], x) == 0) {
			free(v[i]);
			/* the ones after, then a NULL where the last was (the lists kept NULL-terminated stay so; the
			 * others never read it): nothing past the n entries is touched */
			memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(char *));
			(*n)--;
			v[*n] = NULL;
			return;
		}
}

int img_store_remove(img_store_t *s, const char *name, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	match_kind_t kind;
	_cleanup_free_ char *tag = NULL;
	long i = find_locked(s, name, &kind, &tag);
	int r = 0;
	if (i >= 0) {
		img_image_t *m = s->images[i];
		if (kind == BY_TAG && tag && m->n_tags > 1) {
			strv_remove(m->repo_tags, &m->n_tags, tag);
		} else {
			img_image_free(m);
			memmove(&s->images[i], &s->images[i + 1], (s->n_images - (size_t)i - 1) * sizeof(*s->images));
			s->n_images--;
		}
		/* Out of the index now; synced and collected by the store's thread. */
		r = save_index_locked(s, false, err);
		if (r == 0) {
			s->gc_pending = true;
			pthread_cond_broadcast(&s->gc_cond);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int img_store_read_config(img_store_t *s, const char *id, char **ret_json, size_t *ret_len, crl_error_t *err)
{
	if (!img_digest_valid(id))
		return crl_error_set(err, EINVAL, "bad image id %s", id);
	return crl_fs_read_file(s->blobs_fd, hex_of(id), 64 * 1024 * 1024, ret_json, ret_len, err);
}

/* --- pulls --- */

static bool inflight_has_locked(const img_store_t *s, const char *diff_id)
{
	return strv_has(s->inflight, s->n_inflight, diff_id);
}

/* Waits for a collection asked for (what it removes is then gone when the pull looks) and for another pull
 * holding key. Called with s->lock held. */
static void wait_for_key_locked(img_store_t *s, const char *key)
{
	while ((s->gc_pending && !s->gc_failing) || s->gc_running)
		pthread_cond_wait(&s->gc_cond, &s->lock);
	while (inflight_has_locked(s, key))
		pthread_cond_wait(&s->layer_cond, &s->lock);
}

/* The caller's from here (others wait) when have is false; pinned_diff (when not NULL) pinned: a collection does
 * not take the layer away before the pull has listed its image. Called with s->lock held. */
static int take_locked(img_store_t *s, const char *key, bool have, const char *pinned_diff, crl_error_t *err)
{
	if (!have) {
		if (s->n_inflight == s->cap_inflight) {
			size_t cap = s->cap_inflight ? s->cap_inflight * 2 : 8;
			char **n = realloc(s->inflight, cap * sizeof(*n));
			if (!n)
				return crl_error_set(err, ENOMEM, "out of memory");
			s->inflight = n;
			s->cap_inflight = cap;
		}
		if (!(s->inflight[s->n_inflight] = strdup(key)))
			return crl_error_set(err, ENOMEM, "out of memory");
		s->n_inflight++;
	}
	if (pinned_diff && pin_locked(s, pinned_diff) < 0) {
		if (!have) {
			strv_remove(s->inflight, &s->n_inflight, key);
			pthread_cond_broadcast(&s->layer_cond);
		}
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

int img_store_layer_acquire(img_store_t *s, const char *diff_id, bool *ret_have, crl_error_t *err)
{
	if (!img_digest_valid(diff_id))
		return crl_error_set(err, EINVAL, "bad diff_id %s", diff_id);
	pthread_mutex_lock(&s->lock);
	wait_for_key_locked(s, diff_id);
	bool have = have_layer_locked(s, diff_id);
	int r = take_locked(s, diff_id, have, diff_id, err);
	pthread_mutex_unlock(&s->lock);
	*ret_have = have;
	return r;
}

/* The diff_id of the layer in the store unpacked from the compressed digest, or NULL. Called with s->lock held. */
static const char *diff_of_locked(const img_store_t *s, const char *digest)
{
	for (size_t i = 0; i < s->n_learned; i++)
		if (strcmp(s->learned[i].digest, digest) == 0 && have_layer_locked(s, s->learned[i].diff_id))
			return s->learned[i].diff_id;
	for (size_t i = 0; i < s->n_images; i++)
		for (size_t k = 0; s->images[i]->layer_digests && k < s->images[i]->n_layers; k++)
			if (strcmp(s->images[i]->layer_digests[k], digest) == 0 && have_layer_locked(s, s->images[i]->layers[k]))
				return s->images[i]->layers[k];
	return NULL;
}

bool img_store_knows_digests(img_store_t *s)
{
	pthread_mutex_lock(&s->lock);
	bool all = true;
	for (size_t i = 0; all && i < s->n_images; i++)
		all = s->images[i]->layer_digests != NULL;
	pthread_mutex_unlock(&s->lock);
	return all;
}

int img_store_blob_acquire(img_store_t *s, const char *digest, bool *ret_have, char **ret_diff, crl_error_t *err)
{
	if (!img_digest_valid(digest))
		return crl_error_set(err, EINVAL, "bad digest %s", digest);
	pthread_mutex_lock(&s->lock);
	wait_for_key_locked(s, digest);
	const char *diff = diff_of_locked(s, digest);
	char *copy = diff ? strdup(diff) : NULL;
	int r = diff && !copy ? crl_error_set(err, ENOMEM, "out of memory") : take_locked(s, digest, copy != NULL, copy, err);
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		free(copy);
		return r;
	}
	*ret_have = copy != NULL;
	*ret_diff = copy;
	return 0;
}

void img_store_unpin(img_store_t *s, const char *digest)
{
	pthread_mutex_lock(&s->lock);
	strv_remove(s->pins, &s->n_pins, digest);
	if (s->n_pins == 0)
		pthread_cond_broadcast(&s->gc_cond); /* a deletion waiting for the pulls */
	pthread_mutex_unlock(&s->lock);
}

void img_store_layer_release(img_store_t *s, const char *diff_id)
{
	pthread_mutex_lock(&s->lock);
	strv_remove(s->inflight, &s->n_inflight, diff_id);
	pthread_cond_broadcast(&s->layer_cond);
	pthread_mutex_unlock(&s->lock);
}

int img_store_stage(img_store_t *s, char **ret_path, int *ret_fd, crl_error_t *err)
{
	char *path = NULL;
	if (asprintf(&path, "%s/tmp/stage-XXXXXX", s->dir) < 0)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (!mkdtemp(path)) {
		int e = errno;
		free(path);
		return crl_error_set_errno(err, e, "create a staging directory in %s/tmp", s->dir);
	}
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		rmdir(path);
		free(path);
		return crl_error_set_errno(err, e, "open staging directory");
	}
	/* mkdtemp makes 0700; a layer's root directory is the image's "/". */
	fchmod(fd, 0755);
	*ret_path = path;
	*ret_fd = fd;
	return 0;
}

/* Remembers that digest unpacks to diff_id. Called with s->lock held. */
static int learn_locked(img_store_t *s, const char *digest, const char *diff_id)
{
	for (size_t i = 0; i < s->n_learned; i++)
		if (strcmp(s->learned[i].digest, digest) == 0)
			return 0;
	if (s->n_learned == s->cap_learned) {
		size_t cap = s->cap_learned ? s->cap_learned * 2 : 8;
		struct learned *n = realloc(s->learned, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->learned = n;
		s->cap_learned = cap;
	}
	struct learned l = { strdup(digest), strdup(diff_id) };
	if (!l.digest || !l.diff_id) {
		learned_free(&l);
		return -ENOMEM;
	}
	s->learned[s->n_learned++] = l;
	return 0;
}

void img_store_learn_digest(img_store_t *s, const char *digest, const char *diff_id)
{
	pthread_mutex_lock(&s->lock);
	learn_locked(s, digest, diff_id);
	pthread_mutex_unlock(&s->lock);
}

int img_store_commit_layer(img_store_t *s, const char *stage_path, const char *diff_id, const char *digest,
			   crl_error_t *err)
{
	/* Not synced here: a pull syncs what it and others moved into place before it lists an image
	 * (img_store_sync), and the next start removes a layer no image lists, whole or not. */
	if (renameat(AT_FDCWD, stage_path, s->layers_fd, hex_of(diff_id)) < 0)
		return crl_error_set_errno(err, errno, "move layer %s into place", diff_id);
	pthread_mutex_lock(&s->lock);
	s->written_gen++;
	if (digest)
		learn_locked(s, digest, diff_id); /* a shortcut: without it the digest is downloaded again */
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int img_store_put_blob(img_store_t *s, const char *digest, const void *data, size_t len, crl_error_t *err)
{
	if (!img_digest_valid(digest))
		return crl_error_set(err, EINVAL, "bad digest %s", digest);
	struct stat st;
	/* One there is kept. Neither is synced here (see img_store_commit_layer). */
	if (fstatat(s->blobs_fd, hex_of(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size == len)
		return 0;
	int r = crl_fs_write_replace(s->blobs_fd, hex_of(digest), data, len, 0600, err);
	if (r == 0) {
		pthread_mutex_lock(&s->lock);
		s->written_gen++;
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

int img_store_sync(img_store_t *s, crl_error_t *err)
{
	pthread_mutex_lock(&s->sync_lock);
	pthread_mutex_lock(&s->lock);
	uint64_t gen = s->written_gen;
	pthread_mutex_unlock(&s->lock);
	int r = 0;
	/* One syncfs for all of it (the staged files went to writeback as they were written); the store's
	 * long-lived fds see a write-back error raised since they were opened. Not under s->lock: the store's
	 * other calls go on meanwhile. */
	if (gen != s->synced_gen) {
		if (syncfs(s->layers_fd) < 0 || (s->blobs_elsewhere && syncfs(s->blobs_fd) < 0))
			r = crl_error_set_errno(err, errno, "sync the image store's layers to disk");
		else
			s->synced_gen = gen;
	}
	pthread_mutex_unlock(&s->sync_lock);
	return r;
}

/* 1 when x was added, 0 when it was there, -ENOMEM. */
static int strv_add(char ***v, size_t *n, const char *x)
{
	if (strv_has(*v, *n, x))
		return 0;
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(x)))
		return -ENOMEM;
	(*n)++;
	nv[*n] = NULL;
	return 1;
}

int img_store_add(img_store_t *s, const img_image_t *img, crl_error_t *err)
{
	pthread_mutex_lock(&s->lock);
	int r = 0;
	bool changed = false;
	img_image_t *target = NULL;
	for (size_t i = 0; i < s->n_images; i++) {
		img_image_t *m = s->images[i];
		if (strcmp(m->id, img->id) == 0) {
			target = m;
			continue;
		}
		/* A tag names one image: the newest pull wins. */
		size_t before = m->n_tags;
		for (size_t t = 0; t < img->n_tags; t++)
			strv_remove(m->repo_tags, &m->n_tags, img->repo_tags[t]);
		changed |= m->n_tags != before;
	}
	if (!target) {
		if (s->n_images == s->cap_images) {
			size_t cap = s->cap_images ? s->cap_images * 2 : 16;
			img_image_t **n = realloc(s->images, cap * sizeof(*n));
			if (!n) {
				r = crl_error_set(err, ENOMEM, "out of memory");
				goto out;
			}
			s->images = n;
			s->cap_images = cap;
		}
		if (!(target = image_copy(img, true))) {
			r = crl_error_set(err, ENOMEM, "out of memory");
			goto out;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		target->created_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		s->images[s->n_images++] = target;
		changed = true;
	} else {
		for (size_t t = 0; r >= 0 && t < img->n_tags; t++)
			changed |= (r = strv_add(&target->repo_tags, &target->n_tags, img->repo_tags[t])) > 0;
		for (size_t t = 0; r >= 0 && t < img->n_digests; t++)
			changed |= (r = strv_add(&target->repo_digests, &target->n_digests, img->repo_digests[t])) > 0;
		if (r >= 0 && !target->layer_digests && img->layer_digests && img->n_layers == target->n_layers) {
			if (!(target->layer_digests = strv_copy(img->layer_digests, img->n_layers)))
				r = -ENOMEM;
			changed = true;
		}
		if (r < 0)
			r = crl_error_set(err, ENOMEM, "out of memory");
		else
			r = 0;
	}
	/* A pull of what is there as it is (kubelet's IfNotPresent races, a re-pull of a tag that did not move)
	 * writes nothing. */
	if (r == 0 && changed)
		r = save_locked(s, err);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}
