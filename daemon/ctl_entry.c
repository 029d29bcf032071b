/* Control methods for entries: check-ins, notes, reading the journal, importing
 * (proto/CONTROL.md). */
#include "buddy/clock.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/seen.h"
#include "buddy/streams.h"
#include "ctl_methods.h"

#include <stdio.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Where entry id went and what came back: {shared: [{buddy, delivered, retracted}],
 * reactions: [{buddy, kind, text, time}]} as two map entries. */
static void pack_entry_sync(msgpack_packer *pk, const struct buddy_journal *j, uint64_t id)
{
	const struct buddy_seen *v = buddy_journal_seen(j);
	const struct buddy_streams *st = buddy_journal_streams(j);
	size_t n = 0;
	const struct buddy_seen_share *sh = buddy_seen_shares_of(v, id, &n);
	const struct buddy_seen_reaction *re;

	buddy_mp_pack_cstr(pk, "shared");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_map(pk, 3);
		buddy_mp_pack_cstr(pk, "buddy");
		ctl_pack_buddy_name(pk, j, sh[i].pk);
		buddy_mp_pack_cstr(pk, "delivered");
		buddy_streams_delivered(st, sh[i].pk, NULL) >= sh[i].seq ? msgpack_pack_true(pk)
									 : msgpack_pack_false(pk);
		buddy_mp_pack_cstr(pk, "retracted");
		sh[i].retracted ? msgpack_pack_int64(pk, sh[i].retracted) : msgpack_pack_nil(pk);
	}
	re = buddy_seen_reactions_to_mine(v, id, &n);
	buddy_mp_pack_cstr(pk, "reactions");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		ctl_pack_reaction(pk, j, &re[i]);
}

void ctl_pack_entry(msgpack_packer *pk, const struct buddy_journal *j, const struct buddy_entry *e)
{
	const struct buddy_commitment *c =
		e->commit ? buddy_journal_commit_at(j, e->commit - 1) : NULL;
	size_t n = 9 + !!c + (e->kind == BUDDY_ENTRY_CHECKIN) + e->has_value + (e->unit[0] != 0);

	msgpack_pack_map(pk, n);
	pack_entry_sync(pk, j, e->id);
	buddy_mp_pack_cstr(pk, "id");
	msgpack_pack_uint64(pk, e->id);
	buddy_mp_pack_cstr(pk, "time");
	msgpack_pack_int64(pk, e->time);
	buddy_mp_pack_cstr(pk, "written");
	msgpack_pack_int64(pk, e->written);
	buddy_mp_pack_cstr(pk, "kind");
	buddy_mp_pack_cstr(pk, e->kind == BUDDY_ENTRY_CHECKIN ? "checkin" : "note");
	buddy_mp_pack_cstr(pk, "text");
	buddy_mp_pack_cstr(pk, e->text);
	buddy_mp_pack_cstr(pk, "tags");
	msgpack_pack_array(pk, e->ntags);
	for (unsigned i = 0; i < e->ntags; i++)
		buddy_mp_pack_cstr(pk, e->tags[i]);
	buddy_mp_pack_cstr(pk, "starred");
	e->starred ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
	ctl_pack_entry_tail(pk, c ? c->id : NULL, e->kind == BUDDY_ENTRY_CHECKIN ? e->status : 0,
			    e->has_value, e->value, e->unit);
}

void ctl_pack_entry_tail(msgpack_packer *pk, const char *commit, int status, bool has_value,
			 double value, const char *unit)
{
	if (commit && commit[0]) {
		buddy_mp_pack_cstr(pk, "commit");
		buddy_mp_pack_cstr(pk, commit);
	}
	if (status) {
		buddy_mp_pack_cstr(pk, "status");
		buddy_mp_pack_cstr(pk, buddy_checkin_status_name(status));
	}
	if (has_value) {
		buddy_mp_pack_cstr(pk, "value");
		msgpack_pack_double(pk, value);
	}
	if (unit[0]) {
		buddy_mp_pack_cstr(pk, "unit");
		buddy_mp_pack_cstr(pk, unit);
	}
}

