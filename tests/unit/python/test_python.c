// SPDX-License-Identifier: MIT
/*
 * Python detection and code object resolution, checked against what each
 * interpreter on the machine says about itself: a helper script
 * (tests/progs/py/codeinfo.py) prints its version, thread ids and, for a
 * set of code objects, id(), co_qualname, co_filename, co_firstlineno and
 * the line of every code unit; the tests read the same from its memory.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc_maps.h"
#include "proc/proc_mem.h"
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
static void arm_watchdog(void)
{
	alarm(120);
}

TestSuite(python, .init = arm_watchdog);

static void script_path(const char *name, char *out, size_t len)
{
	const char *file = __FILE__;
	const char *slash = strrchr(file, '/');
	int dir = slash ? (int)(slash - file) : 1;

	snprintf(out, len, "%.*s%s%s", dir, slash ? file : ".", PY_PROGS_DIR, name);
}

static void pyenv_root(char *out, size_t len)
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
static void python_path(const struct interp *ip, char *out, size_t len)
{
	char root[PATH_MAX];

	if (!ip->pyenv_version[0]) {
		snprintf(out, len, "%s", ip->path);
	} else {
		pyenv_root(root, sizeof(root));
		snprintf(out, len, "%s/versions/%s/bin/%s", root, ip->pyenv_version,
			 ip->path);
	}
	if (access(out, X_OK)) {
		cr_log_warn("%s: %s is not installed, skipped", ip->label, out);
		cr_skip_test("%s is not installed", out);
	}
}

static void spawn(struct child *c, const char *python, const char *script)
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

static int stop(struct child *c)
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

static char *from_hex(const char *hex)
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

static void parse_lines(struct expect_code *c, char *rest)
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
static void read_truth(struct child *c, struct truth *t)
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

static void free_truth(struct truth *t)
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
static void start(const struct interp *ip, const char *script, struct child *c,
		  struct truth *t)
{
	char python[PATH_MAX], path[PATH_MAX];

	python_path(ip, python, sizeof(python));
	script_path(script, path, sizeof(path));
	cr_assert_eq(access(path, R_OK), 0, "no %s", path);
	memset(t, 0, sizeof(*t));
	spawn(c, python, path);
	read_truth(c, t);
}

static void detect_ok(pid_t pid, struct py_target *t)
{
	char why[256];
	int err = python_detect(pid, t, why, sizeof(why));

	cr_assert_eq(err, 0, "python_detect: %d (%s)", err, why);
	cr_assert_str_empty(why);
}

/* A frame as the walker records it when deaths are not watched. */
static int resolve(struct py_symbols *s, pid_t pid, const struct py_target *t,
		   uint64_t code, int32_t instr, struct py_location *loc)
{
	struct mt_py_frame f = { .code = code, .instr = instr };

	return py_symbols_resolve(s, pid, t, &f, loc);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

ParameterizedTestParameters(python, detect)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, detect)
{
	const struct mt_py_offsets *o;
	struct py_target t;
	struct truth truth;
	struct child c;
	char lib[64];

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	o = &t.off;

	cr_assert_eq(t.major, truth.major);
	cr_assert_eq(t.minor, truth.minor);
	cr_assert_eq(t.micro, truth.micro);
	cr_assert_eq(o->version_hex >> 8, (uint32_t)(truth.major << 16 |
						      truth.minor << 8 | truth.micro));
	if (ip->pyenv_version[0]) {
		snprintf(lib, sizeof(lib), "/lib/libpython%d.%d.so.1.0", t.major, t.minor);
		cr_assert(ends_with(t.lib_path, lib), "%s", t.lib_path);
		cr_assert_neq(t.lib_bias, 0, "a shared library is relocated");
	} else {
		cr_assert_str_eq(t.lib_path, ip->path);
	}
	cr_assert_neq(o->runtime_addr, 0);
	cr_assert_neq(t.layout.code_type, 0);
	cr_assert_neq(t.layout.unicode_type, 0);

	/* Every offset below: offsetof() on each version's own headers. */
	if (t.minor == 11) {
		cr_assert_eq(o->tstate_cframe, 56);
		cr_assert_eq(o->cframe_current_frame, 8);
		cr_assert_eq(o->tstate_current_frame, MT_PY_NO_OFFSET);
		cr_assert_eq(o->frame_is_entry, 68);
		cr_assert_eq(o->frame_owner, MT_PY_NO_OFFSET);
		cr_assert_eq(o->none_addr, 0);
	} else if (t.minor == 12) {
		cr_assert_eq(o->tstate_cframe, 56);
		cr_assert_eq(o->cframe_current_frame, 0);
		cr_assert_eq(o->tstate_current_frame, MT_PY_NO_OFFSET);
		cr_assert_eq(o->frame_is_entry, MT_PY_NO_OFFSET);
		cr_assert_eq(o->frame_owner, 70);
		cr_assert_eq(o->none_addr, 0);
	} else {
		/* Read from the process's _Py_DebugOffsets. */
		cr_assert_eq(o->runtime_interpreters_head, 632);
		cr_assert_eq(o->interp_next, 7264);
		cr_assert_eq(o->interp_threads_head, 7344);
		cr_assert_eq(o->tstate_next, 8);
		cr_assert_eq(o->tstate_native_thread_id, 160);
		cr_assert_eq(o->tstate_cframe, MT_PY_NO_OFFSET);
		cr_assert_eq(o->cframe_current_frame, MT_PY_NO_OFFSET);
		cr_assert_eq(o->tstate_current_frame, 72);
		cr_assert_eq(o->frame_code, 0);
		cr_assert_eq(o->frame_previous, 8);
		cr_assert_eq(o->frame_instr, 56);
		cr_assert_eq(o->frame_owner, 70);
		cr_assert_eq(o->frame_is_entry, MT_PY_NO_OFFSET);
		cr_assert_eq(o->code_adaptive, 200);
		cr_assert_eq(o->code_firstlineno, 68);
		cr_assert_neq(o->none_addr, 0);
		cr_assert_eq(t.layout.code_filename, 112);
		cr_assert_eq(t.layout.code_qualname, 128);
		cr_assert_eq(t.layout.code_linetable, 136);
		cr_assert_eq(t.layout.unicode_state, 32);
		cr_assert_eq(t.layout.unicode_ascii_data, 40);
		cr_assert_eq(t.layout.unicode_compact_data, 56);
		cr_assert_eq(t.layout.bytes_size, 16);
		cr_assert_eq(t.layout.bytes_data, 32);
	}
	cr_assert_eq(o->code_adaptive, t.minor == 11 ? 184 : t.minor == 12 ? 192 : 200);
	/* Every frame field fits the walker's one read. */
	cr_assert_eq(o->frame_window, 1);
	cr_assert_neq(t.code_dealloc_offset, 0);
	cr_assert_eq(o->code_firstlineno, t.minor == 11 ? 72 : 68);
	cr_assert_eq(t.layout.unicode_ascii_data, t.minor == 11 ? 48 : 40);
	cr_assert_eq(t.layout.unicode_compact_data, t.minor == 11 ? 72 : 56);
	stop(&c);
	free_truth(&truth);
}

