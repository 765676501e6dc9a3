// SPDX-License-Identifier: MIT
/*
 * Python detection (user/python/python_detect.c), checked against what
 * each interpreter on the machine says about itself (interps.h): its
 * version and offsets, the thread states and frames they lead to, and
 * the processes that are not a Python memtrace can trace.
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

#include "proc/proc_mem.h"
#include "python/python_detect.h"
#include "python/python_symbols.h"
#include "memtrace_events.h"
#include "interps.h"

TestSuite(python, .init = arm_watchdog);

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
	/* And the thread state's native id and its field towards the frame
	 * fit the thread state's one read. */
	cr_assert_eq(o->tstate_window, 1);
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
