/* The event list (daemon/events.c, include/buddy/events.h, proto/STORE.md "Event records"):
 * events derived from a buddy's incoming posts and from pairing, delivery and alert records,
 * events of their own (type 40), read marks (type 41), the dedupe lookup the deadline engine
 * uses, and the live callback. Posts are built with post.h's writers, records with the makers;
 * corrupt records are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/journal.h"
#include "buddy/post.h"
#include "buddy/streams.h"

#define T0  1767225600 /* 2026-01-01 00:00 UTC */
#define DAY 86400

static const uint8_t A[32] = {0xa1, 0xa2, 0xa3};
static const uint8_t B[32] = {0xb1, 0xb2, 0xb3};

static void str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* ---- feeding posts, as streams.c would ---- */

/* Wraps body in a post of type type (seq, time) and hands it over, stored at `written`. */
static void feed(struct buddy_events *v, bool out, const uint8_t *pk, uint64_t seq, int64_t written,
		 uint64_t type, const msgpack_sbuffer *body)
{
	struct buddy_post_head h = {.seq = seq, .time = written - 5, .type = type};
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_post_encode(&h, (const uint8_t *)body->data, body->size, &sb), 0);
	buddy_events_post(v, out, pk, seq, written, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

static void post_entry(struct buddy_events *v, bool out, const uint8_t *pk, uint64_t seq,
		       int64_t written, uint64_t e, const char *commit,
		       enum buddy_checkin_status status, const char *text)
{
	struct buddy_post_entry pe;
	msgpack_sbuffer body;

	memset(&pe, 0, sizeof(pe));
	pe.e = e;
	if (commit)
		strcpy(pe.commit, commit);
	pe.at = written - 60;
	pe.status = status;
	pe.text = text;
	pe.text_len = strlen(text);
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &pe), 0);
	feed(v, out, pk, seq, written, status ? BUDDY_POST_CHECKIN : BUDDY_POST_NOTE, &body);
	msgpack_sbuffer_destroy(&body);
}

static void post_react(struct buddy_events *v, const uint8_t *pk, uint64_t seq, int64_t written,
		       uint64_t e, enum buddy_reaction_kind kind, const char *text)
{
	struct buddy_post_reaction r = {
		.e = e, .kind = kind, .text = text, .text_len = strlen(text)};
	msgpack_sbuffer body;

	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_reaction(&body, &r), 0);
	feed(v, false, pk, seq, written, BUDDY_POST_REACTION, &body);
	msgpack_sbuffer_destroy(&body);
}

static void post_retract(struct buddy_events *v, const uint8_t *pk, uint64_t seq, int64_t written,
			 uint64_t e)
{
	msgpack_sbuffer body;

	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_retraction(&body, e), 0);
	feed(v, false, pk, seq, written, BUDDY_POST_RETRACTION, &body);
	msgpack_sbuffer_destroy(&body);
}

static void post_commit(struct buddy_events *v, const uint8_t *pk, uint64_t seq, int64_t written,
			const char *id)
{
	struct buddy_post_commitment c;
	msgpack_sbuffer body;

	memset(&c, 0, sizeof(c));
	strcpy(c.id, id);
	c.title = "Run";
	c.title_len = 3;
	c.cadence.kind = BUDDY_CADENCE_WEEKLY;
	c.cadence.n = 3;
	strcpy(c.tz, "Europe/Berlin");
	c.created = T0 - DAY;
	c.on = true;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_commitment(&body, &c), 0);
	feed(v, false, pk, seq, written, BUDDY_POST_COMMITMENT, &body);
	msgpack_sbuffer_destroy(&body);
}

static void post_pause(struct buddy_events *v, const uint8_t *pk, uint64_t seq, int64_t written,
		       const char *commit, int64_t from, const char *reason)
{
	struct buddy_post_pause pa = {.from = from,
				      .until_y = 2026,
				      .until_m = 1,
				      .until_d = 20,
				      .reason = reason,
				      .reason_len = strlen(reason)};
	msgpack_sbuffer body;

	strcpy(pa.commit, commit);
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_pause(&body, &pa), 0);
	feed(v, false, pk, seq, written, BUDDY_POST_PAUSE, &body);
	msgpack_sbuffer_destroy(&body);
}

/* ---- feeding records ---- */

