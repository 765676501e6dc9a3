/* SPDX-License-Identifier: MIT */
/*
 * The report model: everything one periodic (or final) report says, already
 * symbolized. Reporters (text, JSON, folded, pprof, SVG, HTML) only format
 * it; they never look at the aggregator or the symbolizer, so a new output
 * is one new file.
 */
#ifndef MEMTRACE_REPORT_H
#define MEMTRACE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct report_frame {
	const char *function;	/* NULL: unknown; a Python frame's qualname */
	uint64_t offset;	/* from the function's start */
	const char *module;	/* never NULL ("python" for Python frames) */
	uint64_t address;	/* PC in the process; the allocation function's
				   address for frames[0]; a Python frame's
				   code object */
	uint64_t module_offset;	/* file offset within module */
	const char *file;	/* source file, NULL when unknown (native
				   frames have none: no DWARF lines yet) */
	int line;		/* 0 when unknown */
	bool python;		/* a Python frame, from the interpreter's own
				   frame list */
	/* The mapping that holds address, for outputs that name it (pprof):
	 * all zero / NULL when no mapping is known. */
	const char *module_path;	/* the mapped file's path, NULL if none */
	const char *build_id;	/* its NT_GNU_BUILD_ID in hex, NULL if none */
	uint64_t map_start;	/* [map_start, map_end) in the process */
	uint64_t map_end;
	uint64_t map_offset;	/* file offset mapped at map_start */
};

/* One process's share of a stack merged across processes. */
struct report_pid_share {
	uint32_t pid;
	uint64_t bytes;		/* outstanding (as filtered) */
	uint64_t count;		/* live allocations (as filtered) */
};

/*
 * A stack: by default, the same stack in every process of the same program
 * (same allocator, same modules and offsets, same Python functions and
 * lines) is one, with each process's share in pids[]; with --per-process,
 * one per process (npids 1). Figures are sums over the processes; peak is
 * the sum of each process's peak (an upper bound of the merged peak).
 */
struct report_stack {
	uint32_t pid;		/* the process with the largest share */
	size_t npids;		/* >= 1 */
	const struct report_pid_share *pids;	/* largest share first */
	const char *allocator;	/* "malloc", "calloc", ... */
	uint64_t bytes;		/* outstanding (as filtered) */
	uint64_t count;		/* live allocations (as filtered) */
	double oldest_age_s;
	uint64_t allocs;	/* since start */
	uint64_t alloc_bytes;	/* bytes allocated since start, freed or not */
	uint64_t frees;		/* since start */
	uint64_t peak_bytes;
	int64_t growth_bytes;	/* since the previous report */
	uint64_t samples;	/* sampling: live sampled allocations behind
				   the estimates (0 when not sampling) */
	bool no_stack;		/* allocations whose stack was not captured */
	const char *stack_end;	/* NULL: the walk reached the outermost frame;
				   else why it stopped ("no unwind table", ...) */
	size_t nframes;		/* frames[0] is the allocation function */
	const struct report_frame *frames;
};

/* Where a process's resident memory goes, in bytes (user/reconcile.c):
 * its RSS from /proc against what memtrace accounts for. */
struct report_memory {
	bool valid;		/* false: not measured (the process is gone) */
	uint64_t rss;		/* VmRSS: rss_anon + rss_file + rss_shmem */
	uint64_t rss_anon, rss_file, rss_shmem;
	int64_t rss_anon_growth;	/* since tracing began */
	uint64_t heap;		/* outstanding bytes of allocator calls, as
				   requested */
	uint64_t mapped;	/* resident bytes of what it mapped itself since
				   tracing began (mmap, mremap, brk), but for
				   the two below */
	uint64_t mapped_size;	/* the size of those mappings */
	uint64_t python_arenas;	/* resident bytes of the interpreter's own
				   maps (pymalloc's arenas) among them */
	uint64_t thread_stacks;	/* resident bytes of its threads' stacks */
	int64_t unexplained;	/* rss_anon minus the four above: allocator
				   slack and fragmentation, memory from before
				   tracing began; negative: allocated but not
				   resident (never touched, or swapped out) */
};

struct report_process {
	uint32_t pid;
	const char *comm;	/* command name; "" if unknown */
	bool exited;
	uint64_t outstanding_bytes;	/* its live allocations, unfiltered */
	uint64_t live_allocations;
	uint64_t rss_bytes;	/* resident set size at the report */
	bool rss_known;		/* false: not read (the process exited) */
	/* The allocator its malloc binds to: its kind ("glibc", "jemalloc",
	 * ..., "unknown") and the file that defines it; NULL: none. */
	const char *allocator;
	const char *allocator_object;
	bool allocator_known;	/* false: only its standard functions are
				   probed (see user/proc/alloc_target.h) */
	struct report_memory mem;
};

