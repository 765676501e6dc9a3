// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the unwind table builder (unwind/unwind_table.c) on
 * any file a traced process could map: its .eh_frame and .debug_frame
 * through libdw, the PLT and signal-frame rules, merging; then the table's
 * invariants, which the BPF unwinder relies on (sorted, strictly
 * increasing PCs), are checked, and every row looked up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_input.h"
#include "unwind/unwind_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct unwind_table t;
	int fd = fuzz_memfd(data, size);

	if (!unwind_table_build(fd, &t)) {
		for (size_t i = 0; i < t.n; i++) {
			if (i && t.rows[i].pc <= t.rows[i - 1].pc)
				abort();	/* the BPF binary search needs this */
			if (t.rows[i].cfa_type > MT_CFA_UNSUPPORTED ||
			    t.rows[i].rbp_type > MT_RBP_UNSUPPORTED)
				abort();
			if (unwind_table_lookup(&t, t.rows[i].pc) != &t.rows[i])
				abort();
		}
		unwind_table_free(&t);
	}
	/* The same file as its own separate debug file: the .debug_frame
	 * path, and the build-ID check between the two. */
	if (!unwind_table_build_debug(fd, fd, &t))
		unwind_table_free(&t);
	close(fd);
	return 0;
}
