// SPDX-License-Identifier: MIT
/*
 * The build's cut of the kernel types, handed to libbpf on the kernel it
 * was cut from (see kernel_btf.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "kernel_btf.h"
#include "kernel_btf_types.h"

#define NOTES_PATH "/sys/kernel/notes"
#define VMLINUX_BTF_PATH "/sys/kernel/btf/vmlinux"
#define NOTES_MAX 4096
#define NT_GNU_BUILD_ID 3

/* Whether the ELF notes in n[0..len) hold a GNU build ID. */
static bool has_build_id(const unsigned char *n, size_t len)
{
	size_t at = 0;

	while (len - at >= 12) {
		uint64_t namesz, descsz;	/* 64 bits: the padding cannot wrap */
		uint32_t v[3];
		bool gnu;

		memcpy(v, n + at, sizeof(v));
		at += sizeof(v);
		/* Name and descriptor are each padded to 4 bytes. */
		namesz = ((uint64_t)v[0] + 3) & ~3ull;
		descsz = ((uint64_t)v[1] + 3) & ~3ull;
		if (namesz > len - at || descsz > len - at - namesz)
			return false;
		gnu = v[0] == 4 && !memcmp(n + at, "GNU", 4);
		if (v[2] == NT_GNU_BUILD_ID && gnu && v[1] > 0)
			return true;
		at += namesz + descsz;
	}
	return false;
}

bool kernel_btf_same_kernel(const unsigned char *notes, size_t len, size_t btf_size,
			    const unsigned char *want, size_t want_len, size_t want_size)
{
	return want_len && len == want_len && btf_size == want_size &&
	       !memcmp(notes, want, len) && has_build_id(notes, len);
}

/* The running kernel's notes into buf (at most NOTES_MAX bytes): their
 * length, or a negative errno. */
static ssize_t read_notes(unsigned char *buf)
{
	int fd = open(NOTES_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	if (fd < 0)
		return -errno;
	while (n < NOTES_MAX && (r = read(fd, buf + n, NOTES_MAX - n)) > 0)
		n += r;
	if (r < 0)
		n = -errno;
	close(fd);
	return n;
}

static bool is_this_kernel(void)
{
	unsigned char notes[NOTES_MAX];
	ssize_t n = read_notes(notes);
	struct stat st;

	return n > 0 && !stat(VMLINUX_BTF_PATH, &st) &&
	       kernel_btf_same_kernel(notes, n, st.st_size, kernel_btf_notes,
				      kernel_btf_notes_len, kernel_btf_vmlinux_size);
}

int kernel_btf_open(struct kernel_btf *kb)
{
	const char *want = getenv("MEMTRACE_KERNEL_BTF");
	size_t done = 0;
	int err;

	*kb = (struct kernel_btf){ .fd = -1 };
	if (want && !strcmp(want, "full"))
		return -ENOENT;
	if (!kernel_btf_types_len || !is_this_kernel())
		return -ENOENT;
	kb->fd = memfd_create("memtrace-kernel-btf", MFD_CLOEXEC);
	if (kb->fd < 0)
		return -errno;
	while (done < kernel_btf_types_len) {
		ssize_t w = write(kb->fd, kernel_btf_types + done, kernel_btf_types_len - done);

		if (w < 0) {
			err = -errno;
			kernel_btf_close(kb);
			return err;
		}
		done += w;
	}
	snprintf(kb->path, sizeof(kb->path), "/proc/self/fd/%d", kb->fd);
	return 0;
}

const char *kernel_btf_path(const struct kernel_btf *kb)
{
	return kb->path[0] ? kb->path : NULL;
}

void kernel_btf_close(struct kernel_btf *kb)
{
	if (kb->fd >= 0)
		close(kb->fd);
	*kb = (struct kernel_btf){ .fd = -1 };
}
