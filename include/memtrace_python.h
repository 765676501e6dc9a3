/* SPDX-License-Identifier: MIT */
/*
 * What the BPF Python frame walker needs to know about one interpreter:
 * where its runtime state is and the offsets of the few fields it reads.
 * User space fills it per traced process (user/python/python_detect.c) from
 * the interpreter's version (user/python/python_offsets.c: built-in tables
 * for 3.11 and 3.12, the interpreter's own _Py_DebugOffsets for 3.13) and
 * stores it in a BPF map.
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
};

#define MT_PY_NO_OFFSET 0xffffffffu

/* _PyInterpreterFrame.owner of a C-stack shim frame (3.12+). */
#define MT_PY_FRAME_OWNED_BY_CSTACK 3

/* One Python frame as the probe records it. */
struct mt_py_frame {
	__u64 code;			/* PyCodeObject * */
	__s32 instr;			/* instruction index (code units) */
	__u32 flags;			/* MT_PYF_* */
};

/* The frame is an entry frame: the next older Python frame belongs to an
 * outer call of the eval loop (the native frames in between are C code). */
#define MT_PYF_ENTRY 0x1

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
