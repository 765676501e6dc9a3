/* SPDX-License-Identifier: MIT */
/*
 * The interpreters the Python tests run (Debian's python3.11, pyenv's
 * 3.11 to 3.13), and how a test starts a helper script under one and
 * reads what the script says of itself (tests/progs/py/codeinfo.py: its
 * version, thread ids and, for a set of code objects, id(), co_qualname,
 * co_filename, co_firstlineno and the line of every code unit). Included
 * by one test file at a time.
 */
#ifndef MEMTRACE_TEST_INTERPS_H
#define MEMTRACE_TEST_INTERPS_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python/python_detect.h"
#include "python/python_symbols.h"
#include "memtrace_events.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Scripts, relative to this file (tests run from the repo root). */
#define PY_PROGS_DIR "/../../progs/py/"

/* Arrays, not pointers: Criterion runs each test in a new process, where
 * pointers into this one's memory mean nothing. */
struct interp {
	char label[32];
	char pyenv_version[16];		/* "": path is absolute */
	char path[64];			/* or the binary under versions/X/bin */
};

static struct interp interps[] = {
	{ "debian-3.11", "", "/usr/bin/python3.11" },
	{ "pyenv-3.11.7", "3.11.7", "python3.11" },
	{ "pyenv-3.12.1", "3.12.1", "python3.12" },
	{ "pyenv-3.13.0", "3.13.0", "python3.13" },
};

/* A code object as the interpreter describes it. */
struct expect_code {
	uint64_t id;
	int firstlineno;
	char *qualname;
	char *filename;
	int *lines;		/* per code unit, 0 where Python says None */
	size_t nlines;
};

struct truth {
	int major, minor, micro;
	long main_tid, worker_tid;
	struct expect_code *codes;
	size_t ncodes;
	uint64_t wait_code, module_code;
	int wait_line, module_line;
	bool noreuse;
};

struct child {
	pid_t pid;
	int to_child;
	FILE *from_child;
};

/*
 * A test stuck on a silent child ends with SIGALRM. Not Criterion's
 * .timeout: its bookkeeping leaks, and LeakSanitizer fails the run.
 */
static inline void arm_watchdog(void)
{
	alarm(120);
}


static inline void script_path(const char *name, char *out, size_t len)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dir = slash ? (int)(slash - file) : 1;

	snprintf(out, len, "%.*s%s%s", dir, slash ? file : ".", PY_PROGS_DIR, name);
}

static inline void pyenv_root(char *out, size_t len)
{
	const char *env = getenv("PYENV_ROOT");
	FILE *p;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return;
	}
	out[0] = '\0';
	p = popen("pyenv root 2>/dev/null", "r");
	if (p) {
		if (fgets(out, (int)len, p))
			out[strcspn(out, "\n")] = '\0';
		pclose(p);
	}
	if (!out[0])
		snprintf(out, len, "%s/.pyenv", getenv("HOME") ? getenv("HOME") : "/root");
}

/* The interpreter's binary, or a skipped test when it is not installed. */
static inline void python_path(const struct interp *ip, char *out, size_t len)
{
	char root[PATH_MAX];

	if (!ip->pyenv_version[0]) {
		snprintf(out, len, "%s", ip->path);
	} else {
		pyenv_root(root, sizeof(root));
		/* Checked: inlined, the compiler sees it may not fit. */
		cr_assert_lt(snprintf(out, len, "%s/versions/%s/bin/%s", root,
				      ip->pyenv_version, ip->path), (int)len,
			     "%s: the path is too long", ip->label);
	}
	if (access(out, X_OK)) {
		cr_log_warn("%s: %s is not installed, skipped", ip->label, out);
		cr_skip_test("%s is not installed", out);
	}
}

static inline void spawn(struct child *c, const char *python, const char *script)
{
	int in[2], out[2];

	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		/* No __pycache__ in the source tree; UTF-8 file names
		 * whatever the locale. */
		setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
		setenv("PYTHONUTF8", "1", 1);
		execl(python, python, script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to_child = in[1];
	c->from_child = fdopen(out[0], "r");
	cr_assert_not_null(c->from_child);
}

static inline int stop(struct child *c)
{
	int status = 0;

	if (c->to_child >= 0)
		close(c->to_child);
	c->to_child = -1;
	if (c->from_child)
		fclose(c->from_child);
	c->from_child = NULL;
	waitpid(c->pid, &status, 0);
	return status;
}

static inline char *from_hex(const char *hex)
{
	size_t n = strlen(hex) / 2;
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		cr_assert_eq(sscanf(hex + 2 * i, "%2x", &b), 1, "bad hex %s", hex);
		s[i] = (char)b;
	}
	s[n] = '\0';
	return s;
}

