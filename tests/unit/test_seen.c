/* What the share streams mean (daemon/seen.c, proto/PROTOCOL.md section 15.3), fed post by post
 * as streams.c would: commitments (newest state wins, first-announced order), check-ins and
 * notes by the author's entry id, retractions (content gone, fact and time kept), reactions both
 * ways, where my entries went, and posts that do not read (counted, otherwise ignored). Posts
 * are built with post.h's writers, except the broken ones, which are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>

#include "buddy/error.h"
#include "buddy/post.h"
#include "buddy/seen.h"

#define T0 1767225600 /* 2026-01-01 00:00 UTC */

static const uint8_t A[32] = {0xa1, 0xa2, 0xa3};
static const uint8_t B[32] = {0xb1, 0xb2, 0xb3};

/* One stream as streams.c would hand it over: a direction, a buddy, the next seq. */
struct stream {
	struct buddy_seen *v;
	bool out;
	const uint8_t *pk;
	uint64_t seq;
};

static struct stream stream(struct buddy_seen *v, bool out, const uint8_t *pk)
{
	struct stream s = {v, out, pk, 0};
	return s;
}

/* Wraps body in a padded post of type type and hands it to seen; returns the post's seq. The
 * chain is not seen's business, so prev stays zero. */
static uint64_t feed(struct stream *s, int64_t time, uint64_t type, const msgpack_sbuffer *body)
{
	struct buddy_post_head h = {.seq = ++s->seq, .time = time, .type = type};
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(buddy_post_encode(&h, (const uint8_t *)body->data, body->size, &sb), 0);
	buddy_seen_post(s->v, s->out, s->pk, s->seq, time + 5, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return s->seq;
}

/* A post assembled by hand, [seq, prev, time, type, body, pad] padded to 256 bytes, so that a
 * type or body the writers refuse can still be sent. */
static uint64_t feed_raw(struct stream *s, int64_t time, uint64_t type, const msgpack_sbuffer *body)
{
	static const uint8_t zero[256];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t pad;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint64(&pk, ++s->seq);
	msgpack_pack_bin(&pk, 32);
	msgpack_pack_bin_body(&pk, zero, 32);
	msgpack_pack_int64(&pk, time);
	msgpack_pack_uint64(&pk, type);
	msgpack_sbuffer_write(&sb, body->data, body->size);
	assert_true(sb.size + 3 <= 256);
	pad = 256 - sb.size - 3;
	/* bin 16 even for a short pad, as writers do */
	msgpack_sbuffer_write(&sb, (const char *)(const uint8_t[]){0xc5, 0, (uint8_t)pad}, 3);
	msgpack_sbuffer_write(&sb, (const char *)zero, pad);
	assert_int_equal(sb.size, 256);
	buddy_seen_post(s->v, s->out, s->pk, s->seq, time, (const uint8_t *)sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return s->seq;
}

static uint64_t post_commit(struct stream *s, int64_t time, const char *id, const char *title,
			    enum buddy_cadence_kind kind, uint32_t n, int64_t archived, bool on)
{
	struct buddy_post_commitment c;
	msgpack_sbuffer body;
	uint64_t seq;

	memset(&c, 0, sizeof(c));
	strcpy(c.id, id);
	c.title = title;
	c.title_len = strlen(title);
	c.cadence.kind = kind;
	c.cadence.n = n;
	strcpy(c.tz, "Europe/Berlin");
	c.created = T0 - 86400;
	c.archived = archived;
	c.on = on;
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_commitment(&body, &c), 0);
	seq = feed(s, time, BUDDY_POST_COMMITMENT, &body);
	msgpack_sbuffer_destroy(&body);
	return seq;
}

/* A check-in (status != 0) or a note (status 0); tags NULL-terminated; unit NULL: no value. */
static uint64_t post_entry(struct stream *s, int64_t time, uint64_t e, const char *commit,
			   enum buddy_checkin_status status, const char *text, const char *unit,
			   double value, const char *const *tags)
{
	struct buddy_post_entry pe;
	msgpack_sbuffer body;
	uint64_t seq;

	memset(&pe, 0, sizeof(pe));
	pe.e = e;
	if (commit)
		strcpy(pe.commit, commit);
	pe.at = time - 60;
	pe.status = status;
	pe.text = text;
	pe.text_len = strlen(text);
	if (unit) {
		pe.has_value = true;
		pe.value = value;
		strcpy(pe.unit, unit);
	}
	for (; tags && tags[pe.ntags]; pe.ntags++) {
		pe.tags[pe.ntags] = tags[pe.ntags];
		pe.tag_lens[pe.ntags] = strlen(tags[pe.ntags]);
	}
	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_entry(&body, &pe), 0);
	seq = feed(s, time, status ? BUDDY_POST_CHECKIN : BUDDY_POST_NOTE, &body);
	msgpack_sbuffer_destroy(&body);
	return seq;
}

static uint64_t post_checkin(struct stream *s, int64_t time, uint64_t e, const char *text)
{
	return post_entry(s, time, e, "run", BUDDY_CHECKIN_DONE, text, NULL, 0, NULL);
}

