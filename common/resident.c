/* SPDX-License-Identifier: Apache-2.0 */
#include "resident.h"

#include <elf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"

#define PM_PRESENT (1ULL << 63)
#define PM_FILE (1ULL << 61) /* a page of the file's (or shared anonymous), not a private copy */
#define PM_BATCH 512
#define MAX_RANGES 16 /* per object: its read-only segments and RELRO (two to four in practice) */

typedef struct span {
	uintptr_t start, end;
} span_t;

typedef struct walk {
	int pagemap;
	uintptr_t page, vdso;
	size_t released; /* pages */
	span_t *writable; /* the writable mappings before the walk (/proc/self/maps) */
	size_t n_writable;
} walk_t;

/* The writable mappings, from /proc/self/maps. */
static int read_writable(walk_t *w)
{
	_cleanup_free_ char *maps = NULL;
	size_t len = 0;
	if (crl_fs_read_file(AT_FDCWD, "/proc/self/maps", 16 << 20, &maps, &len, NULL) < 0)
		return -1;
	size_t cap = 0;
	for (char *line = maps; line && *line;) {
		char *next = strchr(line, '\n');
		unsigned long start, end;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3 && perms[1] == 'w') {
			if (w->n_writable == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				span_t *n = realloc(w->writable, ncap * sizeof(*n));
				if (!n)
					return -1;
				w->writable = n;
				cap = ncap;
			}
			w->writable[w->n_writable++] = (span_t){ start, end };
		}
		line = next ? next + 1 : NULL;
	}
	return 0;
}

static bool overlaps_writable(const walk_t *w, uintptr_t start, uintptr_t end)
{
	for (size_t i = 0; i < w->n_writable; i++)
		if (w->writable[i].start < end && start < w->writable[i].end)
			return true;
	return false;
}

/* Drops the pages of [start, end) that are present and still the file's: runs of them at a time. */
static void release_range(walk_t *w, uintptr_t start, uintptr_t end)
{
	uint64_t pm[PM_BATCH];
	for (uintptr_t at = start; at < end;) {
		size_t n = (end - at) / w->page;
		if (n > PM_BATCH)
			n = PM_BATCH;
		ssize_t got = pread(w->pagemap, pm, n * sizeof(pm[0]), (off_t)(at / w->page * sizeof(pm[0])));
		if (got <= 0)
			return;
		n = (size_t)got / sizeof(pm[0]);
		for (size_t i = 0; i < n;) {
			if ((pm[i] & (PM_PRESENT | PM_FILE)) != (PM_PRESENT | PM_FILE)) {
				i++;
				continue;
			}
			size_t j = i;
			while (j < n && (pm[j] & (PM_PRESENT | PM_FILE)) == (PM_PRESENT | PM_FILE))
				j++;
			if (madvise((void *)(at + i * w->page), (j - i) * w->page, MADV_DONTNEED) == 0)
				w->released += j - i;
			i = j;
		}
		at += n * w->page;
	}
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	walk_t *w = arg;
	/* The vDSO's pages are the kernel's, not a file's. */
	if (w->vdso && info->dlpi_addr == w->vdso)
		return 0;
	/* The ranges first, the release after: the program headers are in the object's first pages, which reading
	 * them again would fault back in. */
	span_t ranges[MAX_RANGES];
	size_t n = 0;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum && n < MAX_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
		if (ph->p_type == PT_LOAD && !(ph->p_flags & PF_W)) {
			/* Whole pages inside the segment only: a page it shares with a writable neighbour belongs to
			 * that neighbour's mapping. */
			start = (start + w->page - 1) & ~(w->page - 1);
			end &= ~(w->page - 1);
		} else if (ph->p_type == PT_GNU_RELRO) {
			/* The part of the writable segment made read-only after relocation, as the loader rounds it
			 * (the relocated pages are private copies, kept). Only once it is read-only: an object being
			 * loaded by another thread is listed before its relocation is done. */
			start &= ~(w->page - 1);
			end &= ~(w->page - 1);
			if (overlaps_writable(w, start, end))
				continue;
		} else {
			continue;
		}
		if (start < end)
			ranges[n++] = (span_t){ start, end };
	}
	for (size_t i = 0; i < n; i++)
		release_range(w, ranges[i].start, ranges[i].end);
	return 0;
}

size_t crl_resident_release_code(void)
{
	walk_t w = { .page = (uintptr_t)sysconf(_SC_PAGESIZE), .vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR) };
	w.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (w.pagemap < 0)
		return 0;
	if (read_writable(&w) == 0)
		dl_iterate_phdr(each_object, &w);
	free(w.writable);
	close(w.pagemap);
	return w.released * (w.page / 1024);
}

long crl_resident_file_kib(void)
{
	char buf[128];
	if (crl_fs_read_small("/proc/self/statm", buf, sizeof(buf)) <= 0)
		return -1;
	unsigned long size, resident, shared;
	if (sscanf(buf, "%lu %lu %lu", &size, &resident, &shared) != 3)
		return -1;
	return (long)(shared * ((unsigned long)sysconf(_SC_PAGESIZE) / 1024));
}
