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

/*
 * One frame of a stack. A frame of native code is followed by nothing
 * else; the functions the compiler inlined at its address come first,
 * innermost first, as frames of their own with `inlined` set and the same
 * address, module and module_offset: e.g. for a call that std::make_shared
 * (inlined into make_order, inlined into OrderBook::add) makes,
 *   operator new(unsigned long)                  the allocator frame
 *   std::make_shared<Order>()   inlined          file:line of the call
 *   make_order(long)            inlined          file:line of make_shared
 *   OrderBook::add(long)+0x361                   file:line of make_order
 * A stack's identity (what is aggregated) is its addresses: inlined
 * frames only show more of it.
 */
struct report_frame {
	const char *function;	/* demangled; NULL: unknown; a Python frame's
				   qualname */
	const char *mangled;	/* the name as the object has it, when
				   demangling changed it; else NULL */
	uint64_t offset;	/* from the function's start (0 for inlined
				   frames: they have no start of their own) */
	const char *module;	/* never NULL ("python" for Python frames) */
	uint64_t address;	/* PC in the process; the allocation function's
				   address for frames[0]; a Python frame's
				   code object */
	uint64_t module_offset;	/* file offset within module */
	const char *file;	/* source file (DWARF's, or Python's); for a
				   return address, that of the call; NULL:
				   unknown */
	int line;		/* 0: unknown */
	bool inlined;		/* inlined into the next frame */
	bool python;		/* a Python frame, from the interpreter's own
				   frame list */
	bool interpreter;	/* native code of a Python process's own
				   interpreter (its eval loop, calls, object
				   allocator): what text reports fold */
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
	int64_t growth_count;	/* live allocations, since the previous report */
	bool no_stack;		/* allocations whose stack was not captured */
	bool python_arena;	/* pymalloc's arenas (mmap by the interpreter):
				   whole arenas charged to the line that needed
				   each, an estimate of its objects' bytes */
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

struct report_count {
	const char *what;
	uint64_t count;
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
	uint32_t ppid;		/* its parent (0: unknown) */
	const char *exe;	/* its program; "" if unknown */
	const char *how;	/* "named", "child", "born", "late", "cgroup",
				   "all": how it came to be traced */
	double traced_from_s;	/* since memtrace started (0: from the start) */
	double exited_s;	/* when it was seen to exit (exited only) */
	/* Traced partly, or not at all (not_traced): why; NULL if fully. */
	const char *untraced;
	bool not_traced;
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
	uint64_t processes_partial;	/* traced processes whose allocations
					   are seen only in part */
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
	/* Python frames (user/python/python_symbols.h). */
	struct {
		uint64_t unknown_frames;	/* in this report's stacks: not
						   named (code freed before it
						   could be read, unreadable) */
		uint64_t code_freed;		/* code objects seen dying */
		uint64_t named_from_copy;	/* ... whose frames were named
						   from the copy made then */
		uint64_t lines_cut;		/* ... whose line table was cut
						   (later lines unknown) */
		uint64_t copies_lost;		/* copies of dying code objects
						   the ring buffer had no room
						   for */
	} python;
};

/* --types: one type's live objects in one Python process. */
struct report_type_row {
	const char *name;		/* the type's tp_name */
	uint64_t count;
	uint64_t bytes;			/* their blocks */
	int64_t growth_count;		/* since the previous census (the first:
					   all of it) */
	int64_t growth_bytes;
	/* --python-objects: the stack that allocated the most of them, by
	 * its innermost Python frame (else its allocation function's
	 * caller); site_count 0 when none is known. */
	uint64_t site_count, site_bytes;
	const struct report_frame *site;
	size_t nsites;			/* stacks that allocated them */
};

/* --types: a Python process's live objects by type, counted from outside. */
struct report_types {
	uint32_t pid;
	const char *why;		/* NULL, or why there is no census */
	size_t ntypes_total;		/* types with live objects */
	size_t ntypes;			/* rows[]: the most numerous first */
	const struct report_type_row *rows;
	/* How the census went (user/python/py_census.h). */
	uint64_t arena_bytes, arenas, arenas_total, pools, pools_changed,
		 pools_unreadable, blocks, objects, large, large_objects;
	double seconds, limit_s;
	bool cut_short;			/* stopped at limit_s */
	bool large_since_start;		/* objects over 512 B only as far as
					   they were allocated while traced */
	bool sites;			/* --python-objects: rows have sites */
};

/* --group-by: what a report sums its stacks by. */
enum report_group_by {
	REPORT_BY_STACK = 0,	/* each stack on its own */
	REPORT_BY_LINE,		/* the innermost Python line (tracemalloc's
				   'lineno'); else the innermost caller */
	REPORT_BY_FUNCTION,	/* ... its function */
	REPORT_BY_FILE,		/* ... its file (tracemalloc's 'filename') */
};

/* The stacks whose key frame (the innermost Python frame, else the first
 * caller of the allocation function) has the same line, function or file. */
struct report_group {
	const char *file;	/* NULL: unknown (a native frame without
				   source lines) */
	int line;		/* REPORT_BY_LINE; 0 otherwise or unknown */
	const char *function;	/* REPORT_BY_LINE and _FUNCTION; NULL when
				   unknown or by file */
	const char *module;	/* the key frame's module (native frames) */
	uint64_t address;	/* native frames with neither file nor
				   function: the frame's address */
	bool python;		/* the key frame is a Python frame */
	uint64_t bytes;		/* outstanding (as filtered) */
	uint64_t count;
	uint64_t mapped_bytes;	/* of bytes, what the program mapped itself
				   (mmap, mremap, brk: pymalloc's arenas
				   among them, charged whole to the line
				   that needed each, an estimate); the rest
				   is allocator calls, exact */
	int64_t growth_bytes;	/* since the previous report */
	int64_t growth_count;
	size_t nstacks;		/* stacks summed */
};
struct report {
	struct timespec wall;		/* CLOCK_REALTIME at the report */
	double elapsed_s;		/* since tracing started */
	double interval_s;		/* since the previous report */
	bool final;
	/* Every process memtrace traces or was asked to, largest
	 * outstanding first (the text report lists the first 20). */
	size_t nprocs;
	const struct report_process *procs;
	struct report_memory mem_total;	/* summed over the measured ones */
	/* Processes not traced at all, by reason ("static binary", ...). */
	size_t nuntraceable;
	const struct report_count *untraceable;

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

