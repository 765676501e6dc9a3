/* SPDX-License-Identifier: MIT */
/*
 * pymalloc's inlined sites kept on disk between runs: finding them takes
 * ~0.3 s of CPU on Debian's python3.11 (pymalloc_scan.c), and a later
 * memtrace attaching to the same interpreter build reads them back instead.
 *
 * One record per interpreter build (its GNU build ID), in the directory
 * MEMTRACE_CACHE names, else /var/cache/memtrace; MEMTRACE_CACHE=off
 * keeps nothing. memtrace creates the directory, mode 0700, and uses it
 * only while it is a directory of its own user that no one else may write.
 * A record is believed only if this very memtrace binary wrote it (its own
 * build ID is in it), for a file of the same build ID and size, and every
 * site it names is a conditional jump in that file (as every site is);
 * anything else is ignored, and replaced after the next scan.
 */
#ifndef MEMTRACE_PYMALLOC_SITES_DISK_H
#define MEMTRACE_PYMALLOC_SITES_DISK_H

#include "pymalloc_sites.h"

/* The sites of the file open on fd, as stored: 0, or -ENOENT when no
 * record can be believed (*out is then empty). */
int sites_disk_load(int fd, struct pymalloc_sites *out);

/* Store s, the sites of the file open on fd. Best effort: a record that
 * cannot be written is only a later scan. */
void sites_disk_save(int fd, const struct pymalloc_sites *s);

#endif /* MEMTRACE_PYMALLOC_SITES_DISK_H */
