// SPDX-License-Identifier: MIT
/*
 * Code objects to names (user/python/python_symbols.c), checked against
 * what each interpreter on the machine says of its code objects
 * (interps.h): the line of every instruction, the cache, addresses
 * reused, generations, the copies of dying code objects, garbage, and a
 * process that exited.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc_maps.h"
#include "proc/proc_mem.h"
#include "python/python_detect.h"
#include "python/python_symbols.h"
#include "memtrace_events.h"
#include "interps.h"

TestSuite(python, .init = arm_watchdog);

static void expect_location(struct py_symbols *s, pid_t pid,
			    const struct py_target *t,
			    const struct expect_code *e, int32_t instr, int line)
{
	struct py_location loc;
	int err = resolve(s, pid, t, e->id, instr, &loc);

	cr_assert_eq(err, 0, "%s: resolve %d: %d", e->qualname, instr, err);
	cr_assert_str_eq(loc.qualname, e->qualname);
	cr_assert_str_eq(loc.filename, e->filename);
	cr_assert_eq(loc.line, line, "%s instruction %d: line %d, Python says %d",
		     e->qualname, instr, loc.line, line);
}

ParameterizedTestParameters(python, resolves_every_instruction)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, resolves_every_instruction)
{
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;
	size_t checked = 0;
	bool wide = false, latin1 = false, bmp = false, escaped = false;

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_geq(truth.ncodes, 20, "only %zu code objects", truth.ncodes);
	for (size_t i = 0; i < truth.ncodes; i++) {
		const struct expect_code *e = &truth.codes[i];

		cr_assert_gt(e->nlines, 0, "%s: no lines", e->qualname);
		for (size_t k = 0; k < e->nlines; k++)
			expect_location(s, c.pid, &t, e, (int32_t)k, e->lines[k]);
		/* Before the first instruction and past the last: the
		 * function's own line. */
		expect_location(s, c.pid, &t, e, -1, e->firstlineno);
		expect_location(s, c.pid, &t, e, INT32_MIN, e->firstlineno);
		expect_location(s, c.pid, &t, e, (int32_t)e->nlines, e->firstlineno);
		checked += e->nlines;
		wide |= !!strstr(e->qualname, "\xf0\x9f\x98\x80");
		bmp |= !!strstr(e->qualname, "\xce\xa9");
		latin1 |= !!strstr(e->qualname, "\xc3\xb1");
		escaped |= !!strstr(e->filename, "/\xff-");
	}
	cr_assert(wide && bmp && latin1 && escaped, "the script lacks a kind of string");
	cr_log_info("%s: %zu code objects, %zu instructions", ip->label,
		    truth.ncodes, checked);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

/* The same strings for the same code object: served from the cache. */
Test(python, cached_strings_are_stable)
{
	struct py_location a, b;
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 0, &a), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 1, &b), 0);
	cr_assert_eq(a.qualname, b.qualname);
	cr_assert_eq(a.filename, b.filename);
	/* Another code object of the same file shares its file name. */
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[2].id, 0, &b), 0);
	cr_assert_str_eq(truth.codes[1].filename, truth.codes[2].filename);
	cr_assert_eq(a.filename, b.filename);
	/* Forgetting the process keeps the strings. */
	py_symbols_forget(s, c.pid);
	cr_assert_str_eq(a.qualname, truth.codes[1].qualname);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 0, &b), 0);
	cr_assert_eq(a.qualname, b.qualname);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