void ctl_pack_reaction(msgpack_packer *pk, const struct buddy_journal *j,
		       const struct buddy_seen_reaction *re)
{
	msgpack_pack_map(pk, j ? 4 : 3);
	if (j) {
		buddy_mp_pack_cstr(pk, "buddy");
		ctl_pack_buddy_name(pk, j, re->pk);
	}
	buddy_mp_pack_cstr(pk, "kind");
	buddy_mp_pack_cstr(pk, re->kind == BUDDY_REACTION_CHEER ? "cheer" : "comment");
	buddy_mp_pack_cstr(pk, "text");
	buddy_mp_pack_cstr(pk, re->text);
	buddy_mp_pack_cstr(pk, "time");
	msgpack_pack_int64(pk, re->time);
}

/* The parts of an entry request that checkin, log and import share. Strings point into the
 * request (valid during the handler) except tags, which are copied. */
struct entry_req {
	struct buddy_entry_spec spec;
	char commit[BUDDY_ID_MAX + 1];
	char unit[BUDDY_UNIT_MAX + 1];
	char *tags[BUDDY_TAGS_MAX];
	size_t ntags;
	const char *err;
	struct ctl_targets targets; /* who gets a post of it: none unless shared */
};

static void entry_req_free(struct entry_req *q)
{
	for (size_t i = 0; i < q->ntags; i++)
		free(q->tags[i]);
	q->ntags = 0;
}

static int parse_entry(const msgpack_object *p, struct entry_req *q)
{
	const msgpack_object *o;

	if ((o = buddy_mp_get(p, "text")) && o->type != MSGPACK_OBJECT_NIL &&
	    buddy_mp_str(o, BUDDY_TEXT_MAX, &q->spec.text, &q->spec.text_len)) {
		q->err = "\"text\" must be a string of at most 65536 bytes";
		return BUDDY_E_INVALID;
	}
	if ((o = buddy_mp_get(p, "commit")) && o->type != MSGPACK_OBJECT_NIL) {
		if (buddy_mp_strcpy(o, BUDDY_ID_MAX, q->commit)) {
			q->err = "\"commit\" must be a commitment id";
			return BUDDY_E_INVALID;
		}
		q->spec.commit = q->commit;
	}
	if ((o = buddy_mp_get(p, "value")) && o->type != MSGPACK_OBJECT_NIL) {
		if (buddy_mp_double(o, &q->spec.value)) {
			q->err = "\"value\" must be a number";
			return BUDDY_E_INVALID;
		}
		q->spec.has_value = true;
	}
	if ((o = buddy_mp_get(p, "unit")) && o->type != MSGPACK_OBJECT_NIL) {
		if (buddy_mp_strcpy(o, BUDDY_UNIT_MAX, q->unit)) {
			q->err = "\"unit\" must be a string of 1 to 16 bytes";
			return BUDDY_E_INVALID;
		}
		q->spec.unit = q->unit;
	}
	if ((o = buddy_mp_get(p, "tags")) && o->type != MSGPACK_OBJECT_NIL) {
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > BUDDY_TAGS_MAX) {
			q->err = "\"tags\" must be an array of at most 16 strings";
			return BUDDY_E_INVALID;
		}
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (buddy_mp_strdup(&o->via.array.ptr[i], BUDDY_TAG_MAX, false,
					    &q->tags[q->ntags])) {
				q->err = "a tag must be a string of 1 to 32 bytes";
				return BUDDY_E_INVALID;
			}
			q->ntags++;
		}
		q->spec.tags = (const char *const *)q->tags;
		q->spec.ntags = q->ntags;
	}
	if ((o = buddy_mp_get(p, "starred")) && buddy_mp_bool(o, &q->spec.starred)) {
		q->err = "\"starred\" must be a boolean";
		return BUDDY_E_INVALID;
	}
	return 0;
}

/* The post body of the entry that spec and id make, as the buddy will see it (no star: that
 * is the author's own mark). */
