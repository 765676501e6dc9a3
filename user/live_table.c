// SPDX-License-Identifier: MIT
/*
 * The live-allocation table (see live_table.h for the layout): its 20-byte
 * slots and how they hold a pid, a size and a time; the shards, on
 * util/open_addr.h's probing and deletion, and their staggered growth;
 * the side table of sizes a slot cannot hold.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "live_table.h"
#include "util/open_addr.h"

/*
 * Packed: 20 bytes, where aligning addr would pad it to 24. At 5/6 of the
 * memory, the same bound on bytes per live allocation leaves the table
 * emptier, and its probes shorter: 10 to 20% more events/s than 24-byte
 * slots in scripts/bench_aggregator.c's random and reused churns. x86-64
 * loads unaligned words at no cost but where one straddles two cache
 * lines (a quarter of the slots).
 */
struct __attribute__((packed)) live_slot {
	uint64_t addr;		/* 0: empty slot */
	uint32_t stack;		/* its pid: t->pids[stack] */
	uint32_t size;		/* LIVE_SIZE_BIG: the size is in t->big */
	uint32_t ms;		/* milliseconds after t->base_ns */
};

_Static_assert(sizeof(struct live_slot) == 20, "a live slot is 20 bytes");

/* Sizes from here on are in the side table (a size of exactly UINT32_MAX
 * too, so that the mark is never a size). */
#define LIVE_SIZE_BIG UINT32_MAX

/* One size of 4 GiB or more: almost always there are none. */
struct live_big {
	uint64_t addr;		/* 0: empty slot */
	uint64_t size;
	uint32_t pid;
};

/* t->pids[stack] for a stack index never put. No pid is that large (the
 * kernel's limit is 2^22). */
#define LIVE_NO_PID UINT32_MAX
#define LIVE_PIDS_MIN 256

#define LIVE_NS_PER_MS 1000000ULL

/* Events from several CPUs can reach us a little out of order, so time 0
 * is set this long before the first allocation: one stamped up to a
 * second before it still gets its own time. */
#define LIVE_TS_SLACK_NS 1000000000ULL

/* A shard's first array: 16 slots, 320 bytes. */
#define LIVE_SHARD_MIN 16

/* Arrays from this size on are mapped directly, not taken from malloc:
 * munmap gives the old array back to the system the moment a shard has
 * grown, where malloc would keep it in its heap, and fresh pages come
 * zeroed (empty) with no memset. */
#define LIVE_MMAP_MIN (64 << 10)
#define LIVE_PAGE 4096
#define LIVE_HUGE (2u << 20)

#define LIVE_BIG_MIN 16

/* Every shard starts on this one empty slot, shared and never written
 * (putting grows a shard first): a lookup in a shard that holds nothing
 * yet needs no test of its own, and an empty table allocates nothing. */
static struct live_slot live_no_slots[1];

/* An array of `more` bytes replaced one of `fewer`: for a moment both
 * were held, which is what the peak counts. */
static void live_count_bytes(struct live_table *t, size_t more, size_t fewer)
{
	t->bytes += more;
	if (t->bytes > t->peak_bytes)
		t->peak_bytes = t->bytes;
	t->bytes -= fewer;
}

/* ---- the pid of a slot: its stack's ---- */

/* Set for every slot's stack: a slot is put only after its stack is
 * noted. */
static uint32_t live_pid_of(const struct live_table *t, const struct live_slot *s)
{
	return t->pids[s->stack];
}

/* Note that stack is pid's. Returns 0, -EINVAL if it is another pid's, or
 * -ENOMEM. */
static int live_note_stack(struct live_table *t, uint32_t stack, uint32_t pid)
{
	if (stack >= t->npids) {
		size_t n = t->npids ? t->npids : LIVE_PIDS_MIN;
		uint32_t *pids;

		while (n <= stack)
			n *= 2;
		pids = realloc(t->pids, n * sizeof(*pids));
		if (!pids)
			return -ENOMEM;
		memset(pids + t->npids, 0xff, (n - t->npids) * sizeof(*pids));
		live_count_bytes(t, n * sizeof(*pids), t->npids * sizeof(*pids));
		t->pids = pids;
		t->npids = n;
	}
	if (t->pids[stack] == LIVE_NO_PID)
		t->pids[stack] = pid;
	return t->pids[stack] == pid ? 0 : -EINVAL;
}

