/* Share-stream posts and the sync messages that carry them (see buddy/post.h and
 * proto/PROTOCOL.md section 15).
 *
 * Every byte string from outside is framed and bounded by buddy_mp_check before msgpack-c sees
 * it; every field is then type- and length-checked into locals, and the caller's struct is
 * written only when every check has passed. Each body has one semantic check (check_*) that its
 * reader applies after parsing and its writer applies before packing: so a writer refuses
 * exactly what a reader would ignore, and a daemon never signs a post its buddy cannot use.
 * Writers append nothing when they refuse. */
#include "buddy/post.h"
#include "buddy/error.h"
#include "buddy/mp.h"
#include "buddy/text.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define HASH_KEY       "buddy-post-v1"
#define HEAD_DOMAIN    "buddy-stream-head-v1"
#define RECEIPT_DOMAIN "buddy-receipt-v1"
#define PK_BYTES       crypto_sign_PUBLICKEYBYTES
#define SEQ_BYTES      8 /* big-endian in the signed messages */
/* the longer of the two signed messages: the head signature's 124 bytes */
#define SIG_MSG_MAX (sizeof(HEAD_DOMAIN) - 1 + 2 * PK_BYTES + SEQ_BYTES + BUDDY_POST_HASH_BYTES)

#define POST_FIELDS 6 /* [seq, prev, time, type, body, pad] */
/* objects of a post outside its body: the array, seq, prev, time, type and pad */
#define ENVELOPE_OBJECTS 6
#define MP_BIN16	 0xc5
#define PAD_HEADER	 3 /* bin 16: MP_BIN16 and a 2-byte big-endian length */

#define DATE_LEN 10 /* "YYYY-MM-DD" */
/* a name read from a table below (status, cadence kind, reaction kind) is shorter than this */
#define NAME_MAX_LEN 16

static const struct buddy_mp_limits post_limits = {.max_bytes = BUDDY_POST_MAX,
						   .max_depth = BUDDY_POST_DEPTH_MAX,
						   .max_objects = BUDDY_POST_OBJECTS_MAX};

/* What a body may hold so that the whole post stays within post_limits. */
static const struct buddy_mp_limits body_limits = {.max_bytes = BUDDY_POST_MAX,
						   .max_depth = BUDDY_POST_DEPTH_MAX - 1,
						   .max_objects = BUDDY_POST_OBJECTS_MAX -
								  ENVELOPE_OBJECTS};

/* The sizes a post is padded to (section 15.2), smallest first. */
static const size_t buckets[] = {BUDDY_POST_MIN, 512,	1024,  2048,	      4096,
				 8192,		 16384, 32768, BUDDY_POST_MAX};

/* Names on the wire, indexed by their enum values (0: none). */
static const char *const status_names[] = {NULL, "done", "partial", "skip"};
static const char *const cadence_names[] = {NULL, "daily", "weekly", "monthly", "by"};
static const char *const reaction_names[] = {NULL, "cheer", "comment"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---- */

static int name_lookup(const char *const *names, size_t n, const char *p, size_t len)
{
	for (size_t i = 1; i < n; i++)
		if (strlen(names[i]) == len && memcmp(names[i], p, len) == 0)
			return (int)i;
	return 0;
}

/* The values of a map's known keys (keys[i] NULL: not known here). Keys not listed are ignored
 * (section 15.3); a known key twice is refused, since readers could disagree on which counts. */
static int map_fields(const msgpack_object *map, const char *const *keys, size_t nkeys,
		      const msgpack_object **vals)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return BUDDY_E_INVALID;
	for (size_t k = 0; k < nkeys; k++)
		vals[k] = NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];

		for (size_t k = 0; k < nkeys; k++) {
			if (!keys[k] || !buddy_mp_str_eq(&kv->key, keys[k]))
				continue;
			if (vals[k])
				return BUDDY_E_INVALID;
			vals[k] = &kv->val;
		}
	}
	return 0;
}

static int bin_exact(const msgpack_object *o, uint8_t *out, size_t n)
{
	const uint8_t *p;
	size_t len;

	if (buddy_mp_bin(o, n, &p, &len) || len != n)
		return BUDDY_E_INVALID;
	memcpy(out, p, n);
	return 0;
}

/* A str of at most max bytes, as pointer and length; INVALID (not TOOBIG) when longer: to a
 * reader an over-long field is one more way to be malformed. */
static int str_field(const msgpack_object *o, size_t max, const char **p, size_t *len)
{
	return buddy_mp_str(o, max, p, len) ? BUDDY_E_INVALID : 0;
}

/* A NUL-terminated copy of 1..max bytes without NUL into out[max + 1]. */
static int str_copy(const msgpack_object *o, size_t max, char *out)
{
	return buddy_mp_strcpy(o, max, out) ? BUDDY_E_INVALID : 0;
}

static bool text_ok(const char *p, size_t len, size_t min, size_t max, bool multiline)
{
	return (p || len == 0) && len >= min && len <= max && buddy_text_valid(p, len, multiline);
}

