// SPDX-License-Identifier: MIT
/*
 * One-off measurement of the files memtrace rewrites at every report: how
 * long each writer takes and how large its file is, for synthetic reports
 * of 1,000 to 65,536 stacks (65,536 is the BPF stack map's size) of 24
 * frames drawn from 3,000 function names in a tree, as a service's stacks
 * share their outer frames. Prints medians of 5 runs; asserts nothing.
 *
 *   make
 *   gcc -std=gnu11 -O2 -D_GNU_SOURCE -Iinclude -Iuser -Ibuild scripts/bench_outputs.c \
 *       build/user/report/*.o build/user/util/*.o -lz -lm -o /tmp/bench_outputs
 *   /tmp/bench_outputs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "report/flame_tree.h"
#include "report/report.h"
#include "report/report_history.h"
#include "report/report_html.h"
#include "report/report_svg.h"

#define DEPTH 24
#define NAMES 3000
#define RUNS 5

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static char names[NAMES][48];

/* A report of n stacks: frame k of a stack picks among a few names per
 * level, so that the outer frames are shared and the inner ones spread. */
static struct report make_report(size_t n, struct report_stack **stacks_out,
				 struct report_frame **frames_out)
{
	struct report_stack *stacks = calloc(n, sizeof(*stacks));
	struct report_frame *frames = calloc(n * DEPTH, sizeof(*frames));
	static const struct report_process proc = { .pid = 1, .comm = "bench",
						    .rss_known = true, .rss_bytes = 1 << 30 };
	uint64_t total = 0, seed = 42;

	for (size_t i = 0; i < NAMES; i++)
		snprintf(names[i], sizeof(names[i]), "namespace::Class%zu::method_%zu", i % 97, i);
	for (size_t i = 0; i < n; i++) {
		struct report_frame *f = &frames[i * DEPTH];

		for (size_t k = 0; k < DEPTH; k++) {
			/* Outermost (k = DEPTH - 1) shared, innermost varied. */
			size_t width = 1 + (DEPTH - 1 - k) * (DEPTH - 1 - k) * 6;

			size_t name;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			name = (k * 131 + (seed >> 33) % width) % NAMES;
			/* A function calls on from one of a few places. */
			f[k] = (struct report_frame){
				.function = names[name],
				.module = "libservice.so",
				.address = 0x7f0000000000 + name * 256 + (seed >> 20) % 4 * 16,
				.module_path = "/usr/lib/libservice.so",
				.build_id = "0123456789abcdef0123456789abcdef01234567",
				.map_start = 0x7f0000000000, .map_end = 0x7f0001000000,
			};
		}
		f[0].function = "malloc";
		stacks[i] = (struct report_stack){
			.pid = 1, .allocator = "malloc", .bytes = 1000000 / (i + 1) + 64,
			.count = 1000 / (i + 1) + 1, .allocs = 5000, .alloc_bytes = 5000000,
			.nframes = DEPTH, .frames = f,
		};
		total += stacks[i].bytes;
	}
	*stacks_out = stacks;
	*frames_out = frames;
	return (struct report){
		.elapsed_s = 60, .interval_s = 10, .nprocs = 1, .procs = &proc,
		.outstanding_bytes = total, .live_allocations = n, .top_n = 10,
		.nstacks_total = n, .nstacks = n, .stacks = stacks,
	};
}

enum { W_FOLDED, W_TREE, W_SVG, W_HTML, W_PPROF, W_COUNT };
static const char *const wname[W_COUNT] = {
	"folded", "flame tree + baseline", "SVG", "HTML page", "pprof",
};

int main(void)
{
	static const size_t sizes[] = { 1000, 10000, 65536 };

	printf("%-8s %-22s %10s %12s\n", "stacks", "output", "ms", "bytes");
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		struct report_stack *stacks;
		struct report_frame *frames;
		struct report r = make_report(sizes[si], &stacks, &frames);
		struct report_history *h;
		struct html_options ho = { .top_n = 10, .interval_s = 10 };

		report_history_new(0, &h);
		for (int i = 0; i < 3; i++)
			report_history_add(h, &r, 10);
		for (int w = 0; w < W_COUNT; w++) {
			double t[RUNS];
			struct stat st = { 0 };

			for (int k = 0; k < RUNS; k++) {
				FILE *f = fopen("/tmp/bench_outputs.out", "w");
				struct flame_tree *tree = NULL;
				double t0 = now_ms();

				if (w != W_FOLDED && w != W_PPROF) {
					flame_tree_build(&r, &tree);
					flame_tree_set_baseline(tree, history_baseline(h, NULL));
				}
				if (w == W_FOLDED)
					report_write_folded(f, &r);
				else if (w == W_SVG)
					report_write_flamegraph(f, &r, tree, false, "the first report");
				else if (w == W_HTML)
					report_write_html(f, &r, h, tree, &ho);
				else if (w == W_PPROF)
					report_write_pprof(f, &r);
				fclose(f);
				t[k] = now_ms() - t0;
				flame_tree_free(tree);
			}
			qsort(t, RUNS, sizeof(t[0]), cmp_double);
			stat("/tmp/bench_outputs.out", &st);
			printf("%-8zu %-22s %10.1f %12lld\n", sizes[si], wname[w], t[RUNS / 2],
			       w == W_TREE ? 0LL : (long long)st.st_size);
		}
		report_history_free(h);
		free(stacks);
		free(frames);
	}
	remove("/tmp/bench_outputs.out");
	return 0;
}
