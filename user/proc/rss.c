// SPDX-License-Identifier: MIT
/* A process's resident memory (see rss.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rss.h"

#define PAGE 4096ULL
#define PM_PRESENT (1ULL << 63)

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EIO;
	buf[n] = '\0';
	return 0;
}

/* "Name:   1234 kB" -> bytes; false if the line is not there. */
static bool status_kb(const char *text, const char *name, uint64_t *out)
{
	size_t len = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long kb;

		if (strncmp(p, name, len) || p[len] != ':')
			continue;
		if (sscanf(p + len + 1, " %llu", &kb) != 1)
			return false;
		*out = kb * 1024;
		return true;
	}
	return false;
}

int rss_parse_status(const char *text, struct rss *out)
{
	memset(out, 0, sizeof(*out));
	/* A kernel thread, or a process already a zombie, has no VmRSS. */
	if (!status_kb(text, "VmRSS", &out->total))
		return -ESRCH;
	status_kb(text, "RssAnon", &out->anon);
	status_kb(text, "RssFile", &out->file);
	status_kb(text, "RssShmem", &out->shmem);
	return 0;
}

int rss_read(pid_t pid, struct rss *out)
{
	char path[64], text[8192];
	int err;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_text(path, text, sizeof(text));
	return err ? err : rss_parse_status(text, out);
}

int rss_pages_open(pid_t pid, struct rss_pages *p)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	p->fd = open(path, O_RDONLY | O_CLOEXEC);
	p->budget = RSS_PAGES_BUDGET;
	return p->fd < 0 ? -errno : 0;
}

void rss_pages_close(struct rss_pages *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}

uint64_t rss_pages_resident(struct rss_pages *p, uint64_t start, uint64_t end)
{
	uint64_t pages = (end - start) / PAGE, step = 1, resident = 0;
	uint64_t buf[512];

	if (p->fd < 0 || end <= start)
		return 0;
	/* Past the budget, every step-th page stands for step pages. */
	if (pages > p->budget)
		step = p->budget ? (pages + p->budget - 1) / p->budget : pages;
	if (step == 1) {
		for (uint64_t done = 0; done < pages;) {
			uint64_t n = pages - done < 512 ? pages - done : 512;
			ssize_t got = pread(p->fd, buf, n * 8, (off_t)((start / PAGE + done) * 8));

			if (got <= 0)
				break;
			for (ssize_t i = 0; i < got / 8; i++)
				resident += (buf[i] & PM_PRESENT) != 0;
			done += got / 8;
		}
		p->budget -= pages;
		return resident * PAGE;
	}
	for (uint64_t k = 0; k < pages; k += step) {
		uint64_t e;

		if (pread(p->fd, &e, 8, (off_t)((start / PAGE + k) * 8)) == 8 && (e & PM_PRESENT))
			resident += step;
	}
	p->budget = 0;
	return (resident > pages ? pages : resident) * PAGE;
}

/* /proc/PID/task/TID/syscall: "NR a1 a2 a3 a4 a5 a6 SP PC" in a syscall,
 * "-1 SP PC" when blocked otherwise, "running" on a CPU. */
static bool sp_of(const char *text, uint64_t *sp)
{
	char *fields[9];
	char copy[256];
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", text);
	for (char *tok = strtok(copy, " \n"); tok && n < 9; tok = strtok(NULL, " \n"))
		fields[n++] = tok;
	if (n != 9 && n != 3)
		return false;
	*sp = strtoull(fields[n - 2], NULL, 16);
	return *sp != 0;
}

int rss_thread_sps(pid_t pid, uint64_t *sps, size_t max)
{
	char path[64];
	struct dirent *d;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return errno == ENOENT ? -ESRCH : -errno;
	while ((d = readdir(dir)) && n < max) {
		char file[320], text[256];

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(file, sizeof(file), "/proc/%d/task/%s/syscall", pid, d->d_name);
		if (!read_text(file, text, sizeof(text)) && sp_of(text, &sps[n]))
			n++;
	}
	closedir(dir);
	return (int)n;
}
