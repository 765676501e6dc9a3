/* SPDX-License-Identifier: MIT */
/*
 * Debug files fetched from debuginfod servers (DEBUGINFOD_URLS) by build
 * ID, off the tracing path: a worker thread of its own makes each request
 * (libdebuginfod blocks for as long as a server takes, up to its
 * DEBUGINFOD_TIMEOUT), and the symbolizer picks the results up when it
 * next resolves a frame. libdebuginfod keeps what it fetched in its cache
 * (DEBUGINFOD_CACHE_PATH, by default ~/.cache/debuginfod_client), so a
 * build ID is fetched once per machine, not once per run.
 */
#ifndef MEMTRACE_DEBUGINFOD_FETCH_H
#define MEMTRACE_DEBUGINFOD_FETCH_H

#include <stddef.h>
#include <stdint.h>

struct debuginfod_fetch;

/*
 * A fetcher, or *out NULL when DEBUGINFOD_URLS is unset or empty: then
 * nothing is ever fetched. The thread starts with the first request.
 * Returns 0 or a negative errno.
 */
int debuginfod_fetch_new(struct debuginfod_fetch **out);

/* Stop: a fetch under way is cancelled (within about a second, when
 * libdebuginfod next reports progress) and the thread joined. NULL is
 * fine. */
void debuginfod_fetch_free(struct debuginfod_fetch *f);

/* Ask for the debug file of build ID id[0..len). A build ID asked for
 * before is not asked again. Returns 0 or a negative errno. */
int debuginfod_fetch_request(struct debuginfod_fetch *f, const uint8_t *id, size_t len);

/*
 * Take one finished request: returns 1 with its build ID in id (room for
 * 64 bytes) and *len, and in *fd the debug file open for reading (the
 * caller's to close), or a negative errno when it could not be had
 * (-ENOENT: no server has it). Returns 0 when none has finished.
 */
int debuginfod_fetch_poll(struct debuginfod_fetch *f, uint8_t *id, size_t *len, int *fd);

/* Requests not yet finished or not yet polled. */
size_t debuginfod_fetch_pending(struct debuginfod_fetch *f);

#endif /* MEMTRACE_DEBUGINFOD_FETCH_H */
