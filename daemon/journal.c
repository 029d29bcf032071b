/* The commitment journal in memory, and its record format (see buddy/journal.h).
 *
 * Record: [type, written, body] with type 1 commit.add, 2 commit.archive, 3 entry; proto/STORE.md
 * lists every body field. Makers and apply check the same rules, so a record that a maker would
 * refuse is also refused at replay (as corruption: it authenticated but cannot be ours). */
#include "buddy/journal.h"
#include "buddy/buddies.h"
#include "buddy/error.h"
#include "buddy/events.h"
#include "buddy/mp.h"
#include "buddy/pauses.h"
#include "buddy/seen.h"
#include "buddy/streams.h"
#include "buddy/text.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { REC_COMMIT_ADD = 1, REC_COMMIT_ARCHIVE = 2, REC_ENTRY = 3 };

struct buddy_journal {
	struct buddy_commitment *commits;
	size_t ncommits, capcommits;
	struct buddy_entry *entries;
	size_t nentries, capentries;
	uint32_t *order;    /* entry indexes by (time, id) */
	uint32_t *imported; /* indexes of imported entries, for dedupe */
	size_t nimported, capimported;
	uint64_t nrecords;
	/* new entry ids go above this: the highest id a buddy holds of mine after a restore
	 * (type 36), which my restored journal may not have (PROTOCOL.md 15.11) */
	uint64_t id_floor;
	struct buddy_buddies *buddies; /* records 20..26 (buddies.c) */
	struct buddy_streams *streams; /* records 30..35 (streams.c) */
	struct buddy_seen *seen;       /* what the streams' posts say (seen.c) */
	struct buddy_events *events;   /* records 40, 41 and what other records mean (events.c) */
	struct buddy_pauses *pauses;   /* record 42 and buddies' pause posts (pauses.c) */
};

static const char *const status_names[] = {NULL, "done", "partial", "skip"};
static const char *const kind_names[] = {NULL, "daily", "weekly", "monthly", "by"};

static int name_parse(const char *const *names, int n, const char *s, size_t len)
{
	for (int i = 1; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], s, len) == 0)
			return i;
	return 0;
}

const char *buddy_checkin_status_name(int status)
{
	return status >= 1 && status <= 3 ? status_names[status] : "unknown";
}

int buddy_checkin_status_parse(const char *s, size_t len)
{
	return name_parse(status_names, 4, s, len);
}

const char *buddy_cadence_kind_name(int kind)
{
	return kind >= 1 && kind <= 4 ? kind_names[kind] : "unknown";
}

int buddy_cadence_kind_parse(const char *s, size_t len)
{
	return name_parse(kind_names, 5, s, len);
}

/* Every post that joins a stream: what it says (seen.c), the event it is (events.c), and a
 * buddy's pause (pauses.c). */
static void post_added(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq,
		       int64_t written, const uint8_t *post, size_t len)
{
	struct buddy_journal *j = arg;

	/* what the post says first: the event it raises (live, to watchers and hooks) looks it
	 * up in seen and pauses */
	buddy_seen_post(j->seen, outgoing, pk, seq, written, post, len);
	buddy_pauses_post(j->pauses, outgoing, pk, seq, written, post, len);
	buddy_events_post(j->events, outgoing, pk, seq, written, post, len);
}

struct buddy_journal *buddy_journal_new(void)
{
	struct buddy_journal *j = calloc(1, sizeof(struct buddy_journal));

	if (!j)
		return NULL;
	j->buddies = buddy_buddies_new();
	j->seen = buddy_seen_new();
	j->events = buddy_events_new();
	j->pauses = buddy_pauses_new();
	j->streams = buddy_streams_new(post_added, j);
	if (!j->buddies || !j->seen || !j->events || !j->pauses || !j->streams) {
		buddy_journal_free(j);
		return NULL;
	}
	return j;
}

struct buddy_buddies *buddy_journal_buddies(const struct buddy_journal *j)
{
	return j->buddies;
}

struct buddy_streams *buddy_journal_streams(const struct buddy_journal *j)
{
	return j->streams;
}

struct buddy_seen *buddy_journal_seen(const struct buddy_journal *j)
{
	return j->seen;
}

