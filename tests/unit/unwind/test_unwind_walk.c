// SPDX-License-Identifier: MIT
/*
 * Unit tests for the user-space stack walk (user/unwind/unwind_walk.c),
 * the rules of include/memtrace_unwind_step.h that the BPF walk applies
 * too. No root, no BPF.
 *
 * Live cases, the same as the BPF walk's (tests/progs/nofp/deep.c, checked
 * against gdb in tests/integration/test_stacks_gdb.py): this test takes a
 * snapshot of its own stack, as the probes would, at the bottom of a
 * 20-level recursion, inside a qsort callback in libc, in a thread, in a
 * signal handler (through the kernel's signal frame), and past the depth
 * limit. The unwind tables are the real ones of every object this process
 * maps, built and published in memory by the real loader. Ground truth is
 * glibc's backtrace(), which walks with libgcc's unwinder, from the same
 * function.
 *
 * Made-up cases, for the rules no live stack here can reach: the uretprobe
 * trampoline, code without a table walked by frame pointers, PLT stubs,
 * and every way a walk ends.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <execinfo.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "memtrace_events.h"
#include "memtrace_stack_hash.h"
#include "memtrace_unwind.h"
#include "unwind/unwind_loader.h"
#include "unwind/unwind_walk.h"

/* ---- live stacks ---- */

/* Built like distro code whatever the test's own flags: no frame
 * pointer, and neither inlined nor cloned, so that each is a frame. */
#define NOFP __attribute__((noipa, optimize("omit-frame-pointer")))

struct shot {
	struct mt_snapshot snap;
	void *bt[256];
	int nbt;
	uint64_t caller;	/* return address into take_snapshot's caller */
	int taken;
};

static volatile int counter;

/* Copy [from, from + len) of this thread's own stack, outside ASan's view
 * (the frames above hold its redzones). */
__attribute__((noinline, no_sanitize_address))
static void copy_stack(uint8_t *to, uint64_t from, size_t len)
{
	for (size_t i = 0; i < len; i++)
		to[i] = ((const volatile uint8_t *)from)[i];
}

static uint64_t stack_top(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	cr_assert_eq(pthread_getattr_np(pthread_self(), &attr), 0);
	cr_assert_eq(pthread_attr_getstack(&attr, &addr, &size), 0);
	pthread_attr_destroy(&attr);
	return (uint64_t)addr + size;
}

/* What the probes send: the registers here, and the stack above. */
NOFP static void take_snapshot(struct shot *s)
{
	uint64_t pc, sp, bp, addr, top = stack_top();
	size_t len;

	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(pc), "=r"(sp), "=r"(bp));
	addr = sp & ~(uint64_t)(MT_SNAPSHOT_CHUNK - 1);
	len = top - addr < MT_SNAPSHOT_BYTES ? top - addr : MT_SNAPSHOT_BYTES;
	len -= len % MT_SNAPSHOT_CHUNK;
	copy_stack(s->snap.data, addr, len);
	s->snap.type = MT_EV_STACK_SNAPSHOT;
	s->snap.addr = addr;
	s->snap.len = len;
	s->snap.chunks = (uint16_t)((1u << (len / MT_SNAPSHOT_CHUNK)) - 1);
	s->snap.regs = (struct mt_frame_regs){ .pc = pc, .sp = sp, .bp = bp, .bp_valid = 1 };
	s->nbt = backtrace(s->bt, 256);
	s->caller = (uint64_t)__builtin_return_address(0);
	s->taken = 1;
}

NOFP static int recurse(struct shot *s, int depth)
{
	int r;

	if (depth == 0) {
		take_snapshot(s);
		return 0;
	}
	r = recurse(s, depth - 1);
	counter += depth;	/* not a tail call */
	return r;
}

NOFP static int compare_ints(const void *a, const void *b, void *arg)
{
	struct shot *s = arg;
	int x = *(const int *)a, y = *(const int *)b;

	if (!s->taken)
		take_snapshot(s);
	return (x > y) - (x < y);
}

NOFP static void sort_numbers(struct shot *s)
{
	int v[64];

	for (int i = 0; i < 64; i++)
		v[i] = (i * 7919) % 64;
	qsort_r(v, 64, sizeof(v[0]), compare_ints, s);
	counter += v[3];
}

/* A signal handler has no argument: where it takes its snapshot. */
static struct shot *signal_shot;

NOFP static void on_signal(int sig)
{
	take_snapshot(signal_shot);
	counter += sig;
}