/* One Python frame, as the BPF walker would see it. */
struct frame {
	uint64_t code;
	int32_t instr;
	int owner;		/* -1 where the version has no owner field */
	int is_entry;		/* -1 where the version has no is_entry */
};

static bool read_u64(int fd, uint64_t addr, uint64_t *v)
{
	return proc_mem_read(fd, addr, v, sizeof(*v)) == 0;
}

static bool read_u8(int fd, uint64_t addr, int *v)
{
	uint8_t b;

	if (proc_mem_read(fd, addr, &b, 1))
		return false;
	*v = b;
	return true;
}

/* The thread states of every interpreter, as the BPF walker finds them. */
static size_t thread_states(int fd, const struct py_target *t, uint64_t *ts,
			    long *tids, size_t max)
{
	const struct mt_py_offsets *o = &t->off;
	uint64_t interp = 0, tstate, tid;
	size_t n = 0;

	cr_assert(read_u64(fd, o->runtime_addr + o->runtime_interpreters_head, &interp));
	cr_assert_neq(interp, 0, "no interpreter");
	for (int i = 0; interp && i < 16; i++) {
		cr_assert(read_u64(fd, interp + o->interp_threads_head, &tstate));
		for (; tstate && n < max; n++) {
			cr_assert(read_u64(fd, tstate + o->tstate_native_thread_id, &tid));
			ts[n] = tstate;
			tids[n] = (long)tid;
			cr_assert(read_u64(fd, tstate + o->tstate_next, &tstate));
		}
		cr_assert(read_u64(fd, interp + o->interp_next, &interp));
	}
	return n;
}