struct buddy_events *buddy_journal_events(const struct buddy_journal *j)
{
	return j->events;
}

struct buddy_pauses *buddy_journal_pauses(const struct buddy_journal *j)
{
	return j->pauses;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void entry_clear(struct buddy_entry *e)
{
	wipe_free(e->text);
	for (unsigned i = 0; i < e->ntags; i++)
		wipe_free(e->tags[i]);
	free(e->tags);
	sodium_memzero(e, sizeof(*e));
}

void buddy_journal_free(struct buddy_journal *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->ncommits; i++) {
		wipe_free(j->commits[i].title);
		sodium_memzero(&j->commits[i], sizeof(j->commits[i]));
	}
	for (size_t i = 0; i < j->nentries; i++)
		entry_clear(&j->entries[i]);
	free(j->commits);
	free(j->entries);
	free(j->order);
	free(j->imported);
	buddy_buddies_free(j->buddies);
	buddy_streams_free(j->streams);
	buddy_seen_free(j->seen);
	buddy_events_free(j->events);
	buddy_pauses_free(j->pauses);
	free(j);
}

size_t buddy_journal_ncommits(const struct buddy_journal *j)
{
	return j->ncommits;
}

const struct buddy_commitment *buddy_journal_commit_at(const struct buddy_journal *j, size_t i)
{
	return i < j->ncommits ? &j->commits[i] : NULL;
}

const struct buddy_commitment *buddy_journal_commit_find(const struct buddy_journal *j,
							 const char *id, size_t *index)
{
	for (size_t i = 0; i < j->ncommits; i++) {
		if (strcmp(j->commits[i].id, id) == 0) {
			if (index)
				*index = i;
			return &j->commits[i];
		}
	}
	return NULL;
}

size_t buddy_journal_nentries(const struct buddy_journal *j)
{
	return j->nentries;
}

const struct buddy_entry *buddy_journal_entry_at(const struct buddy_journal *j, size_t i)
{
	return i < j->nentries ? &j->entries[i] : NULL;
}

const uint32_t *buddy_journal_time_order(const struct buddy_journal *j)
{
	return j->order;
}