static uint64_t post_retract(struct stream *s, int64_t time, uint64_t e)
{
	msgpack_sbuffer body;
	uint64_t seq;

	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_retraction(&body, e), 0);
	seq = feed(s, time, BUDDY_POST_RETRACTION, &body);
	msgpack_sbuffer_destroy(&body);
	return seq;
}

static uint64_t post_react(struct stream *s, int64_t time, uint64_t e,
			   enum buddy_reaction_kind kind, const char *text)
{
	struct buddy_post_reaction r = {
		.e = e, .kind = kind, .text = text, .text_len = strlen(text)};
	msgpack_sbuffer body;
	uint64_t seq;

	msgpack_sbuffer_init(&body);
	assert_int_equal(buddy_post_write_reaction(&body, &r), 0);
	seq = feed(s, time, BUDDY_POST_REACTION, &body);
	msgpack_sbuffer_destroy(&body);
	return seq;
}

/* ---- empty ---- */

static void test_seen_empty(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	size_t n = 99;

	(void)state;
	assert_non_null(v);
	assert_int_equal(buddy_seen_unreadable(v, A), 0);
	assert_int_equal(buddy_seen_ncommits(v, A), 0);
	assert_null(buddy_seen_commit_at(v, A, 0));
	assert_int_equal(buddy_seen_nentries(v, A), 0);
	assert_null(buddy_seen_entry_at(v, A, 0));
	assert_null(buddy_seen_entry_find(v, A, 1));
	assert_null(buddy_seen_reactions_to_mine(v, 1, &n));
	assert_int_equal(n, 0);
	n = 99;
	assert_null(buddy_seen_reactions_to_theirs(v, A, 1, &n));
	assert_int_equal(n, 0);
	n = 99;
	assert_null(buddy_seen_shares_of(v, 1, &n));
	assert_int_equal(n, 0);
	buddy_seen_free(v);
	buddy_seen_free(NULL);
}

/* ---- commitments ---- */

static void test_seen_commitments_announced_updated_unshared(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream in = stream(v, false, A);
	const struct buddy_seen_commitment *c;

	(void)state;
	post_commit(&in, T0, "run", "Run 5 km", BUDDY_CADENCE_WEEKLY, 3, 0, true);
	post_commit(&in, T0 + 10, "read", "Read", BUDDY_CADENCE_DAILY, 1, 0, true);
	assert_int_equal(buddy_seen_ncommits(v, A), 2);
	c = buddy_seen_commit_at(v, A, 0);
	assert_string_equal(c->id, "run");
	assert_string_equal(c->title, "Run 5 km");
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_WEEKLY);
	assert_int_equal(c->cadence.n, 3);
	assert_string_equal(c->tz, "Europe/Berlin");
	assert_int_equal(c->created, T0 - 86400);
	assert_int_equal(c->archived, 0);
	assert_true(c->on);
	assert_int_equal(c->updated, T0);

	/* run changes (new title and cadence), then is archived: replaced in place, order kept */
	post_commit(&in, T0 + 20, "run", "Run 10 km", BUDDY_CADENCE_MONTHLY, 8, 0, true);
	post_commit(&in, T0 + 30, "run", "Run 10 km", BUDDY_CADENCE_MONTHLY, 8, T0 + 30, true);
	/* read is no longer shared with me: the state says so, what I have stays */
	post_commit(&in, T0 + 40, "read", "Read", BUDDY_CADENCE_DAILY, 1, 0, false);
	assert_int_equal(buddy_seen_ncommits(v, A), 2);
	c = buddy_seen_commit_at(v, A, 0);
	assert_string_equal(c->id, "run");
	assert_string_equal(c->title, "Run 10 km");
	assert_int_equal(c->cadence.kind, BUDDY_CADENCE_MONTHLY);
	assert_int_equal(c->cadence.n, 8);
	assert_int_equal(c->archived, T0 + 30);
	assert_true(c->on);
	assert_int_equal(c->updated, T0 + 30);
	c = buddy_seen_commit_at(v, A, 1);
	assert_string_equal(c->id, "read");
	assert_false(c->on);
	assert_int_equal(c->updated, T0 + 40);
	assert_int_equal(c->archived, 0);

	/* a new id goes last; shared again goes back to on, in place */
	post_commit(&in, T0 + 50, "swim", "Swim", BUDDY_CADENCE_DAILY, 1, 0, true);
	post_commit(&in, T0 + 60, "read", "Read more", BUDDY_CADENCE_DAILY, 1, 0, true);
	assert_int_equal(buddy_seen_ncommits(v, A), 3);
	assert_string_equal(buddy_seen_commit_at(v, A, 0)->id, "run");
	assert_string_equal(buddy_seen_commit_at(v, A, 1)->id, "read");
	assert_string_equal(buddy_seen_commit_at(v, A, 1)->title, "Read more");
	assert_true(buddy_seen_commit_at(v, A, 1)->on);
	assert_string_equal(buddy_seen_commit_at(v, A, 2)->id, "swim");
	assert_null(buddy_seen_commit_at(v, A, 3));
	assert_int_equal(buddy_seen_unreadable(v, A), 0);
	buddy_seen_free(v);
}

