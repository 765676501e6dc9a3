// SPDX-License-Identifier: MIT
/*
 * Output files: a temporary in the final name's directory, renamed over
 * it (see out_file.h for the rules). Everything is done relative to an
 * O_PATH fd of that directory, taken once, so that renaming or replacing
 * a directory of the path afterwards changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "out_file.h"
#include "util/why.h"

struct out_file {
	enum out_file_mode mode;
	char *path;
	char *what;
	char *label;		/* what and path, for people */
	char *name;		/* the final name, in dirfd */
	int dirfd;		/* -1 when written in place */
	char tmp[NAME_MAX + 1];	/* the temporary being written, "" if none */
	FILE *fp;
	bool in_place;		/* a device, FIFO, terminal, or through a trusted symlink */
	bool regular_in_place;	/* ... that is a regular file: truncated when published */
	bool wrapped;		/* a stream memtrace does not own */
	bool published;
	bool begun;		/* a version was begun (REWRITE) */
	mode_t perms;		/* of the temporaries: the replaced file's */
	int err;
};

void out_file_fail(struct out_file *f, int err)
{
	if (f && !f->err && err)
		f->err = err < 0 ? err : -EIO;
}

int out_file_error(const struct out_file *f)
{
	return f ? f->err : 0;
}

const char *out_file_name(const struct out_file *f)
{
	return f->label;
}

/* fflush and ferror as one negative errno. */
static int flush_error(FILE *fp)
{
	errno = 0;
	if (fflush(fp))
		return errno ? -errno : -EIO;
	return ferror(fp) ? -EIO : 0;
}

/* A new temporary next to the final name, opened as f->fp. */
static int make_temp(struct out_file *f)
{
	static unsigned int counter;
	struct timespec ts;
	int fd = -1;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
		unsigned long r = (unsigned long)ts.tv_nsec * 2654435761u + counter++ +
				  (unsigned long)getpid() * 40503u;

		/* Hidden, and short enough whatever the final name's length. */
		snprintf(f->tmp, sizeof(f->tmp), ".%.200s.%06lx.memtrace-tmp", f->name,
			 r & 0xffffff);
		fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0666);
		if (fd < 0 && errno != EEXIST) {
			int err = -errno;

			f->tmp[0] = '\0';
			return err;
		}
	}
	if (fd < 0) {
		f->tmp[0] = '\0';
		return -EEXIST;
	}
	if (f->perms)
		fchmod(fd, f->perms);
	f->fp = fdopen(fd, "w");
	if (!f->fp) {
		int err = -errno;

		close(fd);
		unlinkat(f->dirfd, f->tmp, 0);
		f->tmp[0] = '\0';
		return err;
	}
	return 0;
}

static void drop_temp(struct out_file *f)
{
	if (f->fp)
		fclose(f->fp);
	f->fp = NULL;
	if (f->tmp[0])
		unlinkat(f->dirfd, f->tmp, 0);
	f->tmp[0] = '\0';
}

/* Is a symlink with these attributes, in the directory dirfd, one that
 * nobody but memtrace's user or root can have put there? */
static bool trusted_link(int dirfd, const struct stat *st)
{
	struct stat dir;
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me)
		return false;
	if (fstat(dirfd, &dir))
		return false;
	return (dir.st_uid == 0 || dir.st_uid == me) && !(dir.st_mode & (S_IWGRP | S_IWOTH));
}

/* Open the final name itself for writing; nothing is truncated yet. */
static int open_in_place(struct out_file *f, bool follow, char *why, size_t why_len)
{
	struct stat st;
	int fd, flags = O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW);

	fd = openat(f->dirfd, f->name, flags);
	if (fd < 0) {
		if (errno == ENXIO)
			return why_fail(-ENXIO, why, why_len, "cannot write %s '%s': no process "
					"reads it", f->what, f->path);
		return why_fail(-errno, why, why_len, "cannot write %s '%s': %s", f->what,
				f->path, strerror(errno));
	}
	if (fstat(fd, &st) || S_ISBLK(st.st_mode)) {
		close(fd);
		return why_fail(-EPERM, why, why_len, "cannot write %s '%s': a block device",
				f->what, f->path);
	}
	/* Writes may wait from now on, as on any pipe or terminal. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	f->fp = fdopen(fd, "w");
	if (!f->fp) {
		int err = -errno;

		close(fd);
		return why_fail(err, why, why_len, "cannot write %s '%s': %s", f->what,
				f->path, strerror(-err));
	}
	f->in_place = true;
	f->regular_in_place = S_ISREG(st.st_mode);
	return 0;
}

/* Decide how to write the final name, from what is there now. */
static int prepare(struct out_file *f, char *why, size_t why_len)
{
	struct stat st;
	int err;

	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			return why_fail(-errno, why, why_len, "cannot write %s '%s': %s",
					f->what, f->path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		/* The new file gets the permissions of the one it replaces. */
		f->perms = st.st_mode & 0777;
	} else if (S_ISLNK(st.st_mode)) {
		if (trusted_link(f->dirfd, &st))
			return open_in_place(f, true, why, why_len);
		/* Anyone's: replaced by the rename, never followed. */
	} else if (S_ISDIR(st.st_mode)) {
		return why_fail(-EISDIR, why, why_len, "cannot write %s '%s': a directory",
				f->what, f->path);
	} else if (S_ISBLK(st.st_mode)) {
		return why_fail(-EPERM, why, why_len, "cannot write %s '%s': a block device",
				f->what, f->path);
	} else if (st.st_uid == 0 || st.st_uid == geteuid()) {
		return open_in_place(f, false, why, why_len);	/* /dev/null, a FIFO */
	} else {
		return why_fail(-EPERM, why, why_len, "cannot write %s '%s': it belongs to "
				"user %u and is not a regular file; memtrace writes in place "
				"only what root or its own user owns", f->what, f->path,
				(unsigned int)st.st_uid);
	}
	err = make_temp(f);
	if (err)
		return why_fail(err, why, why_len, "cannot write %s '%s': %s", f->what,
				f->path, strerror(-err));
	return 0;
}

