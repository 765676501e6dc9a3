/* SPDX-License-Identifier: MIT */
/*
 * A process's resident memory as the kernel counts it: its RSS by kind
 * (/proc/PID/status), which pages of a range are resident
 * (/proc/PID/pagemap), and where its threads' stacks are (each thread's
 * stack pointer, /proc/PID/task/TID/syscall, and the mapping holding it).
 */
#ifndef MEMTRACE_RSS_H
#define MEMTRACE_RSS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rss {
	uint64_t total, anon, file, shmem;	/* bytes */
};

/* Read pid's RSS. Returns 0, -ESRCH (gone) or another negative errno. */
int rss_read(pid_t pid, struct rss *out);

/* The same from the text of a /proc/PID/status (for tests). */
int rss_parse_status(const char *text, struct rss *out);

/* Resident pages of ranges of one process, through its pagemap. */
struct rss_pages {
	int fd;			/* /proc/PID/pagemap */
	uint64_t budget;	/* pages still to read exactly this time */
};

/* Pages read exactly per process per report (4 GiB of ranges, 8 MiB of
 * pagemap); past that, one page in N is read and counted N times. */
#define RSS_PAGES_BUDGET (1ULL << 20)

int rss_pages_open(pid_t pid, struct rss_pages *p);
void rss_pages_close(struct rss_pages *p);

/* Resident bytes of [start, end) (page aligned); 0 if unreadable. */
uint64_t rss_pages_resident(struct rss_pages *p, uint64_t start, uint64_t end);

/*
 * The stack pointers of pid's threads that are blocked (a running thread
 * shows none): up to max into sps. Returns how many, or a negative errno.
 */
int rss_thread_sps(pid_t pid, uint64_t *sps, size_t max);

#endif /* MEMTRACE_RSS_H */