/* Hands a whole record [type, written, body] from sb to buddy_events_record. */
static int apply(struct buddy_events *v, const msgpack_sbuffer *sb)
{
	msgpack_unpacked u;
	const msgpack_object *a;
	int rc;

	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(u.data.via.array.size, 3);
	a = u.data.via.array.ptr;
	rc = buddy_events_record(v, a[0].via.u64, a[1].via.i64, &a[2]);
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* Makes a type 40 record and applies it; returns what apply said. */
static int event40(struct buddy_events *v, int64_t now, enum buddy_event_kind kind,
		   const uint8_t *pk, const char *commit, int64_t ps, int64_t pe, uint64_t e)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_events_make(&sb, now, kind, pk, commit, ps, pe, e), 0);
	rc = apply(v, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int read_ids(struct buddy_events *v, const uint64_t *ids, size_t n)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_events_make_read(&sb, T0, ids, n), 0);
	rc = apply(v, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int read_all(struct buddy_events *v, uint64_t upto)
{
	msgpack_sbuffer sb;
	int rc;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_events_make_read_all(&sb, T0, upto), 0);
	rc = apply(v, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* A record of type type whose body is the map written by fn: for bodies no maker writes. */
static int apply_raw(struct buddy_events *v, uint64_t type,
		     void (*fn)(msgpack_packer *pk, const void *arg), const void *arg)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint64(&pk, type);
	msgpack_pack_int64(&pk, T0);
	fn(&pk, arg);
	rc = apply(v, &sb);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* ---- names ---- */

static void test_events_kind_names_both_ways(void **state)
{
	static const char *const names[] = {"checkin",	  "note",	"cheer",     "comment",
					    "retraction", "commitment", "missed",    "late",
					    "reminder",	  "pause",	"delivered", "paired",
					    "alert",	  "online",	"offline"};

	(void)state;
	assert_int_equal(sizeof(names) / sizeof(names[0]), BUDDY_EV_COUNT_ - 1);
	for (int k = 1; k < BUDDY_EV_COUNT_; k++) {
		assert_string_equal(buddy_event_kind_name(k), names[k - 1]);
		assert_int_equal(buddy_event_kind_parse(names[k - 1], strlen(names[k - 1])), k);
	}
	assert_int_equal(buddy_event_kind_parse("check", 5), 0);
	assert_int_equal(buddy_event_kind_parse("checkins", 8), 0);
	assert_int_equal(buddy_event_kind_parse("", 0), 0);
	assert_string_equal(buddy_event_kind_name(0), "unknown");
	assert_string_equal(buddy_event_kind_name(BUDDY_EV_COUNT_), "unknown");
}

static void test_events_empty(void **state)
{
	struct buddy_events *v = buddy_events_new();

	(void)state;
	assert_non_null(v);
	assert_int_equal(buddy_events_count(v), 0);
	assert_int_equal(buddy_events_unread(v), 0);
	assert_null(buddy_events_at(v, 0));
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, B, "run", T0));
	buddy_events_free(v);
	buddy_events_free(NULL);
}

/* ---- derived from posts ---- */

static void test_events_incoming_posts_make_events(void **state)
{
	struct buddy_events *v = buddy_events_new();
	const struct buddy_event *ev;

	(void)state;
	post_commit(v, B, 1, T0 + 1, "run");
	post_entry(v, false, B, 2, T0 + 2, 7, "run", BUDDY_CHECKIN_DONE, "5 km");
	post_entry(v, false, B, 3, T0 + 3, 8, NULL, 0, "a note");
	post_react(v, B, 4, T0 + 4, 12, BUDDY_REACTION_CHEER, "");
	post_react(v, B, 5, T0 + 5, 13, BUDDY_REACTION_COMMENT, "well done");
	post_retract(v, B, 6, T0 + 6, 7);
	assert_int_equal(buddy_events_count(v), 6);
	assert_int_equal(buddy_events_unread(v), 6);

	ev = buddy_events_at(v, 0);
	assert_int_equal(ev->id, 1);
	assert_int_equal(ev->kind, BUDDY_EV_COMMITMENT);
	assert_string_equal(ev->commit, "run");
	assert_int_equal(ev->seq, 1);

	ev = buddy_events_at(v, 1);
	assert_int_equal(ev->id, 2);
	assert_int_equal(ev->kind, BUDDY_EV_CHECKIN);
	assert_int_equal(ev->time, T0 + 2); /* when it was stored, not the post's own time */
	assert_true(ev->has_pk);
	assert_memory_equal(ev->pk, B, 32);
	assert_string_equal(ev->commit, "run");
	assert_int_equal(ev->entry, 7); /* theirs */
	assert_int_equal(ev->seq, 2);
	assert_int_equal(ev->period_start, 0);
	assert_string_equal(ev->alert, "");
	assert_false(ev->read);

	ev = buddy_events_at(v, 2);
	assert_int_equal(ev->kind, BUDDY_EV_NOTE);
	assert_string_equal(ev->commit, "");
	assert_int_equal(ev->entry, 8);

	ev = buddy_events_at(v, 3);
	assert_int_equal(ev->kind, BUDDY_EV_CHEER);
	assert_int_equal(ev->entry, 12); /* mine */
	assert_int_equal(ev->seq, 4);
	ev = buddy_events_at(v, 4);
	assert_int_equal(ev->kind, BUDDY_EV_COMMENT);
	assert_int_equal(ev->entry, 13);

	ev = buddy_events_at(v, 5);
	assert_int_equal(ev->id, 6);
	assert_int_equal(ev->kind, BUDDY_EV_RETRACTION);
	assert_int_equal(ev->entry, 7);
	assert_null(buddy_events_at(v, 6));
	buddy_events_free(v);
}

/* A buddy's pause post: a pause event from `from`, which the deadline engine can look up. The
 * end of the until day is in the commitment's zone, which events.c does not know. */
