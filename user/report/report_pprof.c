// SPDX-License-Identifier: MIT
/*
 * The report as a pprof profile: perftools.profiles.Profile
 * (github.com/google/pprof, proto/profile.proto), gzipped, which
 * `go tool pprof` and most profilers' viewers read.
 *
 * It has the sample types of Go's heap profiles, in Go's order, so that
 * pprof's default (the last one) is what memtrace reports first:
 *   alloc_objects/count  allocations since start
 *   alloc_space/bytes    bytes allocated since start
 *   inuse_objects/count  live allocations (as filtered)
 *   inuse_space/bytes    outstanding bytes (as filtered)
 * One sample per stack, with a "pid" label for each process it is in (a
 * stack merged across processes has several) and a "comm" label.
 * period_type is space/bytes; the period 1 for exact tracing, or with
 * --sample-bytes the mean sampling interval, the values being estimates
 * (as Go writes its sampled heap profiles).
 *
 * Locations are leaf first: the allocation function, its caller, ... One
 * Location per frame, with the Mapping that holds it (file, build ID,
 * start, limit, file offset) and one Line (Function: name, file; line).
 * Python frames have no mapping: their Function is the code object's
 * qualified name in its .py file, and the Line its line. Stacks whose walk
 * stopped early end in a frame that says why, as the other outputs do.
 *
 * Field numbers are profile.proto's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "format.h"
#include "protobuf.h"

enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,

	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,

	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
};

#define NVALUES 4

/*
 * One open-addressing index for every table below: slots hold id + 1
 * (0: empty) and the key's hash; equal hashes are checked against the
 * table's own key by the caller's function.
 */
struct index {
	uint32_t *ids;
	uint64_t *hashes;
	size_t mask;		/* capacity - 1; capacity a power of two */
	size_t n;
};

typedef bool (*index_eq)(const void *ctx, uint32_t id, const void *key);

static int index_init(struct index *ix)
{
	ix->mask = 255;
	ix->n = 0;
	ix->ids = calloc(ix->mask + 1, sizeof(*ix->ids));
	ix->hashes = calloc(ix->mask + 1, sizeof(*ix->hashes));
	return ix->ids && ix->hashes ? 0 : -ENOMEM;
}

static void index_destroy(struct index *ix)
{
	free(ix->ids);
	free(ix->hashes);
}

/* The id stored for key, or -1 (then *slot is where it would go). */
static int64_t index_find(const struct index *ix, uint64_t h, index_eq eq,
			  const void *ctx, const void *key, size_t *slot)
{
	size_t i = h & ix->mask;

	for (; ix->ids[i]; i = (i + 1) & ix->mask)
		if (ix->hashes[i] == h && eq(ctx, ix->ids[i] - 1, key))
			return ix->ids[i] - 1;
	*slot = i;
	return -1;
}

/* Store id at the slot index_find() gave; keeps the index at most half
 * full. Returns 0 or -ENOMEM. */
static int index_put(struct index *ix, size_t slot, uint64_t h, uint32_t id)
{
	ix->ids[slot] = id + 1;
	ix->hashes[slot] = h;
	if (++ix->n * 2 > ix->mask + 1) {
		size_t cap = (ix->mask + 1) * 2;
		uint32_t *ids = calloc(cap, sizeof(*ids));
		uint64_t *hashes = calloc(cap, sizeof(*hashes));

		if (!ids || !hashes) {
			free(ids);
			free(hashes);
			return -ENOMEM;
		}
		for (size_t k = 0; k <= ix->mask; k++) {
			size_t j;

			if (!ix->ids[k])
				continue;
			for (j = ix->hashes[k] & (cap - 1); ids[j]; j = (j + 1) & (cap - 1))
				;
			ids[j] = ix->ids[k];
			hashes[j] = ix->hashes[k];
		}
		index_destroy(ix);
		ix->ids = ids;
		ix->hashes = hashes;
		ix->mask = cap - 1;
	}
	return 0;
}