uint64_t buddy_journal_nrecords(const struct buddy_journal *j)
{
	return j->nrecords;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return BUDDY_E_NOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* ---- checks shared by the makers and apply ---- */

static uint64_t import_key(int64_t time, const char *text, size_t len)
{
	uint8_t t[8], h[8];
	crypto_generichash_state st;
	uint64_t k = 0;

	for (int i = 0; i < 8; i++)
		t[i] = (uint8_t)((uint64_t)time >> (56 - 8 * i));
	crypto_generichash_init(&st, (const uint8_t *)"buddy-import-v1", 15, sizeof(h));
	crypto_generichash_update(&st, t, sizeof(t));
	crypto_generichash_update(&st, (const uint8_t *)text, len);
	crypto_generichash_final(&st, h, sizeof(h));
	for (int i = 0; i < 8; i++)
		k = (k << 8) | h[i];
	return k ? k : 1; /* 0 means "not imported" */
}

static bool imported_has(const struct buddy_journal *j, uint64_t key)
{
	for (size_t i = 0; i < j->nimported; i++)
		if (j->entries[j->imported[i]].import_key == key)
			return true;
	return false;
}

static bool unit_valid(const char *u, size_t len)
{
	if (len > BUDDY_UNIT_MAX || !buddy_text_valid(u, len, false))
		return false;
	for (size_t i = 0; i < len; i++)
		if (u[i] == ' ')
			return false;
	return true;
}

/* live: a new change. Replay does not re-check the time zone against today's tz database: a
 * zone that was valid when the record was written must not make the journal unreadable. */
static int check_commit(const struct buddy_journal *j, const struct buddy_commit_spec *s, bool live,
			const char **why)
{
	size_t tlen = s->title ? strlen(s->title) : 0;

	if (!s->id || !buddy_text_slug_valid(s->id, strlen(s->id))) {
		*why = "a commitment id is 1 to 32 of a-z, 0-9, '-' and '_', starting with a "
		       "letter "
		       "or digit";
		return BUDDY_E_INVALID;
	}
	if (tlen == 0 || tlen > BUDDY_TITLE_MAX || !buddy_text_valid(s->title, tlen, false)) {
		*why = "a title is 1 to 200 bytes of text on one line";
		return BUDDY_E_INVALID;
	}
	if (buddy_cadence_valid(&s->cadence)) {
		*why = "the cadence is not valid";
		return BUDDY_E_INVALID;
	}
	if (!s->tz || (live && buddy_tz_valid(s->tz))) {
		*why = "unknown time zone";
		return BUDDY_E_INVALID;
	}
	if (buddy_journal_commit_find(j, s->id, NULL)) {
		*why = "a commitment with that id exists";
		return BUDDY_E_EXISTS;
	}
	return 0;
}

static int check_entry(const struct buddy_journal *j, const struct buddy_entry_spec *s,
		       const char **why)
{
	const struct buddy_commitment *c = NULL;

	if (s->kind != BUDDY_ENTRY_CHECKIN && s->kind != BUDDY_ENTRY_NOTE) {
		*why = "unknown entry kind";
		return BUDDY_E_INVALID;
	}
	if (s->commit) {
		c = buddy_journal_commit_find(j, s->commit, NULL);
		if (!c) {
			*why = "no commitment with that id";
			return BUDDY_E_NOTFOUND;
		}
	}
	if (s->kind == BUDDY_ENTRY_CHECKIN) {
		if (!c) {
			*why = "a check-in names a commitment";
			return BUDDY_E_INVALID;
		}
		if (s->status < BUDDY_CHECKIN_DONE || s->status > BUDDY_CHECKIN_SKIP) {
			*why = "a check-in is done, partial or skip";
			return BUDDY_E_INVALID;
		}
	} else if (s->text_len == 0) {
		*why = "a note needs text";
		return BUDDY_E_INVALID;
	} else if (s->status) {
		*why = "a note has no check-in status";
		return BUDDY_E_INVALID;
	}
	/* a live change must not land on an archived commitment; an import may (history) */
	if (c && c->archived && !s->imported) {
		*why = "that commitment is archived";
		return BUDDY_E_STATE;
	}
	if (s->text_len > BUDDY_TEXT_MAX) {
		*why = "entry text is at most 64 KiB";
		return BUDDY_E_INVALID;
	}
	if (s->text_len && !buddy_text_valid(s->text, s->text_len, true)) {
		*why = "entry text must be UTF-8 without control characters (newline and tab are "
		       "fine)";
		return BUDDY_E_INVALID;
	}
	if (s->has_value && !isfinite(s->value)) {
		*why = "a value is a finite number";
		return BUDDY_E_INVALID;
	}
	if (s->unit && *s->unit && (!s->has_value || !unit_valid(s->unit, strlen(s->unit)))) {
		*why = "a unit is up to 16 characters without spaces, after a value";
		return BUDDY_E_INVALID;
	}
	if (s->ntags > BUDDY_TAGS_MAX) {
		*why = "at most 16 tags";
		return BUDDY_E_INVALID;
	}
	for (size_t i = 0; i < s->ntags; i++) {
		if (!buddy_text_tag_valid(s->tags[i], strlen(s->tags[i]))) {
			*why = "a tag is 1 to 32 bytes without spaces or commas";
			return BUDDY_E_INVALID;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(s->tags[i], s->tags[k]) == 0) {
				*why = "a tag is given twice";
				return BUDDY_E_INVALID;
			}
		}
	}
	if (s->time < 0) {
		*why = "the entry time is before 1970";
		return BUDDY_E_INVALID;
	}
	return 0;
}

/* ---- encoding ---- */

#define PK_OK(x)                                                                                   \
	do {                                                                                       \
		if (x)                                                                             \
			return BUDDY_E_NOMEM;                                                      \
	} while (0)

static int pack_head(msgpack_packer *pk, int type, int64_t now, size_t nfields)
{
	PK_OK(msgpack_pack_array(pk, 3));
	PK_OK(msgpack_pack_uint8(pk, (uint8_t)type));
	PK_OK(msgpack_pack_int64(pk, now));
	PK_OK(msgpack_pack_map(pk, nfields));
	return 0;
}

