/* The journal in memory: commitments and entries, changed only by applying records.
 *
 * A change is made in two steps: a maker checks it against the current state and encodes a
 * record; apply decodes the record and changes the state. Replay at unlock is the same apply,
 * so applying the records a journal was built from gives the same journal. A record that does
 * not decode, or that contradicts the state, is refused and changes nothing.
 *
 * The record format (proto/STORE.md) is [type, written, body]: type 1 adds a commitment, 2
 * archives one, 3 writes an entry; some tests forge records by hand in that format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <sodium.h>

#include "buddy/error.h"
#include "buddy/journal.h"
#include "buddy/limits.h"
#include "buddy/mp.h"
#include "buddy/streams.h"

#define NOW    1718000000 /* 2024-06-10 06:13:20 UTC */
#define HOUR   3600
#define DAY    86400
#define BERLIN "Europe/Berlin"

enum { REC_COMMIT_ADD = 1, REC_COMMIT_ARCHIVE = 2, REC_ENTRY = 3 };

static const struct buddy_cadence daily = {.kind = BUDDY_CADENCE_DAILY, .n = 1};

struct fx {
	struct buddy_journal *j;
	msgpack_sbuffer rec; /* the last record made or forged */
	const char *why;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || !(f->j = buddy_journal_new())) {
		free(f);
		return -1;
	}
	msgpack_sbuffer_init(&f->rec);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	buddy_journal_free(f->j);
	msgpack_sbuffer_destroy(&f->rec);
	free(f);
	return 0;
}

static int apply(struct fx *f)
{
	return buddy_journal_apply(f->j, (const uint8_t *)f->rec.data, f->rec.size);
}

static int make_commit(struct fx *f, const char *id, const char *title,
		       struct buddy_cadence cadence, const char *tz, int64_t now)
{
	struct buddy_commit_spec s = {.id = id, .title = title, .cadence = cadence, .tz = tz};
	int rc;

	msgpack_sbuffer_clear(&f->rec);
	f->why = NULL;
	rc = buddy_journal_make_commit_add(f->j, &s, now, &f->rec, &f->why);
	if (rc) {
		/* a refusal says why, and encodes nothing */
		assert_non_null(f->why);
		assert_true(f->why[0]);
		assert_int_equal(f->rec.size, 0);
	}
	return rc;
}

static void add_commit(struct fx *f, const char *id)
{
	assert_int_equal(make_commit(f, id, "A title", daily, BERLIN, NOW), 0);
	assert_int_equal(apply(f), 0);
}

static int make_archive(struct fx *f, const char *id, int64_t now)
{
	msgpack_sbuffer_clear(&f->rec);
	f->why = NULL;
	return buddy_journal_make_commit_archive(f->j, id, now, &f->rec, &f->why);
}

static int make_entry(struct fx *f, const struct buddy_entry_spec *s, int64_t now, uint64_t *id)
{
	uint64_t unused;
	int rc;

	msgpack_sbuffer_clear(&f->rec);
	f->why = NULL;
	rc = buddy_journal_make_entry(f->j, s, now, &f->rec, id ? id : &unused, &f->why);
	if (rc) {
		assert_non_null(f->why);
		assert_true(f->why[0]);
		assert_int_equal(f->rec.size, 0);
	}
	return rc;
}

static uint64_t add_entry(struct fx *f, const struct buddy_entry_spec *s, int64_t now)
{
	uint64_t id = 0;

	assert_int_equal(make_entry(f, s, now, &id), 0);
	assert_int_equal(apply(f), 0);
	return id;
}

static struct buddy_entry_spec note(const char *text)
{
	return (struct buddy_entry_spec){
		.kind = BUDDY_ENTRY_NOTE, .text = text, .text_len = text ? strlen(text) : 0};
}

static struct buddy_entry_spec checkin(const char *commit, enum buddy_checkin_status status)
{
	return (struct buddy_entry_spec){
		.kind = BUDDY_ENTRY_CHECKIN, .commit = commit, .status = status};
}

static struct buddy_entry_spec imported(const char *text, int64_t time)
{
	struct buddy_entry_spec s = note(text);

	s.imported = true;
	s.time = time;
	return s;
}

/* ---- forging records by hand ---- */

struct field {
	const char *key;
	char type; /* s str, i int, u uint, d double, b bool, n nil, g array of strings, m map */
	const char *s;
	size_t slen;
	int64_t i;
	uint64_t u;
	double d;
	const char *const *strs;
	const struct field *sub;
};

#define F_STR(k, v)                                                                                \
	{                                                                                          \
		.key = (k), .type = 's', .s = (v), .slen = sizeof(v) - 1                           \
	}
#define F_INT(k, v)                                                                                \
	{                                                                                          \
		.key = (k), .type = 'i', .i = (v)                                                  \
	}
#define F_UINT(k, v)                                                                               \
	{                                                                                          \
		.key = (k), .type = 'u', .u = (v)                                                  \
	}
#define F_DOUBLE(k, v)                                                                             \
	{                                                                                          \
		.key = (k), .type = 'd', .d = (v)                                                  \
	}
#define F_BOOL(k, v)                                                                               \
	{                                                                                          \
		.key = (k), .type = 'b', .i = (v)                                                  \
	}
#define F_NIL(k)                                                                                   \
	{                                                                                          \
		.key = (k), .type = 'n'                                                            \
	}
#define F_STRS(k, ...)                                                                             \
	{                                                                                          \
		.key = (k), .type = 'g', .strs = (const char *const[])                             \
		{                                                                                  \
			__VA_ARGS__, NULL                                                          \
		}                                                                                  \
	}
#define F_MAP(k, ...)                                                                              \
	{                                                                                          \
		.key = (k), .type = 'm', .sub = (const struct field[])                             \
		{                                                                                  \
			__VA_ARGS__,                                                               \
			{                                                                          \
				0                                                                  \
			}                                                                          \
		}                                                                                  \
	}
#define FIELDS(...) ((const struct field[]){__VA_ARGS__, {0}})

static void pack_fields(msgpack_packer *pk, const struct field *f)
{
	size_t n = 0;

	while (f[n].key)
		n++;
	msgpack_pack_map(pk, n);
	for (; f->key; f++) {
		buddy_mp_pack_cstr(pk, f->key);
		switch (f->type) {
		case 's':
			buddy_mp_pack_strn(pk, f->s, f->slen);
			break;
		case 'i':
			msgpack_pack_int64(pk, f->i);
			break;
		case 'u':
			msgpack_pack_uint64(pk, f->u);
			break;
		case 'd':
			msgpack_pack_double(pk, f->d);
			break;
		case 'b':
			f->i ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
			break;
		case 'n':
			msgpack_pack_nil(pk);
			break;
		case 'g':
			n = 0;
			while (f->strs[n])
				n++;
			msgpack_pack_array(pk, n);
			for (size_t i = 0; i < n; i++)
				buddy_mp_pack_cstr(pk, f->strs[i]);
			break;
		case 'm':
			pack_fields(pk, f->sub);
			break;
		}
	}
}