/* The frames of a thread, newest first; false if any read fails. */
static bool walk_frames(int fd, const struct py_target *t, uint64_t tstate,
			struct frame *frames, size_t max, size_t *n)
{
	const struct mt_py_offsets *o = &t->off;
	uint64_t frame, cframe, instr;

	*n = 0;
	if (o->tstate_current_frame != MT_PY_NO_OFFSET) {
		if (!read_u64(fd, tstate + o->tstate_current_frame, &frame))
			return false;
	} else {
		if (!read_u64(fd, tstate + o->tstate_cframe, &cframe) ||
		    !read_u64(fd, cframe + o->cframe_current_frame, &frame))
			return false;
	}
	for (; frame && *n < max; (*n)++) {
		struct frame *f = &frames[*n];

		f->owner = f->is_entry = -1;
		if (!read_u64(fd, frame + o->frame_code, &f->code) ||
		    !read_u64(fd, frame + o->frame_instr, &instr))
			return false;
		if (o->frame_owner != MT_PY_NO_OFFSET &&
		    !read_u8(fd, frame + o->frame_owner, &f->owner))
			return false;
		if (o->frame_is_entry != MT_PY_NO_OFFSET &&
		    !read_u8(fd, frame + o->frame_is_entry, &f->is_entry))
			return false;
		f->instr = (int32_t)((int64_t)(instr - (f->code + o->code_adaptive)) / 2);
		if (!read_u64(fd, frame + o->frame_previous, &frame))
			return false;
	}
	return true;
}

static bool is_shim(const struct py_target *t, const struct frame *f)
{
	return f->owner == MT_PY_FRAME_OWNED_BY_CSTACK ||
	       (t->off.none_addr && f->code == t->off.none_addr);
}

/*
 * Check the frames of the script's two threads: the main one blocked in
 * wait_here() called from the module, the worker in worker(). Returns
 * false with a reason while they are not there yet (the script says
 * "ready" just before blocking).
 */
