// SPDX-License-Identifier: MIT
/*
 * The type census (user/python/py_arenas.c, py_census.c) against the live
 * interpreters: tests/progs/py/census.py makes objects of classes nothing
 * else creates and prints how many; the census, reading the process from
 * outside, must count exactly as many, and the growth after it adds more.
 * Bad input (a table that is not one, a process gone) gives errors or
 * counters, never a crash.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python/py_arenas.h"
#include "python/py_census.h"
#include "python/python_detect.h"
#include "symbols/elf_symbols.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct interp {
	char label[32];
	char pyenv_version[16];		/* "": path is absolute */
	char path[64];
};

static struct interp interps[] = {
	{ "debian-3.11", "", "/usr/bin/python3.11" },
	{ "pyenv-3.11.7", "3.11.7", "python3.11" },
	{ "pyenv-3.12.1", "3.12.1", "python3.12" },
	{ "pyenv-3.13.0", "3.13.0", "python3.13" },
};

static const char *const classes[] = { "LeakA", "LeakB", "LeakBytes", "LeakLarge" };

struct child {
	pid_t pid;
	FILE *to, *from;
	long counts[4];			/* per classes[] */
};

static void arm_watchdog(void)
{
	alarm(120);
}

TestSuite(py_census, .init = arm_watchdog);

static void python_path(const struct interp *ip, char *out, size_t len)
{
	char root[PATH_MAX] = "";
	FILE *p;

	if (!ip->pyenv_version[0]) {
		snprintf(out, len, "%s", ip->path);
	} else {
		p = popen("pyenv root 2>/dev/null", "r");
		if (p) {
			if (fgets(root, sizeof(root), p))
				root[strcspn(root, "\n")] = '\0';
			pclose(p);
		}
		if (!root[0])
			snprintf(root, sizeof(root), "%s/.pyenv", getenv("HOME") ?: "/root");
		snprintf(out, len, "%s/versions/%s/bin/%s", root, ip->pyenv_version, ip->path);
	}
	if (access(out, X_OK)) {
		cr_log_warn("%s: %s is not installed, skipped", ip->label, out);
		cr_skip_test("%s is not installed", out);
	}
}

/* The script's counts up to its next "ready". */
static void read_counts(struct child *c)
{
	char line[256], name[64];
	long n;

	while (fgets(line, sizeof(line), c->from)) {
		if (!strcmp(line, "ready\n"))
			return;
		cr_assert_eq(sscanf(line, "count %63s %ld", name, &n), 2, "%s", line);
		for (size_t i = 0; i < ARRAY_SIZE(classes); i++)
			if (!strcmp(name, classes[i]))
				c->counts[i] = n;
	}
	cr_assert_fail("the script ended before saying it was ready");
}