static uint64_t hash_mix(uint64_t h, uint64_t v)
{
	/* FNV-1a over the 8 bytes of v. */
	for (int i = 0; i < 8; i++, v >>= 8)
		h = (h ^ (v & 0xff)) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

struct mapping {
	uint32_t pid;
	uint64_t start, limit, offset;
	int64_t filename, build_id;	/* string indexes */
	/* Every frame in it had a function, a file, a line. */
	bool functions, files, lines;
};

struct location {
	/* The key: a frame is the same location when these are. */
	uint32_t pid;
	uint64_t address;
	int64_t line;
	uint64_t name_hash;	/* of the function's name as given; 0: none */
	/* What it says. */
	uint64_t mapping_id;	/* 0: none */
	uint64_t function_id;	/* 0: no line */
};

struct function {
	int64_t name, filename;
};

struct pprof {
	/* The string table: index 0 is "", as the format requires. */
	char **strings;
	size_t nstrings, strings_cap;
	struct index string_ix;

	struct mapping *mappings;
	size_t nmappings, mappings_cap;
	struct index mapping_ix;

	struct location *locations;
	size_t nlocations, locations_cap;
	struct index location_ix;

	struct function *functions;
	size_t nfunctions, functions_cap;
	struct index function_ix;

	struct pb_buf out;	/* the Profile message */
	struct pb_buf msg, sub;	/* scratch for nested messages */
	uint64_t *ids;		/* a sample's location ids */
	size_t ids_cap;
	/* pprof takes the first mapping for the program ("File:"): the one
	 * that holds a function called main, else the outermost frame of the
	 * first whole stack. 0: none yet, else its id. */
	uint64_t main_mapping;
	bool main_named;	/* main_mapping holds main */
	bool failed;
};

/* Make room for one more element in an array of size n, capacity *cap. */
static bool grow(void **array, size_t n, size_t *cap, size_t size)
{
	void *p;
	size_t c;

	if (n < *cap)
		return true;
	c = *cap ? *cap * 2 : 64;
	p = realloc(*array, c * size);
	if (!p)
		return false;
	*array = p;
	*cap = c;
	return true;
}

static bool string_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct pprof *pp = ctx;

	return !strcmp(pp->strings[id], key);
}

/* The string table index of s (cleaned), added on first use. NULL is "". */
static int64_t string_id(struct pprof *pp, const char *s)
{
	char *copy;
	size_t slot;
	uint64_t h;
	int64_t id;

	if (!s || !*s || pp->failed)
		return 0;
	copy = strdup_utf8_clean(s);
	if (!copy)
		goto fail;
	h = hash_str(copy);
	id = index_find(&pp->string_ix, h, string_eq, pp, copy, &slot);
	if (id >= 0) {
		free(copy);
		return id;
	}
	if (!grow((void **)&pp->strings, pp->nstrings, &pp->strings_cap, sizeof(char *)))
		goto fail;
	id = pp->nstrings;
	pp->strings[pp->nstrings++] = copy;
	if (index_put(&pp->string_ix, slot, h, id)) {
		pp->failed = true;
		return 0;
	}
	return id;
fail:
	free(copy);
	pp->failed = true;
	return 0;
}

static bool mapping_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct pprof *pp = ctx;
	const struct mapping *a = &pp->mappings[id], *b = key;

	return a->pid == b->pid && a->start == b->start;
}

/* The mapping id (1-based) of the mapping that holds f, 0 if none. */
static uint64_t mapping_id(struct pprof *pp, uint32_t pid, const struct report_frame *f)
{
	struct mapping key = { .pid = pid, .start = f->map_start }, *m;
	size_t slot;
	uint64_t h;
	int64_t id;

	if (f->python || f->map_end <= f->map_start || pp->failed)
		return 0;
	h = hash_mix(hash_mix(0xcbf29ce484222325ULL, pid), f->map_start);
	id = index_find(&pp->mapping_ix, h, mapping_eq, pp, &key, &slot);
	if (id < 0) {
		if (!grow((void **)&pp->mappings, pp->nmappings, &pp->mappings_cap,
			  sizeof(*pp->mappings))) {
			pp->failed = true;
			return 0;
		}
		id = pp->nmappings++;
		m = &pp->mappings[id];
		*m = (struct mapping){
			.pid = pid,
			.start = f->map_start,
			.limit = f->map_end,
			.offset = f->map_offset,
			.filename = string_id(pp, f->module_path ? f->module_path : f->module),
			.build_id = string_id(pp, f->build_id),
			.functions = true,
			.files = true,
			.lines = true,
		};
		if (index_put(&pp->mapping_ix, slot, h, id)) {
			pp->failed = true;
			return 0;
		}
	}
	m = &pp->mappings[id];
	m->functions &= f->function != NULL;
	m->files &= f->file != NULL;
	m->lines &= f->line > 0;
	return id + 1;
}

