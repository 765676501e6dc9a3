// SPDX-License-Identifier: MIT
/*
 * Finding CPython in a process and the layout of its structures.
 *
 * The interpreter is the mapped object that defines _PyRuntime: the python
 * executable itself when libpython is linked in statically (Debian), else
 * libpython3.X.so. Its version is the exported constant Py_Version, read
 * from the process. The offsets of that version's structures come from
 * python_offsets.c.
 *
 * A distribution could patch the structures; one cheap check catches a
 * table that does not fit: PyCode_Type.tp_basicsize is, by definition in
 * Objects/codeobject.c, offsetof(PyCodeObject, co_code_adaptive).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/elf_file.h"
#include "symbols/elf_symbols.h"
#include "proc/proc_maps.h"
#include "proc/proc_mem.h"
#include "proc/target_file.h"
#include "python_detect.h"
#include "python_offsets.h"
#include "util/why.h"

#define PY_RELEASE_ALPHA 0xa
#define PY_RELEASE_BETA 0xb

/* PyTypeObject.tp_basicsize: after the PyVarObject head (refcount, type,
 * size) and tp_name, in every GIL build; then tp_itemsize, tp_dealloc. */
#define TYPE_BASICSIZE_OFFSET 32
#define TYPE_DEALLOC_OFFSET 48

/* The data symbols this file needs from the interpreter's object. */
enum py_sym {
	SYM_RUNTIME,		/* _PyRuntime */
	SYM_VERSION,		/* Py_Version (since 3.11) */
	SYM_CODE_TYPE,		/* PyCode_Type */
	SYM_UNICODE_TYPE,	/* PyUnicode_Type */
	SYM_NONE,		/* _Py_NoneStruct */
	SYM_EVAL,		/* _PyEval_EvalFrameDefault (optional: where
				   the native walk may stop) */
	SYM_COUNT
};

static const char *const sym_names[SYM_COUNT] = {
	[SYM_RUNTIME] = "_PyRuntime",
	[SYM_VERSION] = "Py_Version",
	[SYM_CODE_TYPE] = "PyCode_Type",
	[SYM_UNICODE_TYPE] = "PyUnicode_Type",
	[SYM_NONE] = "_Py_NoneStruct",
	[SYM_EVAL] = "_PyEval_EvalFrameDefault",
};

struct py_syms {
	uint64_t value[SYM_COUNT];	/* as the file links them */
	uint64_t size[SYM_COUNT];
	bool found[SYM_COUNT];
};

/* Defined symbols of one symbol table section that this file wants. */
static void scan_symbols(Elf *elf, Elf_Scn *scn, struct py_syms *syms)
{
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
	Elf_Data *data;
	GElf_Shdr shdr;

	if (!gelf_getshdr(scn, &shdr) || !entsize)
		return;
	data = elf_getdata(scn, NULL);
	if (!data || data->d_type != ELF_T_SYM)
		return;
	for (size_t i = 1; i < data->d_size / entsize; i++) {
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE)
			continue;
		name = elf_strptr(elf, shdr.sh_link, sym.st_name);
		if (!name)
			continue;
		for (int k = 0; k < SYM_COUNT; k++) {
			if (syms->found[k] || strcmp(name, sym_names[k]))
				continue;
			syms->value[k] = sym.st_value;
			syms->size[k] = sym.st_size;
			syms->found[k] = true;
		}
	}
}

/*
 * Look the symbols up in .dynsym, where interpreters export them (even
 * stripped ones), then in .symtab for an embedding program that does not
 * export them. Returns 0 (found or not), or -ENOEXEC for a non-ELF file.
 */
static int find_symbols(int fd, struct py_syms *syms)
{
	Elf_Scn *scn = NULL;
	Elf *elf;

	memset(syms, 0, sizeof(*syms));
	if (elf_file_open(fd, &elf))
		return -ENOEXEC;
	for (int pass = 0; pass < 2 && !syms->found[SYM_RUNTIME]; pass++) {
		GElf_Word type = pass == 0 ? SHT_DYNSYM : SHT_SYMTAB;

		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr shdr;

			if (gelf_getshdr(scn, &shdr) && shdr.sh_type == type)
				scan_symbols(elf, scn, syms);
		}
	}
	elf_end(elf);
	return 0;
}

static bool same_file(const struct proc_map *a, const struct proc_map *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor;
}

