/* SPDX-License-Identifier: Apache-2.0 */
#include "fs.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* How much reaches the disk: nothing, the new file before it replaces the old, or that and the rename. */
enum { SYNC_NONE, SYNC_FILE, SYNC_ALL };

static int write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode, int sync,
			 crl_error_t *err);

int crl_fs_write_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err)
{
	return write_replace(dirfd, name, data, len, mode, SYNC_ALL, err);
}

int crl_fs_write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err)
{
	return write_replace(dirfd, name, data, len, mode, SYNC_NONE, err);
}

int crl_fs_write_replace_synced(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
				crl_error_t *err)
{
	return write_replace(dirfd, name, data, len, mode, SYNC_FILE, err);
}

static int write_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode, int sync,
			 crl_error_t *err)
{
	char tmp[PATH_MAX];
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[6];
	int r = snprintf(tmp, sizeof(tmp), ".%s.tmp-", name);
	if (r < 0 || (size_t)r + 2 * sizeof(rnd) >= sizeof(tmp))
		return crl_error_set(err, ENAMETOOLONG, "file name too long: %s", name);
	int fd = -1;
	for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
		if (getentropy(rnd, sizeof(rnd)) < 0)
			return crl_error_set_errno(err, errno, "getentropy");
		char *p = tmp + r;
		for (size_t i = 0; i < sizeof(rnd); i++) {
			*p++ = hex[rnd[i] >> 4];
			*p++ = hex[rnd[i] & 15];
		}
		*p = '\0';
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create %s", tmp);
	}
	if (fd < 0)
		return crl_error_set(err, EEXIST, "cannot find a free temporary name for %s", name);
	_cleanup_close_ int tfd = fd;
	int e = write_all(tfd, data, len);
	if (e == 0 && fchmod(tfd, mode) < 0)
		e = -errno;
	if (e == 0 && sync != SYNC_NONE && fsync(tfd) < 0)
		e = -errno;
	if (e == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		e = -errno;
	if (e < 0) {
		unlinkat(dirfd, tmp, 0);
		return crl_error_set_errno(err, -e, "write %s", name);
	}
	if (sync == SYNC_ALL && fsync(dirfd) < 0)
		return crl_error_set_errno(err, errno, "fsync directory of %s", name);
	return 0;
}

int crl_fs_write_new(int dirfd, const char *name, const void *data, size_t len, mode_t mode, crl_error_t *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "create %s", name);
	int e = write_all(fd, data, len);
	if (e == 0 && fchmod(fd, mode) < 0)
		e = -errno;
	if (e < 0) {
		unlinkat(dirfd, name, 0);
		return crl_error_set_errno(err, -e, "write %s", name);
	}
	return 0;
}

int crl_fs_read_fd(int fd, size_t max, char **ret, size_t *ret_len, crl_error_t *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return crl_error_set_errno(err, errno, "stat");
	if (!S_ISREG(st.st_mode))
		return crl_error_set(err, EINVAL, "not a regular file");
	if ((size_t)st.st_size > max)
		return crl_error_set(err, EFBIG, "file is %lld bytes, more than the limit of %zu", (long long)st.st_size,
				     max);
	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);
	if (!buf)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		if (len == cap) {
			/* The file grew while we read it; the limit still holds. */
			if (cap > max)
				return crl_error_set(err, EFBIG, "file is larger than the limit of %zu bytes", max);
			size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			char *n = realloc(buf, ncap + 1);
			if (!n)
				return crl_error_set(err, ENOMEM, "out of memory");
			buf = n;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return crl_error_set_errno(err, errno, "read");
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > max)
		return crl_error_set(err, EFBIG, "file is larger than the limit of %zu bytes", max);
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int crl_fs_read_file(int dirfd, const char *name, size_t max, char **ret, size_t *ret_len, crl_error_t *err)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", name);
	int r = crl_fs_read_fd(fd, max, ret, ret_len, err);
	if (r < 0)
		return crl_error_wrap(err, "%s", name);
	return 0;
}

