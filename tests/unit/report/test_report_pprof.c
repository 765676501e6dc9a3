// SPDX-License-Identifier: MIT
/*
 * The pprof writer, read back by a decoder written here from
 * profile.proto's field numbers (the integration test reads memtrace's
 * files with `go tool pprof` itself): gzip, the sample types in Go's
 * order, one sample per stack with its four values, locations leaf first
 * with their mappings and functions, Python frames as .py functions, and
 * strings that stay UTF-8 whatever the program's names.
 */
#include <zlib.h>

#include "pictures.h"
#include "report/format.h"

/* ---- a small decoder ---- */

struct field {
	uint32_t num;
	int wire;		/* 0: varint, 2: bytes */
	uint64_t v;
	const uint8_t *p;
	size_t len;
};

static uint64_t varint(const uint8_t **p, const uint8_t *end)
{
	uint64_t v = 0;

	for (int shift = 0; *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
		cr_assert_lt(shift, 63);
	}
	cr_assert_fail("varint past the end");
	return 0;
}

/* The fields of the message at [p, p + len). */
static size_t fields(const uint8_t *p, size_t len, struct field *out, size_t max)
{
	const uint8_t *end = p + len;
	size_t n = 0;

	while (p < end) {
		uint64_t key = varint(&p, end);
		struct field f = { .num = key >> 3, .wire = key & 7 };

		if (f.wire == 0) {
			f.v = varint(&p, end);
		} else {
			cr_assert_eq(f.wire, 2, "wire type %d", f.wire);
			f.len = varint(&p, end);
			cr_assert_leq(f.len, (size_t)(end - p));
			f.p = p;
			p += f.len;
		}
		cr_assert_lt(n, max);
		out[n++] = f;
	}
	return n;
}

/* Field num of a message: its varint (or 0), or its bytes. */
static uint64_t get(const struct field *f, size_t n, uint32_t num)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].num == num && f[i].wire == 0)
			return f[i].v;
	return 0;
}

/* A packed repeated varint field. */
static size_t packed(const struct field *f, size_t n, uint32_t num, uint64_t *out, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = f[i].p;

		if (f[i].num != num)
			continue;
		cr_assert_eq(f[i].wire, 2);
		while (p < f[i].p + f[i].len) {
			cr_assert_lt(k, max);
			out[k++] = varint(&p, f[i].p + f[i].len);
		}
	}
	return k;
}

struct profile {
	uint8_t *raw;
	size_t len;
	struct field top[4096];
	size_t ntop;
	char *strings[512];
	size_t nstrings;
};

