// SPDX-License-Identifier: MIT
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "processes.h"
#include "util/vec.h"

/* With -a there are hundreds of processes, and each event looks its
 * process up: a hash index, kept at most half full. */
static size_t slot_of(uint32_t pid, size_t cap)
{
	return (pid * 2654435761u) & (cap - 1);
}

static void index_put(struct processes *ps, uint32_t pid, size_t idx)
{
	size_t s = slot_of(pid, ps->index_cap);

	while (ps->index[s])
		s = (s + 1) & (ps->index_cap - 1);
	ps->index[s] = (uint32_t)idx + 1;
}

static int index_grow(struct processes *ps, size_t want)
{
	size_t cap = ps->index_cap ? ps->index_cap : 64;
	uint32_t *old = ps->index;
	size_t old_cap = ps->index_cap;

	while (cap < 2 * want)
		cap *= 2;
	if (cap == ps->index_cap)
		return 0;
	ps->index = calloc(cap, sizeof(*ps->index));
	if (!ps->index) {
		ps->index = old;
		return -ENOMEM;
	}
	ps->index_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			index_put(ps, (uint32_t)ps->v[old[i] - 1]->pid, old[i] - 1);
	free(old);
	return 0;
}

int processes_add(struct processes *ps, pid_t pid, struct traced **out)
{
	struct traced *t;
	int err = vec_reserve(&ps->v, &ps->cap, ps->n + 1, sizeof(*ps->v));

	if (!err)
		err = index_grow(ps, ps->n + 1);
	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->pidfd = -1;
	/* A PID seen again (reused after an exit): the newest entry wins. */
	index_put(ps, (uint32_t)pid, ps->n);
	ps->v[ps->n++] = t;
	*out = t;
	return 0;
}

struct traced *processes_find(const struct processes *ps, uint32_t pid)
{
	uint32_t best = 0;

	if (!ps->index_cap)
		return NULL;
	for (size_t s = slot_of(pid, ps->index_cap); ps->index[s];
	     s = (s + 1) & (ps->index_cap - 1))
		if ((uint32_t)ps->v[ps->index[s] - 1]->pid == pid && ps->index[s] > best)
			best = ps->index[s];
	return best ? ps->v[best - 1] : NULL;
}

void processes_set_untraced(struct traced *t, const char *kind, const char *fmt, ...)
{
	va_list ap;

	if (t->untraced[0] && (t->not_at_all || !kind))
		return;
	va_start(ap, fmt);
	vsnprintf(t->untraced, sizeof(t->untraced), fmt, ap);
	va_end(ap);
	t->not_at_all = kind != NULL;
	t->untraced_kind = kind;
}

bool processes_exe_is_static(pid_t pid)
{
	char path[64];
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool interp = false;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph)) {
		close(fd);
		return false;
	}
	for (int i = 0; i < eh.e_phnum && !interp; i++)
		interp = pread(fd, &ph, sizeof(ph), eh.e_phoff + (off_t)i * sizeof(ph)) ==
			 sizeof(ph) && ph.p_type == PT_INTERP;
	close(fd);
	return !interp;
}

void processes_read_identity(struct traced *t)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, ppid;

	snprintf(path, sizeof(path), "/proc/%d/exe", t->pid);
	n = readlink(path, t->exe, sizeof(t->exe) - 1);
	t->exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/stat", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %d", &ppid) == 1)
			t->ppid = ppid;
	}
	snprintf(path, sizeof(path), "/proc/%d/comm", t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, t->comm, sizeof(t->comm) - 1);
		close(fd);
		if (n > 0) {
			t->comm[n] = '\0';
			t->comm[strcspn(t->comm, "\n")] = '\0';
		}
	}
}

bool processes_all_exited(const struct processes *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!ps->v[i]->exited)
			return false;
	return ps->n > 0;
}

void processes_free(struct processes *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i]->pidfd >= 0)
			close(ps->v[i]->pidfd);
		alloc_target_release(&ps->v[i]->alloc);
		python_process_free(&ps->v[i]->py);
		free(ps->v[i]);
	}
	free(ps->v);
	free(ps->index);
	*ps = (struct processes){ 0 };
}
