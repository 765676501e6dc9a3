// SPDX-License-Identifier: MIT
#include <capstone/capstone.h>
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "py_arenas.h"
#include "proc/proc_maps.h"
#include "proc/proc_mem.h"
#include "symbols/elf_symbols.h"
#include "util/why.h"

/* offsetof() on 3.12.1's and 3.13.0's internal headers. */
#define OBMALLOC_IN_INTERP_312 3960	/* PyInterpreterState.obmalloc (struct) */
#define OBMALLOC_PTR_IN_INTERP_313 10800 /* PyInterpreterState.obmalloc (pointer) */
#define MGMT_ARENAS 512			/* struct _obmalloc_state .mgmt.arenas */
#define MGMT_MAXARENAS 520		/* ... .mgmt.maxarenas */

/* The loads _Py_GetAllocatedBlocks begins with sit in its first few
 * instructions (3: Debian's 3.11.2, pyenv's 3.11.7). */
#define DECODE_BYTES 96
#define MAX_CANDIDATES 4
/* A table this long would describe 16 TiB of arenas. */
#define MAXARENAS_MAX (1u << 24)
/* Entries checked before the table is trusted. */
#define CHECK_ENTRIES 64

enum { SYM_ARENAS, SYM_MAXARENAS, SYM_TYPE, SYM_N };
static const char *const sym_names[SYM_N] = { "arenas", "maxarenas", "PyType_Type" };

/* Data symbols of .dynsym and .symtab (static variables are local ones). */
static void find_data_symbols(int fd, uint64_t value[SYM_N], bool found[SYM_N])
{
	Elf_Scn *scn = NULL;
	Elf *elf;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return;
	while (elf_kind(elf) == ELF_K_ELF && (scn = elf_nextscn(elf, scn))) {
		size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);
		Elf_Data *data;
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || !entsize ||
		    (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || data->d_type != ELF_T_SYM)
			continue;
		for (size_t i = 1; i < data->d_size / entsize; i++) {
			const char *name;
			GElf_Sym sym;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    sym.st_shndx >= SHN_LORESERVE || GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
				continue;
			name = elf_strptr(elf, shdr.sh_link, sym.st_name);
			for (int k = 0; name && k < SYM_N; k++) {
				if (!found[k] && !strcmp(name, sym_names[k])) {
					value[k] = sym.st_value;
					found[k] = true;
				}
			}
		}
	}
	elf_end(elf);
}

int py_arenas_decode_loads(const uint8_t *code, size_t len, uint64_t vaddr,
			   uint64_t *maxarenas, uint64_t *ptrs, size_t max)
{
	cs_insn *insn = NULL;
	size_t n, nptrs = 0;
	bool have_max = false;
	csh cs;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	n = cs_disasm(cs, code, len, vaddr, 0, &insn);
	for (size_t i = 0; i < n; i++) {
		const cs_x86 *x = &insn[i].detail->x86;

		if (insn[i].id == X86_INS_RET || insn[i].id == X86_INS_JMP)
			break;
		if (insn[i].id != X86_INS_MOV || x->op_count != 2 ||
		    x->operands[0].type != X86_OP_REG || x->operands[1].type != X86_OP_MEM ||
		    x->operands[1].mem.base != X86_REG_RIP || x->operands[1].mem.index != X86_REG_INVALID)
			continue;
		if (x->operands[0].size == 4 && !have_max) {
			*maxarenas = insn[i].address + insn[i].size + x->operands[1].mem.disp;
			have_max = true;
		} else if (x->operands[0].size == 8 && nptrs < max) {
			ptrs[nptrs++] = insn[i].address + insn[i].size + x->operands[1].mem.disp;
		}
	}
	cs_free(insn, n);
	cs_close(&cs);
	return have_max ? (int)nptrs : -ENOENT;
}

/* Does the table that arenas_var and maxarenas_var name look like one:
 * some arenas, each of 1 MiB with 63 or 64 pools, none inconsistent? */
static int check_table(int memfd, uint64_t arenas_var, uint64_t maxarenas_var)
{
	uint8_t entries[CHECK_ENTRIES * PY_ARENA_OBJECT_SIZE];
	uint64_t table = 0;
	uint32_t max = 0, n, used = 0;
	int err;

	err = proc_mem_read(memfd, maxarenas_var, &max, sizeof(max));
	if (!err)
		err = proc_mem_read(memfd, arenas_var, &table, sizeof(table));
	if (err)
		return err;
	if (!max || max > MAXARENAS_MAX || !table)
		return -ENOENT;
	n = max < CHECK_ENTRIES ? max : CHECK_ENTRIES;
	err = proc_mem_read(memfd, table, entries, (size_t)n * PY_ARENA_OBJECT_SIZE);
	if (err)
		return err == -ESRCH ? err : -ENOENT;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = entries + (size_t)i * PY_ARENA_OBJECT_SIZE;
		uint64_t address, pool_address;
		uint32_t nfree, ntotal;

		memcpy(&address, e, 8);
		memcpy(&pool_address, e + 8, 8);
		memcpy(&nfree, e + 16, 4);
		memcpy(&ntotal, e + 20, 4);
		if (!address)
			continue;
		if ((ntotal != 63 && ntotal != 64) || nfree > ntotal || pool_address < address ||
		    pool_address > address + PY_ARENA_SIZE)
			return -ENOENT;
		used++;
	}
	return used ? 0 : -ENOENT;
}

