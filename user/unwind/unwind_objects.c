// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/proc_maps.h"
#include "symbols/elf_file.h"
#include "util/vec.h"
#include "unwind_objects.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void hex(char *out, const uint8_t *id, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	if (len > 20)
		len = 20;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = '\0';
}

/*
 * A file whose own call frame information misses code (built without
 * .eh_frame, or stripped of it): its separate debug file's .debug_frame
 * fills in, found as gdb would find it for the process
 * (symbols/debug_file.h). -ENOENT when there is no debug file.
 */
static int build_from_debug_file(pid_t pid, int fd, const struct proc_map *m,
				 struct unwind_table *t)
{
	int dfd, err;

	dfd = debug_file_open(pid, m, fd);
	if (dfd < 0)
		return dfd;
	err = unwind_table_build_debug(fd, dfd, t);
	close(dfd);
	return err;
}

int unwind_objects_find(struct unwind_objects *c, pid_t pid, int fd,
			const struct proc_map *m, uint64_t *bias)
{
	struct unwind_object *o;
	uint8_t id[ELF_FILE_BUILD_ID_MAX];
	struct stat st;
	uint64_t vaddr;
	size_t id_len;
	char build_id[41] = "";
	double t0;
	Elf *elf;
	int err;

	if (fstat(fd, &st))
		return -errno;
	/* The bias needs the program headers, and only them: a damaged
	 * symbol table (or none) must not cost a file its unwind table. */
	err = elf_file_open(fd, &elf);
	if (err)
		return err;
	err = elf_file_offset_to_vaddr(elf, m->pgoff, &vaddr);
	elf_file_build_id(elf, id, &id_len);
	elf_end(elf);
	if (err)
		return err;
	hex(build_id, id, id_len);
	*bias = m->start - vaddr;

	/*
	 * The same file again, in whichever process or mount namespace:
	 * fds come from map_files, so its device and inode are the file's
	 * own. Not by build ID: any process can put any build ID in a file
	 * of its own, and the table built from that file's CFI would then
	 * serve the real library in every other process.
	 */
	for (size_t i = 0; i < c->n; i++) {
		o = &c->v[i];
		if (o->dev == st.st_dev && o->ino == st.st_ino &&
		    o->mtime.tv_sec == st.st_mtim.tv_sec &&
		    o->mtime.tv_nsec == st.st_mtim.tv_nsec)
			return (int)i;
	}

	err = vec_reserve(&c->v, &c->cap, c->n + 1, sizeof(*c->v));
	if (err)
		return err;
	o = &c->v[c->n];
	memset(o, 0, sizeof(*o));
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->mtime = st.st_mtim;
	memcpy(o->build_id, build_id, sizeof(build_id));
	o->rows_start = UNWIND_OBJECT_NO_ROWS;

	t0 = now_ms();
	o->err = m->deleted ? -ENOENT : build_from_debug_file(pid, fd, m, &o->table);
	if (o->err)
		o->err = unwind_table_build(fd, &o->table);
	c->build_ms += now_ms() - t0;
	if (!o->err) {
		o->nrows = o->table.n;
		c->built++;
		c->bytes += o->nrows * sizeof(struct mt_unwind_row);
	}
	return (int)c->n++;
}

size_t unwind_objects_rows_needed(const struct unwind_objects *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->n; i++)
		if (!c->v[i].err)
			n += c->v[i].nrows;
	return n;
}

void unwind_objects_free(struct unwind_objects *c)
{
	for (size_t i = 0; i < c->n; i++)
		unwind_table_free(&c->v[i].table);
	free(c->v);
	*c = (struct unwind_objects){ 0 };
}