static int entry_post_body(const struct buddy_entry_spec *spec, uint64_t id, int64_t now,
			   bool with_commit, msgpack_sbuffer *out)
{
	struct buddy_post_entry pe = {
		.e = id,
		.at = spec->time ? spec->time : now,
		.status = spec->kind == BUDDY_ENTRY_CHECKIN ? spec->status : 0,
		.text = spec->text ? spec->text : "",
		.text_len = spec->text ? spec->text_len : 0,
		.has_value = spec->has_value,
		.value = spec->value,
		.ntags = spec->ntags,
	};

	if (spec->commit && with_commit)
		snprintf(pe.commit, sizeof(pe.commit), "%s", spec->commit);
	if (spec->unit)
		snprintf(pe.unit, sizeof(pe.unit), "%s", spec->unit);
	for (size_t i = 0; i < spec->ntags; i++) {
		pe.tags[i] = spec->tags[i];
		pe.tag_lens[i] = strlen(spec->tags[i]);
	}
	return buddy_post_write_entry(out, &pe);
}

/* A note may go to buddies its commitment is not shared with: it names the commitment only
 * when every one of them knows it (a check-in's commitment is always shared with them). */
static bool commit_known_to_all(struct buddyd *d, const struct entry_req *q)
{
	const struct buddy_streams *st = buddy_journal_streams(d->journal);

	if (!q->spec.commit)
		return false;
	for (size_t i = 0; i < q->targets.n; i++)
		if (!buddy_streams_is_shared(st, q->spec.commit, q->targets.pk[i]))
			return false;
	return true;
}

static void make_and_append(struct buddyd *d, struct ctl_req *r, struct entry_req *q)
{
	const char *why = "";
	msgpack_sbuffer rec, body;
	int64_t now = buddy_clock_now();
	uint64_t id = 0;
	int rc;

	msgpack_sbuffer_init(&rec);
	msgpack_sbuffer_init(&body);
	rc = buddy_journal_make_entry(d->journal, &q->spec, now, &rec, &id, &why);
	if (rc == BUDDY_E_NOTFOUND)
		ctl_error(r, rc, "no commitment \"%s\" (see: buddy commit list)", q->commit);
	else if (rc == BUDDY_E_STATE)
		ctl_error(r, rc, "commitment \"%s\" is archived", q->commit);
	else if (rc)
		ctl_error(r, rc, "%s", why);
	else if (q->targets.n &&
		 entry_post_body(&q->spec, id, now, commit_known_to_all(d, q), &body))
		ctl_error(r, BUDDY_E_INVALID, "this entry cannot be shared as it is");
	else
		ctl_append_posts(d, r, &rec,
				 q->spec.kind == BUDDY_ENTRY_CHECKIN ? BUDDY_POST_CHECKIN
								     : BUDDY_POST_NOTE,
				 &body, &q->targets, CTL_REPLY_ENTRY, id);
	msgpack_sbuffer_destroy(&rec);
	msgpack_sbuffer_destroy(&body);
}

static void add_target(struct ctl_targets *t, const uint8_t pk[32])
{
	for (size_t i = 0; i < t->n; i++)
		if (memcmp(t->pk[i], pk, 32) == 0)
			return;
	if (t->n < BUDDY_SHARE_TARGETS_MAX)
		memcpy(t->pk[t->n++], pk, 32);
}

/* log's share_with (names) and share (the commitment's buddies). Answers r on error. */
static int note_targets(struct buddyd *d, struct ctl_req *r, const msgpack_object *p,
			struct entry_req *q)
{
	const msgpack_object *o = buddy_mp_get(p, "share_with");
	bool share = false;

	if (o && o->type != MSGPACK_OBJECT_NIL) {
		if (o->type != MSGPACK_OBJECT_ARRAY ||
		    o->via.array.size > BUDDY_SHARE_TARGETS_MAX) {
			ctl_error(r, BUDDY_E_INVALID,
				  "\"share_with\" must be a list of buddy names");
			return -1;
		}
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			struct buddy_buddy *b =
				ctl_buddy_named(d, r, &o->via.array.ptr[i], "share_with");
			if (!b)
				return -1;
			add_target(&q->targets, b->pk);
		}
	}
	if ((o = buddy_mp_get(p, "share")) && buddy_mp_bool(o, &share)) {
		ctl_error(r, BUDDY_E_INVALID, "\"share\" must be a boolean");
		return -1;
	}
	if (share) {
		struct ctl_targets t;
		if (!q->spec.commit) {
			ctl_error(r, BUDDY_E_INVALID,
				  "\"share\" posts to the buddies of a commitment: name it in "
				  "\"commit\"");
			return -1;
		}
		ctl_targets_of_commit(d, q->spec.commit, &t);
		for (size_t i = 0; i < t.n; i++)
			add_target(&q->targets, t.pk[i]);
	}
	return 0;
}

