/* SPDX-License-Identifier: MIT */
/*
 * Finding the allocator to probe in a process: its libc mapping, the file
 * behind it (the very file mapped, proc/target_file.h: whatever a chroot,
 * a container or a bind mount puts at its path), and where on each
 * allocation function a probe should sit.
 */
#ifndef MEMTRACE_LIBC_TARGET_H
#define MEMTRACE_LIBC_TARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memtrace_events.h"

struct libc_target {
	/* The mapped libc and ld.so, held open from libc_target_find() to
	 * libc_target_release(): the probes go on these very files, through
	 * their /proc/self/fd paths. */
	bool open;			/* fd and ldso_fd are ours to close */
	int fd;
	int ldso_fd;			/* -1 when not found */
	char path[32];			/* "/proc/self/fd/N" of fd */
	char maps_path[PATH_MAX];	/* as the process names it (for people) */
	/* File offsets of each function (0: absent from this libc). Aliases
	 * (memalign and aligned_alloc in glibc) share one offset; only the
	 * first function at an offset is probed, so a call counts once. */
	uint64_t func_offset[MT_FUNC_COUNT];
	/* Where the entry probe sits: func_offset plus a few bytes when the
	 * first instruction would be single-stepped and a later one, reached
	 * by every call with the argument registers intact, is emulated. */
	uint64_t probe_offset[MT_FUNC_COUNT];
	/* Each function's address in the process (for reports). */
	uint64_t func_addr[MT_FUNC_COUNT];
	/* Set for functions that share an offset with an earlier one. */
	uint8_t alias_of_earlier[MT_FUNC_COUNT];

	/* The dynamic loader and the offset of its debugger hook
	 * (_dl_debug_state), called after every change of the loaded
	 * objects; ldso_path[0] == 0 when not found. */
	char ldso_path[PATH_MAX];
	uint64_t dl_debug_state_offset;
};

/* Name of each enum mt_func ("malloc", ...). */
extern const char *const mt_func_names[MT_FUNC_COUNT];

/*
 * Find pid's libc and its allocation functions, and open the files.
 * -ENOENT when the process maps no libc (a static binary); -ESRCH when it
 * is gone. On error nothing is left open; on success the caller ends with
 * libc_target_release().
 */
int libc_target_find(pid_t pid, struct libc_target *out, char *why, size_t why_len);

/* Close what libc_target_find() opened. Harmless on a zeroed struct and
 * when called twice. */
void libc_target_release(struct libc_target *lt);

/*
 * How many bytes from the start of a function a cheap probe can sit,
 * given its first bytes: 0 when the first instruction is one the kernel
 * emulates (push, jmp, jcc, call) or when nothing better is known.
 * Exposed for tests.
 */
size_t libc_target_probe_skip(const uint8_t *code, size_t len);

#endif /* MEMTRACE_LIBC_TARGET_H */
