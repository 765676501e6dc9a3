// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "processes.h"
#include "util/vec.h"

int processes_add(struct processes *ps, pid_t pid, struct traced **out)
{
	struct traced *t;
	int err = vec_reserve(&ps->v, &ps->cap, ps->n + 1, sizeof(*ps->v));

	if (err)
		return err;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->pid = pid;
	t->pidfd = -1;
	ps->v[ps->n++] = t;
	*out = t;
	return 0;
}

struct traced *processes_find(const struct processes *ps, uint32_t pid)
{
	for (size_t i = 0; i < ps->n; i++)
		if ((uint32_t)ps->v[i]->pid == pid)
			return ps->v[i];
	return NULL;
}

bool processes_all_exited(const struct processes *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!ps->v[i]->exited)
			return false;
	return ps->n > 0;
}

void processes_free(struct processes *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		if (ps->v[i]->pidfd >= 0)
			close(ps->v[i]->pidfd);
		alloc_target_release(&ps->v[i]->alloc);
		python_process_free(&ps->v[i]->py);
		free(ps->v[i]);
	}
	free(ps->v);
	*ps = (struct processes){ 0 };
}