/* The length of a NUL-terminated string in a char[max + 1], or max + 1 when it is not. */
static size_t fixed_len(const char *s, size_t max)
{
	return strnlen(s, max + 1);
}

static int pack_kv_str(msgpack_packer *pk, const char *key, const char *s, size_t len)
{
	if (buddy_mp_pack_cstr(pk, key) || buddy_mp_pack_strn(pk, len ? s : "", len))
		return BUDDY_E_NOMEM;
	return 0;
}

/* Undoes a partial append, so that a writer that fails leaves out as it found it. */
static int truncate_to(msgpack_sbuffer *sb, size_t size, int rc)
{
	if (rc)
		sb->size = size;
	return rc;
}

/* ---- checks shared by readers and writers ---- */

/* "YYYY-MM-DD" into numbers (buddy_date_parse also checks it is a real date). */
static int date_read(const char *s, size_t len, struct buddy_cadence *c)
{
	char date[DATE_LEN + 1];

	if (len != DATE_LEN)
		return BUDDY_E_INVALID;
	memcpy(date, s, DATE_LEN);
	date[DATE_LEN] = 0;
	return buddy_date_parse(date, &c->by_year, &c->by_month, &c->by_day);
}

static bool cadence_ok(const struct buddy_cadence *c)
{
	return buddy_cadence_valid(c) == 0;
}

/* A zone name as far as a reader can tell without a tz database (the recipient's may differ
 * from the author's): visible ASCII, and never a path that could leave the zoneinfo tree. */
static bool tz_ok(const char *p, size_t len)
{
	if (len == 0 || len > BUDDY_TZ_MAX || p[0] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] <= ' ' || p[i] > '~')
			return false;
		if (p[i] == '.' && i + 1 < len && p[i + 1] == '.')
			return false;
	}
	return true;
}

static int check_commitment(const struct buddy_post_commitment *c)
{
	size_t idlen = fixed_len(c->id, BUDDY_ID_MAX), tzlen = fixed_len(c->tz, BUDDY_TZ_MAX);

	if (idlen > BUDDY_ID_MAX || !buddy_text_slug_valid(c->id, idlen))
		return BUDDY_E_INVALID;
	if (!text_ok(c->title, c->title_len, 1, BUDDY_TITLE_MAX, false))
		return BUDDY_E_INVALID;
	if (!cadence_ok(&c->cadence) || tzlen > BUDDY_TZ_MAX || !tz_ok(c->tz, tzlen))
		return BUDDY_E_INVALID;
	return 0;
}

static int check_entry(const struct buddy_post_entry *e, bool checkin)
{
	size_t clen = fixed_len(e->commit, BUDDY_ID_MAX), ulen = fixed_len(e->unit, BUDDY_UNIT_MAX);

	if (e->e == 0 || clen > BUDDY_ID_MAX || (clen && !buddy_text_slug_valid(e->commit, clen)))
		return BUDDY_E_INVALID;
	if (checkin) {
		/* a check-in is on a commitment, with a status */
		if (clen == 0 || e->status < BUDDY_CHECKIN_DONE || e->status > BUDDY_CHECKIN_SKIP)
			return BUDDY_E_INVALID;
	} else if ((int)e->status != 0) {
		return BUDDY_E_INVALID;
	}
	/* a note is its text; a check-in may be only its status */
	if (!text_ok(e->text, e->text_len, checkin ? 0 : 1, BUDDY_TEXT_MAX, true))
		return BUDDY_E_INVALID;
	if (e->has_value && !isfinite(e->value))
		return BUDDY_E_INVALID;
	if (ulen > BUDDY_UNIT_MAX ||
	    (ulen && (!e->has_value || !text_ok(e->unit, ulen, 1, BUDDY_UNIT_MAX, false))))
		return BUDDY_E_INVALID;
	if (e->ntags > BUDDY_TAGS_MAX)
		return BUDDY_E_INVALID;
	for (size_t i = 0; i < e->ntags; i++)
		if (!e->tags[i] || !buddy_text_tag_valid(e->tags[i], e->tag_lens[i]))
			return BUDDY_E_INVALID;
	return 0;
}

static int check_reaction(const struct buddy_post_reaction *r)
{
	bool comment = r->kind == BUDDY_REACTION_COMMENT;

	if (r->e == 0 || (r->kind != BUDDY_REACTION_CHEER && !comment))
		return BUDDY_E_INVALID;
	if (!text_ok(r->text, r->text_len, comment ? 1 : 0, BUDDY_REACTION_TEXT_MAX, true))
		return BUDDY_E_INVALID;
	return 0;
}