NOFP static void signal_sender(struct shot *s)
{
	signal_shot = s;
	raise(SIGUSR1);
	counter++;
}

enum scenario { RECURSION, QSORT, SIGNAL, TOO_DEEP };

struct run {
	enum scenario what;
	struct shot shot;
};

static void *thread_main(void *arg)
{
	struct run *r = arg;

	switch (r->what) {
	case RECURSION:
		recurse(&r->shot, 20);
		break;
	case QSORT:
		sort_numbers(&r->shot);
		break;
	case SIGNAL:
		signal_sender(&r->shot);
		break;
	case TOO_DEEP:
		recurse(&r->shot, 150);
		break;
	}
	counter++;
	return NULL;
}

/* In a thread of its own: a stack that fits the snapshot, whatever
 * Criterion's main thread holds, and ends at clone3. */
static void run_in_thread(struct run *r)
{
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t th;

	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	cr_assert_eq(pthread_create(&th, NULL, thread_main, r), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert(r->shot.taken);
}

/* This process's tables, published in memory. */
struct tables {
	struct unwind_loader *ul;
	struct mt_unwind_row *rows;
};

static void tables_load(struct tables *t)
{
	size_t n;

	cr_assert_eq(unwind_loader_new(&t->ul), 0);
	cr_assert_eq(unwind_loader_prepare(t->ul, getpid()), 0);
	n = unwind_loader_rows_needed(t->ul);
	cr_assert(n > 1000, "only %zu rows for this process", n);
	t->rows = calloc(n, sizeof(*t->rows));
	cr_assert_not_null(t->rows);
	cr_assert_eq(unwind_loader_attach_memory(t->ul, t->rows, n), 0);
}

static void tables_free(struct tables *t)
{
	unwind_loader_free(t->ul);
	free(t->rows);
}

/* Walk the shot with this process's tables. */
static void walk_shot(const struct shot *s, struct mt_stack *out)
{
	struct tables t;

	memset(out, 0, sizeof(*out));
	tables_load(&t);
	cr_assert_eq(unwind_loader_walk(t.ul, getpid(), &s->snap, out), 0);
	tables_free(&t);
}

static char *frames_text(const __u64 *pcs, size_t n)
{
	static char buf[8192];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < sizeof(buf) - 20; i++)
		used += snprintf(buf + used, sizeof(buf) - used, " %" PRIx64, (uint64_t)pcs[i]);
	return buf;
}

/*
 * The walk's frames after the first (inside take_snapshot) are the
 * return addresses backtrace() found from the same function: the same
 * ones, in the same order, as many. Returns how many that is.
 */
static size_t assert_matches_backtrace(const struct shot *s, const struct mt_stack *st,
				       size_t max)
{
	__u64 bt[256];
	int k;

	for (int i = 0; i < s->nbt; i++)
		bt[i] = (uint64_t)s->bt[i];
	cr_assert(st->len >= 2, "the walk found %u frames", st->len);
	cr_assert_eq(st->pcs[0], s->snap.regs.pc);
	cr_assert_eq(st->pcs[1], s->caller, "frame 1: %" PRIx64 ", the caller is at %" PRIx64,
		     (uint64_t)st->pcs[1], s->caller);
	for (k = 0; k < s->nbt && bt[k] != s->caller; k++)
		;
	cr_assert(k < s->nbt, "backtrace() does not have the caller");
	size_t want = (size_t)(s->nbt - k) < max ? (size_t)(s->nbt - k) : max;
	cr_assert_eq(st->len - 1, want, "walk:%s\nbacktrace:%s", frames_text(st->pcs + 1, st->len - 1),
		     frames_text(bt + k, s->nbt - k));
	cr_assert_eq(memcmp(st->pcs + 1, bt + k, want * sizeof(bt[0])), 0,
		     "walk:%s\nbacktrace:%s", frames_text(st->pcs + 1, st->len - 1),
		     frames_text(bt + k, s->nbt - k));
	return want;
}

static void preload_backtrace(void)
{
	void *bt[4];

	/* The first call loads libgcc_s: not in a signal handler. */
	cr_assert(backtrace(bt, 4) > 0);
}

TestSuite(unwind_walk_live, .init = preload_backtrace);