static void test_events_pause_post(void **state)
{
	struct buddy_events *v = buddy_events_new();
	const struct buddy_event *ev;

	(void)state;
	post_pause(v, B, 1, T0 + 100, "run", T0 + 90, "knee");
	{
		/* a pause of something that is not a commitment id does not read: no event */
		msgpack_sbuffer body;
		msgpack_packer pk;
		msgpack_sbuffer_init(&body);
		msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 4);
		str(&pk, "c");
		str(&pk, "Not a slug");
		str(&pk, "from");
		msgpack_pack_int64(&pk, T0 + 190);
		str(&pk, "until");
		str(&pk, "2026-01-20");
		str(&pk, "r");
		str(&pk, "");
		feed(v, false, B, 2, T0 + 200, BUDDY_POST_PAUSE, &body);
		msgpack_sbuffer_destroy(&body);
	}
	assert_int_equal(buddy_events_count(v), 1);
	ev = buddy_events_at(v, 0);
	assert_int_equal(ev->kind, BUDDY_EV_PAUSE);
	assert_int_equal(ev->time, T0 + 100);
	assert_memory_equal(ev->pk, B, 32);
	assert_string_equal(ev->commit, "run");
	/* a pause never starts before its post (as pauses.c keeps it) */
	assert_int_equal(ev->period_start, T0 + 95); /* the post's time: written - 5 */
	assert_int_equal(ev->period_end, 0);
	assert_int_equal(ev->seq, 1);
	assert_true(buddy_events_has(v, BUDDY_EV_PAUSE, B, "run", T0 + 95));
	assert_false(buddy_events_has(v, BUDDY_EV_PAUSE, B, "run", T0 + 100));
	/* my own pause posts are not events */
	{
		struct buddy_post_pause pa = {
			.commit = "run", .from = T0, .until_y = 2026, .until_m = 2, .until_d = 1};
		msgpack_sbuffer body;
		msgpack_sbuffer_init(&body);
		assert_int_equal(buddy_post_write_pause(&body, &pa), 0);
		feed(v, true, A, 1, T0, BUDDY_POST_PAUSE, &body);
		msgpack_sbuffer_destroy(&body);
	}
	assert_int_equal(buddy_events_count(v), 1);
	buddy_events_free(v);
}

/* My own posts are not news to me. */
static void test_events_outgoing_posts_make_none(void **state)
{
	struct buddy_events *v = buddy_events_new();

	(void)state;
	post_entry(v, true, B, 1, T0, 1, "run", BUDDY_CHECKIN_DONE, "");
	post_entry(v, true, B, 2, T0, 2, NULL, 0, "mine");
	assert_int_equal(buddy_events_count(v), 0);
	buddy_events_free(v);
}

/* A post that does not read (bad envelope, a body breaking the rules, a type from a newer
 * buddy) stays in the chain but makes no event, and takes no id. */
static void test_events_unreadable_posts_make_none(void **state)
{
	struct buddy_events *v = buddy_events_new();
	static const uint8_t junk[300] = {0x93, 1, 2};
	struct buddy_post_head h = {.seq = 2, .time = T0, .type = BUDDY_POST_CHECKIN};
	msgpack_sbuffer body, sb;
	msgpack_packer pk;

	(void)state;
	buddy_events_post(v, false, B, 1, T0, junk, sizeof(junk));

	/* a check-in without its e, status and commitment */
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	str(&pk, "t");
	str(&pk, "text");
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_post_encode(&h, (const uint8_t *)body.data, body.size, &sb), 0);
	buddy_events_post(v, false, B, 2, T0, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);

	/* type 99: some later version's */
	h.seq = 3;
	h.type = 99;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_post_encode(&h, (const uint8_t *)body.data, body.size, &sb), 0);
	buddy_events_post(v, false, B, 3, T0, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&body);
	assert_int_equal(buddy_events_count(v), 0);

	post_entry(v, false, B, 4, T0 + 4, 1, "run", BUDDY_CHECKIN_SKIP, "");
	assert_int_equal(buddy_events_count(v), 1);
	assert_int_equal(buddy_events_at(v, 0)->id, 1);
	buddy_events_free(v);
}

/* ---- derived from pairing, delivery and alert records ---- */

static void test_events_paired_delivered_alert(void **state)
{
	struct buddy_events *v = buddy_events_new();
	uint8_t sig[BUDDY_POST_SIG_BYTES] = {1};
	const struct buddy_event *ev;
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_buddies_make_add(&sb, T0, B, "bob", NULL, 0), 0);
	assert_int_equal(apply(v, &sb), 0);
	msgpack_sbuffer_clear(&sb);
	assert_int_equal(buddy_streams_make_delivered(&sb, T0 + 1, B, 42, sig), 0);
	assert_int_equal(apply(v, &sb), 0);
	msgpack_sbuffer_clear(&sb);
	assert_int_equal(buddy_streams_make_alert(&sb, T0 + 2, A, "signature", 9), 0);
	assert_int_equal(apply(v, &sb), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(buddy_events_count(v), 3);

	ev = buddy_events_at(v, 0);
	assert_int_equal(ev->kind, BUDDY_EV_PAIRED);
	assert_int_equal(ev->time, T0);
	assert_true(ev->has_pk);
	assert_memory_equal(ev->pk, B, 32);

	ev = buddy_events_at(v, 1);
	assert_int_equal(ev->kind, BUDDY_EV_DELIVERED);
	assert_memory_equal(ev->pk, B, 32);
	assert_int_equal(ev->seq, 42);
	assert_int_equal(ev->time, T0 + 1);

	ev = buddy_events_at(v, 2);
	assert_int_equal(ev->kind, BUDDY_EV_ALERT);
	assert_memory_equal(ev->pk, A, 32);
	assert_string_equal(ev->alert, "signature");
	assert_int_equal(ev->seq, 9);
	buddy_events_free(v);
}

