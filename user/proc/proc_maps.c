// SPDX-License-Identifier: MIT
/*
 * Parsing /proc/PID/maps. Each line is
 *
 *   start-end perms offset major:minor inode   path
 *
 * with every number in hex except the inode (decimal). The path, absent for
 * anonymous memory, runs to the end of the line: it may contain spaces,
 * and the kernel appends " (deleted)" to files unlinked after the mapping
 * was made.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "proc_maps.h"
#include "util/search.h"
#include "util/vec.h"

#define DELETED_SUFFIX " (deleted)"

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* Unlike strtoull, accepts no sign or leading blanks, and reports
 * overflow: a malformed line must fail, not parse as something else. */
static bool parse_number(char **p, unsigned int base, uint64_t *out)
{
	char *s = *p;
	uint64_t v = 0;
	int d;

	for (; (d = digit_value(*s)) < (int)base; s++) {
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (s == *p)
		return false;
	*p = s;
	*out = v;
	return true;
}

static bool skip_char(char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* line is NUL-terminated, without its newline; m->path points into it. */
static int parse_line(char *line, struct proc_map *m)
{
	uint64_t major, minor;
	char *p = line;

	memset(m, 0, sizeof(*m));
	if (!parse_number(&p, 16, &m->start) || !skip_char(&p, '-') ||
	    !parse_number(&p, 16, &m->end) || !skip_char(&p, ' '))
		return -EINVAL;
	if (strnlen(p, 5) < 5 || p[4] != ' ')
		return -EINVAL;
	memcpy(m->perms, p, 4);
	p += 5;
	if (!parse_number(&p, 16, &m->pgoff) || !skip_char(&p, ' ') ||
	    !parse_number(&p, 16, &major) || !skip_char(&p, ':') ||
	    !parse_number(&p, 16, &minor) || !skip_char(&p, ' ') ||
	    !parse_number(&p, 10, &m->inode))
		return -EINVAL;
	if (m->start >= m->end || major > UINT32_MAX || minor > UINT32_MAX)
		return -EINVAL;
	if (*p && *p != ' ')
		return -EINVAL;
	m->dev_major = major;
	m->dev_minor = minor;
	/* The kernel pads with spaces to align the paths. */
	while (*p == ' ')
		p++;
	m->path = p;
	m->deleted = ends_with(p, DELETED_SUFFIX);
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Parse text (len bytes followed by a NUL), taking ownership of it. */
static int parse_owned(char *text, size_t len, struct proc_maps *out)
{
	char *line = text, *end = text + len, *nl;
	size_t lines = 1, n = 0;
	bool sorted = true;
	int err;

	memset(out, 0, sizeof(*out));
	for (char *p = text; (p = memchr(p, '\n', end - p)); p++)
		lines++;
	out->text = text;
	out->maps = calloc(lines, sizeof(*out->maps));
	if (!out->maps) {
		proc_maps_free(out);
		return -ENOMEM;
	}
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', end - line);
		if (!nl)
			nl = end;
		*nl = '\0';
		if (nl == line)
			continue;	/* the empty "line" after the last newline */
		err = parse_line(line, &out->maps[n]);
		if (err) {
			proc_maps_free(out);
			return err;
		}
		if (n && out->maps[n].start < out->maps[n - 1].start)
			sorted = false;
		n++;
	}
	out->n = n;
	/* The kernel lists mappings in order; text from elsewhere may not. */
	if (!sorted)
		qsort(out->maps, n, sizeof(*out->maps), by_start);
	return 0;
}

int proc_maps_parse(const char *text, size_t len, struct proc_maps *out)
{
	char *copy = malloc(len + 1);

	if (!copy) {
		memset(out, 0, sizeof(*out));
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	return parse_owned(copy, len, out);
}

int proc_maps_read(pid_t pid, struct proc_maps *out)
{
	size_t len = 0, cap = 16384;
	char path[64], *buf;
	ssize_t got;
	int fd, err;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* The size of a /proc file is unknown until read() returns 0. */
	for (;;) {
		if (vec_reserve(&buf, &cap, len + 4096, 1)) {
			err = -ENOMEM;
			goto fail;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto fail;
		}
		if (got == 0)
			break;
		len += got;
	}
	close(fd);
	buf[len] = '\0';
	return parse_owned(buf, len, out);
fail:
	free(buf);
	close(fd);
	return err;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m, uint64_t addr)
{
	/* The first mapping starting after addr. */
	size_t lo = FIRST_ABOVE(m->maps, m->n, start, addr);

	if (lo == 0 || addr >= m->maps[lo - 1].end)
		return NULL;
	return &m->maps[lo - 1];
}

void proc_maps_free(struct proc_maps *m)
{
	free(m->maps);
	free(m->text);
	memset(m, 0, sizeof(*m));
}
