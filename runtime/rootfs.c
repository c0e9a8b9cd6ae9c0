/* SPDX-License-Identifier: Apache-2.0 */
#include "rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "overlay.h"

typedef struct flag_opt {
	const char *name;
	bool clear;
	unsigned long flag;
} flag_opt_t;

static const flag_opt_t flag_opts[] = {
	{ "ro", false, MS_RDONLY },     { "rw", true, MS_RDONLY },        { "nosuid", false, MS_NOSUID },
	{ "suid", true, MS_NOSUID },    { "nodev", false, MS_NODEV },     { "dev", true, MS_NODEV },
	{ "noexec", false, MS_NOEXEC }, { "exec", true, MS_NOEXEC },      { "sync", false, MS_SYNCHRONOUS },
	{ "async", true, MS_SYNCHRONOUS }, { "noatime", false, MS_NOATIME }, { "atime", true, MS_NOATIME },
	{ "nodiratime", false, MS_NODIRATIME }, { "relatime", false, MS_RELATIME }, { "strictatime", false, MS_STRICTATIME },
	{ "bind", false, MS_BIND },     { "rbind", false, MS_BIND | MS_REC },
};

static const struct {
	const char *name;
	unsigned long flag;
} prop_opts[] = {
	{ "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC }, { "slave", MS_SLAVE },
	{ "rslave", MS_SLAVE | MS_REC }, { "shared", MS_SHARED }, { "rshared", MS_SHARED | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

typedef struct parsed {
	unsigned long flags;
	unsigned long propagation;
	char data[1024];
} parsed_t;

static void parse_options(char *const *opts, parsed_t *p)
{
	memset(p, 0, sizeof(*p));
	size_t o = 0;
	for (char *const *x = opts; x && *x; x++) {
		bool known = false;
		for (size_t i = 0; i < CRL_ARRAY_SIZE(flag_opts) && !known; i++)
			if (strcmp(*x, flag_opts[i].name) == 0) {
				known = true;
				if (flag_opts[i].clear)
					p->flags &= ~flag_opts[i].flag;
				else
					p->flags |= flag_opts[i].flag;
			}
		for (size_t i = 0; i < CRL_ARRAY_SIZE(prop_opts) && !known; i++)
			if (strcmp(*x, prop_opts[i].name) == 0) {
				known = true;
				p->propagation = prop_opts[i].flag;
			}
		if (!known && o + strlen(*x) + 2 < sizeof(p->data))
			o += (size_t)snprintf(p->data + o, sizeof(p->data) - o, "%s%s", o ? "," : "", *x);
	}
}

/* Creates path below rootfd (directories, and the last component as a directory or an empty file), every
 * component resolved inside the root. */
static int mkpath_in_root(int rootfd, const char *path, bool last_is_dir, crl_error_t *err)
{
	int dfd = -1;
	if (last_is_dir) {
		int r = crl_fs_mkdirs_in_root(rootfd, path, true, &dfd, err);
		if (r == 0)
			close(dfd);
		return r;
	}
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", path);
	char *slash = strrchr(parent, '/');
	const char *name = slash ? path + (slash - parent) + 1 : path;
	if (slash)
		*slash = '\0';
	int r = crl_fs_mkdirs_in_root(rootfd, parent, true, &dfd, err);
	if (r < 0)
		return r;
	int f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	int en = errno;
	close(dfd);
	if (f < 0 && en != EEXIST)
		return crl_error_set_errno(err, en, "create mount point %s", path);
	if (f >= 0)
		close(f);
	return 0;
}

/* Read-only (and nosuid, nodev, noexec) for a mount and everything below it. dirfd/path must name the mount's
 * root: an fd opened before the mount names the directory underneath instead. */
static int make_readonly_tree_at(int dirfd, const char *path)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC };
	unsigned flags = AT_RECURSIVE | (path[0] ? 0 : AT_EMPTY_PATH);
	return (int)syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr));
}

static int make_readonly_tree(const char *path)
{
	return make_readonly_tree_at(AT_FDCWD, path);
}

static void fd_path(int fd, char *buf, size_t n)
{
	snprintf(buf, n, "/proc/self/fd/%d", fd);
}

/* The mount now at dest (below rootfd) and everything under it read-only. Reopened here: an fd or path taken
 * before mounting names the directory underneath, not the mount. */
static int readonly_mount_at(int rootfd, const char *dest, crl_error_t *err)
{
	_cleanup_close_ int top = crl_fs_open_in_root(rootfd, dest, O_PATH, 0, err);
	if (top < 0)
		return top;
	if (make_readonly_tree_at(top, "") < 0)
		return crl_error_set_errno(err, errno, "make %s read-only", dest);
	return 0;
}