static int pack_kv_str(msgpack_packer *pk, const char *k, const char *v, size_t vlen)
{
	PK_OK(buddy_mp_pack_cstr(pk, k));
	return buddy_mp_pack_strn(pk, v, vlen);
}

int buddy_journal_make_commit_add(const struct buddy_journal *j, const struct buddy_commit_spec *s,
				  int64_t now, msgpack_sbuffer *out, const char **why)
{
	msgpack_packer pk;
	const struct buddy_cadence *c = &s->cadence;
	int rc = check_commit(j, s, true, why);

	if (rc)
		return rc;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	PK_OK(pack_head(&pk, REC_COMMIT_ADD, now, 4));
	PK_OK(pack_kv_str(&pk, "id", s->id, strlen(s->id)));
	PK_OK(pack_kv_str(&pk, "title", s->title, strlen(s->title)));
	PK_OK(buddy_mp_pack_cstr(&pk, "cad"));
	PK_OK(msgpack_pack_map(&pk, c->kind == BUDDY_CADENCE_BY ? 3 : 2));
	PK_OK(buddy_mp_pack_cstr(&pk, "k"));
	PK_OK(buddy_mp_pack_cstr(&pk, buddy_cadence_kind_name(c->kind)));
	PK_OK(buddy_mp_pack_cstr(&pk, "n"));
	PK_OK(msgpack_pack_uint32(&pk, c->n));
	if (c->kind == BUDDY_CADENCE_BY) {
		char date[16];
		snprintf(date, sizeof(date), "%04d-%02d-%02d", c->by_year, c->by_month, c->by_day);
		PK_OK(pack_kv_str(&pk, "by", date, strlen(date)));
	}
	PK_OK(pack_kv_str(&pk, "tz", s->tz, strlen(s->tz)));
	return 0;
}

int buddy_journal_make_commit_archive(const struct buddy_journal *j, const char *id, int64_t now,
				      msgpack_sbuffer *out, const char **why)
{
	msgpack_packer pk;
	const struct buddy_commitment *c = buddy_journal_commit_find(j, id, NULL);

	if (!c) {
		*why = "no commitment with that id";
		return BUDDY_E_NOTFOUND;
	}
	if (c->archived) {
		*why = "that commitment is archived already";
		return BUDDY_E_STATE;
	}
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	PK_OK(pack_head(&pk, REC_COMMIT_ARCHIVE, now, 1));
	return pack_kv_str(&pk, "id", id, strlen(id));
}

int buddy_journal_make_entry(const struct buddy_journal *j, const struct buddy_entry_spec *s,
			     int64_t now, msgpack_sbuffer *out, uint64_t *id, const char **why)
{
	msgpack_packer pk;
	int64_t time = s->time ? s->time : now;
	uint64_t ikey = 0;
	bool has_unit = s->unit && *s->unit;
	size_t n = 4;
	int rc = check_entry(j, s, why);

	if (rc)
		return rc;
	if (s->imported) {
		ikey = import_key(time, s->text ? s->text : "", s->text_len);
		if (imported_has(j, ikey)) {
			*why = "this entry was imported before";
			return BUDDY_E_EXISTS;
		}
	}
	*id = j->nentries ? j->entries[j->nentries - 1].id + 1 : 1;
	if (*id <= j->id_floor)
		*id = j->id_floor + 1;
	n += !!s->commit + (s->kind == BUDDY_ENTRY_CHECKIN) + s->has_value + has_unit +
	     (s->ntags > 0) + s->starred + (ikey != 0);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	PK_OK(pack_head(&pk, REC_ENTRY, now, n));
	PK_OK(buddy_mp_pack_cstr(&pk, "n"));
	PK_OK(msgpack_pack_uint64(&pk, *id));
	PK_OK(buddy_mp_pack_cstr(&pk, "at"));
	PK_OK(msgpack_pack_int64(&pk, time));
	PK_OK(pack_kv_str(&pk, "k", s->kind == BUDDY_ENTRY_CHECKIN ? "checkin" : "note",
			  s->kind == BUDDY_ENTRY_CHECKIN ? 7 : 4));
	PK_OK(pack_kv_str(&pk, "t", s->text ? s->text : "", s->text_len));
	if (s->commit)
		PK_OK(pack_kv_str(&pk, "c", s->commit, strlen(s->commit)));
	if (s->kind == BUDDY_ENTRY_CHECKIN)
		PK_OK(pack_kv_str(&pk, "s", buddy_checkin_status_name(s->status),
				  strlen(buddy_checkin_status_name(s->status))));
	if (s->has_value) {
		PK_OK(buddy_mp_pack_cstr(&pk, "v"));
		PK_OK(msgpack_pack_double(&pk, s->value));
	}
	if (has_unit)
		PK_OK(pack_kv_str(&pk, "u", s->unit, strlen(s->unit)));
	if (s->ntags) {
		PK_OK(buddy_mp_pack_cstr(&pk, "g"));
		PK_OK(msgpack_pack_array(&pk, s->ntags));
		for (size_t i = 0; i < s->ntags; i++)
			PK_OK(buddy_mp_pack_cstr(&pk, s->tags[i]));
	}
	if (s->starred) {
		PK_OK(buddy_mp_pack_cstr(&pk, "st"));
		PK_OK(msgpack_pack_true(&pk));
	}
	if (ikey) {
		PK_OK(buddy_mp_pack_cstr(&pk, "ik"));
		PK_OK(msgpack_pack_uint64(&pk, ikey));
	}
	return 0;
}