void ctl_checkin(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct entry_req q = {.spec.kind = BUDDY_ENTRY_CHECKIN};
	const msgpack_object *o;
	bool priv = false;
	const char *st;
	size_t stlen;

	if (parse_entry(p, &q)) {
		ctl_error(r, BUDDY_E_INVALID, "%s", q.err);
		goto out;
	}
	if (!q.spec.commit) {
		ctl_error(r, BUDDY_E_INVALID, "a check-in names its commitment in \"commit\"");
		goto out;
	}
	if (buddy_mp_str(buddy_mp_get(p, "status"), 16, &st, &stlen) ||
	    !(q.spec.status = (enum buddy_checkin_status)buddy_checkin_status_parse(st, stlen))) {
		ctl_error(r, BUDDY_E_INVALID, "\"status\" must be done, partial or skip");
		goto out;
	}
	if ((o = buddy_mp_get(p, "private")) && buddy_mp_bool(o, &priv)) {
		ctl_error(r, BUDDY_E_INVALID, "\"private\" must be a boolean");
		goto out;
	}
	/* a check-in on a shared commitment goes to its buddies unless it is private */
	if (!priv)
		ctl_targets_of_commit(d, q.spec.commit, &q.targets);
	make_and_append(d, r, &q);
out:
	entry_req_free(&q);
}

void ctl_log(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct entry_req q = {.spec.kind = BUDDY_ENTRY_NOTE};

	if (parse_entry(p, &q)) {
		ctl_error(r, BUDDY_E_INVALID, "%s", q.err);
		goto out;
	}
	if (q.spec.text_len == 0) {
		ctl_error(r, BUDDY_E_INVALID, "a note needs \"text\"");
		goto out;
	}
	/* a note is private unless it names who gets it */
	if (note_targets(d, r, p, &q))
		goto out;
	make_and_append(d, r, &q);
out:
	entry_req_free(&q);
}

/* ---- reading ---- */

struct query {
	char commit[BUDDY_ID_MAX + 1];
	size_t ci; /* commitment index + 1, 0: any */
	int64_t since, until;
	char *tags[BUDDY_TAGS_MAX];
	size_t ntags;
	char *grep;
	uint64_t limit, offset;
	bool tail;
};

static bool contains_ci(const char *hay, const char *needle, size_t nlen)
{
	for (; *hay; hay++) {
		size_t i = 0;
		while (i < nlen && hay[i] &&
		       tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == nlen)
			return true;
	}
	return false;
}

/* Every space-separated word of the query appears in the text, ignoring ASCII case. */
static bool grep_match(const char *text, const char *words)
{
	while (*words) {
		size_t n;
		while (*words == ' ')
			words++;
		n = strcspn(words, " ");
		if (n && !contains_ci(text, words, n))
			return false;
		words += n;
	}
	return true;
}

static bool matches(const struct query *q, const struct buddy_entry *e)
{
	if (q->ci && e->commit != q->ci)
		return false;
	if (e->time < q->since || e->time >= q->until)
		return false;
	for (size_t t = 0; t < q->ntags; t++) {
		bool found = false;
		for (unsigned k = 0; k < e->ntags && !found; k++)
			found = strcmp(e->tags[k], q->tags[t]) == 0;
		if (!found)
			return false;
	}
	return !q->grep || grep_match(e->text, q->grep);
}

static void query_free(struct query *q)
{
	for (size_t i = 0; i < q->ntags; i++)
		free(q->tags[i]);
	free(q->grep);
}

