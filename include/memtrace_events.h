/* SPDX-License-Identifier: MIT */
/*
 * What the BPF probes and user space agree on: the event record that travels
 * through the ring buffer, the stack record stored once per distinct stack,
 * the counters the probes keep, and the per-target filter entry.
 *
 * This header is included by BPF code (after vmlinux.h) and by user space
 * (after <stdint.h>), so it only uses the __u8.. __u64 kernel types, which
 * both sides have.
 */
#ifndef MEMTRACE_EVENTS_H
#define MEMTRACE_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "memtrace_python.h"

/* Deepest native stack a probe records (bpf_get_stack's own limit is 127). */
#define MT_MAX_FRAMES 127

/* Allocation functions, in the order the probes know them. The value is the
 * low byte of the attach cookie of the entry/return probes, so it also says
 * which argument holds what (mt_func_args). Keep mt_func_names[] in
 * user/proc/alloc_target.c in this order. */
enum mt_func {
	MT_FUNC_MALLOC = 0,
	MT_FUNC_CALLOC,
	MT_FUNC_REALLOC,
	MT_FUNC_REALLOCARRAY,
	MT_FUNC_POSIX_MEMALIGN,
	MT_FUNC_ALIGNED_ALLOC,
	MT_FUNC_MEMALIGN,
	MT_FUNC_VALLOC,
	MT_FUNC_PVALLOC,
	MT_FUNC_FREE,
	/* CPython's object allocator (pymalloc), --python-objects: its first
	 * argument is the allocator's context, so sizes and pointers come one
	 * argument later than in libc's. */
	MT_FUNC_PY_MALLOC,
	MT_FUNC_PY_CALLOC,
	MT_FUNC_PY_REALLOC,
	MT_FUNC_PY_FREE,
	/* Other allocators' own entry points (user/proc/alloc_target.c has
	 * which functions of which allocator are probed as what). Frees of
	 * every allocator (sized, aligned, jemalloc's sdallocx, dallocx) are
	 * MT_FUNC_FREE: a sized free is a free of its block. */
	MT_FUNC_MALLOCX,	/* jemalloc mallocx(size, flags) */
	MT_FUNC_RALLOCX,	/* jemalloc rallocx(p, size, flags): never frees */
	MT_FUNC_XALLOCX,	/* jemalloc xallocx(p, size, extra, flags): in place,
				   returns the block's real size */
	MT_FUNC_NEW,		/* C++ operator new, new[], nothrow, aligned */
	MT_FUNC_REALLOCF,	/* reallocf(p, size): frees p when it fails */
	MT_FUNC_MI_ZALLOC,	/* mimalloc mi_zalloc(size) */
	MT_FUNC_MI_MALLOC_ALIGNED, /* mimalloc mi_malloc_aligned(size, align) */
	/* Memory the traced program maps itself (bpf/mmap_probes.bpf.c):
	 * the kinds of its stacks. */
	MT_FUNC_MMAP,
	MT_FUNC_MREMAP,
	MT_FUNC_BRK,
	MT_FUNC_COUNT,
};

/* Functions handed a live block that they may free or move (the realloc
 * family): their entry probes go live before those of the functions that
 * only allocate, or a block recorded by one would be freed by a call
 * whose entry was not seen yet. */
static inline int mt_func_takes_block(unsigned int func)
{
	return func == MT_FUNC_REALLOC || func == MT_FUNC_REALLOCARRAY ||
	       func == MT_FUNC_RALLOCX || func == MT_FUNC_XALLOCX ||
	       func == MT_FUNC_REALLOCF || func == MT_FUNC_PY_REALLOC;
}

/* The arguments an allocation function's probes read: bit i for argument
 * i. Where a probe sits past the first instruction, these must still be in
 * registers (user/proc/probe_site.c). */