	/* Symbolization: what DWARF and debuginfod gave (symbols/symbolizer.h). */
	struct {
		uint64_t resolved;		/* distinct addresses so far */
		uint64_t with_line;		/* ... with a source line */
		uint64_t objects_no_debug;	/* objects without DWARF */
		uint64_t debuginfod_pending;	/* fetches not yet in */
		double seconds;			/* symbolizing, since start */
		double build_s;			/* building this report */
	} symbols;

	/* Text output only: C++ template arguments shown as <...>. */
	bool short_templates;

	/* Human-readable warnings: figures that may be wrong and why. */
	size_t nwarnings;
	const char *const *warnings;

	/* --group-by other than stack: the groups, largest first (the top
	 * N, like stacks); stacks stay as they are. */
	enum report_group_by group_by;
	size_t ngroups_total;
	size_t ngroups;
	const struct report_group *groups;

	/* How the text report shows stacks with Python frames: by default
	 * the interpreter's own frames between Python frames fold into one
	 * line, as do the frames outside the outermost Python frame;
	 * all_frames (--frames all) shows each. max_frames (--max-frames,
	 * 0: no limit) keeps the innermost lines of every stack. */
	bool all_frames;
	size_t max_frames;

	/* --types: per Python process (none without --types). */
	size_t ntype_reports;
	const struct report_types *type_reports;
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