/* Forges the record [type, written, {fields}] into f->rec and applies it. */
static int apply_forged(struct fx *f, uint64_t type, int64_t written, const struct field *body)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(&f->rec);
	msgpack_packer_init(&pk, &f->rec, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, type);
	msgpack_pack_int64(&pk, written);
	pack_fields(&pk, body);
	return apply(f);
}

/* ---- the state, summarised, to show that a refused record changed nothing ---- */

struct summary {
	size_t ncommits, nentries;
	uint64_t nrecords, checkins, archived;
};

static struct summary summarise(const struct buddy_journal *j)
{
	struct summary s = {
		.ncommits = buddy_journal_ncommits(j),
		.nentries = buddy_journal_nentries(j),
		.nrecords = buddy_journal_nrecords(j),
	};

	for (size_t i = 0; i < s.ncommits; i++) {
		s.checkins += buddy_journal_commit_at(j, i)->checkins;
		s.archived += buddy_journal_commit_at(j, i)->archived != 0;
	}
	return s;
}

static void assert_unchanged(const struct buddy_journal *j, const struct summary *before)
{
	struct summary now = summarise(j);

	assert_int_equal(now.ncommits, before->ncommits);
	assert_int_equal(now.nentries, before->nentries);
	assert_int_equal(now.nrecords, before->nrecords);
	assert_int_equal(now.checkins, before->checkins);
	assert_int_equal(now.archived, before->archived);
}

/* ---- commitments ---- */

static void test_journal_commit_add_valid(void **state)
{
	struct fx *f = *state;
	const struct buddy_commitment *c;
	size_t index = 99;

	assert_int_equal(make_commit(f, "run", "Run 5 km", daily, BERLIN, NOW), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(buddy_journal_ncommits(f->j), 1);
	assert_int_equal(buddy_journal_nrecords(f->j), 1);
	c = buddy_journal_commit_find(f->j, "run", &index);
	assert_non_null(c);
	assert_ptr_equal(c, buddy_journal_commit_at(f->j, 0));
	assert_int_equal(index, 0);
	assert_string_equal(c->id, "run");
	assert_string_equal(c->title, "Run 5 km");
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_DAILY);
	assert_int_equal(c->cadence.n, 1);
	assert_string_equal(c->tz, BERLIN);
	assert_int_equal(c->created, NOW);
	assert_int_equal(c->archived, 0);
	assert_int_equal(c->checkins, 0);
	assert_null(buddy_journal_commit_find(f->j, "ru", NULL));
	assert_null(buddy_journal_commit_at(f->j, 1));
}

static void test_journal_commit_add_every_cadence(void **state)
{
	struct fx *f = *state;
	const struct buddy_commitment *c;

	assert_int_equal(make_commit(f, "gym", "Gym",
				     (struct buddy_cadence){.kind = BUDDY_CADENCE_WEEKLY, .n = 3},
				     "UTC", NOW),
			 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(make_commit(f, "call-mum", "Call mum",
				     (struct buddy_cadence){.kind = BUDDY_CADENCE_MONTHLY,
							    .n = BUDDY_CADENCE_N_MAX},
				     "America/New_York", NOW),
			 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(make_commit(f, "taxes", "File the taxes",
				     (struct buddy_cadence){.kind = BUDDY_CADENCE_BY,
							    .n = 1,
							    .by_year = 2025,
							    .by_month = 5,
							    .by_day = 31},
				     BERLIN, NOW),
			 0);
	assert_int_equal(apply(f), 0);

	c = buddy_journal_commit_find(f->j, "gym", NULL);
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_WEEKLY);
	assert_int_equal(c->cadence.n, 3);
	c = buddy_journal_commit_find(f->j, "call-mum", NULL);
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_MONTHLY);
	assert_int_equal(c->cadence.n, BUDDY_CADENCE_N_MAX);
	c = buddy_journal_commit_find(f->j, "taxes", NULL);
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_BY);
	assert_int_equal(c->cadence.by_year, 2025);
	assert_int_equal(c->cadence.by_month, 5);
	assert_int_equal(c->cadence.by_day, 31);
}

static void test_journal_commit_add_make_alone_changes_nothing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(make_commit(f, "run", "Run", daily, BERLIN, NOW), 0);
	assert_true(f->rec.size > 0);
	assert_int_equal(buddy_journal_ncommits(f->j), 0);
	assert_int_equal(buddy_journal_nrecords(f->j), 0);
	assert_null(buddy_journal_commit_find(f->j, "run", NULL));
	/* so the same change can be made again */
	assert_int_equal(make_commit(f, "run", "Run", daily, BERLIN, NOW), 0);
}

static void test_journal_commit_add_duplicate_id_exists(void **state)
{
	struct fx *f = *state;

	add_commit(f, "run");
	assert_int_equal(make_commit(f, "run", "Another run", daily, "UTC", NOW), BUDDY_E_EXISTS);
	/* ids are exact: another spelling is another id */
	assert_int_equal(make_commit(f, "run2", "Run", daily, BERLIN, NOW), 0);
}