static const char *parse_query(struct buddyd *d, const msgpack_object *p, struct query *q)
{
	const msgpack_object *o;

	q->until = INT64_MAX;
	q->limit = BUDDY_PAGE_MAX;
	if ((o = buddy_mp_get(p, "commit"))) {
		if (buddy_mp_strcpy(o, BUDDY_ID_MAX, q->commit))
			return "\"commit\" must be a commitment id";
		if (!buddy_journal_commit_find(d->journal, q->commit, &q->ci))
			return NULL; /* answered as not found by the caller */
		q->ci++;
	}
	if ((o = buddy_mp_get(p, "since")) && buddy_mp_int(o, &q->since))
		return "\"since\" must be a time in Unix seconds";
	if ((o = buddy_mp_get(p, "until")) && buddy_mp_int(o, &q->until))
		return "\"until\" must be a time in Unix seconds";
	if ((o = buddy_mp_get(p, "tags"))) {
		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > BUDDY_TAGS_MAX)
			return "\"tags\" must be an array of at most 16 strings";
		for (uint32_t i = 0; i < o->via.array.size; i++) {
			if (buddy_mp_strdup(&o->via.array.ptr[i], BUDDY_TAG_MAX, false,
					    &q->tags[q->ntags]))
				return "a tag must be a string of 1 to 32 bytes";
			q->ntags++;
		}
	}
	if ((o = buddy_mp_get(p, "grep")) && buddy_mp_strdup(o, 1024, true, &q->grep))
		return "\"grep\" must be a string of at most 1024 bytes";
	if ((o = buddy_mp_get(p, "limit")) &&
	    (buddy_mp_uint(o, &q->limit) || q->limit == 0 || q->limit > BUDDY_PAGE_MAX))
		return "\"limit\" must be 1 to 1000";
	if ((o = buddy_mp_get(p, "offset")) && buddy_mp_uint(o, &q->offset))
		return "\"offset\" must be a count";
	if ((o = buddy_mp_get(p, "tail")) && buddy_mp_bool(o, &q->tail))
		return "\"tail\" must be a boolean";
	return "";
}

/* Result: {total, offset, entries}: the matching entries in time order, `limit` of them from
 * `offset` (or the last `limit` with tail). */
