/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "common/utf8.h"

static char dir[64];
static int dfd = -1;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/crl-fs-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(dfd);
	crl_error_t err = CRL_ERROR_INIT;
	int r = crl_fs_rm_rf(dir, &err);
	crl_error_clear(&err);
	return r;
}

static void test_atomic_write_and_read(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_write_atomic(dfd, "state.json", "{\"a\":1}", 7, 0600, &err), 0);
	assert_int_equal(crl_fs_write_atomic(dfd, "state.json", "{\"a\":2}", 7, 0600, &err), 0);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(crl_fs_read_file(dfd, "state.json", 100, &text, &len, &err), 0);
	assert_int_equal(len, 7);
	assert_string_equal(text, "{\"a\":2}");
	free(text);
	struct stat st;
	assert_int_equal(fstatat(dfd, "state.json", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* No temporary files are left behind. */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	/* The size limit holds. */
	assert_int_equal(crl_fs_read_file(dfd, "state.json", 6, &text, &len, &err), -EFBIG);
	assert_non_null(strstr(crl_error_message(&err), "limit"));
	crl_error_clear(&err);
	unlinkat(dfd, "state.json", 0);
}

static void test_write_new(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_write_new(dfd, "fresh", "hello\n", 6, 0644, &err), 0);
	char *text = NULL;
	assert_int_equal(crl_fs_read_file(dfd, "fresh", 100, &text, NULL, &err), 0);
	assert_string_equal(text, "hello\n");
	free(text);
	struct stat st;
	assert_int_equal(fstatat(dfd, "fresh", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* Never over an existing file, nor through a symlink. */
	assert_int_equal(crl_fs_write_new(dfd, "fresh", "x", 1, 0644, &err), -EEXIST);
	crl_error_clear(&err);
	assert_int_equal(symlinkat("/etc/passwd", dfd, "link"), 0);
	assert_true(crl_fs_write_new(dfd, "link", "x", 1, 0644, &err) < 0);
	crl_error_clear(&err);
	unlinkat(dfd, "link", 0);
	/* write_replace: the new content atomically over the old, no temporary file left. */
	assert_int_equal(crl_fs_write_replace(dfd, "fresh", "second\n", 7, 0600, &err), 0);
	assert_int_equal(crl_fs_read_file(dfd, "fresh", 100, &text, NULL, &err), 0);
	assert_string_equal(text, "second\n");
	free(text);
	assert_int_equal(fstatat(dfd, "fresh", &st, 0), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
	assert_int_equal(system(cmd), 0);
	unlinkat(dfd, "fresh", 0);
}

static void test_read_refuses_symlinks_and_dirs(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(symlinkat("/etc/passwd", dfd, "link"), 0);
	char *text = NULL;
	assert_true(crl_fs_read_file(dfd, "link", 1 << 20, &text, NULL, &err) < 0);
	crl_error_clear(&err);
	assert_int_equal(mkdirat(dfd, "sub", 0755), 0);
	assert_int_equal(crl_fs_read_file(dfd, "sub", 1 << 20, &text, NULL, &err), -EINVAL);
	crl_error_clear(&err);
}

static void test_open_in_root_stays_inside(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	char root[128];
	snprintf(root, sizeof(root), "%s/rootfs", dir);
	assert_int_equal(crl_fs_mkdir_p(root, 0755, &err), 0);
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);
	assert_int_equal(mkdirat(rfd, "etc", 0755), 0);
	int f = openat(rfd, "etc/hosts", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(f >= 0);
	assert_int_equal(write(f, "inside\n", 7), 7);
	close(f);
	/* An absolute symlink and a ../ symlink both resolve inside the root. */
	assert_int_equal(symlinkat("/etc/hosts", rfd, "abs"), 0);
	assert_int_equal(symlinkat("../../../../etc/hosts", rfd, "rel"), 0);
	const char *paths[] = { "abs", "rel", "/../../etc/hosts", "etc/../../etc/hosts" };
	for (size_t i = 0; i < 4; i++) {
		int fd = crl_fs_open_in_root(rfd, paths[i], O_RDONLY, 0, &err);
		if (fd < 0)
			fail_msg("%s: %s", paths[i], crl_error_message(&err));
		char buf[16] = "";
		assert_int_equal(read(fd, buf, sizeof(buf) - 1), 7);
		assert_string_equal(buf, "inside\n");
		close(fd);
	}
	/* Creating through an escaping symlink creates inside. */
	assert_int_equal(symlinkat("/tmp", rfd, "tmplink"), 0);
	int fd = crl_fs_open_in_root(rfd, "tmplink/crl-escape-probe", O_WRONLY | O_CREAT, 0644, &err);
	/* /tmp does not exist inside the root, so this must fail rather than write the host's /tmp. */
	assert_true(fd < 0);
	crl_error_clear(&err);
	assert_int_equal(access("/tmp/crl-escape-probe", F_OK), -1);
	close(rfd);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(crl_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
	assert_false(crl_utf8_valid("\xc0\xaf", 2));         /* overlong */
	assert_false(crl_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(crl_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(crl_utf8_valid("\xe2\x82", 2));         /* truncated */
	char out[64];
	size_t n = crl_utf8_sanitize("a\xffz\xe2\x82", 5, out);
	assert_int_equal(n, 1 + 3 + 1 + 3 + 3);
	assert_string_equal(out, "a\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(crl_utf8_valid(out, n));
}

/* Disk usage counts every inode once (hard links too) and follows no symlink; rm -rf removes a tree with an
 * unwritable directory in it and leaves what a symlink points at. */
static void test_usage_and_rm_rf(void **state)
{
	(void)state;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; mkdir -p u/a/b u/ro; head -c 40960 /dev/zero > u/a/f; ln u/a/f u/a/b/hard; "
		 "head -c 8192 /dev/zero > u/ro/g; chmod 555 u/ro; mkdir keep; head -c 4096 /dev/zero > keep/k; "
		 "ln -s ../keep u/a/link",
		 dir);
	assert_int_equal(system(cmd), 0);
	char u[128];
	snprintf(u, sizeof(u), "%s/u", dir);
	uint64_t bytes = 0, inodes = 0;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(crl_fs_usage(u, &bytes, &inodes, &err), 0);
	/* u, a, b, ro, f (once), g, link */
	assert_int_equal(inodes, 7);
	assert_true(bytes >= 40960 + 8192);
	assert_true(bytes < 40960 * 2 + 8192 + 64 * 1024); /* the hard link not counted twice, keep/ not entered */
	assert_int_equal(crl_fs_rm_rf(u, &err), 0);
	assert_int_equal(access(u, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "%s/keep/k", dir);
	assert_int_equal(access(cmd, F_OK), 0);
	assert_true(crl_fs_usage("/nonexistent-crl", &bytes, &inodes, &err) < 0);
	crl_error_clear(&err);
}

/* mkdir -p below a root: nothing made outside it, through a symlink (unpacking) or by resolving the symlink
 * inside the root (mount points). */
static void test_mkdirs_in_root(void **state)
{
	(void)state;
	char cmd[1024], root[80];
	snprintf(root, sizeof(root), "%s/r", dir);
	snprintf(cmd, sizeof(cmd), "set -e; mkdir -p %s/x %s/outside; ln -s %s/outside %s/esc; ln -s /x %s/abs; touch %s/file",
		 root, dir, dir, root, root, root);
	assert_int_equal(system(cmd), 0);
	int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(rfd >= 0);
	crl_error_t err = CRL_ERROR_INIT;
	int fd = -1;
	assert_int_equal(crl_fs_mkdirs_in_root(rfd, "a/b/c", false, &fd, &err), 0);
	struct stat st, st2;
	snprintf(cmd, sizeof(cmd), "%s/a/b/c", root);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(stat(cmd, &st2), 0);
	assert_true(st.st_ino == st2.st_ino);
	close(fd);
	/* No symlink and no file on the way when unpacking. */
	int r = crl_fs_mkdirs_in_root(rfd, "esc/new", false, &fd, &err);
	assert_true(r < 0 && (err.errnum == EXDEV || err.errnum == ELOOP));
	crl_error_clear(&err);
	r = crl_fs_mkdirs_in_root(rfd, "file/new", false, &fd, &err);
	assert_true(r < 0 && err.errnum == ENOTDIR);
	crl_error_clear(&err);
	snprintf(cmd, sizeof(cmd), "%s/outside/new", dir);
	assert_int_equal(access(cmd, F_OK), -1);
	/* In root: an absolute symlink resolves inside the root. */
	assert_int_equal(crl_fs_mkdirs_in_root(rfd, "/abs/made", true, &fd, &err), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s/x/made", root);
	assert_int_equal(access(cmd, F_OK), 0);
	assert_int_equal(access("/x/made", F_OK), -1);
	close(rfd);
}

/* The mount holding a path: the deepest, the top one of a stack, with its propagation tags. */
static void test_mount_of(void **state)
{
	(void)state;
	char m[128], sub[160], mnt[4096], tags[256];
	crl_error_t err = CRL_ERROR_INIT;
	snprintf(m, sizeof(m), "%s/m", dir);
	snprintf(sub, sizeof(sub), "%s/m/below/it", dir);
	assert_int_equal(mkdir(m, 0755), 0);
	assert_int_equal(mount("tmpfs", m, "tmpfs", 0, "size=64k"), 0);
	assert_int_equal(mount(NULL, m, NULL, MS_SHARED, NULL), 0);
	assert_int_equal(crl_fs_mount_of(sub, mnt, sizeof(mnt), tags, sizeof(tags), &err), 0);
	assert_string_equal(mnt, m);
	assert_non_null(strstr(tags, "shared:"));
	/* A private mount stacked on it is the one that holds the path now. */
	assert_int_equal(mount("tmpfs", m, "tmpfs", 0, "size=64k"), 0);
	assert_int_equal(mount(NULL, m, NULL, MS_PRIVATE, NULL), 0);
	assert_int_equal(crl_fs_mount_of(m, mnt, sizeof(mnt), tags, sizeof(tags), &err), 0);
	assert_string_equal(mnt, m);
	assert_string_equal(tags, "");
	assert_int_equal(umount2(m, MNT_DETACH), 0);
	assert_int_equal(umount2(m, MNT_DETACH), 0);
	/* Without tags asked for; a path below no mount. */
	assert_int_equal(crl_fs_mount_of("/", mnt, sizeof(mnt), NULL, 0, &err), 0);
	assert_string_equal(mnt, "/");
	assert_int_equal(crl_fs_mount_of("relative", mnt, sizeof(mnt), NULL, 0, &err), -ENOENT);
	assert_non_null(strstr(crl_error_message(&err), "relative"));
	crl_error_clear(&err);
	rmdir(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_write_and_read),
		cmocka_unit_test(test_write_new),
		cmocka_unit_test(test_read_refuses_symlinks_and_dirs),
		cmocka_unit_test(test_open_in_root_stays_inside),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_usage_and_rm_rf),
		cmocka_unit_test(test_mkdirs_in_root),
		cmocka_unit_test(test_mount_of),
	};
	return cmocka_run_group_tests_name("fs", tests, setup, teardown);
}