static void start(const struct interp *ip, struct child *c)
{
	char python[PATH_MAX], script[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');
	int in[2], out[2];

	python_path(ip, python, sizeof(python));
	snprintf(script, sizeof(script), "%.*s/../../progs/py/census.py",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
		execl(python, python, script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = fdopen(in[1], "w");
	c->from = fdopen(out[0], "r");
	read_counts(c);
}

static void stop(struct child *c)
{
	fclose(c->to);
	fclose(c->from);
	waitpid(c->pid, NULL, 0);
}

static uint64_t count_of(const struct py_census *cs, const char *name)
{
	uint64_t n = 0;

	for (size_t i = 0; i < cs->ntypes; i++)
		if (!strcmp(cs->types[i].name, name))
			n += cs->types[i].count;
	return n;
}

static void take(pid_t pid, const struct py_target *t, const struct py_arenas_ref *ref,
		 struct strpool *names, struct py_census *cs)
{
	cr_assert_eq(py_census_take(pid, t, ref, NULL, 30, names, cs), 0);
	cr_assert_not(cs->cut_short);
	cr_assert_eq(cs->pools_changed, 0);
	cr_assert_eq(cs->pools_unreadable, 0);
	cr_assert_gt(cs->objects, 20000);
	cr_log_info("%llu arenas (%llu KiB), %llu pools, %llu blocks, %llu objects, %zu types "
		    "in %.3f s", (unsigned long long)cs->arenas,
		    (unsigned long long)cs->arena_bytes >> 10, (unsigned long long)cs->pools,
		    (unsigned long long)cs->blocks, (unsigned long long)cs->objects, cs->ntypes,
		    cs->seconds);
}

ParameterizedTestParameters(py_census, counts_exactly)
{
	return cr_make_param_array(struct interp, interps, ARRAY_SIZE(interps));
}

ParameterizedTest(struct interp *ip, py_census, counts_exactly)
{
	struct strpool names = { 0 };
	struct py_arenas_ref ref;
	struct py_census cs;
	struct py_target t;
	struct child c;
	char why[256];

	start(ip, &c);
	cr_assert_eq(python_detect(c.pid, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(py_arenas_find(c.pid, &t, &ref, why, sizeof(why)), 0, "%s", why);
	/* Debian's build keeps no symbol for the table: read from the code. */
	cr_assert_str_eq(ref.how, t.minor > 11 ? "interpreter state" :
			 ip->pyenv_version[0] ? "symbols" : "code");
	take(c.pid, &t, &ref, &names, &cs);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(count_of(&cs, classes[i]), (uint64_t)c.counts[i], "%s: %s %llu, "
			     "the script says %ld", ip->label, classes[i],
			     (unsigned long long)count_of(&cs, classes[i]), c.counts[i]);
	/* Over 512 B: malloc's, and no tracked allocation was given. */
	cr_assert_eq(count_of(&cs, "LeakLarge"), 0);
	cr_assert_geq(count_of(&cs, "int"), 6789);
	py_census_free(&cs);

	/* Growth: exactly what the script added. */
	fputs("more\n", c.to);
	fflush(c.to);
	read_counts(&c);
	take(c.pid, &t, &ref, &names, &cs);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(count_of(&cs, classes[i]), (uint64_t)c.counts[i], "%s after more",
			     classes[i]);
	py_census_free(&cs);
	strpool_free(&names);
	stop(&c);
}

/* The scanner that finds 3.11's variables in _Py_GetAllocatedBlocks,
 * checked against the symbols pyenv's build keeps. */
Test(py_census, code_finds_what_the_symbols_say)
{
	char lib[PATH_MAX], python[PATH_MAX];
	uint64_t fn, size, off, maxv = 0, ptrs[4], arenas = 0, maxarenas = 0;
	struct elf_symbols *es;
	uint8_t code[96];
	char cmd[PATH_MAX + 64], line[256];
	FILE *p;
	int fd, n;
	bool found = false;

	python_path(&interps[1], python, sizeof(python));
	snprintf(lib, sizeof(lib), "%.*s/lib/libpython3.11.so.1.0",
		 (int)(strstr(python, "/bin/") - python), python);
	snprintf(cmd, sizeof(cmd), "nm %s", lib);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned long long v;
		char kind, name[128];

		if (sscanf(line, "%llx %c %127s", &v, &kind, name) != 3)
			continue;
		if (!strcmp(name, "arenas"))
			arenas = v;
		if (!strcmp(name, "maxarenas"))
			maxarenas = v;
	}
	pclose(p);
	cr_assert(arenas && maxarenas, "nm names neither");

	fd = open(lib, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(elf_symbols_open(fd, &es), 0);
	cr_assert_eq(elf_symbols_find(es, "_Py_GetAllocatedBlocks", &fn, &size), 0);
	cr_assert_eq(elf_symbols_vaddr_to_offset(es, fn, &off), 0);
	cr_assert_eq(pread(fd, code, sizeof(code), (off_t)off), (ssize_t)sizeof(code));
	n = py_arenas_decode_loads(code, sizeof(code), fn, &maxv, ptrs, 4);
	cr_assert_geq(n, 1);
	cr_assert_eq(maxv, maxarenas);
	for (int i = 0; i < n; i++)
		found |= ptrs[i] == arenas;
	cr_assert(found, "arenas %#llx not among the loads", (unsigned long long)arenas);
	/* Code without such loads. */
	memset(code, 0x90, sizeof(code));
	cr_assert_eq(py_arenas_decode_loads(code, sizeof(code), fn, &maxv, ptrs, 4), -ENOENT);
	elf_symbols_close(es);
	close(fd);
}

/* A table that is not one, a process that is gone: errors, no crash. */
Test(py_census, bad_input)
{
	struct strpool names = { 0 };
	struct py_arenas_ref ref, bad;
	struct py_census cs;
	struct py_target t;
	struct child c;
	char why[256];

	start(&interps[0], &c);
	cr_assert_eq(python_detect(c.pid, &t, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(py_arenas_find(c.pid, &t, &ref, why, sizeof(why)), 0, "%s", why);
	/* The table pointer read from elsewhere: garbage or unreadable. */
	bad = ref;
	bad.arenas_var = t.off.runtime_addr;
	bad.maxarenas_var = t.off.runtime_addr + 8;
	{
		int err = py_census_take(c.pid, &t, &bad, NULL, 5, &names, &cs);

		cr_assert(err == 0 || err == -EFAULT, "%d", err);
		if (!err) {
			cr_assert_eq(count_of(&cs, "LeakA"), 0);
			py_census_free(&cs);
		}
	}
	bad.arenas_var = 8;
	cr_assert_eq(py_census_take(c.pid, &t, &bad, NULL, 5, &names, &cs), -EFAULT);
	/* No time at all: cut short, and said. */
	cr_assert_eq(py_census_take(c.pid, &t, &ref, NULL, 0, &names, &cs), 0);
	cr_assert(cs.cut_short);
	cr_assert_gt(cs.arenas_total, cs.arenas);
	py_census_free(&cs);
	stop(&c);
	cr_assert_eq(py_census_take(c.pid, &t, &ref, NULL, 5, &names, &cs), -ESRCH);
	strpool_free(&names);
}