static bool function_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct pprof *pp = ctx;
	const struct function *a = &pp->functions[id], *b = key;

	return a->name == b->name && a->filename == b->filename;
}

/* The function id (1-based) of name in file; 0 for no name. */
static uint64_t function_id(struct pprof *pp, const char *name, const char *file)
{
	struct function key;
	size_t slot;
	uint64_t h;
	int64_t id;

	if (!name)
		return 0;
	key.name = string_id(pp, name);
	key.filename = string_id(pp, file);
	if (pp->failed)
		return 0;
	h = hash_mix(hash_mix(0xcbf29ce484222325ULL, key.name), key.filename);
	id = index_find(&pp->function_ix, h, function_eq, pp, &key, &slot);
	if (id >= 0)
		return id + 1;
	if (!grow((void **)&pp->functions, pp->nfunctions, &pp->functions_cap,
		  sizeof(*pp->functions))) {
		pp->failed = true;
		return 0;
	}
	id = pp->nfunctions++;
	pp->functions[id] = key;
	if (index_put(&pp->function_ix, slot, h, id))
		pp->failed = true;
	return id + 1;
}

static bool location_eq(const void *ctx, uint32_t id, const void *key)
{
	const struct pprof *pp = ctx;
	const struct location *a = &pp->locations[id], *b = key;

	return a->pid == b->pid && a->address == b->address && a->line == b->line &&
	       a->name_hash == b->name_hash;
}

/*
 * The location id of a frame: one per process, address, line and name.
 * For native code that is one per return address; a Python frame's
 * address is its code object's, whose lines differ, and the name guards
 * against a code object freed and another made at its address. The
 * mapping and function are looked up only for a new location: most frames
 * of a report are the same few thousand locations.
 */
static uint64_t location_of(struct pprof *pp, uint32_t pid, const struct report_frame *f,
			    const char *name)
{
	struct location key = {
		.pid = pid, .address = f ? f->address : 0,
		.line = f && f->line > 0 ? f->line : 0,
		.name_hash = name ? hash_str(name) : 0,
	};
	size_t slot;
	uint64_t h;
	int64_t id;

	if (pp->failed)
		return 0;
	h = hash_mix(hash_mix(hash_mix(hash_mix(0xcbf29ce484222325ULL, pid), key.address),
			      (uint64_t)key.line), key.name_hash);
	id = index_find(&pp->location_ix, h, location_eq, pp, &key, &slot);
	if (id >= 0)
		return id + 1;
	key.mapping_id = f ? mapping_id(pp, pid, f) : 0;
	key.function_id = function_id(pp, name, f ? f->file : NULL);
	if (pp->failed)
		return 0;
	if (!grow((void **)&pp->locations, pp->nlocations, &pp->locations_cap,
		  sizeof(*pp->locations))) {
		pp->failed = true;
		return 0;
	}
	id = pp->nlocations++;
	pp->locations[id] = key;
	if (index_put(&pp->location_ix, slot, h, id))
		pp->failed = true;
	return id + 1;
}

static uint64_t frame_location(struct pprof *pp, uint32_t pid, const struct report_frame *f)
{
	return location_of(pp, pid, f, f->function);
}

/* A frame that is no code: why a stack ends where it does. */
static uint64_t mark_location(struct pprof *pp, uint32_t pid, const char *what)
{
	return location_of(pp, pid, NULL, what);
}

static const char *comm_of(const struct report *r, uint32_t pid)
{
	for (size_t i = 0; i < r->nprocs; i++)
		if (r->procs[i].pid == pid)
			return r->procs[i].comm;
	return NULL;
}