static inline unsigned int mt_func_args(unsigned int func)
{
	switch (func) {
	case MT_FUNC_CALLOC:
	case MT_FUNC_REALLOC:
	case MT_FUNC_RALLOCX:
	case MT_FUNC_REALLOCF:
		return 0x3;
	case MT_FUNC_REALLOCARRAY:
	case MT_FUNC_XALLOCX:
		return 0x7;
	case MT_FUNC_POSIX_MEMALIGN:
		return 0x5;
	case MT_FUNC_ALIGNED_ALLOC:
	case MT_FUNC_MEMALIGN:
	case MT_FUNC_PY_MALLOC:
	case MT_FUNC_PY_FREE:
		return 0x2;
	case MT_FUNC_PY_CALLOC:
	case MT_FUNC_PY_REALLOC:
		return 0x6;
	default:	/* malloc, valloc, pvalloc, free, mallocx, new, ... */
		return 0x1;
	}
}

/* Allocation functions whose old block (old_addr) no longer exists when
 * they return a block: the realloc family. */
static inline int mt_func_resizes(unsigned int func)
{
	return func == MT_FUNC_REALLOC || func == MT_FUNC_REALLOCARRAY ||
	       func == MT_FUNC_PY_REALLOC || func == MT_FUNC_RALLOCX ||
	       func == MT_FUNC_XALLOCX || func == MT_FUNC_REALLOCF;
}

/* Kinds of memory the program mapped itself, not an allocator call. */
static inline int mt_func_is_mapping(unsigned int func)
{
	return func == MT_FUNC_MMAP || func == MT_FUNC_MREMAP || func == MT_FUNC_BRK;
}

/*
 * The attach cookie of an allocation function's probes:
 *   bits 0-7    enum mt_func
 *   bit  8      MT_COOKIE_MOVED: at this site (past the first instruction)
 *               some argument is not in its ABI register; then
 *   bits 12-23  enum mt_reg holding arguments 0, 1, 2 (4 bits each).
 */
#define MT_COOKIE_FUNC(c) ((unsigned int)((c) & 0xff))
#define MT_COOKIE_MOVED (1u << 8)
#define MT_COOKIE_ARG_SHIFT(i) (12 + 4 * (i))

enum mt_event_type {
	/* A successful allocation: addr, size, func, stack_id. For realloc and
	 * reallocarray, old_addr is the block that was passed in (0 if none):
	 * it no longer exists. */
	MT_EV_ALLOC = 1,
	/* free(addr), addr != NULL. */
	MT_EV_FREE,
	/* realloc/reallocarray entered with old_addr != NULL. Sent at entry
	 * because the old block may be freed and handed to another thread
	 * before realloc returns; that thread's allocation event must not be
	 * undone by the realloc's. User space sets the block aside until the
	 * same thread's MT_EV_REALLOC_DONE or MT_EV_ALLOC arrives. */
	MT_EV_REALLOC_BEGIN,
	/* realloc/reallocarray returned NULL: size == 0 means old_addr was
	 * freed; size > 0 means the call failed and old_addr is still live. */
	MT_EV_REALLOC_DONE,
	/* The process called exec: its whole address space is gone. */
	MT_EV_EXEC,
	/* The unwinder met a PC in no mapping it knows (addr): a library
	 * was loaded, or code mapped, after the mappings were last read.
	 * Rate-limited per process. */
	MT_EV_UNKNOWN_PC,
	/* The dynamic loader changed the process's mappings (a dlopen or
	 * dlclose, or the start of a program after exec). */
	MT_EV_MAPS_CHANGED,
	/* struct mt_snapshot: the rest of a stack the unwinder could not
	 * walk (a PC in no known mapping yet). The same thread's next
	 * MT_EV_ALLOC, flagged MT_EVF_SNAPSHOT, is the allocation it
	 * belongs to; user space finishes the walk once it has loaded the
	 * new mapping's table. */
	MT_EV_STACK_SNAPSHOT,
	/* Memory the traced program maps itself, from the syscalls (outside
	 * any probed allocator call; bpf/mmap_probes.bpf.c). Ranges are page
	 * multiples.
	 * MT_EV_MMAP: mmap returned [addr, addr + size), stack_id; func is
	 * MT_FUNC_MMAP. With MT_EVF_MAP_FILE it is not private anonymous
	 * memory: it only replaces what was mapped there (MAP_FIXED). */
	MT_EV_MMAP,
	/* munmap(addr, size), sent at entry (as a free is): a range unmapped
	 * may be mapped again by another thread before the call returns. */
	MT_EV_MUNMAP,
	/* mremap(old_addr, size = old length, ...) entered: the old range is
	 * set aside, as a realloc's old block is, until MT_EV_MREMAP_DONE. */
	MT_EV_MREMAP_BEGIN,
	/* mremap returned: addr (0: it failed, the old range stays), size =
	 * new length, old_addr, stack_id; func MT_FUNC_MREMAP. */
	MT_EV_MREMAP_DONE,
	/* brk moved the program break from old_addr to addr: a growth is
	 * [old_addr, addr) on stack_id (func MT_FUNC_BRK), a shrink frees
	 * [addr, old_addr). */
	MT_EV_BRK,
	/* struct mt_py_code_freed: a Python code object is being freed
	 * (include/memtrace_python.h). */
	MT_EV_PY_CODE_FREED,
	/* bpf/process_watch.bpf.c: the process pid was created by the
	 * process addr, which memtrace traces but cannot ptrace (another
	 * tracer has it); pid is in the filter already. */
	MT_EV_FORK,
	/* bpf/process_watch.bpf.c: the process pid entered the --cgroup
	 * (moved in, or created in it by a process not traced). */
	MT_EV_CGROUP_ENTER,
};

