/* What the share streams mean, both ways (see buddy/seen.h and proto/PROTOCOL.md section 15.3).
 *
 * State, all in memory and rebuilt from the log on every start:
 * - per buddy (a short array: buddies are few): their commitments (first-announced order), their
 *   entries (stream order), my reactions to their entries grouped by their entry id, and how
 *   many of their posts did not read;
 * - per entry of mine that went to anyone: the buddies it went to (shares) and the buddies'
 *   reactions to it.
 * Everything looked up by an entry id goes through a hash index, so a journal page asking about
 * 1000 entries among a million costs 1000 probes, not a scan. Entry ids come from the network,
 * so the index hashes them with SipHash under a random key: a buddy cannot pick ids that all
 * land in one bucket. Reactions to my entries are kept only for an entry I sent to that buddy,
 * so what a buddy can make us store is bounded by what we sent it.
 *
 * Memory (issue 7: a daemon holding 100,000 received posts in at most 24 MiB). A buddy's
 * entries are most of what is here, one per check-in or note they ever shared. Kept as a
 * struct buddy_seen_entry each with a malloc per string, an entry cost ~245 bytes: 152 of
 * struct, ~50 for the malloc of a 37-byte text, ~42 of index (16-byte slots, 262,144 of them
 * for 100,000 entries); massif measured 24.3 MB for 100,000 check-ins. Kept as a struct ent
 * (48 bytes) with its strings back to back in a shared arena (~41 bytes for that text and its
 * commitment id) and an index of 4-byte slots, it costs ~100: 10.0 MB. Readers get a struct
 * buddy_seen_entry filled in from it on demand (seen.h says for how long it stays valid). */
#include "buddy/seen.h"
#include "buddy/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* ---- an index from a 64-bit key to a position in an array ---- */

/* A slot holds a position only (4 bytes, not 16 for a key and a position): the key is read
 * back from the array the index is over, through one of these. */
typedef uint64_t (*ix_key_fn)(const void *arr, const uint8_t *hk, size_t pos);

/* Open addressing, linear probing, never more than half full (so a probe always ends at an
 * empty slot), never shrinks: nothing indexed here is ever removed. */
struct ix {
	uint32_t *s;   /* position + 1; 0: an empty slot */
	size_t cap, n; /* cap is 0 or a power of two */
};

#define IX_POS_MAX (UINT32_MAX - 1) /* positions are below this */

static uint64_t sip(const uint8_t *hk, const void *in, size_t len)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h = 0;

	crypto_shorthash(out, in, len, hk);
	for (size_t i = 0; i < sizeof(out); i++)
		h = h << 8 | out[i];
	return h;
}

static size_t ix_home(const uint8_t *hk, uint64_t key, size_t cap)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(key >> (56 - 8 * i));
	return (size_t)sip(hk, b, sizeof(b)) & (cap - 1);
}

/* The position of key plus one, or 0 when it is not indexed. arr is the array indexed. */
static size_t ix_get(const struct ix *ix, const uint8_t *hk, uint64_t key, const void *arr,
		     ix_key_fn key_at)
{
	if (!ix->cap)
		return 0;
	for (size_t i = ix_home(hk, key, ix->cap);; i = (i + 1) & (ix->cap - 1)) {
		if (!ix->s[i] || key_at(arr, hk, ix->s[i] - 1) == key)
			return ix->s[i];
	}
}

static void ix_place(uint32_t *s, size_t cap, const uint8_t *hk, uint64_t key, size_t pos)
{
	size_t i = ix_home(hk, key, cap);

	while (s[i])
		i = (i + 1) & (cap - 1);
	s[i] = (uint32_t)(pos + 1);
}

/* Makes room for one more key, at pos, so that ix_put cannot fail; on failure the index is
 * unchanged. arr must hold every position indexed so far (their keys are read back). */