/* Other record types are none of events.c's business. */
static void test_events_other_records_ignored(void **state)
{
	struct buddy_events *v = buddy_events_new();
	msgpack_sbuffer sb;

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_buddies_make_rename(&sb, T0, B, "robert"), 0);
	assert_int_equal(apply(v, &sb), 0);
	msgpack_sbuffer_clear(&sb);
	assert_int_equal(buddy_streams_make_shared(&sb, T0, "run", B, true), 0);
	assert_int_equal(apply(v, &sb), 0);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(buddy_events_count(v), 0);
	buddy_events_free(v);
}

/* ---- type 40 ---- */

static void test_events_recorded_kinds(void **state)
{
	struct buddy_events *v = buddy_events_new();
	const struct buddy_event *ev;

	(void)state;
	assert_int_equal(
		event40(v, T0 + 7 * DAY + 3600, BUDDY_EV_MISSED, B, "run", T0, T0 + 7 * DAY, 0), 0);
	assert_int_equal(event40(v, T0 + 8 * DAY, BUDDY_EV_LATE, B, "run", T0, T0 + 7 * DAY, 15),
			 0);
	assert_int_equal(
		event40(v, T0 + DAY - 3 * 3600, BUDDY_EV_REMINDER, NULL, "read", T0, T0 + DAY, 0),
		0);
	assert_int_equal(event40(v, T0 + 9, BUDDY_EV_PAUSE, B, "run", T0 + 9, T0 + 20 * DAY, 0), 0);
	assert_int_equal(buddy_events_count(v), 4);

	ev = buddy_events_at(v, 0);
	assert_int_equal(ev->id, 1);
	assert_int_equal(ev->kind, BUDDY_EV_MISSED);
	assert_int_equal(ev->time, T0 + 7 * DAY + 3600);
	assert_true(ev->has_pk);
	assert_memory_equal(ev->pk, B, 32);
	assert_string_equal(ev->commit, "run");
	assert_int_equal(ev->period_start, T0);
	assert_int_equal(ev->period_end, T0 + 7 * DAY);
	assert_int_equal(ev->entry, 0);
	assert_int_equal(ev->seq, 0);

	ev = buddy_events_at(v, 1);
	assert_int_equal(ev->kind, BUDDY_EV_LATE);
	assert_int_equal(ev->entry, 15);

	ev = buddy_events_at(v, 2);
	assert_int_equal(ev->kind, BUDDY_EV_REMINDER);
	assert_false(ev->has_pk);
	assert_string_equal(ev->commit, "read");

	ev = buddy_events_at(v, 3);
	assert_int_equal(ev->kind, BUDDY_EV_PAUSE);
	assert_int_equal(ev->period_start, T0 + 9);
	assert_int_equal(ev->period_end, T0 + 20 * DAY);
	buddy_events_free(v);
}

/* The maker refuses what apply would call corrupt. */
static void test_events_maker_refuses(void **state)
{
	msgpack_sbuffer sb;
	static const char long_id[] = "abcdefghijklmnopqrstuvwxyz0123456"; /* 33 */

	(void)state;
	msgpack_sbuffer_init(&sb);
	/* only the kinds of their own records */
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_CHECKIN, B, "run", 0, 0, 1),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_ALERT, B, "run", 0, 0, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, 0, B, "run", 0, 0, 0), BUDDY_E_INVALID);
	/* a buddy's miss names the buddy; my reminder names nobody */
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_MISSED, NULL, "run", T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_REMINDER, B, "run", T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	/* a commitment id */
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_MISSED, B, NULL, T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_MISSED, B, "", T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_MISSED, B, "Run!", T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make(&sb, T0, BUDDY_EV_MISSED, B, long_id, T0, T0 + 1, 0),
			 BUDDY_E_INVALID);
	assert_int_equal(sb.size, 0);
	/* read marks: 1..1000 ids, none 0 */
	assert_int_equal(buddy_events_make_read(&sb, T0, NULL, 0), BUDDY_E_INVALID);
	assert_int_equal(buddy_events_make_read(&sb, T0, (const uint64_t[]){1, 0}, 2),
			 BUDDY_E_INVALID);
	{
		uint64_t many[BUDDY_EVENT_READ_IDS_MAX + 1];
		for (size_t i = 0; i < BUDDY_EVENT_READ_IDS_MAX + 1; i++)
			many[i] = i + 1;
		assert_int_equal(
			buddy_events_make_read(&sb, T0, many, BUDDY_EVENT_READ_IDS_MAX + 1),
			BUDDY_E_INVALID);
	}
	assert_int_equal(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
}

/* Type 40 bodies by hand: each one is corrupt and adds nothing. */
struct body40 {
	const char *k;	 /* NULL: no k */
	int b;		 /* bytes of b: 0 none */
	const char *c;	 /* NULL: none */
	bool ps_str;	 /* ps is a string */
	bool e_negative; /* e is -1 */
};

