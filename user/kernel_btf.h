/* SPDX-License-Identifier: MIT */
/*
 * The kernel types memtrace's BPF objects relocate against (CO-RE), for
 * libbpf's btf_custom_path: cut at build time from the build machine's
 * kernel BTF (scripts/kernel_btf_header.sh, `bpftool gen min_core_btf`)
 * and used only on that same kernel: the same /sys/kernel/notes, which
 * hold its build ID, and the same size of /sys/kernel/btf/vmlinux.
 *
 * Why: without them libbpf reads and parses the kernel's whole BTF (5.5
 * MB here) for each object it loads, ~15 ms of CPU each (measured with a
 * loader of one object, 2026-12-02), and memtrace loads three at every
 * start. On any other kernel, or with MEMTRACE_KERNEL_BTF=full, libbpf
 * reads the kernel's own as before: slower, the same relocations.
 */
#ifndef MEMTRACE_KERNEL_BTF_H
#define MEMTRACE_KERNEL_BTF_H

#include <stdbool.h>
#include <stddef.h>

struct kernel_btf {
	int fd;			/* a memfd holding the types, or -1 */
	char path[32];		/* /proc/self/fd/N, or "" */
};

/*
 * Fill kb. Returns 0 when the types are this kernel's (kernel_btf_path()
 * then names them), -ENOENT when they are not or none were cut, or another
 * negative errno when they could not be put in a file; kb is usable (and
 * must be closed) either way.
 */
int kernel_btf_open(struct kernel_btf *kb);

/* The file for btf_custom_path, or NULL: libbpf reads the kernel's own. */
const char *kernel_btf_path(const struct kernel_btf *kb);

void kernel_btf_close(struct kernel_btf *kb);

/*
 * Whether a kernel whose /sys/kernel/notes are notes[0..len) and whose BTF
 * is btf_size bytes is the one described by want[0..want_len) and
 * want_size: byte-for-byte the same notes, holding a GNU build ID (two
 * kernels without one could have the same notes), and the same size.
 */
bool kernel_btf_same_kernel(const unsigned char *notes, size_t len, size_t btf_size,
			    const unsigned char *want, size_t want_len, size_t want_size);

#endif /* MEMTRACE_KERNEL_BTF_H */