static inline void parse_lines(struct expect_code *c, char *rest)
{
	char *save = NULL;
	size_t cap = 64;

	c->lines = malloc(cap * sizeof(*c->lines));
	cr_assert_not_null(c->lines);
	for (char *tok = strtok_r(rest, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save)) {
		if (c->nlines == cap) {
			cap *= 2;
			c->lines = realloc(c->lines, cap * sizeof(*c->lines));
			cr_assert_not_null(c->lines);
		}
		c->lines[c->nlines++] = strcmp(tok, "None") ? atoi(tok) : 0;
	}
}

/* The script's records up to its next "ready". */
static inline void read_truth(struct child *c, struct truth *t)
{
	char *line = NULL, q[4096], f[4096];
	size_t cap = 0;

	while (getline(&line, &cap, c->from_child) > 0) {
		struct expect_code *e;
		unsigned long long id;
		char name[32];
		long tid;
		int n;

		if (!strcmp(line, "ready\n")) {
			free(line);
			return;
		}
		if (sscanf(line, "version %d %d %d", &t->major, &t->minor, &t->micro) == 3)
			continue;
		if (sscanf(line, "thread %31s %ld", name, &tid) == 2) {
			*(strcmp(name, "main") ? &t->worker_tid : &t->main_tid) = tid;
			continue;
		}
		if (sscanf(line, "wait %llu %d", &id, &t->wait_line) == 2) {
			t->wait_code = id;
			continue;
		}
		if (sscanf(line, "module %llu %d", &id, &t->module_line) == 2) {
			t->module_code = id;
			continue;
		}
		if (!strcmp(line, "noreuse\n")) {
			t->noreuse = true;
			continue;
		}
		if (!strncmp(line, "lines", 5)) {
			cr_assert_gt(t->ncodes, 0);
			parse_lines(&t->codes[t->ncodes - 1], line + 5);
			continue;
		}
		cr_assert_eq(sscanf(line, "code %llu %d %4095s %4095s", &id, &n, q, f), 4,
			     "unexpected line from the script: %s", line);
		t->codes = realloc(t->codes, (t->ncodes + 1) * sizeof(*t->codes));
		cr_assert_not_null(t->codes);
		e = &t->codes[t->ncodes++];
		*e = (struct expect_code){ .id = id, .firstlineno = n,
					   .qualname = from_hex(q), .filename = from_hex(f) };
	}
	free(line);
	cr_assert_fail("the script ended before saying it was ready");
}

static inline void free_truth(struct truth *t)
{
	for (size_t i = 0; i < t->ncodes; i++) {
		free(t->codes[i].qualname);
		free(t->codes[i].filename);
		free(t->codes[i].lines);
	}
	free(t->codes);
	memset(t, 0, sizeof(*t));
}

/* Start a script under the interpreter, up to its first "ready". */
static inline void start(const struct interp *ip, const char *script,
			 struct child *c, struct truth *t)
{
	char python[PATH_MAX], path[PATH_MAX];

	python_path(ip, python, sizeof(python));
	script_path(script, path, sizeof(path));
	cr_assert_eq(access(path, R_OK), 0, "no %s", path);
	memset(t, 0, sizeof(*t));
	spawn(c, python, path);
	read_truth(c, t);
}

static inline void detect_ok(pid_t pid, struct py_target *t)
{
	char why[256];
	int err = python_detect(pid, t, why, sizeof(why));

	cr_assert_eq(err, 0, "python_detect: %d (%s)", err, why);
	cr_assert_str_empty(why);
}

/* A frame as the walker records it when deaths are not watched. */
static inline int resolve(struct py_symbols *s, pid_t pid, const struct py_target *t,
			  uint64_t code, int32_t instr, struct py_location *loc)
{
	struct mt_py_frame f = { .code = code, .instr = instr };

	return py_symbols_resolve(s, pid, t, &f, loc);
}

static inline bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

#endif /* MEMTRACE_TEST_INTERPS_H */
