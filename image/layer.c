/* SPDX-License-Identifier: Apache-2.0 */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/fs.h"

#define CHUNK (128 * 1024)
#define SLOTS 8
/* Buffers of finished unpackers kept for the next ones (see take_buffers). */
#define POOL_MAX 4

static char *hex_digest(EVP_MD_CTX *ctx)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(ctx, md, &n) != 1)
		return NULL;
	char *s = malloc(7 + 2 * n + 1);
	if (!s)
		return NULL;
	memcpy(s, "sha256:", 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(s + 7 + 2 * i, 3, "%02x", md[i]);
	return s;
}

char *img_sha256_digest(const void *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return NULL;
	char *s = NULL;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, data, len) == 1)
		s = hex_digest(ctx);
	EVP_MD_CTX_free(ctx);
	return s;
}

/* --- extraction (the unpacker's thread) --- */

typedef struct dir_time {
	char *path;
	struct timespec mtime;
} dir_time_t;

/* The decoder's: its inflate state, the compressed input, and the ring it inflates into. The extraction takes the
 * ring's slots in order (hashing them for the diff_id); the ring holds 1 MiB, so the decoder, the longest step of
 * a pull, does not wait while the extraction writes a large file. */
typedef struct buffers {
	struct inflate_state gz; /* ISA-L: gzip inflate several times faster than zlib's (87 KiB of state) */
	unsigned char in[CHUNK];
	struct slot {
		unsigned char data[CHUNK];
		size_t len;
	} slots[SLOTS];
} buffers_t;

typedef struct extractor {
	int root;       /* target directory */
	int pipe_r;     /* compressed bytes from the download */
	img_compression_t comp;
	ZSTD_DStream *zs;
	bool stream_end;   /* the compressed stream's end marker was seen */
	bool pipe_eof;
	EVP_MD_CTX *diff_id;
	uint64_t size;     /* uncompressed bytes */
	buffers_t *b;
	size_t in_pos, in_len;
	pthread_mutex_t ring_lock;
	pthread_cond_t ring_cond;
	size_t head, count; /* the oldest filled slot; filled slots */
	bool holding;       /* the extraction still reads the slot at head */
	bool decoded;       /* the decoder is done: at the stream's end (decode_result 0) or not (-1, derr) */
	bool stop;          /* the extraction wants no more */
	int decode_result;
	crl_error_t derr;
	crl_error_t err;
	int result;
	uint64_t entries;
	dir_time_t *dirs;
	size_t n_dirs, cap_dirs;
} extractor_t;

/* Lexically cleans a layer entry's name: "." and empty components dropped, ".." resolved. A name that is
 * absolute or climbs above the layer's root is refused (-EXDEV): image tools never write such names, so one
 * is an attack. */
static int clean_path(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	const char *p = in;
	if (*p == '/')
		return -EXDEV;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0)
				return -EXDEV;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + n + 2 > outsz)
				return -ENAMETOOLONG;
			if (o > 0)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return 0;
}

/* Opens (creating as needed) the directory path below root, every component resolved inside root. */
static int open_dir_in_root(extractor_t *x, const char *path, int *ret_fd)
{
	/* Tar streams need not list directories first: missing parents are made, none through a symlink. */
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_fs_mkdirs_in_root(x->root, path, false, ret_fd, &e) == 0)
		return 0;
	if (e.errnum == ELOOP || e.errnum == EXDEV || e.errnum == ENOTDIR) {
		crl_error_clear(&e);
		return crl_error_set(&x->err, EXDEV, "layer entry directory '%.200s' goes through a symlink or a file", path);
	}
	x->err = e;
	return -x->err.errnum;
}

/* Removes what stands at parent/name (this layer's own earlier entry), directories included. */
static void remove_existing(int parent, const char *name)
{
	crl_error_t e = CRL_ERROR_INIT;
	crl_fs_rm_rf_at(parent, name, &e);
	crl_error_clear(&e);
}

