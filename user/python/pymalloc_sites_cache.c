// SPDX-License-Identifier: MIT
/*
 * The per-run cache of pymalloc sites (see pymalloc_sites_cache.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pymalloc_sites_cache.h"
#include "pymalloc_sites_disk.h"
#include "symbols/elf_symbols.h"
#include "util/side_task.h"
#include "util/vec.h"

struct file_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* One file. Its prefetch writes only err and sites, and the owner reads
 * them only after side_task_finish(). Entries do not move (the vector holds
 * pointers): a running thread holds its own. */
struct entry {
	struct file_key key;
	int fd;			/* a duplicate, for the thread; -1 after */
	struct side_task prefetch;	/* zeroed: none */
	int err;
	struct pymalloc_sites sites;
};

struct sites_cache {
	struct entry **v;
	size_t n, cap;
};

static int key_of(int fd, struct file_key *k)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*k = (struct file_key){ st.st_dev, st.st_ino, st.st_size, st.st_mtim };
	return 0;
}

static bool same_key(const struct file_key *a, const struct file_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static struct entry *lookup(const struct sites_cache *c, const struct file_key *k)
{
	for (size_t i = 0; i < c->n; i++)
		if (same_key(&c->v[i]->key, k))
			return c->v[i];
	return NULL;
}

/* With pymalloc's own symbol the probes go on functions, not sites
 * (pymalloc_target.c): scanning would be wasted. */
static bool has_allocator_symbol(int fd)
{
	struct elf_symbols *es;
	uint64_t value;
	bool found;

	if (elf_symbols_open(fd, &es))
		return false;
	found = !elf_symbols_find(es, "_PyObject_Malloc", &value, NULL);
	elf_symbols_close(es);
	return found;
}

static void close_entry_fd(struct entry *e)
{
	close(e->fd);
	e->fd = -1;
}

/* e's sites: read back from an earlier run's record, else scanned (and
 * recorded for the next run). */
static void find(struct entry *e, bool symbols_first)
{
	if (symbols_first && has_allocator_symbol(e->fd)) {
		e->err = -EEXIST;	/* not looked for: see sites_cache_get() */
	} else if (sites_disk_load(e->fd, &e->sites)) {
		e->err = pymalloc_sites_find_fd(e->fd, &e->sites);
		if (!e->err)
			sites_disk_save(e->fd, &e->sites);
	} else {
		e->err = 0;		/* found by an earlier run */
	}
	close_entry_fd(e);
}

static void prefetch_run(void *arg)
{
	find(arg, true);
}

static struct entry *add(struct sites_cache *c, int fd, const struct file_key *k)
{
	struct entry *e;

	if (vec_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v)))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = *k;
	e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (e->fd < 0) {
		free(e);
		return NULL;
	}
	c->v[c->n++] = e;
	return e;
}

int sites_cache_new(struct sites_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void sites_cache_free(struct sites_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		side_task_finish(&c->v[i]->prefetch);
		pymalloc_sites_free(&c->v[i]->sites);
		free(c->v[i]);
	}
	free(c->v);
	free(c);
}

void sites_cache_prefetch(struct sites_cache *c, int fd)
{
	struct file_key k;
	struct entry *e;

	if (key_of(fd, &k) || lookup(c, &k) || !(e = add(c, fd, &k)))
		return;
	side_task_start(&e->prefetch, prefetch_run, e);
}

static int copy_sites(const struct pymalloc_sites *from, struct pymalloc_sites *to)
{
	*to = *from;
	to->sites = malloc((from->n_sites ? from->n_sites : 1) * sizeof(*to->sites));
	if (!to->sites) {
		memset(to, 0, sizeof(*to));
		return -ENOMEM;
	}
	memcpy(to->sites, from->sites, from->n_sites * sizeof(*to->sites));
	return 0;
}

int sites_cache_get(struct sites_cache *c, int fd, struct pymalloc_sites *out)
{
	struct file_key k;
	struct entry *e;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = key_of(fd, &k)))
		return err;
	e = lookup(c, &k);
	if (!e) {
		if (!(e = add(c, fd, &k)))
			return pymalloc_sites_find_fd(fd, out);
		find(e, false);
	}
	side_task_finish(&e->prefetch);
	if (e->err == -EEXIST) {
		/* The prefetch saw the symbol, and the caller did not: scan. */
		e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (e->fd < 0)
			return pymalloc_sites_find_fd(fd, out);
		find(e, false);
	}
	return e->err ? e->err : copy_sites(&e->sites, out);
}