static void gunzip(const uint8_t *in, size_t len, struct profile *pr)
{
	z_stream zs = { 0 };
	size_t cap = 1 << 20;

	/* The gzip magic. */
	cr_assert_geq(len, 18);
	cr_assert(in[0] == 0x1f && in[1] == 0x8b);
	pr->raw = malloc(cap);
	cr_assert_eq(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (uint8_t *)in;
	zs.avail_in = len;
	zs.next_out = pr->raw;
	zs.avail_out = cap;
	cr_assert_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
	pr->len = cap - zs.avail_out;
	inflateEnd(&zs);
}

static void decode(const char *path, struct profile *pr)
{
	char *file = slurp(path);
	FILE *f = fopen(path, "rb");
	long n;

	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	gunzip((const uint8_t *)file, n, pr);
	free(file);
	pr->ntop = fields(pr->raw, pr->len, pr->top, 4096);
	for (size_t i = 0; i < pr->ntop; i++) {
		if (pr->top[i].num != 6)
			continue;
		cr_assert_lt(pr->nstrings, 512);
		pr->strings[pr->nstrings] = strndup((const char *)pr->top[i].p, pr->top[i].len);
		pr->nstrings++;
	}
}

static void profile_free(struct profile *pr)
{
	for (size_t i = 0; i < pr->nstrings; i++)
		free(pr->strings[i]);
	free(pr->raw);
}

static const char *str(const struct profile *pr, uint64_t i)
{
	cr_assert_lt(i, pr->nstrings);
	return pr->strings[i];
}

/* The i-th top-level field num as a message. */
static size_t nth(const struct profile *pr, uint32_t num, size_t i, struct field *out, size_t max)
{
	for (size_t k = 0; k < pr->ntop; k++)
		if (pr->top[k].num == num && !i--)
			return fields(pr->top[k].p, pr->top[k].len, out, max);
	return 0;
}

static size_t count(const struct profile *pr, uint32_t num)
{
	size_t n = 0;

	for (size_t k = 0; k < pr->ntop; k++)
		n += pr->top[k].num == num;
	return n;
}

/* Location id -> its mapping id, function name, file and line. */
struct loc {
	uint64_t mapping;
	uint64_t address;
	const char *function, *file;
	int64_t line;
};

static struct loc location(const struct profile *pr, uint64_t id)
{
	struct field f[16], l[8], fn[8];
	struct loc out = { 0 };

	for (size_t i = 0; i < count(pr, 4); i++) {
		size_t n = nth(pr, 4, i, f, 16);

		if (get(f, n, 1) != id)
			continue;
		out.mapping = get(f, n, 2);
		out.address = get(f, n, 3);
		for (size_t k = 0; k < n; k++) {
			size_t nl;
			uint64_t fid;

			if (f[k].num != 4)
				continue;
			nl = fields(f[k].p, f[k].len, l, 8);
			fid = get(l, nl, 1);
			out.line = get(l, nl, 2);
			for (size_t j = 0; j < count(pr, 5); j++) {
				size_t nf = nth(pr, 5, j, fn, 8);

				if (get(fn, nf, 1) == fid) {
					out.function = str(pr, get(fn, nf, 2));
					out.file = str(pr, get(fn, nf, 4));
				}
			}
		}
		return out;
	}
	cr_assert_fail("no location %lu", (unsigned long)id);
	return out;
}

/* ---- the model, with mappings ---- */

static struct report_frame mapped[PIC_NSTACKS][8];
static struct report_stack mapped_stacks[PIC_NSTACKS];

static struct report mapped_report(void)
{
	struct report r = pic_report(1);

	for (size_t i = 0; i < PIC_NSTACKS; i++) {
		mapped_stacks[i] = pic_stacks[i];
		for (size_t k = 0; k < pic_stacks[i].nframes; k++) {
			struct report_frame *f = &mapped[i][k];

			*f = pic_stacks[i].frames[k];
			if (f->python)
				continue;
			if (!strcmp(f->module, "libc.so.6")) {
				f->module_path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
				f->build_id = "93ac61ec5a8eb1396f9fbd350e3169a558528a40";
				f->map_start = 0x7f0000000000;
				f->map_end = 0x7f0000100000;
				f->map_offset = 0x26000;
			} else if (!strcmp(f->module, "leaky") || !strcmp(f->module, "evil<lib>&.so")) {
				f->module_path = "/srv/leaky";
				f->build_id = "4eaf5e14";
				f->map_start = 0x550000000000;
				f->map_end = 0x550000010000;
				f->map_offset = 0x1000;
				f->file = "leaky.c";
				f->line = 40 + (int)k;
			}
		}
		mapped_stacks[i].frames = mapped[i];
	}
	r.stacks = mapped_stacks;
	return r;
}

static int write_pprof(FILE *f, void *ctx)
{
	return report_write_pprof(f, ctx);
}

Test(pprof, sample_types_in_gos_order)
{
	struct report r = mapped_report();
	char *path = to_file(write_pprof, &r);
	struct profile *pr = calloc(1, sizeof(*pr));
	static const char *const want[][2] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" },
		{ "inuse_objects", "count" }, { "inuse_space", "bytes" },
	};
	struct field f[8];
	size_t n;

	decode(path, pr);
	cr_assert_str_eq(pr->strings[0], "", "string 0 is the empty string");
	cr_assert_eq(count(pr, 1), 4);
	for (size_t i = 0; i < 4; i++) {
		n = nth(pr, 1, i, f, 8);
		cr_assert_str_eq(str(pr, get(f, n, 1)), want[i][0]);
		cr_assert_str_eq(str(pr, get(f, n, 2)), want[i][1]);
	}
	n = nth(pr, 11, 0, f, 8);
	cr_assert_str_eq(str(pr, get(f, n, 1)), "space");
	cr_assert_str_eq(str(pr, get(f, n, 2)), "bytes");
	cr_assert_eq(get(pr->top, pr->ntop, 12), 1, "period 1: exact, not sampled");
	cr_assert_str_eq(str(pr, get(pr->top, pr->ntop, 14)), "inuse_space");
	cr_assert_eq(get(pr->top, pr->ntop, 9), 1795236901ULL * 1000000000ULL);
	cr_assert_eq(get(pr->top, pr->ntop, 10), 30ULL * 1000000000ULL);
	unlink(path);
	free(path);
	profile_free(pr);
	free(pr);
}

Test(pprof, one_sample_per_stack_with_its_figures)
{
	struct report r = mapped_report();
	struct report_stack past = { .pid = 4242, .allocator = "malloc", .allocs = 77,
				     .alloc_bytes = 7700, .frees = 77, .nframes = 4,
				     .frames = mapped[PIC_LEAK] };
	char *path;
	struct profile *pr = calloc(1, sizeof(*pr));
	struct field f[64];
	uint64_t v[8], ids[16];

	r.npast_stacks = 1;
	r.past_stacks = &past;
	path = to_file(write_pprof, &r);
	decode(path, pr);
	cr_assert_eq(count(pr, 2), PIC_NSTACKS + 1);
	for (size_t i = 0; i <= PIC_NSTACKS; i++) {
		const struct report_stack *s = i < PIC_NSTACKS ? &r.stacks[i] : &past;
		size_t n = nth(pr, 2, i, f, 64), nids;
		struct loc first, last;

		cr_assert_eq(packed(f, n, 2, v, 8), 4);
		cr_assert_eq(v[0], s->allocs);
		cr_assert_eq(v[1], s->alloc_bytes);
		cr_assert_eq(v[2], s->count);
		cr_assert_eq(v[3], s->bytes);
		nids = packed(f, n, 1, ids, 16);
		/* Leaf first: the allocation function. */
		first = location(pr, ids[0]);
		cr_assert_str_eq(first.function, s->allocator);
		last = location(pr, ids[nids - 1]);
		if (s->no_stack)
			cr_assert_str_eq(last.function, "[stack not captured]");
		else if (s->stack_end)
			cr_assert_str_eq(last.function,
					 "[stack may be incomplete: a frame in no known mapping]");
		else
			cr_assert_eq(nids, s->nframes);
	}
	unlink(path);
	free(path);
	profile_free(pr);
	free(pr);
}