static int check_pause(const struct buddy_post_pause *pa)
{
	size_t clen = fixed_len(pa->commit, BUDDY_ID_MAX);
	struct buddy_cadence by = {.kind = BUDDY_CADENCE_BY,
				   .n = 1,
				   .by_year = pa->until_y,
				   .by_month = pa->until_m,
				   .by_day = pa->until_d};

	if (clen > BUDDY_ID_MAX || !buddy_text_slug_valid(pa->commit, clen))
		return BUDDY_E_INVALID;
	/* a real date: the same check as a "by" cadence's */
	if (!cadence_ok(&by))
		return BUDDY_E_INVALID;
	if (!text_ok(pa->reason, pa->reason_len, 0, BUDDY_POST_PAUSE_REASON_MAX, false))
		return BUDDY_E_INVALID;
	return 0;
}

/* ---- posts ---- */

static bool is_map_tag(uint8_t b)
{
	return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf; /* fixmap, map 16, map 32 */
}

/* The smallest bucket that holds `need` bytes, or 0 when none does. */
static size_t bucket_for(size_t need)
{
	for (size_t i = 0; i < COUNT(buckets); i++)
		if (need <= buckets[i])
			return buckets[i];
	return 0;
}

static int write_zeros(msgpack_sbuffer *sb, size_t n)
{
	static const char zeros[1024];

	while (n) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		if (msgpack_sbuffer_write(sb, zeros, k))
			return BUDDY_E_NOMEM;
		n -= k;
	}
	return 0;
}

int buddy_post_encode(const struct buddy_post_head *h, const uint8_t *body, size_t body_len,
		      msgpack_sbuffer *out)
{
	msgpack_sbuffer head;
	msgpack_packer pk;
	size_t start = out->size, objlen = 0, total, pad;
	uint8_t pad_header[PAD_HEADER];
	int rc;

	if (h->seq == 0 || (h->seq == 1 && !sodium_is_zero(h->prev, sizeof(h->prev))))
		return BUDDY_E_INVALID;
	if (!body || body_len == 0 || !is_map_tag(body[0]))
		return BUDDY_E_INVALID;
	rc = buddy_mp_check(body, body_len, &body_limits, &objlen);
	if (rc == BUDDY_E_TOOBIG)
		return rc;
	if (rc || objlen != body_len)
		return BUDDY_E_INVALID; /* truncated, ext types, or more than one object */

	msgpack_sbuffer_init(&head);
	msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
	rc = BUDDY_E_NOMEM;
	if (msgpack_pack_array(&pk, POST_FIELDS) || msgpack_pack_uint64(&pk, h->seq) ||
	    buddy_mp_pack_bin(&pk, h->prev, sizeof(h->prev)) || msgpack_pack_int64(&pk, h->time) ||
	    msgpack_pack_uint64(&pk, h->type))
		goto out;
	total = bucket_for(head.size + body_len + PAD_HEADER);
	if (!total) {
		rc = BUDDY_E_TOOBIG;
		goto out;
	}
	pad = total - head.size - body_len - PAD_HEADER;
	pad_header[0] = MP_BIN16;
	pad_header[1] = (uint8_t)(pad >> 8);
	pad_header[2] = (uint8_t)pad;
	if (msgpack_sbuffer_write(out, head.data, head.size) ||
	    msgpack_sbuffer_write(out, (const char *)body, body_len) ||
	    msgpack_sbuffer_write(out, (const char *)pad_header, sizeof(pad_header)) ||
	    write_zeros(out, pad))
		goto out;
	rc = 0;
out:
	msgpack_sbuffer_destroy(&head);
	return truncate_to(out, start, rc);
}

int buddy_post_decode(const uint8_t *p, size_t len, msgpack_unpacked *u, struct buddy_post_head *h,
		      const msgpack_object **body)
{
	struct buddy_post_head tmp;
	const msgpack_object *f;

	if (!p || len == 0 || len > BUDDY_POST_MAX || buddy_mp_decode(p, len, &post_limits, u))
		return BUDDY_E_INVALID;
	if (u->data.type != MSGPACK_OBJECT_ARRAY || u->data.via.array.size != POST_FIELDS)
		return BUDDY_E_INVALID;
	f = u->data.via.array.ptr;
	if (buddy_mp_uint(&f[0], &tmp.seq) || tmp.seq == 0 ||
	    bin_exact(&f[1], tmp.prev, sizeof(tmp.prev)) || buddy_mp_int(&f[2], &tmp.time) ||
	    buddy_mp_uint(&f[3], &tmp.type))
		return BUDDY_E_INVALID;
	/* the pad's content is not looked at: writers choose its size, not readers */
	if (f[4].type != MSGPACK_OBJECT_MAP || f[5].type != MSGPACK_OBJECT_BIN)
		return BUDDY_E_INVALID;
	if (tmp.seq == 1 && !sodium_is_zero(tmp.prev, sizeof(tmp.prev)))
		return BUDDY_E_INVALID;
	*h = tmp;
	*body = &f[4];
	return 0;
}

/* ---- commitment {c, t, cad, tz, cr, ar, on} ---- */