/* My own commitment posts mean nothing here (streams.c tracks sharing). */
static void test_seen_outgoing_commitment_not_recorded(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream out = stream(v, true, A);

	(void)state;
	post_commit(&out, T0, "run", "Run", BUDDY_CADENCE_DAILY, 1, 0, true);
	assert_int_equal(buddy_seen_ncommits(v, A), 0);
	assert_int_equal(buddy_seen_unreadable(v, A), 0);
	buddy_seen_free(v);
}

/* ---- entries ---- */

static void test_seen_checkins_and_notes(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream in = stream(v, false, A);
	const char *const tags[] = {"morning", "park", NULL};
	const struct buddy_seen_entry *x;
	uint64_t s1, s2, s3;

	(void)state;
	s1 = post_entry(&in, T0, 1, "run", BUDDY_CHECKIN_DONE, "5 km", "km", 5.25, tags);
	s2 = post_entry(&in, T0 + 100, 3, NULL, 0, "a quiet day\nwith tea", NULL, 0, NULL);
	s3 = post_entry(&in, T0 + 200, 4, "run", BUDDY_CHECKIN_SKIP, "", NULL, 0, NULL);
	post_entry(&in, T0 + 300, 6, "run", 0, "about running", "min", -2,
		   (const char *[]){"x", NULL});
	assert_int_equal(buddy_seen_nentries(v, A), 4);

	x = buddy_seen_entry_at(v, A, 0);
	assert_int_equal(x->e, 1);
	assert_int_equal(x->seq, s1);
	assert_int_equal(x->at, T0 - 60);
	assert_int_equal(x->posted, T0);
	assert_int_equal(x->kind, BUDDY_POST_CHECKIN);
	assert_int_equal(x->status, BUDDY_CHECKIN_DONE);
	assert_string_equal(x->commit, "run");
	assert_string_equal(x->text, "5 km");
	assert_true(x->has_value);
	assert_true(x->value == 5.25);
	assert_string_equal(x->unit, "km");
	assert_int_equal(x->ntags, 2);
	assert_string_equal(x->tags[0], "morning");
	assert_string_equal(x->tags[1], "park");
	assert_int_equal(x->retracted, 0);
	/* by id, the same entry (and what entry_at returned is overwritten: one struct serves) */
	assert_int_equal(buddy_seen_entry_find(v, A, 1)->seq, s1);

	assert_int_equal(buddy_seen_entry_at(v, A, 1)->seq, s2);
	x = buddy_seen_entry_find(v, A, 3);
	assert_int_equal(x->seq, s2);
	assert_int_equal(x->kind, BUDDY_POST_NOTE);
	assert_int_equal(x->status, 0);
	assert_string_equal(x->commit, "");
	assert_string_equal(x->text, "a quiet day\nwith tea");
	assert_false(x->has_value);
	assert_string_equal(x->unit, "");
	assert_int_equal(x->ntags, 0);

	x = buddy_seen_entry_find(v, A, 4);
	assert_int_equal(x->seq, s3);
	assert_int_equal(x->status, BUDDY_CHECKIN_SKIP);
	assert_string_equal(x->text, "");

	assert_int_equal(buddy_seen_entry_at(v, A, 3)->e, 6);
	x = buddy_seen_entry_find(v, A, 6);
	assert_int_equal(x->kind, BUDDY_POST_NOTE);
	assert_string_equal(x->commit, "run");
	assert_true(x->value == -2);
	assert_string_equal(x->unit, "min");
	assert_int_equal(x->ntags, 1);

	/* ids never posted (2, 5: private entries) are simply absent */
	assert_null(buddy_seen_entry_find(v, A, 2));
	assert_null(buddy_seen_entry_find(v, A, 5));
	assert_null(buddy_seen_entry_find(v, B, 1));
	assert_null(buddy_seen_entry_at(v, A, 4));
	assert_int_equal(buddy_seen_unreadable(v, A), 0);
	buddy_seen_free(v);
}

/* Not something an honest author does; the outcome is simply the newest post, in place. */
static void test_seen_entry_posted_again_replaces(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream in = stream(v, false, A);
	const struct buddy_seen_entry *x;
	uint64_t seq;

	(void)state;
	post_entry(&in, T0, 1, "run", BUDDY_CHECKIN_DONE, "first", "km", 1,
		   (const char *[]){"a", "b", NULL});
	post_checkin(&in, T0 + 1, 2, "second");
	seq = post_entry(&in, T0 + 2, 1, NULL, 0, "first, edited", NULL, 0, NULL);
	assert_int_equal(buddy_seen_nentries(v, A), 2);
	assert_int_equal(buddy_seen_entry_find(v, A, 1)->seq, seq);
	x = buddy_seen_entry_at(v, A, 0);
	assert_int_equal(x->e, 1);
	assert_int_equal(x->seq, seq);
	assert_int_equal(x->posted, T0 + 2);
	assert_int_equal(x->kind, BUDDY_POST_NOTE);
	assert_string_equal(x->text, "first, edited");
	assert_false(x->has_value);
	assert_int_equal(x->ntags, 0);
	assert_int_equal(buddy_seen_entry_at(v, A, 1)->e, 2);

	/* a retracted entry posted again is back, whole */
	post_retract(&in, T0 + 3, 2);
	assert_int_equal(buddy_seen_entry_find(v, A, 2)->retracted, T0 + 3);
	seq = post_entry(&in, T0 + 4, 2, "run", BUDDY_CHECKIN_PARTIAL, "second, again", "km", 2,
			 NULL);
	x = buddy_seen_entry_at(v, A, 1);
	assert_int_equal(x->e, 2);
	assert_int_equal(x->seq, seq);
	assert_int_equal(x->retracted, 0);
	assert_int_equal(x->at, T0 + 4 - 60);
	assert_int_equal(x->status, BUDDY_CHECKIN_PARTIAL);
	assert_string_equal(x->commit, "run");
	assert_string_equal(x->text, "second, again");
	assert_true(x->has_value && x->value == 2);
	assert_string_equal(x->unit, "km");
	assert_int_equal(buddy_seen_nentries(v, A), 2);
	buddy_seen_free(v);
}