static void test_journal_commit_add_bad_id_invalid(void **state)
{
	struct fx *f = *state;

	assert_int_equal(make_commit(f, NULL, "Run", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "", "Run", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "Run", "Run", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "-run", "Run", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run daily", "Run", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(
		make_commit(f, "abcdefghijklmnopqrstuvwxyz0123456", "Run", daily, BERLIN, NOW),
		BUDDY_E_INVALID);
	assert_int_equal(
		make_commit(f, "abcdefghijklmnopqrstuvwxyz012345", "Run", daily, BERLIN, NOW), 0);
}

static void test_journal_commit_add_bad_title_invalid(void **state)
{
	struct fx *f = *state;
	char title[BUDDY_TITLE_MAX + 2];

	assert_int_equal(make_commit(f, "run", NULL, daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run\nfast", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run\tfast", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "\x1b[2J", daily, BERLIN, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "caf\xc3", daily, BERLIN, NOW), BUDDY_E_INVALID);

	memset(title, 'x', sizeof(title));
	title[BUDDY_TITLE_MAX + 1] = 0; /* 201 bytes */
	assert_int_equal(make_commit(f, "run", title, daily, BERLIN, NOW), BUDDY_E_INVALID);
	title[BUDDY_TITLE_MAX] = 0; /* 200 */
	assert_int_equal(make_commit(f, "run", title, daily, BERLIN, NOW), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(strlen(buddy_journal_commit_at(f->j, 0)->title), BUDDY_TITLE_MAX);
}

static void test_journal_commit_add_bad_cadence_invalid(void **state)
{
	static const struct buddy_cadence bad[] = {
		{.kind = 0, .n = 1},
		{.kind = 5, .n = 1},
		{.kind = BUDDY_CADENCE_DAILY, .n = 0},
		{.kind = BUDDY_CADENCE_DAILY, .n = 2},
		{.kind = BUDDY_CADENCE_WEEKLY, .n = 0},
		{.kind = BUDDY_CADENCE_MONTHLY, .n = BUDDY_CADENCE_N_MAX + 1},
		{.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = 2023, .by_month = 2, .by_day = 29},
		{.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = 2024, .by_month = 13, .by_day = 1},
		{.kind = BUDDY_CADENCE_BY, .n = 1},
		{.kind = BUDDY_CADENCE_BY, .n = 2, .by_year = 2025, .by_month = 1, .by_day = 1},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(make_commit(f, "run", "Run", bad[i], BERLIN, NOW),
				 BUDDY_E_INVALID);
}

static void test_journal_commit_add_unknown_tz_invalid(void **state)
{
	struct fx *f = *state;

	assert_int_equal(make_commit(f, "run", "Run", daily, NULL, NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run", daily, "", NOW), BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run", daily, "Mars/Olympus_Mons", NOW),
			 BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run", daily, "../../etc/passwd", NOW),
			 BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run", daily, "/etc/localtime", NOW),
			 BUDDY_E_INVALID);
	assert_int_equal(make_commit(f, "run", "Run", daily, "UTC", NOW), 0);
}

static void test_journal_commit_archive(void **state)
{
	struct fx *f = *state;
	const struct buddy_commitment *c;

	add_commit(f, "run");
	assert_int_equal(make_archive(f, "nope", NOW), BUDDY_E_NOTFOUND);
	assert_non_null(f->why);
	assert_int_equal(make_archive(f, "run", NOW + DAY), 0);
	c = buddy_journal_commit_find(f->j, "run", NULL);
	assert_int_equal(c->archived, 0); /* made, not applied */
	assert_int_equal(apply(f), 0);
	assert_int_equal(c->archived, NOW + DAY);
	assert_int_equal(buddy_journal_nrecords(f->j), 2);
	/* twice */
	assert_int_equal(make_archive(f, "run", NOW + 2 * DAY), BUDDY_E_STATE);
	assert_non_null(f->why);
	/* an archived commitment keeps its id */
	assert_int_equal(make_commit(f, "run", "Run again", daily, BERLIN, NOW), BUDDY_E_EXISTS);
}

/* ---- entries ---- */

static void test_journal_checkin_valid(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = checkin("run", BUDDY_CHECKIN_PARTIAL);
	const struct buddy_entry *e;

	add_commit(f, "run");
	add_commit(f, "read");
	assert_int_equal(add_entry(f, &s, NOW + HOUR), 1);
	e = buddy_journal_entry_at(f->j, 0);
	assert_int_equal(e->id, 1);
	assert_int_equal(e->kind, BUDDY_ENTRY_CHECKIN);
	assert_int_equal(e->status, BUDDY_CHECKIN_PARTIAL);
	assert_int_equal(e->commit, 1); /* index of "run" + 1 */
	assert_int_equal(e->time, NOW + HOUR);
	assert_int_equal(e->written, NOW + HOUR);
	assert_string_equal(e->text, "");
	assert_int_equal(e->ntags, 0);
	assert_int_equal(buddy_journal_commit_find(f->j, "run", NULL)->checkins, 1);
	assert_int_equal(buddy_journal_commit_find(f->j, "read", NULL)->checkins, 0);

	s = checkin("read", BUDDY_CHECKIN_DONE);
	add_entry(f, &s, NOW + 2 * HOUR);
	assert_int_equal(buddy_journal_entry_at(f->j, 1)->commit, 2);
	assert_int_equal(buddy_journal_commit_find(f->j, "read", NULL)->checkins, 1);
}

static void test_journal_checkin_needs_active_commitment_and_status(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s;

	add_commit(f, "run");
	s = checkin(NULL, BUDDY_CHECKIN_DONE);
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = checkin("swim", BUDDY_CHECKIN_DONE);
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_NOTFOUND);
	s = checkin("run", 0);
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = checkin("run", BUDDY_CHECKIN_SKIP + 1);
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = checkin("run", BUDDY_CHECKIN_SKIP);
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);

	assert_int_equal(make_archive(f, "run", NOW), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_STATE);
	assert_int_equal(buddy_journal_nentries(f->j), 0);
}

static void test_journal_note_needs_text(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note(NULL);

	add_commit(f, "run");
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = note("");
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = note("Felt strong today.\nRain later.");
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 0)->commit, 0);
	assert_string_equal(buddy_journal_entry_at(f->j, 0)->text, s.text);
	/* a note may name a commitment; that is not a check-in */
	s.commit = "run";
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 1)->commit, 1);
	assert_int_equal(buddy_journal_commit_at(f->j, 0)->checkins, 0);
	s.commit = "swim";
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_NOTFOUND);
	/* but not an archived one */
	assert_int_equal(make_archive(f, "run", NOW), 0);
	assert_int_equal(apply(f), 0);
	s.commit = "run";
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_STATE);
}

static void test_journal_entry_text_rules(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("line one\n\tindented");
	char *big = malloc(BUDDY_TEXT_MAX + 1);

	assert_non_null(big);
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);
	s = note("bell\a");
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = note("\xc2\x9b"
		 "2J");
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s = note("\xed\xa0\x80");
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	/* the length given is what counts: a NUL inside is refused */
	s = note("a");
	s.text = "a\0b";
	s.text_len = 3;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);

	memset(big, 'x', BUDDY_TEXT_MAX + 1);
	s = note("x");
	s.text = big;
	s.text_len = BUDDY_TEXT_MAX + 1;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.text_len = BUDDY_TEXT_MAX;
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(strlen(buddy_journal_entry_at(f->j, 0)->text), BUDDY_TEXT_MAX);
	free(big);
}

static void test_journal_entry_tags(void **state)
{
	static const char *const tags[] = {"run", "outside", "caf\xc3\xa9"};
	struct fx *f = *state;
	struct buddy_entry_spec s = note("tagged");
	const struct buddy_entry *e;

	s.tags = tags;
	s.ntags = 3;
	add_entry(f, &s, NOW);
	e = buddy_journal_entry_at(f->j, 0);
	assert_int_equal(e->ntags, 3);
	assert_string_equal(e->tags[0], "run");
	assert_string_equal(e->tags[1], "outside");
	assert_string_equal(e->tags[2], "caf\xc3\xa9");
}