/* ---- apply ---- */

/* Depth 4: a posted record's [pk, post] pairs; objects: a received batch of up to 1024 posts. */
static const struct buddy_mp_limits record_limits = {
	.max_bytes = BUDDY_STORE_RECORD_MAX, .max_depth = 4, .max_objects = 4096};

static int apply_commit_add(struct buddy_journal *j, const msgpack_object *b, int64_t written)
{
	struct buddy_commit_spec s = {0};
	char id[BUDDY_ID_MAX + 1], tz[BUDDY_TZ_MAX + 1], date[16];
	const msgpack_object *cad = buddy_mp_get(b, "cad");
	struct buddy_commitment *c;
	const char *why, *kind;
	size_t klen;
	uint64_t n;
	char *title = NULL;

	if (buddy_mp_strcpy(buddy_mp_get(b, "id"), BUDDY_ID_MAX, id) ||
	    buddy_mp_strcpy(buddy_mp_get(b, "tz"), BUDDY_TZ_MAX, tz) ||
	    buddy_mp_str(buddy_mp_get(cad, "k"), 16, &kind, &klen) ||
	    buddy_mp_uint(buddy_mp_get(cad, "n"), &n) || n > BUDDY_CADENCE_N_MAX)
		return BUDDY_E_CORRUPT;
	s.id = id;
	s.tz = tz;
	s.cadence.kind = (enum buddy_cadence_kind)buddy_cadence_kind_parse(kind, klen);
	s.cadence.n = (uint32_t)n;
	if (s.cadence.kind == BUDDY_CADENCE_BY &&
	    (buddy_mp_strcpy(buddy_mp_get(cad, "by"), 10, date) ||
	     buddy_date_parse(date, &s.cadence.by_year, &s.cadence.by_month, &s.cadence.by_day)))
		return BUDDY_E_CORRUPT;
	if (buddy_mp_strdup(buddy_mp_get(b, "title"), BUDDY_TITLE_MAX, false, &title))
		return BUDDY_E_CORRUPT;
	s.title = title;
	if (check_commit(j, &s, false, &why) ||
	    grow((void **)&j->commits, &j->capcommits, j->ncommits + 1, sizeof(*j->commits))) {
		wipe_free(title);
		return BUDDY_E_CORRUPT;
	}
	c = &j->commits[j->ncommits++];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, sizeof(id));
	memcpy(c->tz, tz, sizeof(tz));
	c->title = title;
	c->cadence = s.cadence;
	c->created = written;
	return 0;
}