/* One ring buffer record. 56 bytes: every byte is paid for on every call. */
struct mt_event {
	__u8 type;		/* enum mt_event_type */
	__u8 func;		/* enum mt_func */
	__u16 flags;		/* MT_EVF_* */
	__u32 pid;		/* tgid, as the root pid namespace sees it */
	__u32 tid;
	__u32 pad;
	__u64 ts_ns;		/* CLOCK_MONOTONIC as of the kernel's latest
				   tick, up to a tick early (tick_clock() in
				   bpf/probe_common.bpf.h); 0 in an
				   MT_EV_FREE, whose time is not used */
	__u64 addr;
	__u64 size;		/* bytes requested */
	__u64 old_addr;
	__u64 stack_id;		/* key in the stacks map; 0: no stack */
};

/* The probe could not record this allocation's stack. */
#define MT_EVF_NO_STACK 0x1
/* A struct mt_snapshot for this allocation's stack came just before. */
#define MT_EVF_SNAPSHOT 0x2
/* A struct mt_snapshot flagged MT_SNAPF_CHECK came just before: this
 * allocation's stack is complete as it is, the snapshot is for checking. */
#define MT_EVF_SNAPSHOT_CHECK 0x4
/* MT_EV_MMAP of something other than private anonymous memory. */
#define MT_EVF_MAP_FILE 0x8

/* The value of the stacks map: the stack's program counters, innermost
 * first. pcs[0] is the return address into the allocation's caller (the
 * stack is taken as the allocation function returns). */
struct mt_stack {
	__u16 len;
	__u8 func;		/* the allocation function, part of the key */
	__u8 end;		/* enum mt_stack_end: why the walk stopped */
	__u32 fp_frames;	/* frames found by frame pointers */
	__u32 py_len;		/* Python frames in py[] (0: none) */
	__u32 py_cut;		/* 1: the thread had more Python frames than
				   py[] holds: the oldest are missing */
	/* Bit i: py[i] is an entry frame (MT_PYF_ENTRY's meaning): the next
	 * older Python frame belongs to an outer call of the eval loop. */
	__u64 py_entry;
	/* The allocating thread's Python frames, innermost first, when the
	 * process is a CPython interpreter. Before pcs[] so that a copy of
	 * the first len pcs holds everything. */
	struct mt_py_frame py[MT_MAX_PY_FRAMES];
	__u64 pcs[MT_MAX_FRAMES];
};

/* Why a stack walk stopped. MT_END_COMPLETE: it reached the outermost
 * frame. Anything else: the stack may be missing its outer frames. */
enum mt_stack_end {
	MT_END_COMPLETE = 0,
	MT_END_NO_TABLE,	/* a PC in a gap of a table */
	MT_END_NO_MAPPING,	/* a PC in no known mapping */
	MT_END_UNSUPPORTED,	/* an unwind rule the table cannot express */
	MT_END_BAD_READ,	/* the stack could not be read, or held no
				   valid frame there (a return address of 0,
				   a CFA not above the stack pointer) */
	MT_END_DEPTH,		/* MT_MAX_FRAMES reached */
	MT_END_FP,		/* frame pointers: nothing tells where it ends */
	MT_END_PYTHON,		/* complete: stopped at the outermost frame of
				   the interpreter's eval loop, whose Python
				   frames stand for everything outside it
				   (struct mt_eval_stop) */
	MT_END_COUNT,
};