static void test_journal_entry_bad_or_duplicate_tags_invalid(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("tagged");
	const char *tags[BUDDY_TAGS_MAX + 1];
	char names[BUDDY_TAGS_MAX + 1][8];

	s.tags = (const char *const[]){"run", "bike", "run"};
	s.ntags = 3;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.tags = (const char *const[]){"two words"};
	s.ntags = 1;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.tags = (const char *const[]){"a,b"};
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.tags = (const char *const[]){""};
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.tags = (const char *const[]){"abcdefghijklmnopqrstuvwxyz0123456"};
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	/* tags are case sensitive: "Run" is not "run" */
	s.tags = (const char *const[]){"run", "Run"};
	s.ntags = 2;
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);

	for (int i = 0; i <= BUDDY_TAGS_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "t%d", i);
		tags[i] = names[i];
	}
	s.tags = tags;
	s.ntags = BUDDY_TAGS_MAX + 1;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.ntags = BUDDY_TAGS_MAX;
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 0)->ntags, BUDDY_TAGS_MAX);
}

static void test_journal_entry_value_finite(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s;
	const struct buddy_entry *e;

	add_commit(f, "run");
	s = checkin("run", BUDDY_CHECKIN_DONE);
	s.has_value = true;
	s.value = NAN;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.value = INFINITY;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.value = -INFINITY;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);

	s.value = -3.25;
	add_entry(f, &s, NOW);
	e = buddy_journal_entry_at(f->j, 0);
	assert_true(e->has_value);
	assert_true(e->value == -3.25);
	s.value = 1e300;
	add_entry(f, &s, NOW);
	assert_true(buddy_journal_entry_at(f->j, 1)->value == 1e300);
	/* no value is not the value 0 */
	s.has_value = false;
	s.value = 0;
	add_entry(f, &s, NOW);
	assert_false(buddy_journal_entry_at(f->j, 2)->has_value);
}

static void test_journal_entry_unit_needs_value(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s;

	add_commit(f, "run");
	s = checkin("run", BUDDY_CHECKIN_DONE);
	s.unit = "km";
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.has_value = true;
	s.value = 5;
	s.unit = "k m";
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.unit = "abcdefghijklmnopq"; /* 17 bytes */
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.unit = "km\n";
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.unit = "abcdefghijklmnop"; /* 16 */
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);
	s.unit = "km";
	add_entry(f, &s, NOW);
	assert_string_equal(buddy_journal_entry_at(f->j, 0)->unit, "km");
	/* an empty unit is no unit */
	s.has_value = false;
	s.unit = "";
	add_entry(f, &s, NOW);
	assert_string_equal(buddy_journal_entry_at(f->j, 1)->unit, "");
}

static void test_journal_entry_time_before_1970_invalid(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("the past");

	s.time = -1;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	/* time 0 means "now" */
	s.time = 0;
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 0)->time, NOW);
	s.time = 1;
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 1)->time, 1);
	assert_int_equal(buddy_journal_entry_at(f->j, 1)->written, NOW);
}

static void test_journal_entry_bad_kind_invalid(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("text");

	s.kind = 0;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
	s.kind = 3;
	assert_int_equal(make_entry(f, &s, NOW, NULL), BUDDY_E_INVALID);
}

static void test_journal_entry_ids_count_up_from_one(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("text");
	uint64_t id = 0;

	assert_int_equal(make_entry(f, &s, NOW, &id), 0);
	assert_int_equal(id, 1);
	/* made but not applied: the next one gets the same id */
	assert_int_equal(make_entry(f, &s, NOW, &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(apply(f), 0);
	assert_int_equal(add_entry(f, &s, NOW), 2);
	assert_int_equal(add_entry(f, &s, NOW), 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(buddy_journal_entry_at(f->j, i)->id, i + 1);
	assert_null(buddy_journal_entry_at(f->j, 3));
}

static void test_journal_entry_starred(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = note("a good day");

	s.starred = true;
	add_entry(f, &s, NOW);
	s.starred = false;
	add_entry(f, &s, NOW);
	assert_true(buddy_journal_entry_at(f->j, 0)->starred);
	assert_false(buddy_journal_entry_at(f->j, 1)->starred);
}

/* Imports keep their original times, so entries arrive out of time order. */
static void test_journal_time_order_with_imports_out_of_order(void **state)
{
	static const int64_t times[] = {
		NOW, NOW - 10 * DAY, NOW + HOUR, NOW - 10 * DAY, NOW - 20 * DAY, NOW,
		1,   NOW + HOUR};
	/* by time, then by id (index + 1) */
	static const uint32_t want[] = {6, 4, 1, 3, 0, 5, 2, 7};
	struct fx *f = *state;
	const uint32_t *order;

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char text[16];
		struct buddy_entry_spec s;

		snprintf(text, sizeof(text), "entry %zu", i);
		s = imported(text, times[i]);
		add_entry(f, &s, NOW);
	}
	order = buddy_journal_time_order(f->j);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(order[i], want[i]);
}

static void test_journal_time_order_many_entries(void **state)
{
	struct fx *f = *state;
	const uint32_t *order;
	uint8_t seen[300] = {0};
	uint32_t x = 12345;

	for (size_t i = 0; i < 300; i++) {
		struct buddy_entry_spec s = note("n");

		x = x * 1103515245 + 12345; /* a fixed sequence of times, with ties */
		s.time = 1 + (x >> 16) % 50 * HOUR;
		add_entry(f, &s, NOW);
	}
	order = buddy_journal_time_order(f->j);
	for (size_t i = 0; i < 300; i++) {
		assert_true(order[i] < 300);
		assert_false(seen[order[i]]);
		seen[order[i]] = 1;
		if (i > 0) {
			const struct buddy_entry *a = buddy_journal_entry_at(f->j, order[i - 1]);
			const struct buddy_entry *b = buddy_journal_entry_at(f->j, order[i]);

			assert_true(a->time < b->time || (a->time == b->time && a->id < b->id));
		}
	}
}

static void test_journal_import_dedupe(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = imported("Dear diary", NOW - DAY);

	add_entry(f, &s, NOW);
	assert_true(buddy_journal_entry_at(f->j, 0)->import_key != 0);
	assert_int_equal(make_entry(f, &s, NOW + HOUR, NULL), BUDDY_E_EXISTS);
	assert_non_null(f->why);
	/* another time or another text is another entry */
	s.time = NOW - DAY + 1;
	add_entry(f, &s, NOW);
	s = imported("Dear diary!", NOW - DAY);
	add_entry(f, &s, NOW);
	/* entries written live are never deduplicated */
	s = note("Dear diary");
	s.time = NOW - DAY;
	add_entry(f, &s, NOW);
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 3)->import_key, 0);
	assert_int_equal(buddy_journal_nentries(f->j), 5);
	/* and a live entry does not make a later import a duplicate */
	s = note("Written first");
	s.time = NOW - 2 * DAY;
	add_entry(f, &s, NOW);
	s = imported("Written first", NOW - 2 * DAY);
	add_entry(f, &s, NOW);
}

