/* SPDX-License-Identifier: MIT */
/*
 * Output files (-o, --json, --folded, pictures), written so that nobody
 * can use memtrace, which runs as root, to overwrite a file of their
 * choosing, and so that a reader never sees a half-written file:
 *
 *  - the final name is never opened through a symlink: a regular file (or
 *    nothing) there is replaced by rename() of a temporary created with
 *    O_CREAT | O_EXCL | O_NOFOLLOW in the same directory, so that a symlink
 *    planted at either name is replaced, never followed;
 *  - a non-regular file at the final name (/dev/null, /dev/full, a FIFO, a
 *    terminal) is written in place, but only when it belongs to memtrace's
 *    user or root; so is a symlink (/dev/stdout) that belongs to one of
 *    them in a directory no one else may write;
 *  - nothing at the final name changes before the file is published: a
 *    memtrace that fails to start leaves every existing file as it was;
 *  - the first write error of each file is remembered; the caller reports
 *    it (out_file_error()) and exits non-zero.
 *
 * Use:
 *	out_file_open(&f, path, "--json", OUT_FILE_STREAM, why, len)  at start-up
 *	out_file_publish(f)                   once tracing has started
 *	fp = out_file_begin(f); write to fp; out_file_commit(f)   per report
 *	err = out_file_close(f)               at the end (or on failure)
 */
#ifndef MEMTRACE_OUT_FILE_H
#define MEMTRACE_OUT_FILE_H

#include <stddef.h>
#include <stdio.h>

enum out_file_mode {
	/* Written as it goes (-o, --json): one temporary, renamed into place
	 * by out_file_publish(); every commit flushes. */
	OUT_FILE_STREAM,
	/* A new version at each commit (--folded, pictures): each version is
	 * a temporary renamed over the last one. */
	OUT_FILE_REWRITE,
};

struct out_file;

/*
 * Prepare to write path; what names it for people ("--json"). Checks now
 * that it can be written (the temporary is created), changes nothing at
 * path. Returns 0 with *out, or a negative errno with a line in why.
 */
int out_file_open(struct out_file **out, const char *path, const char *what,
		  enum out_file_mode mode, char *why, size_t why_len);

/* An out_file for a stream memtrace does not own (stdout): written in
 * place, never closed. NULL when out of memory. */
struct out_file *out_file_wrap(FILE *stream, const char *what);

/*
 * Put the file at its name (STREAM: rename the temporary there, or
 * truncate the file written in place; REWRITE: nothing, each commit
 * does). Returns 0 or the error, which is remembered.
 */
int out_file_publish(struct out_file *f);

/*
 * Where to write the next report: the stream (STREAM), or a new version
 * (REWRITE). NULL once the file has failed: the error is remembered.
 */
FILE *out_file_begin(struct out_file *f);

/* End the report begun: flush (STREAM), or flush, close and rename into
 * place (REWRITE). Returns 0 or the first error of this file. */
int out_file_commit(struct out_file *f);

/* Remember an error a writer met on the stream (a negative errno); the
 * first one counts. */
void out_file_fail(struct out_file *f, int err);

/* The first error this file met (a negative errno), or 0. */
int out_file_error(const struct out_file *f);

/* The file for people: "--json 'out.json'", "standard output". */
const char *out_file_name(const struct out_file *f);

/*
 * Finish and free f (NULL is fine). A file never published (memtrace did
 * not start) has its temporary removed and leaves path as it was. Returns
 * the first error of this file, or 0.
 */
int out_file_close(struct out_file *f);

#endif /* MEMTRACE_OUT_FILE_H */