static bool check_threads(int fd, struct py_symbols *s, pid_t pid,
			  const struct py_target *t, const struct truth *truth,
			  char *why, size_t why_len)
{
	uint64_t ts[64];
	long tids[64];
	size_t n = thread_states(fd, t, ts, tids, ARRAY_SIZE(ts));
	bool main_ok = false, worker_ok = false;

	for (size_t i = 0; i < n; i++) {
		struct frame frames[64];
		bool found_worker = false;
		struct py_location loc;
		size_t nf;

		if (tids[i] != truth->main_tid && tids[i] != truth->worker_tid)
			continue;
		if (!walk_frames(fd, t, ts[i], frames, ARRAY_SIZE(frames), &nf)) {
			snprintf(why, why_len, "thread %ld: unreadable frames", tids[i]);
			return false;
		}
		for (size_t k = 0; k < nf; k++) {
			int err;

			if (is_shim(t, &frames[k]))
				continue;
			err = resolve(s, pid, t, frames[k].code,
						 frames[k].instr, &loc);
			if (err) {
				snprintf(why, why_len, "thread %ld frame %zu: %d",
					 tids[i], k, err);
				return false;
			}
			if (!strcmp(loc.qualname, "worker") &&
			    ends_with(loc.filename, "/codeinfo.py"))
				found_worker = true;
		}
		if (tids[i] == truth->worker_tid) {
			worker_ok = found_worker;
			continue;
		}

		/* Main: wait_here, <module>, then the end of this run of the
		 * eval loop: an entry frame (3.11) or a shim frame (3.12+). */
		if (nf < 2 || frames[0].code != truth->wait_code ||
		    frames[1].code != truth->module_code) {
			snprintf(why, why_len, "main: %zu frames, not wait_here, <module>", nf);
			return false;
		}
		cr_assert_eq(resolve(s, pid, t, frames[0].code,
						frames[0].instr, &loc), 0);
		if (loc.line != truth->wait_line) {
			snprintf(why, why_len, "main: at line %d, not %d yet",
				 loc.line, truth->wait_line);
			return false;
		}
		cr_assert_str_eq(loc.qualname, "wait_here");
		cr_assert_eq(resolve(s, pid, t, frames[1].code,
						frames[1].instr, &loc), 0);
		cr_assert_str_eq(loc.qualname, "<module>");
		cr_assert_eq(loc.line, truth->module_line);
		if (t->minor == 11) {
			cr_assert_eq(nf, 2);
			cr_assert_eq(frames[0].is_entry, 0);
			cr_assert_eq(frames[1].is_entry, 1);
		} else {
			cr_assert_eq(nf, 3);
			cr_assert_eq(frames[0].owner, 0);
			cr_assert_eq(frames[1].owner, 0);
			cr_assert_eq(frames[2].owner, MT_PY_FRAME_OWNED_BY_CSTACK);
			if (t->minor >= 13)
				cr_assert_eq(frames[2].code, t->off.none_addr);
		}
		main_ok = true;
	}
	if (!main_ok || !worker_ok) {
		snprintf(why, why_len, "%zu thread states; main %s, worker %s", n,
			 main_ok ? "found" : "not found",
			 worker_ok ? "found" : "not found");
		return false;
	}
	return true;
}

ParameterizedTestParameters(python, thread_states_and_frames)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, thread_states_and_frames)
{
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;
	char why[256] = "";
	bool ok = false;
	int fd;

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	fd = proc_mem_open(c.pid);
	cr_assert_geq(fd, 0);
	for (int tries = 0; tries < 500 && !ok; tries++) {
		ok = check_threads(fd, s, c.pid, &t, &truth, why, sizeof(why));
		if (!ok)
			usleep(10000);
	}
	cr_assert(ok, "%s: %s", ip->label, why);
	close(fd);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

static void expect_location(struct py_symbols *s, pid_t pid,
			    const struct py_target *t,
			    const struct expect_code *e, int32_t instr, int line)
{
	struct py_location loc;
	int err = resolve(s, pid, t, e->id, instr, &loc);

	cr_assert_eq(err, 0, "%s: resolve %d: %d", e->qualname, instr, err);
	cr_assert_str_eq(loc.qualname, e->qualname);
	cr_assert_str_eq(loc.filename, e->filename);
	cr_assert_eq(loc.line, line, "%s instruction %d: line %d, Python says %d",
		     e->qualname, instr, loc.line, line);
}

ParameterizedTestParameters(python, resolves_every_instruction)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, resolves_every_instruction)
{
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;
	size_t checked = 0;
	bool wide = false, latin1 = false, bmp = false, escaped = false;

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_geq(truth.ncodes, 20, "only %zu code objects", truth.ncodes);
	for (size_t i = 0; i < truth.ncodes; i++) {
		const struct expect_code *e = &truth.codes[i];

		cr_assert_gt(e->nlines, 0, "%s: no lines", e->qualname);
		for (size_t k = 0; k < e->nlines; k++)
			expect_location(s, c.pid, &t, e, (int32_t)k, e->lines[k]);
		/* Before the first instruction and past the last: the
		 * function's own line. */
		expect_location(s, c.pid, &t, e, -1, e->firstlineno);
		expect_location(s, c.pid, &t, e, INT32_MIN, e->firstlineno);
		expect_location(s, c.pid, &t, e, (int32_t)e->nlines, e->firstlineno);
		checked += e->nlines;
		wide |= !!strstr(e->qualname, "\xf0\x9f\x98\x80");
		bmp |= !!strstr(e->qualname, "\xce\xa9");
		latin1 |= !!strstr(e->qualname, "\xc3\xb1");
		escaped |= !!strstr(e->filename, "/\xff-");
	}
	cr_assert(wide && bmp && latin1 && escaped, "the script lacks a kind of string");
	cr_log_info("%s: %zu code objects, %zu instructions", ip->label,
		    truth.ncodes, checked);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

/* The same strings for the same code object: served from the cache. */
Test(python, cached_strings_are_stable)
{
	struct py_location a, b;
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 0, &a), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 1, &b), 0);
	cr_assert_eq(a.qualname, b.qualname);
	cr_assert_eq(a.filename, b.filename);
	/* Another code object of the same file shares its file name. */
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[2].id, 0, &b), 0);
	cr_assert_str_eq(truth.codes[1].filename, truth.codes[2].filename);
	cr_assert_eq(a.filename, b.filename);
	/* Forgetting the process keeps the strings. */
	py_symbols_forget(s, c.pid);
	cr_assert_str_eq(a.qualname, truth.codes[1].qualname);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[1].id, 0, &b), 0);
	cr_assert_eq(a.qualname, b.qualname);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