ParameterizedTestParameters(python, reused_address_is_decoded_again)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, reused_address_is_decoded_again)
{
	struct truth first, second = { 0 };
	struct py_symbols *s;
	struct py_target t;
	struct child c;

	start(ip, "reuse.py", &c, &first);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(first.ncodes, 1);
	expect_location(s, c.pid, &t, &first.codes[0], 1, first.codes[0].lines[1]);

	cr_assert_eq(write(c.to_child, "\n", 1), 1);
	read_truth(&c, &second);
	if (second.noreuse) {
		cr_log_warn("%s: the script could not reuse the address", ip->label);
		cr_skip_test("no code object at the freed address");
	}
	cr_assert_eq(second.ncodes, 1);
	cr_assert_eq(second.codes[0].id, first.codes[0].id);
	cr_assert_str_neq(second.codes[0].qualname, first.codes[0].qualname);
	for (size_t k = 0; k < second.codes[0].nlines; k++)
		expect_location(s, c.pid, &t, &second.codes[0], (int32_t)k,
				second.codes[0].lines[k]);
	py_symbols_free(s);
	stop(&c);
	free_truth(&first);
	free_truth(&second);
}

/* Death counts as the probes keep them (include/memtrace_python.h). */
static uint64_t *new_gens(void)
{
	uint64_t *g = calloc(MT_PY_GEN_SLOTS, sizeof(*g));

	cr_assert_not_null(g);
	return g;
}

static int resolve_gen(struct py_symbols *s, pid_t pid, const struct py_target *t,
		       uint64_t code, int32_t instr, uint32_t gen, struct py_location *loc)
{
	struct mt_py_frame f = { .code = code, .instr = instr, .gen = gen };

	return py_symbols_resolve(s, pid, t, &f, loc);
}

ParameterizedTestParameters(python, generations_tell_reused_addresses_apart)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

/* A frame is named after the code object that ran it, or not at all: the
 * address is reused by another code object, and each frame's generation
 * decides which it ran. */
ParameterizedTest(struct interp *ip, python, generations_tell_reused_addresses_apart)
{
	struct truth first, second = { 0 };
	struct py_symbols *s, *late;
	struct py_location loc;
	uint64_t *gens = new_gens();
	struct py_target t;
	struct child c;
	uint32_t slot;

	start(ip, "reuse.py", &c, &first);
	detect_ok(c.pid, &t);
	t.off.watch_deaths = 1;
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(py_symbols_new(&late), 0);
	py_symbols_watch_deaths(s, gens);
	py_symbols_watch_deaths(late, gens);
	slot = mt_py_gen_slot((uint32_t)c.pid, first.codes[0].id);
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, first.codes[0].qualname);

	cr_assert_eq(write(c.to_child, "\n", 1), 1);
	read_truth(&c, &second);
	if (second.noreuse) {
		cr_log_warn("%s: the script could not reuse the address", ip->label);
		cr_skip_test("no code object at the freed address");
	}
	cr_assert_eq(second.codes[0].id, first.codes[0].id);
	gens[slot]++;		/* what the deallocator's probe did */

	/* A frame of the first, named before it died: still the first. */
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, first.codes[0].qualname);
	/* A frame of the second: read now. */
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 1, &loc), 0);
	cr_assert_str_eq(loc.qualname, second.codes[0].qualname);
	cr_assert_eq(loc.line, second.codes[0].lines[1]);
	/* A frame of the first, never named before it died: what the address
	 * holds now is another code object, so no name at all. */
	cr_assert_eq(resolve_gen(late, c.pid, &t, first.codes[0].id, 1, 0, &loc), -ESTALE);
	py_symbols_free(s);
	py_symbols_free(late);
	free(gens);
	stop(&c);
	free_truth(&first);
	free_truth(&second);
}

/* The record py_code_dealloc sends, made here from the live object with
 * the same offsets, its table cut to table_max bytes. *whole: both names
 * are compact strings (the probe copies no other kind). */
