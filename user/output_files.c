// SPDX-License-Identifier: MIT
/* The outputs of a run (output_files.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "output_files.h"
#include "report/outputs.h"
#include "report/out_file.h"
#include "util/why.h"

/*
 * Write r to one output file with fn. A file that fails keeps the others
 * going: its first error is remembered, said once here, and makes
 * memtrace exit non-zero at the end.
 */
void write_output(struct out_file *f, int (*fn)(FILE *, const struct report *),
			 const struct report *r)
{
	int before = out_file_error(f);
	FILE *fp = out_file_begin(f);

	if (fp)
		out_file_fail(f, fn(fp, r));
	out_file_commit(f);
	if (!before && out_file_error(f))
		why_say("cannot write %s: %s", out_file_name(f),
			strerror(-out_file_error(f)));
}

/* The files rewritten at every report: checked now, so that a path that
 * cannot be written is said before tracing starts. */
static int outputs_open(struct memtrace *mt)
{
	const struct options *o = &mt->opt;
	struct outputs_config c = {
		.path = {
			[OUT_FOLDED] = o->folded_path,
			[OUT_FOLDED_DIFF] = o->folded_diff_path,
			[OUT_FLAMEGRAPH] = o->flamegraph_path,
			[OUT_FLAMEGRAPH_DIFF] = o->flamegraph_diff_path,
			[OUT_HTML] = o->html_path,
			[OUT_PPROF] = o->pprof_path,
		},
		.top_n = o->top_n,
		.interval_s = o->interval_s,
		.baseline_s = o->baseline_s,
		.json_path = o->json_path,
		.text_path = o->output_path,
	};
	char why[512];
	int err = outputs_new(&c, &mt->outputs);

	if (err) {
		fprintf(stderr, "memtrace: cannot set up: %s\n", strerror(-err));
		return err;
	}
	err = outputs_check(mt->outputs, why, sizeof(why));
	if (err)
		fprintf(stderr, "memtrace: %s\n", why);
	return err;
}

/* The output files, ready to be written; nothing at their paths changes
 * until publish_outputs(). */
int open_outputs(struct memtrace *mt)
{
	const struct options *o = &mt->opt;
	char why[512];
	int err = 0;

	if (o->output_path)
		err = out_file_open(&mt->text, o->output_path, "-o", OUT_FILE_STREAM, why,
				    sizeof(why));
	else if (!(mt->text = out_file_wrap(stdout, "standard output")))
		err = why_fail(-ENOMEM, why, sizeof(why), "out of memory");
	if (!err && o->json_path)
		err = out_file_open(&mt->json, o->json_path, "--json", OUT_FILE_STREAM, why,
				    sizeof(why));
	if (err) {
		why_say("%s", why);
		return err;
	}
	return outputs_open(mt);
}

/* Tracing has started: the output files take their names. */
void publish_outputs(struct memtrace *mt)
{
	struct out_file *files[] = { mt->text, mt->json };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i] && out_file_publish(files[i]))
			why_say("cannot write %s: %s", out_file_name(files[i]),
				strerror(-out_file_error(files[i])));
}

/* Close the output files (removing what was never published): the
 * number that failed at some point, each said once. */
int close_outputs(struct memtrace *mt)
{
	struct out_file *files[] = { mt->text, mt->json };
	int failed = 0;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct out_file *f = files[i];
		int before = out_file_error(f), err;

		if (!f)
			continue;
		out_file_commit(f);	/* the last bytes, which may not fit */
		err = out_file_error(f);
		if (!before && err)
			why_say("cannot write %s: %s", out_file_name(f),
				strerror(-err));
		if (out_file_close(f) && !err)
			fprintf(stderr, "memtrace: cannot close an output file\n");
		failed += err != 0;
	}
	mt->text = mt->json = NULL;
	/* The pictures' failures were said as they happened. */
	failed += outputs_close(mt->outputs) != 0;
	mt->outputs = NULL;
	return failed;
}