ParameterizedTestParameters(python, reused_address_is_decoded_again)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, python, reused_address_is_decoded_again)
{
	struct truth first, second = { 0 };
	struct py_symbols *s;
	struct py_target t;
	struct child c;

	start(ip, "reuse.py", &c, &first);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(first.ncodes, 1);
	expect_location(s, c.pid, &t, &first.codes[0], 1, first.codes[0].lines[1]);

	cr_assert_eq(write(c.to_child, "\n", 1), 1);
	read_truth(&c, &second);
	if (second.noreuse) {
		cr_log_warn("%s: the script could not reuse the address", ip->label);
		cr_skip_test("no code object at the freed address");
	}
	cr_assert_eq(second.ncodes, 1);
	cr_assert_eq(second.codes[0].id, first.codes[0].id);
	cr_assert_str_neq(second.codes[0].qualname, first.codes[0].qualname);
	for (size_t k = 0; k < second.codes[0].nlines; k++)
		expect_location(s, c.pid, &t, &second.codes[0], (int32_t)k,
				second.codes[0].lines[k]);
	py_symbols_free(s);
	stop(&c);
	free_truth(&first);
	free_truth(&second);
}

/* Death counts as the probes keep them (include/memtrace_python.h). */
static uint64_t *new_gens(void)
{
	uint64_t *g = calloc(MT_PY_GEN_SLOTS, sizeof(*g));

	cr_assert_not_null(g);
	return g;
}

static int resolve_gen(struct py_symbols *s, pid_t pid, const struct py_target *t,
		       uint64_t code, int32_t instr, uint32_t gen, struct py_location *loc)
{
	struct mt_py_frame f = { .code = code, .instr = instr, .gen = gen };

	return py_symbols_resolve(s, pid, t, &f, loc);
}

ParameterizedTestParameters(python, generations_tell_reused_addresses_apart)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

/* A frame is named after the code object that ran it, or not at all: the
 * address is reused by another code object, and each frame's generation
 * decides which it ran. */