/* ---- the slots' type for util/open_addr.h ---- */

static bool live_slot_empty(const void *slot)
{
	return !((const struct live_slot *)slot)->addr;
}

/* The hash bits below the shard's (see live_shard_of()); ctx is the
 * table, which knows the slot's pid. */
static uint64_t live_slot_hash(const void *slot, const void *ctx)
{
	const struct live_slot *s = slot;

	return live_table_hash(live_pid_of(ctx, s), s->addr) << LIVE_SHARD_BITS;
}

static const struct oa_type live_slots = {
	.size = sizeof(struct live_slot),
	.empty = live_slot_empty,
	.hash = live_slot_hash,
};

/* The key a lookup or a removal by pid compares: pid, and addr. */
struct live_key {
	const struct live_table *t;
	uint64_t addr;
	uint32_t pid;
};

static bool live_slot_is(const void *slot, const void *key)
{
	const struct live_slot *s = slot;
	const struct live_key *k = key;

	return s->addr == k->addr && live_pid_of(k->t, s) == k->pid;
}

static bool live_slot_of_pid(const void *slot, const void *key)
{
	const struct live_key *k = key;

	return live_pid_of(k->t, slot) == k->pid;
}

/* ---- the side table of big sizes ---- */

static bool live_big_empty(const void *slot)
{
	return !((const struct live_big *)slot)->addr;
}

static uint64_t live_big_hash(const void *slot, const void *ctx)
{
	const struct live_big *b = slot;

	return live_table_hash(b->pid, b->addr);
}

static const struct oa_type live_bigs = {
	.size = sizeof(struct live_big),
	.empty = live_big_empty,
	.hash = live_big_hash,
};

static bool live_big_is(const void *slot, const void *key)
{
	const struct live_big *b = slot;
	const struct live_key *k = key;

	return b->addr == k->addr && b->pid == k->pid;
}

static bool live_big_of_pid(const void *slot, const void *key)
{
	return ((const struct live_big *)slot)->pid == ((const struct live_key *)key)->pid;
}

/* The slot of (pid, addr)'s big size; NULL if there is none. */
static struct live_big *live_big_find(const struct live_table *t, uint32_t pid,
				      uint64_t addr)
{
	struct live_key k = { .addr = addr, .pid = pid };

	if (!t->big_cap)
		return NULL;
	return oa_find(t->big, t->big_cap, live_table_hash(pid, addr), live_big_is, &k,
		       &live_bigs);
}

/* Record (pid, addr)'s size, absent so far. At most half full: it is tiny,
 * so short probes cost nothing. Returns 0 or -ENOMEM (nothing changed). */
static int live_big_add(struct live_table *t, uint32_t pid, uint64_t addr, uint64_t size)
{
	struct live_big b = { .addr = addr, .size = size, .pid = pid };

	if ((t->nbig + 1) * 2 > t->big_cap) {
		size_t cap = t->big_cap ? t->big_cap * 2 : LIVE_BIG_MIN;
		struct live_big *big = calloc(cap, sizeof(*big));

		if (!big)
			return -ENOMEM;
		oa_place_all(big, cap, t->big, t->big_cap, NULL, &live_bigs);
		free(t->big);
		live_count_bytes(t, cap * sizeof(*big), t->big_cap * sizeof(*big));
		t->big = big;
		t->big_cap = cap;
	}
	oa_place(t->big, t->big_cap, &b, NULL, &live_bigs);
	t->nbig++;
	return 0;
}

static void live_big_remove(struct live_table *t, uint32_t pid, uint64_t addr)
{
	struct live_big *b = live_big_find(t, pid, addr);

	if (b) {
		oa_remove_at(t->big, t->big_cap, b - t->big, NULL, &live_bigs);
		t->nbig--;
	}
}

/* ---- slots in and out ---- */

/* The shard of a (pid, addr) hash: its top bits. The bits below them
 * choose the home inside the shard (live_slot_hash()). */
