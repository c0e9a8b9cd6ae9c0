/* SPDX-License-Identifier: Apache-2.0 */
/* crl_resident_release_code in this test's own process: the file's pages go out of the page tables, the
 * relocated and the writable data stay as they are, and the code still runs. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/resident.h"

static int answer(void)
{
	return 42;
}

/* Pointers in constant data: in a position-independent program, relocated at load into a page of the
 * read-only-after-relocation part, a private copy the release must keep (the file holds unrelocated values). */
static const struct {
	int (*fn)(void);
	const char *word;
} relocated = { answer, "relocated" };

/* Writable data changed at run time: its segment is never touched. */
static int changed = 1;
static char zeroed[8192];

/* The pagemap entry of the page holding p. */
static uint64_t pagemap_of(const void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	uint64_t e = 0;
	long page = sysconf(_SC_PAGESIZE);
	assert_int_equal(pread(fd, &e, sizeof(e), (off_t)((uintptr_t)p / (uintptr_t)page * sizeof(e))), sizeof(e));
	close(fd);
	return e;
}

#define PM_PRESENT (1ULL << 63)
#define PM_FILE (1ULL << 61)

/* Constant data of the file's, in whole 64 KiB windows of its own: the kernel's fault-around (64 KiB, aligned)
 * cannot bring its middle back while other constants are read. */
#define BIG (256 * 1024)
static const unsigned char big[BIG] __attribute__((aligned(65536))) = { 1 };

static void test_release_keeps_private_copies(void **state)
{
	(void)state;
	/* The table's page is a private copy (the program is built position-independent): otherwise this test
	 * would not test the keeping. */
	uint64_t e = pagemap_of(&relocated);
	assert_true(e & PM_PRESENT);
	assert_false(e & PM_FILE);
	changed = 7;
	memset(zeroed, 'z', sizeof(zeroed));

	crl_resident_release_code();

	/* A reverted page would hold the file's unrelocated offsets: a call through it would crash. */
	assert_int_equal(relocated.fn(), 42);
	assert_string_equal(relocated.word, "relocated");
	assert_int_equal(changed, 7);
	for (size_t i = 0; i < sizeof(zeroed); i++)
		assert_int_equal(zeroed[i], 'z');
	e = pagemap_of(&relocated);
	assert_true(e & PM_PRESENT);
	assert_false(e & PM_FILE);
}

static void test_release_drops_file_pages(void **state)
{
	(void)state;
	/* Fault in some of libc's code and this program's. */
	char buf[64];
	snprintf(buf, sizeof(buf), "%d %s", answer(), relocated.word);
	assert_string_equal(buf, "42 relocated");
	long before = crl_resident_file_kib();
	assert_true(before > 0);

	size_t released = crl_resident_release_code();
	long after = crl_resident_file_kib();
	assert_true(released > 0);
	assert_true(after >= 0);
	assert_true(after < before);

	/* The code runs on: its pages fault back in. */
	snprintf(buf, sizeof(buf), "%d %s", answer(), relocated.word);
	assert_string_equal(buf, "42 relocated");
}

/* A read-only page goes; one made writable before the walk stays, even while it is still the file's. */
static void test_release_follows_protections(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	volatile unsigned sum = 0;
	for (size_t i = 0; i < BIG; i += (size_t)page)
		sum += big[i];
	const unsigned char *gone = big + 128 * 1024, *kept = big + 192 * 1024;
	assert_true(pagemap_of(gone) & PM_PRESENT);
	assert_true(pagemap_of(kept) & PM_PRESENT);
	assert_int_equal(mprotect((void *)kept, (size_t)page, PROT_READ | PROT_WRITE), 0);

	crl_resident_release_code();

	assert_false(pagemap_of(gone) & PM_PRESENT);
	uint64_t e = pagemap_of(kept);
	assert_true(e & PM_PRESENT);
	assert_true(e & PM_FILE);
	assert_int_equal(mprotect((void *)kept, (size_t)page, PROT_READ), 0);
	assert_int_equal(big[0] + sum * 0, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_keeps_private_copies),
		cmocka_unit_test(test_release_drops_file_pages),
		cmocka_unit_test(test_release_follows_protections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
