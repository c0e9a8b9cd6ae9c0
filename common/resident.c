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
	bool writable;
} span_t;

typedef struct walk {
	int pagemap;
	uintptr_t page, vdso, interp;
	size_t released; /* pages */
	bool mapped;     /* maps read (inside the walk) */
	bool failed;
	span_t *maps; /* /proc/self/maps, in address order, read with the loader's list locked */
	size_t n_maps;
} walk_t;

/* The mappings, from /proc/self/maps. */
static int read_maps(walk_t *w)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (crl_fs_read_file(AT_FDCWD, "/proc/self/maps", 16 << 20, &text, &len, NULL) < 0)
		return -1;
	size_t cap = 0;
	for (char *line = text; line && *line;) {
		char *next = strchr(line, '\n');
		unsigned long start, end;
		char perms[5];
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3) {
			if (w->n_maps == cap) {
				size_t ncap = cap ? cap * 2 : 256;
				span_t *n = realloc(w->maps, ncap * sizeof(*n));
				if (!n)
					return -1;
				w->maps = n;
				cap = ncap;
			}
			w->maps[w->n_maps++] = (span_t){ start, end, perms[1] == 'w' };
		}
		line = next ? next + 1 : NULL;
	}
	return 0;
}

/* An object whose code the loader writes to (text relocations) or that is the loader itself (which makes its
 * own data writable again for an executable stack): left alone. */
static bool leave_alone(const walk_t *w, const struct dl_phdr_info *info)
{
	/* The vDSO's pages are the kernel's, not a file's. */
	uintptr_t phdr = (uintptr_t)info->dlpi_phdr;
	if (w->vdso && phdr >= w->vdso && phdr < w->vdso + w->page)
		return true;
	if (w->interp && info->dlpi_addr == w->interp)
		return true;
	for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
		if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
			continue;
		for (const ElfW(Dyn) *d = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
		     d->d_tag != DT_NULL; d++)
			if (d->d_tag == DT_TEXTREL || (d->d_tag == DT_FLAGS && (d->d_un.d_val & DF_TEXTREL)))
				return true;
	}
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
	/* The maps now, with the list of loaded objects locked (held for the whole walk): no object comes or
	 * goes meanwhile, and what is read-only now stays so (an object being loaded by another thread is listed
	 * before its relocation is done: its data is still writable then, and left). */
	if (!w->mapped) {
		w->mapped = true;
		w->failed = read_maps(w) < 0;
	}
	if (w->failed)
		return 1;
	if (leave_alone(w, info))
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
			 * (the relocated pages are private copies, kept). */
			start &= ~(w->page - 1);
			end &= ~(w->page - 1);
		} else {
			continue;
		}
		if (start < end)
			ranges[n++] = (span_t){ start, end, false };
	}
	/* Of each, the parts that were read-only when the walk began. */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < w->n_maps; k++) {
			const span_t *m = &w->maps[k];
			uintptr_t from = m->start > ranges[i].start ? m->start : ranges[i].start;
			uintptr_t to = m->end < ranges[i].end ? m->end : ranges[i].end;
			if (!m->writable && from < to)
				release_range(w, from, to);
		}
	return 0;
}

size_t crl_resident_release_code(void)
{
	walk_t w = { .page = (uintptr_t)sysconf(_SC_PAGESIZE), .vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR),
		     .interp = (uintptr_t)getauxval(AT_BASE) };
	w.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (w.pagemap < 0)
		return 0;
	dl_iterate_phdr(each_object, &w);
	free(w.maps);
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
