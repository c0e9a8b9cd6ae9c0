/* SPDX-License-Identifier: Apache-2.0 */
/* The layer unpacker on layers made here (libarchive writes the tar, ISA-L or zstd compresses it): the files and
 * digests it gives, and the decoder buffers finished unpackers leave for the next ones. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "common/fs.h"
#include "image/layer.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/crl-layer-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	crl_error_t err = CRL_ERROR_INIT;
	int r = crl_fs_rm_rf(dir, &err);
	crl_error_clear(&err);
	return r;
}

/* A tar of one file, name, holding len bytes made from seed (not compressible to nothing: a PRNG). */
static unsigned char *make_tar(const char *name, size_t len, unsigned seed, size_t *ret_len, unsigned char **ret_data)
{
	unsigned char *data = malloc(len);
	assert_non_null(data);
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		data[i] = (unsigned char)((seed >> 16) % 64 + 32); /* text-like: it compresses, not too well */
	}
	size_t cap = len + 64 * 1024, used = 0;
	unsigned char *tar = malloc(cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open_memory(a, tar, cap, &used), ARCHIVE_OK);
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	archive_entry_free(e);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*ret_len = used;
	*ret_data = data;
	return tar;
}

static unsigned char *gzip_of(const unsigned char *in, size_t len, size_t *ret_len)
{
	size_t cap = len + len / 2 + 1024;
	unsigned char *out = malloc(cap);
	struct isal_zstream z;
	isal_deflate_init(&z);
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	z.next_in = (uint8_t *)in;
	z.avail_in = (uint32_t)len;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	assert_int_equal(isal_deflate(&z), COMP_OK);
	assert_int_equal(z.internal_state.state, ZSTATE_END);
	*ret_len = cap - z.avail_out;
	return out;
}

/* Unpacks blob (comp) into a new directory below dir, fed in pieces of piece bytes; checks that the file is
 * there with data, and that the digests are those of blob and tar. */
static void unpack_and_check(const char *sub, img_compression_t comp, const unsigned char *blob, size_t blob_len,
			     const unsigned char *tar, size_t tar_len, const char *name, const unsigned char *data,
			     size_t len, size_t piece)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	assert_int_equal(mkdir(path, 0755), 0);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	crl_error_t err = CRL_ERROR_INIT;
	img_unpacker_t *u = NULL;
	assert_int_equal(img_unpacker_new(fd, comp, &u, &err), 0);
	for (size_t off = 0; off < blob_len; off += piece)
		assert_int_equal(img_unpacker_write(u, blob + off, blob_len - off < piece ? blob_len - off : piece, &err), 0);
	char *digest = NULL, *diff_id = NULL;
	uint64_t size = 0;
	assert_int_equal(img_unpacker_finish(u, &digest, &diff_id, &size, &err), 0);
	img_unpacker_free(u);
	char *want_digest = img_sha256_digest(blob, blob_len), *want_diff = img_sha256_digest(tar, tar_len);
	assert_string_equal(digest, want_digest);
	assert_string_equal(diff_id, want_diff);
	assert_int_equal(size, tar_len);
	char *got = NULL;
	size_t got_len = 0;
	assert_int_equal(crl_fs_read_file(fd, name, len + 1, &got, &got_len, &err), 0);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, data, len);
	free(got);
	free(digest);
	free(diff_id);
	free(want_digest);
	free(want_diff);
	close(fd);
}

static void fill_blob(img_compression_t comp, const unsigned char *tar, size_t tar_len, unsigned char **ret,
		      size_t *ret_len)
{
	if (comp == IMG_COMP_GZIP) {
		*ret = gzip_of(tar, tar_len, ret_len);
	} else if (comp == IMG_COMP_ZSTD) {
		*ret = malloc(ZSTD_compressBound(tar_len));
		*ret_len = ZSTD_compress(*ret, ZSTD_compressBound(tar_len), tar, tar_len, 3);
		assert_false(ZSTD_isError(*ret_len));
	} else {
		*ret = malloc(tar_len);
		memcpy(*ret, tar, tar_len);
		*ret_len = tar_len;
	}
}

static void layer_case(int i, img_compression_t comp, size_t len, size_t piece)
{
	char sub[16], name[32];
	snprintf(sub, sizeof(sub), "turn%d", i);
	snprintf(name, sizeof(name), "file-%d", i);
	size_t tar_len = 0, blob_len = 0;
	unsigned char *data = NULL, *blob = NULL;
	unsigned char *tar = make_tar(name, len, (unsigned)i + 1, &tar_len, &data);
	fill_blob(comp, tar, tar_len, &blob, &blob_len);
	unpack_and_check(sub, comp, blob, blob_len, tar, tar_len, name, data, len, piece);
	free(blob);
	free(tar);
	free(data);
}

/* Layers one after the other: each unpacker after the first takes the buffers the one before left (their slots
 * still hold that layer's bytes), and each layer comes out as it went in. */