static void test_journal_import_on_archived_commitment_allowed(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = imported("history", NOW - 30 * DAY);

	add_commit(f, "run");
	assert_int_equal(make_archive(f, "run", NOW), 0);
	assert_int_equal(apply(f), 0);
	s.commit = "run";
	add_entry(f, &s, NOW);
	assert_int_equal(buddy_journal_entry_at(f->j, 0)->commit, 1);
}

/* ---- replay ---- */

static void assert_same_journal(const struct buddy_journal *a, const struct buddy_journal *b)
{
	const uint32_t *oa = buddy_journal_time_order(a), *ob = buddy_journal_time_order(b);

	assert_int_equal(buddy_journal_nrecords(a), buddy_journal_nrecords(b));
	assert_int_equal(buddy_journal_ncommits(a), buddy_journal_ncommits(b));
	for (size_t i = 0; i < buddy_journal_ncommits(a); i++) {
		const struct buddy_commitment *x = buddy_journal_commit_at(a, i);
		const struct buddy_commitment *y = buddy_journal_commit_at(b, i);

		assert_string_equal(x->id, y->id);
		assert_string_equal(x->title, y->title);
		assert_int_equal(x->cadence.kind, y->cadence.kind);
		assert_int_equal(x->cadence.n, y->cadence.n);
		assert_int_equal(x->cadence.by_year, y->cadence.by_year);
		assert_int_equal(x->cadence.by_month, y->cadence.by_month);
		assert_int_equal(x->cadence.by_day, y->cadence.by_day);
		assert_string_equal(x->tz, y->tz);
		assert_int_equal(x->created, y->created);
		assert_int_equal(x->archived, y->archived);
		assert_int_equal(x->checkins, y->checkins);
	}
	assert_int_equal(buddy_journal_nentries(a), buddy_journal_nentries(b));
	for (size_t i = 0; i < buddy_journal_nentries(a); i++) {
		const struct buddy_entry *x = buddy_journal_entry_at(a, i);
		const struct buddy_entry *y = buddy_journal_entry_at(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->time, y->time);
		assert_int_equal(x->written, y->written);
		assert_int_equal(x->import_key, y->import_key);
		assert_memory_equal(&x->value, &y->value, sizeof(x->value));
		assert_int_equal(x->commit, y->commit);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->status, y->status);
		assert_int_equal(x->starred, y->starred);
		assert_int_equal(x->has_value, y->has_value);
		assert_string_equal(x->unit, y->unit);
		assert_string_equal(x->text, y->text);
		assert_int_equal(x->ntags, y->ntags);
		for (size_t k = 0; k < x->ntags; k++)
			assert_string_equal(x->tags[k], y->tags[k]);
		assert_int_equal(oa[i], ob[i]);
	}
}

struct log {
	msgpack_sbuffer recs[64];
	size_t n;
};

/* Applies the record just made and keeps a copy, as the store would. */
static void commit_to_log(struct fx *f, struct log *log)
{
	msgpack_sbuffer *r = &log->recs[log->n++];

	assert_int_equal(apply(f), 0);
	msgpack_sbuffer_init(r);
	msgpack_sbuffer_write(r, f->rec.data, f->rec.size);
}

static void test_journal_replay_gives_identical_state(void **state)
{
	static const char *const tags[] = {"run", "rain"};
	struct fx *f = *state;
	struct buddy_journal *replayed = buddy_journal_new();
	struct log log = {0};
	struct buddy_entry_spec s;
	struct buddy_cadence weekly3 = {.kind = BUDDY_CADENCE_WEEKLY, .n = 3};
	struct buddy_cadence by = {
		.kind = BUDDY_CADENCE_BY, .n = 1, .by_year = 2024, .by_month = 12, .by_day = 31};

	assert_non_null(replayed);
	assert_int_equal(make_commit(f, "run", "Run 5 km", weekly3, BERLIN, NOW), 0);
	commit_to_log(f, &log);
	assert_int_equal(make_commit(f, "novel", "Finish the novel", by, "Asia/Tokyo", NOW + 1), 0);
	commit_to_log(f, &log);
	assert_int_equal(make_commit(f, "floss", "Floss", daily, "UTC", NOW + 2), 0);
	commit_to_log(f, &log);

	s = checkin("run", BUDDY_CHECKIN_DONE);
	s.text = "Along the river.\nSlow but steady.";
	s.text_len = strlen(s.text);
	s.has_value = true;
	s.value = 5.2;
	s.unit = "km";
	s.tags = tags;
	s.ntags = 2;
	s.starred = true;
	assert_int_equal(make_entry(f, &s, NOW + HOUR, NULL), 0);
	commit_to_log(f, &log);
	s = checkin("novel", BUDDY_CHECKIN_PARTIAL);
	s.has_value = true;
	s.value = 1200;
	assert_int_equal(make_entry(f, &s, NOW + 2 * HOUR, NULL), 0);
	commit_to_log(f, &log);
	s = imported("An old note from my previous journal", NOW - 400 * DAY);
	assert_int_equal(make_entry(f, &s, NOW + 3 * HOUR, NULL), 0);
	commit_to_log(f, &log);
	s = note("Skipped the run: knee hurts");
	s.commit = "run";
	s.time = NOW - DAY;
	assert_int_equal(make_entry(f, &s, NOW + 4 * HOUR, NULL), 0);
	commit_to_log(f, &log);
	s = checkin("floss", BUDDY_CHECKIN_SKIP);
	assert_int_equal(make_entry(f, &s, NOW + 5 * HOUR, NULL), 0);
	commit_to_log(f, &log);
	assert_int_equal(make_archive(f, "floss", NOW + 6 * HOUR), 0);
	commit_to_log(f, &log);
	s = imported("Imported check-in on an archived commitment", NOW - 10 * DAY);
	s.kind = BUDDY_ENTRY_CHECKIN;
	s.commit = "floss";
	s.status = BUDDY_CHECKIN_DONE;
	assert_int_equal(make_entry(f, &s, NOW + 7 * HOUR, NULL), 0);
	commit_to_log(f, &log);

	for (size_t i = 0; i < log.n; i++) {
		assert_int_equal(buddy_journal_apply(replayed, (const uint8_t *)log.recs[i].data,
						     log.recs[i].size),
				 0);
		msgpack_sbuffer_destroy(&log.recs[i]);
	}
	assert_int_equal(buddy_journal_nrecords(replayed), 10);
	assert_int_equal(buddy_journal_nentries(replayed), 6);
	assert_same_journal(f->j, replayed);
	buddy_journal_free(replayed);
}