enum { CAD_K, CAD_N, CAD_BY, CAD_COUNT };
static const char *const cadence_keys[CAD_COUNT] = {"k", "n", "by"};

static int pack_cadence(msgpack_packer *pk, const struct buddy_cadence *c)
{
	bool by = c->kind == BUDDY_CADENCE_BY;
	char date[DATE_LEN + 1];

	if (msgpack_pack_map(pk, by ? CAD_COUNT : CAD_COUNT - 1) ||
	    pack_kv_str(pk, "k", cadence_names[c->kind], strlen(cadence_names[c->kind])) ||
	    buddy_mp_pack_cstr(pk, "n") || msgpack_pack_uint32(pk, c->n))
		return BUDDY_E_NOMEM;
	if (by) {
		/* cadence_ok bounded every part, so this is exactly DATE_LEN bytes */
		snprintf(date, sizeof(date), "%04d-%02d-%02d", c->by_year, c->by_month, c->by_day);
		return pack_kv_str(pk, "by", date, DATE_LEN);
	}
	return 0;
}

static int read_cadence(const msgpack_object *o, struct buddy_cadence *c)
{
	const msgpack_object *f[CAD_COUNT];
	const char *p;
	size_t len;
	uint64_t n;

	memset(c, 0, sizeof(*c));
	if (map_fields(o, cadence_keys, CAD_COUNT, f) ||
	    str_field(f[CAD_K], NAME_MAX_LEN, &p, &len))
		return BUDDY_E_INVALID;
	c->kind = (enum buddy_cadence_kind)name_lookup(cadence_names, COUNT(cadence_names), p, len);
	if (buddy_mp_uint(f[CAD_N], &n) || n > BUDDY_CADENCE_N_MAX)
		return BUDDY_E_INVALID;
	c->n = (uint32_t)n;
	/* "by" means something only to a "by" cadence; elsewhere it is ignored */
	if (c->kind == BUDDY_CADENCE_BY &&
	    (str_field(f[CAD_BY], DATE_LEN, &p, &len) || date_read(p, len, c)))
		return BUDDY_E_INVALID;
	return cadence_ok(c) ? 0 : BUDDY_E_INVALID;
}

enum { C_C, C_T, C_CAD, C_TZ, C_CR, C_AR, C_ON, C_COUNT };
static const char *const commitment_keys[C_COUNT] = {"c", "t", "cad", "tz", "cr", "ar", "on"};

int buddy_post_write_commitment(msgpack_sbuffer *out, const struct buddy_post_commitment *c)
{
	msgpack_packer pk;
	size_t start = out->size;
	int rc = check_commitment(c);

	if (rc)
		return rc;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	rc = BUDDY_E_NOMEM;
	if (msgpack_pack_map(&pk, C_COUNT) || pack_kv_str(&pk, "c", c->id, strlen(c->id)) ||
	    pack_kv_str(&pk, "t", c->title, c->title_len) || buddy_mp_pack_cstr(&pk, "cad") ||
	    pack_cadence(&pk, &c->cadence) || pack_kv_str(&pk, "tz", c->tz, strlen(c->tz)) ||
	    buddy_mp_pack_cstr(&pk, "cr") || msgpack_pack_int64(&pk, c->created) ||
	    buddy_mp_pack_cstr(&pk, "ar") || msgpack_pack_int64(&pk, c->archived) ||
	    buddy_mp_pack_cstr(&pk, "on") ||
	    (c->on ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk)))
		return truncate_to(out, start, rc);
	return 0;
}

int buddy_post_read_commitment(const msgpack_object *body, struct buddy_post_commitment *out)
{
	const msgpack_object *f[C_COUNT];
	struct buddy_post_commitment tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (map_fields(body, commitment_keys, C_COUNT, f) ||
	    str_copy(f[C_C], BUDDY_ID_MAX, tmp.id) ||
	    str_field(f[C_T], BUDDY_TITLE_MAX, &tmp.title, &tmp.title_len) ||
	    read_cadence(f[C_CAD], &tmp.cadence) || str_copy(f[C_TZ], BUDDY_TZ_MAX, tmp.tz) ||
	    buddy_mp_int(f[C_CR], &tmp.created) || buddy_mp_int(f[C_AR], &tmp.archived) ||
	    buddy_mp_bool(f[C_ON], &tmp.on) || check_commitment(&tmp))
		return BUDDY_E_INVALID;
	*out = tmp;
	return 0;
}

/* ---- check-in {e, c, at, s, t, v?, u?, g?} and note {e, at, t, c?, v?, u?, g?} ---- */

enum { E_E, E_C, E_AT, E_S, E_T, E_V, E_U, E_G, E_COUNT };
static const char *const checkin_keys[E_COUNT] = {"e", "c", "at", "s", "t", "v", "u", "g"};
/* a note has no status: an "s" in one is an unknown key */
static const char *const note_keys[E_COUNT] = {"e", "c", "at", NULL, "t", "v", "u", "g"};