/* Counters that say how far the figures can be trusted. */
struct report_accounting {
	uint64_t lost_events;		/* ring buffer full */
	uint64_t returns_without_entry;
	uint64_t returns_in_flight;	/* ... of calls in flight at attach:
					   expected, not counted above */
	uint64_t entries_without_return;
	uint64_t unknown_frees;		/* frees of never-seen addresses */
	uint64_t stacks_not_captured;
	uint64_t replaced_live;		/* allocation over a live address */
	uint64_t exec_dropped;		/* live allocations dropped by exec */
	uint64_t nested_calls;		/* probed calls inside probed calls */
	uint64_t samples_dropped;	/* sampled, but not counted: the map of
					   sampled blocks was full */
	uint64_t maps_in_allocator;	/* mmap, brk... made by the allocator
					   itself: its blocks are counted */
	/* Stack walks that stopped before the outermost frame, by reason. */
	struct {
		uint64_t no_table;	/* a PC in a gap of its table */
		uint64_t no_mapping;	/* a PC in no known mapping */
		uint64_t unsupported;	/* a rule the table cannot express */
		uint64_t bad_read;	/* unreadable stack memory */
		uint64_t depth;		/* MT_MAX_FRAMES reached */
		uint64_t fp_frames;	/* frames found by frame pointers */
		uint64_t fp_end;	/* frame pointers led nowhere valid */
		uint64_t finished;	/* stacks finished in user space from a
					   snapshot (code mapped moments before) */
		uint64_t unfinished;	/* ... that could not be */
		/* The loader's, counted and ignored: */
		uint64_t table_full;	/* objects whose table did not fit the
					   rows array (their code is walked
					   by frame pointers) */
		uint64_t too_many_mappings; /* executable mappings past the 256
					   a process's list holds (their code
					   is in no known mapping) */
	} unwind;
	/* pymalloc probed at its inlined sites (see
	 * user/python/pymalloc_sites.h). */
	struct {
		uint64_t unreadable;	/* block or pool header unreadable:
					   an allocation or free missed */
		uint64_t block_sizes;	/* allocations counted at their block
					   size (request unknown at the site) */
	} pymalloc;
};

struct report {
	struct timespec wall;		/* CLOCK_REALTIME at the report */
	double elapsed_s;		/* since tracing started */
	double interval_s;		/* since the previous report */
	bool final;
	size_t nprocs;
	const struct report_process *procs;
	struct report_memory mem_total;	/* summed over the measured ones */

	/* Totals over every live allocation, whatever the filter. */
	uint64_t outstanding_bytes;
	uint64_t live_allocations;
	uint64_t allocs;		/* since start */
	uint64_t alloc_bytes;		/* bytes allocated since start */
	uint64_t frees;			/* since start */
	double alloc_rate;		/* per second over the last interval */
	double free_rate;
	uint64_t distinct_stacks;
	struct report_accounting acct;

	/* The filter, as the user gave it (0: none). */
	double min_age_s;
	double window_s;

	/* --sample-bytes: bytes, counts, allocs and frees are unbiased
	 * estimates from allocations sampled one per sample_bytes on
	 * average (0: exact). */
	uint64_t sample_bytes;

	/* Stacks, largest first: the top N (all if top_n is 0). */
	size_t top_n;
	size_t nstacks_total;		/* stacks with outstanding bytes */
	size_t nstacks;			/* entries in stacks[] */
	const struct report_stack *stacks;
	/* Stacks that hold nothing passing the filter now, for the outputs of
	 * figures since start (pprof's alloc_space): only when the builder
	 * was asked for them, else none. */
	size_t npast_stacks;
	const struct report_stack *past_stacks;

	/* Human-readable warnings: figures that may be wrong and why. */
	size_t nwarnings;
	const char *const *warnings;
};

/* "12.3 MiB", "512 B". buf must hold at least 16 bytes; returns buf. */
const char *fmt_bytes(char *buf, size_t len, uint64_t bytes);

/* A frame as `function+0xoff [module]`, or `[module+0xoff]` when the
 * function is unknown. Returns the length written (snprintf semantics). */
int fmt_frame(char *buf, size_t len, const struct report_frame *f);

/* Reporters. Each returns 0 or a negative errno (a failed write). */
int report_write_text(FILE *out, const struct report *r);
/* One JSON object on one line, ending in "\n". */
int report_write_json(FILE *out, const struct report *r);
/* Folded stacks, outermost frame first: `main;leak;malloc 4096`, every
 * stack of r (the caller passes a report with all stacks). */
int report_write_folded(FILE *out, const struct report *r);
/* A gzipped perftools.profiles.Profile (pprof's profile.proto): every
 * stack and past stack of r, with the sample types of Go's heap profiles
 * (alloc_objects, alloc_space, inuse_objects, inuse_space). */
int report_write_pprof(FILE *out, const struct report *r);

#endif /* MEMTRACE_REPORT_H */