/*
 * Where the walk of a Python thread's stack may stop: once it has passed
 * `left` frames of the interpreter's eval loop, whose code is [start,
 * end), it is past the outermost Python frame, and what is outside (the
 * interpreter's start-up: main, Py_RunMain, ... _start) would cost a
 * step a frame for what the report folds into one line anyway. `left`
 * is the number of eval loop calls the thread's Python frames say it is
 * in (its entry frames); 0: walk on to the end.
 */
struct mt_eval_stop {
	__u64 start, end;
	__u32 left;
	__u32 pad;
};

/* Registers of the frame where an unwind stopped. */
struct mt_frame_regs {
	__u64 pc, sp, bp;
	__u8 pc_is_return;	/* pc is a return address: look up pc - 1 */
	__u8 bp_valid;
	__u8 pad[6];
};

/* Stack bytes copied from the stopping frame's sp upwards. 16 KiB covers
 * the frames between a library's code and main in all but deep
 * recursions; what does not fit ends the stack with MT_END_BAD_READ. */
#define MT_SNAPSHOT_BYTES 16384
/* They are read in chunks aligned to their size, from sp rounded down:
 * a chunk then lies in one page, and a page that cannot be read (past the
 * top of the stack, or never touched: a big local array left unused is
 * not present) leaves out its chunks only, as reads of it fail in BPF,
 * while the chunks above it are still read. */
#define MT_SNAPSHOT_CHUNK 1024

/* Pending return probes a snapshot carries: the kernel keeps at most 64
 * per thread (MAX_URETPROBE_DEPTH). */
#define MT_SNAPSHOT_RETURNS 64

/* A pending return probe: the stack slot whose return address the kernel
 * replaced with its trampoline, and the real return address. */
struct mt_snapshot_return {
	__u64 slot;
	__u64 ret;
};

struct mt_snapshot {
	__u8 type;		/* MT_EV_STACK_SNAPSHOT */
	__u8 flags;		/* MT_SNAPF_* */
	__u16 chunks;		/* bit k: data[k * MT_SNAPSHOT_CHUNK...] for
				   one chunk was read */
	__u32 pid;
	__u32 tid;
	__u32 len;		/* bytes from addr to the end of the last
				   chunk read */
	__u64 addr;		/* the address of data[0]: regs.sp rounded
				   down to MT_SNAPSHOT_CHUNK */
	struct mt_frame_regs regs;
	struct mt_eval_stop eval;	/* where the walk may stop (Python) */
	__u64 trampoline;	/* the uretprobe trampoline's address, or 0 */
	__u32 nreturns;		/* entries in returns[] */
	__u32 pad2;
	/* The thread's pending return probes from the innermost one the walk
	 * had not yet passed, outwards. */
	struct mt_snapshot_return returns[MT_SNAPSHOT_RETURNS];
	__u8 data[MT_SNAPSHOT_BYTES];
};

/* The snapshot was taken at the first frame of a stack the BPF walk
 * finished itself (MEMTRACE_UNWIND_CHECK=1): user space walks it too and
 * compares. The allocation that follows is flagged MT_EVF_SNAPSHOT_CHECK. */
#define MT_SNAPF_CHECK 0x1