/* Text of len bytes for entry e: letters only, different for every e and len. */
static char *make_text(uint64_t e, size_t len)
{
	char *t = malloc(len + 1);

	assert_non_null(t);
	for (size_t i = 0; i < len; i++)
		t[i] = (char)('a' + (e * 7 + i) % 26);
	t[len] = '\0';
	return t;
}

/* Every field at its longest (a 32-byte commitment id, a 16-byte unit, 16 tags of 32 bytes, a
 * note of 60,000 bytes), texts on either side of the size at which seen.c stops packing them
 * together (1,024 bytes of strings), and hundreds of entries of every size in between: each
 * reads back as it was sent, through retractions and replacements around it. */
static void test_seen_entries_of_every_size(void **state)
{
	static const char id[] = "a-commitment-id-of-32-bytes-long";
	static const char unit[] = "units-of-16-byte";
	struct buddy_seen *v = buddy_seen_new();
	struct stream in = stream(v, false, A);
	const struct buddy_seen_entry *x;
	const char *tags[BUDDY_TAGS_MAX + 1];
	char tagbuf[BUDDY_TAGS_MAX][BUDDY_TAG_MAX + 1];
	char *big = make_text(1, 60000), *t;
	enum { MANY = 400 };

	(void)state;
	assert_int_equal(strlen(id), BUDDY_ID_MAX);
	assert_int_equal(strlen(unit), BUDDY_UNIT_MAX);
	for (int i = 0; i < BUDDY_TAGS_MAX; i++) {
		memset(tagbuf[i], 'a' + i, BUDDY_TAG_MAX);
		tagbuf[i][BUDDY_TAG_MAX] = '\0';
		tags[i] = tagbuf[i];
	}
	tags[BUDDY_TAGS_MAX] = NULL;
	post_entry(&in, T0, 1, id, BUDDY_CHECKIN_DONE, big, unit, 1e300, tags);
	/* commit "run", no value, no tags: 6 bytes besides the text, so 1,023 and 1,024 */
	t = make_text(2, 1017);
	post_checkin(&in, T0 + 1, 2, t);
	free(t);
	t = make_text(3, 1018);
	post_checkin(&in, T0 + 2, 3, t);
	free(t);
	for (uint64_t e = 4; e < 4 + MANY; e++) {
		t = make_text(e, (size_t)(e * 37 % 1500));
		post_entry(&in, T0 + (int64_t)e, e, e % 2 ? "run" : NULL,
			   e % 2 ? BUDDY_CHECKIN_SKIP : 0, t, e % 3 ? NULL : "km", (double)e,
			   e % 5 ? NULL : tags + BUDDY_TAGS_MAX - 2);
		free(t);
	}
	assert_int_equal(buddy_seen_nentries(v, A), 3 + MANY);
	assert_int_equal(buddy_seen_unreadable(v, A), 0);

	x = buddy_seen_entry_find(v, A, 1);
	assert_string_equal(x->commit, id);
	assert_string_equal(x->unit, unit);
	assert_true(x->has_value && x->value == 1e300);
	assert_int_equal(x->ntags, BUDDY_TAGS_MAX);
	for (int i = 0; i < BUDDY_TAGS_MAX; i++)
		assert_string_equal(x->tags[i], tagbuf[i]);
	assert_string_equal(x->text, big);
	for (uint64_t e = 2; e <= 3; e++) {
		t = make_text(e, 1015 + e);
		assert_string_equal(buddy_seen_entry_find(v, A, e)->text, t);
		free(t);
	}

	/* the longest and a few others go, the one on the edge comes back shorter */
	post_retract(&in, T0 + 1000, 1);
	post_retract(&in, T0 + 1001, 3);
	for (uint64_t e = 4; e < 4 + MANY; e += 7)
		post_retract(&in, T0 + 1002, e);
	post_checkin(&in, T0 + 1003, 2, "short now");

	x = buddy_seen_entry_at(v, A, 0);
	assert_int_equal(x->retracted, T0 + 1000);
	assert_string_equal(x->text, "");
	assert_string_equal(x->commit, "");
	assert_string_equal(x->unit, "");
	assert_int_equal(x->ntags, 0);
	assert_false(x->has_value);
	assert_string_equal(buddy_seen_entry_at(v, A, 1)->text, "short now");
	assert_int_equal(buddy_seen_entry_at(v, A, 2)->retracted, T0 + 1001);
	for (uint64_t e = 4; e < 4 + MANY; e++) {
		x = buddy_seen_entry_at(v, A, e - 1);
		assert_int_equal(x->e, e);
		assert_int_equal(x->posted, T0 + (int64_t)e);
		if ((e - 4) % 7 == 0) {
			assert_int_equal(x->retracted, T0 + 1002);
			assert_string_equal(x->text, "");
			continue;
		}
		t = make_text(e, (size_t)(e * 37 % 1500));
		assert_string_equal(x->text, t);
		free(t);
		assert_int_equal(x->kind, e % 2 ? BUDDY_POST_CHECKIN : BUDDY_POST_NOTE);
		assert_string_equal(x->commit, e % 2 ? "run" : "");
		assert_int_equal(x->has_value, e % 3 == 0);
		assert_string_equal(x->unit, e % 3 ? "" : "km");
		if (x->has_value)
			assert_true(x->value == (double)e);
		assert_int_equal(x->ntags, e % 5 ? 0 : 2);
		if (x->ntags) {
			assert_string_equal(x->tags[0], tagbuf[BUDDY_TAGS_MAX - 2]);
			assert_string_equal(x->tags[1], tagbuf[BUDDY_TAGS_MAX - 1]);
		} else {
			assert_null(x->tags);
		}
	}
	free(big);
	buddy_seen_free(v);
}