static void label(struct pprof *pp, struct pb_buf *sample, const char *key,
		  const char *str, int64_t num)
{
	pb_reset(&pp->sub);
	pb_int64(&pp->sub, LABEL_KEY, string_id(pp, key));
	if (str)
		pb_int64(&pp->sub, LABEL_STR, string_id(pp, str));
	else
		pb_int64(&pp->sub, LABEL_NUM, num);
	pb_message(sample, SAMPLE_LABEL, &pp->sub);
}

static void write_sample(struct pprof *pp, const struct report *r, const struct report_stack *s)
{
	uint64_t values[NVALUES] = { s->allocs, s->alloc_bytes, s->count, s->bytes };
	size_t n = 0, need = s->nframes + 2;
	char mark[256];
	const char *comm;

	if (pp->ids_cap < need) {
		uint64_t *ids = realloc(pp->ids, need * sizeof(*ids));

		if (!ids) {
			pp->failed = true;
			return;
		}
		pp->ids = ids;
		pp->ids_cap = need;
	}
	for (size_t i = 0; i < s->nframes; i++) {
		const struct report_frame *f = &s->frames[i];

		pp->ids[n++] = frame_location(pp, s->pid, f);
		if (!pp->main_named && !pp->failed && !f->python && f->function &&
		    !strcmp(f->function, "main") &&
		    (pp->main_mapping = pp->locations[pp->ids[n - 1] - 1].mapping_id))
			pp->main_named = true;
	}
	if (!pp->main_mapping && !pp->failed && !s->no_stack && !s->stack_end && n &&
	    !s->frames[n - 1].python)
		pp->main_mapping = pp->locations[pp->ids[n - 1] - 1].mapping_id;
	if (s->no_stack) {
		pp->ids[n++] = mark_location(pp, s->pid, "[stack not captured]");
	} else if (s->stack_end) {
		snprintf(mark, sizeof(mark), "[stack may be incomplete: %s]", s->stack_end);
		pp->ids[n++] = mark_location(pp, s->pid, mark);
	}

	pb_reset(&pp->msg);
	pb_packed(&pp->msg, SAMPLE_LOCATION_ID, pp->ids, n);
	/* Values are int64 in the format; counters this large never occur. */
	pb_packed(&pp->msg, SAMPLE_VALUE, values, NVALUES);
	/* A stack merged across processes names each of them. */
	if (!s->npids)
		label(pp, &pp->msg, "pid", NULL, s->pid);
	for (size_t i = 0; i < s->npids; i++)
		label(pp, &pp->msg, "pid", NULL, s->pids[i].pid);
	comm = comm_of(r, s->pid);
	if (comm && *comm)
		label(pp, &pp->msg, "comm", comm, 0);
	pb_message(&pp->out, PROFILE_SAMPLE, &pp->msg);
}

static void value_type(struct pprof *pp, uint32_t field, const char *type, const char *unit)
{
	pb_reset(&pp->msg);
	pb_int64(&pp->msg, VALUE_TYPE_TYPE, string_id(pp, type));
	pb_int64(&pp->msg, VALUE_TYPE_UNIT, string_id(pp, unit));
	pb_message(&pp->out, field, &pp->msg);
}

/* Mapping ids as written: the main mapping takes id 1, and the one that
 * had id 1 takes its place. */
static uint64_t written_mapping_id(const struct pprof *pp, uint64_t id)
{
	if (!pp->main_mapping || !id)
		return id;
	if (id == pp->main_mapping)
		return 1;
	return id == 1 ? pp->main_mapping : id;
}