static void pack40(msgpack_packer *pk, const void *arg)
{
	const struct body40 *x = arg;
	static const uint8_t key[33] = {0xb1, 0xb2, 0xb3};

	msgpack_pack_map(pk,
			 (x->k != NULL) + (x->b != 0) + (x->c != NULL) + x->ps_str + x->e_negative);
	if (x->k) {
		str(pk, "k");
		str(pk, x->k);
	}
	if (x->b) {
		str(pk, "b");
		msgpack_pack_bin(pk, (size_t)x->b);
		msgpack_pack_bin_body(pk, key, (size_t)x->b);
	}
	if (x->c) {
		str(pk, "c");
		str(pk, x->c);
	}
	if (x->ps_str) {
		str(pk, "ps");
		str(pk, "monday");
	}
	if (x->e_negative) {
		str(pk, "e");
		msgpack_pack_int64(pk, -1);
	}
}

static void test_events_corrupt_type40_refused(void **state)
{
	static const struct body40 bad[] = {
		{NULL, 32, "run", false, false},      /* no kind */
		{"nothing", 32, "run", false, false}, /* unknown kind */
		{"checkin", 32, "run", false, false}, /* a kind that is derived, not recorded */
		{"delivered", 32, "run", false, false}, {"online", 32, "run", false, false},
		{"missed", 31, "run", false, false},   /* a short key */
		{"missed", 33, "run", false, false},   /* a long one */
		{"missed", 0, "run", false, false},    /* a miss of nobody */
		{"reminder", 32, "run", false, false}, /* a reminder about a buddy */
		{"missed", 32, NULL, false, false},    /* no commitment */
		{"missed", 32, "Run", false, false},   /* not a slug */
		{"missed", 32, "run", true, false},    /* ps not an int */
		{"late", 32, "run", false, true},      /* e not a uint */
	};
	static const struct body40 good = {"missed", 32, "run", false, false};
	struct buddy_events *v = buddy_events_new();

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(apply_raw(v, BUDDY_REC_EVENT, pack40, &bad[i]), BUDDY_E_CORRUPT);
		assert_int_equal(buddy_events_count(v), 0);
	}
	assert_int_equal(apply_raw(v, BUDDY_REC_EVENT, pack40, &good), 0);
	assert_int_equal(buddy_events_count(v), 1);
	buddy_events_free(v);
}

/* ---- read marks ---- */

static void add_checkins(struct buddy_events *v, size_t n)
{
	uint64_t seq = buddy_events_count(v);

	for (size_t i = 0; i < n; i++, seq++)
		post_entry(v, false, B, seq + 1, T0 + (int64_t)seq, seq + 1, "run",
			   BUDDY_CHECKIN_DONE, "");
}

static void test_events_read_by_ids(void **state)
{
	struct buddy_events *v = buddy_events_new();

	(void)state;
	add_checkins(v, 5);
	assert_int_equal(buddy_events_unread(v), 5);
	assert_int_equal(read_ids(v, (const uint64_t[]){2, 4}, 2), 0);
	assert_int_equal(buddy_events_unread(v), 3);
	assert_false(buddy_events_at(v, 0)->read);
	assert_true(buddy_events_at(v, 1)->read);
	assert_false(buddy_events_at(v, 2)->read);
	assert_true(buddy_events_at(v, 3)->read);
	/* marking again, or twice in one record, counts once */
	assert_int_equal(read_ids(v, (const uint64_t[]){4, 1, 1}, 3), 0);
	assert_int_equal(buddy_events_unread(v), 2);
	assert_true(buddy_events_at(v, 0)->read);
	/* a new event is unread */
	add_checkins(v, 1);
	assert_int_equal(buddy_events_unread(v), 3);
	assert_false(buddy_events_at(v, 5)->read);
	buddy_events_free(v);
}

static void test_events_read_all_upto(void **state)
{
	struct buddy_events *v = buddy_events_new();

	(void)state;
	add_checkins(v, 4);
	assert_int_equal(read_ids(v, (const uint64_t[]){2}, 1), 0);
	/* all up to 3: what came later stays unread */
	assert_int_equal(read_all(v, 3), 0);
	assert_int_equal(buddy_events_unread(v), 1);
	for (size_t i = 0; i < 3; i++)
		assert_true(buddy_events_at(v, i)->read);
	assert_false(buddy_events_at(v, 3)->read);
	add_checkins(v, 2);
	assert_int_equal(buddy_events_unread(v), 3);
	assert_int_equal(read_all(v, 6), 0);
	assert_int_equal(buddy_events_unread(v), 0);
	for (size_t i = 0; i < 6; i++)
		assert_true(buddy_events_at(v, i)->read);
	/* 0: nothing; again: nothing new */
	assert_int_equal(read_all(v, 0), 0);
	assert_int_equal(read_all(v, 6), 0);
	assert_int_equal(buddy_events_unread(v), 0);
	buddy_events_free(v);
}

struct body41 {
	int nids;	/* -1: no ids; else that many ids 1, 2, ... */
	uint64_t first; /* the first id (then first + 1, ...) */
	bool ids_map;	/* ids is a map, not an array */
	int64_t all;	/* -2: no all; -1: a negative all; else upto */
	bool all_bool;	/* all: true, as the control method takes it */
};