/* ---- retraction ---- */

static void test_seen_retraction_wipes_content_keeps_fact(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream in = stream(v, false, A);
	const struct buddy_seen_entry *x;
	uint64_t seq;

	(void)state;
	seq = post_entry(&in, T0, 1, "run", BUDDY_CHECKIN_PARTIAL, "at the bar at 2am", "km", 3,
			 (const char *[]){"night", NULL});
	post_checkin(&in, T0 + 10, 2, "kept");
	post_retract(&in, T0 + 20, 1);

	assert_int_equal(buddy_seen_nentries(v, A), 2);
	assert_int_equal(buddy_seen_entry_at(v, A, 0)->e, 1);
	x = buddy_seen_entry_find(v, A, 1);
	assert_int_equal(x->e, 1);
	assert_int_equal(x->retracted, T0 + 20);
	assert_string_equal(x->text, "");
	assert_int_equal(x->ntags, 0);
	assert_null(x->tags);
	assert_false(x->has_value);
	assert_true(x->value == 0);
	assert_string_equal(x->unit, "");
	/* what it was about goes too: the commitment, the time, the status */
	assert_string_equal(x->commit, "");
	assert_int_equal(x->at, 0);
	assert_int_equal(x->status, 0);
	/* the post that brought it and what kind it was stay */
	assert_int_equal(x->seq, seq);
	assert_int_equal(x->posted, T0);
	assert_int_equal(x->kind, BUDDY_POST_CHECKIN);

	x = buddy_seen_entry_find(v, A, 2);
	assert_string_equal(x->text, "kept");
	assert_int_equal(x->retracted, 0);

	/* a second retraction keeps the first time; an unknown e changes nothing */
	post_retract(&in, T0 + 30, 1);
	post_retract(&in, T0 + 40, 77);
	assert_int_equal(buddy_seen_entry_find(v, A, 1)->retracted, T0 + 20);
	assert_int_equal(buddy_seen_nentries(v, A), 2);
	assert_null(buddy_seen_entry_find(v, A, 77));
	assert_int_equal(buddy_seen_unreadable(v, A), 0);
	buddy_seen_free(v);
}

/* ---- reactions ---- */