static void write_tables(struct pprof *pp)
{
	for (size_t k = 0; k < pp->nmappings; k++) {
		/* In id order as written. */
		size_t i = written_mapping_id(pp, k + 1) - 1;
		const struct mapping *m = &pp->mappings[i];

		pb_reset(&pp->msg);
		pb_varint(&pp->msg, MAPPING_ID, k + 1);
		pb_varint(&pp->msg, MAPPING_MEMORY_START, m->start);
		pb_varint(&pp->msg, MAPPING_MEMORY_LIMIT, m->limit);
		pb_varint_nz(&pp->msg, MAPPING_FILE_OFFSET, m->offset);
		pb_varint_nz(&pp->msg, MAPPING_FILENAME, m->filename);
		pb_varint_nz(&pp->msg, MAPPING_BUILD_ID, m->build_id);
		pb_varint_nz(&pp->msg, MAPPING_HAS_FUNCTIONS, m->functions);
		pb_varint_nz(&pp->msg, MAPPING_HAS_FILENAMES, m->files);
		pb_varint_nz(&pp->msg, MAPPING_HAS_LINE_NUMBERS, m->lines);
		pb_message(&pp->out, PROFILE_MAPPING, &pp->msg);
	}
	for (size_t i = 0; i < pp->nlocations; i++) {
		const struct location *l = &pp->locations[i];

		pb_reset(&pp->msg);
		pb_varint(&pp->msg, LOCATION_ID, i + 1);
		pb_varint_nz(&pp->msg, LOCATION_MAPPING_ID, written_mapping_id(pp, l->mapping_id));
		pb_varint_nz(&pp->msg, LOCATION_ADDRESS, l->address);
		if (l->function_id) {
			pb_reset(&pp->sub);
			pb_varint(&pp->sub, LINE_FUNCTION_ID, l->function_id);
			pb_varint_nz(&pp->sub, LINE_LINE, l->line);
			pb_message(&pp->msg, LOCATION_LINE, &pp->sub);
		}
		pb_message(&pp->out, PROFILE_LOCATION, &pp->msg);
	}
	for (size_t i = 0; i < pp->nfunctions; i++) {
		const struct function *f = &pp->functions[i];

		pb_reset(&pp->msg);
		pb_varint(&pp->msg, FUNCTION_ID, i + 1);
		pb_varint_nz(&pp->msg, FUNCTION_NAME, f->name);
		/* No mangled names yet: the system name is the name. */
		pb_varint_nz(&pp->msg, FUNCTION_SYSTEM_NAME, f->name);
		pb_varint_nz(&pp->msg, FUNCTION_FILENAME, f->filename);
		pb_message(&pp->out, PROFILE_FUNCTION, &pp->msg);
	}
	/* Last: every string is known by now. */
	for (size_t i = 0; i < pp->nstrings; i++)
		pb_bytes(&pp->out, PROFILE_STRING_TABLE, pp->strings[i], strlen(pp->strings[i]));
}

static void write_comments(struct pprof *pp, const struct report *r)
{
	char line[256], when[32];
	struct tm tm;

	snprintf(line, sizeof(line), "memtrace %s: outstanding allocations%s",
		 MEMTRACE_VERSION, r->final ? " at the end of tracing" : "");
	pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, line));
	if (gmtime_r(&r->wall.tv_sec, &tm)) {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		snprintf(line, sizeof(line), "report at %s, %.3f s since start", when,
			 finite_or_zero(r->elapsed_s));
		pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, line));
	}
	if (r->sample_bytes) {
		snprintf(line, sizeof(line), "sampled: one allocation per %" PRIu64 " bytes on "
			 "average; the values are estimates", r->sample_bytes);
		pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, line));
	}
	if (r->min_age_s > 0 || r->window_s > 0) {
		snprintf(line, sizeof(line), "inuse_* count only allocations%s%.3f s old%s%.3f s",
			 r->min_age_s > 0 ? " at least " : "", r->min_age_s > 0 ? r->min_age_s : 0,
			 r->window_s > 0 ? ", made within the last " : "",
			 r->window_s > 0 ? r->window_s : 0);
		pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, line));
	}
	if (report_may_be_wrong(&r->acct)) {
		snprintf(line, sizeof(line), "figures may be wrong: lost events %" PRIu64
			 ", returns without entry %" PRIu64 ", entries without return %" PRIu64
			 ", stacks not captured %" PRIu64 ", replaced live %" PRIu64
			 ", pymalloc unreadable %" PRIu64, r->acct.lost_events,
			 r->acct.returns_without_entry, r->acct.entries_without_return,
			 r->acct.stacks_not_captured, r->acct.replaced_live,
			 r->acct.pymalloc.unreadable);
		pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, line));
	}
	for (size_t i = 0; i < r->nwarnings; i++)
		pb_int64(&pp->out, PROFILE_COMMENT, string_id(pp, r->warnings[i]));
}