/* ---- records that are refused ---- */

/* a commitment "run" and a note (id 1), as the refusals below find them */
static void small_journal(struct fx *f)
{
	struct buddy_entry_spec s = note("first");

	add_commit(f, "run");
	add_entry(f, &s, NOW);
}

static void assert_refused(struct fx *f, int want, uint64_t type, int64_t written,
			   const struct field *body)
{
	struct summary before = summarise(f->j);

	assert_int_equal(apply_forged(f, type, written, body), want);
	assert_unchanged(f->j, &before);
}

#define NOTE_OK F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "hello")

static void test_journal_apply_forged_records_in_the_documented_format(void **state)
{
	struct fx *f = *state;
	const struct buddy_entry *e;

	/* the records below differ from these in one field each */
	small_journal(f);
	assert_int_equal(apply_forged(f, REC_ENTRY, NOW, FIELDS(NOTE_OK)), 0);
	assert_int_equal(
		apply_forged(f, REC_ENTRY, NOW + 1,
			     FIELDS(F_UINT("n", 3), F_INT("at", NOW - DAY), F_STR("k", "checkin"),
				    F_STR("t", ""), F_STR("c", "run"), F_STR("s", "done"),
				    F_DOUBLE("v", 2.5), F_STR("u", "km"), F_STRS("g", "a", "b"),
				    F_BOOL("st", 1), F_UINT("ik", 77))),
		0);
	e = buddy_journal_entry_at(f->j, 2);
	assert_int_equal(e->id, 3);
	assert_int_equal(e->time, NOW - DAY);
	assert_int_equal(e->written, NOW + 1);
	assert_int_equal(e->kind, BUDDY_ENTRY_CHECKIN);
	assert_int_equal(e->status, BUDDY_CHECKIN_DONE);
	assert_int_equal(e->commit, 1);
	assert_true(e->value == 2.5);
	assert_string_equal(e->unit, "km");
	assert_int_equal(e->ntags, 2);
	assert_true(e->starred);
	assert_int_equal(e->import_key, 77);
	/* entry ids need only increase */
	assert_int_equal(apply_forged(f, REC_ENTRY, NOW,
				      FIELDS(F_UINT("n", 10), F_INT("at", NOW), F_STR("k", "note"),
					     F_STR("t", "ten"))),
			 0);
	assert_int_equal(apply_forged(f, REC_COMMIT_ADD, NOW,
				      FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
					     F_MAP("cad", F_STR("k", "weekly"), F_UINT("n", 2)),
					     F_STR("tz", "UTC"))),
			 0);
	assert_int_equal(apply_forged(f, REC_COMMIT_ARCHIVE, NOW, FIELDS(F_STR("id", "gym"))), 0);
	assert_int_equal(buddy_journal_nrecords(f->j), 7);
}

static void test_journal_apply_truncated_record_refused(void **state)
{
	static const char *const tags[] = {"run", "rain"};
	struct fx *f = *state;
	struct buddy_entry_spec s = checkin("run", BUDDY_CHECKIN_DONE);
	struct summary before;
	uint8_t *rec;
	size_t len;

	small_journal(f);
	s.text = "text";
	s.text_len = 4;
	s.has_value = true;
	s.value = 1;
	s.unit = "km";
	s.tags = tags;
	s.ntags = 2;
	assert_int_equal(make_entry(f, &s, NOW, NULL), 0);
	len = f->rec.size;
	rec = malloc(len + 1);
	assert_non_null(rec);
	memcpy(rec, f->rec.data, len);
	before = summarise(f->j);
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(buddy_journal_apply(f->j, rec, n), BUDDY_E_CORRUPT);
		assert_unchanged(f->j, &before);
	}
	/* one byte too many */
	rec[len] = 0xc0;
	assert_int_equal(buddy_journal_apply(f->j, rec, len + 1), BUDDY_E_CORRUPT);
	assert_unchanged(f->j, &before);
	/* and the whole record is fine */
	assert_int_equal(buddy_journal_apply(f->j, rec, len), 0);
	free(rec);
}

static void test_journal_apply_bad_envelope_refused(void **state)
{
	struct fx *f = *state;
	struct summary before;
	msgpack_packer pk;

	small_journal(f);
	before = summarise(f->j);
	msgpack_packer_init(&pk, &f->rec, msgpack_sbuffer_write);

	msgpack_sbuffer_clear(&f->rec); /* not an array */
	msgpack_pack_map(&pk, 0);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec); /* two elements */
	msgpack_pack_array(&pk, 2);
	msgpack_pack_int(&pk, REC_ENTRY);
	msgpack_pack_int64(&pk, NOW);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec); /* type as a string */
	msgpack_pack_array(&pk, 3);
	buddy_mp_pack_cstr(&pk, "entry");
	msgpack_pack_int64(&pk, NOW);
	msgpack_pack_map(&pk, 0);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec); /* written as a double */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, REC_ENTRY);
	msgpack_pack_double(&pk, NOW);
	msgpack_pack_map(&pk, 0);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec); /* body as an array */
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, REC_ENTRY);
	msgpack_pack_int64(&pk, NOW);
	msgpack_pack_array(&pk, 0);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec); /* not msgpack we accept at all */
	msgpack_sbuffer_write(&f->rec, "\x93\x03\xc1\x80", 4);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	assert_int_equal(buddy_journal_apply(f->j, (const uint8_t *)"", 0), BUDDY_E_CORRUPT);
	assert_unchanged(f->j, &before);
}

static void test_journal_apply_unknown_type_version(void **state)
{
	struct fx *f = *state;

	small_journal(f);
	assert_refused(f, BUDDY_E_VERSION, 4, NOW, FIELDS(NOTE_OK));
	assert_refused(f, BUDDY_E_VERSION, 1000, NOW, FIELDS(F_STR("x", "y")));
}

static void test_journal_apply_entry_of_wrong_types_refused(void **state)
{
	struct fx *f = *state;

	small_journal(f);
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_STR("n", "2"), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_STR("at", "today"), F_STR("k", "note"),
			      F_STR("t", "hello")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_INT("k", 2), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"), F_INT("t", 5)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"), F_NIL("t")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STR("g", "run")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STRS("g", "ok", "")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_INT("st", 1)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STR("v", "5")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_INT("c", 1)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_UINT("ik", 0)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_INT("ik", -1)));
	/* missing fields */
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_STR("k", "note"), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note")));
}