/* A cgroup mount shows the container its own cgroup in each v1 hierarchy (on a cgroup v2 host: its cgroup v2
 * directory), read-only. */
static int mount_cgroups(int rootfd, const rt_mount_t *m, const char *tp, const char *cgroup_path, crl_error_t *err)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) {
		char src[PATH_MAX];
		snprintf(src, sizeof(src), "/sys/fs/cgroup%s", cgroup_path);
		if (mount(src, tp, NULL, MS_BIND, NULL) < 0)
			return crl_error_set_errno(err, errno, "mount cgroup %s on %s", src, m->destination);
		return readonly_mount_at(rootfd, m->destination, err);
	}
	if (mount("tmpfs", tp, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k") < 0)
		return crl_error_set_errno(err, errno, "mount tmpfs on %s", m->destination);
	DIR *d = opendir("/sys/fs/cgroup");
	if (!d)
		return crl_error_set_errno(err, errno, "open /sys/fs/cgroup");
	struct dirent *de;
	int r = 0;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		char src[PATH_MAX], dst[PATH_MAX];
		snprintf(src, sizeof(src), "/sys/fs/cgroup/%s%s", de->d_name, cgroup_path);
		struct stat st;
		if (stat(src, &st) < 0)
			continue; /* a hierarchy the container has no cgroup in */
		snprintf(dst, sizeof(dst), "%s/%s", m->destination, de->d_name);
		if ((r = mkpath_in_root(rootfd, dst, true, err)) < 0)
			break;
		_cleanup_close_ int t = crl_fs_open_in_root(rootfd, dst, O_PATH, 0, err);
		if (t < 0) {
			r = t;
			break;
		}
		char p[64];
		fd_path(t, p, sizeof(p));
		if (mount(src, p, NULL, MS_BIND, NULL) < 0)
			r = crl_error_set_errno(err, errno, "mount cgroup %s", dst);
	}
	closedir(d);
	return r < 0 ? r : readonly_mount_at(rootfd, m->destination, err);
}

static int do_mount(int rootfd, const rt_mount_t *m, const char *cgroup_path, crl_error_t *err)
{
	parsed_t p;
	parse_options(m->options, &p);
	const char *type = m->type ? m->type : "";
	bool bind = (p.flags & MS_BIND) != 0 || strcmp(type, "bind") == 0;
	bool dir = true;
	if (bind) {
		struct stat st;
		if (!m->source || stat(m->source, &st) < 0)
			return crl_error_set_errno(err, errno, "bind mount source %s of %s", m->source ? m->source : "(none)",
						   m->destination);
		dir = S_ISDIR(st.st_mode);
	}
	int r = mkpath_in_root(rootfd, m->destination, dir, err);
	if (r < 0)
		return r;
	_cleanup_close_ int target = crl_fs_open_in_root(rootfd, m->destination, O_PATH, 0, err);
	if (target < 0)
		return target;
	char tp[64];
	fd_path(target, tp, sizeof(tp));
	if (bind) {
		if (mount(m->source, tp, NULL, MS_BIND | (p.flags & MS_REC), NULL) < 0)
			return crl_error_set_errno(err, errno, "bind %s on %s", m->source, m->destination);
		unsigned long extra = p.flags & ~(MS_BIND | MS_REC);
		if (extra && mount(NULL, tp, NULL, MS_REMOUNT | MS_BIND | extra, NULL) < 0)
			return crl_error_set_errno(err, errno, "remount %s", m->destination);
	} else if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		int cr = mount_cgroups(rootfd, m, tp, cgroup_path, err);
		if (cr < 0)
			return cr;
	} else {
		if (mount(m->source ? m->source : type, tp, type, p.flags, p.data[0] ? p.data : NULL) < 0)
			return crl_error_set_errno(err, errno, "mount %s (%s) on %s", m->source ? m->source : type, type,
						   m->destination);
	}
	if (p.propagation) {
		/* Re-open: the fd still names the mount point below the new mount. */
		_cleanup_close_ int t2 = crl_fs_open_in_root(rootfd, m->destination, O_PATH, 0, err);
		if (t2 < 0)
			return t2;
		fd_path(t2, tp, sizeof(tp));
		if (mount(NULL, tp, NULL, p.propagation, NULL) < 0)
			return crl_error_set_errno(err, errno, "set propagation of %s", m->destination);
	}
	return 0;
}