void ctl_journal(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	struct query q = {0};
	const char *err = parse_query(d, p, &q);
	size_t n = buddy_journal_nentries(d->journal), total = 0, first, count, seen = 0;
	const uint32_t *order = buddy_journal_time_order(d->journal);
	msgpack_packer *pk;

	if (!err) {
		ctl_error(r, BUDDY_E_NOTFOUND, "no commitment \"%s\"", q.commit);
		goto out;
	}
	if (*err) {
		ctl_error(r, BUDDY_E_INVALID, "%s", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		total += matches(&q, buddy_journal_entry_at(d->journal, order[i]));
	first = q.tail ? (total > q.limit ? total - q.limit : 0)
		       : (q.offset < total ? q.offset : total);
	count = total - first < q.limit ? total - first : q.limit;
	pk = ctl_result(r);
	msgpack_pack_map(pk, 3);
	buddy_mp_pack_cstr(pk, "total");
	msgpack_pack_uint64(pk, total);
	buddy_mp_pack_cstr(pk, "offset");
	msgpack_pack_uint64(pk, first);
	buddy_mp_pack_cstr(pk, "entries");
	msgpack_pack_array(pk, count);
	for (size_t i = 0; i < n && count; i++) {
		const struct buddy_entry *e = buddy_journal_entry_at(d->journal, order[i]);
		if (!matches(&q, e))
			continue;
		if (seen++ < first)
			continue;
		ctl_pack_entry(pk, d->journal, e);
		count--;
	}
	ctl_result_send(r);
out:
	query_free(&q);
}

/* ---- import ---- */

struct import_wait {
	struct ctl_req *r;
	size_t pending, imported, skipped;
	int status;
};

static void import_appended(void *arg, int status)
{
	struct import_wait *w = arg;
	msgpack_packer *pk;

	if (status && !w->status)
		w->status = status;
	if (--w->pending)
		return;
	if (w->status) {
		ctl_error(w->r, w->status, "could not save the import: %s",
			  buddy_strerror(w->status));
	} else {
		pk = ctl_result(w->r);
		msgpack_pack_map(pk, 2);
		buddy_mp_pack_cstr(pk, "imported");
		msgpack_pack_uint64(pk, w->imported);
		buddy_mp_pack_cstr(pk, "skipped");
		msgpack_pack_uint64(pk, w->skipped);
		ctl_result_send(w->r);
	}
	free(w);
}

static int parse_import_entry(const msgpack_object *o, struct entry_req *q)
{
	q->spec.kind = BUDDY_ENTRY_NOTE;
	q->spec.imported = true;
	if (o->type != MSGPACK_OBJECT_MAP) {
		q->err = "not a map";
		return BUDDY_E_INVALID;
	}
	if (buddy_mp_int(buddy_mp_get(o, "time"), &q->spec.time) || q->spec.time <= 0) {
		q->err = "\"time\" must be a positive time in Unix seconds";
		return BUDDY_E_INVALID;
	}
	return parse_entry(o, q);
}

/* Parses one import entry and builds its record into rec; *why explains a refusal. */
static int make_import_record(struct buddyd *d, const msgpack_object *o, int64_t now,
			      msgpack_sbuffer *rec, const char **why)
{
	struct entry_req q = {0};
	uint64_t id;
	int rc = parse_import_entry(o, &q);

	if (rc)
		*why = q.err;
	else
		rc = buddy_journal_make_entry(d->journal, &q.spec, now, rec, &id, why);
	entry_req_free(&q);
	return rc;
}

/* All entries are checked before any is written: a bad file imports nothing. Entries imported
 * before (same time and text) are skipped, so running an import twice is harmless. */
void ctl_import(struct buddyd *d, struct ctl_req *r, const msgpack_object *p)
{
	const msgpack_object *arr = buddy_mp_get(p, "entries"), *o;
	struct buddy_appender *ap;
	uint64_t first = 1;
	struct import_wait *w;
	int64_t now = buddy_clock_now();
	msgpack_sbuffer rec;
	const char *why = "";
	int rc;

	if (!arr || arr->type != MSGPACK_OBJECT_ARRAY ||
	    arr->via.array.size > BUDDY_IMPORT_BATCH_MAX) {
		ctl_error(r, BUDDY_E_INVALID, "\"entries\" must be an array of at most %d entries",
			  BUDDY_IMPORT_BATCH_MAX);
		return;
	}
	if ((o = buddy_mp_get(p, "first")) && (buddy_mp_uint(o, &first) || first > UINT32_MAX)) {
		ctl_error(r, BUDDY_E_INVALID, "\"first\" must be the number of the first entry");
		return;
	}
	msgpack_sbuffer_init(&rec);
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		rc = make_import_record(d, &arr->via.array.ptr[i], now, &rec, &why);
		msgpack_sbuffer_clear(&rec);
		if (rc && rc != BUDDY_E_EXISTS) {
			ctl_error(r, rc,
				  "entry %llu: %s; none of this request's entries was imported",
				  (unsigned long long)first + i, why);
			msgpack_sbuffer_destroy(&rec);
			return;
		}
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		msgpack_sbuffer_destroy(&rec);
		ctl_error(r, BUDDY_E_NOMEM, "out of memory");
		return;
	}
	w->r = r;
	w->pending = 1; /* held until the loop below is done */
	/* one batch: a write error stores none of the request, as for any other request */
	ap = d->appender;
	buddy_appender_hold(ap);
	for (uint32_t i = 0; i < arr->via.array.size && !w->status; i++) {
		rc = make_import_record(d, &arr->via.array.ptr[i], now, &rec, &why);
		if (rc == BUDDY_E_EXISTS) {
			w->skipped++;
		} else if (rc) {
			w->status = rc;
		} else {
			w->pending++;
			rc = buddyd_append(d, (const uint8_t *)rec.data, rec.size, import_appended,
					   w);
			if (rc) {
				w->pending--;
				w->status = rc;
			} else {
				w->imported++;
			}
		}
		msgpack_sbuffer_clear(&rec);
	}
	msgpack_sbuffer_destroy(&rec);
	/* all or nothing: what this request staged must not be written after a failure */
	if (w->status && d->appender == ap)
		buddy_appender_fail(ap, w->status);
	buddy_appender_release(ap);
	import_appended(w, 0);
}