static size_t copy_dying(int fd, const struct py_target *t, uint64_t code, uint32_t gen,
			 uint32_t table_max, struct mt_py_code_freed *r, bool *whole)
{
	const struct mt_py_offsets *o = &t->off;
	uint64_t length, size;
	uint32_t state;

	memset(r, 0, sizeof(*r));
	*whole = true;
	r->type = MT_EV_PY_CODE_FREED;
	r->code = code;
	r->gen = gen;
	r->code_len = o->code_header;
	cr_assert_eq(proc_mem_read(fd, code, r->code_bytes, r->code_len), 0);
	memcpy(&r->qualname, r->code_bytes + o->code_qualname, 8);
	memcpy(&r->filename, r->code_bytes + o->code_filename, 8);
	memcpy(&r->table, r->code_bytes + o->code_linetable, 8);
	for (int k = 0; k < 2; k++) {
		uint64_t str = k ? r->filename : r->qualname;
		uint32_t *len = k ? &r->filename_len : &r->qualname_len;
		uint8_t *buf = k ? r->filename_bytes : r->qualname_bytes;
		size_t max = k ? sizeof(r->filename_bytes) : sizeof(r->qualname_bytes);

		cr_assert_eq(proc_mem_read(fd, str + o->str_length, &length, 8), 0);
		cr_assert_eq(proc_mem_read(fd, str + o->str_state, &state, 4), 0);
		if (!(state & 0x20)) {
			*whole = false;
			continue;
		}
		*len = (state & 0x40 ? o->str_ascii_data : o->str_compact_data) +
		       length * ((state >> 2) & 7);
		cr_assert_leq(*len, max);
		cr_assert_eq(proc_mem_read(fd, str, buf, *len), 0);
	}
	cr_assert_eq(proc_mem_read(fd, r->table + o->bytes_size, &size, 8), 0);
	r->table_size = o->bytes_data + size;
	r->table_len = r->table_size < table_max ? r->table_size : table_max;
	cr_assert_eq(proc_mem_read(fd, r->table, r->table_bytes, r->table_len), 0);
	return offsetof(struct mt_py_code_freed, table_bytes) + r->table_len;
}

ParameterizedTestParameters(python, named_from_the_copy_of_a_dying_code_object)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

/* Frames of code objects that died before they were read are named from
 * the copy the probe sent, at every instruction; from a copy whose table
 * was cut, a line past the cut is 0 (unknown), never another line. */
ParameterizedTest(struct interp *ip, python, named_from_the_copy_of_a_dying_code_object)
{
	static struct mt_py_code_freed rec;
	struct py_symbols_stats st;
	struct py_symbols *s;
	struct py_location loc;
	uint64_t *gens = new_gens();
	struct py_target t;
	struct truth truth;
	struct child c;
	size_t len, cut_units = 0, named = 0;
	bool whole;
	int fd;

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	t.off.watch_deaths = 1;
	fd = proc_mem_open(c.pid);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < truth.ncodes; i++) {
		const struct expect_code *e = &truth.codes[i];
		uint32_t slot = mt_py_gen_slot((uint32_t)c.pid, e->id);
		struct mt_py_frame f = { .code = e->id, .gen = (uint32_t)gens[slot] };
		/* The whole table, then one cut to 4 bytes of it. */
		uint32_t table_max = i % 2 ? t.off.bytes_data + 4 : MT_PY_FREED_TABLE_BYTES;

		cr_assert_eq(py_symbols_new(&s), 0);
		py_symbols_watch_deaths(s, gens);
		cr_assert_eq(py_symbols_want(s, c.pid, &t, &f), 0);
		len = copy_dying(fd, &t, e->id, f.gen, table_max, &rec, &whole);
		rec.pid = (uint32_t)c.pid;
		gens[slot]++;			/* it died */
		py_symbols_code_freed(s, &t, &rec, len);
		if (!whole) {
			/* A name held out of line (a str subclass) is not in
			 * the copy: unknown, not misnamed. */
			cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), -ESTALE);
			py_symbols_free(s);
			continue;
		}
		named++;
		for (size_t k = 0; k < e->nlines; k++) {
			f.instr = (int32_t)k;
			cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), 0,
				     "%s", e->qualname);
			cr_assert_str_eq(loc.qualname, e->qualname);
			cr_assert_str_eq(loc.filename, e->filename);
			if (loc.line != e->lines[k]) {
				cr_assert_eq(loc.line, 0, "%s instruction %zu: line %d, Python "
					     "says %d", e->qualname, k, loc.line, e->lines[k]);
				cr_assert(rec.table_len < rec.table_size, "cut only");
				cut_units++;
			}
		}
		py_symbols_get_stats(s, &st);
		cr_assert_eq(st.named_from_copy, 1);
		cr_assert_eq(st.unnamed, 0);
		py_symbols_free(s);

		/* A record cut anywhere, or garbage, names nothing and never
		 * crashes: the frame stays unknown. */
		cr_assert_eq(py_symbols_new(&s), 0);
		py_symbols_watch_deaths(s, gens);
		f.gen = (uint32_t)gens[slot];
		rec.gen = f.gen;
		cr_assert_eq(py_symbols_want(s, c.pid, &t, &f), 0);
		gens[slot]++;
		for (size_t n = 0; n < offsetof(struct mt_py_code_freed, table_bytes); n += 97)
			py_symbols_code_freed(s, &t, &rec, n);
		memset(rec.code_bytes, 0xff, sizeof(rec.code_bytes));
		py_symbols_code_freed(s, &t, &rec, len);
		cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), -ESTALE);
		py_symbols_get_stats(s, &st);
		cr_assert_eq(st.unnamed, 1);
		py_symbols_free(s);
	}
	cr_assert_gt(cut_units, 0, "no table was cut short");
	cr_assert_geq(named, truth.ncodes - 1, "only %zu of %zu named", named, truth.ncodes);
	close(fd);
	free(gens);
	stop(&c);
	free_truth(&truth);
}