static int ix_reserve(struct ix *ix, const uint8_t *hk, const void *arr, ix_key_fn key_at,
		      size_t pos)
{
	size_t ncap;
	uint32_t *ns;

	if (pos >= IX_POS_MAX)
		return BUDDY_E_NOMEM;
	if ((ix->n + 1) * 2 <= ix->cap)
		return 0;
	ncap = ix->cap ? ix->cap * 2 : 16;
	if (ncap > SIZE_MAX / sizeof(*ns) || !(ns = calloc(ncap, sizeof(*ns))))
		return BUDDY_E_NOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->s[i])
			ix_place(ns, ncap, hk, key_at(arr, hk, ix->s[i] - 1), ix->s[i] - 1);
	free(ix->s);
	ix->s = ns;
	ix->cap = ncap;
	return 0;
}

/* Indexes key (not yet in the index) at pos, after ix_reserve made room. */
static void ix_put(struct ix *ix, const uint8_t *hk, uint64_t key, size_t pos)
{
	ix_place(ix->s, ix->cap, hk, key, pos);
	ix->n++;
}

static void ix_free(struct ix *ix)
{
	free(ix->s);
	memset(ix, 0, sizeof(*ix));
}

/* ---- state ---- */

/* My reactions to one of a buddy's entries. */
struct theirs {
	uint64_t e;
	struct buddy_seen_reaction *r;
	size_t nr, capr;
};

/* One of my entries that went to at least one buddy: to whom, and what they said about it. */
struct mine {
	uint64_t e;
	struct buddy_seen_share *sh;
	size_t nsh, capsh;
	struct buddy_seen_reaction *r;
	size_t nr, capr;
};

#define ENT_VALUE     1 /* the blob starts with the value */
#define ENT_RETRACTED 2 /* the content is gone and `at` holds when it was retracted */
#define ENT_OWN	      4 /* the blob is a malloc of its own, not in a chunk */

/* One of a buddy's entries as kept (48 bytes on LP64). Its strings are one blob, back to back:
 * [value, 8 bytes, when ENT_VALUE] commit NUL unit NUL tag NUL ... text NUL, so that nothing
 * but the text needs a length. */
struct ent {
	uint64_t e;   /* the buddy's entry id */
	uint64_t seq; /* the post that brought it */
	int64_t at;   /* what it is about; once retracted, when it was retracted */
	int64_t posted;
	uint8_t *blob; /* NULL once retracted */
	uint32_t len;  /* the blob's bytes */
	uint8_t kind;  /* BUDDY_POST_CHECKIN or BUDDY_POST_NOTE */
	uint8_t status;
	uint8_t ntags;
	uint8_t flags; /* ENT_* */
};

/* Blobs are cut from chunks of 64 KiB: a malloc each adds 8 bytes of header and rounds up to
 * 16 (massif: 1.7 MB of overhead on 3.3 MB of texts for 100,000 check-ins). A blob of
 * BLOB_OWN_MIN bytes or more (a long note) gets a malloc of its own instead, so that it goes
 * back to the allocator when it is retracted or replaced; a chunk's bytes are never reused: a
 * blob that goes is wiped where it stands, losing at most BLOB_OWN_MIN bytes each time. */
#define CHUNK_BYTES  (64 * 1024 - 64)
#define BLOB_OWN_MIN 1024

struct chunk {
	struct chunk *next;
	size_t used;
	uint8_t b[CHUNK_BYTES];
};

/* What readers of entries get: one entry filled in from a struct ent, reused by every call. */
struct shown {
	struct buddy_seen_entry x;
	char *tags[BUDDY_TAGS_MAX];
};

struct peer {
	uint8_t pk[32];
	uint64_t unreadable;
	struct buddy_seen_commitment *c;
	size_t nc, capc;
	struct ix cix; /* SipHash of the id -> commitment */
	struct ent *en;
	size_t nen, capen;
	struct ix eix; /* e -> entry */
	struct theirs *th;
	size_t nth, capth;
	struct ix thix; /* e -> my reactions to it */
};

struct buddy_seen {
	uint8_t hk[crypto_shorthash_KEYBYTES]; /* the index hash key, random per view */
	struct peer *p;
	size_t np, capp;
	struct mine *m;
	size_t nm, capm;
	struct ix mix;	      /* e -> mine */
	struct chunk *chunks; /* the newest first: blobs are cut from it */
	struct shown *shown;  /* what entry_at and entry_find return */
};

/* The text a retracted entry shows: a shared empty string, never written or freed. */
static char retracted_text[1];