static void pack41(msgpack_packer *pk, const void *arg)
{
	const struct body41 *x = arg;

	msgpack_pack_map(pk, (x->nids >= 0) + (x->all != -2 || x->all_bool));
	if (x->nids >= 0) {
		str(pk, "ids");
		if (x->ids_map) {
			msgpack_pack_map(pk, 0);
		} else {
			msgpack_pack_array(pk, (size_t)x->nids);
			for (int i = 0; i < x->nids; i++)
				msgpack_pack_uint64(pk, x->first + (uint64_t)i);
		}
	}
	if (x->all_bool) {
		str(pk, "all");
		msgpack_pack_true(pk);
	} else if (x->all != -2) {
		str(pk, "all");
		msgpack_pack_int64(pk, x->all);
	}
}

static void test_events_corrupt_read_refused(void **state)
{
	static const struct body41 bad[] = {
		{-1, 0, false, -2, false},			     /* neither */
		{1, 1, false, 1, false},			     /* both */
		{0, 1, false, -2, false},			     /* no ids */
		{BUDDY_EVENT_READ_IDS_MAX + 1, 1, false, -2, false}, /* too many */
		{1, 0, false, -2, false},			     /* id 0 */
		{1, 1, true, -2, false},			     /* not an array */
		{-1, 0, false, -1, false},			     /* negative */
		{-1, 0, false, -2, true},			     /* a bool */
	};
	struct buddy_events *v = buddy_events_new();

	(void)state;
	add_checkins(v, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(apply_raw(v, BUDDY_REC_READ, pack41, &bad[i]), BUDDY_E_CORRUPT);
		/* refused whole: not even the ids before the bad one are marked */
		assert_int_equal(buddy_events_unread(v), 3);
	}
	assert_int_equal(read_ids(v, (const uint64_t[]){1, 2, 3}, 3), 0);
	assert_int_equal(buddy_events_unread(v), 0);
	buddy_events_free(v);
}

/* ---- dedupe ---- */

static void test_events_has_matches_kind_buddy_commit_period(void **state)
{
	struct buddy_events *v = buddy_events_new();

	(void)state;
	assert_int_equal(event40(v, T0, BUDDY_EV_MISSED, B, "run", T0 - 7 * DAY, T0, 0), 0);
	assert_int_equal(event40(v, T0, BUDDY_EV_REMINDER, NULL, "read", T0, T0 + DAY, 0), 0);
	assert_true(buddy_events_has(v, BUDDY_EV_MISSED, B, "run", T0 - 7 * DAY));
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, B, "run", T0));	    /* period */
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, A, "run", T0 - 7 * DAY)); /* buddy */
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, NULL, "run", T0 - 7 * DAY));
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, B, "swim", T0 - 7 * DAY)); /* commit */
	assert_false(buddy_events_has(v, BUDDY_EV_LATE, B, "run", T0 - 7 * DAY));    /* kind */
	assert_true(buddy_events_has(v, BUDDY_EV_REMINDER, NULL, "read", T0));
	assert_false(buddy_events_has(v, BUDDY_EV_REMINDER, B, "read", T0));
	assert_false(buddy_events_has(v, BUDDY_EV_REMINDER, NULL, "read", T0 + DAY));
	/* a derived event is not what has() is about */
	post_entry(v, false, B, 1, T0, 1, "run", BUDDY_CHECKIN_DONE, "");
	assert_false(buddy_events_has(v, BUDDY_EV_CHECKIN, B, "run", 0));
	/* a second record of one key is still an event of its own */
	assert_int_equal(event40(v, T0 + 1, BUDDY_EV_MISSED, B, "run", T0 - 7 * DAY, T0, 0), 0);
	assert_int_equal(buddy_events_count(v), 4);
	assert_true(buddy_events_has(v, BUDDY_EV_MISSED, B, "run", T0 - 7 * DAY));
	buddy_events_free(v);
}