Test(pprof, locations_mappings_and_functions)
{
	struct report r = mapped_report();
	char *path = to_file(write_pprof, &r);
	struct profile *pr = calloc(1, sizeof(*pr));
	struct field f[64], m[16];
	uint64_t ids[16];
	size_t n, nids;
	struct loc l;
	bool leaky_seen = false;

	decode(path, pr);
	/* The leak stack: malloc, leak_pages, main, libc's unnamed frame. */
	n = nth(pr, 2, PIC_LEAK, f, 64);
	nids = packed(f, n, 1, ids, 16);
	cr_assert_eq(nids, 4);
	l = location(pr, ids[1]);
	cr_assert_str_eq(l.function, "leak_pages");
	cr_assert_str_eq(l.file, "leaky.c");
	cr_assert_eq(l.line, 41);
	cr_assert_eq(l.address, 0x5500000011c9);
	cr_assert_neq(l.mapping, 0);
	l = location(pr, ids[3]);
	cr_assert_null(l.function, "no symbol: no line, pprof names the mapping");
	cr_assert_neq(l.mapping, 0);
	/* Python frames: their .py file and line, no mapping. */
	n = nth(pr, 2, PIC_PYTHON, f, 64);
	nids = packed(f, n, 1, ids, 16);
	l = location(pr, ids[2]);
	cr_assert_str_eq(l.function, "handle_request");
	cr_assert_str_eq(l.file, "/srv/app.py");
	cr_assert_eq(l.line, 25);
	cr_assert_eq(l.mapping, 0);
	/* Mappings: file, build ID, range, offset; flags only where every
	 * frame had the figure. */
	for (size_t i = 0; i < count(pr, 3); i++) {
		size_t nm = nth(pr, 3, i, m, 16);
		const char *file = str(pr, get(m, nm, 5));

		if (!strcmp(file, "/srv/leaky")) {
			leaky_seen = true;
			cr_assert_str_eq(str(pr, get(m, nm, 6)), "4eaf5e14");
			cr_assert_eq(get(m, nm, 2), 0x550000000000);
			cr_assert_eq(get(m, nm, 3), 0x550000010000);
			cr_assert_eq(get(m, nm, 4), 0x1000);
			cr_assert_eq(get(m, nm, 7), 1, "has_functions");
			cr_assert_eq(get(m, nm, 8), 1, "has_filenames");
			cr_assert_eq(get(m, nm, 9), 1, "has_line_numbers");
			/* The program's mapping first: pprof's "File:". */
			cr_assert_eq(get(m, nm, 1), 1);
		} else {
			cr_assert_str_eq(file, "/usr/lib/x86_64-linux-gnu/libc.so.6");
			cr_assert_eq(get(m, nm, 7), 0, "libc has an unnamed frame");
		}
	}
	cr_assert(leaky_seen);
	unlink(path);
	free(path);
	profile_free(pr);
	free(pr);
}

Test(pprof, strings_stay_utf8)
{
	struct report r = mapped_report();
	char *path = to_file(write_pprof, &r);
	struct profile *pr = calloc(1, sizeof(*pr));
	bool hostile = false, long_seen = false;

	decode(path, pr);
	for (size_t i = 0; i < pr->nstrings; i++) {
		const unsigned char *s = (const unsigned char *)pr->strings[i];

		for (size_t n; *s; s += n) {
			n = utf8_len(s);
			cr_assert_neq(n, 0, "string %zu is not UTF-8", i);
			cr_assert(*s >= 0x20 && *s != 0x7f, "string %zu has a control character", i);
		}
		/* U+FFFE is UTF-8: only XML refuses it. */
		hostile |= !strcmp(pr->strings[i], "<script>alert('x')</script>&amp;\"q\"??[31m"
				   FFFD FFFD "(" FFFD FFFD FFFD "\xef\xbf\xbe]]>");
		long_seen |= !strcmp(pr->strings[i], the_long_name());
	}
	cr_assert(hostile, "the hostile name, cleaned");
	cr_assert(long_seen, "the long name, whole");
	unlink(path);
	free(path);
	profile_free(pr);
	free(pr);
}

Test(pprof, full_device)
{
	struct report r = mapped_report();
	FILE *f = fopen("/dev/full", "w");

	cr_assert_neq(report_write_pprof(f, &r), 0);
	fclose(f);
}