static bool xattr_allowed(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static int apply_meta(extractor_t *x, int fd, struct archive_entry *e, const char *path, bool is_dir)
{
	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return crl_error_set_errno(&x->err, errno, "chown %s", path);
	if (fchmod(fd, archive_entry_perm(e) | (archive_entry_mode(e) & (S_ISUID | S_ISGID | S_ISVTX))) < 0)
		return crl_error_set_errno(&x->err, errno, "chmod %s", path);
	const char *name;
	const void *val;
	size_t size;
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK)
		if (name && xattr_allowed(name) && fsetxattr(fd, name, val, size, 0) < 0)
			return crl_error_set_errno(&x->err, errno, "set xattr %s on %s", name, path);
	struct timespec ts[2] = { { archive_entry_atime(e), archive_entry_atime_nsec(e) },
				  { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
	if (!archive_entry_atime_is_set(e))
		ts[0] = ts[1];
	if (is_dir) {
		/* Later entries change a directory's mtime: set it at the end. */
		if (x->n_dirs == x->cap_dirs) {
			size_t cap = x->cap_dirs ? x->cap_dirs * 2 : 64;
			dir_time_t *n = realloc(x->dirs, cap * sizeof(*n));
			if (!n)
				return crl_error_set(&x->err, ENOMEM, "out of memory");
			x->dirs = n;
			x->cap_dirs = cap;
		}
		x->dirs[x->n_dirs].path = strdup(path);
		x->dirs[x->n_dirs].mtime = ts[1];
		if (x->dirs[x->n_dirs].path)
			x->n_dirs++;
		return 0;
	}
	if (futimens(fd, ts) < 0)
		return crl_error_set_errno(&x->err, errno, "set times of %s", path);
	return 0;
}

/* Written bytes of a file not yet handed to writeback before it is: the syncfs before the store lists the image
 * then waits for less, the disk having worked while the extraction did. */
#define WRITEBACK_STEP (512 * 1024)

static int write_data(extractor_t *x, struct archive *a, int fd, const char *path)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	off_t flushed = 0, end = 0;
	for (;;) {
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK)
			return crl_error_set(&x->err, EBADMSG, "reading %s from the layer: %s", path, archive_error_string(a));
		const char *p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return crl_error_set_errno(&x->err, errno, "write %s", path);
			}
			p += w;
			size -= (size_t)w;
			off += w;
		}
		if (off > end)
			end = off;
		if (end - flushed >= WRITEBACK_STEP) {
			sync_file_range(fd, flushed, end - flushed, SYNC_FILE_RANGE_WRITE);
			flushed = end;
		}
	}
	if (flushed > 0 && end > flushed) /* the tail of a large file; small ones are left to the syncfs */
		sync_file_range(fd, flushed, end - flushed, SYNC_FILE_RANGE_WRITE);
	return 0;
}