int crl_fs_mkdir_p(const char *path, mode_t mode, crl_error_t *err)
{
	if (!path || !*path)
		return crl_error_set(err, EINVAL, "empty directory path");
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return crl_error_set(err, ENOMEM, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return crl_error_set_errno(err, errno, "create directory %s", p);
			*s = c;
			if (c == '\0')
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return crl_error_set_errno(err, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return crl_error_set(err, ENOTDIR, "%s exists and is not a directory", path);
	return 0;
}

static int open_walk_nofollow(int rootfd, const char *path, int flags, mode_t mode, crl_error_t *err)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return crl_error_set(err, ENOMEM, "out of memory");
	/* Components already walked, so ".." can be resolved lexically without leaving the root. */
	int stack[PATH_MAX / 2];
	size_t depth = 0;
	_cleanup_close_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return crl_error_set_errno(err, errno, "dup root fd");
	char *save = NULL;
	char *comp = strtok_r(copy, "/", &save);
	int r = 0;
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, ".") == 0) {
			comp = next;
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			if (depth > 0) {
				close(cur);
				cur = stack[--depth];
			}
			comp = next;
			continue;
		}
		int fd;
		if (next)
			fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		else
			fd = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd < 0) {
			r = crl_error_set_errno(err, errno == ELOOP ? EXDEV : errno,
						"open %s inside its root (symlinks are refused without openat2)", path);
			break;
		}
		if (!next) {
			while (depth > 0)
				close(stack[--depth]);
			return fd;
		}
		if (depth == sizeof(stack) / sizeof(stack[0])) {
			close(fd);
			r = crl_error_set(err, ENAMETOOLONG, "path too deep: %s", path);
			break;
		}
		stack[depth++] = cur;
		cur = fd;
		comp = next;
	}
	while (depth > 0)
		close(stack[--depth]);
	if (r < 0)
		return r;
	/* The path named the root itself. */
	return openat(cur, ".", flags | O_CLOEXEC, mode);
}

int crl_fs_open_in_root(int rootfd, const char *path, int flags, mode_t mode, crl_error_t *err)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = path;
	while (*p == '/')
		p++;
	if (!*p)
		p = ".";
	long fd = syscall(SYS_openat2, rootfd, p, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == ENOSYS || errno == EPERM /* seccomp filters that predate openat2 */)
		return open_walk_nofollow(rootfd, path, flags, mode, err);
	return crl_error_set_errno(err, errno, "open %s inside its root", path);
}

int crl_fs_open_beneath_nofollow(int rootfd, const char *path, int flags, crl_error_t *err)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	if (errno == ENOSYS || errno == EPERM)
		return open_walk_nofollow(rootfd, path, flags, 0, err);
	return crl_error_set_errno(err, errno, "open %s below its root", path);
}

/* Calls visit(dirfd, name, ctx) for each entry of the directory fd (taken over: closed here) but "." and "..";
 * stops at the first negative errno visit returns, or keeps going and returns the first when keep_going. */
static int walk_dir(int fd, int (*visit)(int dirfd, const char *name, void *ctx), void *ctx, bool keep_going)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		int e = visit(dirfd(d), de->d_name, ctx);
		if (e < 0 && r == 0)
			r = e;
		if (r < 0 && !keep_going)
			break;
	}
	closedir(d);
	return r;
}

static int rm_rf_at(int parent, const char *name, int depth);

static int rm_entry(int dirfd, const char *name, void *ctx)
{
	return rm_rf_at(dirfd, name, *(int *)ctx + 1);
}

static int rm_rf_at(int parent, const char *name, int depth)
{
	if (depth > 256)
		return -ELOOP;
	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Everything that can go goes, even after a failure. */
	int r = walk_dir(fd, rm_entry, &depth, true);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int crl_fs_rm_rf_at(int parent, const char *name, crl_error_t *err)
{
	int r = rm_rf_at(parent, name, 0);
	if (r < 0)
		return crl_error_set_errno(err, -r, "remove %s", name);
	return 0;
}

int crl_fs_rm_rf(const char *path, crl_error_t *err)
{
	int r = rm_rf_at(AT_FDCWD, path, 0);
	if (r < 0)
		return crl_error_set_errno(err, -r, "remove %s", path);
	return 0;
}

typedef struct inode_set {
	uint64_t *keys; /* dev ^ ino mixed; 0 marks a free slot */
	size_t cap, n;
} inode_set_t;

/* Returns true when (dev, ino) was already in the set. */
static bool inode_seen(inode_set_t *s, dev_t dev, ino_t ino)
{
	uint64_t k = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
	if (k == 0)
		k = 1;
	if (s->n * 2 >= s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		if (!nk)
			return false; /* counting a hard link twice beats failing */
		for (size_t i = 0; i < s->cap; i++)
			if (s->keys[i])
				for (size_t j = s->keys[i] % ncap;; j = (j + 1) % ncap)
					if (!nk[j]) {
						nk[j] = s->keys[i];
						break;
					}
		free(s->keys);
		s->keys = nk;
		s->cap = ncap;
	}
	for (size_t j = k % s->cap;; j = (j + 1) % s->cap) {
		if (s->keys[j] == k)
			return true;
		if (!s->keys[j]) {
			s->keys[j] = k;
			s->n++;
			return false;
		}
	}
}

typedef struct usage {
	inode_set_t seen;
	uint64_t bytes, inodes;
	int depth;
} usage_t;

static int usage_entry(int dirfd, const char *name, void *ctx)
{
	usage_t *u = ctx;
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0; /* removed while we walked */
	if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && inode_seen(&u->seen, st.st_dev, st.st_ino))
		return 0;
	u->bytes += (uint64_t)st.st_blocks * 512;
	u->inodes += 1;
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (u->depth >= 4096)
		return -ELOOP;
	int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return 0;
	u->depth++;
	int r = walk_dir(sub, usage_entry, u, false);
	u->depth--;
	return r;
}