ParameterizedTest(struct interp *ip, python, generations_tell_reused_addresses_apart)
{
	struct truth first, second = { 0 };
	struct py_symbols *s, *late;
	struct py_location loc;
	uint64_t *gens = new_gens();
	struct py_target t;
	struct child c;
	uint32_t slot;

	start(ip, "reuse.py", &c, &first);
	detect_ok(c.pid, &t);
	t.off.watch_deaths = 1;
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(py_symbols_new(&late), 0);
	py_symbols_watch_deaths(s, gens);
	py_symbols_watch_deaths(late, gens);
	slot = mt_py_gen_slot((uint32_t)c.pid, first.codes[0].id);
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, first.codes[0].qualname);

	cr_assert_eq(write(c.to_child, "\n", 1), 1);
	read_truth(&c, &second);
	if (second.noreuse) {
		cr_log_warn("%s: the script could not reuse the address", ip->label);
		cr_skip_test("no code object at the freed address");
	}
	cr_assert_eq(second.codes[0].id, first.codes[0].id);
	gens[slot]++;		/* what the deallocator's probe did */

	/* A frame of the first, named before it died: still the first. */
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, first.codes[0].qualname);
	/* A frame of the second: read now. */
	cr_assert_eq(resolve_gen(s, c.pid, &t, first.codes[0].id, 1, 1, &loc), 0);
	cr_assert_str_eq(loc.qualname, second.codes[0].qualname);
	cr_assert_eq(loc.line, second.codes[0].lines[1]);
	/* A frame of the first, never named before it died: what the address
	 * holds now is another code object, so no name at all. */
	cr_assert_eq(resolve_gen(late, c.pid, &t, first.codes[0].id, 1, 0, &loc), -ESTALE);
	py_symbols_free(s);
	py_symbols_free(late);
	free(gens);
	stop(&c);
	free_truth(&first);
	free_truth(&second);
}

/* The record py_code_dealloc sends, made here from the live object with
 * the same offsets, its table cut to table_max bytes. *whole: both names
 * are compact strings (the probe copies no other kind). */
static size_t copy_dying(int fd, const struct py_target *t, uint64_t code, uint32_t gen,
			 uint32_t table_max, struct mt_py_code_freed *r, bool *whole)
{
	const struct mt_py_offsets *o = &t->off;
	uint64_t length, size;
	uint32_t state;

	memset(r, 0, sizeof(*r));
	*whole = true;
	r->type = MT_EV_PY_CODE_FREED;
	r->code = code;
	r->gen = gen;
	r->code_len = o->code_header;
	cr_assert_eq(proc_mem_read(fd, code, r->code_bytes, r->code_len), 0);
	memcpy(&r->qualname, r->code_bytes + o->code_qualname, 8);
	memcpy(&r->filename, r->code_bytes + o->code_filename, 8);
	memcpy(&r->table, r->code_bytes + o->code_linetable, 8);
	for (int k = 0; k < 2; k++) {
		uint64_t str = k ? r->filename : r->qualname;
		uint32_t *len = k ? &r->filename_len : &r->qualname_len;
		uint8_t *buf = k ? r->filename_bytes : r->qualname_bytes;
		size_t max = k ? sizeof(r->filename_bytes) : sizeof(r->qualname_bytes);

		cr_assert_eq(proc_mem_read(fd, str + o->str_length, &length, 8), 0);
		cr_assert_eq(proc_mem_read(fd, str + o->str_state, &state, 4), 0);
		if (!(state & 0x20)) {
			*whole = false;
			continue;
		}
		*len = (state & 0x40 ? o->str_ascii_data : o->str_compact_data) +
		       length * ((state >> 2) & 7);
		cr_assert_leq(*len, max);
		cr_assert_eq(proc_mem_read(fd, str, buf, *len), 0);
	}
	cr_assert_eq(proc_mem_read(fd, r->table + o->bytes_size, &size, 8), 0);
	r->table_size = o->bytes_data + size;
	r->table_len = r->table_size < table_max ? r->table_size : table_max;
	cr_assert_eq(proc_mem_read(fd, r->table, r->table_bytes, r->table_len), 0);
	return offsetof(struct mt_py_code_freed, table_bytes) + r->table_len;
}

ParameterizedTestParameters(python, named_from_the_copy_of_a_dying_code_object)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

/* Frames of code objects that died before they were read are named from
 * the copy the probe sent, at every instruction; from a copy whose table
 * was cut, a line past the cut is 0 (unknown), never another line. */