/* 3.11: the variables by name, else from _Py_GetAllocatedBlocks' code. */
static int find_311(pid_t pid, int memfd, const struct py_target *t, int fd,
		    const uint64_t value[SYM_N], const bool found[SYM_N],
		    struct py_arenas_ref *out)
{
	uint64_t fn, size, off, maxv = 0, ptrs[MAX_CANDIDATES];
	uint8_t code[DECODE_BYTES];
	struct elf_symbols *es;
	ssize_t got;
	int n, err;

	if (found[SYM_ARENAS] && found[SYM_MAXARENAS] &&
	    !check_table(memfd, t->lib_bias + value[SYM_ARENAS],
			 t->lib_bias + value[SYM_MAXARENAS])) {
		out->arenas_var = t->lib_bias + value[SYM_ARENAS];
		out->maxarenas_var = t->lib_bias + value[SYM_MAXARENAS];
		out->how = "symbols";
		return 0;
	}
	err = elf_symbols_open(fd, &es);
	if (err)
		return err;
	err = elf_symbols_find(es, "_Py_GetAllocatedBlocks", &fn, &size);
	if (!err)
		err = elf_symbols_vaddr_to_offset(es, fn, &off);
	elf_symbols_close(es);
	if (err)
		return -ENOENT;
	got = pread(fd, code, sizeof(code), (off_t)off);
	if (got <= 0)
		return -ENOENT;
	n = py_arenas_decode_loads(code, (size_t)got, fn, &maxv, ptrs, MAX_CANDIDATES);
	for (int i = 0; i < n; i++) {
		err = check_table(memfd, t->lib_bias + ptrs[i], t->lib_bias + maxv);
		if (err == -ESRCH)
			return err;
		if (!err) {
			out->arenas_var = t->lib_bias + ptrs[i];
			out->maxarenas_var = t->lib_bias + maxv;
			out->how = "code";
			return 0;
		}
	}
	(void)pid;
	return -ENOENT;
}

/* 3.12, 3.13: in the main interpreter's state. */
static int find_state(int memfd, const struct py_target *t, struct py_arenas_ref *out)
{
	uint64_t interp = 0, state;
	int err;

	err = proc_mem_read(memfd, t->off.runtime_addr + t->off.runtime_interpreters_head,
			    &interp, sizeof(interp));
	if (err)
		return err;
	if (!interp)
		return -ENOENT;
	if (t->minor == 12) {
		state = interp + OBMALLOC_IN_INTERP_312;
	} else {
		err = proc_mem_read(memfd, interp + OBMALLOC_PTR_IN_INTERP_313, &state,
				    sizeof(state));
		if (err)
			return err == -ESRCH ? err : -ENOENT;
	}
	err = check_table(memfd, state + MGMT_ARENAS, state + MGMT_MAXARENAS);
	if (err)
		return err;
	out->arenas_var = state + MGMT_ARENAS;
	out->maxarenas_var = state + MGMT_MAXARENAS;
	out->how = "interpreter state";
	return 0;
}

int py_arenas_find(pid_t pid, const struct py_target *t, struct py_arenas_ref *out,
		   char *why, size_t why_len)
{
	uint64_t value[SYM_N] = { 0 };
	bool found[SYM_N] = { false };
	int fd, memfd, err;

	memset(out, 0, sizeof(*out));
	fd = python_open_lib(pid, t->lib_path);
	if (fd < 0)
		return why_fail(fd == -ESRCH ? fd : -ENOENT, why, why_len,
				"cannot open %s: %s", t->lib_path, strerror(-fd));
	find_data_symbols(fd, value, found);
	if (!found[SYM_TYPE]) {
		close(fd);
		return why_fail(-ENOENT, why, why_len, "%s does not define PyType_Type",
				t->lib_path);
	}
	out->type_type = t->lib_bias + value[SYM_TYPE];
	memfd = proc_mem_open(pid);
	if (memfd < 0) {
		close(fd);
		return memfd;
	}
	err = t->minor == 11 ? find_311(pid, memfd, t, fd, value, found, out) :
			       find_state(memfd, t, out);
	close(memfd);
	close(fd);
	if (err == -ESRCH)
		return err;
	if (err)
		return why_fail(-ENOENT, why, why_len, "Python %d.%d.%d: pymalloc's arena table "
				"was not found in %s", t->major, t->minor, t->micro, t->lib_path);
	return 0;
}
