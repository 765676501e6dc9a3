/* SPDX-License-Identifier: MIT */
/*
 * Each interpreter file's inlined pymalloc sites (pymalloc_sites.h), found
 * once per run however many processes map the file, and found ahead: the
 * scan takes ~0.3 s of CPU on Debian's python3.11, and started when a
 * process is first seen to be Python it runs while the BPF programs go
 * through the verifier, instead of after.
 *
 * A file is known by its device, inode, size and modification time; what
 * an earlier run found is read back from disk (pymalloc_sites_disk.h).
 * Only the thread that created the cache may call these.
 */
#ifndef MEMTRACE_PYMALLOC_SITES_CACHE_H
#define MEMTRACE_PYMALLOC_SITES_CACHE_H

#include "pymalloc_sites.h"

struct sites_cache;

int sites_cache_new(struct sites_cache **out);
/* Waits for the scans under way. */
void sites_cache_free(struct sites_cache *c);

/*
 * Start looking for the sites of the file open on fd (which stays the
 * caller's) on a thread of its own, unless it is known or under way. A
 * file with pymalloc's symbols needs no sites: its thread only reads the
 * symbol table. Failing to start is not an error: sites_cache_get() then
 * scans itself.
 */
void sites_cache_prefetch(struct sites_cache *c, int fd);

/*
 * The sites of the file open on fd, as pymalloc_sites_find_fd() returns
 * them, into *out (the caller's copy: free it with pymalloc_sites_free());
 * waits for a prefetch under way.
 */
int sites_cache_get(struct sites_cache *c, int fd, struct pymalloc_sites *out);

#endif /* MEMTRACE_PYMALLOC_SITES_CACHE_H */