Test(unwind_walk_live, recursion_matches_backtrace)
{
	struct run r = { .what = RECURSION };
	struct mt_stack st;
	size_t n;

	run_in_thread(&r);
	walk_shot(&r.shot, &st);
	cr_assert_eq(st.end, MT_END_COMPLETE, "end %u", st.end);
	n = assert_matches_backtrace(&r.shot, &st, MT_MAX_FRAMES);
	/* recurse x 21, thread_main, start_thread, clone3 at least. */
	cr_assert(n >= 24, "%zu frames", n);
	cr_assert_eq(st.fp_frames, 0);
}

Test(unwind_walk_live, qsort_callback_inside_libc_matches_backtrace)
{
	struct run r = { .what = QSORT };
	struct mt_stack st;

	run_in_thread(&r);
	walk_shot(&r.shot, &st);
	cr_assert_eq(st.end, MT_END_COMPLETE, "end %u", st.end);
	assert_matches_backtrace(&r.shot, &st, MT_MAX_FRAMES);
}

/* Through the kernel's signal frame: the handler, __restore_rt, then the
 * instruction raise() was at when the signal came, and on to clone3. */
Test(unwind_walk_live, signal_handler_matches_backtrace)
{
	struct run r = { .what = SIGNAL };
	struct mt_stack st;

	run_in_thread(&r);
	walk_shot(&r.shot, &st);
	cr_assert_eq(st.end, MT_END_COMPLETE, "end %u", st.end);
	assert_matches_backtrace(&r.shot, &st, MT_MAX_FRAMES);
}

Test(unwind_walk_live, deeper_than_the_limit_stops_at_it)
{
	struct run r = { .what = TOO_DEEP };
	struct mt_stack st;

	run_in_thread(&r);
	walk_shot(&r.shot, &st);
	cr_assert_eq(st.end, MT_END_DEPTH, "end %u", st.end);
	cr_assert_eq(st.len, MT_MAX_FRAMES);
	assert_matches_backtrace(&r.shot, &st, MT_MAX_FRAMES - 1);
}

/* ---- made-up stacks ---- */

#define CODE 0x400000ULL	/* a mapping with a table, loaded at 0 + CODE */
#define CODE_END 0x410000ULL
#define JIT 0x500000ULL		/* a mapping without one */
#define JIT_END 0x501000ULL
#define SP 0x7ffd00000000ULL	/* where the made-up stacks start */

struct fake {
	struct mt_unwind_row rows[16];
	size_t nrows;
	struct mt_proc_mappings maps;
	struct mt_snapshot snap;
	struct mt_stack out;
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->maps.n = 2;
	f->maps.m[0] = (struct mt_mapping){ .start = CODE, .end = CODE_END, .bias = CODE };
	f->maps.m[1] = (struct mt_mapping){ .start = JIT, .end = JIT_END };
	f->snap.type = MT_EV_STACK_SNAPSHOT;
	f->snap.addr = SP;
	f->snap.len = MT_SNAPSHOT_BYTES;
	f->snap.chunks = 0xffff;
	f->snap.regs = (struct mt_frame_regs){ .sp = SP, .bp_valid = 1 };
}

/* A row from pc on (rows must come in pc order). */
static void row(struct fake *f, uint64_t pc, uint8_t cfa_type, int32_t cfa_offset,
		uint8_t rbp_type, int16_t rbp_offset)
{
	f->rows[f->nrows++] = (struct mt_unwind_row){
		.pc = pc - CODE, .cfa_type = cfa_type, .cfa_offset = cfa_offset,
		.rbp_type = rbp_type, .rbp_offset = rbp_offset,
	};
	f->maps.m[0].rows_len = f->nrows;
}

static void word(struct fake *f, uint64_t addr, uint64_t value)
{
	cr_assert(addr >= SP && addr + 8 <= SP + MT_SNAPSHOT_BYTES);
	memcpy(f->snap.data + (addr - SP), &value, 8);
}

static void walk(struct fake *f, uint64_t pc, int pc_is_return)
{
	f->snap.regs.pc = pc;
	f->snap.regs.pc_is_return = pc_is_return;
	cr_assert_eq(unwind_walk(f->rows, f->nrows, &f->maps, &f->snap, &f->out), 0);
}

static void assert_frames(const struct fake *f, uint8_t end, size_t n, const __u64 *pcs)
{
	cr_assert_eq(f->out.end, end, "end %u, not %u", f->out.end, end);
	cr_assert_eq(f->out.len, n, "%u frames:%s", f->out.len,
		     frames_text(f->out.pcs, f->out.len));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(f->out.pcs[i], pcs[i], "frame %zu: %" PRIx64 ", not %" PRIx64, i,
			     (uint64_t)f->out.pcs[i], (uint64_t)pcs[i]);
}

