// SPDX-License-Identifier: MIT
/*
 * One uprobe on memtrace's own entry point, to take the first install's
 * grace period early (see uprobe_warmup.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

#include "proc/proc_maps.h"
#include "uprobe_warmup.h"

#define UPROBE_PMU_TYPE "/sys/bus/event_source/devices/uprobe/type"

/* The file offset of memtrace's entry point in its executable, or -1. */
static int64_t entry_offset(void)
{
	uint64_t entry = getauxval(AT_ENTRY);
	const struct proc_map *m;
	struct proc_maps maps;
	int64_t off = -1;

	if (!entry || proc_maps_read(getpid(), &maps))
		return -1;
	m = proc_maps_find(&maps, entry);
	if (m && m->inode && m->perms[2] == 'x')
		off = (int64_t)(m->pgoff + (entry - m->start));
	proc_maps_free(&maps);
	return off;
}

static int uprobe_pmu_type(void)
{
	FILE *f = fopen(UPROBE_PMU_TYPE, "re");
	int type = -1;

	if (f) {
		if (fscanf(f, "%d", &type) != 1)
			type = -1;
		fclose(f);
	}
	return type;
}

static void install(void *arg)
{
	struct uprobe_warmup *w = arg;
	int64_t off = entry_offset();
	int type = uprobe_pmu_type();
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = type,
		.config1 = (uint64_t)(uintptr_t)"/proc/self/exe",
		.config2 = off,
		.sample_period = 1,
	};

	if (off < 0 || type < 0)
		return;
	/* For this process only: no other process gets the breakpoint. */
	w->fd = syscall(SYS_perf_event_open, &a, getpid(), -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static void uninstall(void *arg)
{
	struct uprobe_warmup *w = arg;

	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

void uprobe_warmup_start(struct uprobe_warmup *w)
{
	*w = (struct uprobe_warmup){ .fd = -1 };
	if (getenv("MEMTRACE_NO_WARMUP"))
		return;
	w->started = true;
	side_task_start(&w->task, install, w);
}

void uprobe_warmup_end(struct uprobe_warmup *w)
{
	if (!w->started)
		return;
	side_task_finish(&w->task);
	side_task_start(&w->task, uninstall, w);
}

void uprobe_warmup_free(struct uprobe_warmup *w)
{
	if (!w->started)
		return;
	side_task_finish(&w->task);
	uninstall(w);
	w->started = false;
}
