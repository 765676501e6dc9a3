// SPDX-License-Identifier: MIT
/* Whose a map is (see map_filter.h). */
#include <string.h>

#include "map_filter.h"
#include "python/python_detect.h"

/* Frames looked at for pthread_create, from the innermost: mmap's wrapper,
 * then its callers (glibc inlines allocate_stack into pthread_create). */
#define THREAD_FRAMES 3

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* jemalloc's internals are je_* (a static build keeps the prefix on all
 * but its public names) or its page functions; tcmalloc's are in
 * namespace tcmalloc or named TCMalloc_*; mimalloc's are mi_* or _mi_*. */
bool map_filter_internal_name(enum alloc_kind kind, const char *f)
{
	switch (kind) {
	case ALLOC_JEMALLOC:
		return starts(f, "je_") || starts(f, "os_pages_") || starts(f, "pages_map") ||
		       starts(f, "malloc_init");
	case ALLOC_TCMALLOC:
		return starts(f, "tcmalloc::") || starts(f, "_ZN8tcmalloc") ||
		       starts(f, "TCMalloc") || starts(f, "_Z20TCMalloc") ||
		       starts(f, "_Z21TCMalloc") || starts(f, "_Z22TCMalloc");
	case ALLOC_MIMALLOC:
		return starts(f, "mi_") || starts(f, "_mi_");
	default:
		return false;
	}
}

static bool is_loader(const char *path)
{
	const char *base = path ? strrchr(path, '/') : NULL;

	base = base ? base + 1 : path;
	return base && (starts(base, "ld-linux") || starts(base, "ld-musl") ||
			!strcmp(base, "ld.so"));
}

static bool is_thread_create(const char *f)
{
	return !strcmp(f, "pthread_create") || starts(f, "pthread_create@") ||
	       !strcmp(f, "__pthread_create") || !strcmp(f, "__pthread_create_2_1") ||
	       !strcmp(f, "allocate_stack");
}

enum map_owner map_filter_owner(struct stack_source *stacks, struct symbolizer *sym,
				const struct alloc_target *at, const struct mt_event *e)
{
	/* A replacement allocator in its own object: any frame in it above
	 * mmap's wrapper (tcmalloc's wraps mmap itself: frame 0) is its own
	 * code. Not glibc's libc, which is the program's C library too. */
	bool own_object = at && at->kind != ALLOC_GLIBC && at->kind != ALLOC_MUSL &&
			  !at->in_executable;
	bool names = at && (at->kind == ALLOC_JEMALLOC || at->kind == ALLOC_TCMALLOC ||
			    at->kind == ALLOC_MIMALLOC);
	const struct mt_stack *st;
	unsigned int frames;

	if (!e->stack_id || stack_source_get(stacks, e->stack_id, &st))
		return MAP_PROGRAM;
	/* With glibc only the frames pthread_create could be in matter. */
	frames = own_object || names ? st->len : THREAD_FRAMES;
	for (unsigned int k = 0; k < frames && k < st->len; k++) {
		struct sym_frame f;

		if (symbolizer_resolve(sym, e->pid, st->pcs[k], k > 0, &f))
			continue;
		/* ld.so makes its own syscalls: mmap's caller is in it. */
		if (k < 2 && is_loader(f.module_path))
			return MAP_LOADER;
		if (k > 0 && own_object && f.module_path && !strcmp(f.module_path, at->maps_path))
			return MAP_ALLOCATOR;
		if (!f.function)
			continue;
		/* A static program's loader is in it: glibc's _dl_* (its
		 * TLS, taken with brk before main). */
		if (k < 2 && starts(f.function, "_dl_"))
			return MAP_LOADER;
		if (at && map_filter_internal_name(at->kind, f.function))
			return MAP_ALLOCATOR;
		if (e->type == MT_EV_MMAP && k < THREAD_FRAMES && is_thread_create(f.function))
			return MAP_THREAD_STACK;
	}
	return MAP_PROGRAM;
}

bool map_filter_is_python_arena(struct stack_source *stacks, struct symbolizer *sym,
				const struct py_target *py, uint32_t pid, uint64_t stack_id,
				uint64_t size)
{
	uint64_t arena = py && (py->major > 3 || py->minor >= 10) ? 1ULL << 20 : 256ULL << 10;
	const struct mt_stack *st;

	if (!py || size != arena || !stack_id || stack_source_get(stacks, stack_id, &st))
		return false;
	/* mmap's wrapper, then _PyObject_ArenaMmap. */
	for (unsigned int k = 0; k < THREAD_FRAMES && k < st->len; k++) {
		struct sym_frame f;

		if (!symbolizer_resolve(sym, pid, st->pcs[k], k > 0, &f) && f.module_path &&
		    !strcmp(f.module_path, py->lib_path))
			return true;
	}
	return false;
}
