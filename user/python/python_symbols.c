// SPDX-License-Identifier: MIT
/*
 * Code objects of a traced Python process to names and lines.
 *
 * A code object holds what a frame needs: co_qualname and co_filename
 * (str objects) and co_linetable (a bytes object), the location table that
 * maps instruction indexes to lines. All are immutable once the code
 * object exists, so each is decoded once into a cache entry; the pointers
 * to them, with co_firstlineno, are the entry's fingerprint, compared with
 * the object's header on every resolution to notice a code object freed
 * and another allocated at its address.
 *
 * The location table (3.11+, Objects/codeobject.c, InternalDocs/locations.md)
 * is a sequence of entries, each covering (first byte & 7) + 1 code units
 * and starting with a byte with bit 7 set; bits 3-6 are a code saying how
 * the line moves from the previous entry's:
 *   0-9    same line (one more byte: columns)
 *   10-12  line + code - 10 (two more bytes: columns)
 *   13     line + signed varint (no columns)
 *   14     line + signed varint, then end line and columns (three varints)
 *   15     no line for these code units; the line carries on unchanged
 * Varints hold 6 bits a byte, least significant first, bit 6 meaning "more";
 * a signed varint is negative when its lowest bit is set (magnitude v >> 1).
 * The line starts at co_firstlineno.
 *
 * Strings come in three widths (1, 2 or 4 bytes a code point); compact ones
 * hold their characters right after the header, ASCII ones after a shorter
 * header; those of str subclasses point to them.
 *
 * Which code object a frame ran (see include/memtrace_python.h): a frame
 * carries its code object's generation, and the cache is keyed by
 * (process, address, generation). An entry is decoded either from the
 * process's memory, between two looks at the address slot's death count
 * that both still show the frame's generation (so the object lived
 * throughout the read), or from the copy the deallocator's probe sent of
 * the dying object. A frame whose code died before either is not named:
 * unknown, never the name of whatever lives at the address now. Once
 * decoded, an entry serves its frames without reading the process again,
 * so names outlive the process.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memtrace_mix.h"
#include "proc/proc_mem.h"
#include "python_symbols.h"
#include "util/search.h"
#include "util/strpool.h"
#include "util/vec.h"

/* Bounds on what garbage could make us allocate. */
#define CODE_HEADER_MAX 512
#define STRING_MAX_CHARS (1u << 20)
#define LINETABLE_MAX (16u << 20)

#define TPFLAGS_UNICODE_SUBCLASS (1ul << 28)

/* PyASCIIObject.state bits, the same in 3.11, 3.12 and 3.13 (GIL builds):
 * interned:2, kind:3, compact:1, ascii:1. */
#define STATE_KIND(state) (((state) >> 2) & 7)
#define STATE_COMPACT 0x20
#define STATE_ASCII 0x40

#define LOC_ONE_LINE0 10
#define LOC_ONE_LINE2 12
#define LOC_NO_COLUMNS 13
#define LOC_LONG 14
#define LOC_NONE 15

#define NO_LINE (-1)

/* Code units from start up to the next range's start have this line. */
struct py_range {
	uint32_t start;
	int32_t line;		/* NO_LINE where Python has none */
};

/* What identifies a code object's contents: the objects it points to. */
struct py_fingerprint {
	uint64_t filename;
	uint64_t qualname;
	uint64_t linetable;
	int32_t firstlineno;
};

struct py_code {
	struct py_code *next;
	pid_t pid;
	uint64_t addr;
	uint32_t gen;		/* the frames' generation (0: not watched) */
	bool ready;		/* decoded; else wanted by a stack, and
				   named when its object is read or freed */
	bool cut;		/* the location table was cut short (a copy):
				   code units past it have no known line */
	struct py_fingerprint fp;
	const char *qualname;
	const char *filename;
	struct py_range *ranges;
	uint32_t nranges;
	uint32_t ncodeunits;	/* what the location table covers */
};

/* Where bytes of the traced process are read from: its memory, or the
 * parts of a dying code object the deallocator's probe copied. */
struct mem_src {
	int memfd;				/* when rec is NULL */
	const struct mt_py_code_freed *rec;
};

struct py_proc {
	pid_t pid;
	int memfd;
};

