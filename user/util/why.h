/* SPDX-License-Identifier: MIT */
/*
 * Errors for people. Functions that can fail in ways a user must act on
 * take a `why` buffer: they return a negative errno and write one line
 * saying what went wrong, which the caller that knows whom to tell prints.
 */
#ifndef MEMTRACE_WHY_H
#define MEMTRACE_WHY_H

#include <stddef.h>

/* Write the reason into why (when len > 0) and return err. */
int why_fail(int err, char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Print "memtrace: " and the formatted line to stderr, escaped as
 * util/escape.h says: the lines name files, programs and symbols of the
 * traced process, which may hold terminal controls.
 */
void why_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* MEMTRACE_WHY_H */