int out_file_open(struct out_file **out, const char *path, const char *what,
		  enum out_file_mode mode, char *why, size_t why_len)
{
	struct out_file *f = calloc(1, sizeof(*f));
	const char *slash = strrchr(path, '/');
	char *dir;
	int err;

	*out = NULL;
	if (!f)
		return why_fail(-ENOMEM, why, why_len, "out of memory");
	f->mode = mode;
	f->dirfd = -1;
	f->path = strdup(path);
	f->what = strdup(what);
	f->name = strdup(slash ? slash + 1 : path);
	if (asprintf(&f->label, "%s '%s'", what, path) < 0)
		f->label = NULL;
	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!f->path || !f->what || !f->name || !f->label || !dir) {
		free(dir);
		out_file_close(f);
		return why_fail(-ENOMEM, why, why_len, "out of memory");
	}
	if (!f->name[0] || !strcmp(f->name, ".") || !strcmp(f->name, "..")) {
		free(dir);
		err = why_fail(-EISDIR, why, why_len, "cannot write %s '%s': a directory",
			       what, path);
		out_file_close(f);
		return err;
	}
	f->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (f->dirfd < 0) {
		err = why_fail(-errno, why, why_len, "cannot write %s '%s': %s", what, path,
			       strerror(errno));
		out_file_close(f);
		return err;
	}
	err = prepare(f, why, why_len);
	if (err) {
		out_file_close(f);
		return err;
	}
	*out = f;
	return 0;
}

struct out_file *out_file_wrap(FILE *stream, const char *what)
{
	struct out_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->what = strdup(what);
	f->label = strdup(what);
	if (!f->what || !f->label) {
		free(f->what);
		free(f->label);
		free(f);
		return NULL;
	}
	f->mode = OUT_FILE_STREAM;
	f->dirfd = -1;
	f->fp = stream;
	f->in_place = f->wrapped = f->published = true;
	return f;
}

int out_file_publish(struct out_file *f)
{
	if (!f || f->published)
		return out_file_error(f);
	f->published = true;
	if (f->mode == OUT_FILE_REWRITE || f->err)
		return f->err;
	if (f->in_place) {
		/* Only now is the old content given up. */
		if (f->regular_in_place && ftruncate(fileno(f->fp), 0))
			out_file_fail(f, -errno);
		return f->err;
	}
	if (renameat(f->dirfd, f->tmp, f->dirfd, f->name))
		out_file_fail(f, -errno);
	else
		f->tmp[0] = '\0';
	return f->err;
}

FILE *out_file_begin(struct out_file *f)
{
	int err;

	if (!f || f->err)
		return NULL;
	f->begun = true;
	if (f->mode == OUT_FILE_STREAM || f->fp) {
		if (f->mode == OUT_FILE_REWRITE && f->regular_in_place &&
		    (fseek(f->fp, 0, SEEK_SET) || ftruncate(fileno(f->fp), 0))) {
			out_file_fail(f, -errno);
			return NULL;
		}
		return f->fp;
	}
	err = make_temp(f);
	if (err) {
		out_file_fail(f, err);
		return NULL;
	}
	return f->fp;
}

int out_file_commit(struct out_file *f)
{
	int err;

	if (!f)
		return 0;
	/* Only a version begun is put in place: the temporary made at open
	 * stays aside until a report is written to it. */
	if (!f->fp || (f->mode == OUT_FILE_REWRITE && !f->begun))
		return f->err;
	f->begun = false;
	err = flush_error(f->fp);
	out_file_fail(f, err);
	if (f->mode == OUT_FILE_STREAM || f->in_place)
		return f->err;
	/* A version is complete: replace the last one with it. */
	if (fclose(f->fp) && !err)
		out_file_fail(f, -errno);
	f->fp = NULL;
	if (!f->err && renameat(f->dirfd, f->tmp, f->dirfd, f->name))
		out_file_fail(f, -errno);
	if (f->err)
		unlinkat(f->dirfd, f->tmp, 0);
	f->tmp[0] = '\0';
	return f->err;
}

int out_file_close(struct out_file *f)
{
	int err;

	if (!f)
		return 0;
	if (f->fp) {
		out_file_fail(f, flush_error(f->fp));
		if (f->wrapped) {
			/* Not ours to close. */
		} else if (f->in_place || (f->mode == OUT_FILE_STREAM && f->published)) {
			if (fclose(f->fp))
				out_file_fail(f, -errno);
		} else {
			drop_temp(f);	/* never published, or a version never committed */
		}
		f->fp = NULL;
	}
	if (f->tmp[0] && f->dirfd >= 0)
		unlinkat(f->dirfd, f->tmp, 0);
	if (f->dirfd >= 0)
		close(f->dirfd);
	err = f->err;
	free(f->path);
	free(f->what);
	free(f->label);
	free(f->name);
	free(f);
	return err;
}