static size_t live_shard_of(uint64_t hash)
{
	return hash >> (64 - LIVE_SHARD_BITS);
}

/* (pid, addr)'s slot in sh, its shard; NULL if it has none. */
static struct live_slot *live_find(const struct live_table *t,
				   const struct live_shard *sh, uint64_t hash,
				   uint32_t pid, uint64_t addr)
{
	struct live_key k = { .t = t, .addr = addr, .pid = pid };

	return oa_find(sh->slots, sh->cap, hash << LIVE_SHARD_BITS, live_slot_is, &k,
		       &live_slots);
}

/* ts_ns as a slot stores it: milliseconds after base_ns, rounded to the
 * nearest, so that a stored time is at most 0.5 ms off and a filter on
 * age is right to the millisecond. 32 bits hold 49.7 days; a time out of
 * that range is clamped to its nearest end and counted. */
static uint32_t live_ms(struct live_table *t, uint64_t ts_ns)
{
	uint64_t d;

	if (ts_ns < t->base_ns) {
		t->clamped_ts++;
		return 0;
	}
	d = ts_ns - t->base_ns;
	if (d >= (uint64_t)UINT32_MAX * LIVE_NS_PER_MS) {
		t->clamped_ts++;
		return UINT32_MAX;
	}
	return (d + LIVE_NS_PER_MS / 2) / LIVE_NS_PER_MS;
}

/* The size of a slot marked LIVE_SIZE_BIG. Out of line: the walk over
 * the table inlines live_decode(), and this almost never runs. */
static __attribute__((noinline)) uint64_t live_big_size(const struct live_table *t,
							 uint32_t pid, uint64_t addr)
{
	const struct live_big *b = live_big_find(t, pid, addr);

	/* Always there: slot and size come and go together. */
	return b ? b->size : LIVE_SIZE_BIG;
}

static inline void live_decode(const struct live_table *t, const struct live_slot *s,
			       struct live_alloc *out)
{
	out->addr = s->addr;
	out->pid = live_pid_of(t, s);
	out->stack = s->stack;
	out->size = s->size == LIVE_SIZE_BIG ? live_big_size(t, out->pid, s->addr) : s->size;
	out->ts_ns = t->base_ns + s->ms * LIVE_NS_PER_MS;
}

/* ---- shards ---- */

/* The bytes an array of cap slots takes (see live_slots_alloc()). */
static size_t live_slots_bytes(size_t cap)
{
	size_t len = cap * sizeof(struct live_slot);

	return len < LIVE_MMAP_MIN ? len : (len + LIVE_PAGE - 1) & ~(size_t)(LIVE_PAGE - 1);
}

/* len bytes of fresh zero pages. Lookups land at random over tens or
 * hundreds of MiB, so nearly every one also misses the TLB, which 2 MiB
 * pages make cheaper: a mapping that holds whole ones starts on a 2 MiB
 * boundary (mapped larger, then trimmed), so that all of them can be huge
 * pages, and asks for them. Advice only: nothing changes where
 * transparent huge pages are off. NULL if there is no memory. */
static void *live_map(size_t len)
{
	const size_t extra = len >= LIVE_HUGE ? LIVE_HUGE : 0;
	char *p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *start;

	if (p == MAP_FAILED)
		return NULL;
	if (!extra)
		return p;
	start = (char *)(((uintptr_t)p + LIVE_HUGE - 1) & ~(uintptr_t)(LIVE_HUGE - 1));
	if (start > p)
		munmap(p, start - p);
	munmap(start + len, p + extra - start);	/* never 0 bytes */
	madvise(start, len, MADV_HUGEPAGE);
	return start;
}

/* An array of at least *cap empty slots; *cap becomes how many there are.
 * A mapped one is rounded up to whole pages, and its capacity with it, so
 * that no byte of it is unused. NULL if there is no memory. */
static struct live_slot *live_slots_alloc(size_t *cap)
{
	struct live_slot *p;
	size_t len;

