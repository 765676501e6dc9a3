// SPDX-License-Identifier: MIT
/*
 * A target for long runs (scripts/soak.sh): it never stops allocating and
 * freeing (a bounded live set, so that a tracer's memory has no reason to
 * grow), forks a short-lived child every 200 ms, and loads and unloads a
 * library every 500 ms (each a change of its mappings the tracer follows).
 *
 * Usage: soak_target LIBRARY SECONDS
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIVE 4096

static void *live[LIVE];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void churn(unsigned int *seed, int n)
{
	for (int i = 0; i < n; i++) {
		unsigned int k = rand_r(seed) % LIVE;

		free(live[k]);
		live[k] = (k & 1) ? malloc(16 + rand_r(seed) % 4000)
				  : calloc(1, 32 + rand_r(seed) % 200);
	}
}

__attribute__((noinline)) static void fork_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		unsigned int seed = 7;

		churn(&seed, 1000);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

__attribute__((noinline)) static void load_library(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);

	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return;
	}
	if (!dlsym(h, "plugin_leak"))
		fprintf(stderr, "dlsym: %s\n", dlerror());
	dlclose(h);
}

int main(int argc, char **argv)
{
	double end, next_fork, next_load, t;
	unsigned int seed = 1;

	if (argc < 3)
		return 2;
	t = now();
	end = t + atof(argv[2]);
	next_fork = next_load = t;
	printf("ready\n");
	fflush(stdout);
	while ((t = now()) < end) {
		churn(&seed, 2000);
		if (t >= next_fork) {
			fork_child();
			next_fork = t + 0.2;
		}
		if (t >= next_load) {
			load_library(argv[1]);
			next_load = t + 0.5;
		}
		usleep(1000);
	}
	for (int i = 0; i < LIVE; i++)
		free(live[i]);
	return 0;
}