int buddy_post_write_entry(msgpack_sbuffer *out, const struct buddy_post_entry *e)
{
	msgpack_packer pk;
	size_t start = out->size, clen, ulen, n;
	bool checkin = e->status != 0;
	int rc = check_entry(e, checkin);

	if (rc)
		return rc;
	clen = strlen(e->commit);
	ulen = strlen(e->unit);
	n = 3 + (clen > 0) + checkin + e->has_value + (ulen > 0) + (e->ntags > 0); /* e, at, t */
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	rc = BUDDY_E_NOMEM;
	if (msgpack_pack_map(&pk, n) || buddy_mp_pack_cstr(&pk, "e") ||
	    msgpack_pack_uint64(&pk, e->e))
		goto fail;
	if (clen && pack_kv_str(&pk, "c", e->commit, clen))
		goto fail;
	if (buddy_mp_pack_cstr(&pk, "at") || msgpack_pack_int64(&pk, e->at))
		goto fail;
	if (checkin &&
	    pack_kv_str(&pk, "s", status_names[e->status], strlen(status_names[e->status])))
		goto fail;
	if (pack_kv_str(&pk, "t", e->text, e->text_len))
		goto fail;
	if (e->has_value && (buddy_mp_pack_cstr(&pk, "v") || msgpack_pack_double(&pk, e->value)))
		goto fail;
	if (ulen && pack_kv_str(&pk, "u", e->unit, ulen))
		goto fail;
	if (e->ntags) {
		if (buddy_mp_pack_cstr(&pk, "g") || msgpack_pack_array(&pk, e->ntags))
			goto fail;
		for (size_t i = 0; i < e->ntags; i++)
			if (buddy_mp_pack_strn(&pk, e->tags[i], e->tag_lens[i]))
				goto fail;
	}
	return 0;
fail:
	return truncate_to(out, start, rc);
}

static int read_tags(const msgpack_object *g, struct buddy_post_entry *e)
{
	/* present means 1..BUDDY_TAGS_MAX: an entry without tags has no "g" */
	if (g->type != MSGPACK_OBJECT_ARRAY || g->via.array.size == 0 ||
	    g->via.array.size > BUDDY_TAGS_MAX)
		return BUDDY_E_INVALID;
	e->ntags = g->via.array.size;
	for (size_t i = 0; i < e->ntags; i++)
		if (str_field(&g->via.array.ptr[i], BUDDY_TAG_MAX, &e->tags[i], &e->tag_lens[i]))
			return BUDDY_E_INVALID;
	return 0;
}

int buddy_post_read_entry(const msgpack_object *body, bool checkin, struct buddy_post_entry *out)
{
	const msgpack_object *f[E_COUNT];
	struct buddy_post_entry tmp;
	const char *p;
	size_t len;

	memset(&tmp, 0, sizeof(tmp));
	if (map_fields(body, checkin ? checkin_keys : note_keys, E_COUNT, f) ||
	    buddy_mp_uint(f[E_E], &tmp.e) || buddy_mp_int(f[E_AT], &tmp.at) ||
	    str_field(f[E_T], BUDDY_TEXT_MAX, &tmp.text, &tmp.text_len))
		return BUDDY_E_INVALID;
	/* a check-in's commitment is required: check_entry refuses an empty one */
	if (f[E_C] && str_copy(f[E_C], BUDDY_ID_MAX, tmp.commit))
		return BUDDY_E_INVALID;
	if (checkin) {
		if (str_field(f[E_S], NAME_MAX_LEN, &p, &len))
			return BUDDY_E_INVALID;
		tmp.status = (enum buddy_checkin_status)name_lookup(status_names,
								    COUNT(status_names), p, len);
	}
	if (f[E_V]) {
		if (buddy_mp_double(f[E_V], &tmp.value))
			return BUDDY_E_INVALID;
		tmp.has_value = true;
	}
	if (f[E_U] && str_copy(f[E_U], BUDDY_UNIT_MAX, tmp.unit))
		return BUDDY_E_INVALID;
	if (f[E_G] && read_tags(f[E_G], &tmp))
		return BUDDY_E_INVALID;
	if (check_entry(&tmp, checkin))
		return BUDDY_E_INVALID;
	*out = tmp;
	return 0;
}

/* ---- retraction {e} and reaction {e, k, t} ---- */

int buddy_post_write_retraction(msgpack_sbuffer *out, uint64_t e)
{
	msgpack_packer pk;
	size_t start = out->size;

	if (e == 0)
		return BUDDY_E_INVALID;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, 1) || buddy_mp_pack_cstr(&pk, "e") || msgpack_pack_uint64(&pk, e))
		return truncate_to(out, start, BUDDY_E_NOMEM);
	return 0;
}

int buddy_post_read_retraction(const msgpack_object *body, uint64_t *e)
{
	static const char *const keys[] = {"e"};
	const msgpack_object *f[1];
	uint64_t v;

	if (map_fields(body, keys, 1, f) || buddy_mp_uint(f[0], &v) || v == 0)
		return BUDDY_E_INVALID;
	*e = v;
	return 0;
}