static int extract_entry(extractor_t *x, struct archive *a, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	if (!raw)
		return crl_error_set(&x->err, EBADMSG, "layer entry without a name");
	char path[PATH_MAX];
	int cr = clean_path(raw, path, sizeof(path));
	if (cr == -EXDEV)
		return crl_error_set(&x->err, EXDEV, "layer entry '%.200s' escapes the layer (absolute or ../ name)", raw);
	if (cr < 0)
		return crl_error_set(&x->err, ENAMETOOLONG, "layer entry name too long");
	if (!*path)
		return 0; /* the root itself ("./") */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : dir;
	char basebuf[NAME_MAX + 1];
	size_t bl = strlen(base);
	if (bl > NAME_MAX)
		return crl_error_set(&x->err, ENAMETOOLONG, "layer entry name component too long in %.200s", path);
	memcpy(basebuf, base, bl + 1);
	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	_cleanup_close_ int parent = -1;
	int r = open_dir_in_root(x, dir, &parent);
	if (r < 0)
		return r;

	/* Whiteouts. */
	if (strncmp(basebuf, ".wh.", 4) == 0) {
		if (strcmp(basebuf, ".wh..wh..opq") == 0) {
			if (fsetxattr(parent, "trusted.overlay.opaque", "y", 1, 0) < 0)
				return crl_error_set_errno(&x->err, errno, "mark %s opaque", dir[0] ? dir : "/");
			return 0;
		}
		const char *victim = basebuf + 4;
		if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
			return crl_error_set(&x->err, EBADMSG, "malformed whiteout %s", path);
		remove_existing(parent, victim);
		if (mknodat(parent, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
			return crl_error_set_errno(&x->err, errno, "whiteout %s", path);
		return 0;
	}

	mode_t type = archive_entry_filetype(e);
	const char *hardlink = archive_entry_hardlink(e);
	if (hardlink) {
		char target[PATH_MAX];
		if (clean_path(hardlink, target, sizeof(target)) < 0 || !*target)
			return crl_error_set(&x->err, EXDEV, "hard link %s -> %.200s points outside the layer", path, hardlink);
		crl_error_t e2 = CRL_ERROR_INIT;
		_cleanup_close_ int tfd = crl_fs_open_beneath_nofollow(x->root, target, O_PATH | O_NOFOLLOW, &e2);
		if (tfd < 0) {
			x->err = e2;
			return crl_error_wrap(&x->err, "hard link %s -> %s (targets must be earlier entries of the layer)", path, target);
		}
		struct stat st;
		if (fstat(tfd, &st) < 0 || S_ISDIR(st.st_mode))
			return crl_error_set(&x->err, EBADMSG, "hard link %s -> %s: target is a directory", path, target);
		remove_existing(parent, basebuf);
		if (linkat(tfd, "", parent, basebuf, AT_EMPTY_PATH) < 0)
			return crl_error_set_errno(&x->err, errno, "hard link %s", path);
		return 0;
	}
	switch (type) {
	case AE_IFDIR: {
		struct stat st;
		if (fstatat(parent, basebuf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
			remove_existing(parent, basebuf);
		if (mkdirat(parent, basebuf, 0700) < 0 && errno != EEXIST)
			return crl_error_set_errno(&x->err, errno, "create directory %s", path);
		_cleanup_close_ int fd = openat(parent, basebuf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return crl_error_set_errno(&x->err, errno, "open directory %s", path);
		return apply_meta(x, fd, e, path, true);
	}
	case AE_IFREG: {
		remove_existing(parent, basebuf);
		_cleanup_close_ int fd =
			openat(parent, basebuf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return crl_error_set_errno(&x->err, errno, "create %s", path);
		if ((r = write_data(x, a, fd, path)) < 0)
			return r;
		if (ftruncate(fd, archive_entry_size(e)) < 0)
			return crl_error_set_errno(&x->err, errno, "size %s", path);
		return apply_meta(x, fd, e, path, false);
	}
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target)
			return crl_error_set(&x->err, EBADMSG, "symlink %s without a target", path);
		remove_existing(parent, basebuf);
		/* The target is stored as it is: it is only ever resolved inside the layer or the container. */
		if (symlinkat(target, parent, basebuf) < 0)
			return crl_error_set_errno(&x->err, errno, "symlink %s", path);
		if (fchownat(parent, basebuf, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
			return crl_error_set_errno(&x->err, errno, "chown %s", path);
		struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) },
					  { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
		utimensat(parent, basebuf, ts, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO: {
		/* A device node in an image would hand the container a host device (a disk, /dev/mem). */
		if (type != AE_IFIFO && !(type == AE_IFCHR && archive_entry_rdev(e) == makedev(0, 0)))
			return crl_error_set(&x->err, EPERM, "layer entry %s is a device node (%c %u:%u); images may not carry devices",
					     path, type == AE_IFCHR ? 'c' : 'b', major(archive_entry_rdev(e)), minor(archive_entry_rdev(e)));
		remove_existing(parent, basebuf);
		mode_t m = (type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO) | (archive_entry_perm(e) & 07777);
		dev_t dev = type == AE_IFIFO ? 0 : archive_entry_rdev(e);
		if (mknodat(parent, basebuf, m, dev) < 0)
			return crl_error_set_errno(&x->err, errno, "create device %s", path);
		_cleanup_close_ int fd = openat(parent, basebuf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return crl_error_set_errno(&x->err, errno, "open %s", path);
		char p[64];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		if (chown(p, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
			return crl_error_set_errno(&x->err, errno, "chown %s", path);
		return 0;
	}
	case AE_IFSOCK:
		return 0; /* sockets mean nothing in an image */
	default:
		return crl_error_set(&x->err, EBADMSG, "entry %s has unsupported type 0%o", path, (unsigned)type);
	}
}

static void set_dir_times(extractor_t *x)
{
	/* Deepest first, so setting a child does not disturb its parent's time. */
	for (size_t i = x->n_dirs; i-- > 0;) {
		crl_error_t e = CRL_ERROR_INIT;
		int fd = crl_fs_open_in_root(x->root, x->dirs[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, &e);
		if (fd >= 0) {
			struct timespec ts[2] = { x->dirs[i].mtime, x->dirs[i].mtime };
			futimens(fd, ts);
			close(fd);
		}
		crl_error_clear(&e);
	}
}

/* Fills the input buffer from the pipe; false at its end. */
static bool refill(extractor_t *x)
{
	if (x->pipe_eof)
		return false;
	for (;;) {
		ssize_t n = read(x->pipe_r, x->b->in, sizeof(x->b->in));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			x->pipe_eof = true;
			return false;
		}
		x->in_pos = 0;
		x->in_len = (size_t)n;
		return true;
	}
}

/* Decodes the next piece of the uncompressed stream into out (CHUNK bytes): its length, 0 at the end, -1 on an
 * error (x->derr says which). The decoder's thread. */
static ssize_t decode_into(extractor_t *x, unsigned char *out)
{
	for (;;) {
		if (x->in_pos == x->in_len && !refill(x)) {
			if (x->comp == IMG_COMP_GZIP && !x->stream_end) {
				/* Whatever inflate still holds back. */
				x->b->gz.next_in = NULL;
				x->b->gz.avail_in = 0;
				x->b->gz.next_out = out;
				x->b->gz.avail_out = CHUNK;
				int zr = isal_inflate(&x->b->gz);
				size_t got = CHUNK - x->b->gz.avail_out;
				if (zr >= 0 && x->b->gz.block_state == ISAL_BLOCK_FINISH)
					x->stream_end = true;
				if (zr >= 0 && got)
					return (ssize_t)got;
				if (!x->stream_end) {
					crl_error_set(&x->derr, EBADMSG, "layer's gzip stream is truncated");
					return -1;
				}
			}
			if (x->comp == IMG_COMP_ZSTD && !x->stream_end) {
				crl_error_set(&x->derr, EBADMSG, "layer's zstd stream is truncated");
				return -1;
			}
			return 0;
		}
		const unsigned char *in = x->b->in + x->in_pos;
		size_t avail = x->in_len - x->in_pos;
		size_t got = 0;
		if (x->comp == IMG_COMP_NONE) {
			size_t n = avail < CHUNK ? avail : CHUNK;
			memcpy(out, in, n);
			x->in_pos += n;
			return (ssize_t)n;
		}
		if (x->comp == IMG_COMP_GZIP) {
			if (x->stream_end) {
				/* Concatenated gzip members form one stream. */
				isal_inflate_reset(&x->b->gz);
				x->b->gz.crc_flag = ISAL_GZIP;
				x->stream_end = false;
			}
			x->b->gz.next_in = (uint8_t *)in;
			x->b->gz.avail_in = (uint32_t)avail;
			x->b->gz.next_out = out;
			x->b->gz.avail_out = CHUNK;
			int zr = isal_inflate(&x->b->gz);
			if (zr < 0) {
				crl_error_set(&x->derr, EBADMSG, "layer is not valid gzip (%s)",
					      zr == ISAL_INCORRECT_CHECKSUM ? "checksum mismatch"
					      : zr == ISAL_INVALID_WRAPPER  ? "bad gzip header"
									    : "corrupt deflate data");
				return -1;
			}
			x->in_pos += avail - x->b->gz.avail_in;
			got = CHUNK - x->b->gz.avail_out;
			if (x->b->gz.block_state == ISAL_BLOCK_FINISH)
				x->stream_end = true;
		} else {
			ZSTD_inBuffer ib = { in, avail, 0 };
			ZSTD_outBuffer ob = { out, CHUNK, 0 };
			size_t zr = ZSTD_decompressStream(x->zs, &ob, &ib);
			if (ZSTD_isError(zr)) {
				crl_error_set(&x->derr, EBADMSG, "layer is not valid zstd: %s", ZSTD_getErrorName(zr));
				return -1;
			}
			x->in_pos += ib.pos;
			got = ob.pos;
			x->stream_end = zr == 0;
		}
		if (got)
			return (ssize_t)got;
	}
}

/* The decoder's thread: fills free slots until the stream ends, fails, or the extraction stops; then reads what
 * the pipe still brings (the download must never block on a full pipe). */
static void *decode_main(void *arg)
{
	extractor_t *x = arg;
	int result = 0;
	pthread_setname_np(pthread_self(), "crl-decode");
	pthread_mutex_lock(&x->ring_lock);
	for (;;) {
		while (!x->stop && x->count == SLOTS)
			pthread_cond_wait(&x->ring_cond, &x->ring_lock);
		if (x->stop)
			break;
		struct slot *sl = &x->b->slots[(x->head + x->count) % SLOTS];
		pthread_mutex_unlock(&x->ring_lock);
		ssize_t n = decode_into(x, sl->data);
		pthread_mutex_lock(&x->ring_lock);
		if (n <= 0) {
			result = n < 0 ? -1 : 0;
			break;
		}
		sl->len = (size_t)n;
		x->count++;
		pthread_cond_broadcast(&x->ring_cond);
	}
	x->decoded = true;
	x->decode_result = result;
	pthread_cond_broadcast(&x->ring_cond);
	pthread_mutex_unlock(&x->ring_lock);
	while (refill(x))
		;
	return NULL;
}

/* The next piece of the uncompressed stream, hashed as the diff_id: its length, 0 at the end, -1 on an error
 * (x->err says which). The slot handed out before is given back. The extraction's thread. */
static ssize_t next_plain(extractor_t *x, const void **ret)
{
	pthread_mutex_lock(&x->ring_lock);
	if (x->holding) {
		x->holding = false;
		x->head = (x->head + 1) % SLOTS;
		x->count--;
		pthread_cond_broadcast(&x->ring_cond);
	}
	while (x->count == 0 && !x->decoded)
		pthread_cond_wait(&x->ring_cond, &x->ring_lock);
	ssize_t n = 0;
	if (x->count > 0) {
		struct slot *sl = &x->b->slots[x->head];
		x->holding = true;
		*ret = sl->data;
		n = (ssize_t)sl->len;
	} else if (x->decode_result < 0) {
		if (!x->err.errnum) {
			x->err = x->derr;
			memset(&x->derr, 0, sizeof(x->derr));
		}
		n = -1;
	}
	pthread_mutex_unlock(&x->ring_lock);
	if (n > 0) {
		EVP_DigestUpdate(x->diff_id, *ret, (size_t)n);
		x->size += (uint64_t)n;
	}
	return n;
}

static la_ssize_t archive_read_cb(struct archive *a, void *arg, const void **buf)
{
	extractor_t *x = arg;
	ssize_t n = next_plain(x, buf);
	if (n < 0)
		archive_set_error(a, EBADMSG, "%s", crl_error_message(&x->err));
	return n;
}

static void *extract_main(void *arg)
{
	extractor_t *x = arg;
	pthread_t decoder;
	pthread_setname_np(pthread_self(), "crl-extract");
	if (pthread_create(&decoder, NULL, decode_main, x) != 0) {
		x->result = crl_error_set(&x->err, EAGAIN, "cannot start the layer decoding thread");
		while (refill(x))
			;
		return NULL;
	}
	struct archive *a = archive_read_new();
	int r = 0;
	if (!a) {
		r = crl_error_set(&x->err, ENOMEM, "out of memory");
		goto drain;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open(a, x, NULL, archive_read_cb, NULL) != ARCHIVE_OK) {
		if (!x->err.errnum)
			crl_error_set(&x->err, EBADMSG, "layer is not a tar archive: %s", archive_error_string(a));
		r = -x->err.errnum;
		goto drain;
	}
	struct archive_entry *e;
	for (;;) {
		int h = archive_read_next_header(a, &e);
		if (h == ARCHIVE_EOF)
			break;
		if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
			/* A decompression error says more than the tar reader's view of it. */
			if (!x->err.errnum)
				crl_error_set(&x->err, EBADMSG, "layer is not a valid tar archive: %s", archive_error_string(a));
			r = -x->err.errnum;
			break;
		}
		if (++x->entries > IMG_LAYER_MAX_ENTRIES) {
			r = crl_error_set(&x->err, E2BIG, "layer has more than %d entries", IMG_LAYER_MAX_ENTRIES);
			break;
		}
		if ((r = extract_entry(x, a, e)) < 0)
			break;
	}
	if (r == 0) {
		/* The diff_id covers the whole stream, including what follows the tar's end marker. */
		const void *buf;
		ssize_t n;
		while ((n = next_plain(x, &buf)) > 0)
			;
		if (n < 0)
			r = -x->err.errnum;
	}
	if (r == 0)
		set_dir_times(x);
drain:
	/* The decoder drains the pipe once told to stop (the writer must never block on a full pipe). */
	pthread_mutex_lock(&x->ring_lock);
	x->stop = true;
	pthread_cond_broadcast(&x->ring_cond);
	pthread_mutex_unlock(&x->ring_lock);
	pthread_join(decoder, NULL);
	if (a)
		archive_read_free(a);
	x->result = r;
	return NULL;
}

/* --- the decoder's buffers --- */

/* Pages fresh from the kernel fault in as the decoder first writes them, and giving back a mapping this large
 * interrupts the other CPUs (TLB shootdown): both cost a pull's longest step time. So finished unpackers leave
 * their buffers here for the next ones, until img_unpacker_release_buffers gives them back (the daemon calls it
 * when no call runs, and once they have not been used for a few seconds). */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static buffers_t *pool[POOL_MAX];
static size_t n_pool;
static time_t pool_used; /* when a set was last taken or given back (CLOCK_MONOTONIC seconds) */

static time_t monotonic_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

static buffers_t *take_buffers(void)
{
	pthread_mutex_lock(&pool_lock);
	buffers_t *b = n_pool ? pool[--n_pool] : NULL;
	pool_used = monotonic_s();
	pthread_mutex_unlock(&pool_lock);
	return b ? b : malloc(sizeof(*b)); /* the slots are written before they are read: no clearing */
}

static void give_buffers(buffers_t *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&pool_lock);
	if (n_pool < POOL_MAX) {
		pool[n_pool++] = b;
		b = NULL;
	}
	pool_used = monotonic_s();
	pthread_mutex_unlock(&pool_lock);
	free(b);
}

size_t img_unpacker_release_buffers(unsigned unused_s)
{
	pthread_mutex_lock(&pool_lock);
	size_t n = 0;
	if (monotonic_s() - pool_used >= (time_t)unused_s)
		for (n = n_pool; n_pool;)
			free(pool[--n_pool]);
	pthread_mutex_unlock(&pool_lock);
	return n * sizeof(buffers_t);
}

/* --- the stream --- */

struct img_unpacker {
	EVP_MD_CTX *digest; /* of the compressed bytes, as they arrive */
	int pipe_w;
	pthread_t thread;
	bool thread_started;
	extractor_t x;
};

int img_unpacker_new(int target_dirfd, img_compression_t comp, img_unpacker_t **ret, crl_error_t *err)
{
	img_unpacker_t *u = calloc(1, sizeof(*u));
	if (!u)
		return crl_error_set(err, ENOMEM, "out of memory");
	u->pipe_w = -1;
	u->x.root = target_dirfd;
	u->x.pipe_r = -1;
	u->x.comp = comp;
	if (!(u->x.b = take_buffers())) {
		free(u);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	pthread_mutex_init(&u->x.ring_lock, NULL);
	pthread_cond_init(&u->x.ring_cond, NULL);
	u->digest = EVP_MD_CTX_new();
	u->x.diff_id = EVP_MD_CTX_new();
	if (!u->digest || !u->x.diff_id || EVP_DigestInit_ex(u->digest, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestInit_ex(u->x.diff_id, EVP_sha256(), NULL) != 1) {
		img_unpacker_free(u);
		return crl_error_set(err, ENOMEM, "cannot set up sha256");
	}
	if (comp == IMG_COMP_GZIP) {
		isal_inflate_init(&u->x.b->gz);
		u->x.b->gz.crc_flag = ISAL_GZIP;
	} else if (comp == IMG_COMP_ZSTD) {
		u->x.zs = ZSTD_createDStream();
		if (!u->x.zs || ZSTD_isError(ZSTD_initDStream(u->x.zs))) {
			img_unpacker_free(u);
			return crl_error_set(err, ENOMEM, "cannot set up zstd");
		}
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		img_unpacker_free(u);
		return crl_error_set_errno(err, errno, "pipe");
	}
	u->x.pipe_r = p[0];
	u->pipe_w = p[1];
	/* A roomy pipe lets the download drain the socket while the extraction catches up. */
	fcntl(u->pipe_w, F_SETPIPE_SZ, 1 << 20);
	if (pthread_create(&u->thread, NULL, extract_main, &u->x) != 0) {
		img_unpacker_free(u);
		return crl_error_set(err, EAGAIN, "cannot start the layer extraction thread");
	}
	u->thread_started = true;
	*ret = u;
	return 0;
}

/* The download's side: hash and hand over. Decompression and extraction run in the unpacker's thread. */
int img_unpacker_write(img_unpacker_t *u, const void *data, size_t len, crl_error_t *err)
{
	EVP_DigestUpdate(u->digest, data, len);
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(u->pipe_w, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return crl_error_set_errno(err, errno, "feed the layer extraction");
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static void stop_thread(img_unpacker_t *u)
{
	if (u->pipe_w >= 0) {
		close(u->pipe_w);
		u->pipe_w = -1;
	}
	if (u->thread_started) {
		pthread_join(u->thread, NULL);
		u->thread_started = false;
	}
}

int img_unpacker_finish(img_unpacker_t *u, char **ret_digest, char **ret_diff_id, uint64_t *ret_size,
			crl_error_t *err)
{
	stop_thread(u);
	if (u->x.result < 0) {
		*err = u->x.err;
		memset(&u->x.err, 0, sizeof(u->x.err));
		return -err->errnum;
	}
	char *d = hex_digest(u->digest);
	char *di = hex_digest(u->x.diff_id);
	if (!d || !di) {
		free(d);
		free(di);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret_digest = d;
	*ret_diff_id = di;
	*ret_size = u->x.size;
	return 0;
}

void img_unpacker_free(img_unpacker_t *u)
{
	if (!u)
		return;
	stop_thread(u);
	if (u->x.pipe_r >= 0)
		close(u->x.pipe_r);
	for (size_t i = 0; i < u->x.n_dirs; i++)
		free(u->x.dirs[i].path);
	free(u->x.dirs);
	crl_error_clear(&u->x.err);
	crl_error_clear(&u->x.derr);
	pthread_mutex_destroy(&u->x.ring_lock);
	pthread_cond_destroy(&u->x.ring_cond);
	if (u->x.zs)
		ZSTD_freeDStream(u->x.zs);
	EVP_MD_CTX_free(u->digest);
	EVP_MD_CTX_free(u->x.diff_id);
	give_buffers(u->x.b);
	free(u);
}