/* An address just below a mapping with nothing mapped after it. */
static uint64_t end_of_mapping(pid_t pid)
{
	struct proc_maps maps;
	uint64_t addr = 0;

	cr_assert_eq(proc_maps_read(pid, &maps), 0);
	for (size_t i = 0; i + 1 < maps.n && !addr; i++)
		if (maps.maps[i].end < maps.maps[i + 1].start &&
		    maps.maps[i].perms[0] == 'r')
			addr = maps.maps[i].end - 16;
	proc_maps_free(&maps);
	cr_assert_neq(addr, 0);
	return addr;
}

Test(python, garbage_addresses)
{
	struct py_location loc;
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;
	const uint64_t unreadable[] = {
		0, 8, 4096, UINT64_MAX, (uint64_t)INT64_MAX - 4, 1ull << 63,
	};

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(unreadable); i++)
		cr_assert_eq(resolve(s, c.pid, &t, unreadable[i], 0, &loc),
			     -EFAULT, "%#llx", (unsigned long long)unreadable[i]);
	cr_assert_eq(resolve(s, c.pid, &t, end_of_mapping(c.pid), 0, &loc),
		     -EFAULT);
	/* Readable, but no code object. */
	cr_assert_eq(resolve(s, c.pid, &t, t.off.runtime_addr, 0, &loc),
		     -EINVAL);
	cr_assert_eq(resolve(s, c.pid, &t, t.layout.code_type, 0, &loc),
		     -EINVAL);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id + 8, 0, &loc),
		     -EINVAL);
	/* Still fine afterwards. */
	expect_location(s, c.pid, &t, &truth.codes[0], 0, truth.codes[0].lines[0]);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

Test(python, exited_process)
{
	struct py_location loc;
	struct py_symbols *s, *fresh;
	struct py_target t;
	struct truth truth;
	struct child c;
	char why[128];

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id, 0, &loc), 0);
	cr_assert_eq(WEXITSTATUS(stop(&c)), 0);
	/* Its memory reads nothing now, and the name stays: reports made
	 * after the exit still name its frames. */
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, truth.codes[0].qualname);
	cr_assert_eq(py_symbols_new(&fresh), 0);
	cr_assert_eq(resolve(fresh, c.pid, &t, truth.codes[0].id, 0, &loc),
		     -ESRCH);
	cr_assert_eq(python_detect(c.pid, &t, why, sizeof(why)), -ESRCH);
	py_symbols_free(fresh);
	py_symbols_free(s);
	free_truth(&truth);
}