/* gzip (RFC 1952) of len bytes at data, written to out. */
static int write_gzip(FILE *out, const uint8_t *data, size_t len)
{
	unsigned char chunk[65536];
	z_stream zs = { 0 };
	int zerr, err = 0;

	/* windowBits 15 + 16: a gzip header and trailer around deflate. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (unsigned char *)data;
	do {
		/* avail_in is 32 bits: feed large profiles in parts. */
		size_t feed = len > (1u << 30) ? (1u << 30) : len;

		zs.avail_in = feed;
		len -= feed;
		do {
			zs.next_out = chunk;
			zs.avail_out = sizeof(chunk);
			zerr = deflate(&zs, len ? Z_NO_FLUSH : Z_FINISH);
			if (zerr == Z_STREAM_ERROR) {
				err = -EIO;
				break;
			}
			if (fwrite(chunk, 1, sizeof(chunk) - zs.avail_out, out) !=
			    sizeof(chunk) - zs.avail_out)
				err = -EIO;
		} while (!err && zs.avail_out == 0);
	} while (!err && len);
	if (!err && zerr != Z_STREAM_END)
		err = -EIO;
	deflateEnd(&zs);
	return err;
}

static void pprof_free(struct pprof *pp)
{
	for (size_t i = 0; i < pp->nstrings; i++)
		free(pp->strings[i]);
	free(pp->strings);
	free(pp->mappings);
	free(pp->locations);
	free(pp->functions);
	free(pp->ids);
	index_destroy(&pp->string_ix);
	index_destroy(&pp->mapping_ix);
	index_destroy(&pp->location_ix);
	index_destroy(&pp->function_ix);
	pb_free(&pp->out);
	pb_free(&pp->msg);
	pb_free(&pp->sub);
}

int report_write_pprof(FILE *out, const struct report *r)
{
	struct pprof pp = { 0 };
	int err = -ENOMEM;

	if (index_init(&pp.string_ix) || index_init(&pp.mapping_ix) ||
	    index_init(&pp.location_ix) || index_init(&pp.function_ix))
		goto out;
	pp.strings = calloc(64, sizeof(char *));
	if (!pp.strings || !(pp.strings[0] = strdup("")))
		goto out;
	pp.strings_cap = 64;
	pp.nstrings = 1;

	value_type(&pp, PROFILE_SAMPLE_TYPE, "alloc_objects", "count");
	value_type(&pp, PROFILE_SAMPLE_TYPE, "alloc_space", "bytes");
	value_type(&pp, PROFILE_SAMPLE_TYPE, "inuse_objects", "count");
	value_type(&pp, PROFILE_SAMPLE_TYPE, "inuse_space", "bytes");
	for (size_t i = 0; i < r->nstacks; i++)
		write_sample(&pp, r, &r->stacks[i]);
	for (size_t i = 0; i < r->npast_stacks; i++)
		write_sample(&pp, r, &r->past_stacks[i]);
	pb_int64(&pp.out, PROFILE_TIME_NANOS,
		 (int64_t)r->wall.tv_sec * 1000000000 + r->wall.tv_nsec);
	pb_int64(&pp.out, PROFILE_DURATION_NANOS, (int64_t)(finite_or_zero(r->elapsed_s) * 1e9));
	value_type(&pp, PROFILE_PERIOD_TYPE, "space", "bytes");
	/* As Go's heap profiles: the values are estimates already, the period
	 * says how they were sampled. */
	pb_int64(&pp.out, PROFILE_PERIOD, r->sample_bytes ? (int64_t)r->sample_bytes : 1);
	write_comments(&pp, r);
	pb_int64(&pp.out, PROFILE_DEFAULT_SAMPLE_TYPE, string_id(&pp, "inuse_space"));
	write_tables(&pp);

	if (pp.failed || pb_failed(&pp.out))
		goto out;
	err = write_gzip(out, pp.out.data, pp.out.len);
	if (!err)
		err = fput_finish(out);
out:
	pprof_free(&pp);
	return err;
}
