// SPDX-License-Identifier: MIT
/* report/out_file.c: output files that cannot be used to overwrite others. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "report/out_file.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_out_file.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(out_file, .init = make_dir, .fini = remove_dir);

static const char *at(const char *name)
{
	static char path[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* How many entries the directory holds (temporaries left behind show). */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void report(struct out_file *f, const char *text)
{
	FILE *fp = out_file_begin(f);

	cr_assert_not_null(fp);
	fputs(text, fp);
	cr_assert_eq(out_file_commit(f), 0);
}

Test(out_file, stream_takes_its_name_when_published)
{
	struct out_file *f;
	char why[256];

	write_file(at("out.json"), "old run\n");
	cr_assert_eq(out_file_open(&f, at("out.json"), "--json", OUT_FILE_STREAM, why,
				   sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(slurp(at("out.json")), "old run\n");
	cr_assert_eq(out_file_publish(f), 0);
	report(f, "line 1\n");
	report(f, "line 2\n");
	cr_assert_str_eq(slurp(at("out.json")), "line 1\nline 2\n");
	cr_assert_eq(out_file_close(f), 0);
	cr_assert_eq(entries(), 1);
}

Test(out_file, never_published_leaves_the_old_file)
{
	struct out_file *f, *g;
	char why[256];

	write_file(at("out.txt"), "old\n");
	write_file(at("out.folded"), "old folded\n");
	cr_assert_eq(out_file_open(&f, at("out.txt"), "-o", OUT_FILE_STREAM, why,
				   sizeof(why)), 0);
	cr_assert_eq(out_file_open(&g, at("out.folded"), "--folded", OUT_FILE_REWRITE, why,
				   sizeof(why)), 0);
	cr_assert_eq(out_file_close(f), 0);
	/* A REWRITE file flushed at exit with no version begun. */
	cr_assert_eq(out_file_commit(g), 0);
	cr_assert_eq(out_file_close(g), 0);
	cr_assert_str_eq(slurp(at("out.txt")), "old\n");
	cr_assert_str_eq(slurp(at("out.folded")), "old folded\n");
	cr_assert_eq(entries(), 2);
}

Test(out_file, rewrite_replaces_whole_versions)
{
	struct out_file *f;
	struct stat st;
	char why[256];

	write_file(at("victim"), "precious\n");
	/* Symlinks at the final name and at the old temporary name, in a
	 * directory anyone may write, as /tmp (memtrace follows a symlink
	 * only where nobody but root or itself could have put it). */
	cr_assert_eq(chmod(dir, 01777), 0);
	cr_assert_eq(symlink(at("victim"), at("out.folded")), 0);
	cr_assert_eq(symlink(at("victim"), at("out.folded.tmp")), 0);
	cr_assert_eq(out_file_open(&f, at("out.folded"), "--folded", OUT_FILE_REWRITE, why,
				   sizeof(why)), 0);
	cr_assert_eq(out_file_publish(f), 0);
	report(f, "first version, longer\n");
	report(f, "second\n");
	cr_assert_eq(out_file_close(f), 0);
	cr_assert_str_eq(slurp(at("victim")), "precious\n");
	cr_assert_eq(lstat(at("out.folded"), &st), 0);
	cr_assert(S_ISREG(st.st_mode), "the symlink was replaced by a file");
	cr_assert_str_eq(slurp(at("out.folded")), "second\n");
	cr_assert_eq(entries(), 3);	/* victim, out.folded, out.folded.tmp */
}

/* /dev/stdout style: root's symlink in root's own directory is followed. */
Test(out_file, trusted_symlink_is_followed)
{
	struct out_file *f;
	char why[256];

	write_file(at("target"), "old\n");
	cr_assert_eq(symlink(at("target"), at("link")), 0);
	cr_assert_eq(out_file_open(&f, at("link"), "-o", OUT_FILE_STREAM, why, sizeof(why)), 0);
	cr_assert_str_eq(slurp(at("target")), "old\n");	/* nothing before publish */
	cr_assert_eq(out_file_publish(f), 0);
	report(f, "new\n");
	cr_assert_eq(out_file_close(f), 0);
	cr_assert_str_eq(slurp(at("target")), "new\n");
}

Test(out_file, permissions_of_the_replaced_file_are_kept)
{
	struct out_file *f;
	struct stat st;
	char why[256];

	write_file(at("out.json"), "old\n");
	cr_assert_eq(chmod(at("out.json"), 0600), 0);
	cr_assert_eq(out_file_open(&f, at("out.json"), "--json", OUT_FILE_STREAM, why,
				   sizeof(why)), 0);
	cr_assert_eq(out_file_publish(f), 0);
	cr_assert_eq(out_file_close(f), 0);
	cr_assert_eq(stat(at("out.json"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(out_file, devices_in_place_and_errors_remembered)
{
	struct out_file *f;
	char why[256];
	FILE *fp;

	cr_assert_eq(out_file_open(&f, "/dev/null", "-o", OUT_FILE_STREAM, why, sizeof(why)), 0);
	cr_assert_eq(out_file_publish(f), 0);
	report(f, "gone\n");
	cr_assert_eq(out_file_close(f), 0);

	cr_assert_eq(out_file_open(&f, "/dev/full", "--json", OUT_FILE_STREAM, why,
				   sizeof(why)), 0);
	cr_assert_eq(out_file_publish(f), 0);
	fp = out_file_begin(f);
	cr_assert_not_null(fp);
	fputs("does not fit\n", fp);
	cr_assert_eq(out_file_commit(f), -ENOSPC);
	/* Remembered: the next report is not even tried. */
	cr_assert_null(out_file_begin(f));
	cr_assert_eq(out_file_error(f), -ENOSPC);
	cr_assert_str_eq(out_file_name(f), "--json '/dev/full'");
	cr_assert_eq(out_file_close(f), -ENOSPC);
}

Test(out_file, what_cannot_be_written_is_said_at_open)
{
	struct out_file *f;
	char why[256];

	cr_assert_eq(out_file_open(&f, "/nonexistent/dir/out", "-o", OUT_FILE_STREAM, why,
				   sizeof(why)), -ENOENT);
	cr_assert_str_eq(why, "cannot write -o '/nonexistent/dir/out': No such file or directory");
	cr_assert_eq(out_file_open(&f, dir, "--json", OUT_FILE_STREAM, why, sizeof(why)),
		     -EISDIR);
	cr_assert_eq(out_file_open(&f, at("sub/"), "--json", OUT_FILE_STREAM, why, sizeof(why)),
		     -EISDIR);
	cr_assert_eq(entries(), 0);
}

Test(out_file, fifo_without_reader)
{
	struct out_file *f;
	char why[256];

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(out_file_open(&f, at("fifo"), "--json", OUT_FILE_STREAM, why, sizeof(why)),
		     -ENXIO);
	cr_assert(strstr(why, "no process reads it"), "%s", why);
}
