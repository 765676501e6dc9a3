// SPDX-License-Identifier: MIT
/*
 * Allocations through libstdc++'s operator new, built -O2
 * -fomit-frame-pointer: memtrace must show the caller of operator new
 * (bcc's memleak famously skips it).
 *
 *   new char[30001]           from make_buffer, 3 levels below main
 *   std::vector<int>(7501)    from Registry::grow (30004 bytes)
 *
 * Usage: deep_cxx [--wait]
 */
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

static void *volatile sink;
static volatile int counter;

/* Work after each call keeps it from being a tail call (see deep.c). */
__attribute__((noinline)) char *make_buffer(int level)
{
	if (level == 0) {
		char *p = new char[30001];
		counter = counter + 1;
		return p;
	}
	char *p = make_buffer(level - 1);
	p[level] = 1;
	return p;
}

struct Registry {
	std::vector<std::vector<int> *> items;

	__attribute__((noinline)) void grow()
	{
		items.push_back(new std::vector<int>(7501));
		counter = counter + 1;
	}
};

int main(int argc, char **argv)
{
	char line[16];
	Registry reg;

	if (argc > 1 && !strcmp(argv[1], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	sink = make_buffer(3);
	reg.grow();
	sink = reg.items.back();
	printf("done\n");
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "--wait") && !fgets(line, sizeof(line), stdin))
		return 0;
	return 0;
}