/*
 * The load bias of the object mapped by the maps of *m's file: from its
 * mapping of the lowest file offset, which holds the ELF header and is in
 * the first PT_LOAD (a later mapping may start below its segment's file
 * offset, where rounding to pages puts it).
 */
static int load_bias(int fd, const struct proc_maps *maps,
		     const struct proc_map *m, uint64_t *bias)
{
	const struct proc_map *low = m;
	struct elf_symbols *es;
	uint64_t vaddr;
	int err;

	for (size_t i = 0; i < maps->n; i++)
		if (same_file(&maps->maps[i], m) && maps->maps[i].pgoff < low->pgoff)
			low = &maps->maps[i];
	err = elf_symbols_open(fd, &es);
	if (err)
		return err;
	err = elf_symbols_offset_to_vaddr(es, low->pgoff, &vaddr);
	elf_symbols_close(es);
	if (err)
		return err;
	*bias = low->start - vaddr;
	return 0;
}

/* The first mapped object defining _PyRuntime: its symbols, its mapping,
 * and its load bias. Returns 0 or -ENOENT. */
static int find_interpreter(pid_t pid, const struct proc_maps *maps,
			    struct py_syms *syms, const struct proc_map **found,
			    uint64_t *bias)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *m = &maps->maps[i];
		bool seen = false;
		int fd, err;

		if (!m->inode || m->path[0] != '/')
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = same_file(&maps->maps[j], m);
		if (seen)
			continue;
		fd = target_file_open_mapped(pid, m);
		if (fd < 0)
			continue;
		err = find_symbols(fd, syms);
		if (!err && syms->found[SYM_RUNTIME])
			err = load_bias(fd, maps, m, bias);
		close(fd);
		if (!err && syms->found[SYM_RUNTIME]) {
			*found = m;
			return 0;
		}
	}
	return -ENOENT;
}

/* "python3.10" in a path: the version of an interpreter without
 * Py_Version, for the message refusing it. */
static bool version_from_path(const char *path, int *major, int *minor)
{
	const char *p = path;

	while ((p = strstr(p, "python"))) {
		p += strlen("python");
		if (sscanf(p, "%d.%d", major, minor) == 2)
			return true;
	}
	return false;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* How much of a code object python_symbols reads to see every field it
 * uses. */
static uint32_t code_header(const struct py_target *t)
{
	const struct py_layout *l = &t->layout;
	uint32_t end = l->ob_type + 8;

	end = max_u32(end, l->code_filename + 8);
	end = max_u32(end, l->code_name + 8);
	end = max_u32(end, l->code_qualname + 8);
	end = max_u32(end, l->code_linetable + 8);
	end = max_u32(end, t->off.code_firstlineno + 4);
	return end;
}

/* What python_symbols relies on: the fields it reads lie within the
 * object headers it reads, before any variable part. */
static bool layout_ok(const struct py_target *t)
{
	const struct py_layout *l = &t->layout;

	return l->code_header <= t->off.code_adaptive &&
	       l->code_header <= MT_PY_FREED_CODE_BYTES &&
	       l->ob_type + 8 <= l->unicode_ascii_data &&
	       l->unicode_length + 8 <= l->unicode_ascii_data &&
	       l->unicode_state + 4 <= l->unicode_ascii_data &&
	       l->unicode_ascii_data <= l->unicode_compact_data &&
	       l->bytes_size + 8 <= l->bytes_data;
}

/* What the code-object probe copies, from the layout python_symbols
 * decodes (include/memtrace_python.h). */
static void copy_layout(struct py_target *t)
{
	const struct py_layout *l = &t->layout;
	struct mt_py_offsets *o = &t->off;
	uint32_t to_frame = mt_py_tstate_to_frame(&t->off);

	o->code_header = l->code_header;
	o->code_filename = l->code_filename;
	o->code_qualname = l->code_qualname;
	o->code_linetable = l->code_linetable;
	o->str_length = l->unicode_length;
	o->str_state = l->unicode_state;
	o->str_ascii_data = l->unicode_ascii_data;
	o->str_compact_data = l->unicode_compact_data;
	o->bytes_size = l->bytes_size;
	o->bytes_data = l->bytes_data;
	/* The walker reads a frame at once when its fields fit the window. */
	o->frame_window = !(o->frame_code % 8) && !(o->frame_previous % 8) &&
			  !(o->frame_instr % 8) &&
			  o->frame_code + 8 <= MT_PY_FRAME_WINDOW &&
			  o->frame_previous + 8 <= MT_PY_FRAME_WINDOW &&
			  o->frame_instr + 8 <= MT_PY_FRAME_WINDOW &&
			  (o->frame_owner == MT_PY_NO_OFFSET ||
			   o->frame_owner < MT_PY_FRAME_WINDOW) &&
			  (o->frame_is_entry == MT_PY_NO_OFFSET ||
			   o->frame_is_entry < MT_PY_FRAME_WINDOW);
	/* And the thread state's two fields a capture reads, likewise. */
	o->tstate_window = !(o->tstate_native_thread_id % 8) && !(to_frame % 8) &&
			   o->tstate_native_thread_id + 8 <= MT_PY_TSTATE_WINDOW &&
			   to_frame + 8 <= MT_PY_TSTATE_WINDOW;
}

/* Py_Version into *t, refusing what no table here describes. */
static int check_version(uint64_t version, struct py_target *t, char *why,
			 size_t why_len)
{
	unsigned int level = (version >> 4) & 0xf;

	t->version_hex = (uint32_t)version;
	t->major = (version >> 24) & 0xff;
	t->minor = (version >> 16) & 0xff;
	t->micro = (version >> 8) & 0xff;
	if (t->major != 3 || t->minor < 11 || t->minor > 13)
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d is not supported (3.11 to 3.13 are)",
				   t->major, t->minor, t->micro);
	/* Layouts settle at the release candidates. */
	if (level == PY_RELEASE_ALPHA || level == PY_RELEASE_BETA)
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d%c%u is a pre-release: not supported",
				   t->major, t->minor, t->micro,
				   level == PY_RELEASE_ALPHA ? 'a' : 'b',
				   (unsigned int)(version & 0xf));
	return 0;
}