static void test_seen_reactions_to_my_entries(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream toA = stream(v, true, A), toB = stream(v, true, B);
	struct stream fromA = stream(v, false, A), fromB = stream(v, false, B);
	const struct buddy_seen_reaction *r;
	uint64_t s1, s2;
	size_t n;

	(void)state;
	post_checkin(&toA, T0, 7, "mine, to A and B");
	post_checkin(&toB, T0, 7, "mine, to A and B");
	post_checkin(&toB, T0 + 1, 8, "mine, to B only");

	s1 = post_react(&fromA, T0 + 100, 7, BUDDY_REACTION_CHEER, "");
	s2 = post_react(&fromB, T0 + 200, 7, BUDDY_REACTION_COMMENT, "nice pace!");
	/* A never got 8, and nobody got 9: both ignored, and not unreadable either */
	post_react(&fromA, T0 + 300, 8, BUDDY_REACTION_CHEER, "");
	post_react(&fromA, T0 + 400, 9, BUDDY_REACTION_COMMENT, "huh");

	r = buddy_seen_reactions_to_mine(v, 7, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(r[0].pk, A, 32);
	assert_int_equal(r[0].e, 7);
	assert_int_equal(r[0].seq, s1);
	assert_int_equal(r[0].kind, BUDDY_REACTION_CHEER);
	assert_string_equal(r[0].text, "");
	assert_int_equal(r[0].time, T0 + 100);
	assert_memory_equal(r[1].pk, B, 32);
	assert_int_equal(r[1].seq, s2);
	assert_int_equal(r[1].kind, BUDDY_REACTION_COMMENT);
	assert_string_equal(r[1].text, "nice pace!");
	assert_int_equal(r[1].time, T0 + 200);

	assert_null(buddy_seen_reactions_to_mine(v, 8, &n));
	assert_int_equal(n, 0);
	assert_null(buddy_seen_reactions_to_mine(v, 9, &n));
	assert_int_equal(n, 0);
	/* a reaction to my entry is not a reaction to the buddy's entry of the same id */
	assert_null(buddy_seen_reactions_to_theirs(v, A, 7, &n));
	assert_int_equal(n, 0);
	assert_int_equal(buddy_seen_unreadable(v, A), 0);

	/* B reacts to 8 (which B did get): accepted */
	post_react(&fromB, T0 + 500, 8, BUDDY_REACTION_CHEER, "go");
	r = buddy_seen_reactions_to_mine(v, 8, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(r[0].pk, B, 32);
	assert_string_equal(r[0].text, "go");
	buddy_seen_free(v);
}

static void test_seen_my_reactions_to_theirs(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream fromA = stream(v, false, A), toA = stream(v, true, A),
		      toB = stream(v, true, B);
	const struct buddy_seen_reaction *r;
	uint64_t s1, s2;
	size_t n;

	(void)state;
	post_checkin(&fromA, T0, 3, "A's run");
	s1 = post_react(&toA, T0 + 10, 3, BUDDY_REACTION_COMMENT, "well done");
	s2 = post_react(&toA, T0 + 20, 3, BUDDY_REACTION_CHEER, "");
	post_react(&toB, T0 + 30, 3, BUDDY_REACTION_CHEER, "B's 3 is another entry");

	r = buddy_seen_reactions_to_theirs(v, A, 3, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(r[0].pk, A, 32);
	assert_int_equal(r[0].e, 3);
	assert_int_equal(r[0].seq, s1);
	assert_int_equal(r[0].kind, BUDDY_REACTION_COMMENT);
	assert_string_equal(r[0].text, "well done");
	assert_int_equal(r[0].time, T0 + 10);
	assert_int_equal(r[1].seq, s2);
	assert_int_equal(r[1].kind, BUDDY_REACTION_CHEER);

	r = buddy_seen_reactions_to_theirs(v, B, 3, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(r[0].pk, B, 32);
	assert_string_equal(r[0].text, "B's 3 is another entry");
	assert_null(buddy_seen_reactions_to_theirs(v, A, 4, &n));
	assert_int_equal(n, 0);
	/* mine to theirs are not reactions to my entries */
	assert_null(buddy_seen_reactions_to_mine(v, 3, &n));
	assert_int_equal(n, 0);
	buddy_seen_free(v);
}

/* ---- shares ---- */

static void test_seen_shares_of_one_entry_to_two_buddies(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream toA = stream(v, true, A), toB = stream(v, true, B);
	const struct buddy_seen_share *s;
	uint64_t a1, b2, b3;
	size_t n;

	(void)state;
	post_checkin(&toB, T0, 4, "only B");
	a1 = post_checkin(&toA, T0 + 1, 5, "both");
	b2 = post_checkin(&toB, T0 + 2, 5, "both");
	s = buddy_seen_shares_of(v, 5, &n);
	assert_int_equal(n, 2);
	assert_memory_equal(s[0].pk, A, 32);
	assert_int_equal(s[0].seq, a1);
	assert_int_equal(s[0].retracted, 0);
	assert_memory_equal(s[1].pk, B, 32);
	assert_int_equal(s[1].seq, b2);
	assert_int_equal(s[1].retracted, 0);
	s = buddy_seen_shares_of(v, 4, &n);
	assert_int_equal(n, 1);
	assert_memory_equal(s[0].pk, B, 32);

	/* retracted from A only */
	post_retract(&toA, T0 + 100, 5);
	s = buddy_seen_shares_of(v, 5, &n);
	assert_int_equal(n, 2);
	assert_int_equal(s[0].retracted, T0 + 100);
	assert_int_equal(s[1].retracted, 0);

	/* posted to B again (same entry): one share per buddy, now pointing at the newer post */
	b3 = post_checkin(&toB, T0 + 200, 5, "both, again");
	s = buddy_seen_shares_of(v, 5, &n);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].seq, b3);
	assert_int_equal(s[0].seq, a1);

	/* retracting what never went to that buddy changes nothing */
	post_retract(&toA, T0 + 300, 4);
	post_retract(&toA, T0 + 300, 99);
	s = buddy_seen_shares_of(v, 4, &n);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].retracted, 0);
	assert_null(buddy_seen_shares_of(v, 99, &n));
	assert_int_equal(n, 0);
	/* my posts are not the buddy's entries */
	assert_int_equal(buddy_seen_nentries(v, A), 0);
	assert_int_equal(buddy_seen_nentries(v, B), 0);
	buddy_seen_free(v);
}

/* ---- posts that do not read ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* A body map of (key, int) and (key, string) pairs: "k=v" with v a number when it starts with a
 * digit, else a string. */
static void body_of(msgpack_sbuffer *sb, size_t n, const char *const *kv)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		msgpack_pack_str(&pk, (size_t)(eq - kv[i]));
		msgpack_pack_str_body(&pk, kv[i], (size_t)(eq - kv[i]));
		if (eq[1] >= '0' && eq[1] <= '9')
			msgpack_pack_uint64(&pk, strtoull(eq + 1, NULL, 10));
		else
			pack_str(&pk, eq + 1);
	}
}

