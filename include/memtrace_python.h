/* SPDX-License-Identifier: MIT */
/*
 * What the BPF Python probes and user space agree on: the offsets the frame
 * walker and the code-object probe read in one interpreter (filled per
 * traced process by user/python/python_detect.c from the interpreter's
 * version, user/python/python_offsets.c: built-in tables for 3.11 and 3.12,
 * the interpreter's own _Py_DebugOffsets for 3.13), the frame record, the
 * code objects' generations, and the record sent when a code object is
 * freed.
 *
 * Why generations: a frame records its code object's address, which is
 * resolved to a name later, in user space; by then the code object may have
 * been freed and another one made at the same address (a module's code
 * after its import, exec'd code). Neither the address nor the pointers in
 * the object tell them apart: pymalloc puts the new names and tables at the
 * old places too (measured: 396 of 3000 nested functions exec'd in a loop
 * on Debian's 3.11 had the address, co_filename, co_qualname, co_linetable
 * and co_firstlineno of an earlier, different function). So a probe on the
 * code objects' deallocator counts, per address slot, how many code
 * objects died there; each frame records its slot's count (its
 * generation), which is part of the stack's identity, and user space names
 * a frame only from a read made while the slot still had that count, or
 * from the copy the deallocator's probe sent of the dying object.
 */
#ifndef MEMTRACE_PYTHON_H
#define MEMTRACE_PYTHON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Python frames recorded per allocation. */
#define MT_MAX_PY_FRAMES 64

struct mt_py_offsets {
	__u32 version_hex;		/* PY_VERSION_HEX, e.g. 0x030b02f0 */
	__u32 pad;
	__u64 runtime_addr;		/* &_PyRuntime in the process */

	/* _PyRuntime.interpreters.head */
	__u32 runtime_interpreters_head;
	/* PyInterpreterState */
	__u32 interp_next;
	__u32 interp_threads_head;
	/* PyThreadState */
	__u32 tstate_next;
	__u32 tstate_native_thread_id;
	/* How to reach the current frame from a thread state:
	 * 3.11/3.12: tstate->cframe (at tstate_cframe), then
	 *            cframe->current_frame (at cframe_current_frame);
	 * 3.13+:     tstate->current_frame (at tstate_current_frame),
	 *            tstate_cframe == MT_PY_NO_OFFSET. */
	__u32 tstate_cframe;
	__u32 cframe_current_frame;
	__u32 tstate_current_frame;
	/* _PyInterpreterFrame */
	__u32 frame_code;		/* f_code / f_executable */
	__u32 frame_previous;
	__u32 frame_instr;		/* prev_instr / instr_ptr */
	__u32 frame_owner;		/* 3.12+: owner byte; MT_PY_NO_OFFSET in 3.11 */
	__u32 frame_is_entry;		/* 3.11: is_entry byte; else MT_PY_NO_OFFSET */
	/* PyCodeObject */
	__u32 code_adaptive;		/* co_code_adaptive (instructions start) */
	__u32 code_firstlineno;
	__u64 none_addr;		/* &_Py_NoneStruct (3.13: f_executable of
					   shim frames), 0 if unused */

	/* What the code-object probe copies (struct mt_py_code_freed). */
	__u32 code_header;		/* bytes of the code object to copy */
	__u32 code_filename;		/* PyCodeObject fields (pointers) */
	__u32 code_qualname;
	__u32 code_linetable;
	__u32 str_length;		/* PyASCIIObject.length (code points) */
	__u32 str_state;		/* ... state: kind, compact, ascii bits */
	__u32 str_ascii_data;		/* compact ASCII: characters start here */
	__u32 str_compact_data;		/* other compact strings: here */
	__u32 bytes_size;		/* PyBytesObject ob_size */
	__u32 bytes_data;		/* PyBytesObject ob_sval */
	__u32 watch_deaths;		/* 1: the deallocator is probed, frames
					   carry generations */
	__u32 frame_window;		/* 1: every frame field the walker reads
					   lies in a frame's first
					   MT_PY_FRAME_WINDOW bytes, read at once */
	__u32 tstate_window;		/* 1: native_thread_id and the way to the
					   frame (tstate_cframe or
					   tstate_current_frame) lie aligned in a
					   thread state's first
					   MT_PY_TSTATE_WINDOW bytes, read at once */
	__u32 pad2;
	/* _PyEval_EvalFrameDefault in the process, [eval_start, eval_end):
	 * the native walk stops after the eval loop's outermost frame
	 * (struct mt_eval_stop); 0, 0: it walks on to the end. */
	__u64 eval_start, eval_end;
};

/* One read of this many bytes instead of one per field: the frame fields
 * of 3.11-3.13 all lie within them (the last, owner, at 70). */
#define MT_PY_FRAME_WINDOW 72

/* The same for a thread state: native_thread_id and the field of
 * mt_py_tstate_to_frame() are at 160 and 56 in 3.11, 144 and 56 in 3.12,
 * 160 and 72 in 3.13. */
#define MT_PY_TSTATE_WINDOW 192

#define MT_PY_NO_OFFSET 0xffffffffu

/* The thread state's field on the way to the current frame: cframe where
 * there is one (3.11, 3.12; the frame is then behind it), else
 * current_frame. Both the walker and user space's tstate_window use it. */