static int default_devices(int rootfd, bool userns, crl_error_t *err)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} devs[] = { { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 }, { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 } };
	static const struct {
		const char *name, *target;
	} links[] = { { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
		      { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" }, { "core", "/proc/kcore" } };
	_cleanup_close_ int dev = crl_fs_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, 0, err);
	if (dev < 0)
		return dev;
	for (size_t i = 0; i < CRL_ARRAY_SIZE(devs); i++) {
		if (userns) {
			/* mknod is not allowed in a user namespace: bind the host's node onto an empty file. */
			int f = openat(dev, devs[i].name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
			if (f < 0)
				return crl_error_set_errno(err, errno, "create /dev/%s", devs[i].name);
			char tp[64], src[64];
			fd_path(f, tp, sizeof(tp));
			snprintf(src, sizeof(src), "/dev/%s", devs[i].name);
			int mr = mount(src, tp, NULL, MS_BIND, NULL);
			int e = errno;
			close(f);
			if (mr < 0)
				return crl_error_set_errno(err, e, "bind /dev/%s", devs[i].name);
			continue;
		}
		if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create /dev/%s", devs[i].name);
		char p[64];
		_cleanup_close_ int fd = openat(dev, devs[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		fd_path(fd, p, sizeof(p));
		if (fd >= 0)
			chmod(p, 0666); /* mknod is subject to the umask */
	}
	for (size_t i = 0; i < CRL_ARRAY_SIZE(links); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST)
			return crl_error_set_errno(err, errno, "create /dev/%s", links[i].name);
	return 0;
}

/* linux.devices: each node made (or, in a user namespace where mknod is refused, the host's node at the same path
 * bound) at its path below the rootfs's /dev, parents created, with its mode and owner. A file already there is
 * replaced; a directory is an error. */
static int spec_devices(int rootfd, const rt_spec_t *s, bool userns, crl_error_t *err)
{
	for (size_t i = 0; i < s->n_devices; i++) {
		const rt_device_t *d = &s->devices[i];
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", d->path);
		char *slash = strrchr(parent, '/');
		const char *name = d->path + (slash - parent) + 1;
		*slash = '\0';
		int r = mkpath_in_root(rootfd, parent, true, err);
		if (r < 0)
			return r;
		_cleanup_close_ int pfd = crl_fs_open_in_root(rootfd, parent, O_PATH | O_DIRECTORY, 0, err);
		if (pfd < 0)
			return pfd;
		if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
			return crl_error_set_errno(err, errno, "device %s: replace what is there", d->path);
		char p[64];
		if (userns) {
			int f = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (f < 0)
				return crl_error_set_errno(err, errno, "create %s", d->path);
			fd_path(f, p, sizeof(p));
			int mr = mount(d->path, p, NULL, MS_BIND, NULL);
			int e = errno;
			close(f);
			if (mr < 0)
				return crl_error_set_errno(err, e, "bind the host's %s", d->path);
			continue;
		}
		if (mknodat(pfd, name, d->type | (d->mode & 0777), makedev(d->major, d->minor)) < 0)
			return crl_error_set_errno(err, errno, "create device %s", d->path);
		/* mknod is subject to the umask; owner and mode through the node's own fd. */
		_cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return crl_error_set_errno(err, errno, "open device %s", d->path);
		fd_path(fd, p, sizeof(p));
		if (chown(p, d->uid, d->gid) < 0 || chmod(p, d->mode & 07777) < 0)
			return crl_error_set_errno(err, errno, "set owner and mode of %s", d->path);
	}
	return 0;
}

static int mask_paths(char *const *paths, crl_error_t *err)
{
	for (char *const *p = paths; p && *p; p++) {
		struct stat st;
		if (lstat(*p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return crl_error_set_errno(err, errno, "masked path %s", *p);
		}
		int r = S_ISDIR(st.st_mode) ? mount("tmpfs", *p, "tmpfs", MS_RDONLY, "size=0,mode=0555")
					    : mount("/dev/null", *p, NULL, MS_BIND, NULL);
		if (r < 0)
			return crl_error_set_errno(err, errno, "mask %s", *p);
	}
	return 0;
}

static int readonly_paths(char *const *paths, crl_error_t *err)
{
	for (char *const *p = paths; p && *p; p++) {
		if (mount(*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return crl_error_set_errno(err, errno, "read-only path %s", *p);
		}
		if (make_readonly_tree(*p) < 0)
			return crl_error_set_errno(err, errno, "make %s read-only", *p);
	}
	return 0;
}

/* Only sysctls that a namespace of the container isolates. */
static bool sysctl_namespaced(const char *key)
{
	static const char *const prefixes[] = { "net.", "kernel.shm", "kernel.msg", "fs.mqueue." };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(prefixes); i++)
		if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return strcmp(key, "kernel.sem") == 0 || strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0;
}

int rt_sysctl_set(const char *key, size_t key_len, const char *value, crl_error_t *err)
{
	char k[256];
	if (key_len == 0 || key_len >= sizeof(k))
		return crl_error_set(err, EINVAL, "sysctl name '%.*s' is empty or too long", (int)(key_len > 64 ? 64 : key_len),
				     key);
	memcpy(k, key, key_len);
	k[key_len] = '\0';
	if (!sysctl_namespaced(k) || strstr(k, "..") || strchr(k, '/'))
		return crl_error_set(err, EPERM, "sysctl %s is not namespaced; a container may not set it", k);
	char path[300];
	snprintf(path, sizeof(path), "/proc/sys/%s", k);
	for (char *c = path + 10; *c; c++)
		if (*c == '.')
			*c = '/';
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t vlen = strlen(value);
	if (fd < 0 || write(fd, value, vlen) != (ssize_t)vlen)
		return crl_error_set_errno(err, errno, "sysctl %s=%s", k, value);
	return 0;
}

static int apply_sysctls(const rt_spec_t *s, crl_error_t *err)
{
	for (size_t i = 0; i < s->n_sysctl; i++) {
		int r = rt_sysctl_set(s->sysctl[i].key, strlen(s->sysctl[i].key), s->sysctl[i].value, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The mount that holds path made private. */
static int parent_mount_private(const char *path, crl_error_t *err)
{
	char best[PATH_MAX];
	int r = crl_fs_mount_of(path, best, sizeof(best), NULL, 0, err);
	if (r < 0)
		return r;
	if (mount(NULL, best, NULL, MS_PRIVATE, NULL) < 0)
		return crl_error_set_errno(err, errno, "make %s (the mount holding the rootfs) private", best);
	return 0;
}

int rt_rootfs_setup(const rt_spec_t *s, const char *root, const char *cgroup_path, crl_error_t *err)
{
	/* Nothing mounted from here on may propagate back to the host; as a slave (runc's default), host mounts
	 * still reach binds that ask for it (rslave). */
	unsigned long prop = MS_REC | MS_SLAVE;
	if (s->rootfs_propagation) {
		prop = 0;
		for (size_t i = 0; i < CRL_ARRAY_SIZE(prop_opts); i++)
			if (strcmp(s->rootfs_propagation, prop_opts[i].name) == 0)
				prop = prop_opts[i].flag;
		if (!prop)
			return crl_error_set(err, EINVAL, "config.json: linux.rootfsPropagation '%s' is unknown", s->rootfs_propagation);
	}
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return crl_error_set_errno(err, errno, "set the propagation of /");
	/* pivot_root refuses a shared parent: with shared propagation asked for, the mount holding the rootfs is
	 * made private (that mount only; its other submounts keep theirs), as runc does. */
	if ((prop & MS_SHARED) && parent_mount_private(root, err) < 0)
		return -err->errnum;
	if (s->n_overlay_lower > 0) {
		/* In this mount namespace only: it goes away with the container, nothing to unmount on the host. */
		int r = rt_overlay_mount(s->overlay_lower, s->n_overlay_lower, s->overlay_upper, s->overlay_work, root, err);
		if (r < 0)
			return r;
	} else if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		return crl_error_set_errno(err, errno, "bind the rootfs %s", root);
	}
	_cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return crl_error_set_errno(err, errno, "open rootfs %s", root);
	bool dev_tmpfs = false;
	for (size_t i = 0; i < s->n_mounts; i++) {
		int r = do_mount(rootfd, &s->mounts[i], cgroup_path, err);
		if (r < 0)
			return r;
		if (strcmp(s->mounts[i].destination, "/dev") == 0 && s->mounts[i].type && strcmp(s->mounts[i].type, "tmpfs") == 0)
			dev_tmpfs = true;
	}
	bool userns = rt_spec_namespace(s, CLONE_NEWUSER) != NULL;
	if (dev_tmpfs) {
		int r = default_devices(rootfd, userns, err);
		if (r < 0)
			return r;
	}
	int dr = spec_devices(rootfd, s, userns, err);
	if (dr < 0)
		return dr;
	if (chdir(root) < 0)
		return crl_error_set_errno(err, errno, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return crl_error_set_errno(err, errno, "pivot_root");
	/* The old root now sits on top of the new one at "/": detach it. */
	if (umount2(".", MNT_DETACH) < 0)
		return crl_error_set_errno(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return crl_error_set_errno(err, errno, "chdir /");
	int r = apply_sysctls(s, err);
	if (r == 0)
		r = mask_paths(s->masked_paths, err);
	if (r == 0)
		r = readonly_paths(s->readonly_paths, err);
	if (r == 0 && s->root_readonly && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		r = crl_error_set_errno(err, errno, "remount / read-only");
	/* Only in a UTS namespace of our own: a joined one belongs to whoever made it (the pod). */
	const rt_namespace_t *uts = rt_spec_namespace(s, CLONE_NEWUTS);
	if (r == 0 && s->hostname && uts && !uts->path && sethostname(s->hostname, strlen(s->hostname)) < 0)
		r = crl_error_set_errno(err, errno, "sethostname %s", s->hostname);
	return r;
}