static int fill_target(int memfd, const struct py_syms *syms, uint64_t bias,
		       struct py_target *t, char *why, size_t why_len)
{
	uint64_t version = 0, basicsize = 0;
	uint64_t runtime = bias + syms->value[SYM_RUNTIME];
	int err;

	if (!syms->found[SYM_VERSION]) {
		if (version_from_path(t->lib_path, &t->major, &t->minor))
			return why_fail(-ENOTSUP, why, why_len,
					   "Python %d.%d is not supported (3.11 to 3.13 are)",
					   t->major, t->minor);
		return why_fail(-ENOTSUP, why, why_len,
				   "Python older than 3.11 is not supported (%s)",
				   t->lib_path);
	}
	/* An unsigned long: the whole of it is the version. */
	err = proc_mem_read(memfd, bias + syms->value[SYM_VERSION], &version,
			      sizeof(version));
	if (err)
		return err;
	err = check_version(version, t, why, why_len);
	if (err)
		return err;
	for (int k = 0; k < SYM_COUNT; k++)
		if (!syms->found[k] && k != SYM_EVAL)
			return why_fail(-ENOTSUP, why, why_len,
					   "Python %d.%d.%d: %s does not define %s",
					   t->major, t->minor, t->micro,
					   t->lib_path, sym_names[k]);

	err = python_offsets(memfd, runtime, t, why, why_len);
	if (err)
		return err;
	/* 3.13: the f_executable of the frames the eval loop pushes on
	 * entry, where 3.12 has a real code object. */
	if (t->minor == 13)
		t->off.none_addr = bias + syms->value[SYM_NONE];
	t->off.version_hex = t->version_hex;
	t->off.runtime_addr = runtime;
	/* Its hot part: a return address in a split-off cold part is not
	 * counted, and the walk then goes on to the end (no stop, no loss). */
	if (syms->found[SYM_EVAL] && syms->size[SYM_EVAL]) {
		t->off.eval_start = bias + syms->value[SYM_EVAL];
		t->off.eval_end = t->off.eval_start + syms->size[SYM_EVAL];
	}
	t->layout.code_type = bias + syms->value[SYM_CODE_TYPE];
	t->layout.unicode_type = bias + syms->value[SYM_UNICODE_TYPE];
	t->layout.code_header = code_header(t);
	if (!layout_ok(t))
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: implausible structure layout",
				   t->major, t->minor, t->micro);

	err = proc_mem_read(memfd, t->layout.code_type + TYPE_BASICSIZE_OFFSET,
			      &basicsize, sizeof(basicsize));
	if (err)
		return err;
	if (basicsize != t->off.code_adaptive)
		return why_fail(-ENOTSUP, why, why_len,
				   "Python %d.%d.%d: PyCode_Type.tp_basicsize is %" PRIu64
				   ", not %u: a modified build?",
				   t->major, t->minor, t->micro, basicsize,
				   t->off.code_adaptive);
	copy_layout(t);
	return 0;
}