/* The keys of the indexes, read back from their arrays. */
static uint64_t ent_key(const void *arr, const uint8_t *hk, size_t pos)
{
	(void)hk;
	return ((const struct ent *)arr)[pos].e;
}

static uint64_t mine_key(const void *arr, const uint8_t *hk, size_t pos)
{
	(void)hk;
	return ((const struct mine *)arr)[pos].e;
}

static uint64_t theirs_key(const void *arr, const uint8_t *hk, size_t pos)
{
	(void)hk;
	return ((const struct theirs *)arr)[pos].e;
}

/* A commitment id is indexed by its SipHash. Two ids with one hash (never seen in practice,
 * and a buddy cannot aim for it without the key) are still found: the second is left out of
 * the index and a mismatch falls back to a scan. */
static uint64_t commit_key_at(const void *arr, const uint8_t *hk, size_t pos)
{
	const char *id = ((const struct buddy_seen_commitment *)arr)[pos].id;

	return sip(hk, id, strlen(id));
}

static uint64_t commit_key(const struct buddy_seen *v, const char *id)
{
	return sip(v->hk, id, strlen(id));
}

/* Room for need elements in an array of capacity *cap: the array (moved, maybe), or NULL with
 * the old one untouched. Starts small: most per-entry groups hold one or two elements. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return p;
	ncap = *cap ? *cap : 1;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2 / elem)
			return NULL;
		ncap *= 2;
	}
	np = realloc(p, ncap * elem);
	if (np)
		*cap = ncap;
	return np;
}

/* Wiping relies on strlen: dup_text refuses text with a NUL inside (the readers refuse control
 * characters anyway), so strlen covers every byte that was copied. */
