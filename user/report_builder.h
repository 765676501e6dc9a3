/* SPDX-License-Identifier: MIT */
/*
 * Building a report: the aggregator's per-stack views, their program
 * counters from the stack source, symbolized, into the report model that
 * the reporters format.
 */
#ifndef MEMTRACE_REPORT_BUILDER_H
#define MEMTRACE_REPORT_BUILDER_H

#include "aggregator.h"
#include "python/python_detect.h"
#include "python/python_process.h"
#include "python/python_symbols.h"
#include "proc/alloc_target.h"
#include "report/report.h"
#include "stack_source.h"
#include "symbols/symbolizer.h"

/* What the builder reads. */
struct report_inputs {
	struct aggregator *agg;
	struct stack_source *stacks;
	struct symbolizer *sym;
	/* Per traced process: its allocator (for the allocation-function frame). */
	size_t nprocs;
	const struct report_process *procs;
	const struct alloc_target *const *allocs;	/* nprocs entries */
	/* Python: per process its interpreter (NULL: not Python), and the
	 * resolver of code objects. */
	const struct py_target *const *pythons;	/* nprocs entries, or NULL */
	struct py_symbols *py;
	struct agg_filter filter;
	size_t top_n;				/* 0: every stack */
	bool per_process;			/* do not merge stacks across
						   processes */
	uint64_t sample_bytes;			/* --sample-bytes: figures are
						   the aggregator's estimates */
	bool past_stacks;			/* also the stacks holding nothing
						   that passes the filter, as
						   r.past_stacks */
	enum report_group_by group_by;		/* also sum stacks by this */
	/* --types: the most numerous types shown per process (0: no
	 * census in the report), the census's time limit, and per process
	 * its Python state (the censuses), or NULL. */
	size_t types_top;
	double types_limit_s;
	bool types_sites;			/* censuses know stacks */
	const struct python_process *const *py_states;	/* nprocs, or NULL */
};

/* A built report and the memory behind it. */
struct built_report {
	struct report r;
	struct report_stack *stacks;
	struct report_frame *frames;
	struct report_pid_share *shares;
	struct report_process *procs;
	struct report_group *groups;
	struct report_types *type_reports;
	struct report_type_row *type_rows;
	struct report_frame *site_frames;
};

/* Fill out->r's stacks (and the totals the aggregator knows: outstanding
 * bytes, live allocations, allocs, frees, distinct stacks, unknown frees,
 * replaced live, exec dropped, stacks without a stack), and its processes:
 * in->procs with the outstanding bytes and live allocations of each. The caller fills
 * the rest of out->r (time, rates, accounting from the probes, warnings).
 * Returns 0 or -ENOMEM. */
int report_build(const struct report_inputs *in, struct built_report *out);
void report_built_free(struct built_report *b);

/* The frame a stack is known by: its innermost Python frame, else the
 * allocation function's caller. Returns 0, or -ENOENT for an unknown
 * stack. */
int report_key_frame(const struct report_inputs *in, uint32_t pid, uint64_t stack_id,
		     struct report_frame *out);

/* --types: out->r's type_reports, from in->py_states (report_types.c). */
int report_types_build(const struct report_inputs *in, struct built_report *out);

/* Copy the Python symbols' counters into r's accounting. */
void report_take_python(struct report *r, const struct py_symbols *py);

/* Copy the probes' counters (enum mt_counter, summed over CPUs) into the
 * accounting fields of r that they feed. */
void report_take_counters(struct report *r, const uint64_t counters[MT_CNT_COUNT]);

#endif /* MEMTRACE_REPORT_BUILDER_H */
