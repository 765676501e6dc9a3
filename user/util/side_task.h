/* SPDX-License-Identifier: MIT */
/*
 * Work that runs beside the caller: run(arg) on a thread of its own, while
 * the caller goes on, until side_task_finish(). Where no thread can be
 * started it runs at once in the caller's, so callers need not care which.
 * Start-up uses these to keep the machine's CPUs busy while the verifier
 * checks a program on one of them.
 *
 *	struct side_task t;
 *
 *	side_task_start(&t, load_something, &args);
 *	... other work ...
 *	side_task_finish(&t);		(args now hold the result)
 *
 * The struct must stay where it is until side_task_finish().
 */
#ifndef MEMTRACE_SIDE_TASK_H
#define MEMTRACE_SIDE_TASK_H

#include <pthread.h>
#include <stdbool.h>

struct side_task {
	void (*run)(void *arg);
	void *arg;
	pthread_t thread;
	bool threaded;		/* on a thread not joined yet */
};

void side_task_start(struct side_task *t, void (*run)(void *arg), void *arg);

/* Wait until run() has returned; at once if it ran in the caller's thread,
 * or if it was waited for already. */
void side_task_finish(struct side_task *t);

#endif /* MEMTRACE_SIDE_TASK_H */