/* Thousands of periods: every one recorded is found, none other is (the index grows). */
static void test_events_has_many(void **state)
{
	struct buddy_events *v = buddy_events_new();
	static const char *const commits[] = {"run", "read", "swim"};
	enum { N = 3000 };

	(void)state;
	for (int i = 0; i < N; i++) {
		const char *c = commits[i % 3];
		if (i % 2)
			assert_int_equal(event40(v, T0, BUDDY_EV_MISSED, (i % 4 == 1) ? A : B, c,
						 T0 + (int64_t)i * DAY, T0 + (int64_t)(i + 1) * DAY,
						 0),
					 0);
		else
			assert_int_equal(event40(v, T0, BUDDY_EV_REMINDER, NULL, c,
						 T0 + (int64_t)i * DAY, T0 + (int64_t)(i + 1) * DAY,
						 0),
					 0);
	}
	assert_int_equal(buddy_events_count(v), N);
	for (int i = 0; i < N; i++) {
		const char *c = commits[i % 3];
		int64_t ps = T0 + (int64_t)i * DAY;
		if (i % 2) {
			const uint8_t *who = (i % 4 == 1) ? A : B;
			assert_true(buddy_events_has(v, BUDDY_EV_MISSED, who, c, ps));
			assert_false(buddy_events_has(v, BUDDY_EV_MISSED, who == A ? B : A, c, ps));
			assert_false(buddy_events_has(v, BUDDY_EV_REMINDER, NULL, c, ps));
		} else {
			assert_true(buddy_events_has(v, BUDDY_EV_REMINDER, NULL, c, ps));
			assert_false(buddy_events_has(v, BUDDY_EV_MISSED, B, c, ps));
		}
		assert_false(buddy_events_has(v, BUDDY_EV_MISSED, B, commits[(i + 1) % 3], ps));
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(buddy_events_at(v, (size_t)i)->id, (uint64_t)i + 1);
	buddy_events_free(v);
}

/* ---- many ---- */

/* Thousands of events naming many buddies and commitments, some with a period or an alert
 * kind, some with neither, some about no buddy: each reads back with exactly its own fields
 * (events.c keeps buddies and commitment ids as numbers into tables of the distinct ones, and
 * periods and alert kinds apart, and fills a struct buddy_event in when one is read). */
static void test_events_many_buddies_and_commitments(void **state)
{
	enum { N = 3000, BUDDIES = 5, COMMITS = 300 };
	struct buddy_events *v = buddy_events_new();
	struct buddy_event *want = calloc(N, sizeof(*want));
	uint8_t pks[BUDDIES][32];
	msgpack_sbuffer sb;

	(void)state;
	assert_non_null(want);
	msgpack_sbuffer_init(&sb);
	for (int b = 0; b < BUDDIES; b++) {
		memset(pks[b], 0xc0, 32);
		pks[b][31] = (uint8_t)b;
	}
	for (int i = 0; i < N; i++) {
		struct buddy_event *w = &want[i];
		const uint8_t *pk = pks[(i / 3) % BUDDIES];
		int64_t t = T0 + i;
		char commit[16];

		snprintf(commit, sizeof(commit), "c%d", (i * 7) % COMMITS);
		w->id = (uint64_t)i + 1;
		w->time = t;
		w->has_pk = true;
		memcpy(w->pk, pk, 32);
		switch (i % 6) {
		case 0:
		case 1:
			post_entry(v, false, pk, (uint64_t)i + 1, t, (uint64_t)i + 100, commit,
				   BUDDY_CHECKIN_DONE, "x");
			w->kind = BUDDY_EV_CHECKIN;
			strcpy(w->commit, commit);
			w->entry = (uint64_t)i + 100;
			w->seq = (uint64_t)i + 1;
			break;
		case 2:
			post_entry(v, false, pk, (uint64_t)i + 1, t, (uint64_t)i + 100, NULL, 0,
				   "a note on nothing");
			w->kind = BUDDY_EV_NOTE;
			w->entry = (uint64_t)i + 100;
			w->seq = (uint64_t)i + 1;
			break;
		case 3:
			assert_int_equal(event40(v, t, BUDDY_EV_MISSED, pk, commit, t - DAY, t, 0),
					 0);
			w->kind = BUDDY_EV_MISSED;
			strcpy(w->commit, commit);
			w->period_start = t - DAY;
			w->period_end = t;
			break;
		case 4:
			strcpy(w->alert, i % 12 == 4 ? "signature" : "gap");
			msgpack_sbuffer_clear(&sb);
			assert_int_equal(
				buddy_streams_make_alert(&sb, t, pk, w->alert, (uint64_t)i * 1000),
				0);
			assert_int_equal(apply(v, &sb), 0);
			w->kind = BUDDY_EV_ALERT;
			w->seq = (uint64_t)i * 1000;
			break;
		default:
			assert_int_equal(
				event40(v, t, BUDDY_EV_REMINDER, NULL, commit, t, t + DAY, 0), 0);
			w->kind = BUDDY_EV_REMINDER;
			w->has_pk = false;
			memset(w->pk, 0, 32);
			strcpy(w->commit, commit);
			w->period_start = t;
			w->period_end = t + DAY;
			break;
		}
	}
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(buddy_events_count(v), N);
	assert_int_equal(buddy_events_unread(v), N);
	for (int i = 0; i < N; i++) {
		const struct buddy_event *ev = buddy_events_at(v, (size_t)i), *w = &want[i];

		assert_int_equal(ev->id, w->id);
		assert_int_equal(ev->kind, w->kind);
		assert_int_equal(ev->time, w->time);
		assert_int_equal(ev->has_pk, w->has_pk);
		assert_memory_equal(ev->pk, w->pk, 32);
		assert_string_equal(ev->commit, w->commit);
		assert_int_equal(ev->entry, w->entry);
		assert_int_equal(ev->seq, w->seq);
		assert_int_equal(ev->period_start, w->period_start);
		assert_int_equal(ev->period_end, w->period_end);
		assert_string_equal(ev->alert, w->alert);
		assert_false(ev->read);
		if (w->kind == BUDDY_EV_MISSED || w->kind == BUDDY_EV_REMINDER) {
			assert_true(buddy_events_has(v, w->kind, w->has_pk ? w->pk : NULL,
						     w->commit, w->period_start));
			assert_false(buddy_events_has(v, w->kind, w->has_pk ? w->pk : NULL,
						      w->commit, w->period_start + 1));
		}
	}
	assert_false(buddy_events_has(v, BUDDY_EV_MISSED, pks[0], "c-none", T0 + 3 - DAY));
	free(want);
	buddy_events_free(v);
}

/* ---- live ---- */

struct heard {
	struct buddy_event ev[8];
	size_t n;
};

static void hear(void *arg, const struct buddy_event *ev)
{
	struct heard *h = arg;

	assert_true(h->n < 8);
	h->ev[h->n++] = *ev;
}

static void test_events_live_only_after_set_live(void **state)
{
	struct buddy_events *v = buddy_events_new();
	struct heard h = {0};

	(void)state;
	/* replay: nothing is told */
	post_entry(v, false, B, 1, T0, 1, "run", BUDDY_CHECKIN_DONE, "");
	assert_int_equal(event40(v, T0, BUDDY_EV_MISSED, B, "run", T0 - DAY, T0, 0), 0);
	buddy_events_live(v, BUDDY_EV_ONLINE, B, T0);
	assert_int_equal(h.n, 0);

	buddy_events_set_live(v, hear, &h);
	post_entry(v, false, B, 2, T0 + 10, 2, NULL, 0, "hello");
	assert_int_equal(h.n, 1);
	assert_int_equal(h.ev[0].id, 3);
	assert_int_equal(h.ev[0].kind, BUDDY_EV_NOTE);
	assert_int_equal(h.ev[0].entry, 2);
	assert_int_equal(h.ev[0].time, T0 + 10);
	assert_false(h.ev[0].read);
	/* outgoing, unreadable and read marks are not events */
	post_entry(v, true, B, 1, T0 + 11, 9, "run", BUDDY_CHECKIN_DONE, "");
	assert_int_equal(read_all(v, 3), 0);
	assert_int_equal(h.n, 1);

	assert_int_equal(event40(v, T0 + 20, BUDDY_EV_REMINDER, NULL, "run", T0, T0 + DAY, 0), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.ev[1].id, 4);
	assert_int_equal(h.ev[1].kind, BUDDY_EV_REMINDER);

	/* live-only: id 0, told, never stored */
	buddy_events_live(v, BUDDY_EV_OFFLINE, B, T0 + 30);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.ev[2].id, 0);
	assert_int_equal(h.ev[2].kind, BUDDY_EV_OFFLINE);
	assert_int_equal(h.ev[2].time, T0 + 30);
	assert_true(h.ev[2].has_pk);
	assert_memory_equal(h.ev[2].pk, B, 32);
	assert_int_equal(buddy_events_count(v), 4);
	assert_int_equal(buddy_events_unread(v), 1);

	/* a NULL callback: live, and silent */
	buddy_events_set_live(v, NULL, NULL);
	buddy_events_live(v, BUDDY_EV_ONLINE, B, T0 + 40);
	post_entry(v, false, B, 3, T0 + 41, 3, NULL, 0, "again");
	assert_int_equal(h.n, 3);
	assert_int_equal(buddy_events_count(v), 5);
	buddy_events_free(v);
}