/*
 * The value the loader will write at vaddr of the object mapped like m: the
 * addend of its R_X86_64_RELATIVE relocation, as a run-time address (0: no
 * such relocation). Read from the file, because a process stopped before
 * its loader relocated (launched, or at an exec) has 0 there in memory.
 */
static uint64_t relocated_value(pid_t pid, const struct proc_map *m, uint64_t vaddr,
				uint64_t bias)
{
	uint64_t value = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd = target_file_open_mapped(pid, m);

	if (fd < 0)
		return 0;
	if (elf_file_open(fd, &elf)) {
		close(fd);
		return 0;
	}
	while (!value && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < d->d_size / sh.sh_entsize; i++) {
			GElf_Rela r;

			if (gelf_getrela(d, (int)i, &r) && r.r_offset == vaddr &&
			    GELF_R_TYPE(r.r_info) == R_X86_64_RELATIVE) {
				value = bias + (uint64_t)r.r_addend;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return value;
}

/* The file offset of the code at run-time address fn in an executable
 * mapping of m's file; 0 if it is in none. */
static uint64_t code_offset(const struct proc_maps *maps, const struct proc_map *m,
			    uint64_t fn)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct proc_map *x = &maps->maps[i];

		if (same_file(x, m) && fn >= x->start && fn < x->end && x->perms[2] == 'x')
			return fn - x->start + x->pgoff;
	}
	return 0;
}

/* The file offset of PyCode_Type.tp_dealloc, when the interpreter's own
 * object (mapped like m) holds it; else 0, and deaths go unwatched. */
static uint64_t find_code_dealloc(pid_t pid, int memfd, const struct proc_maps *maps,
				  const struct proc_map *m, const struct py_target *t)
{
	uint64_t at = t->layout.code_type + TYPE_DEALLOC_OFFSET, fn = 0, off;

	if (proc_mem_read(memfd, at, &fn, sizeof(fn)))
		return 0;
	off = code_offset(maps, m, fn);
	/* Not relocated yet (a shared libpython, the process stopped before
	 * its loader ran): what the loader will put there. */
	if (!off)
		off = code_offset(maps, m, relocated_value(pid, m, at - t->lib_bias, t->lib_bias));
	return off;
}

int python_detect(pid_t pid, struct py_target *out, char *why, size_t why_len)
{
	const struct proc_map *m = NULL;
	struct proc_maps maps;
	struct py_syms syms;
	uint64_t bias = 0;
	int memfd, err;

	memset(out, 0, sizeof(*out));
	if (why_len)
		why[0] = '\0';
	err = proc_maps_read(pid, &maps);
	if (err)
		return err;
	err = find_interpreter(pid, &maps, &syms, &m, &bias);
	if (err)
		goto out;
	snprintf(out->lib_path, sizeof(out->lib_path), "%s", m->path);
	out->lib_bias = bias;
	memfd = proc_mem_open(pid);
	if (memfd < 0) {
		err = memfd;
		goto out;
	}
	err = fill_target(memfd, &syms, bias, out, why, why_len);
	if (!err)
		out->code_dealloc_offset = find_code_dealloc(pid, memfd, &maps, m, out);
	close(memfd);
out:
	proc_maps_free(&maps);
	return err;
}

int python_open_lib(pid_t pid, const char *lib_path)
{
	const struct proc_map *any = NULL;
	struct proc_maps maps;
	int fd, err;

	err = proc_maps_read(pid, &maps);
	if (err)
		return err;
	for (size_t i = 0; i < maps.n; i++) {
		const struct proc_map *m = &maps.maps[i];

		if (!m->inode || strcmp(m->path, lib_path))
			continue;
		if (!any || m->perms[2] == 'x')
			any = m;
		if (m->perms[2] == 'x')
			break;
	}
	fd = any ? target_file_open_mapped(pid, any) : -ENOENT;
	proc_maps_free(&maps);
	return fd;
}
