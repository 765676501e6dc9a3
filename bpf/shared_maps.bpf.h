/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The maps of the probe objects, and the types of their values. Each
 * object that includes this defines them; user space creates them once,
 * from bpf/shared_maps.bpf.c (which holds nothing else), and hands them to
 * every loaded instance of alloc_probes and mmap_probes
 * (bpf_map__reuse_fd) before any is loaded, so that there is one of each
 * in the kernel and the objects can be verified at the same time, on
 * several CPUs: each stack-walking program takes the verifier ~100 ms,
 * most of memtrace's start-up.
 */
#ifndef MEMTRACE_SHARED_MAPS_BPF_H
#define MEMTRACE_SHARED_MAPS_BPF_H

#include "memtrace_events.h"
#include "memtrace_python.h"
#include "memtrace_unwind.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);	/* resized by user space before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct mt_target);
} targets SEC(".maps");

/* How many times targets has changed: user space adds one after each
 * write, so that a thread may keep what it last read of its process's
 * entry (call_state.target_gen, target_known()). Mmapable: user space adds
 * without a system call. process_watch.bpf.c's writes need not add: they
 * are of a process just forked, whose threads have no call state yet, or
 * of one whose threads have all exited. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} targets_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_CNT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Records each CPU has sent, for ring_wake()'s look at the ring's fill. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} wake_checks SEC(".maps");

/* Last time each process was told of an unknown PC (rate limit). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} unknown_pc_sent SEC(".maps");

/* Where a walk stopped, for a snapshot to go on from: the registers, and
 * what the trampoline substitution needs (the return instances of the
 * cursor on, which only BPF can read). */
struct mt_unwind_stop {
	struct mt_frame_regs regs;
	struct mt_eval_stop eval;
	__u64 trampoline;
	__u64 ri;			/* struct return_instance * */
};

/* Bytes of the walked stack read at once (bpf/unwind_dwarf.bpf.h,
 * mt_unwind_read()): a power of two. */
#define MT_STACK_WINDOW 512

/* A piece of the walked thread's memory, [lo, lo + len), as read during
 * this walk (valid), and 16 bytes more that a read at its end would touch
 * (never used: reads past the window are refused). The Python frames'
 * walk uses it on the thread's data stack first, then the native walk on
 * its stack; each starts with none. */
struct mt_stack_window {
	__u64 lo;
	__u32 valid;		/* WINDOW_* */
	__u32 len;		/* at most MT_STACK_WINDOW */
	__u64 hint_pc;		/* mt_unwind_mapping_hint()'s */
	__u8 bytes[MT_STACK_WINDOW + 16];
};

/* The window's state (struct mt_stack_window.valid). */
#define WINDOW_NONE 0		/* none yet */
#define WINDOW_READ 1		/* [lo, lo + len) is read */
#define WINDOW_OFF 2		/* a read failed: the walk reads word by word */

/*
 * The thread's Python thread state as py_find_tstate() last found it, and
 * the thread ids it was found for. In the call state, which lives and dies
 * with the thread, so that a thread id used again is never mistaken for
 * the old thread; the ids change only at an exec by a thread that is not
 * the leader (it takes the leader's id), hence tid.
 */
struct py_thread {
	__u64 tstate;		/* 0: none found yet */
	__u64 native_tid;	/* the thread's id in its own PID namespace */
	__u32 tid;		/* the root namespace's id both are for */
	__u32 pad;
};

/* What a thread's outer probed call is doing, from entry to return. */
struct call_state {
	__u32 depth;		/* probed calls in flight on this thread */
	__u32 func;		/* enum mt_func of the outer call */
	__u64 entry_sp;		/* stack pointer at the outer call's entry */
	__u64 size;
	__u64 old_addr;		/* realloc: the block passed in */
	__u64 out_ptr;		/* posix_memalign: where the result goes */
	__u64 py_freeing;	/* block PyObject_Free is freeing: its free()
				   of a large block is the same free */
	__u64 sample_left;	/* bytes to this thread's next sample point */
	__u8 sample_ready;	/* sample_left has been drawn */
	__u8 old_sampled;	/* realloc: the block passed in was sampled */
	__u8 sample_hit;	/* the outer call reached its sample point */
	/* Session uprobes (alloc_session): the last call whose return
	 * probe was skipped, unsampled. A mapping syscall made inside it is
	 * the allocator's own (mmap_probes.bpf.c, in_skipped_call()): its
	 * stack pointer at entry (0: none since the last reported call) and
	 * the return address it held. */
	__u64 skip_sp;
	__u64 skip_ret;
	/* targets_gen + 1 when this thread last looked its process up in
	 * targets (0: never), and whether it was traced then. */
	__u64 target_gen;
	__u8 target_traced;
	struct mt_stack stack;	/* scratch for stack_capture_from() */
	struct mt_unwind_stop stop; /* where the unwind stopped */
	struct mt_stack_window window; /* of the walk's stack reads */
	struct py_thread py;	/* for the Python frames' walk */
	/* The syscall probes (mmap_probes.bpf.c): a copy of the user
	 * registers to unwind from, and the program break before a brk. */
	struct pt_regs user_regs;
	__u64 brk_before;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call_state);
} call_states SEC(".maps");

/* Not preallocated: 1024 values of 8 KiB took 13 ms of start-up to
 * create; and an update then swaps in a new element instead of rewriting
 * the one a walk may be reading. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, __u32);			/* tgid */
	__type(value, struct mt_proc_mappings);
} proc_mappings SEC(".maps");

/* Every loaded table, one after another. User space mmaps it and copies
 * tables in: hundreds of thousands of rows, one system call each, would
 * take seconds. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1 << 20);		/* set by user space */
	__type(key, __u32);
	__type(value, struct mt_unwind_row);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, __u64);
	__type(value, struct mt_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);			/* tgid */
	__type(value, struct mt_py_offsets);
} py_targets SEC(".maps");

/* Deaths of code objects per address slot (mt_py_gen_slot). Mmapable:
 * user space reads the counts without a system call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MT_PY_GEN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} py_code_gens SEC(".maps");

/* Sampling: the intervals to draw from, and the live sampled blocks. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MT_SAMPLE_INTERVALS);
	__type(key, __u32);
	__type(value, __u64);
} sample_intervals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MT_SAMPLED_MAX);
	__type(key, struct mt_sampled_key);
	__type(value, __u8);
} sampled SEC(".maps");

/* The record a dying code object is copied into (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mt_py_code_freed);
} py_freed_scratch SEC(".maps");

#endif /* MEMTRACE_SHARED_MAPS_BPF_H */