static void test_journal_apply_entry_breaking_the_rules_refused(void **state)
{
	struct fx *f = *state;

	small_journal(f);
	/* ids only increase */
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 1), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "again")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 0), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "zero")));
	/* a commitment that does not exist */
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
			      F_STR("t", ""), F_STR("c", "swim"), F_STR("s", "done")));
	/* the maker's rules */
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
			      F_STR("t", ""), F_STR("c", "run")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
			      F_STR("t", ""), F_STR("c", "run"), F_STR("s", "maybe")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
			      F_STR("t", ""), F_STR("s", "done")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "memo"), F_STR("t", "hello")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"), F_STR("t", "a\0b")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "note"),
			      F_STR("t", "\x1b]0;pwned\a")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		FIELDS(F_UINT("n", 2), F_INT("at", -1), F_STR("k", "note"), F_STR("t", "hello")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STR("u", "km")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(NOTE_OK, F_DOUBLE("v", 1), F_STR("u", "")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_DOUBLE("v", NAN)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(NOTE_OK, F_DOUBLE("v", -INFINITY)));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STRS("g", "x", "x")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW, FIELDS(NOTE_OK, F_STRS("g", "a b")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(NOTE_OK, F_STRS("g", "1", "2", "3", "4", "5", "6", "7", "8", "9",
					      "10", "11", "12", "13", "14", "15", "16", "17")));
}

static void test_journal_apply_entry_on_archived_commitment_refused_unless_imported(void **state)
{
	struct fx *f = *state;

	small_journal(f);
	assert_int_equal(make_archive(f, "run", NOW), 0);
	assert_int_equal(apply(f), 0);
	assert_refused(f, BUDDY_E_CORRUPT, REC_ENTRY, NOW,
		       FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
			      F_STR("t", ""), F_STR("c", "run"), F_STR("s", "done")));
	assert_int_equal(
		apply_forged(f, REC_ENTRY, NOW,
			     FIELDS(F_UINT("n", 2), F_INT("at", NOW), F_STR("k", "checkin"),
				    F_STR("t", ""), F_STR("c", "run"), F_STR("s", "done"),
				    F_UINT("ik", 5))),
		0);
}

static void test_journal_apply_commitment_records_refused(void **state)
{
	struct fx *f = *state;

	small_journal(f);
	/* the id exists */
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "run"), F_STR("title", "Run"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)),
			      F_STR("tz", "UTC")));
	/* malformed or out of the rules */
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "Gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", ""),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym\n"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "hourly"), F_UINT("n", 1)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 2)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "weekly"), F_UINT("n", 1001)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "weekly"), F_INT("n", -1)),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "by"), F_UINT("n", 1)), F_STR("tz", "UTC")));
	assert_refused(
		f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
		       F_MAP("cad", F_STR("k", "by"), F_UINT("n", 1), F_STR("by", "2023-02-29")),
		       F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"), F_STR("cad", "daily"),
			      F_STR("tz", "UTC")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1))));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ADD, NOW,
		       FIELDS(F_STR("id", "gym"), F_STR("title", "Gym"),
			      F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)), F_STR("tz", "")));
	/* archive: unknown, twice, or no id */
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ARCHIVE, NOW, FIELDS(F_STR("id", "gym")));
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ARCHIVE, NOW, FIELDS(F_INT("id", 1)));
	assert_int_equal(apply_forged(f, REC_COMMIT_ARCHIVE, NOW, FIELDS(F_STR("id", "run"))), 0);
	assert_refused(f, BUDDY_E_CORRUPT, REC_COMMIT_ARCHIVE, NOW, FIELDS(F_STR("id", "run")));
}

static void test_journal_apply_archive_at_time_zero_still_archived(void **state)
{
	struct fx *f = *state;

	add_commit(f, "run");
	assert_int_equal(apply_forged(f, REC_COMMIT_ARCHIVE, 0, FIELDS(F_STR("id", "run"))), 0);
	assert_true(buddy_journal_commit_at(f->j, 0)->archived != 0);
}

static void test_journal_apply_over_record_limits_refused(void **state)
{
	struct fx *f = *state;
	struct summary before;
	msgpack_packer pk;

	small_journal(f);
	before = summarise(f->j);
	/* nesting deeper than any record has */
	msgpack_sbuffer_clear(&f->rec);
	msgpack_packer_init(&pk, &f->rec, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, REC_ENTRY);
	msgpack_pack_int64(&pk, NOW);
	msgpack_pack_map(&pk, 5);
	buddy_mp_pack_cstr(&pk, "n");
	msgpack_pack_int(&pk, 2);
	buddy_mp_pack_cstr(&pk, "at");
	msgpack_pack_int64(&pk, NOW);
	buddy_mp_pack_cstr(&pk, "k");
	buddy_mp_pack_cstr(&pk, "note");
	buddy_mp_pack_cstr(&pk, "t");
	buddy_mp_pack_cstr(&pk, "deep");
	buddy_mp_pack_cstr(&pk, "x");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_int(&pk, 1);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	assert_unchanged(f->j, &before);
}

/* Replay trusts what was valid when written: a time zone that has since left the tz database
 * must not make the journal unreadable. */
static void test_journal_apply_commitment_with_vanished_tz(void **state)
{
	struct fx *f = *state;
	struct buddy_entry_spec s = checkin("atlantis", BUDDY_CHECKIN_DONE);
	const struct buddy_commitment *c;

	assert_int_equal(apply_forged(f, REC_COMMIT_ADD, NOW,
				      FIELDS(F_STR("id", "atlantis"), F_STR("title", "Visit"),
					     F_MAP("cad", F_STR("k", "daily"), F_UINT("n", 1)),
					     F_STR("tz", "Atlantis/Lost_City"))),
			 0);
	c = buddy_journal_commit_find(f->j, "atlantis", NULL);
	assert_non_null(c);
	assert_string_equal(c->tz, "Atlantis/Lost_City");
	assert_int_equal(c->created, NOW);
	/* and the commitment is usable */
	add_entry(f, &s, NOW + HOUR);
	assert_int_equal(c->checkins, 1);
	assert_int_equal(make_archive(f, "atlantis", NOW + DAY), 0);
	assert_int_equal(apply(f), 0);
	/* a new commitment in that zone is refused, though */
	assert_int_equal(make_commit(f, "gym", "Gym", daily, "Atlantis/Lost_City", NOW),
			 BUDDY_E_INVALID);
}

