/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz harnesses share: the parsers under test read files (or
 * process memory) through fds, so each input is handed to them as the
 * contents of a memfd, exactly as a file a traced process named would be.
 */
#ifndef MEMTRACE_FUZZ_INPUT_H
#define MEMTRACE_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* An fd whose file holds exactly the n bytes at data. Aborts (a harness
 * failure, not a finding) when the memfd cannot be made. */
static inline int fuzz_memfd(const uint8_t *data, size_t n)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	for (size_t off = 0; off < n;) {
		ssize_t w = pwrite(fd, data + off, n - off, (off_t)off);

		if (w <= 0)
			abort();
		off += w;
	}
	return fd;
}

#endif /* MEMTRACE_FUZZ_INPUT_H */