static void feed_body(struct stream *s, uint64_t type, size_t n, const char *const *kv)
{
	msgpack_sbuffer sb;

	body_of(&sb, n, kv);
	feed_raw(s, T0, type, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void test_seen_unreadable_counted_and_ignored(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream fromA = stream(v, false, A), toA = stream(v, true, A);
	struct stream fromB = stream(v, false, B);
	const uint8_t garbage[] = {0x93, 0x01, 0x02, 0x03};
	size_t n;

	(void)state;
	/* a well-formed post by hand first: the hand-made envelope itself reads */
	feed_body(&fromA, BUDDY_POST_RETRACTION, 1, (const char *[]){"e=1"});
	assert_int_equal(buddy_seen_unreadable(v, A), 0);

	/* a type from the future */
	feed_body(&fromA, 9, 1, (const char *[]){"e=1"});
	assert_int_equal(buddy_seen_unreadable(v, A), 1);
	/* a check-in with a status that does not exist */
	feed_body(&fromA, BUDDY_POST_CHECKIN, 5,
		  (const char *[]){"e=1", "c=run", "at=1767225600", "s=maybe", "t=x"});
	assert_int_equal(buddy_seen_unreadable(v, A), 2);
	/* a note without its required text */
	feed_body(&fromA, BUDDY_POST_NOTE, 2, (const char *[]){"e=2", "at=1767225600"});
	assert_int_equal(buddy_seen_unreadable(v, A), 3);
	/* a retraction whose e is a string */
	feed_body(&fromA, BUDDY_POST_RETRACTION, 1, (const char *[]){"e=one"});
	assert_int_equal(buddy_seen_unreadable(v, A), 4);
	/* a comment must say something */
	feed_body(&fromA, BUDDY_POST_REACTION, 3, (const char *[]){"e=1", "k=comment", "t="});
	assert_int_equal(buddy_seen_unreadable(v, A), 5);
	/* a commitment with a bad id */
	feed_body(&fromA, BUDDY_POST_COMMITMENT, 2, (const char *[]){"c=Not A Slug", "t=x"});
	assert_int_equal(buddy_seen_unreadable(v, A), 6);
	/* not a post at all (the chain was checked, so this cannot happen; still counted) */
	buddy_seen_post(v, false, A, 99, T0, garbage, sizeof(garbage));
	assert_int_equal(buddy_seen_unreadable(v, A), 7);

	/* nothing of them was taken in */
	assert_int_equal(buddy_seen_nentries(v, A), 0);
	assert_int_equal(buddy_seen_ncommits(v, A), 0);
	assert_null(buddy_seen_reactions_to_mine(v, 1, &n));
	/* and the stream goes on */
	post_checkin(&fromA, T0 + 10, 1, "fine");
	assert_int_equal(buddy_seen_nentries(v, A), 1);
	assert_int_equal(buddy_seen_unreadable(v, A), 7);

	/* other buddies are unaffected; my own unknown posts are not the buddy's doing */
	assert_int_equal(buddy_seen_unreadable(v, B), 0);
	feed_body(&fromB, BUDDY_POST_CHECKIN, 1, (const char *[]){"e=1"});
	assert_int_equal(buddy_seen_unreadable(v, B), 1);
	feed_body(&toA, 9, 1, (const char *[]){"e=1"});
	feed_body(&toA, BUDDY_POST_CHECKIN, 1, (const char *[]){"e=1"});
	assert_int_equal(buddy_seen_unreadable(v, A), 7);
	assert_null(buddy_seen_shares_of(v, 1, &n));
	buddy_seen_free(v);
}

/* ---- buddies are separate ---- */

static void test_seen_two_buddies_independent(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream fromA = stream(v, false, A), fromB = stream(v, false, B);

	(void)state;
	post_commit(&fromA, T0, "run", "A runs", BUDDY_CADENCE_DAILY, 1, 0, true);
	post_commit(&fromB, T0, "run", "B runs", BUDDY_CADENCE_WEEKLY, 2, 0, true);
	post_commit(&fromB, T0, "yoga", "B stretches", BUDDY_CADENCE_DAILY, 1, 0, true);
	post_checkin(&fromA, T0 + 1, 1, "A's first");
	post_checkin(&fromB, T0 + 1, 1, "B's first");
	post_checkin(&fromB, T0 + 2, 2, "B's second");
	post_commit(&fromA, T0 + 3, "run", "A runs", BUDDY_CADENCE_DAILY, 1, 0, false);
	post_retract(&fromA, T0 + 4, 1);

	assert_int_equal(buddy_seen_ncommits(v, A), 1);
	assert_int_equal(buddy_seen_ncommits(v, B), 2);
	assert_false(buddy_seen_commit_at(v, A, 0)->on);
	assert_true(buddy_seen_commit_at(v, B, 0)->on);
	assert_string_equal(buddy_seen_commit_at(v, B, 0)->title, "B runs");
	assert_int_equal(buddy_seen_nentries(v, A), 1);
	assert_int_equal(buddy_seen_nentries(v, B), 2);
	assert_int_equal(buddy_seen_entry_find(v, A, 1)->retracted, T0 + 4);
	assert_string_equal(buddy_seen_entry_find(v, A, 1)->text, "");
	assert_int_equal(buddy_seen_entry_find(v, B, 1)->retracted, 0);
	assert_string_equal(buddy_seen_entry_find(v, B, 1)->text, "B's first");
	assert_null(buddy_seen_entry_find(v, A, 2));
	buddy_seen_free(v);
}

/* ---- many ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BIG 100000

/* 100,000 check-ins from A and 100,000 of mine shared to A (one cheered by A in ten), then
 * every lookup by e, in a scattered order: each is a hash probe, not a scan. Times are printed,
 * not asserted (they depend on the machine, and on valgrind). */
static void test_seen_large_feed(void **state)
{
	struct buddy_seen *v = buddy_seen_new();
	struct stream fromA = stream(v, false, A), toA = stream(v, true, A);
	msgpack_sbuffer posts, body;
	size_t *off, n, total = 0;
	double t;

	(void)state;
	/* the posts are built first, so that only seen is timed */
	off = calloc(3 * BIG + 1, sizeof(*off));
	assert_non_null(off);
	msgpack_sbuffer_init(&posts);
	for (size_t i = 0; i < BIG; i++) {
		struct buddy_post_entry pe = {.e = i + 1, .at = T0 + (int64_t)i, .status = 1};
		struct buddy_post_head h = {.seq = i + 1, .time = T0 + (int64_t)i, .type = 2};
		char text[32];

		strcpy(pe.commit, "run");
		pe.text_len = (size_t)snprintf(text, sizeof(text), "check-in %zu", i + 1);
		pe.text = text;
		msgpack_sbuffer_init(&body);
		assert_int_equal(buddy_post_write_entry(&body, &pe), 0);
		off[i] = posts.size;
		assert_int_equal(
			buddy_post_encode(&h, (const uint8_t *)body.data, body.size, &posts), 0);
		msgpack_sbuffer_destroy(&body);
	}
	off[BIG] = posts.size;

	t = now_s();
	for (size_t i = 0; i < BIG; i++) {
		fromA.seq++;
		buddy_seen_post(v, false, A, fromA.seq, T0, (const uint8_t *)posts.data + off[i],
				off[i + 1] - off[i]);
		toA.seq++; /* the same bytes as my post: my entry i + 1 went to A */
		buddy_seen_post(v, true, A, toA.seq, T0, (const uint8_t *)posts.data + off[i],
				off[i + 1] - off[i]);
	}
	t = now_s() - t;
	printf("    seen: %d incoming + %d outgoing check-ins in %.3f s\n", BIG, BIG, t);
	msgpack_sbuffer_destroy(&posts);
	free(off);

	t = now_s();
	for (uint64_t e = 1; e <= BIG; e += 10)
		post_react(&fromA, T0 + BIG, e, BUDDY_REACTION_CHEER, "");
	printf("    seen: %d reactions (built and fed) in %.3f s\n", BIG / 10, now_s() - t);
	assert_int_equal(buddy_seen_nentries(v, A), BIG);
	assert_int_equal(buddy_seen_unreadable(v, A), 0);

	t = now_s();
	for (uint64_t i = 0; i < BIG; i++) {
		uint64_t e = (i * 7919) % BIG + 1; /* 7919 is prime: every e once, scattered */
		const struct buddy_seen_entry *x = buddy_seen_entry_find(v, A, e);
		const struct buddy_seen_share *s = buddy_seen_shares_of(v, e, &n);

		assert_non_null(x);
		assert_true(x->e == e);
		assert_true(x->seq == e);
		assert_true(n == 1 && s[0].seq == e);
		buddy_seen_reactions_to_mine(v, e, &n);
		assert_true(n == (size_t)((e - 1) % 10 == 0));
		total += n;
	}
	t = now_s() - t;
	printf("    seen: %d x (entry_find + shares_of + reactions_to_mine) in %.3f s "
	       "(%.2f us each)\n",
	       BIG, t, t * 1e6 / BIG);
	assert_int_equal(total, BIG / 10);
	assert_null(buddy_seen_entry_find(v, A, BIG + 1));
	assert_string_equal(buddy_seen_entry_at(v, A, BIG - 1)->text, "check-in 100000");
	for (size_t i = 0; i < BIG; i += 997) {
		char want[32];
		snprintf(want, sizeof(want), "check-in %zu", i + 1);
		assert_string_equal(buddy_seen_entry_at(v, A, i)->text, want);
	}
	buddy_seen_free(v);
}

int main(void)
{
#define T(f) cmocka_unit_test(f)
	const struct CMUnitTest tests[] = {
		T(test_seen_empty),
		T(test_seen_commitments_announced_updated_unshared),
		T(test_seen_outgoing_commitment_not_recorded),
		T(test_seen_checkins_and_notes),
		T(test_seen_entry_posted_again_replaces),
		T(test_seen_entries_of_every_size),
		T(test_seen_retraction_wipes_content_keeps_fact),
		T(test_seen_reactions_to_my_entries),
		T(test_seen_my_reactions_to_theirs),
		T(test_seen_shares_of_one_entry_to_two_buddies),
		T(test_seen_unreadable_counted_and_ignored),
		T(test_seen_two_buddies_independent),
		T(test_seen_large_feed),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