/* Counters kept by the probes in a per-CPU array; user space sums them. */
enum mt_counter {
	MT_CNT_EVENTS_LOST = 0,		/* ring buffer full: event dropped */
	MT_CNT_RET_WITHOUT_ENTRY,	/* a return probe with no entry seen */
	MT_CNT_ENTRY_WITHOUT_RET,	/* an entry whose return never came */
	MT_CNT_STACK_FAILED,		/* stack not captured (read or map full) */
	MT_CNT_STATE_FAILED,		/* no per-thread state could be made */
	MT_CNT_NESTED,			/* probed calls made inside probed calls */
	/* Unwinds that stopped early, by reason (see enum mt_stack_end). */
	MT_CNT_UNWIND_NO_TABLE,
	MT_CNT_UNWIND_NO_MAPPING,
	MT_CNT_UNWIND_UNSUPPORTED,
	MT_CNT_UNWIND_BAD_READ,
	MT_CNT_UNWIND_DEPTH,
	MT_CNT_UNWIND_FP_FRAMES,	/* frames walked by frame pointers */
	MT_CNT_UNWIND_FP_END,		/* frame pointers led nowhere valid */
	MT_CNT_SNAPSHOTS,		/* stacks finished in user space */
	MT_CNT_SNAPSHOTS_LOST,		/* ... that could not be sent */
	MT_CNT_PYMALLOC_BAD_READ,	/* a pymalloc site's block or pool
					   header could not be read */
	MT_CNT_PYMALLOC_BLOCK_SIZE,	/* a pymalloc allocation counted at its
					   block size: request size unknown */
	MT_CNT_SAMPLES_DROPPED,		/* sampled, but the map of sampled
					   blocks was full: not counted */
	MT_CNT_RET_IN_FLIGHT,		/* a return probe with no entry, of a call
					   in flight when the probes were attached
					   (see MT_IN_FLIGHT_NS) */
	MT_CNT_MAPS_IN_ALLOCATOR,	/* mmap, munmap, mremap or brk made inside
					   a probed allocator call: the
					   allocator's own, not counted again */
	MT_CNT_MAPS,			/* mmap, mremap, brk results sent */
	MT_CNT_PY_CODE_FREED_LOST,	/* a freed code object's contents could
					   not be sent (ring buffer full) */
	MT_CNT_COUNT,
};

/* Stack capture modes (rodata of the BPF object). */
enum mt_stack_mode {
	MT_STACK_NONE = 0,
	MT_STACK_FP = 1,
	MT_STACK_DWARF = 2,
};

/* Value of the targets map (key: tgid). */
struct mt_target {
	__u32 flags;		/* MT_TARGET_* */
	__u32 pad;
	__u64 live_ns;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the
				   process's entry probes were last attached;
				   0 while probes are being attached */
};

/*
 * A process whose probes are still going in: every program ignores it, so
 * that all its probes go live at once when user space clears the flag.
 * Each probe is live as soon as it is attached; without the gate a free
 * attached after malloc misses the frees of blocks malloc recorded
 * meanwhile (~200 allocations "over a live address" per attach to a
 * churning process), and a free attached first sends an event for every
 * free of a block never seen (the ring filled: 600,000 events lost).
 */
#define MT_TARGET_ATTACHING 0x1u

static inline int mt_target_traced(const struct mt_target *t)
{
	return t && !(t->flags & MT_TARGET_ATTACHING);
}

/*
 * Sampling (--sample-bytes R). Allocated bytes are sampled as a Poisson
 * process of mean interval R: each thread counts down the bytes to its
 * next sample point, and an allocation that reaches it is sampled; the
 * countdown then restarts from a fresh interval. By memorylessness, an
 * allocation of s bytes is sampled with probability 1 - exp(-s / R)
 * whatever came before it, so user space weighs each sampled allocation
 * by the inverse of that. Intervals come from a table of MT_SAMPLE_INTERVALS
 * exponential variates of mean R that user space fills (from a seed), and
 * each draw takes a random entry. The sampled blocks are kept in a BPF
 * hash (key struct mt_sampled_key) so that a free of any other block ends
 * at one map operation, with no event.
 */
#define MT_SAMPLE_INTERVALS (1u << 16)
#define MT_SAMPLED_MAX (1u << 20)

struct mt_sampled_key {
	__u32 pid;		/* tgid */
	__u32 pad;
	__u64 addr;
};

/*
 * Return probes are attached before entry probes, so a call that entered
 * before its entry probe was live returns without an entry: harmless, and
 * routine on a busy process (thousands of calls in the few milliseconds
 * between the two attaches). Such a return is counted apart, as in flight
 * at attach, when its thread has no call state yet (it has not entered a
 * probed function since the probes came) or when it comes while probes are
 * being attached or within MT_IN_FLIGHT_NS of the entry probes going live
 * (a call that entered before, and made a probed call inside since).
 */
#define MT_IN_FLIGHT_NS 1000000000ULL

#endif /* MEMTRACE_EVENTS_H */