	if (*cap > SIZE_MAX / 2 / sizeof(struct live_slot))
		return NULL;
	len = live_slots_bytes(*cap);
	if (len < LIVE_MMAP_MIN)
		return calloc(*cap, sizeof(struct live_slot));
	p = live_map(len);
	if (!p)
		return NULL;
	*cap = len / sizeof(struct live_slot);
	return p;
}

static void live_slots_free(struct live_slot *slots, size_t cap)
{
	size_t len = live_slots_bytes(cap);

	if (slots == live_no_slots)
		return;
	if (len < LIVE_MMAP_MIN)
		free(slots);
	else
		munmap(slots, len);
}

/* Whether the shard must grow before one more put. Past 13/20 full,
 * linear-probing runs grow long: a miss probes 4.6 slots on average at
 * 13/20, 13 at 4/5. Growing by 5/4 from there keeps a shard between 52%
 * and 65% full: 31 to 38.5 bytes per live allocation. */
static bool live_shard_full(const struct live_shard *sh)
{
	return (sh->count + 1) * 20 > sh->cap * 13;
}

/*
 * The capacity sh grows to: LIVE_SHARD_MIN * 1.25^(grown + k / LIVE_SHARDS)
 * for shard k, every shard on the same scale of steps by 5/4, each a
 * sixteenth of a step further along. The hash spreads allocations evenly,
 * so the shards fill at the same pace; on one scale they would all grow
 * at about the same count, and the table's memory would swing with them
 * from 31 to 38.5 bytes per live allocation, past 40 while the last of
 * them grew. Staggered, their swings average out: 34 to 35.
 */
static size_t live_shard_next_cap(const struct live_table *t, const struct live_shard *sh)
{
	double steps = sh->grown + (double)(sh - t->shards) / LIVE_SHARDS;

	return (size_t)ceil(LIVE_SHARD_MIN * pow(1.25, steps));
}

/* Move the shard to its next, larger array. Only this shard's old and
 * new arrays are alive together, a sixteenth of the table (about 2 bytes
 * per live allocation more at that moment), and only its slots move: at
 * 10 million live allocations, 620,000 of them in 30 ms. Returns 0 or
 * -ENOMEM (the shard is then unchanged). */
static int live_shard_grow(struct live_table *t, struct live_shard *sh)
{
	size_t old_cap = sh->slots == live_no_slots ? 0 : sh->cap;
	size_t cap = live_shard_next_cap(t, sh);
	struct live_slot *slots;

	if (cap <= old_cap)		/* rounded up to pages last time */
		cap = old_cap + 1;
	slots = live_slots_alloc(&cap);
	if (!slots)
		return -ENOMEM;
	oa_place_all(slots, cap, sh->slots, old_cap, t, &live_slots);
	live_slots_free(sh->slots, old_cap);
	live_count_bytes(t, live_slots_bytes(cap), live_slots_bytes(old_cap));
	sh->slots = slots;
	sh->cap = cap;
	sh->grown++;
	return 0;
}

/* ---- the table ---- */

int live_table_init(struct live_table *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t k = 0; k < LIVE_SHARDS; k++) {
		t->shards[k].slots = live_no_slots;
		t->shards[k].cap = 1;
	}
	return 0;
}

void live_table_destroy(struct live_table *t)
{
	for (size_t k = 0; k < LIVE_SHARDS; k++)
		live_slots_free(t->shards[k].slots, t->shards[k].cap);
	free(t->pids);
	free(t->big);
	live_table_init(t);
}

bool live_table_get(const struct live_table *t, uint32_t pid, uint64_t addr,
		    struct live_alloc *out)
{
	uint64_t hash = live_table_hash(pid, addr);
	const struct live_slot *s = live_find(t, &t->shards[live_shard_of(hash)], hash,
					      pid, addr);

	if (s && out)
		live_decode(t, s, out);
	return s;
}

int live_table_put(struct live_table *t, const struct live_alloc *a,
		   struct live_alloc *old)
{
	uint64_t hash = live_table_hash(a->pid, a->addr);
	struct live_shard *sh = &t->shards[live_shard_of(hash)];
	struct live_key k = { .t = t, .addr = a->addr, .pid = a->pid };
	bool big = a->size >= LIVE_SIZE_BIG, replaced, was_big;
	struct live_slot *s;
	int err;