/* Three frames: CFA from rsp with rbp saved at CFA - 16 (one 16-byte
 * read), CFA from the rbp restored there, then the outermost frame. */
Test(unwind_walk_rules, rsp_and_rbp_rules_down_to_the_outermost_frame)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 32, MT_RBP_OFFSET, -16);
	row(&f, 0x402000, MT_CFA_RBP, 16, MT_RBP_OFFSET, -16);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	word(&f, SP + 16, SP + 0x100);		/* saved rbp */
	word(&f, SP + 24, 0x402010);		/* return address */
	word(&f, SP + 0x100, SP + 0x200);	/* next saved rbp, at rbp */
	word(&f, SP + 0x108, 0x403010);		/* its return address */
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_COMPLETE, 3, (__u64[]){ 0x401010, 0x402010, 0x403010 });
}

/* A return address is looked up at pc - 1 (the call may be a function's
 * last instruction), the interrupted instruction of a signal frame and
 * the probed one at pc itself. */
Test(unwind_walk_rules, return_addresses_are_looked_up_one_byte_before)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	row(&f, 0x401010, MT_CFA_UNSUPPORTED, 0, MT_RBP_UNCHANGED, 0);
	walk(&f, 0x401010, 1);
	assert_frames(&f, MT_END_COMPLETE, 1, (__u64[]){ 0x401010 });
	memset(&f.out, 0, sizeof(f.out));
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_UNSUPPORTED, 1, (__u64[]){ 0x401010 });
}

Test(unwind_walk_rules, signal_frame_takes_the_interrupted_registers)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_SIGNAL, 0, MT_RBP_UNCHANGED, 0);
	/* At the interrupted pc exactly: an outermost frame; one byte
	 * before it, a gap. */
	row(&f, 0x402000, MT_CFA_NONE, 0, MT_RBP_UNCHANGED, 0);
	row(&f, 0x402010, MT_CFA_RBP, 16, MT_RBP_UNCHANGED, 0);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	f.snap.regs.bp_valid = 0;		/* restored from the ucontext */
	word(&f, SP + MT_SIGFRAME_IP, 0x402010);
	word(&f, SP + MT_SIGFRAME_SP, SP + 0x400);
	word(&f, SP + MT_SIGFRAME_BP, SP + 0x800);
	word(&f, SP + 0x808, 0x403010);
	walk(&f, 0x401004, 1);
	assert_frames(&f, MT_END_COMPLETE, 3, (__u64[]){ 0x401004, 0x402010, 0x403010 });
}

Test(unwind_walk_rules, plt_stub_cfa_depends_on_the_pc)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_PLT, 0, MT_RBP_UNCHANGED, 0);
	row(&f, 0x402000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	word(&f, SP, 0x402001);		/* CFA = rsp + 8 */
	word(&f, SP + 8, 0x402002);	/* CFA = rsp + 16 */
	walk(&f, 0x401006, 0);		/* (pc & 15) < 11 */
	assert_frames(&f, MT_END_COMPLETE, 2, (__u64[]){ 0x401006, 0x402001 });
	memset(&f.out, 0, sizeof(f.out));
	walk(&f, 0x40100b, 0);		/* (pc & 15) >= 11: after the push */
	assert_frames(&f, MT_END_COMPLETE, 2, (__u64[]){ 0x40100b, 0x402002 });
}

/*
 * Return addresses the kernel replaced with its uretprobe trampoline come
 * back from the return instances, matched by stack slot, innermost first:
 * chained ones (tail calls) share a slot, an inner one not on this stack
 * any more is skipped, an outer one waits for its frame.
 */
Test(unwind_walk_rules, uretprobe_trampoline_replaced_from_return_instances)
{
	const uint64_t tramp = 0x7fff0000e000ULL;
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 16, MT_RBP_UNCHANGED, 0);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	word(&f, SP + 8, tramp);		/* frame 0's return address */
	word(&f, SP + 24, tramp);		/* frame 1's */
	f.snap.trampoline = tramp;
	f.snap.nreturns = 4;
	f.snap.returns[0] = (struct mt_snapshot_return){ SP - 64, 0x1111 };
	f.snap.returns[1] = (struct mt_snapshot_return){ SP + 8, 0x401020 };
	f.snap.returns[2] = (struct mt_snapshot_return){ SP + 8, 0x401020 };
	f.snap.returns[3] = (struct mt_snapshot_return){ SP + 24, 0x403010 };
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_COMPLETE, 3, (__u64[]){ 0x401010, 0x401020, 0x403010 });

	/* No instance for the slot: the trampoline stays, in no mapping. */
	memset(&f.out, 0, sizeof(f.out));
	f.snap.nreturns = 1;
	f.snap.returns[0] = (struct mt_snapshot_return){ SP + 24, 0x403010 };
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_NO_MAPPING, 2, (__u64[]){ 0x401010, tramp });
}