static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static char *dup_text(const char *p, size_t len)
{
	char *s;

	if (len == SIZE_MAX || (len && memchr(p, 0, len)) || !(s = malloc(len + 1)))
		return NULL;
	if (len)
		memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/* ---- entries' blobs ---- */

/* len (1..BLOB_OWN_MIN - 1) bytes cut from the newest chunk, or from a new one. */
static uint8_t *chunk_cut(struct buddy_seen *v, size_t len)
{
	struct chunk *c = v->chunks;

	if (!c || CHUNK_BYTES - c->used < len) {
		if (!(c = malloc(sizeof(*c))))
			return NULL;
		c->next = v->chunks;
		c->used = 0;
		v->chunks = c;
	}
	c->used += len;
	return &c->b[c->used - len];
}

/* Wipes the blob of x (and frees it, when it is its own). */
static void ent_drop(struct ent *x)
{
	if (x->blob) {
		sodium_memzero(x->blob, x->len);
		if (x->flags & ENT_OWN)
			free(x->blob);
	}
	x->blob = NULL;
	x->len = 0;
	x->flags &= (uint8_t) ~(ENT_OWN | ENT_VALUE);
}

/* The blob of a read entry into x: 0, BUDDY_E_NOMEM, or BUDDY_E_INVALID for a length beyond
 * the limits or a string with a NUL inside (the readers refuse both, so never; a blob is
 * walked with strlen, which must not stop short). */
static int blob_make(struct buddy_seen *v, const struct buddy_post_entry *pe, struct ent *x)
{
	size_t lc = strnlen(pe->commit, sizeof(pe->commit) - 1);
	size_t lu = strnlen(pe->unit, sizeof(pe->unit) - 1);
	size_t len = lc + 1 + lu + 1 + pe->text_len + 1;
	uint8_t *b, *q;

	if (pe->text_len > BUDDY_TEXT_MAX || pe->ntags > BUDDY_TAGS_MAX ||
	    (pe->text_len && memchr(pe->text, 0, pe->text_len)))
		return BUDDY_E_INVALID;
	for (size_t i = 0; i < pe->ntags; i++) {
		if (pe->tag_lens[i] > BUDDY_TAG_MAX ||
		    (pe->tag_lens[i] && memchr(pe->tags[i], 0, pe->tag_lens[i])))
			return BUDDY_E_INVALID;
		len += pe->tag_lens[i] + 1;
	}
	if (pe->has_value)
		len += sizeof(pe->value);
	b = len >= BLOB_OWN_MIN ? malloc(len) : chunk_cut(v, len);
	if (!b)
		return BUDDY_E_NOMEM;
	q = b;
	x->flags = len >= BLOB_OWN_MIN ? ENT_OWN : 0;
	if (pe->has_value) {
		memcpy(q, &pe->value, sizeof(pe->value));
		q += sizeof(pe->value);
		x->flags |= ENT_VALUE;
	}
	memcpy(q, pe->commit, lc);
	q[lc] = 0;
	q += lc + 1;
	memcpy(q, pe->unit, lu);
	q[lu] = 0;
	q += lu + 1;
	for (size_t i = 0; i < pe->ntags; i++) {
		if (pe->tag_lens[i])
			memcpy(q, pe->tags[i], pe->tag_lens[i]);
		q[pe->tag_lens[i]] = 0;
		q += pe->tag_lens[i] + 1;
	}
	if (pe->text_len)
		memcpy(q, pe->text, pe->text_len);
	q[pe->text_len] = 0;
	x->blob = b;
	x->len = (uint32_t)len;
	x->ntags = (uint8_t)pe->ntags;
	return 0;
}

/* x filled in for a reader, in v's one struct shown. Every string of the blob was checked
 * when it was made (lengths within their fields, no NUL inside). */
static const struct buddy_seen_entry *show(const struct buddy_seen *v, const struct ent *n)
{
	struct buddy_seen_entry *x = &v->shown->x;
	const char *q = (const char *)n->blob;
	size_t len;

	memset(x, 0, sizeof(*x));
	x->e = n->e;
	x->seq = n->seq;
	x->posted = n->posted;
	x->kind = (enum buddy_post_type)n->kind;
	if (n->flags & ENT_RETRACTED) {
		x->retracted = n->at;
		x->text = retracted_text;
		return x;
	}
	x->at = n->at;
	x->status = (enum buddy_checkin_status)n->status;
	if (n->flags & ENT_VALUE) {
		x->has_value = true;
		memcpy(&x->value, q, sizeof(x->value));
		q += sizeof(x->value);
	}
	len = strlen(q);
	memcpy(x->commit, q, len + 1);
	q += len + 1;
	len = strlen(q);
	memcpy(x->unit, q, len + 1);
	q += len + 1;
	for (size_t i = 0; i < n->ntags; i++) {
		/* the struct's fields are not const; readers get them in a const struct */
		v->shown->tags[i] = (char *)q;
		q += strlen(q) + 1;
	}
	x->ntags = n->ntags;
	x->tags = n->ntags ? v->shown->tags : NULL;
	x->text = (char *)q;
	return x;
}

/* What a reader was shown may hold what is about to be wiped. */
static void shown_wipe(struct buddy_seen *v)
{
	sodium_memzero(v->shown, sizeof(*v->shown));
}

static void reactions_free(struct buddy_seen_reaction *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wipe_free(r[i].text);
	free(r);
}

/* Chunks are wiped and freed with the view (buddy_seen_free), not here. */
static void peer_clear(struct peer *p)
{
	for (size_t i = 0; i < p->nc; i++) {
		wipe_free(p->c[i].title);
		sodium_memzero(&p->c[i], sizeof(p->c[i]));
	}
	free(p->c);
	for (size_t i = 0; i < p->nen; i++)
		if (p->en[i].flags & ENT_OWN)
			ent_drop(&p->en[i]);
	free(p->en);
	for (size_t i = 0; i < p->nth; i++)
		reactions_free(p->th[i].r, p->th[i].nr);
	free(p->th);
	ix_free(&p->cix);
	ix_free(&p->eix);
	ix_free(&p->thix);
}

struct buddy_seen *buddy_seen_new(void)
{
	struct buddy_seen *v;

	/* the index key comes from libsodium's generator; sodium_init is idempotent */
	if (sodium_init() < 0 || !(v = calloc(1, sizeof(*v))))
		return NULL;
	if (!(v->shown = calloc(1, sizeof(*v->shown)))) {
		free(v);
		return NULL;
	}
	randombytes_buf(v->hk, sizeof(v->hk));
	return v;
}

void buddy_seen_free(struct buddy_seen *v)
{
	struct chunk *c, *next;

	if (!v)
		return;
	for (size_t i = 0; i < v->np; i++)
		peer_clear(&v->p[i]);
	free(v->p);
	for (size_t i = 0; i < v->nm; i++) {
		free(v->m[i].sh);
		reactions_free(v->m[i].r, v->m[i].nr);
	}
	free(v->m);
	ix_free(&v->mix);
	for (c = v->chunks; c; c = next) {
		next = c->next;
		sodium_memzero(c->b, c->used);
		free(c);
	}
	shown_wipe(v);
	free(v->shown);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

/* ---- lookups ---- */

static const struct peer *peer_find(const struct buddy_seen *v, const uint8_t pk[32])
{
	for (size_t i = 0; i < v->np; i++)
		if (memcmp(v->p[i].pk, pk, 32) == 0)
			return &v->p[i];
	return NULL;
}

static struct peer *peer_get(struct buddy_seen *v, const uint8_t pk[32])
{
	struct peer *p = (struct peer *)peer_find(v, pk);

	if (p)
		return p;
	if (!(p = grow(v->p, &v->capp, v->np + 1, sizeof(*v->p))))
		return NULL;
	v->p = p;
	p = &v->p[v->np++];
	memset(p, 0, sizeof(*p));
	memcpy(p->pk, pk, 32);
	return p;
}

static struct buddy_seen_commitment *commit_find(const struct buddy_seen *v, struct peer *p,
						 const char *id)
{
	size_t pos = ix_get(&p->cix, v->hk, commit_key(v, id), p->c, commit_key_at);

	if (!pos)
		return NULL;
	if (strcmp(p->c[pos - 1].id, id) == 0)
		return &p->c[pos - 1];
	for (size_t i = 0; i < p->nc; i++)
		if (strcmp(p->c[i].id, id) == 0)
			return &p->c[i];
	return NULL;
}

static size_t ent_find(const struct buddy_seen *v, const struct peer *p, uint64_t e)
{
	return ix_get(&p->eix, v->hk, e, p->en, ent_key);
}

static struct mine *mine_find(const struct buddy_seen *v, uint64_t e)
{
	size_t pos = ix_get(&v->mix, v->hk, e, v->m, mine_key);

	return pos ? &v->m[pos - 1] : NULL;
}

static struct theirs *theirs_find(const struct buddy_seen *v, const struct peer *p, uint64_t e)
{
	size_t pos = ix_get(&p->thix, v->hk, e, p->th, theirs_key);

	return pos ? &p->th[pos - 1] : NULL;
}

static struct buddy_seen_share *share_find(const struct mine *m, const uint8_t pk[32])
{
	for (size_t i = 0; i < m->nsh; i++)
		if (memcmp(m->sh[i].pk, pk, 32) == 0)
			return &m->sh[i];
	return NULL;
}

/* ---- adding ---- */

static struct mine *mine_get(struct buddy_seen *v, uint64_t e)
{
	struct mine *m = mine_find(v, e);

	if (m)
		return m;
	if (!(m = grow(v->m, &v->capm, v->nm + 1, sizeof(*v->m))))
		return NULL;
	v->m = m;
	if (ix_reserve(&v->mix, v->hk, v->m, mine_key, v->nm))
		return NULL;
	ix_put(&v->mix, v->hk, e, v->nm);
	m = &v->m[v->nm++];
	memset(m, 0, sizeof(*m));
	m->e = e;
	return m;
}

static struct theirs *theirs_get(struct buddy_seen *v, struct peer *p, uint64_t e)
{
	struct theirs *t = theirs_find(v, p, e);

	if (t)
		return t;
	if (!(t = grow(p->th, &p->capth, p->nth + 1, sizeof(*p->th))))
		return NULL;
	p->th = t;
	if (ix_reserve(&p->thix, v->hk, p->th, theirs_key, p->nth))
		return NULL;
	ix_put(&p->thix, v->hk, e, p->nth);
	t = &p->th[p->nth++];
	memset(t, 0, sizeof(*t));
	t->e = e;
	return t;
}

static int reaction_add(struct buddy_seen_reaction **arr, size_t *n, size_t *cap,
			const uint8_t pk[32], uint64_t seq, int64_t time,
			const struct buddy_post_reaction *pr)
{
	struct buddy_seen_reaction *r, *na;
	char *text = dup_text(pr->text, pr->text_len);

	if (!text)
		return BUDDY_E_NOMEM;
	if (!(na = grow(*arr, cap, *n + 1, sizeof(**arr)))) {
		wipe_free(text);
		return BUDDY_E_NOMEM;
	}
	*arr = na;
	r = &na[(*n)++];
	memcpy(r->pk, pk, 32);
	r->e = pr->e;
	r->seq = seq;
	r->kind = pr->kind;
	r->text = text;
	r->time = time;
	return 0;
}

/* ---- incoming: buddy p's posts to me ---- */

static int in_commitment(struct buddy_seen *v, struct peer *p, int64_t time,
			 const msgpack_object *body)
{
	struct buddy_post_commitment pc;
	struct buddy_seen_commitment *c, *na;
	uint64_t key;
	char *title;

	if (buddy_post_read_commitment(body, &pc))
		return BUDDY_E_INVALID;
	if (!(title = dup_text(pc.title, pc.title_len)))
		return BUDDY_E_NOMEM;
	if (!(c = commit_find(v, p, pc.id))) {
		/* a new id: appended, so the array keeps the order of first announcement */
		if (!(na = grow(p->c, &p->capc, p->nc + 1, sizeof(*p->c)))) {
			wipe_free(title);
			return BUDDY_E_NOMEM;
		}
		p->c = na;
		key = commit_key(v, pc.id);
		if (!ix_get(&p->cix, v->hk, key, p->c, commit_key_at)) {
			if (ix_reserve(&p->cix, v->hk, p->c, commit_key_at, p->nc)) {
				wipe_free(title);
				return BUDDY_E_NOMEM;
			}
			ix_put(&p->cix, v->hk, key, p->nc);
		}
		c = &p->c[p->nc++];
		memset(c, 0, sizeof(*c));
		memcpy(c->id, pc.id, sizeof(c->id));
		c->first = time;
		c->since = time;
	}
	/* shared again after a stop: the time between is nobody's to judge */
	if (pc.on && !c->on && c->updated)
		c->since = time;
	/* the newest post is the whole state: nothing of the old one survives but the position */
	wipe_free(c->title);
	c->title = title;
	c->cadence = pc.cadence;
	memcpy(c->tz, pc.tz, sizeof(c->tz));
	c->created = pc.created;
	c->archived = pc.archived;
	c->on = pc.on;
	c->updated = time;
	return 0;
}

static int in_entry(struct buddy_seen *v, struct peer *p, enum buddy_post_type kind, uint64_t seq,
		    int64_t time, const msgpack_object *body)
{
	struct buddy_post_entry pe;
	struct ent x, *na;
	size_t pos;
	int rc;

	if (buddy_post_read_entry(body, kind == BUDDY_POST_CHECKIN, &pe))
		return BUDDY_E_INVALID;
	pos = ent_find(v, p, pe.e);
	if (!pos) {
		/* room first: once the blob is made nothing may fail */
		if (!(na = grow(p->en, &p->capen, p->nen + 1, sizeof(*p->en))))
			return BUDDY_E_NOMEM;
		p->en = na;
		if (ix_reserve(&p->eix, v->hk, p->en, ent_key, p->nen))
			return BUDDY_E_NOMEM;
	}
	memset(&x, 0, sizeof(x));
	x.e = pe.e;
	x.seq = seq;
	x.at = pe.at;
	x.posted = time;
	x.kind = (uint8_t)kind;
	x.status = (uint8_t)pe.status;
	if ((rc = blob_make(v, &pe, &x)))
		return rc;
	if (pos) {
		/* the same e again (an honest author never does it): the newer post wins whole,
		 * retraction included, and the entry keeps its place in the stream order */
		shown_wipe(v);
		ent_drop(&p->en[pos - 1]);
		p->en[pos - 1] = x;
		return 0;
	}
	ix_put(&p->eix, v->hk, pe.e, p->nen);
	p->en[p->nen++] = x;
	return 0;
}

/* Section 15.3: the recipient keeps only that entry e existed and when it was retracted. The
 * kind and the post that brought it stay (they say nothing the author wrote); what it was
 * about (commitment, time, status, value, text, tags) goes. */
static int in_retraction(struct buddy_seen *v, struct peer *p, int64_t time,
			 const msgpack_object *body)
{
	struct ent *x;
	uint64_t e;
	size_t pos;
	bool first;

	if (buddy_post_read_retraction(body, &e))
		return BUDDY_E_INVALID;
	if (!(pos = ent_find(v, p, e)))
		return 0; /* nothing of that id reached us: nothing to wipe */
	x = &p->en[pos - 1];
	/* the first retraction is when it was retracted (a time of 0 reads as none, as it
	 * always has) */
	first = !(x->flags & ENT_RETRACTED) || x->at == 0;
	shown_wipe(v);
	ent_drop(x);
	x->status = 0;
	x->ntags = 0;
	x->flags = ENT_RETRACTED;
	if (first)
		x->at = time;
	return 0;
}

/* A reaction to my entry e counts only if I sent e to this buddy: otherwise the buddy could
 * make us keep reactions to any number of ids. */
static int in_reaction(struct buddy_seen *v, struct peer *p, uint64_t seq, int64_t time,
		       const msgpack_object *body)
{
	struct buddy_post_reaction pr;
	struct mine *m;

	if (buddy_post_read_reaction(body, &pr))
		return BUDDY_E_INVALID;
	if (!(m = mine_find(v, pr.e)) || !share_find(m, p->pk))
		return 0;
	return reaction_add(&m->r, &m->nr, &m->capr, p->pk, seq, time, &pr);
}

static int in_post(struct buddy_seen *v, struct peer *p, uint64_t seq,
		   const struct buddy_post_head *h, const msgpack_object *body)
{
	switch (h->type) {
	case BUDDY_POST_COMMITMENT:
		return in_commitment(v, p, h->time, body);
	case BUDDY_POST_CHECKIN:
	case BUDDY_POST_NOTE:
		return in_entry(v, p, (enum buddy_post_type)h->type, seq, h->time, body);
	case BUDDY_POST_RETRACTION:
		return in_retraction(v, p, h->time, body);
	case BUDDY_POST_REACTION:
		return in_reaction(v, p, seq, h->time, body);
	case BUDDY_POST_PAUSE: {
		struct buddy_post_pause pa; /* kept by pauses.c; here only checked */
		return buddy_post_read_pause(body, &pa);
	}
	default:
		return BUDDY_E_VERSION;
	}
}

/* ---- outgoing: my posts to buddy p ---- */

/* One share per (e, buddy): posting e to the same buddy again moves the share to the newer
 * post and makes it current again. */
static int out_entry(struct buddy_seen *v, struct peer *p, bool checkin, uint64_t seq,
		     const msgpack_object *body)
{
	struct buddy_post_entry pe;
	struct buddy_seen_share *s;
	struct mine *m;

	if (buddy_post_read_entry(body, checkin, &pe))
		return BUDDY_E_INVALID;
	if (!(m = mine_get(v, pe.e)))
		return BUDDY_E_NOMEM;
	if (!(s = share_find(m, p->pk))) {
		if (!(s = grow(m->sh, &m->capsh, m->nsh + 1, sizeof(*m->sh))))
			return BUDDY_E_NOMEM;
		m->sh = s;
		s = &m->sh[m->nsh++];
		memcpy(s->pk, p->pk, 32);
	}
	s->seq = seq;
	s->retracted = 0;
	return 0;
}

static int out_retraction(struct buddy_seen *v, struct peer *p, int64_t time,
			  const msgpack_object *body)
{
	struct buddy_seen_share *s;
	struct mine *m;
	uint64_t e;

	if (buddy_post_read_retraction(body, &e))
		return BUDDY_E_INVALID;
	if ((m = mine_find(v, e)) && (s = share_find(m, p->pk)) && !s->retracted)
		s->retracted = time;
	return 0;
}

static int out_reaction(struct buddy_seen *v, struct peer *p, uint64_t seq, int64_t time,
			const msgpack_object *body)
{
	struct buddy_post_reaction pr;
	struct theirs *t;

	if (buddy_post_read_reaction(body, &pr))
		return BUDDY_E_INVALID;
	if (!(t = theirs_get(v, p, pr.e)))
		return BUDDY_E_NOMEM;
	return reaction_add(&t->r, &t->nr, &t->capr, p->pk, seq, time, &pr);
}

static int out_post(struct buddy_seen *v, struct peer *p, uint64_t seq,
		    const struct buddy_post_head *h, const msgpack_object *body)
{
	switch (h->type) {
	case BUDDY_POST_CHECKIN:
	case BUDDY_POST_NOTE:
		return out_entry(v, p, h->type == BUDDY_POST_CHECKIN, seq, body);
	case BUDDY_POST_RETRACTION:
		return out_retraction(v, p, h->time, body);
	case BUDDY_POST_REACTION:
		return out_reaction(v, p, seq, h->time, body);
	default:
		return 0; /* commitments: streams.c tracks what is shared with whom */
	}
}

/* ---- the post callback ---- */

/* A post that does not read stays in the chain (section 15.3) and is only counted. Failures of
 * my own posts are not the buddy's doing and are not counted, except running out of memory:
 * that loses part of the view, and the count is the one place it shows. */
void buddy_seen_post(void *arg, bool outgoing, const uint8_t pk[32], uint64_t seq, int64_t written,
		     const uint8_t *post, size_t len)
{
	struct buddy_seen *v = arg;
	struct buddy_post_head h;
	const msgpack_object *body;
	msgpack_unpacked u;
	struct peer *p;
	int err;

	(void)written; /* a post means what it says at its own time, not when we stored it */
	if (!(p = peer_get(v, pk)))
		return; /* out of memory before there is anywhere to count it */
	msgpack_unpacked_init(&u);
	if (buddy_post_decode(post, len, &u, &h, &body))
		err = BUDDY_E_INVALID;
	else
		err = outgoing ? out_post(v, p, seq, &h, body) : in_post(v, p, seq, &h, body);
	msgpack_unpacked_destroy(&u);
	if (err && (!outgoing || err == BUDDY_E_NOMEM))
		p->unreadable++;
}

/* ---- reading ---- */

uint64_t buddy_seen_unreadable(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->unreadable : 0;
}

size_t buddy_seen_ncommits(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->nc : 0;
}

const struct buddy_seen_commitment *buddy_seen_commit_at(const struct buddy_seen *v,
							 const uint8_t pk[32], size_t i)
{
	const struct peer *p = peer_find(v, pk);

	return p && i < p->nc ? &p->c[i] : NULL;
}

size_t buddy_seen_nentries(const struct buddy_seen *v, const uint8_t pk[32])
{
	const struct peer *p = peer_find(v, pk);

	return p ? p->nen : 0;
}

const struct buddy_seen_entry *buddy_seen_entry_at(const struct buddy_seen *v, const uint8_t pk[32],
						   size_t i)
{
	const struct peer *p = peer_find(v, pk);

	return p && i < p->nen ? show(v, &p->en[i]) : NULL;
}

const struct buddy_seen_entry *buddy_seen_entry_find(const struct buddy_seen *v,
						     const uint8_t pk[32], uint64_t e)
{
	const struct peer *p = peer_find(v, pk);
	size_t pos = p ? ent_find(v, p, e) : 0;

	return pos ? show(v, &p->en[pos - 1]) : NULL;
}

const struct buddy_seen_reaction *buddy_seen_reactions_to_mine(const struct buddy_seen *v,
							       uint64_t e, size_t *n)
{
	const struct mine *m = mine_find(v, e);

	*n = m ? m->nr : 0;
	return *n ? m->r : NULL;
}

const struct buddy_seen_reaction *buddy_seen_reactions_to_theirs(const struct buddy_seen *v,
								 const uint8_t pk[32], uint64_t e,
								 size_t *n)
{
	const struct peer *p = peer_find(v, pk);
	const struct theirs *t = p ? theirs_find(v, p, e) : NULL;

	*n = t ? t->nr : 0;
	return *n ? t->r : NULL;
}

const struct buddy_seen_share *buddy_seen_shares_of(const struct buddy_seen *v, uint64_t e,
						    size_t *n)
{
	const struct mine *m = mine_find(v, e);

	*n = m ? m->nsh : 0;
	return *n ? m->sh : NULL;
}