ParameterizedTest(struct interp *ip, python, named_from_the_copy_of_a_dying_code_object)
{
	static struct mt_py_code_freed rec;
	struct py_symbols_stats st;
	struct py_symbols *s;
	struct py_location loc;
	uint64_t *gens = new_gens();
	struct py_target t;
	struct truth truth;
	struct child c;
	size_t len, cut_units = 0, named = 0;
	bool whole;
	int fd;

	start(ip, "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	t.off.watch_deaths = 1;
	fd = proc_mem_open(c.pid);
	cr_assert_geq(fd, 0);
	for (size_t i = 0; i < truth.ncodes; i++) {
		const struct expect_code *e = &truth.codes[i];
		uint32_t slot = mt_py_gen_slot((uint32_t)c.pid, e->id);
		struct mt_py_frame f = { .code = e->id, .gen = (uint32_t)gens[slot] };
		/* The whole table, then one cut to 4 bytes of it. */
		uint32_t table_max = i % 2 ? t.off.bytes_data + 4 : MT_PY_FREED_TABLE_BYTES;

		cr_assert_eq(py_symbols_new(&s), 0);
		py_symbols_watch_deaths(s, gens);
		cr_assert_eq(py_symbols_want(s, c.pid, &t, &f), 0);
		len = copy_dying(fd, &t, e->id, f.gen, table_max, &rec, &whole);
		rec.pid = (uint32_t)c.pid;
		gens[slot]++;			/* it died */
		py_symbols_code_freed(s, &t, &rec, len);
		if (!whole) {
			/* A name held out of line (a str subclass) is not in
			 * the copy: unknown, not misnamed. */
			cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), -ESTALE);
			py_symbols_free(s);
			continue;
		}
		named++;
		for (size_t k = 0; k < e->nlines; k++) {
			f.instr = (int32_t)k;
			cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), 0,
				     "%s", e->qualname);
			cr_assert_str_eq(loc.qualname, e->qualname);
			cr_assert_str_eq(loc.filename, e->filename);
			if (loc.line != e->lines[k]) {
				cr_assert_eq(loc.line, 0, "%s instruction %zu: line %d, Python "
					     "says %d", e->qualname, k, loc.line, e->lines[k]);
				cr_assert(rec.table_len < rec.table_size, "cut only");
				cut_units++;
			}
		}
		py_symbols_get_stats(s, &st);
		cr_assert_eq(st.named_from_copy, 1);
		cr_assert_eq(st.unnamed, 0);
		py_symbols_free(s);

		/* A record cut anywhere, or garbage, names nothing and never
		 * crashes: the frame stays unknown. */
		cr_assert_eq(py_symbols_new(&s), 0);
		py_symbols_watch_deaths(s, gens);
		f.gen = (uint32_t)gens[slot];
		rec.gen = f.gen;
		cr_assert_eq(py_symbols_want(s, c.pid, &t, &f), 0);
		gens[slot]++;
		for (size_t n = 0; n < offsetof(struct mt_py_code_freed, table_bytes); n += 97)
			py_symbols_code_freed(s, &t, &rec, n);
		memset(rec.code_bytes, 0xff, sizeof(rec.code_bytes));
		py_symbols_code_freed(s, &t, &rec, len);
		cr_assert_eq(py_symbols_resolve(s, c.pid, &t, &f, &loc), -ESTALE);
		py_symbols_get_stats(s, &st);
		cr_assert_eq(st.unnamed, 1);
		py_symbols_free(s);
	}
	cr_assert_gt(cut_units, 0, "no table was cut short");
	cr_assert_geq(named, truth.ncodes - 1, "only %zu of %zu named", named, truth.ncodes);
	close(fd);
	free(gens);
	stop(&c);
	free_truth(&truth);
}

/* An address just below a mapping with nothing mapped after it. */
static uint64_t end_of_mapping(pid_t pid)
{
	struct proc_maps maps;
	uint64_t addr = 0;

	cr_assert_eq(proc_maps_read(pid, &maps), 0);
	for (size_t i = 0; i + 1 < maps.n && !addr; i++)
		if (maps.maps[i].end < maps.maps[i + 1].start &&
		    maps.maps[i].perms[0] == 'r')
			addr = maps.maps[i].end - 16;
	proc_maps_free(&maps);
	cr_assert_neq(addr, 0);
	return addr;
}

