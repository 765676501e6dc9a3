// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "proc/proc_mem.h"
#include "python_offsets.h"
#include "util/why.h"

/*
 * _Py_DebugOffsets of 3.13 (Include/internal/pycore_runtime.h), every
 * member a uint64_t. 3.14 inserts members into several groups: this
 * layout is only read from a 3.13.
 */
struct debug_offsets_313 {
	char cookie[8];			/* "xdebugpy" */
	uint64_t version;		/* PY_VERSION_HEX */
	uint64_t free_threaded;
	struct {
		uint64_t size, finalizing, interpreters_head;
	} runtime_state;
	struct {
		uint64_t size, id, next, threads_head, gc, imports_modules,
			sysdict, builtins, ceval_gil, gil_runtime_state,
			gil_runtime_state_enabled, gil_runtime_state_locked,
			gil_runtime_state_holder;
	} interpreter_state;
	struct {
		uint64_t size, prev, next, interp, current_frame, thread_id,
			native_thread_id, datastack_chunk, status;
	} thread_state;
	struct {
		uint64_t size, previous, executable, instr_ptr, localsplus,
			owner;
	} interpreter_frame;
	struct {
		uint64_t size, filename, name, qualname, linetable,
			firstlineno, argcount, localsplusnames,
			localspluskinds, co_code_adaptive;
	} code_object;
	struct {
		uint64_t size, ob_type;
	} pyobject;
	struct {
		uint64_t size, tp_name, tp_repr, tp_flags;
	} type_object;
	struct {
		uint64_t size, ob_item, ob_size;
	} tuple_object, list_object;
	struct {
		uint64_t size, ma_keys, ma_values;
	} dict_object;
	struct {
		uint64_t size, ob_fval;
	} float_object;
	struct {
		uint64_t size, lv_tag, ob_digit;
	} long_object;
	struct {
		uint64_t size, ob_size, ob_sval;
	} bytes_object;
	struct {
		uint64_t size, state, length, asciiobject_size;
	} unicode_object;
	struct {
		uint64_t size, collecting;
	} gc;
};

/* Where 3.13.0's own header puts each group (offsetof on its headers). */
_Static_assert(offsetof(struct debug_offsets_313, runtime_state) == 24, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, interpreter_state) == 48, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, thread_state) == 152, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, interpreter_frame) == 224, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, code_object) == 272, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, pyobject) == 352, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, type_object) == 368, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, bytes_object) == 512, "3.13 layout");
_Static_assert(offsetof(struct debug_offsets_313, unicode_object) == 536, "3.13 layout");
_Static_assert(sizeof(struct debug_offsets_313) == 584, "3.13 layout");

/* 3.11 (3.11.2 Debian and 3.11.7 headers agree). */
static const struct mt_py_offsets offsets_311 = {
	.runtime_interpreters_head = 40,
	.interp_next = 0,
	.interp_threads_head = 16,
	.tstate_next = 8,
	.tstate_native_thread_id = 160,
	.tstate_cframe = 56,
	.cframe_current_frame = 8,
	.tstate_current_frame = MT_PY_NO_OFFSET,
	.frame_code = 32,
	.frame_previous = 48,
	.frame_instr = 56,
	.frame_owner = MT_PY_NO_OFFSET,
	.frame_is_entry = 68,
	.code_adaptive = 184,
	.code_firstlineno = 72,
};