static void test_layers_in_turn_reuse_buffers(void **state)
{
	(void)state;
	assert_int_equal(img_unpacker_release_buffers(0), 0);
	layer_case(0, IMG_COMP_GZIP, 3 << 20, 16384); /* more than the ring holds */
	size_t one = img_unpacker_release_buffers(0); /* the set it used */
	assert_true(one > 1u << 20);
	layer_case(1, IMG_COMP_GZIP, 3 << 20, 1 << 20);
	layer_case(2, IMG_COMP_GZIP, 200000, 100);
	layer_case(3, IMG_COMP_ZSTD, 1500000, 65536);
	layer_case(4, IMG_COMP_NONE, 700000, 4096);
	/* Still one set: each unpacker took the one the last gave back. */
	assert_int_equal(img_unpacker_release_buffers(0), one);
	assert_int_equal(img_unpacker_release_buffers(0), 0);
}

/* Two layers unpacked at once, on sets that earlier unpackers left: each has its own, and both come out whole. */
static void test_two_at_once_on_kept_buffers(void **state)
{
	(void)state;
	assert_int_equal(img_unpacker_release_buffers(0), 0);
	crl_error_t err = CRL_ERROR_INIT;
	enum { N = 2 };
	img_unpacker_t *u[N];
	int fds[N];
	unsigned char *data[N], *tar[N], *blob[N];
	size_t tar_len[N], blob_len[N], len = 2 << 20;
	char name[N][16];
	for (int i = 0; i < N; i++) { /* two sets into the pool */
		assert_int_equal(img_unpacker_new(-1, IMG_COMP_NONE, &u[i], &err), 0);
	}
	for (int i = 0; i < N; i++)
		img_unpacker_free(u[i]);
	for (int i = 0; i < N; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/both%d", dir, i);
		assert_int_equal(mkdir(path, 0755), 0);
		assert_true((fds[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0);
		snprintf(name[i], sizeof(name[i]), "both-%d", i);
		tar[i] = make_tar(name[i], len, 100u + (unsigned)i, &tar_len[i], &data[i]);
		fill_blob(IMG_COMP_GZIP, tar[i], tar_len[i], &blob[i], &blob_len[i]);
		assert_int_equal(img_unpacker_new(fds[i], IMG_COMP_GZIP, &u[i], &err), 0);
	}
	/* The pool gave both its sets: nothing left in it. */
	assert_int_equal(img_unpacker_release_buffers(0), 0);
	/* Fed in turns, so both decode and extract at the same time. */
	for (size_t off = 0; off < blob_len[0] || off < blob_len[1]; off += 8192)
		for (int i = 0; i < N; i++)
			if (off < blob_len[i])
				assert_int_equal(img_unpacker_write(u[i], blob[i] + off,
								    blob_len[i] - off < 8192 ? blob_len[i] - off : 8192, &err),
						 0);
	for (int i = 0; i < N; i++) {
		char *digest = NULL, *diff_id = NULL;
		uint64_t size = 0;
		assert_int_equal(img_unpacker_finish(u[i], &digest, &diff_id, &size, &err), 0);
		char *want = img_sha256_digest(tar[i], tar_len[i]);
		assert_string_equal(diff_id, want);
		char *got = NULL;
		size_t got_len = 0;
		assert_int_equal(crl_fs_read_file(fds[i], name[i], len + 1, &got, &got_len, &err), 0);
		assert_int_equal(got_len, len);
		assert_memory_equal(got, data[i], len);
		free(got);
		free(want);
		free(digest);
		free(diff_id);
		img_unpacker_free(u[i]);
		close(fds[i]);
		free(data[i]);
		free(tar[i]);
		free(blob[i]);
	}
	assert_true(img_unpacker_release_buffers(0) > 0);
}

/* Unpackers at once each have buffers of their own; of those given back, a few are kept, not all, and only
 * until they have not been used for the time asked. */
static void test_concurrent_unpackers_keep_a_few(void **state)
{
	(void)state;
	assert_int_equal(img_unpacker_release_buffers(0), 0);
	layer_case(10, IMG_COMP_NONE, 1000, 1000);
	size_t one = img_unpacker_release_buffers(0);
	assert_true(one > 0);
	enum { N = 7 };
	img_unpacker_t *u[N];
	crl_error_t err = CRL_ERROR_INIT;
	for (int i = 0; i < N; i++)
		assert_int_equal(img_unpacker_new(-1, IMG_COMP_NONE, &u[i], &err), 0);
	assert_int_equal(img_unpacker_release_buffers(0), 0); /* all in use */
	for (int i = 0; i < N; i++)
		img_unpacker_free(u[i]); /* abandoned streams give theirs back too */
	/* Just used: kept when the daemon asks for those unused for a while. */
	assert_int_equal(img_unpacker_release_buffers(60), 0);
	size_t kept = img_unpacker_release_buffers(0);
	assert_int_equal(kept % one, 0);
	assert_true(kept >= one && kept < N * one);
	assert_int_equal(img_unpacker_release_buffers(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layers_in_turn_reuse_buffers),
		cmocka_unit_test(test_two_at_once_on_kept_buffers),
		cmocka_unit_test(test_concurrent_unpackers_keep_a_few),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