struct py_symbols {
	struct py_code **codes;		/* hash buckets */
	size_t ncode_buckets, ncodes;
	/* The one copy of each name. Interned because callers keep the
	 * strings after the entry that gave them is replaced or forgotten,
	 * and because file names repeat across every code object of a
	 * module. */
	struct strpool strings;
	struct py_proc *procs;		/* few: a linear search */
	size_t nprocs, procs_cap;
	const volatile uint64_t *gens;	/* the probes' death counts, or NULL */
	struct py_symbols_stats stats;
};

static uint64_t hash_code(pid_t pid, uint64_t addr, uint32_t gen)
{
	return mt_mix64(addr ^ ((uint64_t)(uint32_t)pid << 40) ^ ((uint64_t)gen << 20));
}

static int grow_codes(struct py_symbols *s)
{
	size_t n = s->ncode_buckets ? s->ncode_buckets * 2 : 256;
	struct py_code **b = calloc(n, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < s->ncode_buckets; i++) {
		struct py_code *c, *next;

		for (c = s->codes[i]; c; c = next) {
			size_t k = hash_code(c->pid, c->addr, c->gen) & (n - 1);

			next = c->next;
			c->next = b[k];
			b[k] = c;
		}
	}
	free(s->codes);
	s->codes = b;
	s->ncode_buckets = n;
	return 0;
}

int py_symbols_new(struct py_symbols **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void py_symbols_free(struct py_symbols *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncode_buckets; i++) {
		struct py_code *c, *next;

		for (c = s->codes[i]; c; c = next) {
			next = c->next;
			free(c->ranges);
			free(c);
		}
	}
	for (size_t i = 0; i < s->nprocs; i++)
		close(s->procs[i].memfd);
	free(s->codes);
	strpool_free(&s->strings);
	free(s->procs);
	free(s);
}

void py_symbols_forget(struct py_symbols *s, pid_t pid)
{
	for (size_t i = 0; i < s->ncode_buckets; i++) {
		struct py_code **link = &s->codes[i], *c;

		while ((c = *link)) {
			if (c->pid != pid) {
				link = &c->next;
				continue;
			}
			*link = c->next;
			free(c->ranges);
			free(c);
			s->ncodes--;
		}
	}
	for (size_t i = 0; i < s->nprocs; i++) {
		if (s->procs[i].pid != pid)
			continue;
		close(s->procs[i].memfd);
		s->procs[i] = s->procs[--s->nprocs];
		break;
	}
}

/* The memory fd of pid, opened on first use. */
static int proc_memfd(struct py_symbols *s, pid_t pid)
{
	int fd;

	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return s->procs[i].memfd;
	if (vec_reserve(&s->procs, &s->procs_cap, s->nprocs + 1,
			sizeof(*s->procs)))
		return -ENOMEM;
	fd = proc_mem_open(pid);
	if (fd < 0)
		return fd;
	s->procs[s->nprocs++] = (struct py_proc){ .pid = pid, .memfd = fd };
	return fd;
}

/* Does a field of size bytes at off fit in the first len bytes read? */
static bool inside(uint32_t off, uint32_t size, uint32_t len)
{
	return off <= len && size <= len - off;
}

static uint64_t get_u64(const uint8_t *buf, uint32_t off)
{
	uint64_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *buf, uint32_t off)
{
	uint32_t v;

	memcpy(&v, buf + off, sizeof(v));
	return v;
}

static int rec_read(const struct mt_py_code_freed *r, uint64_t addr, void *buf, size_t len);

static int src_read(const struct mem_src *m, uint64_t addr, void *buf, size_t len)
{
	return m->rec ? rec_read(m->rec, addr, buf, len) : proc_mem_read(m->memfd, addr, buf, len);
}

/* The fingerprint of the code object at addr, which must still be one. */
static int read_fingerprint(const struct mem_src *m, const struct py_target *t,
			    uint64_t addr, struct py_fingerprint *fp)
{
	const struct py_layout *l = &t->layout;
	uint8_t hdr[CODE_HEADER_MAX];
	int err;

	if (l->code_header > sizeof(hdr) ||
	    !inside(l->ob_type, 8, l->code_header) ||
	    !inside(l->code_filename, 8, l->code_header) ||
	    !inside(l->code_qualname, 8, l->code_header) ||
	    !inside(l->code_linetable, 8, l->code_header) ||
	    !inside(t->off.code_firstlineno, 4, l->code_header))
		return -EINVAL;
	err = src_read(m, addr, hdr, l->code_header);
	if (err)
		return err;
	if (get_u64(hdr, l->ob_type) != l->code_type)
		return -EINVAL;
	fp->filename = get_u64(hdr, l->code_filename);
	fp->qualname = get_u64(hdr, l->code_qualname);
	fp->linetable = get_u64(hdr, l->code_linetable);
	fp->firstlineno = (int32_t)get_u32(hdr, t->off.code_firstlineno);
	return 0;
}

