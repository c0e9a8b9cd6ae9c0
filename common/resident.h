/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Takes out of this process's page tables the pages of its loaded objects' read-only segments (code, constants,
 * symbol and relocation tables, the untouched rest of what is read-only after relocation) that are still the file's: the dynamic loader's relocation pass, constructors
 * and the kernel's fault-around leave megabytes of them mapped that no call needs again. They stay in the page
 * cache, shared and reclaimable; a later use faults them back in without I/O (a minor fault). Pages that are no
 * longer the file's (written by a debugger, say) and every writable segment are left alone. Returns the KiB
 * taken out; 0 where /proc/self/pagemap cannot be read. While other threads run: the objects are walked with the
 * loader's list locked (none comes or goes), and a range is released only where the mappings were read-only
 * when the walk began; objects with text relocations and the loader itself are left alone. What remains is code
 * that makes its own pages writable and writes them (none of this program's libraries does). */
size_t crl_resident_release_code(void);

/* This process's resident pages mapped from files (RssFile + RssShmem, /proc/self/statm), in KiB; -1 if unknown. */
long crl_resident_file_kib(void);