	if (a->stack >= t->npids || t->pids[a->stack] != a->pid) {
		err = live_note_stack(t, a->stack, a->pid);
		if (err)
			return err;
	}
	/* If the memory for a larger array cannot be had, keep going a
	 * little fuller rather than lose allocations, but always leave
	 * empty slots so that every lookup ends. */
	if (live_shard_full(sh) && live_shard_grow(t, sh) &&
	    sh->count + 2 + sh->cap / 16 > sh->cap)
		return -ENOMEM;
	s = oa_lookup(sh->slots, sh->cap, hash << LIVE_SHARD_BITS, live_slot_is, &k,
		      &live_slots);
	replaced = !live_slot_empty(s);
	was_big = replaced && s->size == LIVE_SIZE_BIG;
	if (big && !was_big && live_big_add(t, a->pid, a->addr, a->size))
		return -ENOMEM;
	if (replaced && old)
		live_decode(t, s, old);
	if (big && was_big)
		live_big_find(t, a->pid, a->addr)->size = a->size;
	else if (was_big)
		live_big_remove(t, a->pid, a->addr);

	if (!t->based) {
		uint64_t base = a->ts_ns > LIVE_TS_SLACK_NS ? a->ts_ns - LIVE_TS_SLACK_NS : 0;

		/* A whole millisecond: stored times are whole ones too. */
		t->base_ns = base - base % LIVE_NS_PER_MS;
		t->based = true;
	}
	*s = (struct live_slot){
		.addr = a->addr,
		.stack = a->stack,
		.size = big ? LIVE_SIZE_BIG : a->size,
		.ms = live_ms(t, a->ts_ns),
	};
	if (!replaced) {
		sh->count++;
		t->count++;
	}
	return replaced;
}

bool live_table_take(struct live_table *t, uint32_t pid, uint64_t addr,
		     struct live_alloc *out)
{
	uint64_t hash = live_table_hash(pid, addr);
	struct live_shard *sh = &t->shards[live_shard_of(hash)];
	struct live_slot *s = live_find(t, sh, hash, pid, addr);

	if (!s)
		return false;
	if (out)
		live_decode(t, s, out);
	if (s->size == LIVE_SIZE_BIG)
		live_big_remove(t, pid, addr);
	oa_remove_at(sh->slots, sh->cap, s - sh->slots, t, &live_slots);
	sh->count--;
	t->count--;
	return true;
}

size_t live_table_remove_pid(struct live_table *t, uint32_t pid)
{
	struct live_key k = { .t = t, .pid = pid };
	size_t removed = 0;

	for (size_t i = 0; i < LIVE_SHARDS; i++) {
		struct live_shard *sh = &t->shards[i];
		size_t n = oa_remove_matching(sh->slots, sh->cap, live_slot_of_pid, &k,
					      NULL, NULL, t, &live_slots);

		sh->count -= n;
		removed += n;
	}
	if (t->big_cap)
		t->nbig -= oa_remove_matching(t->big, t->big_cap, live_big_of_pid, &k,
					      NULL, NULL, NULL, &live_bigs);
	t->count -= removed;
	return removed;
}

bool live_table_next(const struct live_table *t, struct live_iter *it,
		     struct live_alloc *out)
{
	for (; it->shard < LIVE_SHARDS; it->shard++, it->i = 0) {
		const struct live_shard *sh = &t->shards[it->shard];

		while (it->i < sh->cap) {
			const struct live_slot *s = &sh->slots[it->i++];

			if (s->addr) {
				live_decode(t, s, out);
				return true;
			}
		}
	}
	return false;
}

void live_table_locate(const struct live_table *t, uint32_t pid, uint64_t addr,
		       size_t *shard, size_t *home, size_t *at)
{
	uint64_t hash = live_table_hash(pid, addr);
	const struct live_shard *sh = &t->shards[live_shard_of(hash)];
	const struct live_slot *s = live_find(t, sh, hash, pid, addr);

	*shard = live_shard_of(hash);
	*home = oa_home(hash << LIVE_SHARD_BITS, sh->cap);
	*at = s ? (size_t)(s - sh->slots) : SIZE_MAX;
}