/* Code with no table: one frame by frame pointers, checked. */
Test(unwind_walk_rules, code_without_a_table_walks_by_frame_pointers)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	f.snap.regs.bp = SP + 0x40;
	word(&f, SP + 0x40, SP + 0x100);	/* caller's rbp */
	word(&f, SP + 0x48, 0x403010);		/* return address */
	walk(&f, JIT + 0x10, 1);
	assert_frames(&f, MT_END_COMPLETE, 2, (__u64[]){ JIT + 0x10, 0x403010 });
	cr_assert_eq(f.out.fp_frames, 1);
}

Test(unwind_walk_rules, frame_pointers_that_lead_nowhere_end_the_walk)
{
	const uint64_t bad_bp[] = {
		SP - 16,			/* below sp */
		SP + 0x44,			/* misaligned */
		SP + (8ULL << 20) + 8,		/* too far above sp */
	};
	struct fake f;

	for (size_t i = 0; i < sizeof(bad_bp) / sizeof(bad_bp[0]); i++) {
		fake_init(&f);
		f.snap.regs.bp = bad_bp[i];
		walk(&f, JIT + 0x10, 1);
		assert_frames(&f, MT_END_FP, 1, (__u64[]){ JIT + 0x10 });
	}
	/* A return address into no mapping: not one. */
	fake_init(&f);
	f.snap.regs.bp = SP + 0x40;
	word(&f, SP + 0x48, 0x1234);
	walk(&f, JIT + 0x10, 1);
	assert_frames(&f, MT_END_FP, 1, (__u64[]){ JIT + 0x10 });
	/* rbp not known (a row said so): nothing to follow. */
	fake_init(&f);
	f.snap.regs.bp = SP + 0x40;
	f.snap.regs.bp_valid = 0;
	walk(&f, JIT + 0x10, 1);
	assert_frames(&f, MT_END_FP, 1, (__u64[]){ JIT + 0x10 });
	cr_assert_eq(f.out.fp_frames, 0);
}

Test(unwind_walk_rules, every_other_end)
{
	struct fake f;

	/* A PC in no mapping: the last frame, for a snapshot to go on. */
	fake_init(&f);
	walk(&f, 0x900000, 1);
	assert_frames(&f, MT_END_NO_MAPPING, 1, (__u64[]){ 0x900000 });

	/* Below the first row, and in a gap. */
	fake_init(&f);
	row(&f, 0x401000, MT_CFA_NONE, 0, MT_RBP_UNCHANGED, 0);
	walk(&f, 0x400800, 0);
	assert_frames(&f, MT_END_NO_TABLE, 1, (__u64[]){ 0x400800 });
	memset(&f.out, 0, sizeof(f.out));
	walk(&f, 0x401800, 0);
	assert_frames(&f, MT_END_NO_TABLE, 1, (__u64[]){ 0x401800 });

	/* A rule the table cannot express; a CFA from an rbp not known. */
	fake_init(&f);
	row(&f, 0x401000, MT_CFA_UNSUPPORTED, 0, MT_RBP_UNCHANGED, 0);
	row(&f, 0x402000, MT_CFA_RSP, 16, MT_RBP_UNSUPPORTED, 0);
	row(&f, 0x403000, MT_CFA_RBP, 16, MT_RBP_UNCHANGED, 0);
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_UNSUPPORTED, 1, (__u64[]){ 0x401010 });
	memset(&f.out, 0, sizeof(f.out));
	word(&f, SP + 8, 0x403010);
	walk(&f, 0x402010, 0);
	assert_frames(&f, MT_END_UNSUPPORTED, 2, (__u64[]){ 0x402010, 0x403010 });

	/* A CFA that does not move up the stack: from an rbp below sp. */
	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 0x100, MT_RBP_UNCHANGED, 0);
	row(&f, 0x402000, MT_CFA_RBP, 16, MT_RBP_UNCHANGED, 0);
	f.snap.regs.bp = SP + 0x10;
	word(&f, SP + 0xf8, 0x402010);
	word(&f, SP + 0x18, 0x403010);
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_BAD_READ, 2, (__u64[]){ 0x401010, 0x402010 });

	/* A return address of 0: garbage CFI, not the outermost frame (that
	 * one says MT_CFA_END): the stack ends there, incomplete. */
	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 8, MT_RBP_UNCHANGED, 0);
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_BAD_READ, 1, (__u64[]){ 0x401010 });
}

