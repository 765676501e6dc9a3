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
	struct py_fingerprint fp;
	const char *qualname;
	const char *filename;
	struct py_range *ranges;
	uint32_t nranges;
	uint32_t ncodeunits;	/* what the location table covers */
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
};

static uint64_t hash_code(pid_t pid, uint64_t addr)
{
	return mt_mix64(addr ^ ((uint64_t)(uint32_t)pid << 40));
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
			size_t k = hash_code(c->pid, c->addr) & (n - 1);

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

/* The fingerprint of the code object at addr, which must still be one. */
static int read_fingerprint(int memfd, const struct py_target *t, uint64_t addr,
			    struct py_fingerprint *fp)
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
	err = proc_mem_read(memfd, addr, hdr, l->code_header);
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
static int check_str_type(int memfd, const struct py_layout *l, uint64_t type)
{
	uint64_t flags;
	int err;

	if (type == l->unicode_type)
		return 0;
	err = proc_mem_read(memfd, type + l->type_flags, &flags, sizeof(flags));
	if (err)
		return err == -ESRCH ? err : -EINVAL;
	return flags & TPFLAGS_UNICODE_SUBCLASS ? 0 : -EINVAL;
}

/* The str object at addr, as an interned UTF-8 string. */
static int read_str(struct py_symbols *s, int memfd, const struct py_layout *l,
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
	err = proc_mem_read(memfd, addr, hdr, l->unicode_ascii_data);
	if (err)
		return err;
	err = check_str_type(memfd, l, get_u64(hdr, l->ob_type));
	if (err)
		return err;
	length = get_u64(hdr, l->unicode_length);
	state = get_u32(hdr, l->unicode_state);
	kind = STATE_KIND(state);
	if (length > STRING_MAX_CHARS || (kind != 1 && kind != 2 && kind != 4))
		return -EINVAL;
	if (!(state & STATE_COMPACT)) {
		/* Not compact (a str subclass): the characters are elsewhere. */
		err = proc_mem_read(memfd, addr + l->unicode_compact_data,
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
	err = proc_mem_read(memfd, data, chars, length * kind);
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

/* The bytes object at addr, in a new buffer. */
static int read_bytes(int memfd, const struct py_layout *l, uint64_t addr,
		      uint8_t **out, size_t *len)
{
	int64_t size;
	uint8_t *buf;
	int err;

	err = proc_mem_read(memfd, addr + l->bytes_size, &size, sizeof(size));
	if (err)
		return err;
	if (size < 0 || size > LINETABLE_MAX)
		return -EINVAL;
	buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	err = proc_mem_read(memfd, addr + l->bytes_data, buf, size);
	if (err) {
		free(buf);
		return err;
	}
	*out = buf;
	*len = size;
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
 * same line. */
static int decode_linetable(const uint8_t *p, size_t len, int32_t firstlineno,
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
	while (i < len) {
		uint8_t first = p[i++];
		int code = (first >> 3) & 15;
		int32_t entry_line;

		if (!(first & 0x80))
			return -EINVAL;
		delta = 0;
		if (code == LOC_NO_COLUMNS || code == LOC_LONG) {
			if (!read_signed_varint(p, len, &i, &delta))
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
		while (i < len && !(p[i] & 0x80))
			i++;
	}
	c->ncodeunits = (uint32_t)addr;
	return 0;
}

static int line_of(const struct py_code *c, int32_t instr)
{
	size_t lo;
	int32_t line;

	if (instr < 0 || (uint32_t)instr >= c->ncodeunits)
		return c->fp.firstlineno;
	/* The first range starting after instr. */
	lo = FIRST_ABOVE(c->ranges, c->nranges, start, (uint32_t)instr);
	line = c->ranges[lo - 1].line;
	return line == NO_LINE ? 0 : line;
}

/* Read what fp points to into c. */
static int decode_code(struct py_symbols *s, int memfd, const struct py_target *t,
		       uint64_t addr, const struct py_fingerprint *fp,
		       struct py_code *c)
{
	struct py_fingerprint again;
	uint8_t *table = NULL;
	size_t len = 0;
	int err;

	c->fp = *fp;
	err = read_str(s, memfd, &t->layout, fp->qualname, &c->qualname);
	if (!err)
		err = read_str(s, memfd, &t->layout, fp->filename, &c->filename);
	if (!err)
		err = read_bytes(memfd, &t->layout, fp->linetable, &table, &len);
	if (!err)
		err = decode_linetable(table, len, fp->firstlineno, c);
	free(table);
	if (err)
		return err;
	/* The object was freed while being read: what was read may be
	 * anything. */
	err = read_fingerprint(memfd, t, addr, &again);
	if (err)
		return err;
	return same_fingerprint(fp, &again) ? 0 : -EINVAL;
}

static struct py_code *find_code(const struct py_symbols *s, pid_t pid,
				 uint64_t addr)
{
	struct py_code *c;

	if (!s->ncode_buckets)
		return NULL;
	c = s->codes[hash_code(pid, addr) & (s->ncode_buckets - 1)];
	for (; c; c = c->next)
		if (c->pid == pid && c->addr == addr)
			return c;
	return NULL;
}

static int insert_code(struct py_symbols *s, struct py_code *c)
{
	struct py_code **bucket;

	if (s->ncodes >= s->ncode_buckets && grow_codes(s))
		return -ENOMEM;
	bucket = &s->codes[hash_code(c->pid, c->addr) & (s->ncode_buckets - 1)];
	c->next = *bucket;
	*bucket = c;
	s->ncodes++;
	return 0;
}

/* The cache entry for the code object at addr, decoded if it is new or
 * if what the address holds has changed. */
static int lookup_code(struct py_symbols *s, int memfd, pid_t pid,
		       const struct py_target *t, uint64_t addr,
		       struct py_code **out)
{
	struct py_fingerprint fp;
	struct py_code *c, fresh = { .pid = pid, .addr = addr };
	int err;

	err = read_fingerprint(memfd, t, addr, &fp);
	if (err)
		return err;
	c = find_code(s, pid, addr);
	if (c && same_fingerprint(&c->fp, &fp)) {
		*out = c;
		return 0;
	}
	err = decode_code(s, memfd, t, addr, &fp, &fresh);
	if (err) {
		free(fresh.ranges);
		return err;
	}
	if (c) {
		/* Another code object at a reused address. */
		free(c->ranges);
		fresh.next = c->next;
		*c = fresh;
		*out = c;
		return 0;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		free(fresh.ranges);
		return -ENOMEM;
	}
	*c = fresh;
	err = insert_code(s, c);
	if (err) {
		free(c->ranges);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

int py_symbols_resolve(struct py_symbols *s, pid_t pid,
		       const struct py_target *t, uint64_t code, int32_t instr,
		       struct py_location *out)
{
	struct py_code *c;
	int memfd, err;

	memfd = proc_memfd(s, pid);
	if (memfd < 0)
		return memfd;
	err = lookup_code(s, memfd, pid, t, code, &c);
	if (err == -ESRCH) {
		/* Its pid may come back as another process. */
		py_symbols_forget(s, pid);
	}
	if (err)
		return err;
	out->qualname = c->qualname;
	out->filename = c->filename;
	out->line = line_of(c, instr);
	return 0;
}