static int apply_commit_archive(struct buddy_journal *j, const msgpack_object *b, int64_t written)
{
	char id[BUDDY_ID_MAX + 1];
	size_t i;

	if (buddy_mp_strcpy(buddy_mp_get(b, "id"), BUDDY_ID_MAX, id) ||
	    !buddy_journal_commit_find(j, id, &i) || j->commits[i].archived)
		return BUDDY_E_CORRUPT;
	j->commits[i].archived = written > 0 ? written : 1;
	return 0;
}

static void order_insert(struct buddy_journal *j, uint32_t idx)
{
	const struct buddy_entry *e = &j->entries[idx];
	size_t lo = 0, hi = idx; /* order holds idx entries so far */

	/* entries mostly arrive in time order: check the end first */
	if (idx == 0 || j->entries[j->order[idx - 1]].time <= e->time) {
		j->order[idx] = idx;
		return;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (j->entries[j->order[mid]].time <= e->time)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&j->order[lo + 1], &j->order[lo], (idx - lo) * sizeof(*j->order));
	j->order[lo] = idx;
}

static int apply_entry(struct buddy_journal *j, const msgpack_object *b, int64_t written)
{
	struct buddy_entry_spec s = {0};
	const msgpack_object *g = buddy_mp_get(b, "g"), *o;
	char commit[BUDDY_ID_MAX + 1], unit[BUDDY_UNIT_MAX + 1] = "";
	char *tags[BUDDY_TAGS_MAX] = {0}, *text = NULL;
	const char *kind, *st, *why;
	size_t klen, stlen, ntags = 0, ci = 0;
	struct buddy_entry *e;
	uint64_t id, ikey = 0;
	bool starred = false;
	int rc = BUDDY_E_CORRUPT;

	if (buddy_mp_uint(buddy_mp_get(b, "n"), &id) ||
	    (j->nentries && id <= j->entries[j->nentries - 1].id) || id == 0 ||
	    buddy_mp_int(buddy_mp_get(b, "at"), &s.time) ||
	    buddy_mp_str(buddy_mp_get(b, "k"), 16, &kind, &klen) ||
	    buddy_mp_strdup(buddy_mp_get(b, "t"), BUDDY_TEXT_MAX, true, &text))
		goto out;
	s.kind = klen == 7 && !memcmp(kind, "checkin", 7) ? BUDDY_ENTRY_CHECKIN
		 : klen == 4 && !memcmp(kind, "note", 4)  ? BUDDY_ENTRY_NOTE
							  : 0;
	s.text = text;
	s.text_len = strlen(text);
	if ((o = buddy_mp_get(b, "c"))) {
		if (buddy_mp_strcpy(o, BUDDY_ID_MAX, commit))
			goto out;
		s.commit = commit;
	}
	if ((o = buddy_mp_get(b, "s"))) {
		if (buddy_mp_str(o, 16, &st, &stlen))
			goto out;
		s.status = (enum buddy_checkin_status)buddy_checkin_status_parse(st, stlen);
	}
	if ((o = buddy_mp_get(b, "v"))) {
		if (buddy_mp_double(o, &s.value))
			goto out;
		s.has_value = true;
	}
	if ((o = buddy_mp_get(b, "u")) && buddy_mp_strcpy(o, BUDDY_UNIT_MAX, unit))
		goto out;
	s.unit = unit;
	if (g) {
		if (g->type != MSGPACK_OBJECT_ARRAY || g->via.array.size > BUDDY_TAGS_MAX)
			goto out;
		for (; ntags < g->via.array.size; ntags++)
			if (buddy_mp_strdup(&g->via.array.ptr[ntags], BUDDY_TAG_MAX, false,
					    &tags[ntags]))
				goto out;
	}
	s.tags = (const char *const *)tags;
	s.ntags = ntags;
	if ((o = buddy_mp_get(b, "st")) && buddy_mp_bool(o, &starred))
		goto out;
	if ((o = buddy_mp_get(b, "ik")) && (buddy_mp_uint(o, &ikey) || ikey == 0))
		goto out;
	s.starred = starred;
	s.imported = ikey != 0;
	if (check_entry(j, &s, &why))
		goto out;
	if (grow((void **)&j->entries, &j->capentries, j->nentries + 1, sizeof(*j->entries))) {
		rc = BUDDY_E_NOMEM;
		goto out;
	}
	/* order has the same capacity as entries */
	if (j->capentries > 0) {
		uint32_t *no = realloc(j->order, j->capentries * sizeof(*j->order));
		if (!no) {
			rc = BUDDY_E_NOMEM;
			goto out;
		}
		j->order = no;
	}
	if (ikey &&
	    grow((void **)&j->imported, &j->capimported, j->nimported + 1, sizeof(*j->imported))) {
		rc = BUDDY_E_NOMEM;
		goto out;
	}
	if (s.commit)
		buddy_journal_commit_find(j, s.commit, &ci);
	e = &j->entries[j->nentries];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->time = s.time;
	e->written = written;
	e->import_key = ikey;
	e->kind = (uint8_t)s.kind;
	e->status = (uint8_t)s.status;
	e->starred = starred;
	e->has_value = s.has_value;
	e->value = s.value;
	e->commit = s.commit ? (uint32_t)ci + 1 : 0;
	memcpy(e->unit, unit, sizeof(unit));
	e->text = text;
	text = NULL;
	if (ntags) {
		e->tags = malloc(ntags * sizeof(char *));
		if (!e->tags) {
			text = e->text;
			rc = BUDDY_E_NOMEM;
			goto out;
		}
		memcpy(e->tags, tags, ntags * sizeof(char *));
		e->ntags = (uint8_t)ntags;
		ntags = 0;
	}
	if (e->kind == BUDDY_ENTRY_CHECKIN)
		j->commits[ci].checkins++;
	if (ikey)
		j->imported[j->nimported++] = (uint32_t)j->nentries;
	order_insert(j, (uint32_t)j->nentries);
	j->nentries++;
	rc = 0;
out:
	wipe_free(text);
	for (size_t i = 0; i < ntags; i++)
		wipe_free(tags[i]);
	return rc;
}