static const struct py_layout layout_311 = {
	.ob_type = 8,
	.type_flags = 168,
	.code_filename = 112,
	.code_name = 120,
	.code_qualname = 128,
	.code_linetable = 136,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 48,	/* 3.11 still has the wstr pointer */
	.unicode_compact_data = 72,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* 3.12 (3.12.1 headers). */
static const struct mt_py_offsets offsets_312 = {
	.runtime_interpreters_head = 40,
	.interp_next = 0,
	.interp_threads_head = 72,
	.tstate_next = 8,
	.tstate_native_thread_id = 144,
	.tstate_cframe = 56,
	.cframe_current_frame = 0,
	.tstate_current_frame = MT_PY_NO_OFFSET,
	.frame_code = 0,
	.frame_previous = 8,
	.frame_instr = 56,
	.frame_owner = 70,
	.frame_is_entry = MT_PY_NO_OFFSET,
	.code_adaptive = 192,
	.code_firstlineno = 68,
};

static const struct py_layout layout_312 = {
	.ob_type = 8,
	.type_flags = 168,
	.code_filename = 112,
	.code_name = 120,
	.code_qualname = 128,
	.code_linetable = 136,
	.unicode_length = 16,
	.unicode_state = 32,
	.unicode_ascii_data = 40,
	.unicode_compact_data = 56,
	.bytes_size = 16,
	.bytes_data = 32,
};

/* Is an offset from _Py_DebugOffsets plausible: a field of at most 8
 * bytes inside a structure of the size the same table gives? */
static bool field_ok(uint64_t off, uint64_t size)
{
	return size < (1u << 20) && off < size && size - off >= 8;
}

static int offsets_from_debug(int memfd, uint64_t runtime, struct py_target *t,
			      char *why, size_t why_len)
{
	struct debug_offsets_313 d;
	struct mt_py_offsets *o = &t->off;
	struct py_layout *l = &t->layout;
	int err;

	err = proc_mem_read(memfd, runtime, &d, sizeof(d));
	if (err)
		return err;
	if (memcmp(d.cookie, "xdebugpy", sizeof(d.cookie)))
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: no _Py_DebugOffsets at _PyRuntime",
				   t->major, t->minor, t->micro);
	if (d.free_threaded)
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: free-threaded builds are not supported",
				   t->major, t->minor, t->micro);
	if (d.version != t->version_hex)
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: _Py_DebugOffsets is for version %#" PRIx64,
				   t->major, t->minor, t->micro, d.version);
	if (!field_ok(d.runtime_state.interpreters_head, d.runtime_state.size) ||
	    !field_ok(d.interpreter_state.next, d.interpreter_state.size) ||
	    !field_ok(d.interpreter_state.threads_head, d.interpreter_state.size) ||
	    !field_ok(d.thread_state.next, d.thread_state.size) ||
	    !field_ok(d.thread_state.native_thread_id, d.thread_state.size) ||
	    !field_ok(d.thread_state.current_frame, d.thread_state.size) ||
	    !field_ok(d.interpreter_frame.previous, d.interpreter_frame.size) ||
	    !field_ok(d.interpreter_frame.executable, d.interpreter_frame.size) ||
	    !field_ok(d.interpreter_frame.instr_ptr, d.interpreter_frame.size) ||
	    !field_ok(d.interpreter_frame.owner, d.interpreter_frame.size) ||
	    !field_ok(d.code_object.filename, d.code_object.size) ||
	    !field_ok(d.code_object.name, d.code_object.size) ||
	    !field_ok(d.code_object.qualname, d.code_object.size) ||
	    !field_ok(d.code_object.linetable, d.code_object.size) ||
	    !field_ok(d.code_object.firstlineno, d.code_object.size) ||
	    d.code_object.co_code_adaptive > d.code_object.size ||
	    !field_ok(d.pyobject.ob_type, d.pyobject.size) ||
	    !field_ok(d.type_object.tp_flags, d.type_object.size) ||
	    !field_ok(d.bytes_object.ob_size, d.bytes_object.size) ||
	    d.bytes_object.ob_sval >= d.bytes_object.size ||
	    !field_ok(d.unicode_object.state, d.unicode_object.size) ||
	    !field_ok(d.unicode_object.length, d.unicode_object.size) ||
	    !field_ok(d.unicode_object.asciiobject_size, d.unicode_object.size))
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: implausible _Py_DebugOffsets",
				   t->major, t->minor, t->micro);

	o->runtime_interpreters_head = d.runtime_state.interpreters_head;
	o->interp_next = d.interpreter_state.next;
	o->interp_threads_head = d.interpreter_state.threads_head;
	o->tstate_next = d.thread_state.next;
	o->tstate_native_thread_id = d.thread_state.native_thread_id;
	o->tstate_cframe = MT_PY_NO_OFFSET;
	o->cframe_current_frame = MT_PY_NO_OFFSET;
	o->tstate_current_frame = d.thread_state.current_frame;
	o->frame_code = d.interpreter_frame.executable;
	o->frame_previous = d.interpreter_frame.previous;
	o->frame_instr = d.interpreter_frame.instr_ptr;
	o->frame_owner = d.interpreter_frame.owner;
	o->frame_is_entry = MT_PY_NO_OFFSET;
	o->code_adaptive = d.code_object.co_code_adaptive;
	o->code_firstlineno = d.code_object.firstlineno;

	l->ob_type = d.pyobject.ob_type;
	l->type_flags = d.type_object.tp_flags;
	l->code_filename = d.code_object.filename;
	l->code_name = d.code_object.name;
	l->code_qualname = d.code_object.qualname;
	l->code_linetable = d.code_object.linetable;
	l->unicode_length = d.unicode_object.length;
	l->unicode_state = d.unicode_object.state;
	l->unicode_ascii_data = d.unicode_object.asciiobject_size;
	/* The table gives sizeof(PyUnicodeObject), which is
	 * PyCompactUnicodeObject followed by one data pointer. */
	l->unicode_compact_data = d.unicode_object.size - 8;
	l->bytes_size = d.bytes_object.ob_size;
	l->bytes_data = d.bytes_object.ob_sval;
	return 0;
}

int python_offsets(int memfd, uint64_t runtime, struct py_target *t,
		   char *why, size_t why_len)
{
	if (t->minor == 11) {
		t->off = offsets_311;
		t->layout = layout_311;
		return 0;
	}
	if (t->minor == 12) {
		t->off = offsets_312;
		t->layout = layout_312;
		return 0;
	}
	if (t->minor == 13)
		return offsets_from_debug(memfd, runtime, t, why, why_len);
	return why_fail(-ENOTSUP, why, why_len, "Python %d.%d.%d: no offsets known",
			t->major, t->minor, t->micro);
}