enum { R_E, R_K, R_T, R_COUNT };
static const char *const reaction_keys[R_COUNT] = {"e", "k", "t"};

int buddy_post_write_reaction(msgpack_sbuffer *out, const struct buddy_post_reaction *r)
{
	msgpack_packer pk;
	size_t start = out->size;
	const char *kind;
	int rc = check_reaction(r);

	if (rc)
		return rc;
	kind = reaction_names[r->kind];
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, R_COUNT) || buddy_mp_pack_cstr(&pk, "e") ||
	    msgpack_pack_uint64(&pk, r->e) || pack_kv_str(&pk, "k", kind, strlen(kind)) ||
	    pack_kv_str(&pk, "t", r->text, r->text_len))
		return truncate_to(out, start, BUDDY_E_NOMEM);
	return 0;
}

int buddy_post_read_reaction(const msgpack_object *body, struct buddy_post_reaction *out)
{
	const msgpack_object *f[R_COUNT];
	struct buddy_post_reaction tmp;
	const char *p;
	size_t len;

	memset(&tmp, 0, sizeof(tmp));
	if (map_fields(body, reaction_keys, R_COUNT, f) || buddy_mp_uint(f[R_E], &tmp.e) ||
	    str_field(f[R_K], NAME_MAX_LEN, &p, &len) ||
	    str_field(f[R_T], BUDDY_REACTION_TEXT_MAX, &tmp.text, &tmp.text_len))
		return BUDDY_E_INVALID;
	tmp.kind = (enum buddy_reaction_kind)name_lookup(reaction_names, COUNT(reaction_names), p,
							 len);
	if (check_reaction(&tmp))
		return BUDDY_E_INVALID;
	*out = tmp;
	return 0;
}

/* ---- pause {c, from, until, r} ---- */

enum { PA_C, PA_FROM, PA_UNTIL, PA_R, PA_COUNT };
static const char *const pause_keys[PA_COUNT] = {"c", "from", "until", "r"};

int buddy_post_write_pause(msgpack_sbuffer *out, const struct buddy_post_pause *pa)
{
	msgpack_packer pk;
	size_t start = out->size;
	char date[DATE_LEN + 1];
	int rc = check_pause(pa);

	if (rc)
		return rc;
	/* check_pause bounded every part, so this is exactly DATE_LEN bytes */
	snprintf(date, sizeof(date), "%04d-%02d-%02d", pa->until_y, pa->until_m, pa->until_d);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (msgpack_pack_map(&pk, PA_COUNT) ||
	    pack_kv_str(&pk, "c", pa->commit, strlen(pa->commit)) ||
	    buddy_mp_pack_cstr(&pk, "from") || msgpack_pack_int64(&pk, pa->from) ||
	    pack_kv_str(&pk, "until", date, DATE_LEN) ||
	    pack_kv_str(&pk, "r", pa->reason, pa->reason_len))
		return truncate_to(out, start, BUDDY_E_NOMEM);
	return 0;
}

int buddy_post_read_pause(const msgpack_object *body, struct buddy_post_pause *out)
{
	const msgpack_object *f[PA_COUNT];
	struct buddy_post_pause tmp;
	struct buddy_cadence until;
	const char *p;
	size_t len;

	memset(&tmp, 0, sizeof(tmp));
	if (map_fields(body, pause_keys, PA_COUNT, f) ||
	    str_copy(f[PA_C], BUDDY_ID_MAX, tmp.commit) || buddy_mp_int(f[PA_FROM], &tmp.from) ||
	    str_field(f[PA_UNTIL], DATE_LEN, &p, &len) || date_read(p, len, &until) ||
	    str_field(f[PA_R], BUDDY_POST_PAUSE_REASON_MAX, &tmp.reason, &tmp.reason_len))
		return BUDDY_E_INVALID;
	tmp.until_y = until.by_year;
	tmp.until_m = until.by_month;
	tmp.until_d = until.by_day;
	if (check_pause(&tmp))
		return BUDDY_E_INVALID;
	*out = tmp;
	return 0;
}

/* ---- hashes and signatures (section 15.1) ---- */

void buddy_post_hash(const uint8_t *post, size_t len, uint8_t out[BUDDY_POST_HASH_BYTES])
{
	crypto_generichash(out, BUDDY_POST_HASH_BYTES, post, len, (const uint8_t *)HASH_KEY,
			   sizeof(HASH_KEY) - 1);
}

/* domain (without its NUL) || author || recipient || seq (big-endian) || hash; returns the
 * length. */