/* ---- through the journal ---- */

static int journal_apply(struct buddy_journal *j, const msgpack_sbuffer *sb)
{
	return buddy_journal_apply(j, (const uint8_t *)sb->data, sb->size);
}

/* The journal dispatches 40 and 41 here and refuses the journal when they are corrupt; a
 * pairing is an event. */
static void test_events_through_journal(void **state)
{
	struct buddy_journal *j = buddy_journal_new();
	struct buddy_events *v = buddy_journal_events(j);
	msgpack_sbuffer sb;

	(void)state;
	assert_non_null(j);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_buddies_make_add(&sb, T0, B, "bob", NULL, 0), 0);
	assert_int_equal(journal_apply(j, &sb), 0);
	msgpack_sbuffer_clear(&sb);
	assert_int_equal(buddy_events_make(&sb, T0 + 1, BUDDY_EV_MISSED, B, "run", T0 - DAY, T0, 0),
			 0);
	assert_int_equal(journal_apply(j, &sb), 0);
	assert_int_equal(buddy_events_count(v), 2);
	assert_int_equal(buddy_events_at(v, 0)->kind, BUDDY_EV_PAIRED);
	assert_int_equal(buddy_events_at(v, 1)->kind, BUDDY_EV_MISSED);
	msgpack_sbuffer_clear(&sb);
	/* an id past the list is ignored (ids are derived at replay), not corrupt */
	assert_int_equal(buddy_events_make_read(&sb, T0 + 2, (const uint64_t[]){3}, 1), 0);
	assert_int_equal(journal_apply(j, &sb), 0);
	assert_int_equal(buddy_events_unread(v), 2);
	msgpack_sbuffer_clear(&sb);
	assert_int_equal(buddy_events_make_read_all(&sb, T0 + 2, 2), 0);
	assert_int_equal(journal_apply(j, &sb), 0);
	assert_int_equal(buddy_events_unread(v), 0);
	msgpack_sbuffer_destroy(&sb);
	buddy_journal_free(j);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_events_kind_names_both_ways),
		T(test_events_empty),
		T(test_events_incoming_posts_make_events),
		T(test_events_pause_post),
		T(test_events_outgoing_posts_make_none),
		T(test_events_unreadable_posts_make_none),
		T(test_events_paired_delivered_alert),
		T(test_events_other_records_ignored),
		T(test_events_recorded_kinds),
		T(test_events_maker_refuses),
		T(test_events_corrupt_type40_refused),
		T(test_events_read_by_ids),
		T(test_events_read_all_upto),
		T(test_events_corrupt_read_refused),
		T(test_events_has_matches_kind_buddy_commit_period),
		T(test_events_has_many),
		T(test_events_many_buddies_and_commitments),
		T(test_events_live_only_after_set_live),
		T(test_events_through_journal),
	};
#undef T

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