/* What the snapshot does not hold reads as unreadable, as the memory BPF
 * could not read: past its end, and a chunk left out. */
Test(unwind_walk_rules, reads_outside_the_snapshot_fail)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 0x2000, MT_RBP_UNCHANGED, 0);
	f.snap.len = 0x1000;
	f.snap.chunks = 0xf;
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_BAD_READ, 1, (__u64[]){ 0x401010 });

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 0x1010, MT_RBP_UNCHANGED, 0);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	word(&f, SP + 0x1008, 0x403010);
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_COMPLETE, 2, (__u64[]){ 0x401010, 0x403010 });
	memset(&f.out, 0, sizeof(f.out));
	f.snap.chunks &= ~(1u << (0x1008 / MT_SNAPSHOT_CHUNK));
	walk(&f, 0x401010, 0);
	assert_frames(&f, MT_END_BAD_READ, 1, (__u64[]){ 0x401010 });
}

/* A frame that returns to itself forever: MT_MAX_FRAMES, then the limit. */
Test(unwind_walk_rules, depth_limit)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x401000, MT_CFA_RSP, 8, MT_RBP_UNCHANGED, 0);
	for (int i = 0; i < 200; i++)
		word(&f, SP + 8 * i, 0x401010);
	walk(&f, 0x401010, 0);
	cr_assert_eq(f.out.end, MT_END_DEPTH);
	cr_assert_eq(f.out.len, MT_MAX_FRAMES);
}

/* A finished stack goes on after the frames BPF found: the first new
 * frame is the snapshot's PC, at the stack's length. */
Test(unwind_walk_rules, walk_appends_to_the_frames_found_so_far)
{
	struct fake f;

	fake_init(&f);
	row(&f, 0x403000, MT_CFA_END, 0, MT_RBP_UNCHANGED, 0);
	f.out.len = 3;
	f.out.pcs[0] = 1;
	f.out.pcs[1] = 2;
	f.out.pcs[2] = 3;
	f.out.fp_frames = 2;
	walk(&f, 0x403010, 1);
	assert_frames(&f, MT_END_COMPLETE, 4, (__u64[]){ 1, 2, 3, 0x403010 });
	cr_assert_eq(f.out.fp_frames, 2);

	memset(&f.out, 0, sizeof(f.out));
	f.out.len = MT_MAX_FRAMES + 1;
	cr_assert_eq(unwind_walk(f.rows, f.nrows, &f.maps, &f.snap, &f.out), -EINVAL);
}

/* ---- the stack ID ---- */

/* What the ID is made of: the allocation function, how the walk ended,
 * the first len PCs and the Python frames; nothing else. */
Test(stack_id, covers_what_makes_a_stack_and_nothing_else)
{
	static struct mt_stack a, b;
	uint64_t id;

	a.func = MT_FUNC_MALLOC;
	a.len = 3;
	a.pcs[0] = 0x401000;
	a.pcs[1] = 0x402000;
	a.pcs[2] = 0x403000;
	id = mt_stack_id(&a);
	cr_assert_neq(id, 0);

	b = a;
	b.fp_frames = 7;
	b.pcs[3] = 0x404000;	/* past len */
	cr_assert_eq(mt_stack_id(&b), id);

	b = a;
	b.func = MT_FUNC_CALLOC;
	cr_assert_neq(mt_stack_id(&b), id);
	b = a;
	b.end = MT_END_BAD_READ;
	cr_assert_neq(mt_stack_id(&b), id);
	b = a;
	b.pcs[1]++;
	cr_assert_neq(mt_stack_id(&b), id);
	b = a;
	b.len = 2;
	cr_assert_neq(mt_stack_id(&b), id);
	b = a;
	b.py_len = 1;
	b.py[0].code = 0x1000;
	id = mt_stack_id(&b);
	cr_assert_neq(id, mt_stack_id(&a));
	b.py[0].instr = 4;
	cr_assert_neq(mt_stack_id(&b), id);
}