static size_t signed_message(uint8_t m[SIG_MSG_MAX], const char *domain, const uint8_t *author,
			     const uint8_t *recipient, uint64_t seq, const uint8_t *hash)
{
	size_t n = strlen(domain);

	memcpy(m, domain, n);
	memcpy(m + n, author, PK_BYTES);
	n += PK_BYTES;
	memcpy(m + n, recipient, PK_BYTES);
	n += PK_BYTES;
	for (unsigned i = SEQ_BYTES; i-- > 0; seq >>= 8)
		m[n + i] = (uint8_t)seq;
	n += SEQ_BYTES;
	memcpy(m + n, hash, BUDDY_POST_HASH_BYTES);
	return n + BUDDY_POST_HASH_BYTES;
}

static void sign(uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *sk, const char *domain,
		 const uint8_t *author, const uint8_t *recipient, uint64_t seq, const uint8_t *hash)
{
	uint8_t m[SIG_MSG_MAX];
	size_t n = signed_message(m, domain, author, recipient, seq, hash);

	crypto_sign_detached(sig, NULL, m, n, sk);
}

static int verify(const uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *pk, const char *domain,
		  const uint8_t *author, const uint8_t *recipient, uint64_t seq,
		  const uint8_t *hash)
{
	uint8_t m[SIG_MSG_MAX];
	size_t n = signed_message(m, domain, author, recipient, seq, hash);

	return crypto_sign_verify_detached(sig, m, n, pk) == 0 ? 0 : BUDDY_E_AUTH;
}

void buddy_post_sign_head(uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *sk,
			  const uint8_t author[32], const uint8_t recipient[32], uint64_t seq,
			  const uint8_t hash[BUDDY_POST_HASH_BYTES])
{
	sign(sig, sk, HEAD_DOMAIN, author, recipient, seq, hash);
}

int buddy_post_verify_head(const uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t author[32],
			   const uint8_t recipient[32], uint64_t seq,
			   const uint8_t hash[BUDDY_POST_HASH_BYTES])
{
	return verify(sig, author, HEAD_DOMAIN, author, recipient, seq, hash);
}

void buddy_post_sign_receipt(uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t *sk,
			     const uint8_t author[32], const uint8_t recipient[32], uint64_t seq,
			     const uint8_t hash[BUDDY_POST_HASH_BYTES])
{
	sign(sig, sk, RECEIPT_DOMAIN, author, recipient, seq, hash);
}

int buddy_post_verify_receipt(const uint8_t sig[BUDDY_POST_SIG_BYTES], const uint8_t author[32],
			      const uint8_t recipient[32], uint64_t seq,
			      const uint8_t hash[BUDDY_POST_HASH_BYTES])
{
	return verify(sig, recipient, RECEIPT_DOMAIN, author, recipient, seq, hash);
}

/* ---- sync messages ---- */

/* [type, map of nfields] */
static int pack_msg_head(msgpack_packer *pk, enum buddy_sync_msg type, size_t nfields)
{
	if (msgpack_pack_array(pk, 2) || msgpack_pack_uint64(pk, (uint64_t)type) ||
	    msgpack_pack_map(pk, nfields))
		return BUDDY_E_NOMEM;
	return 0;
}

enum { H_H, H_X, H_F, H_E, H_COUNT };
static const char *const heads_keys[H_COUNT] = {"h", "x", "f", "e"};

int buddy_msg_heads_encode(msgpack_sbuffer *sb, uint64_t h, const uint8_t *x, uint64_t fork,
			   uint64_t e)
{
	msgpack_packer pk;
	size_t start = sb->size;

	if (h && !x)
		return BUDDY_E_INVALID;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (pack_msg_head(&pk, BUDDY_MSG_HEADS, 1 + (h != 0) + (fork != 0) + (e != 0)) ||
	    buddy_mp_pack_cstr(&pk, "h") || msgpack_pack_uint64(&pk, h))
		goto fail;
	if (h && (buddy_mp_pack_cstr(&pk, "x") || buddy_mp_pack_bin(&pk, x, BUDDY_POST_HASH_BYTES)))
		goto fail;
	if (fork && (buddy_mp_pack_cstr(&pk, "f") || msgpack_pack_uint64(&pk, fork)))
		goto fail;
	if (e && (buddy_mp_pack_cstr(&pk, "e") || msgpack_pack_uint64(&pk, e)))
		goto fail;
	return 0;
fail:
	return truncate_to(sb, start, BUDDY_E_NOMEM);
}

int buddy_msg_heads_read(const msgpack_object *body, uint64_t *h, uint8_t x[BUDDY_POST_HASH_BYTES],
			 uint64_t *fork, uint64_t *e)
{
	const msgpack_object *f[H_COUNT];
	uint8_t hash[BUDDY_POST_HASH_BYTES] = {0};
	uint64_t head, frk = 0, ent = 0;

	if (map_fields(body, heads_keys, H_COUNT, f) || buddy_mp_uint(f[H_H], &head))
		return BUDDY_E_INVALID;
	/* with nothing stored there is nothing to name: an x beside h 0 is ignored */
	if (head && bin_exact(f[H_X], hash, sizeof(hash)))
		return BUDDY_E_INVALID;
	if (f[H_F] && buddy_mp_uint(f[H_F], &frk))
		return BUDDY_E_INVALID;
	if (f[H_E] && buddy_mp_uint(f[H_E], &ent))
		return BUDDY_E_INVALID;
	*h = head;
	memcpy(x, hash, sizeof(hash));
	*fork = frk;
	*e = ent;
	return 0;
}