static void test_journal_status_and_kind_names(void **state)
{
	(void)state;
	assert_string_equal(buddy_checkin_status_name(BUDDY_CHECKIN_DONE), "done");
	assert_string_equal(buddy_checkin_status_name(BUDDY_CHECKIN_PARTIAL), "partial");
	assert_string_equal(buddy_checkin_status_name(BUDDY_CHECKIN_SKIP), "skip");
	assert_string_equal(buddy_checkin_status_name(0), "unknown");
	assert_string_equal(buddy_checkin_status_name(4), "unknown");
	assert_int_equal(buddy_checkin_status_parse("partial", 7), BUDDY_CHECKIN_PARTIAL);
	assert_int_equal(buddy_checkin_status_parse("part", 4), 0);
	assert_int_equal(buddy_checkin_status_parse("Done", 4), 0);
	assert_string_equal(buddy_cadence_kind_name(BUDDY_CADENCE_BY), "by");
	assert_string_equal(buddy_cadence_kind_name(0), "unknown");
	assert_int_equal(buddy_cadence_kind_parse("weekly", 6), BUDDY_CADENCE_WEEKLY);
	assert_int_equal(buddy_cadence_kind_parse("week", 4), 0);
	assert_int_equal(buddy_cadence_kind_parse("dailyx", 6), 0);
}

/* After a restore, new entry ids jump a gap, and a buddy's HEADS may say it holds entries of
 * mine further still (PROTOCOL.md 15.11): the rebase record's e moves new ids above them, and
 * stays so on replay. */
static void test_journal_rebase_raises_entry_ids(void **state)
{
	struct fx *f = *state;
	uint8_t pk[32], x[32];
	struct buddy_journal *j2;
	uint64_t id;

	memset(pk, 7, sizeof(pk));
	memset(x, 9, sizeof(x));
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_buddies_make_add(&f->rec, NOW, pk, "bob", NULL, 0), 0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(add_entry(f,
				   &(struct buddy_entry_spec){
					   .kind = BUDDY_ENTRY_NOTE, .text = "one", .text_len = 3},
				   NOW),
			 1);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_restored(&f->rec, NOW, NOW - 60), 0);
	assert_int_equal(apply(f), 0);
	/* the restore alone moves new ids past a gap (entries the lost machine made) */
	assert_int_equal(make_entry(f,
				    &(struct buddy_entry_spec){
					    .kind = BUDDY_ENTRY_NOTE, .text = "gap", .text_len = 3},
				    NOW, &id),
			 0);
	assert_int_equal(id, 1 + BUDDY_RESTORE_ID_GAP + 1);
	/* an e past the limit is refused as corruption */
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(buddy_streams_make_rebased(&f->rec, NOW, buddy_journal_streams(f->j), pk,
						    5, x, BUDDY_ENTRY_ID_MAX + 1),
			 0);
	assert_int_equal(apply(f), BUDDY_E_CORRUPT);
	msgpack_sbuffer_clear(&f->rec);
	assert_int_equal(
		buddy_streams_make_rebased(&f->rec, NOW, buddy_journal_streams(f->j), pk, 5, x, 40),
		0);
	assert_int_equal(apply(f), 0);
	assert_int_equal(make_entry(f,
				    &(struct buddy_entry_spec){
					    .kind = BUDDY_ENTRY_NOTE, .text = "two", .text_len = 3},
				    NOW, &id),
			 0);
	/* an e below the gap moves nothing */
	assert_int_equal(id, 1 + BUDDY_RESTORE_ID_GAP + 1);
	assert_int_equal(apply(f), 0);

	/* a buddy holding more than the gap: its e wins */
	j2 = buddy_journal_new();
	assert_non_null(j2);
	{
		msgpack_sbuffer r;
		uint8_t pk2[32];

		memcpy(pk2, pk, 32);
		msgpack_sbuffer_init(&r);
		assert_int_equal(buddy_buddies_make_add(&r, NOW, pk2, "bob", NULL, 0), 0);
		assert_int_equal(buddy_journal_apply(j2, (const uint8_t *)r.data, r.size), 0);
		msgpack_sbuffer_clear(&r);
		assert_int_equal(buddy_streams_make_restored(&r, NOW, NOW - 60), 0);
		assert_int_equal(buddy_journal_apply(j2, (const uint8_t *)r.data, r.size), 0);
		msgpack_sbuffer_clear(&r);
		assert_int_equal(buddy_streams_make_rebased(&r, NOW, buddy_journal_streams(j2), pk2,
							    5, x, 200000),
				 0);
		assert_int_equal(buddy_journal_apply(j2, (const uint8_t *)r.data, r.size), 0);
		msgpack_sbuffer_clear(&r);
		assert_int_equal(buddy_journal_make_entry(
					 j2,
					 &(struct buddy_entry_spec){.kind = BUDDY_ENTRY_NOTE,
								    .text = "x",
								    .text_len = 1},
					 NOW, &r, &id, &f->why),
				 0);
		assert_int_equal(id, 200001);
		msgpack_sbuffer_destroy(&r);
	}
	buddy_journal_free(j2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_journal_commit_add_valid),
		T(test_journal_commit_add_every_cadence),
		T(test_journal_commit_add_make_alone_changes_nothing),
		T(test_journal_commit_add_duplicate_id_exists),
		T(test_journal_commit_add_bad_id_invalid),
		T(test_journal_commit_add_bad_title_invalid),
		T(test_journal_commit_add_bad_cadence_invalid),
		T(test_journal_commit_add_unknown_tz_invalid),
		T(test_journal_commit_archive),
		T(test_journal_checkin_valid),
		T(test_journal_checkin_needs_active_commitment_and_status),
		T(test_journal_note_needs_text),
		T(test_journal_entry_text_rules),
		T(test_journal_entry_tags),
		T(test_journal_entry_bad_or_duplicate_tags_invalid),
		T(test_journal_entry_value_finite),
		T(test_journal_entry_unit_needs_value),
		T(test_journal_entry_time_before_1970_invalid),
		T(test_journal_entry_bad_kind_invalid),
		T(test_journal_entry_ids_count_up_from_one),
		T(test_journal_entry_starred),
		T(test_journal_time_order_with_imports_out_of_order),
		T(test_journal_time_order_many_entries),
		T(test_journal_import_dedupe),
		T(test_journal_import_on_archived_commitment_allowed),
		T(test_journal_replay_gives_identical_state),
		T(test_journal_apply_forged_records_in_the_documented_format),
		T(test_journal_apply_truncated_record_refused),
		T(test_journal_apply_bad_envelope_refused),
		T(test_journal_apply_unknown_type_version),
		T(test_journal_apply_entry_of_wrong_types_refused),
		T(test_journal_apply_entry_breaking_the_rules_refused),
		T(test_journal_apply_entry_on_archived_commitment_refused_unless_imported),
		T(test_journal_apply_commitment_records_refused),
		T(test_journal_apply_archive_at_time_zero_still_archived),
		T(test_journal_apply_over_record_limits_refused),
		T(test_journal_apply_commitment_with_vanished_tz),
		T(test_journal_status_and_kind_names),
		T(test_journal_rebase_raises_entry_ids),
	};

	if (sodium_init() < 0)
		return 1;
	unsetenv("TZDIR"); /* the system tz database */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
