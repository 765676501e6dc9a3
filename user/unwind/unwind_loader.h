/* SPDX-License-Identifier: MIT */
/*
 * Feeding the BPF unwinder: for each traced process, the unwind table of
 * every executable mapping (built once per object file by the cache in
 * unwind_objects.h, shared by every process that maps it) and the list of
 * its mappings with their load biases, published into the BPF maps. Also
 * the entry to the user-space walk (unwind_walk.h) over what it published.
 */
#ifndef MEMTRACE_UNWIND_LOADER_H
#define MEMTRACE_UNWIND_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct unwind_loader;

struct unwind_loader_stats {
	size_t objects;		/* distinct object files with a table */
	size_t rows;		/* rows loaded */
	size_t rows_cap;	/* rows the BPF array holds */
	size_t bytes;		/* memory of the tables in user space */
	double build_ms;	/* time spent building tables */
	size_t no_table;	/* executable mappings without a table */
	size_t full;		/* tables that did not fit (their code falls
				   back to frame pointers), since start */
	size_t too_many_mappings; /* executable mappings past MT_MAX_MAPPINGS,
				   ignored: as each process's mappings
				   were last read, summed over every
				   process since start */
};

int unwind_loader_new(struct unwind_loader **out);
void unwind_loader_free(struct unwind_loader *ul);

/* Read pid's mappings and build the tables it needs (before the BPF maps
 * exist, so that their size can fit the need). */
int unwind_loader_prepare(struct unwind_loader *ul, pid_t pid);

/* Rows the tables built so far need. */
size_t unwind_loader_rows_needed(const struct unwind_loader *ul);

/* Hand over the BPF maps (rows: an mmapable array of rows_cap rows;
 * mappings: pid -> struct mt_proc_mappings) and load everything prepared. */
int unwind_loader_attach(struct unwind_loader *ul, int rows_map_fd, size_t rows_cap,
			 int mappings_map_fd);

struct mt_unwind_row;
/* The same with rows in memory of the caller's (rows_cap of them, kept
 * until unwind_loader_free()) and no BPF map of mapping lists: for the
 * user-space walk alone, as the unit tests use it without root. */
int unwind_loader_attach_memory(struct unwind_loader *ul, struct mt_unwind_row *rows,
				size_t rows_cap);

/*
 * Bring pid's mapping list up to date with maps, its /proc/PID/maps as
 * just read (the caller shares one read with the symbolizer); build and
 * load the tables of new mappings. Mappings already known keep their
 * tables without their files being opened again. Cheap when nothing
 * changed. Returns 0, -ESRCH if the process is gone (no mappings).
 */
struct proc_maps;
int unwind_loader_sync(struct unwind_loader *ul, pid_t pid, const struct proc_maps *maps);

/*
 * Finish a stack the BPF unwinder stopped at a PC in no mapping it knew:
 * *stack holds the frames it found (its last one is that PC), snap the
 * registers there and the stack bytes above. Call after
 * unwind_loader_sync() has loaded what was mapped since. Appends frames
 * to *stack and sets stack->end. Returns 0 or a negative errno.
 */
struct mt_snapshot;
struct mt_stack;
int unwind_loader_finish(struct unwind_loader *ul, pid_t pid,
			 const struct mt_snapshot *snap, struct mt_stack *stack);

/*
 * Walk a whole stack from snap (the registers of its first frame, and the
 * stack above), appending to *stack (as unwind_walk() in unwind_walk.h)
 * over what is loaded for pid. Returns 0, or -ENOENT when nothing is.
 */
int unwind_loader_walk(struct unwind_loader *ul, pid_t pid, const struct mt_snapshot *snap,
		       struct mt_stack *stack);

/* Forget pid (exit). */
void unwind_loader_forget(struct unwind_loader *ul, pid_t pid);

void unwind_loader_stats(const struct unwind_loader *ul, struct unwind_loader_stats *out);

#endif /* MEMTRACE_UNWIND_LOADER_H */