Test(python, garbage_addresses)
{
	struct py_location loc;
	struct py_symbols *s;
	struct py_target t;
	struct truth truth;
	struct child c;
	const uint64_t unreadable[] = {
		0, 8, 4096, UINT64_MAX, (uint64_t)INT64_MAX - 4, 1ull << 63,
	};

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	for (size_t i = 0; i < ARRAY_SIZE(unreadable); i++)
		cr_assert_eq(resolve(s, c.pid, &t, unreadable[i], 0, &loc),
			     -EFAULT, "%#llx", (unsigned long long)unreadable[i]);
	cr_assert_eq(resolve(s, c.pid, &t, end_of_mapping(c.pid), 0, &loc),
		     -EFAULT);
	/* Readable, but no code object. */
	cr_assert_eq(resolve(s, c.pid, &t, t.off.runtime_addr, 0, &loc),
		     -EINVAL);
	cr_assert_eq(resolve(s, c.pid, &t, t.layout.code_type, 0, &loc),
		     -EINVAL);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id + 8, 0, &loc),
		     -EINVAL);
	/* Still fine afterwards. */
	expect_location(s, c.pid, &t, &truth.codes[0], 0, truth.codes[0].lines[0]);
	py_symbols_free(s);
	stop(&c);
	free_truth(&truth);
}

Test(python, exited_process)
{
	struct py_location loc;
	struct py_symbols *s, *fresh;
	struct py_target t;
	struct truth truth;
	struct child c;
	char why[128];

	start(&interps[0], "codeinfo.py", &c, &truth);
	detect_ok(c.pid, &t);
	cr_assert_eq(py_symbols_new(&s), 0);
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id, 0, &loc), 0);
	cr_assert_eq(WEXITSTATUS(stop(&c)), 0);
	/* Its memory reads nothing now, and the name stays: reports made
	 * after the exit still name its frames. */
	cr_assert_eq(resolve(s, c.pid, &t, truth.codes[0].id, 0, &loc), 0);
	cr_assert_str_eq(loc.qualname, truth.codes[0].qualname);
	cr_assert_eq(py_symbols_new(&fresh), 0);
	cr_assert_eq(resolve(fresh, c.pid, &t, truth.codes[0].id, 0, &loc),
		     -ESRCH);
	cr_assert_eq(python_detect(c.pid, &t, why, sizeof(why)), -ESRCH);
	py_symbols_free(fresh);
	py_symbols_free(s);
	free_truth(&truth);
}

Test(python, not_python)
{
	struct py_target t;
	char why[128];
	pid_t pid;
	int status;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	/* Until exec has replaced the forked copy of this test. */
	for (int i = 0; i < 500; i++) {
		char exe[PATH_MAX], link[64];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/exe", pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0 && (exe[n] = '\0', strstr(exe, "sleep")))
			break;
		usleep(10000);
	}
	cr_assert_eq(python_detect(pid, &t, why, sizeof(why)), -ENOENT);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

Test(python, older_python_is_refused)
{
	struct interp old = { "pyenv-3.10.13", "3.10.13", "python3.10" };
	char python[PATH_MAX], why[256];
	struct py_target t;
	int err = -ENOENT;
	pid_t pid;

	python_path(&old, python, sizeof(python));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(python, python, "-c", "import time; time.sleep(30)", (char *)NULL);
		_exit(127);
	}
	/* Until the interpreter is mapped. */
	for (int i = 0; i < 500 && err == -ENOENT; i++) {
		err = python_detect(pid, &t, why, sizeof(why));
		if (err == -ENOENT)
			usleep(10000);
	}
	cr_assert_eq(err, -ENOTSUP, "%d", err);
	cr_assert(strstr(why, "3.10"), "%s", why);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