static inline __attribute__((always_inline)) __u32
mt_py_tstate_to_frame(const struct mt_py_offsets *o)
{
	return o->tstate_cframe != MT_PY_NO_OFFSET ? o->tstate_cframe : o->tstate_current_frame;
}

/* _PyInterpreterFrame.owner of a C-stack shim frame (3.12+). */
#define MT_PY_FRAME_OWNED_BY_CSTACK 3

/* One Python frame as the probe records it. Whether it is an entry frame
 * (the next older Python frame belongs to an outer call of the eval loop,
 * the native frames in between are C code) is bit i of mt_stack.py_entry. */
struct mt_py_frame {
	__u64 code;			/* PyCodeObject * */
	__s32 instr;			/* instruction index (code units) */
	__u32 gen;			/* the code's generation (see above);
					   0 when deaths are not watched */
};

/*
 * Generations: a BPF array of this many u64 counters, one per slot of
 * code addresses (hashed with the process). Two addresses sharing a slot
 * only make a frame unknown, never misnamed; at 2^17 slots that takes two
 * deaths among 131,072 slots between a frame's capture and its naming.
 * A slot wraps (as the u32 a frame keeps) after 2^32 deaths.
 */
#define MT_PY_GEN_SLOTS (1u << 17)

static inline __attribute__((always_inline)) __u32 mt_py_gen_slot(__u32 tgid, __u64 code)
{
	__u64 h = (code >> 4) ^ ((__u64)tgid << 40);

	h *= 0x9e3779b97f4a7c15ULL;
	return (__u32)(h >> (64 - 17));
}

/* How much of a dying code object's parts the probe copies. A location
 * table longer than its window is cut (lines past the cut are unknown):
 * 8 KiB holds the table of 98% of the modules of Debian's Python 3.11
 * standard library (4 KiB: 96%). */
#define MT_PY_FREED_CODE_BYTES 256
#define MT_PY_FREED_QUALNAME_BYTES 512
#define MT_PY_FREED_FILENAME_BYTES 1024
#define MT_PY_FREED_TABLE_BYTES 8192

/*
 * Sent by the code-object probe, in ring order after every event whose
 * stack ran the code (the frame held a reference: the code could not die
 * before the allocation's event was sent). Each part is the first *_len
 * bytes of the object at the address beside it (0: not read); only the
 * table part is cut short, and the record ends right after what it holds.
 */
struct mt_py_code_freed {
	__u8 type;			/* MT_EV_PY_CODE_FREED */
	__u8 pad[3];
	__u32 pid;			/* tgid, root namespace */
	__u64 code;			/* address of the code object */
	__u32 gen;			/* its generation (before this death) */
	__u32 code_len, qualname_len, filename_len, table_len;
	__u32 table_size;		/* bytes the whole table object has */
	__u64 qualname, filename, table;	/* the parts' addresses */
	__u8 code_bytes[MT_PY_FREED_CODE_BYTES];
	__u8 qualname_bytes[MT_PY_FREED_QUALNAME_BYTES];
	__u8 filename_bytes[MT_PY_FREED_FILENAME_BYTES];
	__u8 table_bytes[MT_PY_FREED_TABLE_BYTES];
};

/*
 * Probes inside pymalloc's inlined fast paths (builds without pymalloc
 * symbols, like Debian's LTO+PGO python3.11; see
 * user/python/pymalloc_sites.c).
 * Each probe's attach cookie says what the probed instruction sees:
 *   bits 0-7   enum mt_pysite_kind
 *   bits 8-15  enum mt_reg: the register holding the block, or the pool
 *   bit  16    MT_PYSITE_VIA_POOL: the register holds the block's pool
 *              header and the block is pool->freeblock, *(reg + 8)
 *   bit  17    MT_PYSITE_SIZE_REG: (allocations) the requested size is in
 *              register (cookie >> 20) & 0xf (enum mt_reg)
 *   bit  18    MT_PYSITE_SIZE_CONST: (allocations) the requested size is
 *              the constant (cookie >> 20) & 0x3ff
 *   neither    the request is unknown: the block's size class is used
 */
enum mt_pysite_kind {
	MT_PYSITE_ALLOC = 1,	/* a block was just taken off a free list */
	MT_PYSITE_FREE = 2,	/* a block is being put back on one */
};

/* General-purpose registers, as sites name them. */
enum mt_reg {
	MT_REG_RAX = 0, MT_REG_RBX, MT_REG_RCX, MT_REG_RDX, MT_REG_RSI,
	MT_REG_RDI, MT_REG_RBP, MT_REG_RSP, MT_REG_R8, MT_REG_R9, MT_REG_R10,
	MT_REG_R11, MT_REG_R12, MT_REG_R13, MT_REG_R14, MT_REG_R15,
	MT_REG_COUNT,
};

#define MT_PYSITE_VIA_POOL (1u << 16)
#define MT_PYSITE_SIZE_REG (1u << 17)
#define MT_PYSITE_SIZE_CONST (1u << 18)
#define MT_PYSITE_SIZE_SHIFT 20

/* pymalloc's pools (3.11-3.13, 64-bit): 16 KiB, aligned, with the size
 * class index at this offset in the pool header; a block of class i
 * holds (i + 1) * 16 bytes. */
#define MT_PY_POOL_MASK (~0x3fffULL)
#define MT_PY_POOL_SZIDX_OFFSET 0x24

#endif /* MEMTRACE_PYTHON_H */