int crl_fs_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes, crl_error_t *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return crl_error_set_errno(err, e, "stat %s", path);
	}
	usage_t u = { .bytes = (uint64_t)st.st_blocks * 512, .inodes = 1 };
	int r = walk_dir(fd, usage_entry, &u, false);
	free(u.seen.keys);
	if (r < 0)
		return crl_error_set_errno(err, -r, "disk usage of %s", path);
	*ret_bytes = u.bytes;
	*ret_inodes = u.inodes;
	return 0;
}

int crl_fs_mkdirs_in_root(int rootfd, const char *path, bool in_root, int *ret_fd, crl_error_t *err)
{
	while (*path == '/')
		path++;
	if (!*path) {
		int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return crl_error_set_errno(err, errno, "dup");
		*ret_fd = fd;
		return 0;
	}
	crl_error_t e = CRL_ERROR_INIT;
	int fd = in_root ? crl_fs_open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY, 0, &e)
			 : crl_fs_open_beneath_nofollow(rootfd, path, O_RDONLY | O_DIRECTORY, &e);
	if (fd >= 0 || e.errnum != ENOENT) {
		if (fd < 0) {
			*err = e;
			return -e.errnum;
		}
		*ret_fd = fd;
		return 0;
	}
	crl_error_clear(&e);
	/* The parent first (made the same way), then this one in it. */
	char buf[PATH_MAX];
	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return crl_error_set(err, ENAMETOOLONG, "path %.100s... is too long", path);
	char *slash = strrchr(buf, '/');
	const char *base = slash ? slash + 1 : buf;
	if (slash)
		*slash = '\0';
	int parent = -1;
	int r = crl_fs_mkdirs_in_root(rootfd, slash ? buf : "", in_root, &parent, err);
	if (r < 0)
		return r;
	bool dots = strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
	int made = dots ? 0 : mkdirat(parent, base, 0755);
	int en = errno;
	close(parent);
	if (made < 0 && en != EEXIST)
		return crl_error_set_errno(err, en, "create directory %s", path);
	/* Opened again the way it was first tried: whatever raced in meanwhile gets the same rules. */
	fd = in_root ? crl_fs_open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY, 0, err)
		     : crl_fs_open_beneath_nofollow(rootfd, path, O_RDONLY | O_DIRECTORY, err);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

int crl_fs_mount_of(const char *path, char *mnt, size_t mnt_size, char *tags, size_t tags_size, crl_error_t *err)
{
	_cleanup_free_ char *text = NULL;
	int r = crl_fs_read_file(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &text, NULL, err);
	if (r < 0)
		return r;
	size_t best = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent major:minor root mountpoint options [optional fields...] - type source super */
		char *f[6], *fs = NULL;
		int n = 0;
		for (char *t = strtok_r(line, " ", &fs); t; t = n < 6 ? strtok_r(NULL, " ", &fs) : NULL)
			f[n++] = t;
		if (n < 6)
			continue;
		const char *mp = f[4];
		size_t ml = strlen(mp);
		bool under = ml == 1 || (strncmp(path, mp, ml) == 0 && (path[ml] == '/' || !path[ml]));
		if (!under || ml < best || ml >= mnt_size)
			continue;
		best = ml;
		memcpy(mnt, mp, ml + 1);
		if (!tags)
			continue;
		/* The rest up to " - " are the optional fields. */
		size_t o = 0;
		tags[0] = '\0';
		for (char *t = strtok_r(NULL, " ", &fs); t && strcmp(t, "-") != 0 && o < tags_size; t = strtok_r(NULL, " ", &fs))
			o += (size_t)snprintf(tags + o, tags_size - o, "%s%s", o ? " " : "", t);
	}
	if (!best || path[0] != '/')
		return crl_error_set(err, ENOENT, "no mount holds %s", path);
	return 0;
}

ssize_t crl_fs_read_small(const char *path, char *buf, size_t size)
{
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	buf[n] = '\0';
	return n;
}