static int apply_record(struct buddy_journal *j, const uint8_t *rec, size_t len, bool inner);

/* Type 30: a change and the posts it made, all or nothing. The inner record is applied between
 * checking the posts and adding them, so a post about a new entry follows the entry.
 * Recursion: one level at most, apply_record refuses a type 30 inside another.
 * NOLINTNEXTLINE(misc-no-recursion) */
static int apply_posted(struct buddy_journal *j, const msgpack_object *b, int64_t written)
{
	const msgpack_object *r = buddy_mp_get(b, "r"), *o = buddy_mp_get(b, "o");
	const uint8_t *inner;
	size_t len;
	int rc;

	if (!o || buddy_streams_check_posted(j->streams, j->buddies, o))
		return BUDDY_E_CORRUPT;
	if (r) {
		if (buddy_mp_bin(r, BUDDY_STORE_RECORD_MAX, &inner, &len))
			return BUDDY_E_CORRUPT;
		rc = apply_record(j, inner, len, true);
		if (rc)
			return rc;
	}
	/* checked above: this only fails for memory, and then the journal is not usable */
	return buddy_streams_add_posted(j->streams, o, written);
}

static void raise_floor(struct buddy_journal *j, uint64_t floor)
{
	if (floor > j->id_floor)
		j->id_floor = floor;
}

/* Type 36: the stream's part is streams.c's; e raises the floor of new entry ids. */
static int apply_rebased(struct buddy_journal *j, const msgpack_object *b, int64_t written)
{
	uint64_t e;
	int rc;

	if (buddy_mp_uint(buddy_mp_get(b, "e"), &e) || e > BUDDY_ENTRY_ID_MAX)
		return BUDDY_E_CORRUPT;
	rc = buddy_streams_apply(j->streams, j->buddies, BUDDY_REC_REBASED, written, b);
	if (rc == 0)
		raise_floor(j, e);
	return rc;
}

/* A pairing that ends shares nothing more; the same key paired again starts both streams
 * over (proto/STORE.md), so nothing meant for the old pairing reaches the new one. */
