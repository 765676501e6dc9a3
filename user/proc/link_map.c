// SPDX-License-Identifier: MIT
/*
 * The dynamic linker's lookup order of a process (see link_map.h).
 *
 * Everything comes from the process itself: /proc/PID/auxv gives where
 * the executable's program headers are in memory (AT_PHDR, AT_PHNUM);
 * PT_PHDR gives the load bias and PT_DYNAMIC the dynamic section, whose
 * DT_DEBUG entry ld.so fills with the address of its struct r_debug; its
 * r_map is the head of the list of loaded objects, in lookup order.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link_map.h"

/* glibc's struct link_map starts so (<link.h>); only these are read. */
struct lm_head {
	uint64_t l_addr;
	uint64_t l_name;
	uint64_t l_ld;
	uint64_t l_next;
	uint64_t l_prev;
};

static int read_mem(int fd, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len, (off_t)addr);

	return n == (ssize_t)len ? 0 : -EIO;
}

/* AT_PHDR and AT_PHNUM of pid's executable. */
static int read_auxv(pid_t pid, uint64_t *phdr, uint64_t *phnum)
{
	char path[64];
	uint64_t av[2];
	int fd, err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/auxv", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	*phdr = *phnum = 0;
	while (read(fd, av, sizeof(av)) == sizeof(av) && av[0] != AT_NULL) {
		if (av[0] == AT_PHDR)
			*phdr = av[1];
		else if (av[0] == AT_PHNUM)
			*phnum = av[1];
	}
	close(fd);
	if (*phdr && *phnum)
		err = 0;
	return err;
}

/* The address of the executable's struct r_debug, or 0. */
static int find_r_debug(int mem, uint64_t phdr, uint64_t phnum, uint64_t *out)
{
	uint64_t bias = 0, dyn = 0, dyn_size = 0;
	bool have_phdr = false;

	*out = 0;
	if (phnum > 256)
		return -EIO;
	for (uint64_t i = 0; i < phnum; i++) {
		Elf64_Phdr ph;

		if (read_mem(mem, phdr + i * sizeof(ph), &ph, sizeof(ph)))
			return -EIO;
		if (ph.p_type == PT_PHDR) {
			bias = phdr - ph.p_vaddr;
			have_phdr = true;
		} else if (ph.p_type == PT_DYNAMIC) {
			dyn = ph.p_vaddr;
			dyn_size = ph.p_memsz;
		}
	}
	/* No PT_DYNAMIC: a static executable, with no dynamic linker. */
	if (!dyn)
		return -ENOENT;
	/* Without PT_PHDR the executable is not position independent (the
	 * bias is 0); linkers always emit it for PIE. */
	if (!have_phdr)
		bias = 0;
	for (uint64_t off = 0; off + sizeof(Elf64_Dyn) <= dyn_size && off < 65536;
	     off += sizeof(Elf64_Dyn)) {
		Elf64_Dyn d;

		if (read_mem(mem, bias + dyn + off, &d, sizeof(d)))
			return -EIO;
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_DEBUG) {
			*out = d.d_un.d_ptr;
			return *out ? 0 : -ENOENT;
		}
	}
	return -ENOENT;
}

int link_map_read(pid_t pid, const struct proc_maps *maps, struct link_map_list *out)
{
	uint64_t phdr = 0, phnum = 0, r_debug = 0, lm;
	struct {
		int32_t r_version;
		int32_t pad;
		uint64_t r_map;
	} rd;
	char path[64];
	int mem, err;

	memset(out, 0, sizeof(*out));
	err = read_auxv(pid, &phdr, &phnum);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	err = find_r_debug(mem, phdr, phnum, &r_debug);
	if (!err && read_mem(mem, r_debug, &rd, sizeof(rd)))
		err = -EIO;
	if (!err && !rd.r_map)
		err = -ENOENT;	/* ld.so has not listed the objects yet */
	out->objs = err ? NULL : calloc(LINK_MAP_MAX, sizeof(*out->objs));
	if (!err && !out->objs)
		err = -ENOMEM;
	lm = err ? 0 : rd.r_map;
	for (size_t k = 0; lm && k < LINK_MAP_MAX; k++) {
		struct lm_head h;
		const struct proc_map *m;
		bool dup = false;

		if (read_mem(mem, lm, &h, sizeof(h))) {
			err = -EIO;
			break;
		}
		/* Named by the mapping that holds its dynamic section: l_name
		 * is the path as opened (/lib/...), which need not be the one
		 * the maps show (/usr/lib/... through a symlink). */
		m = h.l_ld ? proc_maps_find(maps, h.l_ld) : NULL;
		for (size_t i = 0; m && i < out->n; i++)
			dup |= !strcmp(out->objs[i]->path, m->path);
		if (m && m->inode && !dup)
			out->objs[out->n++] = m;
		lm = h.l_next;
	}
	close(mem);
	if (err)
		link_map_free(out);
	return err;
}

void link_map_free(struct link_map_list *l)
{
	free(l->objs);
	l->objs = NULL;
	l->n = 0;
}