static bool same_fingerprint(const struct py_fingerprint *a,
			     const struct py_fingerprint *b)
{
	return a->filename == b->filename && a->qualname == b->qualname &&
	       a->linetable == b->linetable && a->firstlineno == b->firstlineno;
}

/* One code point as UTF-8; returns the bytes written (at most 4). */
static size_t put_utf8(char *out, uint32_t c)
{
	/* File names Python could not decode hold each undecodable byte
	 * as a lone surrogate U+DC80..U+DCFF (PEP 383): give the byte back. */
	if (c >= 0xdc80 && c <= 0xdcff) {
		out[0] = (char)(c - 0xdc00);
		return 1;
	}
	if ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		c = 0xfffd;
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Is the object whose type is at type a str? */
static int check_str_type(const struct mem_src *m, const struct py_layout *l, uint64_t type)
{
	uint64_t flags;
	int err;

	if (type == l->unicode_type)
		return 0;
	err = src_read(m, type + l->type_flags, &flags, sizeof(flags));
	if (err)
		return err == -ESRCH ? err : -EINVAL;
	return flags & TPFLAGS_UNICODE_SUBCLASS ? 0 : -EINVAL;
}

/* The str object at addr, as an interned UTF-8 string. */
static int read_str(struct py_symbols *s, const struct mem_src *m, const struct py_layout *l,
		    uint64_t addr, const char **out)
{
	uint8_t hdr[128];
	uint64_t data, length;
	uint32_t state, kind;
	uint8_t *chars = NULL;
	char *utf8 = NULL;
	size_t n = 0;
	int err;

	if (l->unicode_ascii_data > sizeof(hdr) ||
	    !inside(l->ob_type, 8, l->unicode_ascii_data) ||
	    !inside(l->unicode_length, 8, l->unicode_ascii_data) ||
	    !inside(l->unicode_state, 4, l->unicode_ascii_data))
		return -EINVAL;
	err = src_read(m, addr, hdr, l->unicode_ascii_data);
	if (err)
		return err;
	err = check_str_type(m, l, get_u64(hdr, l->ob_type));
	if (err)
		return err;
	length = get_u64(hdr, l->unicode_length);
	state = get_u32(hdr, l->unicode_state);
	kind = STATE_KIND(state);
	if (length > STRING_MAX_CHARS || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if (!(state & STATE_COMPACT)) {
		/* Not compact (a str subclass): the characters are elsewhere. */
		err = src_read(m, addr + l->unicode_compact_data,
				      &data, sizeof(data));
		if (err)
			return err;
		if (!data)
			return -EINVAL;
	} else if (state & STATE_ASCII) {
		data = addr + l->unicode_ascii_data;
	} else {
		data = addr + l->unicode_compact_data;
	}

	chars = malloc(length * kind + 1);
	utf8 = malloc(length * 4 + 1);
	if (!chars || !utf8) {
		err = -ENOMEM;
		goto out;
	}
	err = src_read(m, data, chars, length * kind);
	if (err)
		goto out;
	for (uint64_t i = 0; i < length; i++) {
		uint32_t c;

		if (kind == 1) {
			c = chars[i];
		} else if (kind == 2) {
			uint16_t c16;

			memcpy(&c16, chars + 2 * i, 2);
			c = c16;
		} else {
			memcpy(&c, chars + 4 * i, 4);
		}
		n += put_utf8(utf8 + n, c);
	}
	*out = strpool_intern(&s->strings, utf8, n);
	if (!*out)
		err = -ENOMEM;
out:
	free(chars);
	free(utf8);
	return err;
}

/* The bytes object at addr, in a new buffer. From a copy, the object may
 * be cut short: *cut then says that *len bytes are all there is. */
static int read_bytes(const struct mem_src *m, const struct py_layout *l, uint64_t addr,
		      uint8_t **out, size_t *len, bool *cut)
{
	int64_t size, have;
	uint8_t *buf;
	int err;

	*cut = false;
	err = src_read(m, addr + l->bytes_size, &size, sizeof(size));
	if (err)
		return err;
	if (size < 0 || size > LINETABLE_MAX)
		return -EINVAL;
	have = size;
	if (m->rec && addr == m->rec->table &&
	    (int64_t)m->rec->table_len - l->bytes_data < size) {
		have = (int64_t)m->rec->table_len - l->bytes_data;
		if (have < 0)
			return -EFAULT;
		*cut = true;
	}
	buf = malloc(have ? have : 1);
	if (!buf)
		return -ENOMEM;
	err = src_read(m, addr + l->bytes_data, buf, have);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = have;
	return 0;
}

static bool read_varint(const uint8_t *p, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	unsigned int shift = 0;
	uint8_t b;

	do {
		if (*i >= len)
			return false;
		b = p[(*i)++];
		if (shift < 32)
			v |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return true;
}

static bool read_signed_varint(const uint8_t *p, size_t len, size_t *i,
			       int64_t *out)
{
	uint32_t v;

	if (!read_varint(p, len, i, &v))
		return false;
	*out = v & 1 ? -(int64_t)(v >> 1) : (int64_t)(v >> 1);
	return true;
}

/* The location table into c->ranges, one per run of code units with the
 * same line. A table cut short (cut) ends at its last whole entry. */
static int decode_linetable(const uint8_t *p, size_t len, int32_t firstlineno, bool cut,
			    struct py_code *c)
{
	int64_t line = firstlineno, delta;
	uint64_t addr = 0;
	size_t i = 0;

	/* Every entry takes at least one byte. */
	c->ranges = malloc((len ? len : 1) * sizeof(*c->ranges));
	if (!c->ranges)
		return -ENOMEM;
	c->nranges = 0;
	c->cut = cut;
	while (i < len) {
		uint8_t first = p[i++];
		int code = (first >> 3) & 15;
		int32_t entry_line;
		size_t end;

		if (!(first & 0x80))
			return -EINVAL;
		/* Where this entry ends: at the next byte with bit 7 set. A
		 * cut table's last entry may be incomplete: it is dropped. */
		for (end = i; end < len && !(p[end] & 0x80); end++)
			;
		if (end == len && cut)
			break;
		delta = 0;
		if (code == LOC_NO_COLUMNS || code == LOC_LONG) {
			if (!read_signed_varint(p, end, &i, &delta))
				return -EINVAL;
		} else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2) {
			delta = code - LOC_ONE_LINE0;
		}
		line += delta;
		if (line < INT32_MIN || line > INT32_MAX)
			return -EINVAL;
		entry_line = code == LOC_NONE ? NO_LINE : (int32_t)line;
		if (!c->nranges || c->ranges[c->nranges - 1].line != entry_line)
			c->ranges[c->nranges++] = (struct py_range){
				.start = (uint32_t)addr, .line = entry_line };
		addr += (first & 7) + 1;
		if (addr > UINT32_MAX)
			return -EINVAL;
		/* Columns and end lines: not needed. */
		i = end;
	}
	c->ncodeunits = (uint32_t)addr;
	return 0;
}

static int line_of(const struct py_code *c, int32_t instr)
{
	size_t lo;
	int32_t line;

	if (instr < 0)
		return c->fp.firstlineno;
	if ((uint32_t)instr >= c->ncodeunits)
		/* Past a cut table the line is not known; past a whole one,
		 * the frame has not started (CPython gives co_firstlineno). */
		return c->cut ? 0 : c->fp.firstlineno;
	/* The first range starting after instr. */
	lo = FIRST_ABOVE(c->ranges, c->nranges, start, (uint32_t)instr);
	line = c->ranges[lo - 1].line;
	return line == NO_LINE ? 0 : line;
}

/* Read what fp points to into c. */
static int decode_code(struct py_symbols *s, const struct mem_src *m,
		       const struct py_target *t, uint64_t addr,
		       const struct py_fingerprint *fp, struct py_code *c)
{
	struct py_fingerprint again;
	uint8_t *table = NULL;
	size_t len = 0;
	bool cut = false;
	int err;

	c->fp = *fp;
	err = read_str(s, m, &t->layout, fp->qualname, &c->qualname);
	if (!err)
		err = read_str(s, m, &t->layout, fp->filename, &c->filename);
	if (!err)
		err = read_bytes(m, &t->layout, fp->linetable, &table, &len, &cut);
	if (!err)
		err = decode_linetable(table, len, fp->firstlineno, cut, c);
	free(table);
	if (err)
		return err;
	/* The object was freed while being read: what was read may be
	 * anything. */
	err = read_fingerprint(m, t, addr, &again);
	if (err)
		return err;
	return same_fingerprint(fp, &again) ? 0 : -EINVAL;
}

static struct py_code *find_code(const struct py_symbols *s, pid_t pid,
				 uint64_t addr, uint32_t gen)
{
	struct py_code *c;

	if (!s->ncode_buckets)
		return NULL;
	c = s->codes[hash_code(pid, addr, gen) & (s->ncode_buckets - 1)];
	for (; c; c = c->next)
		if (c->pid == pid && c->addr == addr && c->gen == gen)
			return c;
	return NULL;
}

/* A new entry for (pid, addr, gen), not decoded yet. */
static int new_code(struct py_symbols *s, pid_t pid, uint64_t addr, uint32_t gen,
		    struct py_code **out)
{
	struct py_code **bucket, *c;

	if (s->ncodes >= s->ncode_buckets && grow_codes(s))
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pid = pid;
	c->addr = addr;
	c->gen = gen;
	bucket = &s->codes[hash_code(pid, addr, gen) & (s->ncode_buckets - 1)];
	c->next = *bucket;
	*bucket = c;
	s->ncodes++;
	*out = c;
	return 0;
}

/* Decode the code object at addr from m into c, which becomes ready. */
static int fill_code(struct py_symbols *s, const struct mem_src *m,
		     const struct py_target *t, uint64_t addr, struct py_code *c)
{
	struct py_code fresh = { 0 };
	struct py_fingerprint fp;
	int err;

	err = read_fingerprint(m, t, addr, &fp);
	if (!err)
		err = decode_code(s, m, t, addr, &fp, &fresh);
	if (err) {
		free(fresh.ranges);
		return err;
	}
	free(c->ranges);
	c->fp = fresh.fp;
	c->qualname = fresh.qualname;
	c->filename = fresh.filename;
	c->ranges = fresh.ranges;
	c->nranges = fresh.nranges;
	c->ncodeunits = fresh.ncodeunits;
	c->cut = fresh.cut;
	c->ready = true;
	return 0;
}

/* How many code objects have died at addr's slot (the frames' u32). */
static uint32_t gen_now(const struct py_symbols *s, pid_t pid, uint64_t addr)
{
	return (uint32_t)__atomic_load_n(&s->gens[mt_py_gen_slot((uint32_t)pid, addr)],
					 __ATOMIC_ACQUIRE);
}

void py_symbols_watch_deaths(struct py_symbols *s, const volatile uint64_t *gens)
{
	s->gens = gens;
}

/* Deaths are watched for this frame: it carries a generation that only a
 * read made while the slot still shows it may name. */
static bool watched(const struct py_symbols *s, const struct py_target *t)
{
	return s->gens && t->off.watch_deaths;
}

int py_symbols_want(struct py_symbols *s, pid_t pid, const struct py_target *t,
		    const struct mt_py_frame *f)
{
	struct py_code *c;
	int err;

	if (!watched(s, t) || find_code(s, pid, f->code, f->gen))
		return 0;
	err = new_code(s, pid, f->code, f->gen, &c);
	return err;
}

/* The entry of a watched frame: decoded from memory if its object still
 * lives with the frame's generation. -ESTALE: it died before it was read. */
static int lookup_watched(struct py_symbols *s, pid_t pid, const struct py_target *t,
			  const struct mt_py_frame *f, struct py_code **out)
{
	struct mem_src m = { .memfd = -1 };
	struct py_code *c = find_code(s, pid, f->code, f->gen);
	int err;

	if (c && c->ready) {
		*out = c;
		return 0;
	}
	if (gen_now(s, pid, f->code) != f->gen)
		return -ESTALE;
	m.memfd = proc_memfd(s, pid);
	if (m.memfd < 0)
		return m.memfd;
	if (!c) {
		err = new_code(s, pid, f->code, f->gen, &c);
		if (err)
			return err;
	}
	err = fill_code(s, &m, t, f->code, c);
	/* Read while it died: what was read may be another object's. */
	if (gen_now(s, pid, f->code) != f->gen) {
		c->ready = false;
		return -ESTALE;
	}
	if (err)
		return err;
	s->stats.named++;
	*out = c;
	return 0;
}

/* Without generations: the entry for addr is checked against what the
 * address holds now, and decoded again when that has changed. Once the
 * process is gone, the last entry stands. */
static int lookup_unwatched(struct py_symbols *s, pid_t pid, const struct py_target *t,
			    uint64_t addr, struct py_code **out)
{
	struct mem_src m = { .memfd = -1 };
	struct py_code *c = find_code(s, pid, addr, 0);
	struct py_fingerprint fp;
	int err;

	m.memfd = proc_memfd(s, pid);
	err = m.memfd < 0 ? m.memfd : read_fingerprint(&m, t, addr, &fp);
	if (err == -ESRCH && c && c->ready) {
		*out = c;
		return 0;
	}
	if (err)
		return err;
	if (c && c->ready && same_fingerprint(&c->fp, &fp)) {
		*out = c;
		return 0;
	}
	if (!c) {
		err = new_code(s, pid, addr, 0, &c);
		if (err)
			return err;
	}
	err = fill_code(s, &m, t, addr, c);
	if (err)
		return err;
	s->stats.named++;
	*out = c;
	return 0;
}

int py_symbols_resolve(struct py_symbols *s, pid_t pid, const struct py_target *t,
		       const struct mt_py_frame *f, struct py_location *out)
{
	struct py_code *c;
	int err;

	err = watched(s, t) ? lookup_watched(s, pid, t, f, &c) :
			      lookup_unwatched(s, pid, t, f->code, &c);
	if (err)
		return err;
	out->qualname = c->qualname;
	out->filename = c->filename;
	out->line = line_of(c, f->instr);
	return 0;
}

/* Bytes of the copy: inside one of its parts, or -EFAULT. */
static int rec_read(const struct mt_py_code_freed *r, uint64_t addr, void *buf, size_t len)
{
	const struct {
		uint64_t at;
		uint32_t len;
		const uint8_t *bytes;
	} parts[] = {
		{ r->code, r->code_len, r->code_bytes },
		{ r->qualname, r->qualname_len, r->qualname_bytes },
		{ r->filename, r->filename_len, r->filename_bytes },
		{ r->table, r->table_len, r->table_bytes },
	};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (!parts[i].at || addr < parts[i].at || addr - parts[i].at > parts[i].len ||
		    len > parts[i].len - (addr - parts[i].at))
			continue;
		memcpy(buf, parts[i].bytes + (addr - parts[i].at), len);
		return 0;
	}
	return -EFAULT;
}

void py_symbols_code_freed(struct py_symbols *s, const struct py_target *t,
			   const void *rec, size_t len)
{
	struct mt_py_code_freed r;
	struct mem_src m = { .memfd = -1, .rec = &r };
	size_t head = offsetof(struct mt_py_code_freed, table_bytes);
	struct py_code *c;

	s->stats.freed++;
	if (len < head || len > sizeof(r))
		return;
	memset(&r, 0, sizeof(r));
	memcpy(&r, rec, len);
	/* Parts longer than their windows (a malformed record) are cut. */
	r.code_len = r.code_len < sizeof(r.code_bytes) ? r.code_len : sizeof(r.code_bytes);
	r.qualname_len = r.qualname_len < sizeof(r.qualname_bytes) ?
		r.qualname_len : sizeof(r.qualname_bytes);
	r.filename_len = r.filename_len < sizeof(r.filename_bytes) ?
		r.filename_len : sizeof(r.filename_bytes);
	if (r.table_len > len - head)
		r.table_len = len - head;
	c = find_code(s, (pid_t)r.pid, r.code, r.gen);
	/* Only what a stack wants: code that died unseen costs nothing. */
	if (!c || c->ready)
		return;
	if (fill_code(s, &m, t, r.code, c))
		return;
	s->stats.named_from_copy++;
	if (c->cut)
		s->stats.tables_cut++;
}

void py_symbols_get_stats(const struct py_symbols *s, struct py_symbols_stats *out)
{
	*out = s->stats;
	out->unnamed = 0;
	for (size_t i = 0; i < s->ncode_buckets; i++)
		for (const struct py_code *c = s->codes[i]; c; c = c->next)
			out->unnamed += !c->ready;
}