enum { P_P, P_S, P_COUNT };
static const char *const posts_keys[P_COUNT] = {"p", "s"};

int buddy_msg_posts_encode(msgpack_sbuffer *sb, const uint8_t *const *posts, const size_t *lens,
			   size_t n, const uint8_t sig[BUDDY_POST_SIG_BYTES])
{
	msgpack_packer pk;
	size_t start = sb->size;

	if (!posts || !lens || n == 0 || n > BUDDY_POSTS_BATCH_MAX)
		return BUDDY_E_INVALID;
	for (size_t i = 0; i < n; i++)
		if (!posts[i] || lens[i] == 0 || lens[i] > BUDDY_POST_MAX)
			return BUDDY_E_INVALID;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (pack_msg_head(&pk, BUDDY_MSG_POSTS, P_COUNT) || buddy_mp_pack_cstr(&pk, "p") ||
	    msgpack_pack_array(&pk, n))
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (buddy_mp_pack_bin(&pk, posts[i], lens[i]))
			goto fail;
	if (buddy_mp_pack_cstr(&pk, "s") || buddy_mp_pack_bin(&pk, sig, BUDDY_POST_SIG_BYTES))
		goto fail;
	return 0;
fail:
	return truncate_to(sb, start, BUDDY_E_NOMEM);
}

int buddy_msg_posts_read(const msgpack_object *body, const msgpack_object **posts, size_t *n,
			 uint8_t sig[BUDDY_POST_SIG_BYTES])
{
	const msgpack_object *f[P_COUNT], *p;
	uint8_t s[BUDDY_POST_SIG_BYTES];

	if (map_fields(body, posts_keys, P_COUNT, f) || !f[P_P] || bin_exact(f[P_S], s, sizeof(s)))
		return BUDDY_E_INVALID;
	p = f[P_P];
	if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size == 0 ||
	    p->via.array.size > BUDDY_POSTS_BATCH_MAX)
		return BUDDY_E_INVALID;
	for (uint32_t i = 0; i < p->via.array.size; i++) {
		const msgpack_object *e = &p->via.array.ptr[i];

		if (e->type != MSGPACK_OBJECT_BIN || e->via.bin.size == 0 ||
		    e->via.bin.size > BUDDY_POST_MAX)
			return BUDDY_E_INVALID;
	}
	*posts = p->via.array.ptr;
	*n = p->via.array.size;
	memcpy(sig, s, sizeof(s));
	return 0;
}

enum { A_H, A_X, A_R, A_COUNT };
static const char *const ack_keys[A_COUNT] = {"h", "x", "r"};

int buddy_msg_ack_encode(msgpack_sbuffer *sb, uint64_t h, const uint8_t x[BUDDY_POST_HASH_BYTES],
			 const uint8_t r[BUDDY_POST_SIG_BYTES])
{
	msgpack_packer pk;
	size_t start = sb->size;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (pack_msg_head(&pk, BUDDY_MSG_ACK, A_COUNT) || buddy_mp_pack_cstr(&pk, "h") ||
	    msgpack_pack_uint64(&pk, h) || buddy_mp_pack_cstr(&pk, "x") ||
	    buddy_mp_pack_bin(&pk, x, BUDDY_POST_HASH_BYTES) || buddy_mp_pack_cstr(&pk, "r") ||
	    buddy_mp_pack_bin(&pk, r, BUDDY_POST_SIG_BYTES))
		return truncate_to(sb, start, BUDDY_E_NOMEM);
	return 0;
}

int buddy_msg_ack_read(const msgpack_object *body, uint64_t *h, uint8_t x[BUDDY_POST_HASH_BYTES],
		       uint8_t r[BUDDY_POST_SIG_BYTES])
{
	const msgpack_object *f[A_COUNT];
	uint8_t hash[BUDDY_POST_HASH_BYTES], sig[BUDDY_POST_SIG_BYTES];
	uint64_t head;

	if (map_fields(body, ack_keys, A_COUNT, f) || buddy_mp_uint(f[A_H], &head) ||
	    bin_exact(f[A_X], hash, sizeof(hash)) || bin_exact(f[A_R], sig, sizeof(sig)))
		return BUDDY_E_INVALID;
	*h = head;
	memcpy(x, hash, sizeof(hash));
	memcpy(r, sig, sizeof(sig));
	return 0;
}

int buddy_msg_end_encode(msgpack_sbuffer *sb)
{
	msgpack_packer pk;
	size_t start = sb->size;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	return truncate_to(sb, start, pack_msg_head(&pk, BUDDY_MSG_END, 0));
}