static int apply_pairing(struct buddy_journal *j, uint64_t type, int64_t written,
			 const msgpack_object *b)
{
	const uint8_t *pk = NULL;
	struct buddy_buddy *old;
	bool again;
	size_t len;
	int rc;

	if (buddy_mp_bin(buddy_mp_get(b, "pk"), 32, &pk, &len) || len != 32)
		return BUDDY_E_CORRUPT;
	old = buddy_buddies_by_pk(j->buddies, pk);
	again = type == BUDDY_REC_BUDDY_ADD && old && old->revoked;
	rc = buddy_buddies_apply(j->buddies, type, written, b);
	if (rc == 0 && (again || type == BUDDY_REC_BUDDY_REVOKE))
		buddy_streams_forget(j->streams, pk, again);
	return rc;
}

int buddy_journal_apply(struct buddy_journal *j, const uint8_t *rec, size_t len)
{
	return apply_record(j, rec, len, false);
}

/* NOLINTNEXTLINE(misc-no-recursion): through apply_posted, one level at most (inner) */
static int apply_record(struct buddy_journal *j, const uint8_t *rec, size_t len, bool inner)
{
	msgpack_unpacked u;
	const msgpack_object *a;
	uint64_t type;
	int64_t written;
	int rc;

	msgpack_unpacked_init(&u);
	rc = buddy_mp_decode(rec, len, &record_limits, &u);
	if (rc) {
		rc = BUDDY_E_CORRUPT;
		goto out;
	}
	a = u.data.via.array.ptr;
	rc = BUDDY_E_CORRUPT;
	if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3 ||
	    buddy_mp_uint(&a[0], &type) || buddy_mp_int(&a[1], &written) ||
	    a[2].type != MSGPACK_OBJECT_MAP)
		goto out;
	switch (type) {
	case REC_COMMIT_ADD:
		rc = apply_commit_add(j, &a[2], written);
		break;
	case REC_COMMIT_ARCHIVE:
		rc = apply_commit_archive(j, &a[2], written);
		break;
	case REC_ENTRY:
		rc = apply_entry(j, &a[2], written);
		break;
	case BUDDY_REC_BUDDY_ADD:
	case BUDDY_REC_BUDDY_REVOKE:
		rc = apply_pairing(j, type, written, &a[2]);
		break;
	case BUDDY_REC_BUDDY_RENAME:
	case BUDDY_REC_BUDDY_VERIFY:
	case BUDDY_REC_BUDDY_ADDRS:
	case BUDDY_REC_INVITE_ADD:
	case BUDDY_REC_INVITE_USED:
		rc = buddy_buddies_apply(j->buddies, type, written, &a[2]);
		break;
	case BUDDY_REC_POSTED:
		/* one level only: a posted record inside another is never written */
		rc = inner ? BUDDY_E_CORRUPT : apply_posted(j, &a[2], written);
		break;
	case BUDDY_REC_RECEIVED:
	case BUDDY_REC_SHARED:
	case BUDDY_REC_DELIVERED:
	case BUDDY_REC_FORK:
	case BUDDY_REC_ALERT:
		rc = buddy_streams_apply(j->streams, j->buddies, type, written, &a[2]);
		break;
	case BUDDY_REC_RESTORED:
		rc = buddy_streams_apply(j->streams, j->buddies, type, written, &a[2]);
		if (rc == 0)
			raise_floor(j, (j->nentries ? j->entries[j->nentries - 1].id : 0) +
					       BUDDY_RESTORE_ID_GAP);
		break;
	case BUDDY_REC_REBASED:
		rc = apply_rebased(j, &a[2], written);
		break;
	case BUDDY_REC_EVENT:
	case BUDDY_REC_READ:
		rc = buddy_events_record(j->events, type, written, &a[2]);
		break;
	case BUDDY_REC_PAUSE:
		rc = buddy_pauses_apply(j->pauses, written, &a[2]);
		break;
	default:
		/* written by a newer buddy: refusing is safer than silently skipping history */
		rc = BUDDY_E_VERSION;
	}
	/* the events that a pairing, a delivery or an alert are */
	if (rc == 0 &&
	    (type == BUDDY_REC_BUDDY_ADD || type == BUDDY_REC_DELIVERED || type == BUDDY_REC_ALERT))
		buddy_events_record(j->events, type, written, &a[2]);
	if (rc == 0 && !inner)
		j->nrecords++;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}
