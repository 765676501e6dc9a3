// SPDX-License-Identifier: MIT
/*
 * Work beside the caller, on a thread of its own (see side_task.h).
 */
#include "side_task.h"

static void *side_task_main(void *arg)
{
	struct side_task *t = arg;

	t->run(t->arg);
	return NULL;
}

void side_task_start(struct side_task *t, void (*run)(void *arg), void *arg)
{
	*t = (struct side_task){ .run = run, .arg = arg };
	t->threaded = !pthread_create(&t->thread, NULL, side_task_main, t);
	if (!t->threaded)
		run(arg);
}

void side_task_finish(struct side_task *t)
{
	if (t->threaded)
		pthread_join(t->thread, NULL);
	t->threaded = false;
}
